//! Hostile and broken inputs: unsorted records, oversized lines, headers, alleles, sample
//! counts and decompression bombs are refused early with an error naming the limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

use phare_domain::Assembly;
use phare_vcf::{Limits, ReadOptions, Site, VariantReader, VcfError};

const HEADER: &str = "##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n##contig=<ID=2,length=242193529>\n\
##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\n";

fn write(directory: &Path, name: &str, text: &str) -> PathBuf {
    let path = directory.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

fn read_all(path: &Path, limits: Limits) -> Result<u64, VcfError> {
    let mut reader = VariantReader::open(
        path,
        ReadOptions {
            limits,
            ..ReadOptions::new(Assembly::Grch38)
        },
    )?;
    let mut site = Site::default();
    let mut sites = 0;
    while reader.next_site(&mut site)? {
        sites += 1;
    }
    Ok(sites)
}

#[test]
fn unsorted_positions_and_split_contigs_are_refused_at_their_line() {
    let directory = tempfile::tempdir().expect("tempdir");
    let backwards = write(
        directory.path(),
        "backwards.vcf",
        &format!("{HEADER}1\t200\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n"),
    );
    let error = read_all(&backwards, Limits::default()).expect_err("unsorted");
    // Five header lines: the second record is line 7.
    assert!(
        error
            .to_string()
            .contains("backwards.vcf:7: POS: records are not sorted"),
        "{error}"
    );
    let split = write(
        directory.path(),
        "split.vcf",
        &format!(
            "{HEADER}1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n2\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n1\t300\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n"
        ),
    );
    let error = read_all(&split, Limits::default()).expect_err("contig again");
    assert!(error.to_string().contains("split.vcf:8: CHROM"), "{error}");
    let sorted = write(
        directory.path(),
        "sorted.vcf",
        &format!(
            "{HEADER}1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n1\t100\t.\tA\tT\t.\tPASS\t.\tGT\t0/1\n2\t5\t.\tA\tG\t.\tPASS\t.\tGT\t1/1\n"
        ),
    );
    assert_eq!(read_all(&sorted, Limits::default()).expect("sorted"), 3);
}

#[test]
fn every_size_limit_is_enforced_and_named() {
    let directory = tempfile::tempdir().expect("tempdir");
    let record = "1\t100\t.\tA\tG,C,T\t.\tPASS\t.\tGT\t0/1\n";
    let file = write(directory.path(), "three_alts.vcf", &format!("{HEADER}{record}"));
    let cases = [
        (
            Limits {
                max_alleles_per_record: 2,
                ..Limits::default()
            },
            "max_alleles_per_record",
        ),
        (
            Limits {
                max_line_bytes: 20,
                ..Limits::default()
            },
            "max_line_bytes",
        ),
        (
            Limits {
                max_header_bytes: 64,
                ..Limits::default()
            },
            "max_header_bytes",
        ),
        (
            Limits {
                max_samples: 0,
                ..Limits::default()
            },
            "max_samples",
        ),
    ];
    for (limits, named) in cases {
        let error = read_all(&file, limits).expect_err(named);
        assert!(error.to_string().contains(named), "{named}: {error}");
    }
    let long = write(
        directory.path(),
        "long_allele.vcf",
        &format!("{HEADER}1\t100\t.\tA\tA{}\t.\tPASS\t.\tGT\t0/1\n", "C".repeat(50)),
    );
    let error = read_all(
        &long,
        Limits {
            max_allele_length: 10,
            ..Limits::default()
        },
    )
    .expect_err("long allele");
    assert!(
        error.to_string().contains("long_allele.vcf:6: ALT")
            && error.to_string().contains("max_allele_length"),
        "{error}"
    );
    assert_eq!(read_all(&file, Limits::default()).expect("default limits"), 1);
}

/// A gzip file of the header, then one record whose INFO is `padding` bytes of `A`: a bomb
/// whose records are all different from each other (there is only one).
fn padded_bomb(directory: &Path, padding: usize) -> PathBuf {
    let path = directory.join("bomb.vcf.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        flate2::Compression::best(),
    );
    encoder.write_all(HEADER.as_bytes()).expect("header");
    encoder
        .write_all(b"1\t100\t.\tA\tG\t.\tPASS\tX=")
        .expect("record");
    let block = vec![b'A'; 1 << 20];
    for _ in 0..padding / block.len() {
        encoder.write_all(&block).expect("padding");
    }
    encoder.write_all(b"\tGT\t0/1\n").expect("record end");
    encoder.finish().expect("finish");
    path
}

#[test]
fn a_decompression_bomb_stops_at_the_decompressed_byte_limit() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = padded_bomb(directory.path(), 32 << 20);
    assert!(std::fs::metadata(&path).expect("metadata").len() < 1 << 20);
    let error = read_all(
        &path,
        Limits {
            max_decompressed_bytes: 1 << 20,
            max_compression_ratio: 0,
            ..Limits::default()
        },
    )
    .expect_err("bomb");
    assert!(error.to_string().contains("max_decompressed_bytes"), "{error}");
}

