//! The reader against the hand-worked fixtures of `tests/data/`: every container (plain VCF,
//! BGZF, plain gzip, BCF) must yield exactly the rows of `expected/*.tsv`, which were counted by
//! hand and cross-checked with bcftools, never produced by Phare. Every malformed file of
//! `tests/data/bad/` must be refused with an error naming the file, the line and the field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use phare_domain::Assembly;
use phare_vcf::{InputFormat, Location, ReadOptions, Site, SkipCounts, VariantReader, VcfError};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

fn options(pass_only: bool) -> ReadOptions {
    ReadOptions {
        pass_only,
        ..ReadOptions::new(Assembly::Grch38)
    }
}

/// `contig start0 ref alt ac an hom het hemi`, contig canonicalised.
type CountRow = (String, u64, String, String, u32, u32, u64, u64, u64);
/// `contig start0 ref alt sample zygosity`, contig canonicalised.
type CarrierRow = (String, u64, String, String, String, String);

fn canonical(contig: &str) -> String {
    Assembly::Grch38
        .contig(contig)
        .unwrap_or_else(|| panic!("expected file names an unknown contig `{contig}`"))
        .name()
        .to_owned()
}

/// The data rows of a TSV with a header line, split on tabs.
fn tsv_rows(name: &str, columns: usize) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(data(name)).unwrap();
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let header = lines.next().expect("header line");
    assert_eq!(header.split('\t').count(), columns, "{name}: header {header}");
    lines
        .map(|line| {
            let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
            assert_eq!(fields.len(), columns, "{name}: {line}");
            fields
        })
        .collect()
}

fn expected_counts(name: &str) -> BTreeSet<CountRow> {
    let rows: Vec<CountRow> = tsv_rows(name, 9)
        .into_iter()
        .map(|f| {
            (
                canonical(&f[0]),
                f[1].parse().unwrap(),
                f[2].clone(),
                f[3].clone(),
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
                f[6].parse().unwrap(),
                f[7].parse().unwrap(),
                f[8].parse().unwrap(),
            )
        })
        .collect();
    let set: BTreeSet<CountRow> = rows.iter().cloned().collect();
    assert_eq!(set.len(), rows.len(), "{name} has duplicate rows");
    assert!(!set.is_empty(), "{name} is empty");
    set
}

fn expected_carriers(name: &str) -> BTreeSet<CarrierRow> {
    let rows: Vec<CarrierRow> = tsv_rows(name, 6)
        .into_iter()
        .map(|f| {
            assert!(
                matches!(f[5].as_str(), "hom" | "het" | "hemi"),
                "{name}: zygosity {}",
                f[5]
            );
            (
                canonical(&f[0]),
                f[1].parse().unwrap(),
                f[2].clone(),
                f[3].clone(),
                f[4].clone(),
                f[5].clone(),
            )
        })
        .collect();
    let set: BTreeSet<CarrierRow> = rows.iter().cloned().collect();
    assert_eq!(set.len(), rows.len(), "{name} has duplicate rows");
    assert!(!set.is_empty(), "{name} is empty");
    set
}

/// Everything a full read of one file produced.
#[derive(Debug)]
struct ReadAll {
    format: InputFormat,
    samples: Vec<String>,
    counts: BTreeSet<CountRow>,
    carriers: BTreeSet<CarrierRow>,
    skipped: SkipCounts,
    records_read: u64,
}

