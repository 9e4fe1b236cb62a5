//! Ingestion against a real PostgreSQL: counts across files, consent scopes and strata,
//! concurrency, idempotency and atomicity. Expected values are worked by hand in
//! tests/data/README.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use phare_domain::{Assembly, Granularity, Manifest};
use phare_store::testing::fresh_database;
use phare_store::{
    ColumnQuery, INGEST_BATCH_ALLELES, IngestOutcome, IngestRequest, NewDataset, Store, StoreError,
    VariantSearch, Zygosity,
};
use sqlx::Row;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

async fn dataset(store: &Store, id: &str) {
    store
        .create_dataset(&NewDataset {
            id: id.into(),
            name: id.into(),
            assembly: Assembly::Grch38,
            anonymous_max: Granularity::Record,
        })
        .await
        .expect("create dataset");
}

fn request(dataset_id: &str, path: PathBuf, manifest: Option<Manifest>) -> IngestRequest {
    IngestRequest {
        manifest,
        ..IngestRequest::new(dataset_id, path)
    }
}

fn small_manifest() -> Manifest {
    Manifest::from_json(&std::fs::read_to_string(data("small.manifest.json")).expect("read"))
        .expect("manifest")
}

/// (AC, AN, hom, het, hemi) of one allele in one scope and population: `Total` from the
/// counts maintained at ingest, other populations from the carrier sets (as answers read them).
async fn counts(
    store: &Store,
    dataset_id: &str,
    scope: &str,
    stratum: &str,
    allele: (&str, i64, &str, &str),
) -> Option<(i64, i64, i64, i64, i64)> {
    let (contig, start, reference, alternate) = allele;
    if stratum != "Total" {
        let search = VariantSearch::Sequence {
            contig: contig.into(),
            start: start as u64,
            reference: Some(reference.into()),
            alternate: alternate.into(),
        };
        let found = store
            .find_variants(dataset_id, scope, &search, 0, 10, None)
            .await
            .expect("find")
            .0;
        let counts = found
            .first()?
            .strata
            .iter()
            .find(|counts| counts.stratum == stratum)?
            .clone();
        return Some((
            counts.allele_count,
            counts.allele_number,
            counts.homozygous.unwrap_or(-1),
            counts.heterozygous.unwrap_or(-1),
            counts.hemizygous.unwrap_or(-1),
        ));
    }
    let prefix = if scope == "research" { "research_" } else { "" };
    sqlx::query(
        "SELECT c.*
         FROM variant_counts c JOIN variants v ON v.id = c.variant_id
         WHERE c.dataset_id = $1 AND v.contig = $2 AND v.start = $3 AND v.reference = $4 AND v.alternate = $5",
    )
    .bind(dataset_id)
    .bind(contig)
    .bind(start)
    .bind(reference)
    .bind(alternate)
    .fetch_optional(store.pool())
    .await
    .expect("query")
    .map(|row| {
        let column = |name: &str| -> i64 { row.get(format!("{prefix}{name}").as_str()) };
        (
            column("allele_count"),
            column("allele_number"),
            column("homozygous"),
            column("heterozygous"),
            column("hemizygous"),
        )
    })
}

/// A VCF with one contig of GRCh38 length `length`, GT only, the given samples and records.
fn genotype_vcf(
    directory: &Path,
    name: &str,
    contig: (&str, u64),
    samples: &[&str],
    records: &str,
) -> PathBuf {
    let (contig_name, length) = contig;
    let path = directory.join(name);
    let text = format!(
        "##fileformat=VCFv4.2\n##contig=<ID={contig_name},length={length}>\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{}\n{records}",
        samples.join("\t")
    );
    std::fs::write(&path, text).expect("write vcf");
    path
}

const CHR1: (&str, u64) = ("1", 248_956_422);
const CHRX: (&str, u64) = ("X", 156_040_895);

async fn row_count(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT count(*) AS rows FROM {table}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(store.pool())
        .await
        .expect("count")
        .get("rows")
}

