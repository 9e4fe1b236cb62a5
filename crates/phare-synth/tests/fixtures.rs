//! Guards the hand-written fixtures in `tests/data/`: the manifests parse with the public
//! [`Manifest`] type and match the VCF sample columns, and `check-expected.sh` (the bcftools
//! cross-check of the hand-worked expectations) passes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use phare_synth::{Manifest, Sex};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

fn vcf_samples(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(data_dir().join(name)).unwrap();
    let header = text.lines().find(|l| l.starts_with("#CHROM")).unwrap();
    header.split('\t').skip(9).map(str::to_owned).collect()
}

#[test]
fn manifests_match_vcf_columns() {
    for (vcf, manifest) in [
        ("small.vcf", "small.manifest.json"),
        ("chr_prefixed.vcf", "chr_prefixed.manifest.json"),
    ] {
        let m: Manifest = serde_json::from_slice(&std::fs::read(data_dir().join(manifest)).unwrap()).unwrap();
        let names: Vec<String> = m.samples.iter().map(|s| s.sample.clone()).collect();
        assert_eq!(names, vcf_samples(vcf), "{manifest} vs {vcf}");
    }
    let m: Manifest =
        serde_json::from_slice(&std::fs::read(data_dir().join("small.manifest.json")).unwrap()).unwrap();
    let sexes: Vec<Sex> = m.samples.iter().map(|s| s.sex).collect();
    assert_eq!(sexes, [Sex::Female, Sex::Male, Sex::Female, Sex::Male]);
    assert_eq!(m.samples.iter().filter(|s| !s.research_consent).count(), 1);
}

#[test]
fn expectations_agree_with_bcftools() {
    if Command::new("bcftools").arg("--version").output().is_err() {
        println!("note: bcftools not on PATH, skipping check-expected.sh");
        return;
    }
    let out = Command::new("bash")
        .arg(data_dir().join("check-expected.sh"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "check-expected.sh failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