fn read_all(path: &Path, options: ReadOptions) -> Result<ReadAll, VcfError> {
    let mut reader = VariantReader::open(path, options)?;
    let samples = reader.sample_names();
    let mut counts = BTreeSet::new();
    let mut carriers = BTreeSet::new();
    let mut site = Site::default();
    while reader.next_site(&mut site)? {
        let contig = site
            .contig
            .map(|c| c.name())
            .expect("kept site without contig")
            .to_owned();
        for calls in &site.alleles {
            let allele = &calls.allele;
            let row = (
                contig.clone(),
                allele.start,
                allele.reference.clone(),
                allele.alternate.clone(),
                calls.allele_count,
                site.allele_number,
                calls.homozygous.len(),
                calls.heterozygous.len(),
                calls.hemizygous.len(),
            );
            assert!(
                counts.insert(row.clone()),
                "{}: row read twice: {row:?}",
                path.display()
            );
            for (zygosity, bitmap) in [
                ("hom", &calls.homozygous),
                ("het", &calls.heterozygous),
                ("hemi", &calls.hemizygous),
            ] {
                for index in bitmap {
                    let sample = samples
                        .get(index as usize)
                        .unwrap_or_else(|| panic!("carrier index {index} beyond {} samples", samples.len()));
                    carriers.insert((
                        contig.clone(),
                        allele.start,
                        allele.reference.clone(),
                        allele.alternate.clone(),
                        sample.clone(),
                        zygosity.to_owned(),
                    ));
                }
            }
        }
    }
    Ok(ReadAll {
        format: reader.format(),
        samples,
        counts,
        carriers,
        skipped: reader.skipped().clone(),
        records_read: reader.records_read(),
    })
}

