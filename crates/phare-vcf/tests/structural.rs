//! Symbolic structural alleles: stored with type and span, or refused when the span is unknown;
//! breakends counted apart. Expected values by hand in tests/data/README.md (`sv.vcf`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use phare_domain::Assembly;
use phare_vcf::{ReadOptions, Site, VariantReader};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

#[test]
fn structural_alleles_keep_type_and_span_and_breakends_are_counted_apart() {
    let mut reader = VariantReader::open(&data("sv.vcf"), ReadOptions::new(Assembly::Grch38)).expect("open");
    let mut site = Site::default();
    let mut found = Vec::new();
    while reader.next_site(&mut site).expect("record") {
        for calls in &site.alleles {
            let structural = calls.structural.expect("structural");
            found.push((
                structural.kind,
                calls.allele.start,
                structural.end,
                calls.allele_count,
                site.allele_number,
            ));
        }
    }
    assert_eq!(
        found,
        vec![
            ("DEL", 10000, 15000, 1, 4),
            ("DUP", 20000, 23000, 3, 4),
            ("INS", 29999, 30000, 1, 2),
            ("INV", 40000, 41000, 1, 4),
        ]
    );
    let skipped = reader.skipped();
    assert_eq!(
        (
            skipped.breakends,
            skipped.symbolic_alleles,
            skipped.reference_only_records
        ),
        (1, 1, 1)
    );
}

#[test]
fn a_structural_allele_without_end_or_length_is_refused() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("no_end.vcf");
    std::fs::write(
        &path,
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t500\t.\tN\t<DEL>\t.\tPASS\t.\n",
    )
    .expect("write");
    let mut reader = VariantReader::open(&path, ReadOptions::new(Assembly::Grch38)).expect("open");
    let error = reader.next_site(&mut Site::default()).expect_err("no span");
    assert!(error.to_string().contains("no_end.vcf:4: INFO END"), "{error}");
}
