//! Compaction against a real PostgreSQL: small.vcf cut into four single-sample files gives
//! the joint file's hand-worked counts (tests/data/README.md) before compaction, after it, after
//! an objection and a re-analysis on compacted sets, and after blocks are merged. Carriers,
//! care-centre scoping and a column's alleles are checked against the genotypes of small.vcf.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use phare_domain::{Assembly, Granularity, Manifest};
use phare_store::testing::fresh_database;
use phare_store::{ColumnQuery, CompactionPolicy, IngestRequest, NewDataset, Store, VariantSearch, Zygosity};
use sqlx::Row;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

fn request(path: PathBuf, manifest: Manifest) -> IngestRequest {
    IngestRequest {
        manifest: Some(manifest),
        ..IngestRequest::new("ds", path)
    }
}

/// Sample, sex, consent and care centre of small.vcf's columns (small.manifest.json; the care
/// centres are this test's own).
const SAMPLES: [(&str, &str, bool, &str); 4] = [
    ("S1", "female", true, "CHU-A"),
    ("S2", "male", true, "CHU-A"),
    ("S3", "female", false, "CHU-B"),
    ("S4", "male", true, "CHU-B"),
];

fn manifest(
    sample: &str,
    biosample: &str,
    individual: &str,
    sex: &str,
    consent: bool,
    centre: &str,
) -> Manifest {
    Manifest::from_json(&format!(
        r#"{{"samples":[{{"sample":"{sample}","biosampleId":"{biosample}","individualId":"{individual}",
            "sex":"{sex}","country":"FR","careCentre":"{centre}","researchConsent":{consent}}}]}}"#
    ))
    .expect("manifest")
}

/// small.vcf with only column `index` of its samples, every record kept (as `bcftools view
/// -s` writes it), so the four files together state exactly what the joint file states.
fn single_sample_file(directory: &Path, index: usize) -> PathBuf {
    let text = std::fs::read_to_string(data("small.vcf")).expect("read small.vcf");
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("##") {
            out.push_str(line);
        } else {
            let fields: Vec<&str> = line.split('\t').collect();
            out.push_str(&fields[..9].join("\t"));
            out.push('\t');
            out.push_str(fields[9 + index]);
        }
        out.push('\n');
    }
    let path = directory.join(format!("{}.vcf", SAMPLES[index].0));
    std::fs::write(&path, out).expect("write");
    path
}

async fn ingest_single_sample_files(store: &Store, directory: &Path) {
    store
        .create_dataset(&NewDataset {
            id: "ds".into(),
            name: "ds".into(),
            assembly: Assembly::Grch38,
            anonymous_max: Granularity::Record,
        })
        .await
        .expect("create dataset");
    for (index, (sample, sex, consent, centre)) in SAMPLES.iter().enumerate() {
        let manifest = manifest(
            sample,
            &format!("BS-{sample}"),
            &format!("IND-{sample}"),
            sex,
            *consent,
            centre,
        );
        store
            .ingest(request(single_sample_file(directory, index), manifest))
            .await
            .expect("ingest");
    }
}

const X_SNV: (&str, i64, &str, &str) = ("X", 4999999, "G", "A");
const SNV_1000: (&str, i64, &str, &str) = ("1", 999, "A", "G");

fn search(allele: (&str, i64, &str, &str)) -> VariantSearch {
    let (contig, start, reference, alternate) = allele;
    VariantSearch::Sequence {
        contig: contig.into(),
        start: start as u64,
        reference: Some(reference.into()),
        alternate: alternate.into(),
    }
}

