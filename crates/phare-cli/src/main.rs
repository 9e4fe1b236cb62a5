//! The `phare` binary: one node, one command per job (serve, ingest, dataset, demo, db).

mod access;
mod cohort;
mod config;
mod demo;
mod federation;
mod ingest;
mod submit;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use phare_beacon::BeaconIdentity;
use phare_domain::{Assembly, Granularity};
use phare_pgctl::{ClusterOptions, ManagedCluster};
use phare_server::AppState;
use phare_store::{DatasetSettings, NewDataset, PolicyRow, Store};

use crate::config::{Config, LogFormat};

/// glibc's malloc was a sixth of the server's CPU under load (`perf`: `_int_malloc`, `_int_free`,
/// `malloc_consolidate` and its arena locks), each answer building and dropping many small
/// values; mimalloc's thread-local heaps do the same for much less (docs/decisions/0069).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "phare", version, about = "Federated genomic variant Beacon v2 node")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct ConfigArg {
    /// TOML configuration file (see config/phare.example.toml)
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the Beacon v2 API (root at /api, liveness at /health, readiness at /ready)
    Serve(ServeArgs),
    /// Apply database migrations
    Migrate(ConfigArg),
    /// Create and list datasets
    #[command(subcommand)]
    Dataset(DatasetCommand),
    /// Ingest VCF (plain, gzip, BGZF) or BCF files into a dataset, each file atomically
    Ingest(ingest::IngestArgs),
    /// Generate a synthetic cohort, ingest it, print example queries and serve
    Demo(demo::DemoArgs),
    /// Manage the embedded PostgreSQL cluster
    #[command(subcommand)]
    Db(DbCommand),
    /// Record a patient's objection to research use (or its withdrawal)
    #[command(subcommand)]
    Individual(IndividualCommand),
    /// List the analyses (ingested files) of a dataset
    #[command(subcommand)]
    Analysis(AnalysisCommand),
    /// Merge the carrier sets of small analyses into carrier blocks (docs/scale.md)
    Compact(CompactArgs),
    /// Check or read the audit log
    #[command(subcommand)]
    Audit(access::AuditCommand),
    /// Development helpers (tokens of the local development issuer)
    #[command(subcommand)]
    Dev(access::DevCommand),
    /// Define and list cohorts (named term lists, answered at /api/cohorts)
    #[command(subcommand)]
    Cohort(cohort::CohortCommand),
    /// Declare sequencing platforms and the datasets they may submit to
    #[command(subcommand)]
    Platform(submit::PlatformCommand),
    /// List and show what platforms pushed (operator view)
    #[command(subcommand)]
    Submission(submit::SubmissionCommand),
    /// Push VCF/BCF files to a node as a platform: resumable upload, then wait for the ingest
    Submit(submit::SubmitArgs),
    /// This node's signing keys for the federation: list, rotate, retire
    Node(NodeArgs),
}

#[derive(Args, Debug)]
struct NodeArgs {
    #[command(subcommand)]
    command: federation::NodeCommand,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Args, Debug)]
struct ServeArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// Log lines on stderr as text or as JSON objects (default: `log_format` of the configuration)
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Subcommand, Debug)]
enum IndividualCommand {
    /// The patient objects: they leave every research and open-data answer, in every dataset
    Oppose {
        /// The patient's care pseudonym (`individualId` of the manifest)
        id: String,
        /// Withdraw the objection instead
        #[arg(long)]
        undo: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Args, Debug)]
struct CompactArgs {
    /// Dataset whose carrier sets to compact
    #[arg(long)]
    dataset: String,
    /// Compact every pending analysis, even fewer than a batch
    #[arg(long)]
    all: bool,
    /// Pending analyses that make a block
    #[arg(long, default_value_t = phare_store::CompactionPolicy::default().batch)]
    batch: usize,
    /// Blocks of one size merged into one
    #[arg(long, default_value_t = phare_store::CompactionPolicy::default().fanout)]
    fanout: usize,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Subcommand, Debug)]
enum AnalysisCommand {
    /// List a dataset's analyses, with superseded samples
    List {
        #[arg(long)]
        dataset: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand, Debug)]