#[test]
fn a_decompression_bomb_stops_at_the_compression_ratio_whatever_its_records() {
    let directory = tempfile::tempdir().expect("tempdir");
    // 96 MiB from about 100 KB: a ratio near 1,000, past the default 64 MiB of grace.
    let path = padded_bomb(directory.path(), 96 << 20);
    let error = read_all(&path, Limits::default()).expect_err("bomb");
    let message = error.to_string();
    assert!(message.starts_with(&format!("{}", path.display())), "{message}");
    assert!(message.contains("max_compression_ratio"), "{message}");
    // The same file passes the ratio guard when it is turned off (and then hits nothing else).
    let off = Limits {
        max_compression_ratio: 0,
        ..Limits::default()
    };
    assert_eq!(read_all(&path, off).expect("ratio guard off"), 1);
}

#[test]
fn a_highly_compressible_real_shape_passes_the_ratio_guard() {
    let directory = tempfile::tempdir().expect("tempdir");
    // gVCF-like reference blocks: one sample, `0/0` calls over blocks of varying length, the
    // most repetitive shape a real single-genome file has. 2 MiB of text, checked from 1 MiB on.
    let path = directory.path().join("blocks.vcf.gz");
    let mut encoder = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create"),
        flate2::Compression::best(),
    );
    encoder
        .write_all(
            HEADER
                .replace(
                    "#CHROM",
                    "##INFO=<ID=END,Number=1,Type=Integer,Description=\"End\">\n#CHROM",
                )
                .as_bytes(),
        )
        .expect("header");
    let mut written = 0;
    let mut position = 1_000u64;
    let mut record = 0u64;
    while written < 2 << 20 {
        let length = 1 + (record * 7919) % 300;
        let line = format!(
            "1\t{position}\t.\tA\t<NON_REF>\t.\t.\tEND={}\tGT\t0/0\n",
            position + length - 1
        );
        encoder.write_all(line.as_bytes()).expect("record");
        written += line.len();
        position += length;
        record += 1;
    }
    encoder.finish().expect("finish");
    let checked_early = Limits {
        compression_ratio_after_bytes: 1 << 20,
        ..Limits::default()
    };
    assert_eq!(read_all(&path, checked_early).expect("reference blocks"), 0);
}

