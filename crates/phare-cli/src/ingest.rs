//! `phare ingest`: one transaction per file, a progress bar on a terminal, a summary line
//! otherwise. Exits non-zero if any file fails; files before it stay committed.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use phare_domain::Manifest;
use phare_store::{CompactionPolicy, INGEST_BATCH_ALLELES, IngestOutcome, IngestRequest, Limits, Store};

use crate::ConfigArg;
use crate::config::Config;

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Dataset to ingest into (see `phare dataset create`)
    #[arg(long)]
    pub dataset: String,
    /// Sample manifest (JSON): sample column → biosample, individual, sex, consent (docs/manifest.md)
    #[arg(long, value_name = "FILE.json")]
    pub manifest: Option<PathBuf>,
    /// Also ingest records whose FILTER is not PASS
    #[arg(long)]
    pub include_filtered: bool,
    /// VCF (plain, gzip, BGZF) or BCF files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
}

pub async fn run(store: &Store, args: &IngestArgs, config: &Config) -> Result<()> {
    let assembly = store.dataset(&args.dataset).await?.assembly;
    let reference_fasta = config.reference_fasta(assembly);
    let manifest = match &args.manifest {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(Manifest::from_json(&text).with_context(|| format!("{}", path.display()))?)
        }
        None => None,
    };
    for file in &args.files {
        let outcome = ingest_file(
            store,
            args,
            file,
            manifest.clone(),
            &config.limits,
            reference_fasta.as_ref(),
        )
        .await;
        let resource = format!("dataset:{} file:{}", args.dataset, file.display());
        crate::access::record_admin_action(store, "ingest", &resource, &outcome).await?;
        outcome?;
        // After each commit, so that a long bulk load never piles up per-file carrier rows.
        let report = store
            .compact(&args.dataset, CompactionPolicy::default(), false)
            .await?;
        if report.blocks_built + report.blocks_merged > 0 {
            println!(
                "compacted {} analyses into {} blocks, merged {} blocks",
                report.analyses_compacted, report.blocks_built, report.blocks_merged
            );
        }
    }
    Ok(())
}

async fn ingest_file(
    store: &Store,
    args: &IngestArgs,
    file: &PathBuf,
    manifest: Option<Manifest>,
    limits: &Limits,
    reference_fasta: Option<&PathBuf>,
) -> Result<()> {
    let started = Instant::now();
    let progress = Arc::new(AtomicU64::new(0));
    let bar = progress_bar(file);
    let ticker = bar.clone().map(|bar| {
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                bar.set_position(progress.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });
    let outcome = store
        .ingest(IngestRequest {
            dataset_id: args.dataset.clone(),
            path: file.clone(),
            manifest,
            pass_only: !args.include_filtered,
            progress: Some(progress),
            limits: limits.clone(),
            reference_fasta: reference_fasta.cloned(),
            file_name: None,
            file_sha256: None,
            batch_alleles: INGEST_BATCH_ALLELES,
        })
        .await;
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    match outcome? {
        IngestOutcome::AlreadyIngested {
            analysis_id,
            file_sha256,
        } => {
            println!(
                "{}: already ingested into {} as analysis {analysis_id} (sha256 {file_sha256}); nothing changed",
                file.display(),
                args.dataset
            );
        }
        IngestOutcome::Ingested(summary) => {
            let skipped = &summary.skipped;
            println!(
                "{}: ingested into {} as analysis {} in {seconds:.1} s: {} samples, {} records, {} alleles stored ({} new variants); skipped: {} filtered records, {} on non-primary contigs, {} reference-only, {} symbolic alleles, {} breakends",
                file.display(),
                args.dataset,
                summary.analysis_id,
                summary.samples,
                summary.records_read,
                summary.alleles_stored,
                summary.new_variants,
                skipped.filtered_records,
                skipped.non_primary_contig_records,
                skipped.reference_only_records,
                skipped.symbolic_alleles,
                skipped.breakends,
            );
            if summary.superseded_samples > 0 {
                println!(
                    "{} sample(s) of earlier analyses of the same biosamples are superseded: they no longer count",
                    summary.superseded_samples
                );
            }
            for warning in &summary.warnings {
                println!("warning: {warning}");
            }
        }
    }
    Ok(())
}

fn progress_bar(file: &PathBuf) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let length = std::fs::metadata(file)
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    let bar = ProgressBar::new(length);
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})")
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(file.display().to_string());
    Some(bar)
}
