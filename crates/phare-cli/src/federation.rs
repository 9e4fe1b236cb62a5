//! `[federation]` to the server's settings, checked at start-up, and `phare node keys`,
//! `rotate-key`, `retire-key` (docs/federation.md).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use phare_access::node::{NodeKeyRing, NodeSigner};
use phare_access::{PartnerIssuer, check_node_url};
use phare_server::{FederationSettings, PartnerSettings};

use crate::config::{Config, OutgoingAuth, PartnerConfig};

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// List this node's signing keys: id, activation time, which one signs now
    Keys,
    /// Add a signing key, published at once and signing after DELAY seconds: partners see it
    /// in /.well-known/jwks.json before any token carries it
    RotateKey {
        #[arg(long, default_value_t = 300)]
        delay_seconds: u64,
    },
    /// Remove a key that no longer signs, once no token it signed can still be valid
    RetireKey { kid: String },
}

pub fn key_dir(config: &Config) -> PathBuf {
    config
        .federation
        .key_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("node-keys"))
}

pub fn run(config: &Config, command: NodeCommand) -> Result<()> {
    let dir = key_dir(config);
    match command {
        NodeCommand::Keys => {
            let ring = NodeKeyRing::open(&dir).with_context(|| format!("node keys in {}", dir.display()))?;
            for key in ring.keys() {
                let state = if key.signing { "signing" } else { "published" };
                println!("{}\t{}\t{state}", key.kid, key.activation);
            }
        }
        NodeCommand::RotateKey { delay_seconds } => {
            let kid = NodeKeyRing::rotate(&dir, Duration::from_secs(delay_seconds))
                .with_context(|| format!("node keys in {}", dir.display()))?;
            println!("{kid}");
            eprintln!(
                "key {kid} is published now and signs in {delay_seconds} s; retire the old key after its last token expires"
            );
        }
        NodeCommand::RetireKey { kid } => {
            NodeKeyRing::retire(&dir, &kid).with_context(|| format!("node keys in {}", dir.display()))?;
            eprintln!("key {kid} retired");
        }
    }
    Ok(())
}

/// The partners whose node tokens this node accepts, and the audience they must name (this
/// node's API root).
pub fn partner_issuers(config: &Config) -> Result<(Vec<PartnerIssuer>, Option<String>)> {
    let partners = checked_partners(config)?;
    let issuers: Vec<PartnerIssuer> = partners
        .iter()
        .filter(|partner| accepts_queries(partner))
        .map(|partner| {
            let jwks_url = match (&partner.jwks_file, &partner.jwks_url) {
                (Some(_), _) => None,
                (None, Some(url)) => Some(url.clone()),
                (None, None) => Some(default_jwks_url(api_root(partner))),
            };
            PartnerIssuer {
                id: partner.id.clone(),
                issuer: partner
                    .issuer
                    .clone()
                    .unwrap_or_else(|| api_root(partner).to_owned()),
                jwks_file: partner.jwks_file.clone(),
                jwks_url,
            }
        })
        .collect();
    let audience = (!issuers.is_empty()).then(|| config.beacon_base_url());
    Ok((issuers, audience))
}

/// The server's federation settings; `None` without partners.
pub fn settings(config: &Config) -> Result<Option<FederationSettings>> {
    let partners = checked_partners(config)?;
    if partners.is_empty() {
        return Ok(None);
    }
    let section = &config.federation;
    let dir = key_dir(config);
    let signer = NodeSigner::open(&dir).with_context(|| format!("[federation] key_dir {}", dir.display()))?;
    Ok(Some(FederationSettings {
        node_id: section.node_id.clone(),
        issuer: config.beacon_base_url(),
        signer: Arc::new(signer),
        partners: partners
            .iter()
            .map(|partner| PartnerSettings {
                id: partner.id.clone(),
                name: partner.name.clone(),
                url: api_root(partner).to_owned(),
                audience: partner
                    .audience
                    .clone()
                    .unwrap_or_else(|| api_root(partner).to_owned()),
                send_token: partner.outgoing == OutgoingAuth::NodeToken,
                timeout: Duration::from_millis(partner.timeout_ms),
            })
            .collect(),
        token_lifetime: Duration::from_secs(section.token_lifetime_seconds),
        max_answer_bytes: usize::try_from(section.max_answer_bytes).unwrap_or(usize::MAX),
        max_concurrent_calls: usize::try_from(section.max_concurrent_calls).unwrap_or(usize::MAX),
        min_count: section.min_count,
    }))
}