/// A dataset's range bins as `variant_bins` holds them, and as counted afresh from its
/// `variant_counts` by the bins' definition (decision 0049): (contig, bin, alleles, research).
async fn bins_and_recount(
    store: &Store,
    dataset_id: &str,
) -> (Vec<(String, i64, i64, i64)>, Vec<(String, i64, i64, i64)>) {
    let read = |sql: &'static str| async move {
        sqlx::query(sql)
            .bind(dataset_id)
            .fetch_all(store.pool())
            .await
            .expect("bins")
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3)))
            .collect::<Vec<(String, i64, i64, i64)>>()
    };
    let held = read(
        "SELECT contig, bin, alleles, research_alleles FROM variant_bins
         WHERE dataset_id = $1 AND (alleles <> 0 OR research_alleles <> 0) ORDER BY contig, bin",
    )
    .await;
    let recounted = read(
        "SELECT v.contig, v.start / 1000, count(*) FILTER (WHERE c.allele_count > 0),
                count(*) FILTER (WHERE c.research_allele_count > 0)
         FROM variant_counts c JOIN variants v ON v.id = c.variant_id
         WHERE c.dataset_id = $1 AND (c.allele_count > 0 OR c.research_allele_count > 0)
         GROUP BY v.contig, v.start / 1000 ORDER BY 1, 2",
    )
    .await;
    (held, recounted)
}

/// The first file of a dataset inserts its counts (decision 0060), even for alleles another
/// dataset already counts; the second adds to them; the range bins follow both.
#[tokio::test]
async fn the_same_variant_from_two_files_and_spellings_is_one_row_with_summed_counts() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "other").await;
    store
        .ingest(request("other", data("small.vcf"), None))
        .await
        .expect("small into another dataset");
    dataset(store, "ds").await;
    store
        .ingest(request("ds", data("small.vcf"), None))
        .await
        .expect("small");
    assert_eq!(
        counts(store, "ds", "all", "Total", ("1", 999, "A", "G")).await,
        Some((4, 8, 1, 2, 0)),
        "small.vcf alone (tests/data/README.md)"
    );
    let (held, recounted) = bins_and_recount(store, "ds").await;
    assert_eq!(held, recounted, "bins after the first file");
    // 1:999 A>G is the only counted allele of contig 1's first bin.
    assert!(held.contains(&("1".to_owned(), 0, 1, 1)), "{held:?}");
    store
        .ingest(request("ds", data("chr_prefixed.vcf"), None))
        .await
        .expect("chr_prefixed");
    let (held, recounted) = bins_and_recount(store, "ds").await;
    assert_eq!(held, recounted, "bins after the second file");
    // Combined by hand (tests/data/README.md): 1:999 A>G AC 7 / AN 14 (hom 2, het 3),
    // 1:1999 C>A 4/14, 1:5000 C>T 2/14, X:4999999 G>A 6/11.
    assert_eq!(
        counts(store, "ds", "all", "Total", ("1", 999, "A", "G")).await,
        Some((7, 14, 2, 3, 0))
    );
    assert_eq!(
        counts(store, "ds", "all", "Total", ("1", 1999, "C", "A"))
            .await
            .map(|c| (c.0, c.1)),
        Some((4, 14))
    );
    assert_eq!(
        counts(store, "ds", "all", "Total", ("1", 5000, "C", "T"))
            .await
            .map(|c| (c.0, c.1)),
        Some((2, 14))
    );
    assert_eq!(
        counts(store, "ds", "all", "Total", ("X", 4999999, "G", "A"))
            .await
            .map(|c| (c.0, c.1)),
        Some((6, 11))
    );
    let shared: i64 = sqlx::query("SELECT count(*) AS rows FROM variants WHERE contig = '1' AND start = 999")
        .fetch_one(store.pool())
        .await
        .expect("count")
        .get("rows");
    assert_eq!(shared, 1);
    // small.tsv has 15 rows, chr_prefixed.tsv 6, and 4 variants are shared.
    assert_eq!(row_count(store, "variants").await, 15 + 6 - 4);
    // The other dataset's counts are its own file's.
    assert_eq!(
        counts(store, "other", "all", "Total", ("1", 999, "A", "G")).await,
        Some((4, 8, 1, 2, 0))
    );
}

