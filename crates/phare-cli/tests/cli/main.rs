//! The real `phare` binary against a real PostgreSQL (a fresh database per test): dataset
//! creation, ingestion of the hand-worked fixtures of `tests/data/` (counts checked in the
//! database against `expected/*.tsv`, never against Phare's own output), atomicity on bad input,
//! configuration errors and migrations.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

mod access;
mod cohort;
mod compaction;
mod federation;
mod operations;
mod submit;

use phare_domain::Assembly;
use phare_store::testing::{TestDatabase, fresh_database};
use sqlx::{PgPool, Row};

/// An HTTP client for the tests: the workspace builds reqwest's rustls without a default
/// crypto provider (as `phare submit` does), so ring is installed first.
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn data(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name);
    std::fs::canonicalize(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// One finished run of the binary.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl fmt::Display for Run {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A database of its own and a data directory: what one `phare` node needs.
struct Node {
    database: TestDatabase,
    dir: tempfile::TempDir,
}

impl Node {
    async fn new() -> Self {
        Self {
            database: fresh_database().await,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn pool(&self) -> &PgPool {
        self.database.store.pool()
    }

    async fn phare(&self, args: &[&str]) -> Run {
        self.phare_with(args, &[]).await
    }

    /// Runs `phare ARGS` with this node's database and data directory, plus `extra` variables.
    async fn phare_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Run {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_phare"));
        // Only this node's configuration: PHARE_TEST_DATABASE_URL stays (config ignores it).
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("PHARE_") && key != "PHARE_TEST_DATABASE_URL" {
                command.env_remove(key);
            }
        }
        command
            .args(args)
            .env("PHARE_DATABASE_URL", &self.database.url)
            .env("PHARE_DATA_DIR", self.dir.path())
            // The account administrative audit rows name.
            .env("USER", "operator-test")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        for (key, value) in extra {
            command.env(key, value);
        }
        let output = command.output().await.unwrap();
        let run = Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert!(!run.stderr.contains("panicked"), "phare {args:?} panicked: {run}");
        run
    }

    /// Runs `phare ARGS` and insists it succeeds.
    async fn ok(&self, args: &[&str]) -> Run {
        let run = self.phare(args).await;
        assert!(run.success(), "phare {args:?}: {run}");
        run
    }

    async fn create_dataset(&self, id: &str) {
        let run = self
            .phare(&[
                "dataset",
                "create",
                id,
                "--assembly",
                "GRCh38",
                "--anonymous-max",
                "record",
            ])
            .await;
        assert!(run.success(), "dataset create {id}: {run}");
    }

    async fn ingest(&self, dataset: &str, file: &Path, manifest: Option<&Path>) -> Run {
        let file = file.to_str().unwrap();
        let mut args = vec!["ingest", "--dataset", dataset];
        if let Some(manifest) = manifest {
            args.extend(["--manifest", manifest.to_str().unwrap()]);
        }
        args.push(file);
        self.phare(&args).await
    }
}

// ---------------------------------------------------------------------------------------------
// Independent expectations: the hand-worked TSVs, and the GT columns of the VCF read as text.

/// `contig start0 ref alt ac an hom het hemi`, contig canonicalised.
type CountRow = (String, i64, String, String, i64, i64, i64, i64, i64);
/// `contig start0 ref alt`, contig canonicalised.
type AlleleKey = (String, i64, String, String);

fn canonical(contig: &str) -> String {
    Assembly::Grch38
        .contig(contig)
        .unwrap_or_else(|| panic!("unknown contig `{contig}`"))
        .name()
        .to_owned()
}

fn tsv_rows(name: &str, columns: usize) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(data(name)).unwrap();
    let mut lines = text.lines().filter(|line| !line.trim().is_empty());
    let header = lines.next().unwrap();
    assert_eq!(header.split('\t').count(), columns, "{name}: {header}");
    let rows: Vec<Vec<String>> = lines
        .map(|line| line.split('\t').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(rows.iter().all(|row| row.len() == columns), "{name}");
    assert!(!rows.is_empty(), "{name} is empty");
    rows
}

fn expected_counts(name: &str) -> BTreeSet<CountRow> {
    tsv_rows(name, 9)
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
        .collect()
}

/// (allele, sample, zygosity) rows of a carriers TSV.
fn expected_carriers(name: &str) -> Vec<(AlleleKey, String, String)> {
    tsv_rows(name, 6)
        .into_iter()
        .map(|f| {
            (
                (
                    canonical(&f[0]),
                    f[1].parse().unwrap(),
                    f[2].clone(),
                    f[3].clone(),
                ),
                f[4].clone(),
                f[5].clone(),
            )
        })
        .collect()
}

fn key_of(row: &CountRow) -> AlleleKey {
    (row.0.clone(), row.1, row.2.clone(), row.3.clone())
}

/// A record of a fixture VCF as plain text: where its REF lies and how many alleles each sample
/// has called (`0/1` 2, `./1` 1, `./.` 0, `1` 1, `.` 0).
struct TextRecord {
    contig: String,
    start0: i64,
    reference_length: i64,
    kept: bool,
    called: Vec<i64>,
}

fn text_records(name: &str) -> (Vec<String>, Vec<TextRecord>) {
    let text = std::fs::read_to_string(data(name)).unwrap();
    let header = text.lines().find(|line| line.starts_with("#CHROM")).unwrap();
    let samples: Vec<String> = header.split('\t').skip(9).map(str::to_owned).collect();
    let records = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 9 + samples.len(), "{line}");
            assert_eq!(fields[8].split(':').next(), Some("GT"), "{line}");
            let called = fields[9..]
                .iter()
                .map(|column| {
                    let genotype = column.split(':').next().unwrap();
                    genotype.split(['/', '|']).filter(|allele| *allele != ".").count() as i64
                })
                .collect();
            TextRecord {
                contig: canonical(fields[0]),
                start0: fields[1].parse::<i64>().unwrap() - 1,
                reference_length: fields[3].len() as i64,
                kept: matches!(fields[6], "PASS" | "."),
                called,
            }
        })
        .collect();
    (samples, records)
}

