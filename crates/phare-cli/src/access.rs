//! The access side of the CLI: the server's access configuration (issuers, secret, budgets),
//! `phare dev token`, `phare audit …`, and the audit rows of administrative actions.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use phare_access::dev::{DevIssuer, TokenSpec};
use phare_access::pseudonyms::KeyedDigest;
use phare_access::{AccessConfig, Authenticator, ResearchPurpose};
use phare_server::{AccessState, QueryBudget};
use phare_store::{AuditDecision, AuditEntry, AuditVerification, Store};

use crate::ConfigArg;
use crate::config::Config;

/// Where the development issuer keeps its key, inside the data directory.
fn dev_issuer_dir(config: &Config) -> PathBuf {
    config.data_dir.join("dev-issuer")
}

/// The access configuration `phare serve` runs with.
pub fn access_state(config: &Config, trust_dev_issuer: bool) -> Result<AccessState> {
    let section = &config.access;
    let mut issuers = section.issuers.clone();
    let mut visa_issuers = section.visa_issuers.clone();
    if trust_dev_issuer || section.trust_dev_issuer {
        let dev = DevIssuer::load_or_create(&dev_issuer_dir(config)).context("development issuer")?;
        let (issuer, visa_issuer) = dev.access_config();
        tracing::warn!(issuer = %issuer.issuer, "trusting the local development issuer: not for production");
        issuers.push(issuer);
        visa_issuers.push(visa_issuer);
    }
    let (partners, node_audience) = crate::federation::partner_issuers(config)?;
    let authenticator = Authenticator::new(AccessConfig {
        issuers,
        visa_issuers,
        research_audience: section.research_audience.clone(),
        care_audience: section.care_audience.clone(),
        leeway_seconds: section.leeway_seconds,
        jwks_refresh_interval_seconds: section.jwks_refresh_interval_seconds,
        jwks_max_age_seconds: section.jwks_max_age_seconds,
        partners,
        node_audience,
        ..AccessConfig::default()
    })
    .context("[access] and [federation] configuration")?;
    let secret_file = section
        .secret_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("access-secret"));
    Ok(AccessState {
        authenticator,
        keys: KeyedDigest::new(&read_or_create_secret(&secret_file)?),
        budget: QueryBudget {
            queries: section.budget_queries,
            window: Duration::from_secs(section.budget_window_seconds.max(1)),
        },
        partner_budget_queries: config.federation.partner_budget_queries,
        public_min_allele_number: section.public_min_allele_number,
    })
}

/// The research-identifier secret: 32 random bytes, hex, in a file only its owner reads.
fn read_or_create_secret(path: &Path) -> Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let secret = hex::decode(text.trim())
                .with_context(|| format!("{}: the access secret must be hex", path.display()))?;
            if secret.len() < 16 {
                bail!("{}: the access secret must be at least 16 bytes", path.display());
            }
            return Ok(secret);
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let secret: [u8; 32] = rand::random();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{}", hex::encode(secret)).with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "created the access secret (research identifiers, audit digests)");
    Ok(secret.to_vec())
}

#[derive(Subcommand, Debug)]
pub enum DevCommand {
    /// Mint a token of the local development issuer (trusted by `phare demo`, and by `serve`
    /// only with `[access] trust_dev_issuer = true`)
    Token(TokenArgs),
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// `sub` of the token
    #[arg(long, default_value = "dev-user")]
    subject: String,
    /// A care-space token (care audience); needs --role clinician and --care-centre
    #[arg(long)]
    care: bool,
    /// `phare_roles`: clinician, platform, partner, admin (repeatable)
    #[arg(long = "role")]
    roles: Vec<String>,
    #[arg(long)]
    care_centre: Option<String>,
    /// Platform name, with --role platform
    #[arg(long)]
    platform: Option<String>,
    /// Embed the bona fide researcher visas (REGISTERED tier)
    #[arg(long)]
    bona_fide: bool,
    /// Embed a ControlledAccessGrants visa for this dataset id or URL (repeatable)
    #[arg(long = "grant")]
    grants: Vec<String>,
    /// Declared research purpose: DUO codes (repeatable), e.g. DUO:0000006
    #[arg(long = "purpose")]
    purposes: Vec<String>,
    /// Disease of a disease-specific purpose, e.g. MONDO:0005015
    #[arg(long)]
    purpose_disease: Option<String>,
    /// Lifetime in seconds
    #[arg(long, default_value_t = 3600)]
    lifetime: u64,
    #[command(flatten)]
    pub config: ConfigArg,
}