#[tokio::test]
async fn patients_who_objected_are_left_out_of_research_counts_and_strata_follow_the_manifest() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    store
        .ingest(request("ds", data("small.vcf"), Some(small_manifest())))
        .await
        .expect("ingest");
    let x = ("X", 4999999, "G", "A");
    // GT S1 0/1, S2 1, S3 1/1, S4 0 (S1, S3 female; S2, S4 male; S3 objected).
    assert_eq!(
        counts(store, "ds", "all", "Total", x).await,
        Some((4, 6, 1, 1, 1))
    );
    assert_eq!(
        counts(store, "ds", "research", "Total", x).await,
        Some((2, 4, 0, 1, 1))
    );
    assert_eq!(counts(store, "ds", "all", "F", x).await, Some((3, 4, 1, 1, 0)));
    assert_eq!(
        counts(store, "ds", "research", "F", x).await,
        Some((1, 2, 0, 1, 0))
    );
    assert_eq!(counts(store, "ds", "all", "M", x).await, Some((1, 2, 0, 0, 1)));
    assert_eq!(
        counts(store, "ds", "research", "FR_M", x).await,
        Some((1, 2, 0, 0, 1))
    );
    // The carrier sets give the same research Total as the counts kept at ingest.
    let search = VariantSearch::Sequence {
        contig: "X".into(),
        start: 4999999,
        reference: Some("G".into()),
        alternate: "A".into(),
    };
    let found = store
        .find_variants("ds", "research", &search, 0, 10, None)
        .await
        .expect("find")
        .0;
    let total = &found[0].strata[0];
    assert_eq!(
        (total.stratum.as_str(), total.allele_count, total.allele_number),
        ("Total", 2, 4)
    );
    // 1:1999 C>T: S1 1/2 (one T), S3 2/2 → research leaves S1 only: AC 1, AN 8 − 2.
    assert_eq!(
        counts(store, "ds", "research", "Total", ("1", 1999, "C", "T")).await,
        Some((1, 6, 0, 1, 0))
    );
    let individuals = row_count(store, "individuals").await;
    assert_eq!(individuals, 4);
}

#[tokio::test]
async fn the_same_file_twice_is_stored_once() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let first = store
        .ingest(request("ds", data("small.vcf"), None))
        .await
        .expect("first");
    let IngestOutcome::Ingested(summary) = first else {
        panic!("first ingest should store")
    };
    let second = store
        .ingest(request("ds", data("small.vcf"), None))
        .await
        .expect("second");
    assert!(
        matches!(second, IngestOutcome::AlreadyIngested { analysis_id, .. } if analysis_id == summary.analysis_id)
    );
    assert_eq!(
        counts(store, "ds", "all", "Total", ("1", 999, "A", "G"))
            .await
            .map(|c| c.0),
        Some(4)
    );
    assert_eq!(row_count(store, "analyses").await, 1);
}

#[tokio::test]
async fn concurrent_ingests_into_one_dataset_equal_sequential_ones() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let (left, right) = tokio::join!(
        store.ingest(request("ds", data("small.vcf"), None)),
        store.ingest(request("ds", data("chr_prefixed.vcf"), None)),
    );
    left.expect("small");
    right.expect("chr_prefixed");
    assert_eq!(
        counts(store, "ds", "all", "Total", ("1", 999, "A", "G")).await,
        Some((7, 14, 2, 3, 0))
    );
    assert_eq!(
        counts(store, "ds", "all", "Total", ("X", 4999999, "G", "A"))
            .await
            .map(|c| (c.0, c.1)),
        Some((6, 11))
    );
}

/// `count` good two-sample records on chromosome 1, A>G every 10 bases from position 10.
fn good_records(count: u32) -> String {
    (1..=count)
        .map(|position| format!("1\t{}\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\n", position * 10))
        .collect()
}

/// A failed ingest left no row in any table it writes.
async fn assert_nothing_stored(store: &Store) {
    for table in [
        "analyses",
        "analysis_samples",
        "variants",
        "analysis_variants",
        "variant_counts",
        "contig_spans",
    ] {
        assert_eq!(row_count(store, table).await, 0, "{table}");
    }
}

/// The file is read while its sample rows are written (decision 0059): a bad first record
/// fails the ingest as before, naming its line, and neither the samples nor the patients stay.
#[tokio::test]
async fn a_bad_first_record_read_while_the_samples_are_written_leaves_nothing_behind() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let directory = tempfile::tempdir().expect("tempdir");
    let mut records = String::from("1\t5\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/5\n");
    records.push_str(&good_records(1_000));
    let bad = genotype_vcf(directory.path(), "bad_first.vcf", CHR1, &["M", "W"], &records);
    let manifest = Manifest::from_json(
        r#"{"samples":[
            {"sample":"M","biosampleId":"BM","individualId":"IM","sex":"male","researchConsent":true},
            {"sample":"W","biosampleId":"BW","individualId":"IW","sex":"female","researchConsent":true}]}"#,
    )
    .expect("manifest");
    let error = store
        .ingest(request("ds", bad, Some(manifest)))
        .await
        .expect_err("must fail");
    let message = error.to_string();
    // 4 header lines: the bad record is line 5.
    assert!(message.contains("bad_first.vcf:5"), "{message}");
    assert!(message.contains("GT of sample W"), "{message}");
    assert!(error.is_input_error());
    assert_nothing_stored(store).await;
    assert_eq!(row_count(store, "individuals").await, 0);
    assert_eq!(row_count(store, "biosamples").await, 0);
}