/// The counts of `tsv`'s alleles over the samples in `members` only: AN from the called
/// alleles of the record the allele comes from (its normalised start lies in the record's REF),
/// hom/het/hemi from the carriers file, AC = 2·hom + het + hemi (README definitions).
/// Rows with neither a call nor a copy in the stratum are not expected (nothing to count).
fn expected_stratum(
    vcf: &str,
    tsv: &str,
    carriers_tsv: &str,
    members: &BTreeSet<String>,
) -> BTreeSet<CountRow> {
    let (samples, records) = text_records(vcf);
    let carriers = expected_carriers(carriers_tsv);
    let mut rows = BTreeSet::new();
    for row in expected_counts(tsv) {
        let key = key_of(&row);
        let sources: Vec<&TextRecord> = records
            .iter()
            .filter(|record| {
                record.kept
                    && record.contig == key.0
                    && record.start0 <= key.1
                    && key.1 < record.start0 + record.reference_length
            })
            .collect();
        assert_eq!(sources.len(), 1, "record of {key:?}");
        let allele_number: i64 = samples
            .iter()
            .zip(&sources[0].called)
            .filter(|(sample, _)| members.contains(*sample))
            .map(|(_, called)| called)
            .sum();
        let zygosity_count = |wanted: &str| {
            carriers
                .iter()
                .filter(|(allele, sample, zygosity)| {
                    *allele == key && zygosity == wanted && members.contains(sample)
                })
                .count() as i64
        };
        let (hom, het, hemi) = (
            zygosity_count("hom"),
            zygosity_count("het"),
            zygosity_count("hemi"),
        );
        let allele_count = 2 * hom + het + hemi;
        if allele_number == 0 && allele_count == 0 {
            continue;
        }
        rows.insert((
            key.0,
            key.1,
            key.2,
            key.3,
            allele_count,
            allele_number,
            hom,
            het,
            hemi,
        ));
    }
    rows
}

/// Sample name, sex and research consent, as the manifest file states them.
fn manifest_samples(name: &str) -> Vec<(String, String, bool)> {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data(name)).unwrap()).unwrap();
    manifest["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["sample"].as_str().unwrap().to_owned(),
                entry["sex"].as_str().unwrap().to_owned(),
                entry["researchConsent"].as_bool().unwrap(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What the database holds.

/// `Total` rows as kept at ingest; other populations as answers compute them, from the
/// carrier sets of every variant of the dataset.
async fn stored_counts(pool: &PgPool, dataset: &str, scope: &str, stratum: &str) -> BTreeSet<CountRow> {
    if stratum != "Total" {
        let store = phare_store::Store::from_pool(pool.clone());
        let variants: Vec<(i64, String, i64, String, String)> = sqlx::query(
            "SELECT DISTINCT v.id, v.contig, v.start, v.reference, v.alternate
             FROM variants v JOIN variant_counts c ON c.variant_id = v.id WHERE c.dataset_id = $1",
        )
        .bind(dataset)
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
        .collect();
        let ids: Vec<i64> = variants.iter().map(|variant| variant.0).collect();
        let populations = store.population_counts(dataset, scope, &ids).await.unwrap();
        return variants
            .into_iter()
            .filter_map(|(id, contig, start, reference, alternate)| {
                let counts = populations
                    .get(&id)?
                    .iter()
                    .find(|counts| counts.stratum == stratum)?;
                Some((
                    contig,
                    start,
                    reference,
                    alternate,
                    counts.allele_count,
                    counts.allele_number,
                    counts.homozygous.unwrap_or(-1),
                    counts.heterozygous.unwrap_or(-1),
                    counts.hemizygous.unwrap_or(-1),
                ))
            })
            .collect();
    }
    let prefix = if scope == "research" { "research_" } else { "" };
    sqlx::query(
        "SELECT v.contig, v.start, v.reference, v.alternate, c.*
         FROM variant_counts c JOIN variants v ON v.id = c.variant_id
         WHERE c.dataset_id = $1",
    )
    .bind(dataset)
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|row| {
        let column = |name: &str| -> i64 { row.get(format!("{prefix}{name}").as_str()) };
        (
            row.get(0),
            row.get(1),
            row.get(2),
            row.get(3),
            column("allele_count"),
            column("allele_number"),
            column("homozygous"),
            column("heterozygous"),
            column("hemizygous"),
        )
    })
    .collect()
}

async fn has_tables(pool: &PgPool) -> bool {
    sqlx::query("SELECT to_regclass('public.variant_counts') IS NOT NULL")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0)
}

