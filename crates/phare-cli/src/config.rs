//! Configuration, layered: built-in defaults, then a TOML file (`--config`), then `PHARE_…`
//! environment variables (`PHARE_BEACON__NAME` for nested keys). Unknown keys are errors that
//! name the key: a typo must not silently fall back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use phare_access::{TrustedIssuer, TrustedVisaIssuer};
use phare_domain::Assembly;
use phare_store::Limits;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where Phare keeps its managed PostgreSQL cluster and demo files.
    pub data_dir: PathBuf,
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// A PostgreSQL server to use instead of the managed one.
    pub database_url: Option<String>,
    /// Directory of the PostgreSQL server binaries, when they are not found automatically.
    pub pg_bin_dir: Option<PathBuf>,
    /// URL clients reach the node at (behind a proxy, say); `/map` lists absolute URLs from it.
    pub public_url: Option<String>,
    pub beacon: BeaconConfig,
    /// Limits on ingested files (`[limits]`, `PHARE_LIMITS__MAX_LINE_BYTES`, …).
    pub limits: Limits,
    /// Reference genomes (FASTA with `.fai`) per assembly: with one, indels are left-aligned and
    /// their REF checked at ingest (`[references]`, `PHARE_REFERENCES__GRCH38`).
    pub references: References,
    /// Who may ask what (`[access]`): token issuers, visa issuers, budgets (docs/security.md).
    pub access: AccessSection,
    /// Ontology files (OBO) whose hierarchies filters expand (`includeDescendantTerms`) and
    /// whose labels `/filtering_terms` shows (docs/vocabulary.md).
    pub ontologies: OntologiesSection,
    /// Files pushed by sequencing platforms (`[submissions]`): where uploads go, quotas.
    pub submissions: SubmissionsSection,
    /// Log lines on stderr: `text` for people, `json` for a log collector (`phare serve
    /// --log-format` overrides it).
    pub log_format: LogFormat,
    /// Prometheus metrics (`[metrics]`): served only when `listen` is set.
    pub metrics: MetricsSection,
    /// Partner nodes and this node's part in the federation (`[federation]`,
    /// `[[federation.partners]]`; docs/federation.md).
    pub federation: FederationSection,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationSection {
    /// This node's id: the `sub` of the tokens it sends, the name of its part of an answer.
    pub node_id: String,
    /// Signing keys of node tokens. Default: `<data_dir>/node-keys`.
    pub key_dir: Option<PathBuf>,
    /// Lifetime of the tokens sent to partners.
    pub token_lifetime_seconds: u64,
    /// A partner answer larger than this is an error, read no further.
    pub max_answer_bytes: u64,
    /// Calls to partners under way at once, over all federated queries.
    pub max_concurrent_calls: u32,
    /// Small-count threshold of partners' figures and pooled ones.
    pub min_count: u32,
    /// Queries per `[access] budget_window_seconds` for each partner and dataset, instead of
    /// `[access] budget_queries`: a partner relays all its users' queries under one subject.
    pub partner_budget_queries: Option<u32>,
    /// The fixed registry: no node registers itself.
    pub partners: Vec<PartnerConfig>,
}

impl Default for FederationSection {
    fn default() -> Self {
        Self {
            node_id: "phare".into(),
            key_dir: None,
            token_lifetime_seconds: 60,
            max_answer_bytes: 4 << 20,
            max_concurrent_calls: 64,
            min_count: 5,
            partner_budget_queries: None,
            partners: Vec::new(),
        }
    }
}

/// One partner node (`[[federation.partners]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerConfig {
    /// Short id, unique in the registry (`lyon`, `fi-helsinki`).
    pub id: String,
    pub name: String,
    /// The partner's Beacon API root (`https://beacon.lyon.example/api`).
    pub url: String,
    /// Deadline of each call to it.
    #[serde(default = "default_partner_timeout_ms")]
    pub timeout_ms: u64,
    /// How we authenticate to it: `node-token` (signed by this node) or `anonymous`.
    #[serde(default)]
    pub outgoing: OutgoingAuth,
    /// Whether it may query us with its node tokens. Default: yes for a partner we send node
    /// tokens to (a federation peer), no for one we ask anonymously (a public Beacon).
    #[serde(default)]
    pub accept_queries: Option<bool>,
    /// The `iss` of its tokens. Default: its `url`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Its published keys. Default: `/.well-known/jwks.json` at its URL's origin.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Its keys from a file instead (a partner that does not publish them).
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// The `aud` of our tokens to it. Default: its `url`.
    #[serde(default)]
    pub audience: Option<String>,
}

