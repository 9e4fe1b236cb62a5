//! `phare-synth`: writes a synthetic cohort (`DIR/cohort.vcf[.gz]` + `DIR/manifest.json`) so that
//! ingest benchmarks can be run from a shell with a reproducible input, and prints the summary as
//! JSON on stdout.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use phare_synth::{CohortSpec, write_cohort_files};

/// Generate a deterministic synthetic VCF cohort and its sample manifest.
#[derive(Debug, Parser)]
#[command(name = "phare-synth", version)]
struct Args {
    /// Number of samples.
    #[arg(long, default_value_t = 2000)]
    samples: usize,
    /// Number of VCF records.
    #[arg(long, default_value_t = 50_000)]
    sites: usize,
    /// Random seed; the same arguments always give byte-identical files.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// BGZF-compress the VCF (writes cohort.vcf.gz instead of cohort.vcf).
    #[arg(long)]
    bgzf: bool,
    /// Use "chr1"-style contig names instead of "1".
    #[arg(long)]
    chr_prefix: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let spec = CohortSpec {
        samples: args.samples,
        sites: args.sites,
        seed: args.seed,
        chr_prefix: args.chr_prefix,
        bgzf: args.bgzf,
    };
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("phare-synth: cannot create {}: {e}", args.out.display());
        return ExitCode::FAILURE;
    }
    let vcf = args
        .out
        .join(if spec.bgzf { "cohort.vcf.gz" } else { "cohort.vcf" });
    let manifest = args.out.join("manifest.json");
    let started = Instant::now();
    let summary = match write_cohort_files(&spec, &vcf, &manifest) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("phare-synth: cannot write cohort: {e}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let report = serde_json::json!({
        "vcf": vcf.display().to_string(),
        "manifest": manifest.display().to_string(),
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "summary": summary,
    });
    match serde_json::to_string_pretty(&report) {
        Ok(s) => {
            println!("{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("phare-synth: cannot print summary: {e}");
            ExitCode::FAILURE
        }
    }
}