async fn count_rows(pool: &PgPool, table: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0)
}

/// Row counts of every table an ingest writes, and the sums an ingest would increment.
async fn snapshot(pool: &PgPool) -> Vec<(String, i64)> {
    let mut state = Vec::new();
    for table in [
        "datasets",
        "individuals",
        "biosamples",
        "analyses",
        "analysis_samples",
        "variants",
        "contig_spans",
        "analysis_variants",
        "variant_counts",
    ] {
        state.push((table.to_owned(), count_rows(pool, table).await));
    }
    let sums = sqlx::query(
        "SELECT coalesce(sum(allele_count), 0)::bigint, coalesce(sum(allele_number), 0)::bigint,
                coalesce(sum(homozygous + heterozygous + hemizygous), 0)::bigint
         FROM variant_counts",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    state.push(("sum(allele_count)".into(), sums.get(0)));
    state.push(("sum(allele_number)".into(), sums.get(1)));
    state.push(("sum(carriers)".into(), sums.get(2)));
    state
}

fn assert_same(what: &str, actual: &BTreeSet<CountRow>, expected: &BTreeSet<CountRow>) {
    let missing: Vec<&CountRow> = expected.difference(actual).collect();
    let unexpected: Vec<&CountRow> = actual.difference(expected).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{what}: missing {missing:#?}\nunexpected {unexpected:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Datasets.

#[tokio::test]
async fn dataset_create_checks_its_arguments() {
    let node = Node::new().await;
    let created = node
        .phare(&[
            "dataset",
            "create",
            "ds1",
            "--assembly",
            "GRCh38",
            "--anonymous-max",
            "record",
        ])
        .await;
    assert!(created.success(), "{created}");
    assert!(created.stdout.contains("ds1"), "{created}");

    let again = node
        .phare(&[
            "dataset",
            "create",
            "ds1",
            "--assembly",
            "GRCh38",
            "--anonymous-max",
            "record",
        ])
        .await;
    assert!(!again.success(), "{again}");
    assert!(
        again.stderr.contains("ds1") && again.stderr.contains("already exists"),
        "{again}"
    );

    let assembly = node
        .phare(&[
            "dataset",
            "create",
            "ds2",
            "--assembly",
            "hg17",
            "--anonymous-max",
            "record",
        ])
        .await;
    assert!(!assembly.success(), "{assembly}");
    assert!(assembly.stderr.contains("hg17"), "{assembly}");
    assert!(assembly.stderr.contains("--assembly"), "{assembly}");

    let granularity = node
        .phare(&[
            "dataset",
            "create",
            "ds3",
            "--assembly",
            "GRCh38",
            "--anonymous-max",
            "all",
        ])
        .await;
    assert!(!granularity.success(), "{granularity}");
    assert!(granularity.stderr.contains("`all`"), "{granularity}");
    assert!(granularity.stderr.contains("--anonymous-max"), "{granularity}");

    for bad_id in ["bad id!", "_leading", ""] {
        let invalid = node.phare(&["dataset", "create", bad_id]).await;
        assert!(!invalid.success(), "id {bad_id:?}: {invalid}");
        assert!(invalid.stderr.contains(&format!("`{bad_id}`")), "{invalid}");
    }

    // Only the first creation left a row, with the values asked for.
    let rows: Vec<(String, String, String)> =
        sqlx::query("SELECT id, assembly, anonymous_max FROM datasets ORDER BY id")
            .fetch_all(node.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect();
    assert_eq!(
        rows,
        [("ds1".to_owned(), "GRCh38".to_owned(), "record".to_owned())]
    );

    let listed = node.phare(&["dataset", "list"]).await;
    assert!(listed.success(), "{listed}");
    let line = listed
        .stdout
        .lines()
        .find(|line| line.starts_with("ds1 "))
        .unwrap_or_else(|| panic!("ds1 not listed: {listed}"));
    assert!(line.contains("GRCh38") && line.contains("record"), "{line}");
}

// ---------------------------------------------------------------------------------------------
// Ingestion of the hand-worked fixtures.

#[tokio::test]
async fn ingest_stores_the_hand_counts_and_is_idempotent() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    let expected = expected_counts("expected/small.tsv");
    let (_, records) = text_records("small.vcf");

    let run = node.ingest("ds1", &data("small.vcf"), None).await;
    assert!(run.success(), "{run}");
    // The summary: 4 samples, 13 records, one stored allele per expected row, LowQual skipped.
    let summary = run.stdout.trim_end();
    assert_eq!(summary.lines().count(), 1, "{run}");
    for part in [
        "ingested into ds1".to_owned(),
        "4 samples".to_owned(),
        format!("{} records", records.len()),
        format!("{} alleles stored", expected.len()),
        format!("({} new variants)", expected.len()),
        "1 filtered records".to_owned(),
    ] {
        assert!(summary.contains(&part), "`{part}` not in: {run}");
    }

    let total = stored_counts(node.pool(), "ds1", "all", "Total").await;
    assert_same("all/Total", &total, &expected);
    // Without a manifest the operator's publication stands for consent: research = all.
    let research = stored_counts(node.pool(), "ds1", "research", "Total").await;
    assert_same("research/Total", &research, &expected);
    let rows: i64 = sqlx::query("SELECT count(*) FROM variant_counts")
        .fetch_one(node.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        rows,
        expected.len() as i64,
        "one count row per variant of the dataset"
    );

    let analysis = sqlx::query("SELECT sample_count, record_count, allele_count FROM analyses")
        .fetch_all(node.pool())
        .await
        .unwrap();
    assert_eq!(analysis.len(), 1);
    assert_eq!(analysis[0].get::<i32, _>(0), 4);
    assert_eq!(analysis[0].get::<i64, _>(1), records.len() as i64);
    assert_eq!(analysis[0].get::<i64, _>(2), expected.len() as i64);
    assert_eq!(
        count_rows(node.pool(), "analysis_variants").await,
        expected.len() as i64
    );
    assert_eq!(count_rows(node.pool(), "variants").await, expected.len() as i64);

    let before = snapshot(node.pool()).await;
    let again = node.ingest("ds1", &data("small.vcf"), None).await;
    assert!(again.success(), "{again}");
    assert!(again.stdout.contains("already ingested"), "{again}");
    assert_eq!(count_rows(node.pool(), "analyses").await, 1);
    assert_eq!(snapshot(node.pool()).await, before);
}

#[tokio::test]
async fn include_filtered_also_stores_the_lowqual_record() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    let path = data("small.vcf");
    let run = node
        .phare(&[
            "ingest",
            "--dataset",
            "ds1",
            "--include-filtered",
            path.to_str().unwrap(),
        ])
        .await;
    assert!(run.success(), "{run}");
    assert!(run.stdout.contains("0 filtered records"), "{run}");
    // README record 7, `1 7000 G C LowQual`, GT 0/1 0/1 1/1 0/0: AC 4, AN 8, hom S3, het S1 S2.
    let mut expected = expected_counts("expected/small.tsv");
    assert!(expected.insert((
        "1".to_owned(),
        6999,
        "G".to_owned(),
        "C".to_owned(),
        4,
        8,
        1,
        2,
        0
    )));
    let total = stored_counts(node.pool(), "ds1", "all", "Total").await;
    assert_same("all/Total with filtered records", &total, &expected);
}

#[tokio::test]
async fn grch37_dataset_refuses_a_grch38_file() {
    let node = Node::new().await;
    let run = node
        .phare(&["dataset", "create", "ds37", "--assembly", "GRCh37"])
        .await;
    assert!(run.success(), "{run}");
    let before = snapshot(node.pool()).await;
    let path = data("small.vcf");
    let run = node.ingest("ds37", &path, None).await;
    assert!(!run.success(), "{run}");
    // small.vcf declares chromosome 1 with GRCh38's 248,956,422 bases; GRCh37's has 249,250,621.
    for word in [path.display().to_string(), "248956422".into(), "249250621".into()] {
        assert!(run.stderr.contains(&word), "`{word}` not in: {run}");
    }
    assert_eq!(snapshot(node.pool()).await, before);
}

#[tokio::test]
async fn every_container_gives_the_same_counts() {
    let node = Node::new().await;
    let expected = expected_counts("expected/small.tsv");
    for (dataset, file, format) in [
        ("bgzf", "small.vcf.gz", "VcfBgzf"),
        ("gzip", "small.vcf.plain.gz", "VcfGzip"),
        ("bcf", "small.bcf", "Bcf"),
    ] {
        node.create_dataset(dataset).await;
        let run = node.ingest(dataset, &data(file), None).await;
        assert!(run.success(), "{file}: {run}");
        let total = stored_counts(node.pool(), dataset, "all", "Total").await;
        assert_same(&format!("{file} all/Total"), &total, &expected);
        let stored_format: String = sqlx::query("SELECT file_format FROM analyses WHERE dataset_id = $1")
            .bind(dataset)
            .fetch_one(node.pool())
            .await
            .unwrap()
            .get(0);
        assert_eq!(stored_format, format, "{file}");
    }
    // The three datasets share one variant dictionary.
    assert_eq!(count_rows(node.pool(), "variants").await, expected.len() as i64);
}

#[tokio::test]
async fn two_files_add_up_on_shared_variants() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    for file in ["small.vcf", "chr_prefixed.vcf"] {
        let run = node.ingest("ds1", &data(file), None).await;
        assert!(run.success(), "{file}: {run}");
    }
    // Sum of the two hand-worked files, allele by allele (`chr1` is `1`).
    let mut expected: Vec<CountRow> = Vec::new();
    for row in expected_counts("expected/small.tsv")
        .into_iter()
        .chain(expected_counts("expected/chr_prefixed.tsv"))
    {
        match expected.iter_mut().find(|seen| key_of(seen) == key_of(&row)) {
            Some(seen) => {
                seen.4 += row.4;
                seen.5 += row.5;
                seen.6 += row.6;
                seen.7 += row.7;
                seen.8 += row.8;
            }
            None => expected.push(row),
        }
    }
    let expected: BTreeSet<CountRow> = expected.into_iter().collect();
    let total = stored_counts(node.pool(), "ds1", "all", "Total").await;
    assert_same("small + chr_prefixed all/Total", &total, &expected);
    // The README's combined hand counts (AC / AN).
    let ac_an = |contig: &str, start: i64, reference: &str, alternate: &str| {
        total
            .iter()
            .find(|row| row.0 == contig && row.1 == start && row.2 == reference && row.3 == alternate)
            .map(|row| (row.4, row.5))
    };
    assert_eq!(ac_an("1", 999, "A", "G"), Some((7, 14)));
    assert_eq!(ac_an("1", 1999, "C", "A"), Some((4, 14)));
    assert_eq!(ac_an("1", 5000, "C", "T"), Some((2, 14)));
    assert_eq!(ac_an("X", 4999999, "G", "A"), Some((6, 11)));
    assert_eq!(count_rows(node.pool(), "variants").await, expected.len() as i64);
    assert_eq!(count_rows(node.pool(), "analyses").await, 2);
}

#[tokio::test]
async fn manifest_consent_and_sex_strata_follow_the_hand_counts() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    let run = node
        .ingest("ds1", &data("small.vcf"), Some(&data("small.manifest.json")))
        .await;
    assert!(run.success(), "{run}");
    assert!(!run.stdout.contains("warning"), "{run}");

    let people = manifest_samples("small.manifest.json");
    // README: S1, S3 female; S2, S4 male; S3 objected to research.
    assert_eq!(
        people,
        [
            ("S1".to_owned(), "female".to_owned(), true),
            ("S2".to_owned(), "male".to_owned(), true),
            ("S3".to_owned(), "female".to_owned(), false),
            ("S4".to_owned(), "male".to_owned(), true),
        ]
    );
    let members = |research: bool, sex: Option<&str>| -> BTreeSet<String> {
        people
            .iter()
            .filter(|(_, person_sex, consent)| {
                (!research || *consent) && sex.is_none_or(|sex| sex == person_sex)
            })
            .map(|(name, _, _)| name.clone())
            .collect()
    };
    let expect = |set: &BTreeSet<String>| {
        expected_stratum(
            "small.vcf",
            "expected/small.tsv",
            "expected/small.carriers.tsv",
            set,
        )
    };
    // The helper agrees with the hand-worked file over all samples.
    assert_eq!(
        expect(&members(false, None)),
        expected_counts("expected/small.tsv")
    );
    let research_total = expect(&members(true, None));
    // README: with S3 excluded, `1 5999 A ATG` (GT 1/2 1|1 0/2 ./.) has S1 alone: AC 1, AN 2+2.
    assert!(research_total.contains(&(
        "1".to_owned(),
        5999,
        "A".to_owned(),
        "ATG".to_owned(),
        1,
        4,
        0,
        1,
        0
    )));
    // And `1 2999 GTC G`, where S3 is `./.`, keeps AN 6.
    assert!(research_total.contains(&(
        "1".to_owned(),
        2999,
        "GTC".to_owned(),
        "G".to_owned(),
        3,
        6,
        1,
        1,
        0
    )));

    for (scope, research) in [("all", false), ("research", true)] {
        for (stratum, sex) in [("Total", None), ("F", Some("female")), ("M", Some("male"))] {
            let stored = stored_counts(node.pool(), "ds1", scope, stratum).await;
            assert!(!stored.is_empty(), "no {scope}/{stratum} rows");
            assert_same(
                &format!("{scope}/{stratum}"),
                &stored,
                &expect(&members(research, sex)),
            );
        }
    }

    let counted: Vec<(String, bool)> =
        sqlx::query("SELECT sample_name, counted_in_research FROM analysis_samples ORDER BY sample_index")
            .fetch_all(node.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    let from_manifest: Vec<(String, bool)> = people
        .iter()
        .map(|(name, _, consent)| (name.clone(), *consent))
        .collect();
    assert_eq!(counted, from_manifest);
    assert_eq!(count_rows(node.pool(), "individuals").await, 4);
}

// ---------------------------------------------------------------------------------------------
// Bad input leaves nothing behind.

/// Ingests `bad/FILE` after a good file: non-zero exit, stderr names the file (and
/// `file:line:` and `word` when given), and the database is exactly as before.
async fn assert_bad_file_leaves_nothing(file: &str, line: Option<u64>, word: Option<&str>) {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    // A good file first, so an aborted ingest had counts to wrongly increment.
    let good = node.ingest("ds1", &data("small.vcf"), None).await;
    assert!(good.success(), "{good}");
    let before = snapshot(node.pool()).await;

    let path = data(&format!("bad/{file}"));
    let run = node.ingest("ds1", &path, None).await;
    assert!(!run.success(), "{file} accepted: {run}");
    let shown = path.display().to_string();
    assert!(run.stderr.contains(&shown), "{file} not named: {run}");
    if let Some(line) = line {
        assert!(
            run.stderr.contains(&format!("{shown}:{line}: ")),
            "line {line} not named: {run}"
        );
    }
    if let Some(word) = word {
        assert!(run.stderr.contains(word), "`{word}` not named: {run}");
    }
    assert_eq!(
        snapshot(node.pool()).await,
        before,
        "{file} left rows behind: {run}"
    );
}

#[test]
fn every_bad_fixture_has_an_ingest_test() {
    let mut present: Vec<String> = std::fs::read_dir(data("bad"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    assert_eq!(
        present,
        [
            "allele_out_of_range.vcf",
            "binary_blob.vcf",
            "duplicate_allele.vcf",
            "duplicate_samples.vcf",
            "non_numeric_pos.vcf",
            "pos_zero.vcf",
            "too_few_columns.vcf",
            "truncated.vcf.gz",
            "truncated_header.vcf.gz",
        ]
    );
}

#[tokio::test]
async fn bad_non_numeric_pos_leaves_nothing() {
    // Line 5 is a good record (`1 1000 A G`, also in small.vcf), line 6 has POS `12x4`.
    assert_bad_file_leaves_nothing("non_numeric_pos.vcf", Some(6), Some("POS")).await;
}

#[tokio::test]
async fn bad_pos_zero_leaves_nothing() {
    assert_bad_file_leaves_nothing("pos_zero.vcf", Some(5), Some("POS")).await;
}

#[tokio::test]
async fn bad_too_few_columns_leaves_nothing() {
    assert_bad_file_leaves_nothing("too_few_columns.vcf", Some(6), None).await;
}

#[tokio::test]
async fn bad_allele_out_of_range_leaves_nothing() {
    assert_bad_file_leaves_nothing("allele_out_of_range.vcf", Some(5), Some("GT of sample S1")).await;
}

#[tokio::test]
async fn bad_duplicate_samples_leaves_nothing() {
    assert_bad_file_leaves_nothing("duplicate_samples.vcf", None, Some("S1")).await;
}

#[tokio::test]
async fn bad_duplicate_allele_leaves_nothing() {
    // Line 6 (`AC>GC` at 1000) is the allele `A>G` of line 5 once trimmed.
    assert_bad_file_leaves_nothing("duplicate_allele.vcf", Some(6), Some("1:1000 A>G")).await;
}

#[tokio::test]
async fn bad_binary_blob_leaves_nothing() {
    assert_bad_file_leaves_nothing("binary_blob.vcf", None, None).await;
}

#[tokio::test]
async fn bad_truncated_bgzf_leaves_nothing() {
    assert_bad_file_leaves_nothing("truncated.vcf.gz", None, None).await;
}

#[tokio::test]
async fn bad_truncated_header_leaves_nothing() {
    assert_bad_file_leaves_nothing("truncated_header.vcf.gz", None, None).await;
}

/// The hostile file of issue #15: a gzip of 12 MB or less that expands to 4 GiB, one VCF record
/// repeated about 97 million times. Made of 4,096 gzip members of 1 MiB each (one member
/// compressed once, written again and again), which `gzip -d` reads as one stream.
fn repeated_record_bomb(path: &Path) {
    use std::io::Write as _;
    let header = "##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n\
        #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
    let record = b"1\t1000\t.\tA\tG\t50\tPASS\t.\n";
    let gzip = |bytes: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    };
    let member = gzip(&record.repeat((1 << 20) / record.len()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    file.write_all(&gzip(header.as_bytes())).unwrap();
    for _ in 0..4096 {
        file.write_all(&member).unwrap();
    }
    file.flush().unwrap();
}

#[tokio::test]
async fn a_repeated_record_bomb_is_refused_at_its_second_record() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    let good = node.ingest("ds1", &data("small.vcf"), None).await;
    assert!(good.success(), "{good}");
    let before = snapshot(node.pool()).await;
    let bomb = node.dir.path().join("bomb.vcf.gz");
    repeated_record_bomb(&bomb);
    assert!(std::fs::metadata(&bomb).unwrap().len() <= 12 << 20);

    // A hang guard, not a measurement: reading the 4 GiB would take minutes.
    let run = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        node.ingest("ds1", &bomb, None),
    )
    .await
    .expect("the bomb is refused without reading it through");
    assert!(!run.success(), "bomb accepted: {run}");
    // The header is lines 1-3; the second record, line 5, repeats the allele of line 4.
    let shown = format!("{}:5: ALT: allele 1:1000 A>G", bomb.display());
    assert!(run.stderr.contains(&shown), "{run}");
    assert!(run.stderr.contains("line 4"), "{run}");
    assert_eq!(
        snapshot(node.pool()).await,
        before,
        "the bomb left rows behind: {run}"
    );
}

#[tokio::test]
async fn a_decompression_bomb_of_distinct_bytes_is_refused_by_the_ratio_guard() {
    use std::io::Write as _;
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    let before = snapshot(node.pool()).await;
    // One record whose INFO runs to 8 MiB of one letter: no repeated allele, only a ratio near
    // 1,000 that the guard sees once 1 MiB (set below) is decompressed.
    let bomb = node.dir.path().join("padded.vcf.gz");
    let mut encoder =
        flate2::write::GzEncoder::new(std::fs::File::create(&bomb).unwrap(), flate2::Compression::best());
    encoder
        .write_all(b"##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t1000\t.\tA\tG\t50\tPASS\tX=")
        .unwrap();
    encoder.write_all(&vec![b'A'; 8 << 20]).unwrap();
    encoder.write_all(b"\n").unwrap();
    encoder.finish().unwrap();
    let run = node
        .phare_with(
            &["ingest", "--dataset", "ds1", bomb.to_str().unwrap()],
            &[("PHARE_LIMITS__COMPRESSION_RATIO_AFTER_BYTES", "1048576")],
        )
        .await;
    assert!(!run.success(), "bomb accepted: {run}");
    assert!(run.stderr.contains(&bomb.display().to_string()), "{run}");
    assert!(run.stderr.contains("max_compression_ratio"), "{run}");
    assert_eq!(
        snapshot(node.pool()).await,
        before,
        "the bomb left rows behind: {run}"
    );
}

#[tokio::test]
async fn unknown_dataset_is_refused() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    let before = snapshot(node.pool()).await;
    let run = node.ingest("nope", &data("small.vcf"), None).await;
    assert!(!run.success(), "{run}");
    assert!(
        run.stderr.contains("nope") && run.stderr.contains("does not exist"),
        "{run}"
    );
    assert_eq!(snapshot(node.pool()).await, before);
}

#[tokio::test]
async fn manifest_missing_a_file_sample_is_refused() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    // small.manifest.json without its S3 entry.
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("small.manifest.json")).unwrap()).unwrap();
    let samples = manifest["samples"].as_array_mut().unwrap();
    let before_removal = samples.len();
    samples.retain(|entry| entry["sample"] != "S3");
    assert_eq!(samples.len(), before_removal - 1);
    let manifest_path = node.dir.path().join("without_s3.json");
    std::fs::write(&manifest_path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();

    let before = snapshot(node.pool()).await;
    let run = node.ingest("ds1", &data("small.vcf"), Some(&manifest_path)).await;
    assert!(!run.success(), "{run}");
    assert!(run.stderr.contains("S3"), "{run}");
    assert!(
        run.stderr.contains(&data("small.vcf").display().to_string()),
        "{run}"
    );
    assert_eq!(snapshot(node.pool()).await, before);

    // The same file with the full manifest is then accepted: the refusal was about S3.
    let full = node
        .ingest("ds1", &data("small.vcf"), Some(&data("small.manifest.json")))
        .await;
    assert!(full.success(), "{full}");
}