fn default_partner_timeout_ms() -> u64 {
    2000
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutgoingAuth {
    #[default]
    NodeToken,
    Anonymous,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubmissionsSection {
    /// Where uploads are kept until ingested. Default: `<data_dir>/uploads`.
    pub upload_dir: Option<PathBuf>,
    /// Largest file a platform may push, unless `phare platform add --max-upload-bytes` says.
    pub max_upload_bytes: u64,
    /// Uploads a platform may have under way at once, unless its registry entry says.
    pub max_concurrent_uploads: u32,
    /// An upload that receives nothing for this long expires and its bytes are removed.
    pub upload_expiry_hours: u64,
}

impl Default for SubmissionsSection {
    fn default() -> Self {
        Self {
            upload_dir: None,
            max_upload_bytes: 1 << 40,
            max_concurrent_uploads: 4,
            upload_expiry_hours: 24,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Address of the `/metrics` listener, apart from the API's: loopback or a private network
    /// only, since it has no authentication (docs/decisions/0035).
    pub listen: Option<SocketAddr>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OntologiesSection {
    /// OBO files (HPO, Mondo, ORDO, NCIT…), merged.
    pub files: Vec<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// Issuers of access tokens (`[[access.issuers]]`).
    pub issuers: Vec<TrustedIssuer>,
    /// `(iss, jku)` pairs whose GA4GH visas are believed (`[[access.visa_issuers]]`).
    pub visa_issuers: Vec<TrustedVisaIssuer>,
    /// `aud` of research-space tokens.
    pub research_audience: String,
    /// `aud` of care-space tokens.
    pub care_audience: String,
    /// Clock leeway for `exp`/`nbf`, at most 60 s.
    pub leeway_seconds: u64,
    /// Least time between two fetches of one JWKS (an issuer's or a partner node's) when a
    /// token names a key id not seen yet: how soon a rotated key is learnt.
    pub jwks_refresh_interval_seconds: u64,
    /// Fetched keys are fetched again once this old: a key an issuer or a partner node
    /// withdrew stops verifying within it.
    pub jwks_max_age_seconds: u64,
    /// Trust the local development issuer of `phare dev token` (never in production).
    pub trust_dev_issuer: bool,
    /// File holding the secret research identifiers and audit digests are keyed with; created
    /// (random, mode 0600) when absent. Default: `<data_dir>/access-secret`.
    pub secret_file: Option<PathBuf>,
    /// Open-data frequencies only for populations with at least this allele number.
    pub public_min_allele_number: u64,
    /// Queries per window: per user and dataset, per client address for anonymous callers
    /// (0: no budget).
    pub budget_queries: u32,
    pub budget_window_seconds: u64,
}

impl Default for AccessSection {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            visa_issuers: Vec::new(),
            research_audience: "phare".into(),
            care_audience: "phare-care".into(),
            leeway_seconds: 30,
            jwks_refresh_interval_seconds: 60,
            jwks_max_age_seconds: 600,
            trust_dev_issuer: false,
            secret_file: None,
            public_min_allele_number: phare_server::DEFAULT_PUBLIC_MIN_ALLELE_NUMBER,
            budget_queries: 1000,
            budget_window_seconds: 3600,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct References {
    #[serde(rename = "grch38")]
    pub grch38: Option<PathBuf>,
    #[serde(rename = "grch37")]
    pub grch37: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeaconConfig {
    pub id: String,
    pub name: String,
    pub description: String,
    pub organization_id: String,
    pub organization_name: String,
    /// The organisation's web site, for `/service-info`.
    pub organization_url: String,
    pub environment: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("phare-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            pg_bin_dir: None,
            public_url: None,
            beacon: BeaconConfig {
                id: "org.example.phare".into(),
                name: "Phare".into(),
                description: "Federated genomic variant Beacon v2 node".into(),
                organization_id: "org.example".into(),
                organization_name: "Example genomic data centre".into(),
                organization_url: "https://www.example.org".into(),
                environment: "dev".into(),
            },
            limits: Limits::default(),
            references: References::default(),
            access: AccessSection::default(),
            ontologies: OntologiesSection::default(),
            submissions: SubmissionsSection::default(),
            log_format: LogFormat::Text,
            metrics: MetricsSection::default(),
            federation: FederationSection::default(),
        }
    }
}

/// Environment variables with the `PHARE_` prefix that are not configuration keys.
const NOT_CONFIGURATION: &[&str] = &["test_database_url"];

impl Config {
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(Env::prefixed("PHARE_").ignore(NOT_CONFIGURATION).split("__"));
        let mut config: Config = figment.extract().map_err(Box::new)?;
        if config
            .database_url
            .as_deref()
            .is_some_and(|url| url.trim().is_empty())
        {
            config.database_url = None;
        }
        // The conventional variable, when Phare's own is not set at all (an empty
        // PHARE_DATABASE_URL asks for the managed cluster and keeps it).
        if config.database_url.is_none() && std::env::var_os("PHARE_DATABASE_URL").is_none() {
            config.database_url = std::env::var("DATABASE_URL")
                .ok()
                .filter(|url| !url.trim().is_empty());
        }
        Ok(config)
    }

    /// The reference genome configured for an assembly, if any.
    pub fn reference_fasta(&self, assembly: Assembly) -> Option<PathBuf> {
        match assembly {
            Assembly::Grch38 => self.references.grch38.clone(),
            Assembly::Grch37 => self.references.grch37.clone(),
        }
    }

    /// The Beacon root as clients reach it, without a trailing slash.
    pub fn beacon_base_url(&self) -> String {
        let root = match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        };
        format!("{root}/api")
    }
}

#[cfg(test)]
// figment::Jail's closure error type is figment's own, large by design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn file_then_environment_override_defaults_and_unknown_keys_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "phare.toml",
                "listen = \"0.0.0.0:9000\"\n[beacon]\nname = \"CAD IDF\"\n",
            )?;
            jail.set_env("PHARE_DATA_DIR", "/srv/phare");
            jail.set_env("PHARE_BEACON__ENVIRONMENT", "prod");
            let config = Config::load(Some(Path::new("phare.toml"))).map_err(|error| error.to_string())?;
            assert_eq!(config.listen, SocketAddr::from(([0, 0, 0, 0], 9000)));
            assert_eq!(config.data_dir, PathBuf::from("/srv/phare"));
            assert_eq!(config.beacon.name, "CAD IDF");
            assert_eq!(config.beacon.environment, "prod");
            assert_eq!(config.beacon_base_url(), "http://0.0.0.0:9000/api");

            jail.create_file("typo.toml", "lisen = \"0.0.0.0:9000\"\n")?;
            let error = Config::load(Some(Path::new("typo.toml"))).expect_err("unknown key");
            assert!(error.to_string().contains("lisen"), "{error}");

            jail.set_env("PHARE_DATABSE_URL", "postgres://x");
            let error = Config::load(None).expect_err("unknown env key");
            assert!(error.to_string().contains("databse_url"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn access_issuers_are_read_from_the_file_and_unknown_keys_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "phare.toml",
                "[access]\ntrust_dev_issuer = true\n\
                 [[access.issuers]]\nissuer = \"https://login.example\"\njwks_url = \"https://login.example/jwks\"\n\
                 [[access.visa_issuers]]\nissuer = \"https://broker.example\"\njku = \"https://broker.example/jwks\"\n",
            )?;
            let config = Config::load(Some(Path::new("phare.toml"))).map_err(|error| error.to_string())?;
            assert!(config.access.trust_dev_issuer);
            assert_eq!(
                config.access.issuers,
                [TrustedIssuer {
                    issuer: "https://login.example".into(),
                    jwks_file: None,
                    jwks_url: Some("https://login.example/jwks".into()),
                }]
            );
            assert_eq!(config.access.visa_issuers[0].jku, "https://broker.example/jwks");
            jail.create_file("typo.toml", "[[access.issuers]]\nisuer = \"x\"\n")?;
            let error = Config::load(Some(Path::new("typo.toml"))).expect_err("unknown key");
            assert!(error.to_string().contains("isuer"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn log_format_and_metrics_listener_are_read_and_checked() {
        figment::Jail::expect_with(|jail| {
            let config = Config::load(None).map_err(|error| error.to_string())?;
            assert_eq!(config.log_format, LogFormat::Text);
            assert_eq!(config.metrics.listen, None);
            jail.create_file(
                "phare.toml",
                "log_format = \"json\"\n[metrics]\nlisten = \"127.0.0.1:9464\"\n",
            )?;
            let config = Config::load(Some(Path::new("phare.toml"))).map_err(|error| error.to_string())?;
            assert_eq!(config.log_format, LogFormat::Json);
            assert_eq!(
                config.metrics.listen,
                Some(SocketAddr::from(([127, 0, 0, 1], 9464)))
            );
            jail.set_env("PHARE_LOG_FORMAT", "yaml");
            let error = Config::load(None).expect_err("unknown format");
            assert!(error.to_string().contains("yaml"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn empty_database_url_means_the_managed_cluster() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PHARE_DATABASE_URL", "");
            let config = Config::load(None).map_err(|error| error.to_string())?;
            assert_eq!(config.database_url, None);
            Ok(())
        });
    }
}
