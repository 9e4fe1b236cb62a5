//! Identifiers for research and open answers. Care pseudonyms identify patients inside the care
//! space; research answers carry a keyed hash of them instead, under a secret the care space
//! does not hand out, so a research identifier cannot be linked back without that secret.
//! The same key keeps audit rows free of variant coordinates (a keyed digest of the query).

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Keyed digests under one secret.
#[derive(Clone)]
pub struct KeyedDigest {
    key: Vec<u8>,
}

impl std::fmt::Debug for KeyedDigest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("KeyedDigest(<secret>)")
    }
}

impl KeyedDigest {
    pub fn new(secret: &[u8]) -> Self {
        Self { key: secret.to_vec() }
    }

    /// HMAC-SHA-256 of the parts, each length-prefixed so that ("ab", "c") ≠ ("a", "bc").
    fn digest(&self, parts: &[&str]) -> [u8; 32] {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            // HMAC takes keys of any length; this arm cannot be reached.
            Err(_) => return [0; 32],
        };
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// The research identifier of a patient of a dataset (`ri-` + 24 hex digits).
    pub fn research_individual(&self, dataset_id: &str, pseudonym: &str) -> String {
        format!(
            "ri-{}",
            hex::encode(&self.digest(&["individual", dataset_id, pseudonym])[..12])
        )
    }

    /// The research identifier of a biosample (platform sample ids can identify too).
    pub fn research_biosample(&self, dataset_id: &str, external_id: &str) -> String {
        format!(
            "rb-{}",
            hex::encode(&self.digest(&["biosample", dataset_id, external_id])[..12])
        )
    }

    /// A digest of a query's text for the audit log: equal queries give equal digests, and the
    /// coordinates cannot be read back without the key.
    pub fn query_digest(&self, text: &str) -> String {
        hex::encode(&self.digest(&["query", text])[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn research_ids_depend_on_the_secret_the_dataset_and_the_pseudonym() {
        let first = KeyedDigest::new(b"secret one");
        let second = KeyedDigest::new(b"secret two");
        let id = first.research_individual("rare", "PAT-001");
        assert!(id.starts_with("ri-") && id.len() == 27, "{id}");
        assert!(!id.contains("PAT-001"));
        assert_eq!(id, first.research_individual("rare", "PAT-001"));
        assert_ne!(id, second.research_individual("rare", "PAT-001"));
        assert_ne!(id, first.research_individual("other", "PAT-001"));
        assert_ne!(id, first.research_individual("rare", "PAT-002"));
        assert_ne!(
            first.research_individual("ab", "c"),
            first.research_individual("a", "bc")
        );
    }

    #[test]
    fn query_digests_hide_the_coordinates() {
        let key = KeyedDigest::new(b"k");
        let digest = key.query_digest("referenceName=17&start=7674219&alternateBases=A");
        assert_eq!(digest.len(), 32);
        assert!(!digest.contains("7674219"));
    }
}