#[tokio::test]
async fn missing_file_is_refused() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    let before = snapshot(node.pool()).await;
    let missing = node.dir.path().join("no_such_file.vcf");
    let run = node.ingest("ds1", &missing, None).await;
    assert!(!run.success(), "{run}");
    assert!(run.stderr.contains(&missing.display().to_string()), "{run}");
    assert_eq!(snapshot(node.pool()).await, before);
}

// ---------------------------------------------------------------------------------------------
// Configuration and migrations.

#[tokio::test]
async fn unknown_environment_key_is_named() {
    let node = Node::new().await;
    let plain = node.phare(&["dataset", "list"]).await;
    assert!(plain.success(), "{plain}");
    let run = node
        .phare_with(&["dataset", "list"], &[("PHARE_LISTN", "x")])
        .await;
    assert!(!run.success(), "{run}");
    assert!(run.stderr.contains("listn"), "{run}");
}

#[tokio::test]
async fn unknown_config_file_key_is_named() {
    let node = Node::new().await;
    let good = node.dir.path().join("good.toml");
    std::fs::write(
        &good,
        "listen = \"127.0.0.1:0\"\n[beacon]\nname = \"test node\"\n",
    )
    .unwrap();
    let run = node
        .phare(&["dataset", "list", "--config", good.to_str().unwrap()])
        .await;
    assert!(run.success(), "{run}");

    let typo = node.dir.path().join("typo.toml");
    std::fs::write(&typo, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let run = node
        .phare(&["dataset", "list", "--config", typo.to_str().unwrap()])
        .await;
    assert!(!run.success(), "{run}");
    assert!(run.stderr.contains("lisen"), "{run}");

    let nested = node.dir.path().join("nested.toml");
    std::fs::write(&nested, "[beacon]\nnmae = \"x\"\n").unwrap();
    let run = node
        .phare(&["dataset", "list", "--config", nested.to_str().unwrap()])
        .await;
    assert!(!run.success(), "{run}");
    assert!(run.stderr.contains("nmae"), "{run}");
}

#[tokio::test]
async fn migrate_runs_twice_on_an_empty_database() {
    let node = Node::new().await;
    // An empty database next to the test one (fresh_database hands out migrated ones).
    let name: String = sqlx::query("SELECT current_database()")
        .fetch_one(node.pool())
        .await
        .unwrap()
        .get(0);
    let empty = format!("{name}_empty");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {empty}")))
        .execute(node.pool())
        .await
        .unwrap();
    assert_eq!(
        node.database.url.matches(&name).count(),
        1,
        "{}",
        node.database.url
    );
    let url = node.database.url.replace(&name, &empty);
    let store = phare_store::Store::connect(&url).await.unwrap();
    assert!(!has_tables(store.pool()).await);

    let migrations = std::fs::read_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../migrations"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".sql")
        })
        .count() as i64;
    for attempt in 1..=2 {
        let run = node
            .phare_with(&["migrate"], &[("PHARE_DATABASE_URL", url.as_str())])
            .await;
        assert!(run.success(), "migrate #{attempt}: {run}");
        assert!(has_tables(store.pool()).await, "migrate #{attempt}");
        assert_eq!(count_rows(store.pool(), "_sqlx_migrations").await, migrations);
    }
    // And on the already-migrated test database.
    let run = node.phare(&["migrate"]).await;
    assert!(run.success(), "{run}");
    store.pool().close().await;
}