#[tokio::test]
async fn a_failure_half_way_leaves_nothing_behind() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let directory = tempfile::tempdir().expect("tempdir");
    // Many good records first, so COPY has already sent data when the bad one is met.
    let mut records = good_records(50_000);
    records.push_str("1\t600000\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/5\n");
    let bad = genotype_vcf(
        directory.path(),
        "bad_at_the_end.vcf",
        CHR1,
        &["A", "B"],
        &records,
    );
    let error = store
        .ingest(request("ds", bad, None))
        .await
        .expect_err("must fail");
    let message = error.to_string();
    // 4 header lines, 50,000 good records: the bad one is line 50,005.
    assert!(message.contains("bad_at_the_end.vcf:50005"), "{message}");
    assert!(message.contains("GT of sample B"), "{message}");
    assert!(error.is_input_error());
    assert_nothing_stored(store).await;
    // And the dataset still takes a good file afterwards.
    store
        .ingest(request("ds", data("small.vcf"), None))
        .await
        .expect("good file after a bad one");
}

#[tokio::test]
async fn two_records_normalising_to_one_allele_are_refused_cleanly() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let directory = tempfile::tempdir().expect("tempdir");
    // AC>GC at 100 trims to A>G at 100, the record before it.
    let duplicate = genotype_vcf(
        directory.path(),
        "duplicate.vcf",
        CHR1,
        &["A"],
        "1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n1\t100\t.\tAC\tGC\t.\tPASS\t.\tGT\t1/1\n",
    );
    let error = store
        .ingest(request("ds", duplicate, None))
        .await
        .expect_err("duplicate");
    // Found while streaming, at the second record, naming the first.
    assert!(matches!(error, StoreError::Vcf(_)), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("duplicate.vcf:6: ALT: allele 1:100 A>G"),
        "{message}"
    );
    assert!(message.contains("line 5"), "{message}");
    assert_eq!(row_count(store, "analyses").await, 0);
    assert_eq!(row_count(store, "variants").await, 0);
}

#[tokio::test]
async fn unknown_datasets_and_files_of_another_assembly_are_refused() {
    let database = fresh_database().await;
    let store = &database.store;
    let error = store
        .ingest(request("nosuch", data("small.vcf"), None))
        .await
        .expect_err("unknown");
    assert!(matches!(error, StoreError::UnknownDataset(ref id) if id == "nosuch"));
    store
        .create_dataset(&NewDataset {
            id: "old".into(),
            name: "old".into(),
            assembly: Assembly::Grch37,
            anonymous_max: Granularity::Boolean,
        })
        .await
        .expect("create");
    // small.vcf declares GRCh38 contig lengths.
    let error = store
        .ingest(request("old", data("small.vcf"), None))
        .await
        .expect_err("wrong assembly");
    assert!(error.to_string().contains("GRCh37"), "{error}");
    assert_eq!(row_count(store, "analyses").await, 0);
}

#[tokio::test]
async fn a_male_homozygous_call_outside_the_pars_counts_one_copy() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let directory = tempfile::tempdir().expect("tempdir");
    // chrX:5,000,000 is outside PAR1; chrX:100,000 is inside it. M is male, W female.
    let vcf = genotype_vcf(
        directory.path(),
        "x.vcf",
        CHRX,
        &["M", "W"],
        "X\t100000\t.\tA\tG\t.\tPASS\t.\tGT\t1/1\t0/1\n\
         X\t5000000\t.\tA\tG\t.\tPASS\t.\tGT\t1/1\t0/1\n\
         X\t6000000\t.\tC\tT\t.\tPASS\t.\tGT\t0/0\t0/1\n",
    );
    let manifest = Manifest::from_json(
        r#"{"samples":[
            {"sample":"M","biosampleId":"BM","individualId":"IM","sex":"male","researchConsent":true},
            {"sample":"W","biosampleId":"BW","individualId":"IW","sex":"female","researchConsent":true}]}"#,
    )
    .expect("manifest");
    store
        .ingest(request("ds", vcf, Some(manifest)))
        .await
        .expect("ingest");
    // Inside PAR1 the male is diploid: AC 2 + 1, AN 4, hom 1, het 1.
    assert_eq!(
        counts(store, "ds", "all", "Total", ("X", 99999, "A", "G")).await,
        Some((3, 4, 1, 1, 0))
    );
    // Outside, his 0/0 is one reference copy too: AC 1 (W), AN 1 + 2.
    assert_eq!(
        counts(store, "ds", "all", "Total", ("X", 5999999, "C", "T")).await,
        Some((1, 3, 0, 1, 0))
    );
    // Outside: his 1/1 is one copy: AC 1 + 1, AN 1 + 2, hemi 1, het 1.
    assert_eq!(
        counts(store, "ds", "all", "Total", ("X", 4999999, "A", "G")).await,
        Some((2, 3, 0, 1, 1))
    );
}