pub fn dev_token(config: &Config, args: &TokenArgs) -> Result<()> {
    let dev = DevIssuer::load_or_create(&dev_issuer_dir(config)).context("development issuer")?;
    let audience = if args.care {
        config.access.care_audience.clone()
    } else {
        config.access.research_audience.clone()
    };
    let base = config.beacon_base_url();
    let grants = args
        .grants
        .iter()
        .map(|grant| {
            if grant.contains("://") {
                grant.clone()
            } else {
                format!("{base}/datasets/{grant}")
            }
        })
        .collect();
    let purpose = (!args.purposes.is_empty()).then(|| ResearchPurpose {
        codes: args.purposes.clone(),
        disease: args.purpose_disease.clone(),
    });
    let spec = TokenSpec {
        lifetime_seconds: args.lifetime,
        roles: args.roles.clone(),
        care_centre: args.care_centre.clone(),
        platform: args.platform.clone(),
        bona_fide: args.bona_fide,
        grants,
        purpose,
        ..TokenSpec::new(&args.subject, &audience)
    };
    println!("{}", dev.access_token(&spec)?);
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the hash chain of the audit log; report the first broken link
    Verify(ConfigArg),
    /// Print the most recent audit rows
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub async fn audit(store: &Store, command: &AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify(_) => match store.verify_audit().await? {
            AuditVerification::Intact { rows } => {
                println!("audit log intact: {rows} rows, every link verified");
                Ok(())
            }
            AuditVerification::Broken { row_id, reason } => {
                bail!("audit log broken at row {row_id}: {reason}")
            }
        },
        AuditCommand::List { limit, .. } => {
            for row in store.audit_rows(*limit).await? {
                println!(
                    "{:>8} {} {:<5} {:>3} {:<10} {:<40} {} {} ({})",
                    row.id,
                    row.at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    row.decision.as_str(),
                    row.status,
                    row.tier,
                    row.subject,
                    row.action,
                    row.resource,
                    row.reason
                );
            }
            Ok(())
        }
    }
}

/// The audit row of a server start: which issuers it trusts and a fingerprint of its research
/// secret, so a key change shows in the log as a change between two starts.
pub async fn record_access_configuration(
    store: &Store,
    config: &Config,
    state: &AccessState,
    trust_dev_issuer: bool,
) -> Result<()> {
    let mut issuers: Vec<&str> = config
        .access
        .issuers
        .iter()
        .map(|issuer| issuer.issuer.as_str())
        .collect();
    if trust_dev_issuer || config.access.trust_dev_issuer {
        issuers.push(phare_access::dev::DEV_ISSUER);
    }
    let visa_issuers: Vec<String> = config
        .access
        .visa_issuers
        .iter()
        .map(|issuer| format!("{} {}", issuer.issuer, issuer.jku))
        .collect();
    // A keyed digest of a constant identifies the secret without revealing anything of it.
    let fingerprint = state.keys.query_digest("phare access secret fingerprint");
    let resource = format!(
        "issuers:[{}] visa_issuers:[{}] secret:{fingerprint}",
        issuers.join(", "),
        visa_issuers.join(", ")
    );
    record_admin_action(store, "serve: access configuration", &resource, &Ok(())).await
}

/// One audit row for an administrative action run from this command line. The subject is the
/// operating-system account: the CLI acts with the database's own credentials.
pub async fn record_admin_action(
    store: &Store,
    action: &str,
    resource: &str,
    outcome: &Result<()>,
) -> Result<()> {
    let account = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| format!("uid {}", nix::unistd::getuid()));
    let (decision, reason, status) = match outcome {
        Ok(()) => (AuditDecision::Allow, "done".to_owned(), 200),
        Err(error) => (AuditDecision::Deny, format!("failed: {error}"), 400),
    };
    store
        .append_audit(&AuditEntry {
            subject: format!("operator:{account}"),
            tier: "admin".into(),
            action: action.into(),
            resource: resource.into(),
            decision,
            reason,
            status,
            request_id: uuid::Uuid::new_v4().simple().to_string(),
        })
        .await
        .context("cannot write the audit row of this administrative action")?;
    Ok(())
}