// ---------------------------------------------------------------------------------------------
// Killed half-way.

#[tokio::test]
async fn an_ingest_killed_half_way_leaves_nothing_and_a_rerun_completes() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    let spec = phare_synth::CohortSpec {
        samples: 500,
        sites: 20_000,
        seed: 7,
        chr_prefix: true,
        bgzf: true,
    };
    let vcf = node.dir.path().join("cohort.vcf.gz");
    let manifest = node.dir.path().join("manifest.json");
    phare_synth::write_cohort_files(&spec, &vcf, &manifest).unwrap();
    let before = snapshot(node.pool()).await;
    let mut killed = 0;
    for delay_ms in [50u64, 250, 600] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_phare"))
            .args(["ingest", "--dataset", "ds1", "--manifest"])
            .arg(&manifest)
            .arg(&vcf)
            .env("PHARE_DATABASE_URL", &node.database.url)
            .env("PHARE_DATA_DIR", node.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
        // SIGKILL: no destructor, no rollback from the client; the open transaction dies with it.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if status.success() {
            // The machine was fast enough to finish first: nothing to check for this delay.
            continue;
        }
        killed += 1;
        // The server notices the closed socket and aborts the transaction.
        let mut after = snapshot(node.pool()).await;
        for _ in 0..50 {
            if after == before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            after = snapshot(node.pool()).await;
        }
        assert_eq!(after, before, "killed after {delay_ms} ms, something was left");
    }
    assert!(
        killed > 0,
        "every ingest finished before its kill: the test proved nothing"
    );
    let run = node.ingest("ds1", &vcf, Some(&manifest)).await;
    assert!(run.success(), "{run}");
    assert!(run.stdout.contains("ingested into ds1"), "{run}");
    assert_eq!(count_rows(node.pool(), "analyses").await, 1);
}

