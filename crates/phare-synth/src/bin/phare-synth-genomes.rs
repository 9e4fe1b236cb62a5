//! `phare-synth-genomes`: writes single-genome BGZF VCFs and their manifests
//! (`DIR/G000000.vcf.gz`, `DIR/G000000.manifest.json`, …) for `scripts/bench-scale`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use phare_synth::genomes::{GenomesSpec, Sites, write_genomes};

/// Generate deterministic single-genome files over a region of chromosome 1.
#[derive(Debug, Parser)]
#[command(name = "phare-synth-genomes", version)]
struct Args {
    /// First genome index written.
    #[arg(long, default_value_t = 0)]
    from: usize,
    /// One past the last genome index written.
    #[arg(long)]
    to: usize,
    /// Non-reference calls per genome on average (4.5 M per 3.1 Gb is 14,500 per 10 Mb).
    #[arg(long, default_value_t = 14_500.0)]
    variants_per_genome: f64,
    /// Region length in bases.
    #[arg(long, default_value_t = 10_000_000)]
    region_bases: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let spec = GenomesSpec {
        variants_per_genome: args.variants_per_genome,
        region_bases: args.region_bases,
        seed: args.seed,
    };
    if let Err(error) = std::fs::create_dir_all(&args.out) {
        eprintln!(
            "phare-synth-genomes: cannot create {}: {error}",
            args.out.display()
        );
        return ExitCode::FAILURE;
    }
    let sites = Sites::draw(&spec);
    match write_genomes(&spec, &sites, args.from, args.to, &args.out) {
        Ok(calls) => {
            println!(
                "{} genomes, {} sites, {} calls ({:.0} per genome)",
                args.to.saturating_sub(args.from),
                sites.len(),
                calls,
                calls as f64 / args.to.saturating_sub(args.from).max(1) as f64
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("phare-synth-genomes: cannot write: {error}");
            ExitCode::FAILURE
        }
    }
}
