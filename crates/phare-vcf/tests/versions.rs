//! Every VCF version platforms emit (4.0 to 4.4) reads to the same hand-worked counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use phare_domain::Assembly;
use phare_vcf::{ReadOptions, Site, VariantReader};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

/// (contig, start, ref, alt, AC, AN) of every kept allele.
fn read(path: &std::path::Path) -> Vec<(String, u64, String, String, u32, u32)> {
    let mut reader = VariantReader::open(path, ReadOptions::new(Assembly::Grch38)).expect("open");
    let mut site = Site::default();
    let mut rows = Vec::new();
    while reader.next_site(&mut site).expect("record") {
        for calls in &site.alleles {
            rows.push((
                site.contig
                    .map(|contig| contig.name().to_owned())
                    .unwrap_or_default(),
                calls.allele.start,
                calls.allele.reference.clone(),
                calls.allele.alternate.clone(),
                calls.allele_count,
                site.allele_number,
            ));
        }
    }
    rows
}

#[test]
fn vcf_4_0_to_4_4_headers_give_the_same_alleles_and_counts() {
    let original = std::fs::read_to_string(data("small.vcf")).expect("small.vcf");
    assert!(original.starts_with("##fileformat=VCFv4.2\n"));
    let expected = read(&data("small.vcf"));
    // 15 rows by hand in tests/data/expected/small.tsv.
    assert_eq!(expected.len(), 15);
    let directory = tempfile::tempdir().expect("tempdir");
    for version in ["4.0", "4.1", "4.3", "4.4"] {
        let path = directory.path().join(format!("small-{version}.vcf"));
        std::fs::write(&path, original.replacen("VCFv4.2", &format!("VCFv{version}"), 1)).expect("write");
        assert_eq!(read(&path), expected, "VCFv{version}");
    }
}