/// `phare ARGS` on the managed cluster of `data_dir` (no database url), as an operator runs it.
fn managed_phare(data_dir: &Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_phare"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("PHARE_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .env("PHARE_DATA_DIR", data_dir)
        .stdin(Stdio::null());
    command
}

#[tokio::test]
async fn an_ingest_whose_database_goes_away_leaves_nothing_and_a_rerun_completes() {
    let data_dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| managed_phare(data_dir.path(), args).output().unwrap();
    let created = run(&["dataset", "create", "ds1"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let spec = phare_synth::CohortSpec {
        samples: 1000,
        sites: 40_000,
        seed: 11,
        chr_prefix: false,
        bgzf: true,
    };
    let vcf = data_dir.path().join("cohort.vcf.gz");
    let manifest = data_dir.path().join("manifest.json");
    phare_synth::write_cohort_files(&spec, &vcf, &manifest).unwrap();
    let vcf_arg = vcf.to_string_lossy().into_owned();
    let manifest_arg = manifest.to_string_lossy().into_owned();
    let ingest_args = [
        "ingest",
        "--dataset",
        "ds1",
        "--manifest",
        manifest_arg.as_str(),
        vcf_arg.as_str(),
    ];

    let ingest = managed_phare(data_dir.path(), &ingest_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // The database goes away mid-ingest: a fast shutdown aborts the open transaction.
    let stopped = run(&["db", "stop"]);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let interrupted = ingest.wait_with_output().unwrap();
    assert!(
        !interrupted.status.success(),
        "the ingest finished before the database stopped: nothing was tested"
    );
    let stderr = String::from_utf8_lossy(&interrupted.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("error:"), "{stderr}");

    // Back up (any command restarts the managed cluster): nothing of the file is there.
    let listed = run(&["analysis", "list", "--dataset", "ds1"]);
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert_eq!(listing.lines().count(), 1, "only the header expected:\n{listing}");
    let rerun = run(&ingest_args);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let listed = run(&["analysis", "list", "--dataset", "ds1"]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 2);
    run(&["db", "stop"]);
}