fn assert_same<T: Ord + std::fmt::Debug>(what: &str, actual: &BTreeSet<T>, expected: &BTreeSet<T>) {
    let missing: Vec<&T> = expected.difference(actual).collect();
    let unexpected: Vec<&T> = actual.difference(expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{what}: missing {missing:#?}\nunexpected {unexpected:#?}"
    );
}

fn check_small(file: &str, format: InputFormat) {
    let read = read_all(&data(file), options(true)).unwrap_or_else(|error| panic!("{file}: {error}"));
    assert_eq!(read.format, format, "{file}");
    assert_eq!(read.samples, ["S1", "S2", "S3", "S4"], "{file}");
    assert_same(
        &format!("{file} counts"),
        &read.counts,
        &expected_counts("expected/small.tsv"),
    );
    assert_same(
        &format!("{file} carriers"),
        &read.carriers,
        &expected_carriers("expected/small.carriers.tsv"),
    );
    // 13 records in the file, the LowQual one among them.
    assert_eq!(read.records_read, 13, "{file}");
    assert_eq!(
        read.skipped,
        SkipCounts {
            filtered_records: 1,
            ..SkipCounts::default()
        },
        "{file}"
    );
}

#[test]
fn plain_vcf_matches_the_hand_counts() {
    check_small("small.vcf", InputFormat::Vcf);
}

#[test]
fn bgzf_vcf_matches_the_hand_counts() {
    check_small("small.vcf.gz", InputFormat::VcfBgzf);
}

#[test]
fn plain_gzip_vcf_matches_the_hand_counts() {
    check_small("small.vcf.plain.gz", InputFormat::VcfGzip);
}

#[test]
fn bcf_matches_the_hand_counts() {
    check_small("small.bcf", InputFormat::Bcf);
}

#[test]
fn chr_prefixed_contigs_are_canonicalised_and_match_the_hand_counts() {
    let read = read_all(&data("chr_prefixed.vcf"), options(true)).unwrap();
    assert_eq!(read.format, InputFormat::Vcf);
    assert_eq!(read.samples, ["C1", "C2", "C3"]);
    assert_same(
        "chr_prefixed counts",
        &read.counts,
        &expected_counts("expected/chr_prefixed.tsv"),
    );
    assert_same(
        "chr_prefixed carriers",
        &read.carriers,
        &expected_carriers("expected/chr_prefixed.carriers.tsv"),
    );
    // The stored contig names are the canonical ones, never the file's `chr1`.
    assert!(read.counts.iter().all(|row| !row.0.starts_with("chr")));
    assert_eq!(read.records_read, 5);
    assert_eq!(read.skipped, SkipCounts::default());
}

#[test]
fn filtered_records_are_kept_when_asked() {
    // Record 7 of small.vcf: `1 7000 G C LowQual`, GT 0/1 0/1 1/1 0/0 (README):
    // AN 8, AC 1+1+2 = 4, hom S3, het S1 S2.
    let low_qual: CountRow = ("1".into(), 6999, "G".into(), "C".into(), 4, 8, 1, 2, 0);
    let low_qual_carriers: BTreeSet<CarrierRow> = [("S1", "het"), ("S2", "het"), ("S3", "hom")]
        .into_iter()
        .map(|(sample, zygosity)| {
            (
                "1".to_owned(),
                6999,
                "G".to_owned(),
                "C".to_owned(),
                sample.to_owned(),
                zygosity.to_owned(),
            )
        })
        .collect();
    for file in ["small.vcf", "small.vcf.gz", "small.vcf.plain.gz", "small.bcf"] {
        let read = read_all(&data(file), options(false)).unwrap();
        let mut expected = expected_counts("expected/small.tsv");
        assert!(!expected.contains(&low_qual));
        expected.insert(low_qual.clone());
        assert_same(&format!("{file} counts with filtered"), &read.counts, &expected);
        let mut carriers = expected_carriers("expected/small.carriers.tsv");
        carriers.extend(low_qual_carriers.iter().cloned());
        assert_same(
            &format!("{file} carriers with filtered"),
            &read.carriers,
            &carriers,
        );
        assert_eq!(read.skipped, SkipCounts::default(), "{file}");
        assert_eq!(read.records_read, 13, "{file}");

        let pass_only = read_all(&data(file), options(true)).unwrap();
        assert!(!pass_only.counts.contains(&low_qual), "{file}");
        assert_eq!(pass_only.skipped.filtered_records, 1, "{file}");
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed inputs: each must be refused with a located error, never accepted, never a panic.

/// Opens and reads to the end; the error, or None if the whole file was accepted.
fn refusal(file: &str) -> (PathBuf, Option<VcfError>) {
    let path = data(file);
    let outcome = read_all(&path, options(true));
    (path, outcome.err())
}

fn assert_refused(file: &str, location: Location, field: &str, message_words: &[&str]) {
    let (path, error) = refusal(file);
    let error = error.unwrap_or_else(|| panic!("{file} was accepted"));
    let shown = error.to_string();
    println!("{file}: {shown}");
    assert_eq!(error.path, path, "{shown}");
    assert!(shown.starts_with(&path.display().to_string()), "{shown}");
    assert_eq!(error.location, location, "{shown}");
    if let Location::Line(line) = location {
        assert!(
            shown.starts_with(&format!("{}:{line}: ", path.display())),
            "{shown}"
        );
    }
    assert!(
        error.field.contains(field),
        "field `{}` does not name `{field}`: {shown}",
        error.field
    );
    for word in message_words {
        assert!(shown.contains(word), "`{word}` not in: {shown}");
    }
}

/// Every file in `bad/` has a test below: a new bad fixture must get one.
#[test]
fn every_bad_fixture_is_covered() {
    let covered = [
        "allele_out_of_range.vcf",
        "binary_blob.vcf",
        "duplicate_allele.vcf",
        "duplicate_samples.vcf",
        "non_numeric_pos.vcf",
        "pos_zero.vcf",
        "too_few_columns.vcf",
        "truncated.vcf.gz",
        "truncated_header.vcf.gz",
    ];
    let mut present: Vec<String> = std::fs::read_dir(data("bad"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    assert_eq!(present, covered);
}

#[test]
fn non_numeric_pos_is_refused_at_its_line() {
    // Line 6 is `1 12x4 . C T …`; htslib reads it as 12.
    assert_refused("bad/non_numeric_pos.vcf", Location::Line(6), "POS", &[]);
}

#[test]
fn duplicate_allele_is_refused_at_its_second_record() {
    // Line 6 is `1 1000 AC GC`: trimmed, the `A>G` of line 5.
    assert_refused(
        "bad/duplicate_allele.vcf",
        Location::Line(6),
        "ALT",
        &["allele 1:1000 A>G", "line 5"],
    );
}

#[test]
fn pos_zero_is_refused_at_its_line() {
    // Line 5 is the only record, POS 0.
    assert_refused("bad/pos_zero.vcf", Location::Line(5), "POS", &[]);
}

#[test]
fn too_few_columns_is_refused_at_its_line() {
    // Line 6 stops after FILTER: 7 columns where the header declares 11.
    let (path, error) = refusal("bad/too_few_columns.vcf");
    let error = error.unwrap_or_else(|| panic!("too_few_columns.vcf was accepted"));
    let shown = error.to_string();
    println!("{shown}");
    assert_eq!(error.path, path, "{shown}");
    assert_eq!(error.location, Location::Line(6), "{shown}");
    assert!(shown.starts_with(&format!("{}:6: ", path.display())), "{shown}");
}

#[test]
fn allele_out_of_range_is_refused_naming_the_sample() {
    // Line 5: GT `0/3` of S1 with a single ALT.
    assert_refused(
        "bad/allele_out_of_range.vcf",
        Location::Line(5),
        "GT of sample S1",
        &["3"],
    );
}

#[test]
fn duplicate_samples_are_refused_from_the_header() {
    assert_refused("bad/duplicate_samples.vcf", Location::Header, "header", &["S1"]);
}

#[test]
fn binary_blob_is_refused_as_not_a_variant_file() {
    assert_refused("bad/binary_blob.vcf", Location::File, "format", &[]);
}

#[test]
fn truncated_header_is_refused_as_a_truncated_file() {
    // Cut inside the header: the missing BGZF end-of-file block refuses it before any parsing.
    let (path, error) = refusal("bad/truncated_header.vcf.gz");
    let error = error.unwrap_or_else(|| panic!("truncated_header.vcf.gz was accepted"));
    let shown = error.to_string();
    assert_eq!(error.path, path, "{shown}");
    assert_eq!(error.location, Location::File, "{shown}");
    assert!(shown.contains("truncated"), "{shown}");
}

#[test]
fn truncated_bgzf_is_refused() {
    let (path, error) = refusal("bad/truncated.vcf.gz");
    let error = error.unwrap_or_else(|| panic!("truncated.vcf.gz was accepted"));
    let shown = error.to_string();
    println!("{shown}");
    assert_eq!(error.path, path, "{shown}");
    assert!(shown.starts_with(&path.display().to_string()), "{shown}");
}

#[test]
fn truncated_bgzf_is_not_blamed_on_the_header() {
    // The header block is whole (12 lines, `#CHROM` included, as `gzip -dc` shows); the block
    // holding the records is cut, so the file fails at its first record, line 13, or as a file.
    // noodles' header reader peeks at the next line's first byte, which loads the cut block, and
    // the reader maps every error of that step to `Location::Header`.
    let (path, error) = refusal("bad/truncated.vcf.gz");
    let error = error.unwrap_or_else(|| panic!("truncated.vcf.gz was accepted"));
    let shown = error.to_string();
    assert_eq!(error.path, path, "{shown}");
    assert!(
        matches!(error.location, Location::Line(13) | Location::File),
        "the header is complete, the records block is cut: {shown}"
    );
}

/// `vcf` converted to `bcf` by bcftools.
fn bcftools_to_bcf(vcf: &Path, bcf: &Path) {
    let status = std::process::Command::new("bcftools")
        .args(["view", "--no-version", "-Ob", "-o"])
        .arg(bcf)
        .arg(vcf)
        .status()
        .unwrap_or_else(|error| panic!("bcftools is needed (scripts/test checks for it): {error}"));
    assert!(status.success(), "bcftools view -Ob {}", vcf.display());
}

/// BCF has no lines: errors name the record (1-based). bcftools converts these two bad files
/// without complaint (README), which makes them bad BCF files.
#[test]
fn bcf_errors_are_located_by_record() {
    let dir = tempfile::tempdir().unwrap();
    for (file, field) in [
        ("allele_out_of_range.vcf", "GT of sample S1"),
        ("pos_zero.vcf", "POS"),
    ] {
        let bcf = dir.path().join(file.replace(".vcf", ".bcf"));
        bcftools_to_bcf(&data(&format!("bad/{file}")), &bcf);
        let error = match read_all(&bcf, options(true)) {
            Ok(read) => panic!("{} accepted: {read:?}", bcf.display()),
            Err(error) => error,
        };
        let shown = error.to_string();
        println!("{shown}");
        assert_eq!(error.path, bcf, "{shown}");
        assert_eq!(error.location, Location::BcfRecord(1), "{shown}");
        assert!(error.field.contains(field), "{shown}");
        assert!(
            shown.starts_with(&format!("{}: record 1: ", bcf.display())),
            "{shown}"
        );
    }
}

/// small.vcf as BGZF with the header in one block and each record in a block of its own, the
/// way htslib writes (it flushes a block before a record that would not fit): the bytes, and
/// the end offset of every block, EOF marker excluded.
fn bgzf_block_per_record() -> (Vec<u8>, Vec<usize>) {
    let text = std::fs::read_to_string(data("small.vcf")).unwrap();
    let header_length = text.find("\n1\t").unwrap() + 1;
    let mut writer = noodles_bgzf::io::Writer::new(Vec::new());
    let mut ends = Vec::new();
    writer.write_all(&text.as_bytes()[..header_length]).unwrap();
    writer.flush().unwrap();
    ends.push(writer.get_ref().len());
    for line in text[header_length..].split_inclusive('\n') {
        writer.write_all(line.as_bytes()).unwrap();
        writer.flush().unwrap();
        ends.push(writer.get_ref().len());
    }
    (writer.finish().unwrap(), ends)
}

#[test]
fn bgzf_written_a_record_per_block_matches_the_hand_counts() {
    // The control for the truncation test below: the construction itself is a valid file.
    let (bytes, ends) = bgzf_block_per_record();
    assert_eq!(ends.len(), 1 + 13);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.vcf.gz");
    std::fs::write(&path, &bytes).unwrap();
    let read = read_all(&path, options(true)).unwrap();
    assert_eq!(read.format, InputFormat::VcfBgzf);
    assert_same(
        "blocks counts",
        &read.counts,
        &expected_counts("expected/small.tsv"),
    );
    assert_eq!(read.records_read, 13);
}

#[test]
fn bgzf_cut_at_a_block_boundary_is_refused() {
    // What a killed or out-of-space `bcftools view -Oz` leaves: whole blocks, ending on a record,
    // without the 28-byte EOF marker. htslib reports "no BGZF EOF marker; file may be
    // truncated"; Phare must not store the first 6 of 13 records as if they were the file.
    let (bytes, ends) = bgzf_block_per_record();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.vcf.gz");
    std::fs::write(&path, &bytes[..ends[6]]).unwrap();
    match read_all(&path, options(true)) {
        Ok(read) => panic!(
            "a file cut after {} of 13 records was accepted: {} alleles",
            read.records_read,
            read.counts.len()
        ),
        Err(error) => assert_eq!(error.path, path, "{error}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Assembly checks from the header.

fn temp_vcf(contig_line: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".vcf").tempfile().unwrap();
    write!(
        file,
        "##fileformat=VCFv4.2\n{contig_line}\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n\
         1\t1000\t.\tA\tG\t50\tPASS\t.\tGT\t0/1\n"
    )
    .unwrap();
    file.flush().unwrap();
    file
}

#[test]
fn grch37_header_is_refused_by_a_grch38_reader() {
    // GRCh37 chromosome 1 is 249,250,621 bases; GRCh38's is 248,956,422.
    let file = temp_vcf("##contig=<ID=1,length=249250621>");
    let error = match VariantReader::open(file.path(), options(true)) {
        Ok(_) => panic!("a GRCh37 header was accepted for GRCh38"),
        Err(error) => error,
    };
    let shown = error.to_string();
    println!("{shown}");
    assert_eq!(error.location, Location::Header, "{shown}");
    assert!(shown.starts_with(&file.path().display().to_string()), "{shown}");
    for word in ["contig=1", "249250621", "248956422", "GRCh38"] {
        assert!(shown.contains(word), "`{word}` not in: {shown}");
    }

    // The same file with GRCh38's length is read: the refusal above is about the length.
    let good = temp_vcf("##contig=<ID=1,length=248956422>");
    let read = read_all(good.path(), options(true)).unwrap();
    let expected: BTreeSet<CountRow> = [("1".to_owned(), 999, "A".to_owned(), "G".to_owned(), 1, 2, 0, 1, 0)]
        .into_iter()
        .collect();
    assert_eq!(read.counts, expected);
}

// ---------------------------------------------------------------------------------------------
// Runs of `0|0` / `0/0` columns (GT-only FORMAT), which the reader takes four bytes at a time.

fn five_sample_vcf(records: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".vcf").tempfile().unwrap();
    write!(
        file,
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\tS3\tS4\tS5\n{records}"
    )
    .unwrap();
    file.flush().unwrap();
    file
}

#[test]
fn reference_runs_count_like_any_other_column() {
    // By hand: S3 0|1 (het), S5 1|1 (hom); AC = 1 + 2 = 3, AN = 5 × 2 = 10. Then a run ending
    // the line: S1 1/0 (het), the other four 0/0; AC 1, AN 10.
    let file = five_sample_vcf(
        "1\t1000\t.\tA\tG\t50\tPASS\t.\tGT\t0|0\t0/0\t0|1\t0|0\t1|1\n\
         1\t2000\t.\tC\tT\t50\tPASS\t.\tGT\t1/0\t0/0\t0/0\t0/0\t0/0\n",
    );
    let read = read_all(file.path(), options(true)).expect("read");
    let rows: Vec<_> = read.counts.into_iter().collect();
    assert_eq!(
        rows,
        vec![
            (
                "1".to_owned(),
                999,
                "A".to_owned(),
                "G".to_owned(),
                3,
                10,
                1,
                1,
                0
            ),
            (
                "1".to_owned(),
                1999,
                "C".to_owned(),
                "T".to_owned(),
                1,
                10,
                0,
                1,
                0
            ),
        ]
    );
    let carriers: Vec<_> = read
        .carriers
        .into_iter()
        .map(|(_, start, _, _, sample, zygosity)| (start, sample, zygosity))
        .collect();
    assert_eq!(
        carriers,
        vec![
            (999, "S3".to_owned(), "het".to_owned()),
            (999, "S5".to_owned(), "hom".to_owned()),
            (1999, "S1".to_owned(), "het".to_owned()),
        ]
    );
}

/// The five-sample file's one record, with these sample columns, refused at its line (5) with
/// a message naming each of `words`.
fn assert_record_refused(columns: &str, words: [&str; 2]) {
    let file = five_sample_vcf(&format!("1\t1000\t.\tA\tG\t50\tPASS\t.\tGT\t{columns}\n"));
    let error = read_all(file.path(), options(true)).expect_err("record refused");
    let shown = error.to_string();
    assert_eq!(error.location, Location::Line(5), "{shown}");
    for word in words {
        assert!(shown.contains(word), "`{word}` not in: {shown}");
    }
}

#[test]
fn a_run_of_reference_columns_past_the_header_is_refused() {
    for (columns, words) in [
        ("0|0\t0|0\t0|0\t0|0\t0|0\t0|0", ["more sample columns", "5"]),
        ("0|0\t0|0\t0|0\t0|0\t0|0\t", ["more sample columns", "5"]),
        ("0|0\t0|0\t0|0\t0|0", ["4 sample columns", "5"]),
    ] {
        assert_record_refused(columns, words);
    }
}

/// A one-digit diploid call followed by a tab is read in place (no parser): it is checked as
/// any other call, for its alleles and for the header's column count.
#[test]
fn a_call_read_in_place_is_checked_like_any_other() {
    for (columns, words) in [
        ("0/5\t0/0\t0/0\t0/0\t0/0", ["GT of sample S1", "allele 5"]),
        ("0|0\t0|0\t0|0\t0|0\t0|1\t1|1\t0|0", ["more sample columns", "5"]),
    ] {
        assert_record_refused(columns, words);
    }
}

/// A 13-sample cohort as text VCF and as BCF against bcftools' own AC and AN for the same
/// file: BCF's `0/0` runs, taken four samples at a time, broken at every place of an
/// eight-byte word, and the text path's one-digit calls read in place, by calls of each kind
/// (het, hom, missing, half-missing, multi-allelic).
#[test]
fn bcf_reference_runs_count_as_bcftools_does() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<String> = (0..13).map(|index| format!("S{index}")).collect();
    let records = [
        "100\tA\tG\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/1",
        "200\tC\tT\t0|0\t0|0\t0|0\t0|0\t0|0\t1|1\t0|0\t0|0\t0|0\t0|0\t0|0\t0|0\t0|0",
        "300\tG\tA\t0/0\t0/0\t0/0\t0/0\t./.\t0/0\t0/0\t0/.\t0/0\t0/1\t0/0\t0/0\t0/0",
        "400\tA\tC,G\t1/2\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/2\t0/0\t0/0\t0/0\t0/0",
        "500\tT\tC\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0",
        "600\tT\tG\t0/0\t0/0\t0/0\t1/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t0/0\t1/1\t0/0",
    ];
    let mut text = String::from(
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t",
    );
    text.push_str(&samples.join("\t"));
    text.push('\n');
    for record in records {
        let (position, rest) = record.split_once('\t').unwrap();
        let (alleles, calls) = rest.split_at(rest.match_indices('\t').nth(1).unwrap().0);
        text.push_str(&format!("1\t{position}\t.\t{alleles}\t.\tPASS\t.\tGT{calls}\n"));
    }
    let vcf = dir.path().join("runs.vcf");
    std::fs::write(&vcf, text).unwrap();
    let bcf = dir.path().join("runs.bcf");
    bcftools_to_bcf(&vcf, &bcf);
    let tagged = std::process::Command::new("bcftools")
        .args(["+fill-tags"])
        .arg(&bcf)
        .args(["--", "-t", "AC,AN"])
        .output()
        .unwrap();
    assert!(tagged.status.success(), "bcftools +fill-tags");
    let tagged_path = dir.path().join("tagged.vcf");
    std::fs::write(&tagged_path, &tagged.stdout).unwrap();
    let queried = std::process::Command::new("bcftools")
        .args(["query", "-f", "%POS\\t%ALT\\t%AC\\t%AN\\n"])
        .arg(&tagged_path)
        .output()
        .unwrap();
    assert!(queried.status.success(), "bcftools query");
    let mut expected = BTreeSet::new();
    for line in String::from_utf8(queried.stdout).unwrap().lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let position: u64 = fields[0].parse().unwrap();
        let allele_number: u32 = fields[3].parse().unwrap();
        for (alternate, count) in fields[1].split(',').zip(fields[2].split(',')) {
            expected.insert((
                position - 1,
                alternate.to_owned(),
                count.parse::<u32>().unwrap(),
                allele_number,
            ));
        }
    }
    assert_eq!(expected.len(), 7, "bcftools gave {expected:?}");
    for file in [&vcf, &bcf] {
        let read = read_all(file, options(true)).unwrap();
        let found: BTreeSet<(u64, String, u32, u32)> = read
            .counts
            .iter()
            .map(|row| (row.1, row.3.clone(), row.4, row.5))
            .collect();
        assert_eq!(found, expected, "{}", file.display());
    }
}
