//! The `phare` binary: one node, one command per job (serve, ingest, dataset, demo, db).

mod config;
mod demo;
mod ingest;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use phare_beacon::BeaconIdentity;
use phare_domain::{Assembly, Granularity};
use phare_pgctl::{ClusterOptions, ManagedCluster};
use phare_server::AppState;
use phare_store::{NewDataset, Store};

use crate::config::Config;

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
    /// Serve the Beacon v2 API (root at /api, liveness at /health)
    Serve(ConfigArg),
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
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List datasets
    List(ConfigArg),
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
    init_logging();
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

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(arg) => {
            let config = load_config(arg.config.as_deref())?;
            let store = open_store(&config).await?;
            serve(&config, store, None).await
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
            config,
        }) => {
            let config = load_config(config.config.as_deref())?;
            let assembly: Assembly = assembly.parse().context("--assembly")?;
            let anonymous_max: Granularity = anonymous_max.parse().context("--anonymous-max")?;
            let store = open_store(&config).await?;
            let name = name.unwrap_or_else(|| id.clone());
            store
                .create_dataset(&NewDataset {
                    id: id.clone(),
                    name,
                    assembly,
                    anonymous_max,
                })
                .await?;
            println!("created dataset {id} ({assembly}, anonymous callers see at most: {anonymous_max})");
            Ok(())
        }
        Command::Dataset(DatasetCommand::List(arg)) => {
            let config = load_config(arg.config.as_deref())?;
            let store = open_store(&config).await?;
            println!(
                "{:<24} {:<8} {:<10} {:>8} {:>11}  name",
                "id", "assembly", "anonymous", "analyses", "individuals"
            );
            for dataset in store.datasets().await? {
                println!(
                    "{:<24} {:<8} {:<10} {:>8} {:>11}  {}",
                    dataset.id,
                    dataset.assembly.as_str(),
                    dataset.anonymous_max.as_str(),
                    dataset.analysis_count,
                    dataset.individual_count,
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
            let change = store.set_research_consent(&id, undo).await?;
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
    let url = match &config.database_url {
        Some(url) => url.clone(),
        None => managed_cluster_url(config, true).await?,
    };
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    Ok(store)
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

/// Serves until Ctrl-C or SIGTERM; `banner` is printed once the socket is bound.
async fn serve(config: &Config, store: Store, banner: Option<String>) -> Result<()> {
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
    let state = AppState::with_references(store, identity(config), references);
    phare_server::serve(listener, state, shutdown_signal()).await?;
    Ok(())
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