/// (AC, AN, hom, het, hemi) of one allele in one scope and population, as record answers read
/// them: `Total` from the totals, other populations from the carrier sets.
async fn counts(
    store: &Store,
    scope: &str,
    stratum: &str,
    allele: (&str, i64, &str, &str),
) -> Option<(i64, i64, i64, i64, i64)> {
    let found = store
        .find_variants("ds", scope, &search(allele), 0, 10, None)
        .await
        .expect("find")
        .0;
    let counts = found
        .first()?
        .strata
        .iter()
        .find(|counts| counts.stratum == stratum)?
        .clone();
    let from_sets = (
        counts.allele_count,
        counts.allele_number,
        counts.homozygous.unwrap_or(-1),
        counts.heterozygous.unwrap_or(-1),
        counts.hemizygous.unwrap_or(-1),
    );
    if stratum == "Total" {
        // The totals maintained at ingest, opposition and supersession agree with the sets.
        assert_eq!(
            Some(from_sets),
            totals(store, scope, allele).await,
            "{scope} {allele:?}"
        );
    }
    Some(from_sets)
}

/// (AC, AN, hom, het, hemi) of one allele from `variant_counts`.
async fn totals(
    store: &Store,
    scope: &str,
    allele: (&str, i64, &str, &str),
) -> Option<(i64, i64, i64, i64, i64)> {
    let prefix = if scope == "research" { "research_" } else { "" };
    let id = variant_id(store, allele).await;
    sqlx::query("SELECT * FROM variant_counts WHERE dataset_id = 'ds' AND variant_id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await
        .expect("totals")
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

async fn variant_id(store: &Store, allele: (&str, i64, &str, &str)) -> i64 {
    let (contig, start, reference, alternate) = allele;
    sqlx::query(
        "SELECT id FROM variants WHERE contig = $1 AND start = $2 AND reference = $3 AND alternate = $4",
    )
    .bind(contig)
    .bind(start)
    .bind(reference)
    .bind(alternate)
    .fetch_one(store.pool())
    .await
    .expect("variant")
    .get("id")
}

/// (sample name, zygosity) of the carriers of one allele among the columns `query` selects.
async fn carriers(
    store: &Store,
    allele: (&str, i64, &str, &str),
    query: &ColumnQuery,
) -> Vec<(String, Zygosity)> {
    let id = variant_id(store, allele).await;
    let mut found: Vec<(String, Zygosity)> = store
        .carriers("ds", &[id], query)
        .await
        .expect("carriers")
        .remove(&id)
        .unwrap_or_default()
        .into_iter()
        .map(|carrier| (carrier.column.sample_name, carrier.zygosity))
        .collect();
    found.sort_by(|left, right| left.0.cmp(&right.0));
    found
}

/// The alleles a sample's current column carries, as (contig, start, reference, alternate).
async fn alleles_of(store: &Store, sample: &str) -> Vec<(String, i64, String, String)> {
    let row = sqlx::query(
        "SELECT s.analysis_id, s.sample_index FROM analysis_samples s
         WHERE s.sample_name = $1 AND s.superseded_by IS NULL",
    )
    .bind(sample)
    .fetch_one(store.pool())
    .await
    .expect("column");
    let ids = store
        .column_variant_ids(
            "ds",
            "all",
            &[(row.get("analysis_id"), row.get("sample_index"))],
            None,
        )
        .await
        .expect("alleles");
    store
        .variants_by_ids("ds", "all", &ids)
        .await
        .expect("variants")
        .into_iter()
        .map(|found| (found.contig, found.start, found.reference, found.alternate))
        .collect()
}

async fn rows(store: &Store, table: &str) -> i64 {
    let sql = format!("SELECT count(*) AS rows FROM {table}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(store.pool())
        .await
        .expect("count")
        .get("rows")
}

/// How many times `table` was vacuumed by a VACUUM command (not autovacuum).
async fn vacuums(store: &Store, table: &str) -> i64 {
    sqlx::query("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = $1")
        .bind(table)
        .fetch_one(store.pool())
        .await
        .expect("vacuum count")
        .get("vacuum_count")
}

/// Everything the joint file's README works out for X:5,000,000 G>A and 1:1,000 A>G, with
/// the objection of S3 made at ingest.
async fn assert_joint_counts(store: &Store) {
    // X:5,000,000: S1 0/1, S2 1 (male), S3 1/1 (objected), S4 0 (male).
    assert_eq!(counts(store, "all", "Total", X_SNV).await, Some((4, 6, 1, 1, 1)));
    assert_eq!(
        counts(store, "research", "Total", X_SNV).await,
        Some((2, 4, 0, 1, 1))
    );
    // F is S1 and S3: AC 1 + 2, AN 4. M is S2 and S4, haploid: AC 1, AN 2.
    assert_eq!(counts(store, "all", "F", X_SNV).await, Some((3, 4, 1, 1, 0)));
    assert_eq!(counts(store, "all", "M", X_SNV).await, Some((1, 2, 0, 0, 1)));
    assert_eq!(counts(store, "research", "F", X_SNV).await, Some((1, 2, 0, 1, 0)));
    // 1:1000: S1 0/1, S2 1/1, S3 0|0, S4 0|1.
    assert_eq!(
        counts(store, "all", "Total", SNV_1000).await,
        Some((4, 8, 1, 2, 0))
    );
    assert_eq!(counts(store, "all", "F", SNV_1000).await, Some((1, 4, 0, 1, 0)));
    assert_eq!(
        counts(store, "all", "FR_M", SNV_1000).await,
        Some((3, 4, 1, 1, 0))
    );
    assert_eq!(
        carriers(store, X_SNV, &ColumnQuery::default()).await,
        vec![
            ("S1".to_owned(), Zygosity::Heterozygous),
            ("S2".to_owned(), Zygosity::Hemizygous),
            ("S3".to_owned(), Zygosity::Homozygous),
        ]
    );
    let chu_b = ColumnQuery {
        care_centre: Some("CHU-B".into()),
        ..ColumnQuery::default()
    };
    assert_eq!(
        carriers(store, SNV_1000, &chu_b).await,
        vec![("S4".to_owned(), Zygosity::Heterozygous)]
    );
    // S2's non-reference calls among stored (PASS) records: 1:1000 1/1, 1:2000 0/1 (A),
    // 1:3000 0/1, 1:6000 1|1 (ATG>A), X:500000 0/1, X:5000000 1, X:7000000 2 (G).
    let expected: Vec<(String, i64, String, String)> = [
        ("1", 999, "A", "G"),
        ("1", 1999, "C", "A"),
        ("1", 2999, "GTC", "G"),
        ("1", 5999, "ATG", "A"),
        ("X", 499999, "A", "G"),
        ("X", 4999999, "G", "A"),
        ("X", 6999999, "T", "G"),
    ]
    .iter()
    .map(|(contig, start, reference, alternate)| {
        (
            (*contig).to_owned(),
            *start,
            (*reference).to_owned(),
            (*alternate).to_owned(),
        )
    })
    .collect();
    assert_eq!(alleles_of(store, "S2").await, expected);
}

#[tokio::test]
async fn compacted_single_sample_files_answer_as_the_joint_file() {
    let database = fresh_database().await;
    let store = &database.store;
    let directory = tempfile::tempdir().expect("tempdir");
    ingest_single_sample_files(store, directory.path()).await;
    assert_joint_counts(store).await;
    let uncompacted = rows(store, "analysis_variants").await;

    // Four pending analyses are fewer than a batch: nothing is due.
    let idle = store
        .compact("ds", CompactionPolicy::default(), false)
        .await
        .expect("compact");
    assert_eq!(idle.blocks_built, 0);
    assert_eq!(vacuums(store, "analysis_variants").await, 0);
    let report = store
        .compact("ds", CompactionPolicy::default(), true)
        .await
        .expect("compact");
    assert_eq!((report.blocks_built, report.analyses_compacted), (1, 4));
    // The per-file rows it deleted are vacuumed; no block was merged, so no block row was.
    assert_eq!(vacuums(store, "analysis_variants").await, 1);
    assert_eq!(vacuums(store, "block_variants").await, 0);
    assert_eq!(report.rows_read, uncompacted as u64);
    assert_eq!(rows(store, "analysis_variants").await, 0);
    // One row per distinct stored allele of small.vcf (each file holds them all).
    assert_eq!(rows(store, "block_variants").await, uncompacted / 4);
    assert_joint_counts(store).await;

    // S2 objects after compaction: his hemizygous copy and called allele leave the research
    // totals (AC 1, AN 3) and the research M population is S4 alone (haploid 0).
    store.set_research_consent("IND-S2", false).await.expect("oppose");
    assert_eq!(
        counts(store, "research", "Total", X_SNV).await,
        Some((1, 3, 0, 1, 0))
    );
    assert_eq!(counts(store, "research", "M", X_SNV).await, Some((0, 1, 0, 0, 0)));
    assert_eq!(counts(store, "all", "Total", X_SNV).await, Some((4, 6, 1, 1, 1)));
    let research_only = ColumnQuery {
        research_only: true,
        ..ColumnQuery::default()
    };
    assert_eq!(
        carriers(store, X_SNV, &research_only).await,
        vec![("S1".to_owned(), Zygosity::Heterozygous)]
    );
    store
        .set_research_consent("IND-S2", true)
        .await
        .expect("withdraw");
    assert_joint_counts(store).await;
}

#[tokio::test]
async fn a_reanalysis_supersedes_a_compacted_analysis_and_merged_blocks_keep_every_count() {
    let database = fresh_database().await;
    let store = &database.store;
    let directory = tempfile::tempdir().expect("tempdir");
    ingest_single_sample_files(store, directory.path()).await;
    store
        .compact("ds", CompactionPolicy::default(), true)
        .await
        .expect("compact");

    // BS-S1 sequenced again: now 1/1 at X:5,000,000, and nothing at 1:1000.
    let path = directory.path().join("reanalysis.vcf");
    std::fs::write(
        &path,
        "##fileformat=VCFv4.2\n##contig=<ID=X,length=156040895>\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1_v2\n\
         X\t5000000\t.\tG\tA\t.\tPASS\t.\tGT\t1/1\n",
    )
    .expect("write");
    let reanalysis = manifest("S1_v2", "BS-S1", "IND-S1", "female", true, "CHU-A");
    store.ingest(request(path, reanalysis)).await.expect("reanalysis");

    // X:5,000,000: S1's old 0/1 out, her new 1/1 in: (5, 6, hom 2, het 0, hemi 1); research
    // (S3 objected) (3, 4, 1, 0, 1). 1:1000: S1's het leaves: (3, 6, 1, 1, 0), and F is S3
    // alone (0|0).
    let after_reanalysis = |store: &Store| {
        let store = store.clone();
        async move {
            assert_eq!(counts(&store, "all", "Total", X_SNV).await, Some((5, 6, 2, 0, 1)));
            assert_eq!(
                counts(&store, "research", "Total", X_SNV).await,
                Some((3, 4, 1, 0, 1))
            );
            assert_eq!(counts(&store, "all", "F", X_SNV).await, Some((4, 4, 2, 0, 0)));
            assert_eq!(
                counts(&store, "all", "Total", SNV_1000).await,
                Some((3, 6, 1, 1, 0))
            );
            assert_eq!(counts(&store, "all", "F", SNV_1000).await, Some((0, 2, 0, 0, 0)));
            assert_eq!(
                carriers(&store, X_SNV, &ColumnQuery::default()).await,
                vec![
                    ("S1_v2".to_owned(), Zygosity::Homozygous),
                    ("S2".to_owned(), Zygosity::Hemizygous),
                    ("S3".to_owned(), Zygosity::Homozygous),
                ]
            );
        }
    };
    after_reanalysis(store).await;

    // A batch of one and a fanout of two: the re-analysis becomes a block, then the two
    // blocks (4 and 1 columns, one tier) merge into one of 5 columns.
    let policy = CompactionPolicy {
        batch: 4,
        fanout: 2,
        max_columns: 65_536,
    };
    let merges_vacuumed = vacuums(store, "block_variants").await;
    let report = store.compact("ds", policy, true).await.expect("compact");
    assert_eq!((report.blocks_built, report.blocks_merged), (1, 1));
    assert_eq!(vacuums(store, "block_variants").await, merges_vacuumed + 1);
    assert_eq!(rows(store, "analysis_variants").await, 0);
    let live: i64 = sqlx::query("SELECT count(*) AS n FROM carrier_blocks WHERE merged_into IS NULL")
        .fetch_one(store.pool())
        .await
        .expect("blocks")
        .get("n");
    assert_eq!(live, 1);
    let in_merged: i64 = sqlx::query(
        "SELECT count(*) AS n FROM block_variants v JOIN carrier_blocks b ON b.id = v.block_id
         WHERE b.merged_into IS NOT NULL",
    )
    .fetch_one(store.pool())
    .await
    .expect("rows")
    .get("n");
    assert_eq!(in_merged, 0);
    after_reanalysis(store).await;

    // An objection on the merged block: S3 withdraws hers, her 1/1 joins research (AC 5, AN 6).
    store.set_research_consent("IND-S3", true).await.expect("consent");
    assert_eq!(
        counts(store, "research", "Total", X_SNV).await,
        Some((5, 6, 2, 0, 1))
    );
}

async fn cohort_generation(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT generation FROM cohort_generation")
        .fetch_one(store.pool())
        .await
        .expect("generation")
}

/// The population labels of sample columns are cached per handle; a consent change made
/// through another handle (another process: its own cache) is seen by the very next answer,
/// in both layouts, and the change counter moves once per committed change, never for one
/// rolled back.
#[tokio::test]
async fn a_consent_change_by_another_process_is_seen_by_the_next_answer() {
    let database = fresh_database().await;
    let server = &database.store;
    let directory = tempfile::tempdir().expect("tempdir");
    ingest_single_sample_files(server, directory.path()).await;
    let other_process = Store::connect(&database.url).await.expect("connect");

    for compacted in [false, true] {
        if compacted {
            let report = server
                .compact("ds", CompactionPolicy::default(), true)
                .await
                .expect("compact");
            assert_eq!(report.analyses_compacted, 4);
        }
        // Read once, which caches the labels. X:5,000,000, research scope (S3 objected): M is
        // S2 (hemizygous 1) and S4 (haploid 0): AC 1, AN 2.
        assert_eq!(
            counts(server, "research", "M", X_SNV).await,
            Some((1, 2, 0, 0, 1))
        );
        let before = cohort_generation(server).await;
        other_process
            .set_research_consent("IND-S2", false)
            .await
            .expect("oppose");
        assert_eq!(cohort_generation(server).await, before + 1, "one bump per change");
        // Research M is S4 alone: called reference, haploid (AN 1, AC 0).
        assert_eq!(
            counts(server, "research", "M", X_SNV).await,
            Some((0, 1, 0, 0, 0))
        );
        assert_eq!(counts(server, "all", "M", X_SNV).await, Some((1, 2, 0, 0, 1)));

        // A change rolled back moves nothing and changes nothing.
        let mut transaction = other_process.pool().begin().await.expect("begin");
        sqlx::query("UPDATE individuals SET sex = 'female' WHERE pseudonym = 'IND-S4'")
            .execute(&mut *transaction)
            .await
            .expect("update");
        transaction.rollback().await.expect("rollback");
        assert_eq!(cohort_generation(server).await, before + 1);
        assert_eq!(
            counts(server, "research", "M", X_SNV).await,
            Some((0, 1, 0, 0, 0))
        );

        // A direct change of a patient's sex (any column of `individuals`) is seen too: with
        // S4 female there is no male in the research scope, and F gains S4's called reference.
        sqlx::query("UPDATE individuals SET sex = 'female' WHERE pseudonym = 'IND-S4'")
            .execute(other_process.pool())
            .await
            .expect("update");
        assert_eq!(counts(server, "research", "M", X_SNV).await, None);
        assert_eq!(
            counts(server, "research", "F", X_SNV).await,
            Some((1, 3, 0, 1, 0))
        );

        sqlx::query("UPDATE individuals SET sex = 'male' WHERE pseudonym = 'IND-S4'")
            .execute(other_process.pool())
            .await
            .expect("update");
        other_process
            .set_research_consent("IND-S2", true)
            .await
            .expect("withdraw");
        assert_joint_counts(server).await;
    }
}