const X_SNV: (&str, i64, &str, &str) = ("X", 4999999, "G", "A");

#[tokio::test]
async fn an_objection_and_its_withdrawal_move_a_patient_out_of_and_into_research_counts() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    store
        .ingest(request("ds", data("small.vcf"), Some(small_manifest())))
        .await
        .expect("ingest");
    // X:5,000,000 G>A: S1 0/1, S2 1 (male, hemizygous), S3 1/1 (objected at ingest), S4 0.
    assert_eq!(
        counts(store, "ds", "research", "Total", X_SNV).await,
        Some((2, 4, 0, 1, 1))
    );

    let change = store.set_research_consent("IND-S2", false).await.expect("oppose");
    assert_eq!(change.datasets, vec!["ds".to_owned()]);
    // S2's hemizygous copy and called allele leave: AC 1, AN 3.
    assert_eq!(
        counts(store, "ds", "research", "Total", X_SNV).await,
        Some((1, 3, 0, 1, 0))
    );
    // Populations follow: research M is S4 alone (haploid 0).
    assert_eq!(
        counts(store, "ds", "research", "M", X_SNV).await,
        Some((0, 1, 0, 0, 0))
    );
    // Care answers still see everyone.
    assert_eq!(
        counts(store, "ds", "all", "Total", X_SNV).await,
        Some((4, 6, 1, 1, 1))
    );

    store
        .set_research_consent("IND-S3", true)
        .await
        .expect("withdraw objection");
    // S3's 1/1 comes back: AC 1 + 2, AN 3 + 2, hom 1.
    assert_eq!(
        counts(store, "ds", "research", "Total", X_SNV).await,
        Some((3, 5, 1, 1, 0))
    );
    let again = store.set_research_consent("IND-S3", true).await.expect("no-op");
    assert!(again.datasets.is_empty());
    store
        .set_research_consent("IND-S2", true)
        .await
        .expect("withdraw");
    // Everyone consents now: research equals care for every allele.
    let differing: i64 = sqlx::query(
        "SELECT count(*) AS rows FROM variant_counts WHERE
            (allele_count, allele_number, homozygous, heterozygous, hemizygous) <>
            (research_allele_count, research_allele_number, research_homozygous, research_heterozygous, research_hemizygous)",
    )
    .fetch_one(store.pool())
    .await
    .expect("compare")
    .get("rows");
    assert_eq!(differing, 0);
    let unknown = store
        .set_research_consent("IND-NOBODY", false)
        .await
        .expect_err("unknown");
    assert!(matches!(unknown, StoreError::UnknownIndividual(_)));
}

#[tokio::test]
async fn a_reanalysis_supersedes_the_earlier_analysis_of_the_biosample_in_every_count() {
    reanalysis_supersedes_the_earlier_analysis(INGEST_BATCH_ALLELES).await;
}

#[tokio::test]
async fn a_reanalysis_supersedes_an_analysis_stored_one_allele_per_batch() {
    reanalysis_supersedes_the_earlier_analysis(1).await;
}