enum DatasetCommand {
    /// Create a dataset
    Create {
        /// Dataset id: letters, digits, '.', '_' or '-'
        id: String,
        /// Human-readable name (defaults to the id)
        #[arg(long)]
        name: Option<String>,
        /// Reference assembly of the dataset's files
        #[arg(long, default_value = "GRCh38")]
        assembly: String,
        /// The most an anonymous caller may see: none, boolean, count or record
        #[arg(long, default_value = "boolean")]
        anonymous_max: String,
        /// Non-zero counts below this are never disclosed in research or open answers (0 only
        /// for data consented for open release, such as a public reference panel)
        #[arg(long, default_value_t = phare_store::DEFAULT_MIN_COUNT)]
        min_count: u32,
        /// DUO data-use permission: DUO:0000004 (NRES), DUO:0000042 (GRU), DUO:0000006 (HMB),
        /// DUO:0000007 (DS, with --data-use-disease)
        #[arg(long)]
        data_use: Option<String>,
        /// Disease of a disease-specific (DS) permission, e.g. MONDO:0005015
        #[arg(long, requires = "data_use")]
        data_use_disease: Option<String>,
        /// DUO modifier (repeatable), e.g. DUO:0000044 (NPOA)
        #[arg(long = "data-use-modifier", requires = "data_use")]
        data_use_modifiers: Vec<String>,
        /// Synthetic data: the datasets `testMode=true` queries are answered from
        #[arg(long)]
        synthetic: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List datasets
    List(ConfigArg),
    /// Set what one tier may see of one entry type of a dataset
    Policy {
        #[arg(long)]
        dataset: String,
        /// public, registered, controlled or care
        #[arg(long)]
        tier: String,
        /// genomicVariation, individual, biosample, run, analysis, dataset, cohort, or * for all
        #[arg(long, default_value = "*")]
        entry_type: String,
        /// Highest granularity: none, boolean, count or record
        #[arg(long)]
        max: String,
        /// Refuse look-ups by id (`/individuals/{id}`, …)
        #[arg(long)]
        no_id_lookups: bool,
        /// Refuse queries without any filter or parameter
        #[arg(long)]
        no_unfiltered_queries: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

#[derive(Subcommand, Debug)]
enum DbCommand {
    /// Start the managed cluster (if needed) and print its connection URL
    Start {
        /// No fsync: for throwaway test clusters only
        #[arg(long)]
        throwaway: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Stop the managed cluster
    Stop(ConfigArg),
    /// Rows and on-disk bytes of each table
    Stats(ConfigArg),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(log_format(&cli));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The format of the serving commands' log lines; other commands log text for the operator at
/// the terminal. A configuration that does not load is reported by the command itself.
fn log_format(cli: &Cli) -> LogFormat {
    let configured =
        |file: Option<&Path>| Config::load(file).map_or(LogFormat::Text, |config| config.log_format);
    match &cli.command {
        Command::Serve(args) => args
            .log_format
            .unwrap_or_else(|| configured(args.config.config.as_deref())),
        Command::Demo(args) => configured(args.config.config.as_deref()),
        _ => LogFormat::Text,
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        // One object per line, fields at the top level, for a log collector.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = load_config(args.config.config.as_deref())?;
            let store = open_store(&config).await?;
            serve(&config, store, None, false).await
        }
        Command::Node(args) => {
            let config = load_config(args.config.config.as_deref())?;
            federation::run(&config, args.command)
        }
        Command::Migrate(arg) => {
            let config = load_config(arg.config.as_deref())?;
            open_store(&config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Dataset(DatasetCommand::Create {
            id,
            name,
            assembly,
            anonymous_max,
            min_count,
            data_use,
            data_use_disease,
            data_use_modifiers,
            synthetic,
            config,
        }) => {
            let config = load_config(config.config.as_deref())?;
            let assembly: Assembly = assembly.parse().context("--assembly")?;
            let anonymous_max: Granularity = anonymous_max.parse().context("--anonymous-max")?;
            let data_use = data_use
                .map(|permission| data_use_conditions(&permission, data_use_disease, data_use_modifiers))
                .transpose()?;
            let store = open_store(&config).await?;
            let name = name.unwrap_or_else(|| id.clone());
            let created = async {
                store
                    .create_dataset_with(
                        &NewDataset {
                            id: id.clone(),
                            name,
                            assembly,
                            anonymous_max,
                        },
                        &DatasetSettings { min_count, data_use },
                    )
                    .await?;
                if synthetic {
                    store.set_synthetic(&id, true).await?;
                }
                Ok::<(), anyhow::Error>(())
            }
            .await;
            access::record_admin_action(&store, "dataset create", &format!("dataset:{id}"), &created).await?;
            created?;
            println!(
                "created dataset {id} ({assembly}, anonymous callers see at most: {anonymous_max}, counts below {min_count} never disclosed in research or open answers)"
            );
            Ok(())
        }
        Command::Dataset(DatasetCommand::Policy {
            dataset,
            tier,
            entry_type,
            max,
            no_id_lookups,
            no_unfiltered_queries,
            config,
        }) => {
            let config = load_config(config.config.as_deref())?;
            let tier: phare_access::Tier =
                tier.parse().map_err(|error| anyhow::anyhow!("--tier: {error}"))?;
            let max: Granularity = max.parse().context("--max")?;
            if entry_type != "*" && !phare_access::policy::ENTRY_TYPES.contains(&entry_type.as_str()) {
                bail!(
                    "--entry-type `{entry_type}` is not an entry type: use * or one of {}",
                    phare_access::policy::ENTRY_TYPES.join(", ")
                );
            }
            let store = open_store(&config).await?;
            let row = PolicyRow {
                tier: tier.as_str().to_owned(),
                entry_type: entry_type.clone(),
                max_granularity: max,
                id_lookups: !no_id_lookups,
                unfiltered_queries: !no_unfiltered_queries,
            };
            let outcome = store
                .set_policy(&dataset, &row)
                .await
                .map_err(anyhow::Error::from);
            access::record_admin_action(
                &store,
                "dataset policy",
                &format!("dataset:{dataset} tier:{tier} entry:{entry_type} max:{max}"),
                &outcome,
            )
            .await?;
            outcome?;
            println!("dataset {dataset}: tier {tier} sees at most {max} of {entry_type}");
            Ok(())
        }
        Command::Dataset(DatasetCommand::List(arg)) => {
            let config = load_config(arg.config.as_deref())?;
            let store = open_store(&config).await?;
            println!(
                "{:<24} {:<8} {:<10} {:>8} {:>11}  name",
                "id", "assembly", "anonymous", "analyses", "individuals"
            );
            let sizes = store.dataset_sizes().await?;
            for dataset in store.datasets().await? {
                let (individuals, analyses) = sizes.get(&dataset.id).copied().unwrap_or_default();
                println!(
                    "{:<24} {:<8} {:<10} {:>8} {:>11}  {}",
                    dataset.id,
                    dataset.assembly.as_str(),
                    dataset.anonymous_max.as_str(),
                    analyses,
                    individuals,
                    dataset.name
                );
            }
            Ok(())
        }
        Command::Ingest(args) => {
            let config = load_config(args.config.config.as_deref())?;
            let store = open_store(&config).await?;
            ingest::run(&store, &args, &config).await
        }
        Command::Demo(args) => {
            let config = load_config(args.config.config.as_deref())?;
            demo::run(&config, &args).await
        }
        Command::Db(DbCommand::Start { throwaway, config }) => {
            let config = load_config(config.config.as_deref())?;
            if config.database_url.is_some() {
                bail!(
                    "a database url is configured (database_url, PHARE_DATABASE_URL or DATABASE_URL): there is no managed cluster to start"
                );
            }
            let url = managed_cluster_url(&config, !throwaway).await?;
            println!("{url}");
            Ok(())
        }
        Command::Individual(IndividualCommand::Oppose { id, undo, config }) => {
            let config = load_config(config.config.as_deref())?;
            let store = open_store(&config).await?;
            let changed = store.set_research_consent(&id, undo).await;
            let outcome = changed
                .as_ref()
                .map(|_| ())
                .map_err(|error| anyhow::anyhow!("{error}"));
            let keys = access::access_state(&config, false)?.keys;
            let action = if undo {
                "individual oppose --undo"
            } else {
                "individual oppose"
            };
            // The care pseudonym stays out of the log: a keyed digest stands for it.
            let resource = format!("individual:{}", keys.query_digest(&format!("individual:{id}")));
            access::record_admin_action(&store, action, &resource, &outcome).await?;
            let change = changed?;
            let state = if undo { "no longer objects" } else { "objects" };
            if change.datasets.is_empty() {
                println!("{id} already {state} to research use: nothing changed");
            } else {
                println!(
                    "{id} {state} to research use: datasets {}; research totals of {} alleles in {} analyses recomputed",
                    change.datasets.join(", "),
                    change.alleles_updated,
                    change.analyses
                );
            }
            Ok(())
        }
        Command::Compact(args) => {
            let config = load_config(args.config.config.as_deref())?;
            let store = open_store(&config).await?;
            if args.batch == 0 || args.fanout < 2 {
                anyhow::bail!("--batch must be at least 1 and --fanout at least 2");
            }
            let policy = phare_store::CompactionPolicy {
                batch: args.batch,
                fanout: args.fanout,
                ..phare_store::CompactionPolicy::default()
            };
            let started = std::time::Instant::now();
            let compacted = store.compact(&args.dataset, policy, args.all).await;
            let outcome = compacted
                .as_ref()
                .map(|_| ())
                .map_err(|error| anyhow::anyhow!("{error}"));
            let resource = format!("dataset:{}", args.dataset);
            access::record_admin_action(&store, "compact", &resource, &outcome).await?;
            let report = compacted?;
            println!(
                "{}: {} analyses compacted into {} blocks, {} blocks merged; {} carrier rows read, {} block rows written in {:.1} s",
                args.dataset,
                report.analyses_compacted,
                report.blocks_built,
                report.blocks_merged,
                report.rows_read,
                report.rows_written,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Analysis(AnalysisCommand::List { dataset, config }) => {
            let config = load_config(config.config.as_deref())?;
            let store = open_store(&config).await?;
            let analyses = store.analyses(&dataset).await?;
            println!(
                "{:>8} {:>8} {:>11} {:>10} {:>10}  {:<20}  file",
                "id", "samples", "superseded", "records", "alleles", "created"
            );
            for analysis in analyses {
                println!(
                    "{:>8} {:>8} {:>11} {:>10} {:>10}  {:<20}  {} (sha256 {})",
                    analysis.id,
                    analysis.samples,
                    analysis.superseded_samples,
                    analysis.records,
                    analysis.alleles,
                    analysis.created_at,
                    analysis.file_name,
                    analysis.file_sha256
                );
            }
            Ok(())
        }
        Command::Audit(command) => {
            let arg = match &command {
                access::AuditCommand::Verify(arg) | access::AuditCommand::List { config: arg, .. } => arg,
            };
            let config = load_config(arg.config.as_deref())?;
            let store = open_store(&config).await?;
            access::audit(&store, &command).await
        }
        Command::Cohort(command) => {
            let config = load_config(command.config().config.as_deref())?;
            let store = open_store(&config).await?;
            cohort::run(&store, command).await
        }
        Command::Platform(command) => {
            let config = load_config(command.config().config.as_deref())?;
            let store = open_store(&config).await?;
            submit::platform(&store, command).await
        }
        Command::Submission(command) => {
            let config = load_config(command.config().config.as_deref())?;
            let store = open_store(&config).await?;
            submit::submission(&store, command).await
        }
        Command::Submit(args) => submit::run(&args).await,
        Command::Dev(access::DevCommand::Token(args)) => {
            let config = load_config(args.config.config.as_deref())?;
            access::dev_token(&config, &args)
        }
        Command::Db(DbCommand::Stats(arg)) => {
            let config = load_config(arg.config.as_deref())?;
            let store = open_store(&config).await?;
            println!("{:<20} {:>14} {:>16}", "table", "rows", "bytes");
            for size in store.table_sizes().await? {
                println!("{:<20} {:>14} {:>16}", size.table, size.rows, size.bytes);
            }
            Ok(())
        }
        Command::Db(DbCommand::Stop(arg)) => {
            let config = load_config(arg.config.as_deref())?;
            let cluster = managed_cluster(&config, true)?;
            let was_running = tokio::task::spawn_blocking(move || cluster.stop()).await??;
            if was_running {
                println!("managed postgresql stopped");
            } else {
                println!("managed postgresql was not running");
            }
            Ok(())
        }
    }
}

fn load_config(file: Option<&Path>) -> Result<Config> {
    Config::load(file).map_err(|error| anyhow::anyhow!("configuration: {error}"))
}

fn managed_cluster(config: &Config, durable: bool) -> Result<ManagedCluster> {
    let options = ClusterOptions {
        data_dir: config.data_dir.clone(),
        bin_dir: config.pg_bin_dir.clone(),
        durable,
    };
    Ok(ManagedCluster::new(options)?)
}

async fn managed_cluster_url(config: &Config, durable: bool) -> Result<String> {
    let cluster = managed_cluster(config, durable)?;
    let started = tokio::task::spawn_blocking(move || cluster.ensure_running()).await??;
    if started.initialised {
        tracing::info!(data_dir = %config.data_dir.display(), "initialised a managed postgresql cluster");
    }
    Ok(started.url)
}

/// Connects to the configured server, or to the managed cluster (started if need be), and
/// applies migrations.
async fn open_store(config: &Config) -> Result<Store> {
    let store = match &config.database_url {
        Some(url) => Store::connect(url).await?,
        None => managed_store(config).await?,
    };
    store.migrate().await?;
    Ok(store)
}

/// The managed cluster's store. A running cluster answers at its socket: connecting first
/// costs a few milliseconds, where making sure of it (`pg_ctl status`, `pg_isready`, `psql`)
/// cost about 40 on every command (decision 0062). Any failure of that one connection (no
/// socket, a stale one, no database) takes the full path, which starts the cluster or says why
/// it cannot; the pool's own connect would retry a refused connection for seconds.
async fn managed_store(config: &Config) -> Result<Store> {
    let cluster = managed_cluster(config, true)?;
    let running = cluster.database_url(phare_pgctl::DATABASE);
    let url = if Store::answers(&running).await {
        running
    } else {
        managed_cluster_url(config, true).await?
    };
    Ok(Store::connect(&url).await?)
}

fn identity(config: &Config) -> BeaconIdentity {
    let beacon = &config.beacon;
    BeaconIdentity {
        id: beacon.id.clone(),
        name: beacon.name.clone(),
        description: beacon.description.clone(),
        organization_id: beacon.organization_id.clone(),
        organization_name: beacon.organization_name.clone(),
        organization_url: beacon.organization_url.clone(),
        environment: beacon.environment.clone(),
        base_url: config.beacon_base_url(),
        software_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// The stored form of `--data-use`: checked here so the server never meets an unknown code.
fn data_use_conditions(
    permission: &str,
    disease: Option<String>,
    modifiers: Vec<String>,
) -> Result<serde_json::Value> {
    const PERMISSIONS: [&str; 4] = ["DUO:0000004", "DUO:0000042", "DUO:0000006", "DUO:0000007"];
    if !PERMISSIONS.contains(&permission) {
        bail!(
            "--data-use `{permission}` is not a DUO permission: use {}",
            PERMISSIONS.join(", ")
        );
    }
    if (permission == "DUO:0000007") != disease.is_some() {
        bail!("--data-use-disease goes with DUO:0000007 (disease-specific research), and only with it");
    }
    if let Some(bad) = modifiers.iter().find(|modifier| !modifier.starts_with("DUO:")) {
        bail!("--data-use-modifier `{bad}` is not a DUO term (DUO:…)");
    }
    let data_use = phare_access::duo::DataUse {
        permission: permission.to_owned(),
        disease,
        modifiers,
    };
    Ok(serde_json::to_value(data_use)?)
}

/// The configured ontology files; the demo, without any, gets the small subsets committed for
/// tests (tests/data/ontology), so its filter examples expand descendants.
async fn load_ontologies(config: &Config, demo: bool) -> Result<phare_ontology::Ontology> {
    let files = config.ontologies.files.clone();
    if files.is_empty() && demo {
        let mut bundled = phare_ontology::Ontology::default();
        for (name, text) in [
            (
                "hp-subset.obo",
                include_str!("../../../tests/data/ontology/hp-subset.obo"),
            ),
            (
                "mondo-subset.obo",
                include_str!("../../../tests/data/ontology/mondo-subset.obo"),
            ),
            (
                "orpha-subset.obo",
                include_str!("../../../tests/data/ontology/orpha-subset.obo"),
            ),
            (
                "ncit-sex.obo",
                include_str!("../../../tests/data/ontology/ncit-sex.obo"),
            ),
        ] {
            bundled = bundled.merge(phare_ontology::Ontology::from_obo_text(name, text)?);
        }
        return Ok(bundled);
    }
    let ontology = tokio::task::spawn_blocking(move || phare_ontology::Ontology::load(&files))
        .await?
        .context("[ontologies] files")?;
    if !ontology.is_empty() {
        tracing::info!(terms = ontology.len(), "ontologies loaded");
    }
    Ok(ontology)
}

/// Serves until Ctrl-C or SIGTERM; `banner` is printed once the socket is bound.
async fn serve(config: &Config, store: Store, banner: Option<String>, trust_dev_issuer: bool) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "serving the beacon api at /api");
    if let Some(banner) = banner {
        println!("{banner}");
    }
    let mut references = Vec::new();
    for assembly in [Assembly::Grch38, Assembly::Grch37] {
        if let Some(fasta) = config.reference_fasta(assembly) {
            let genome = phare_vcf::ReferenceGenome::open(&fasta, assembly)
                .with_context(|| format!("reference genome for {assembly}"))?;
            references.push((assembly, genome));
        }
    }
    let access = access::access_state(config, trust_dev_issuer)?;
    access::record_access_configuration(&store, config, &access, trust_dev_issuer).await?;
    let ontology = load_ontologies(config, trust_dev_issuer).await?;
    let state = AppState::with_references(store, identity(config), references)
        .with_access(access)
        .with_ontology(ontology)
        .with_submissions(submission_settings(config));
    let state = match federation::settings(config)? {
        Some(settings) => {
            tracing::info!(partners = settings.partners.len(), node = %settings.node_id, "federating");
            state
                .with_federation(settings)
                .map_err(|error| anyhow::anyhow!("[federation]: {error}"))?
        }
        None => state,
    };
    phare_server::spawn_submission_worker(state.clone());
    let metrics = match config.metrics.listen {
        Some(address) => {
            let metrics_listener = tokio::net::TcpListener::bind(address)
                .await
                .with_context(|| format!("cannot listen on {address} ([metrics] listen)"))?;
            tracing::info!(address = %metrics_listener.local_addr()?, "serving metrics at /metrics");
            let metrics_state = state.clone();
            Some(tokio::spawn(async move {
                phare_server::serve_metrics(metrics_listener, metrics_state, std::future::pending()).await
            }))
        }
        None => None,
    };
    let served = phare_server::serve(listener, state, shutdown_signal()).await;
    // The metrics listener ends with the API: a scrape after shutdown has nothing to report.
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    served?;
    Ok(())
}

fn submission_settings(config: &Config) -> phare_server::SubmissionSettings {
    let section = &config.submissions;
    phare_server::SubmissionSettings {
        upload_dir: section
            .upload_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("uploads")),
        max_upload_bytes: section.max_upload_bytes,
        max_concurrent_uploads: section.max_concurrent_uploads,
        // At least an hour (0 would expire every upload at once), at most a year.
        upload_expiry: std::time::Duration::from_secs(section.upload_expiry_hours.clamp(1, 24 * 365) * 3600),
        limits: config.limits.clone(),
        references: [Assembly::Grch38, Assembly::Grch37]
            .into_iter()
            .filter_map(|assembly| config.reference_fasta(assembly).map(|fasta| (assembly, fasta)))
            .collect(),
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match terminate.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = interrupt => {}
        () = terminated => {}
    }
    tracing::info!("shutting down");
}
