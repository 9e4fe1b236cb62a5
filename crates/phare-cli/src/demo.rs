//! `phare demo`: a synthetic cohort ingested into a `demo` dataset, example queries that work
//! as printed (built from the data), and the server. A second run reuses what the first made.

use anyhow::{Context, Result};
use clap::Args;
use phare_domain::{Assembly, Granularity, Manifest};
use phare_store::{INGEST_BATCH_ALLELES, IngestOutcome, IngestRequest, NewDataset, StoreError};
use phare_synth::CohortSpec;

use crate::ConfigArg;
use crate::config::Config;

const DATASET: &str = "demo";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Samples in the synthetic cohort
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// VCF records in the synthetic cohort
    #[arg(long, default_value_t = 20_000)]
    pub sites: usize,
    /// Seed of the generator: the same seed gives the same cohort
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Prepare everything, print the examples, but do not serve
    #[arg(long)]
    pub no_serve: bool,
    #[command(flatten)]
    pub config: ConfigArg,
}

pub async fn run(config: &Config, args: &DemoArgs) -> Result<()> {
    let store = crate::open_store(config).await?;
    let demo_dir = config.data_dir.join("demo");
    std::fs::create_dir_all(&demo_dir).with_context(|| format!("cannot create {}", demo_dir.display()))?;
    let created = store
        .create_dataset(&NewDataset {
            id: DATASET.into(),
            name: "Synthetic demo cohort".into(),
            assembly: Assembly::Grch38,
            anonymous_max: Granularity::Record,
        })
        .await;
    match created {
        Ok(()) | Err(StoreError::DatasetExists(_)) => {}
        Err(error) => return Err(error.into()),
    }
    // Generated data: what `testMode=true` queries are answered from.
    store.set_synthetic(DATASET, true).await?;
    let vcf = demo_dir.join("cohort.vcf.gz");
    let manifest_path = demo_dir.join("manifest.json");
    if !vcf.exists() || !manifest_path.exists() {
        println!(
            "generating a synthetic cohort: {} samples × {} sites (seed {})…",
            args.samples, args.sites, args.seed
        );
        let spec = CohortSpec {
            samples: args.samples,
            sites: args.sites,
            seed: args.seed,
            chr_prefix: true,
            bgzf: true,
        };
        let (vcf_path, manifest_file) = (vcf.clone(), manifest_path.clone());
        tokio::task::spawn_blocking(move || {
            phare_synth::write_cohort_files(&spec, &vcf_path, &manifest_file)
        })
        .await?
        .context("cannot write the synthetic cohort")?;
    }
    let manifest = Manifest::from_json(&std::fs::read_to_string(&manifest_path)?)?;
    println!("ingesting {}…", vcf.display());
    let outcome = store
        .ingest(IngestRequest {
            dataset_id: DATASET.into(),
            path: vcf.clone(),
            manifest: Some(manifest),
            pass_only: true,
            progress: None,
            limits: config.limits.clone(),
            reference_fasta: config.reference_fasta(Assembly::Grch38),
            file_name: None,
            file_sha256: None,
            batch_alleles: INGEST_BATCH_ALLELES,
        })
        .await?;
    match outcome {
        IngestOutcome::Ingested(summary) => println!(
            "ingested {} alleles from {} samples × {} records",
            summary.alleles_stored, summary.samples, summary.records_read
        ),
        IngestOutcome::AlreadyIngested { .. } => println!("the demo cohort is already ingested"),
    }
    let example = store.most_common_variant(DATASET, "research").await?;
    let banner = examples(config, example.as_ref());
    if args.no_serve {
        println!("{banner}");
        return Ok(());
    }
    crate::serve(config, store, Some(banner), true).await
}

fn examples(config: &Config, example: Option<&phare_store::VariantMatch>) -> String {
    let api = config.beacon_base_url();
    let mut text =
        format!("\nPhare demo answers at {api} — try:\n\n  curl -s {api}/info\n  curl -s {api}/map\n");
    if let Some(variant) = example {
        let (contig, start, reference, alternate) = (
            &variant.contig,
            variant.start,
            &variant.reference,
            &variant.alternate,
        );
        let window_start = (start - 1000).max(0);
        let window_end = start + 1000;
        text.push_str(&format!(
            "  curl -s '{api}/g_variants?referenceName={contig}&start={start}&referenceBases={reference}&alternateBases={alternate}'\n\
             \x20 curl -s '{api}/g_variants?referenceName=chr{contig}&start={window_start}&end={window_end}&requestedGranularity=count'\n\
             \x20 curl -s '{api}/g_variants?referenceName={contig}&start={start}&alternateBases={alternate}&requestedGranularity=record'\n\
             \x20 curl -s -X POST {api}/g_variants -H 'content-type: application/json' \\\n\
             \x20     -d '{{\"query\":{{\"requestParameters\":{{\"referenceName\":\"{contig}\",\"start\":[{window_start}],\"end\":[{window_end}]}},\"requestedGranularity\":\"record\"}}}}'\n"
        ));
    }
    text.push_str("\nStop with Ctrl-C; `phare db stop` stops the embedded PostgreSQL.\n");
    text
}