/// Both analyses stored in batches of `batch_alleles`: supersession reads the earlier one's
/// carrier sets from analysis_variants, as the batches wrote them.
async fn reanalysis_supersedes_the_earlier_analysis(batch_alleles: usize) {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    store
        .ingest(IngestRequest {
            batch_alleles,
            ..request("ds", data("small.vcf"), Some(small_manifest()))
        })
        .await
        .expect("first analysis");
    let directory = tempfile::tempdir().expect("tempdir");
    // BS-S1 sequenced again: now 1/1 at X:5,000,000, and nothing at 1:1000.
    let vcf = genotype_vcf(
        directory.path(),
        "reanalysis.vcf",
        CHRX,
        &["S1_v2"],
        "X\t5000000\t.\tG\tA\t.\tPASS\t.\tGT\t1/1\n",
    );
    let manifest = Manifest::from_json(
        r#"{"samples":[{"sample":"S1_v2","biosampleId":"BS-S1","individualId":"IND-S1","sex":"female",
            "country":"FR","researchConsent":true}]}"#,
    )
    .expect("manifest");
    let outcome = store
        .ingest(IngestRequest {
            batch_alleles,
            ..request("ds", vcf, Some(manifest))
        })
        .await
        .expect("reanalysis");
    let IngestOutcome::Ingested(summary) = outcome else {
        panic!("should ingest")
    };
    assert_eq!(summary.superseded_samples, 1);
    // X:5,000,000: S1's old 0/1 (AC 1, AN 2) out, her new 1/1 (AC 2, AN 2) in:
    // (4, 6, hom 1, het 1, hemi 1) → (5, 6, hom 2, het 0, hemi 1).
    assert_eq!(
        counts(store, "ds", "all", "Total", X_SNV).await,
        Some((5, 6, 2, 0, 1))
    );
    // 1:1000 A>G: S1's old het leaves; nothing replaces it: (4, 8, 1, 2, 0) → (3, 6, 1, 1, 0).
    assert_eq!(
        counts(store, "ds", "all", "Total", ("1", 999, "A", "G")).await,
        Some((3, 6, 1, 1, 0))
    );
    // Research (S3 objected): (2, 4, 0, 1, 1) → S1 0/1 out, 1/1 in → (3, 4, 1, 0, 1).
    assert_eq!(
        counts(store, "ds", "research", "Total", X_SNV).await,
        Some((3, 4, 1, 0, 1))
    );
    // Population counts skip the superseded column too: F at 1:1000 is S3 alone (0/0).
    assert_eq!(
        counts(store, "ds", "all", "F", ("1", 999, "A", "G")).await,
        Some((0, 2, 0, 0, 0))
    );
    let analyses = store.analyses("ds").await.expect("analyses");
    assert_eq!(analyses.len(), 2);
    assert_eq!(
        (analyses[0].superseded_samples, analyses[1].superseded_samples),
        (1, 0)
    );
}

#[tokio::test]
async fn a_manifest_that_changes_consent_updates_the_patients_earlier_analyses() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    store
        .ingest(request("ds", data("small.vcf"), Some(small_manifest())))
        .await
        .expect("first");
    // chr_prefixed.vcf's C1 is another biosample of IND-S3, who now consents.
    let manifest = Manifest::from_json(
        r#"{"samples":[
            {"sample":"C1","biosampleId":"BS-C1","individualId":"IND-S3","sex":"female","researchConsent":true},
            {"sample":"C2","biosampleId":"BS-C2","individualId":"IND-C2","sex":"male","researchConsent":true},
            {"sample":"C3","biosampleId":"BS-C3","individualId":"IND-C3","sex":"female","researchConsent":true}]}"#,
    )
    .expect("manifest");
    store
        .ingest(request("ds", data("chr_prefixed.vcf"), Some(manifest)))
        .await
        .expect("second");
    // Everyone consents now, so research equals care everywhere; X:5,000,000 sums both files:
    // (4, 6, 1, 1, 1) + (2, 5, 0, 1, 1).
    assert_eq!(
        counts(store, "ds", "research", "Total", X_SNV).await,
        Some((6, 11, 1, 2, 2))
    );
    assert_eq!(
        counts(store, "ds", "all", "Total", X_SNV).await,
        Some((6, 11, 1, 2, 2))
    );
}

/// A mitochondrial reference (16,569 bases, the same in GRCh37 and GRCh38) with a CA repeat:
/// `TCACACACAG` at 0-based 100..110, `AGT` repeated elsewhere.
fn mitochondrial_reference(directory: &Path) -> PathBuf {
    write_mitochondrial_fasta(directory, "mt.fa", |bases| {
        bases[100..110].copy_from_slice(b"TCACACACAG");
    })
}