#[test]
fn a_repeated_allele_is_refused_at_its_second_record_naming_the_first() {
    let directory = tempfile::tempdir().expect("tempdir");
    // The same record twice: the second one (line 7) is refused, naming line 6.
    let twice = write(
        directory.path(),
        "twice.vcf",
        &format!("{HEADER}1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t1/1\n"),
    );
    let message = read_all(&twice, Limits::default())
        .expect_err("twice")
        .to_string();
    assert!(
        message.starts_with(&format!("{}:7: ALT: ", twice.display())),
        "{message}"
    );
    assert!(message.contains("allele 1:100 A>G"), "{message}");
    assert!(message.contains("line 6"), "{message}");

    // Equal only after splitting and trimming: `AC>GC,AT` at 100 holds A>G at 100, which a
    // later record at 100 gives again; records at 101 and another ALT at 100 are not repeats.
    let normalised = write(
        directory.path(),
        "normalised.vcf",
        &format!(
            "{HEADER}1\t100\t.\tAC\tGC,AT\t.\tPASS\t.\tGT\t0/1\n1\t100\t.\tA\tT\t.\tPASS\t.\tGT\t0/1\n\
             1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n"
        ),
    );
    let message = read_all(&normalised, Limits::default())
        .expect_err("repeat after normalisation")
        .to_string();
    assert!(
        message.starts_with(&format!("{}:8: ALT: ", normalised.display())),
        "{message}"
    );
    assert!(
        message.contains("allele 1:100 A>G") && message.contains("line 6"),
        "{message}"
    );

    // The same position on two contigs, and two ALTs at one position, are different alleles.
    let distinct = write(
        directory.path(),
        "distinct.vcf",
        &format!(
            "{HEADER}1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n1\t100\t.\tA\tT\t.\tPASS\t.\tGT\t0/1\n\
             2\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n"
        ),
    );
    assert_eq!(
        read_all(&distinct, Limits::default()).expect("distinct alleles"),
        3
    );
}

#[test]
fn a_position_beyond_the_contig_is_refused_at_its_line() {
    let directory = tempfile::tempdir().expect("tempdir");
    // GRCh38 chromosome 2 has 242,193,529 bases.
    let path = write(
        directory.path(),
        "beyond.vcf",
        &format!("{HEADER}2\t242193530\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n"),
    );
    let error = read_all(&path, Limits::default()).expect_err("beyond the contig");
    assert!(error.to_string().contains("beyond.vcf:6: POS"), "{error}");
    assert!(error.to_string().contains("242193529"), "{error}");
}

#[test]
fn a_corrupt_bgzf_block_is_an_error_not_a_crash() {
    let source =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/small.vcf.gz"))
            .expect("small.vcf.gz");
    let directory = tempfile::tempdir().expect("tempdir");
    // Flip bytes inside the first block's deflate data (after its 18-byte header), keep the end.
    let mut corrupt = source.clone();
    for byte in &mut corrupt[40..60] {
        *byte ^= 0xff;
    }
    let path = directory.path().join("corrupt.vcf.gz");
    std::fs::write(&path, &corrupt).expect("write");
    let error = read_all(&path, Limits::default()).expect_err("corrupt block");
    assert!(error.to_string().contains("corrupt.vcf.gz"), "{error}");
}

#[test]
fn spanning_deletions_and_reference_blocks_are_never_counted() {
    let directory = tempfile::tempdir().expect("tempdir");
    // `*` (an upstream deletion spans the site) and gVCF `<NON_REF>` / `<*>` are not variants.
    let path = write(
        directory.path(),
        "gvcf.vcf",
        &format!(
            "{HEADER}1\t100\t.\tA\tG,*\t.\tPASS\t.\tGT\t1/2\n1\t200\t.\tC\t<NON_REF>\t.\t.\t.\tGT\t0/0\n\
             1\t300\t.\tT\tC,<*>\t.\tPASS\t.\tGT\t0/1\n"
        ),
    );
    let mut reader = VariantReader::open(&path, ReadOptions::new(Assembly::Grch38)).expect("open");
    let mut site = Site::default();
    let mut alternates = Vec::new();
    while reader.next_site(&mut site).expect("record") {
        alternates.extend(
            site.alleles
                .iter()
                .map(|calls| (calls.allele.start, calls.allele.alternate.clone())),
        );
    }
    assert_eq!(alternates, vec![(99, "G".to_owned()), (299, "C".to_owned())]);
    assert_eq!(reader.skipped().symbolic_alleles, 3);
    assert_eq!(reader.skipped().reference_only_records, 1);
}