/// The registry as configured, each entry checked: a typo fails at start-up, naming the entry.
fn checked_partners(config: &Config) -> Result<&[PartnerConfig]> {
    let section = &config.federation;
    if section.node_id.is_empty() || !section.node_id.chars().all(is_id_char) {
        bail!(
            "[federation] node_id `{}`: use letters, digits, `-`, `_` or `.`",
            section.node_id
        );
    }
    if !(1..=3600).contains(&section.token_lifetime_seconds) {
        bail!("[federation] token_lifetime_seconds must be between 1 and 3600");
    }
    if section.max_answer_bytes == 0 || section.max_concurrent_calls == 0 {
        bail!("[federation] max_answer_bytes and max_concurrent_calls must be positive");
    }
    if !section.partners.is_empty() && config.public_url.is_none() {
        bail!(
            "[federation] partners need `public_url`: this node's address is the issuer of its tokens and the audience of its partners'"
        );
    }
    let mut ids = HashSet::new();
    for partner in &section.partners {
        let id = &partner.id;
        if id.is_empty() || !id.chars().all(is_id_char) {
            bail!("[[federation.partners]] id `{id}`: use letters, digits, `-`, `_` or `.`");
        }
        if !ids.insert(id.as_str()) || *id == section.node_id {
            bail!("[[federation.partners]] id `{id}` is used twice (or is this node's own id)");
        }
        check_node_url(&partner.url)
            .map_err(|reason| anyhow::anyhow!("[[federation.partners]] {id}: url: {reason}"))?;
        if partner.url.contains(['?', '#']) {
            bail!("[[federation.partners]] {id}: url is the partner's API root: no query or fragment");
        }
        if let Some(url) = &partner.jwks_url {
            check_node_url(url)
                .map_err(|reason| anyhow::anyhow!("[[federation.partners]] {id}: jwks_url: {reason}"))?;
        }
        if partner.jwks_url.is_some() && partner.jwks_file.is_some() {
            bail!("[[federation.partners]] {id}: give jwks_url or jwks_file, not both");
        }
        if !(10..=120_000).contains(&partner.timeout_ms) {
            bail!("[[federation.partners]] {id}: timeout_ms must be between 10 and 120000");
        }
        if api_root(partner) == config.beacon_base_url() {
            bail!("[[federation.partners]] {id}: its url is this node's own");
        }
    }
    Ok(&section.partners)
}

/// Deny by default: only a peer we send node tokens to is trusted to send us its own, unless
/// the entry says otherwise.
fn accepts_queries(partner: &PartnerConfig) -> bool {
    partner
        .accept_queries
        .unwrap_or(partner.outgoing == OutgoingAuth::NodeToken)
}

/// The partner's API root without a trailing slash: Phare issues and expects it that way, so
/// `…/api/` and `…/api` name the same node.
fn api_root(partner: &PartnerConfig) -> &str {
    partner.url.trim_end_matches('/')
}

fn is_id_char(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '-' | '_' | '.')
}

/// `/.well-known/jwks.json` at the origin of a partner's API URL.
fn default_jwks_url(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    let origin_end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |index| after_scheme + index);
    format!("{}/.well-known/jwks.json", &url[..origin_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_key_url_is_at_the_partners_origin() {
        assert_eq!(
            default_jwks_url("https://beacon.lyon.example/api"),
            "https://beacon.lyon.example/.well-known/jwks.json"
        );
        assert_eq!(
            default_jwks_url("http://127.0.0.1:8081"),
            "http://127.0.0.1:8081/.well-known/jwks.json"
        );
    }
}