/// `AGT` repeated over the 16,569 bases of MT, edited by `edit`, written as `name` (60 bases a
/// line) with its index.
fn write_mitochondrial_fasta(directory: &Path, name: &str, edit: impl FnOnce(&mut [u8])) -> PathBuf {
    let mut bases: Vec<u8> = b"AGT".iter().copied().cycle().take(16_569).collect();
    edit(&mut bases);
    let mut fasta = String::from(">MT\n");
    for line in bases.chunks(60) {
        fasta.push_str(std::str::from_utf8(line).expect("ascii"));
        fasta.push('\n');
    }
    let path = directory.join(name);
    std::fs::write(&path, fasta).expect("fasta");
    std::fs::write(directory.join(format!("{name}.fai")), "MT\t16569\t4\t60\t61\n").expect("fai");
    path
}

fn mitochondrial_vcf(directory: &Path, name: &str, record: &str) -> PathBuf {
    genotype_vcf(directory, name, ("MT", 16_569), &["A"], &format!("{record}\n"))
}

#[tokio::test]
async fn with_a_reference_genome_one_indel_written_two_ways_is_one_variant() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let directory = tempfile::tempdir().expect("tempdir");
    let fasta = mitochondrial_reference(directory.path());
    // The same CA deletion at the right end (POS 107 ACA>A) and the left end (POS 101 TCA>T) of
    // the repeat; `bcftools norm -f` moves the first to the second (checked by hand).
    let right = mitochondrial_vcf(
        directory.path(),
        "right.vcf",
        "MT\t107\t.\tACA\tA\t.\tPASS\t.\tGT\t1",
    );
    let left = mitochondrial_vcf(
        directory.path(),
        "left.vcf",
        "MT\t101\t.\tTCA\tT\t.\tPASS\t.\tGT\t1",
    );
    for file in [right, left] {
        let mut with_reference = request("ds", file, None);
        with_reference.reference_fasta = Some(fasta.clone());
        store.ingest(with_reference).await.expect("ingest");
    }
    assert_eq!(row_count(store, "variants").await, 1);
    assert_eq!(
        counts(store, "ds", "all", "Total", ("MT", 100, "TCA", "T")).await,
        Some((2, 2, 0, 0, 2))
    );
    // A REF that disagrees with the genome is refused, naming the place.
    let wrong = mitochondrial_vcf(
        directory.path(),
        "wrong.vcf",
        "MT\t107\t.\tGCA\tG\t.\tPASS\t.\tGT\t1",
    );
    let mut with_reference = request("ds", wrong, None);
    with_reference.reference_fasta = Some(fasta);
    let error = store.ingest(with_reference).await.expect_err("mismatch");
    assert!(error.to_string().contains("mismatch"), "{error}");
    assert!(error.to_string().contains("wrong.vcf:5"), "{error}");
}

