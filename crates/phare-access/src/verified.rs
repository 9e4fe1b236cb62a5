//! Callers already verified, by the exact credentials they presented: verifying an ES256 or
//! RS256 signature costs far more than answering a count, and a client sends the same token
//! with every query. An entry lasts until the earliest `exp` of the token, the passport and
//! every visa they carry, and at most [`MAX_AGE_SECONDS`]; failures are never kept, so a bad
//! token is verified (and refused) every time (docs/decisions/0042-verified-caller-cache.md).

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Caller;

/// Bounds how long a change of trusted keys (a key removed from a fetched JWKS) or a visa not
/// yet valid at first sight takes to be seen.
pub(crate) const MAX_AGE_SECONDS: i64 = 60;

/// Entries kept at most: expired ones are dropped when full, then everything if still full.
const MAX_ENTRIES: usize = 4096;

#[derive(Default)]
pub(crate) struct VerifiedCallers {
    entries: Mutex<HashMap<[u8; 32], (Caller, i64)>>,
}

/// The cache key: a digest of both headers, so no token is kept in memory beyond the request.
pub(crate) fn credentials_key(authorization: &str, passport: Option<&str>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(authorization.as_bytes());
    hasher.update([0]);
    if let Some(passport) = passport {
        hasher.update([1]);
        hasher.update(passport.as_bytes());
    }
    hasher.finalize().into()
}

pub(crate) fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
}

/// The `exp` of a JWT, read without checking its signature: only ever used to shorten how
/// long an already verified caller is kept.
fn expiry(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("exp")?.as_i64()
}

impl VerifiedCallers {
    pub(crate) fn get(&self, key: &[u8; 32], now: i64) -> Option<Caller> {
        let entries = self.entries.lock().ok()?;
        let (caller, until) = entries.get(key)?;
        (now < *until).then(|| caller.clone())
    }

    /// Keeps `caller` verified from `tokens` (the access token, the passport, every visa). A
    /// token whose expiry cannot be read is not kept at all.
    pub(crate) fn insert<'a>(
        &self,
        key: [u8; 32],
        caller: &Caller,
        tokens: impl IntoIterator<Item = &'a str>,
        now: i64,
    ) {
        let mut until = now.saturating_add(MAX_AGE_SECONDS);
        for token in tokens {
            let Some(expires) = expiry(token) else {
                return;
            };
            until = until.min(expires);
        }
        if until <= now {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, kept_until)| *kept_until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (caller.clone(), until));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A JWT-shaped string whose payload holds `claims` (the signature is not looked at here).
    fn token(claims: &Value) -> String {
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("eyJhbGciOiJFUzI1NiJ9.{payload}.c2ln")
    }

    fn caller(subject: &str) -> Caller {
        Caller {
            subject: Some(subject.to_owned()),
            ..Caller::default()
        }
    }

    #[test]
    fn an_entry_lasts_until_the_earliest_expiry_of_every_token() {
        let cache = VerifiedCallers::default();
        let key = credentials_key("Bearer a", None);
        let access = token(&serde_json::json!({"sub": "a", "exp": 1_000_030}));
        let visa = token(&serde_json::json!({"exp": 1_000_010}));
        cache.insert(key, &caller("a"), [access.as_str(), visa.as_str()], 1_000_000);
        assert_eq!(cache.get(&key, 1_000_009), Some(caller("a")));
        // The visa expired at 1,000,010: the caller must be verified again.
        assert_eq!(cache.get(&key, 1_000_010), None);
    }

    #[test]
    fn an_entry_lasts_at_most_the_maximum_age() {
        let cache = VerifiedCallers::default();
        let key = credentials_key("Bearer b", None);
        let access = token(&serde_json::json!({"exp": 2_000_000}));
        cache.insert(key, &caller("b"), [access.as_str()], 1_000_000);
        assert!(cache.get(&key, 1_000_000 + MAX_AGE_SECONDS - 1).is_some());
        assert_eq!(cache.get(&key, 1_000_000 + MAX_AGE_SECONDS), None);
    }

    #[test]
    fn tokens_without_a_readable_expiry_are_not_kept() {
        let cache = VerifiedCallers::default();
        let key = credentials_key("Bearer c", None);
        let access = token(&serde_json::json!({"exp": 2_000_000}));
        cache.insert(key, &caller("c"), [access.as_str(), "not-a-jwt"], 1_000_000);
        assert_eq!(cache.get(&key, 1_000_001), None);
        let expired = token(&serde_json::json!({"exp": 999_999}));
        cache.insert(key, &caller("c"), [expired.as_str()], 1_000_000);
        assert_eq!(cache.get(&key, 1_000_000), None);
    }

    #[test]
    fn the_passport_is_part_of_the_key() {
        let cache = VerifiedCallers::default();
        let without = credentials_key("Bearer d", None);
        let with = credentials_key("Bearer d", Some("passport"));
        assert_ne!(without, with);
        let access = token(&serde_json::json!({"exp": 2_000_000}));
        cache.insert(without, &caller("d"), [access.as_str()], 1_000_000);
        assert_eq!(cache.get(&with, 1_000_001), None);
    }
}