/// The rows of a hand-worked table in tests/data/expected, header left out.
fn expected_rows(name: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(data("expected").join(name))
        .expect("read expected rows")
        .lines()
        .skip(1)
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn batch_boundaries_anywhere_store_the_hand_worked_counts_and_carriers() {
    let database = fresh_database().await;
    let store = &database.store;
    let alleles = expected_rows("small.tsv");
    assert_eq!(alleles.len(), 15);
    let mut expected_carriers: Vec<Vec<String>> = expected_rows("small.carriers.tsv");
    expected_carriers.sort();
    // 15 and 5 end a batch exactly at the file's last allele (and 5 twice before it), 14 leaves
    // one allele for a second batch, 16 is one batch with room to spare, 1 is one allele each.
    for batch_alleles in [1, 5, 14, 15, 16] {
        let id = format!("ds{batch_alleles}");
        dataset(store, &id).await;
        let outcome = store
            .ingest(IngestRequest {
                batch_alleles,
                ..request(&id, data("small.vcf"), Some(small_manifest()))
            })
            .await
            .expect("ingest");
        let IngestOutcome::Ingested(summary) = outcome else {
            panic!("should ingest")
        };
        assert_eq!(summary.alleles_stored, 15, "batches of {batch_alleles}");
        // The dictionary is shared by the datasets: only the first ingest adds to it.
        let first = batch_alleles == 1;
        assert_eq!(
            summary.new_variants,
            if first { 15 } else { 0 },
            "batches of {batch_alleles}"
        );
        let mut stored_carriers = Vec::new();
        for row in &alleles {
            let start: i64 = row[1].parse().expect("start");
            let allele = (row[0].as_str(), start, row[2].as_str(), row[3].as_str());
            let numbers: Vec<i64> = row[4..9]
                .iter()
                .map(|value| value.parse().expect("count"))
                .collect();
            assert_eq!(
                counts(store, &id, "all", "Total", allele).await,
                Some((numbers[0], numbers[1], numbers[2], numbers[3], numbers[4])),
                "batches of {batch_alleles}: {row:?}"
            );
            let variant_id: i64 = sqlx::query(
                "SELECT id FROM variants WHERE contig = $1 AND start = $2 AND reference = $3 AND alternate = $4",
            )
            .bind(&row[0])
            .bind(start)
            .bind(&row[2])
            .bind(&row[3])
            .fetch_one(store.pool())
            .await
            .expect("variant")
            .get("id");
            let carriers = store
                .carriers(&id, &[variant_id], &ColumnQuery::default())
                .await
                .expect("carriers")
                .remove(&variant_id)
                .unwrap_or_default();
            for carrier in carriers {
                let zygosity = match carrier.zygosity {
                    Zygosity::Heterozygous => "het",
                    Zygosity::Homozygous => "hom",
                    Zygosity::Hemizygous => "hemi",
                };
                let mut stored = row[0..4].to_vec();
                stored.push(carrier.column.sample_name);
                stored.push(zygosity.to_owned());
                stored_carriers.push(stored);
            }
        }
        stored_carriers.sort();
        assert_eq!(stored_carriers, expected_carriers, "batches of {batch_alleles}");
    }
    assert_eq!(row_count(store, "variants").await, 15);
    assert_eq!(row_count(store, "analysis_variants").await, 5 * 15);
}

/// A mitochondrial reference whose bases 100..12,200 (0-based) are all A, after a C at 99:
/// deleting one A anywhere in the run is one allele, CA>C at 99 once left-aligned, which an
/// indel at the run's right end reaches from 12 kb away, beyond the reader's repeat window.
fn poly_a_reference(directory: &Path) -> PathBuf {
    write_mitochondrial_fasta(directory, "poly_a.fa", |bases| {
        bases[99] = b'C';
        bases[100..12_200].fill(b'A');
    })
}

#[tokio::test]
async fn one_allele_in_two_batches_is_refused_and_nothing_is_stored() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let directory = tempfile::tempdir().expect("tempdir");
    let fasta = poly_a_reference(directory.path());
    // The first and last records delete one A of the run (POS 100 CA>C, POS 12199 AA>A).
    let far_apart = mitochondrial_vcf(
        directory.path(),
        "far_apart.vcf",
        "MT\t100\t.\tCA\tC\t.\tPASS\t.\tGT\t1\n\
         MT\t5000\t.\tA\tG\t.\tPASS\t.\tGT\t1\n\
         MT\t12199\t.\tAA\tA\t.\tPASS\t.\tGT\t1",
    );
    // Batches of 2: the repeat is in the second batch; the default: both in one batch.
    for batch_alleles in [2, INGEST_BATCH_ALLELES] {
        let error = store
            .ingest(IngestRequest {
                batch_alleles,
                reference_fasta: Some(fasta.clone()),
                ..request("ds", far_apart.clone(), None)
            })
            .await
            .expect_err("the same allele twice");
        assert!(error.is_input_error(), "{error}");
        let message = error.to_string();
        assert!(message.contains("far_apart.vcf"), "{message}");
        assert!(
            message.contains("the same normalised allele in two records"),
            "{message}"
        );
        assert_nothing_stored(store).await;
    }
}

#[tokio::test]
async fn a_bad_record_in_a_later_batch_leaves_the_earlier_batches_unstored() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let directory = tempfile::tempdir().expect("tempdir");
    // 22 good records, then a bad one: batches of 10 store two batches before the third fails.
    let mut records = good_records(22);
    records.push_str("1\t300\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/5\n");
    records.push_str("1\t310\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/1\n");
    let bad = genotype_vcf(
        directory.path(),
        "bad_in_batch_3.vcf",
        CHR1,
        &["A", "B"],
        &records,
    );
    let error = store
        .ingest(IngestRequest {
            batch_alleles: 10,
            ..request("ds", bad, None)
        })
        .await
        .expect_err("must fail");
    // 4 header lines and 22 good records: the bad one is line 27.
    let message = error.to_string();
    assert!(message.contains("bad_in_batch_3.vcf:27"), "{message}");
    assert!(error.is_input_error());
    assert_nothing_stored(store).await;
    // The dataset takes a good file afterwards, in the same batches.
    store
        .ingest(IngestRequest {
            batch_alleles: 10,
            ..request("ds", data("small.vcf"), None)
        })
        .await
        .expect("good file after a bad one");
    assert_eq!(row_count(store, "analysis_variants").await, 15);
}
