//! `phare compact` killed with SIGKILL half-way through building a block: the per-analysis
//! carrier rows stay as they were and answer as before; a rerun compacts them. Real binary,
//! real PostgreSQL. Expected counts come from the genotypes the test writes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::Row;

use crate::{Node, count_rows};

const FILES: usize = 20;
const SITES: usize = 30_000;

/// Genotype of file `file` at site `site`: 2 (1/1), 1 (0/1) or 0 (not in the file, as a
/// single-sample VCF leaves out the sites it does not carry).
fn genotype(file: usize, site: usize) -> u8 {
    if (site + file).is_multiple_of(9) {
        2
    } else if (site * 3 + file).is_multiple_of(4) {
        1
    } else {
        0
    }
}

fn write_files(node: &Node) -> Vec<PathBuf> {
    (0..FILES)
        .map(|file| {
            let mut text = format!(
                "##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n\
                 ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
                 #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tG{file}\n"
            );
            for site in 0..SITES {
                let call = match genotype(file, site) {
                    2 => "1/1",
                    1 => "0/1",
                    _ => continue,
                };
                text.push_str(&format!(
                    "1\t{}\t.\tA\tG\t.\tPASS\t.\tGT\t{call}\n",
                    100 + site * 10
                ));
            }
            let path = node.dir.path().join(format!("genome{file}.vcf"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

/// (AC, AN) per site index, from the genotypes written: AN counts the files listing the site.
fn expected() -> HashMap<usize, (i64, i64)> {
    let mut counts = HashMap::new();
    for site in 0..SITES {
        let calls: Vec<u8> = (0..FILES)
            .map(|file| genotype(file, site))
            .filter(|call| *call > 0)
            .collect();
        if !calls.is_empty() {
            let allele_count: i64 = calls.iter().map(|call| i64::from(*call)).sum();
            counts.insert(site, (allele_count, 2 * calls.len() as i64));
        }
    }
    counts
}

/// (AC, AN) per site from the totals and, independently, from the carrier sets (the `Total`
/// population of record answers); both must match the genotypes written.
async fn assert_counts(node: &Node) {
    let store = &node.database.store;
    let rows = sqlx::query(
        "SELECT v.id, v.start, c.allele_count, c.allele_number
         FROM variants v JOIN variant_counts c ON c.variant_id = v.id AND c.dataset_id = 'ds1'",
    )
    .fetch_all(node.pool())
    .await
    .unwrap();
    let mut site_of = HashMap::new();
    let mut totals = HashMap::new();
    for row in &rows {
        let site = (row.get::<i64, _>("start") as usize - 99) / 10;
        site_of.insert(row.get::<i64, _>("id"), site);
        totals.insert(
            site,
            (
                row.get::<i64, _>("allele_count"),
                row.get::<i64, _>("allele_number"),
            ),
        );
    }
    let expected = expected();
    assert_eq!(totals, expected);
    let ids: Vec<i64> = site_of.keys().copied().collect();
    let strata = store.population_counts("ds1", "all", &ids).await.unwrap();
    let from_sets: HashMap<usize, (i64, i64)> = strata
        .iter()
        .map(|(id, counts)| {
            let total = counts.iter().find(|counts| counts.stratum == "Total").unwrap();
            (site_of[id], (total.allele_count, total.allele_number))
        })
        .collect();
    assert_eq!(from_sets, expected);
}

async fn layout(node: &Node) -> Vec<i64> {
    let mut state = Vec::new();
    for table in [
        "analysis_variants",
        "block_variants",
        "block_columns",
        "carrier_blocks",
    ] {
        state.push(count_rows(node.pool(), table).await);
    }
    state.push(
        sqlx::query("SELECT count(*) FROM analyses WHERE block_id IS NULL")
            .fetch_one(node.pool())
            .await
            .unwrap()
            .get(0),
    );
    state
}

/// Whether a backend is inside the compaction's transaction, building the block.
async fn compaction_under_way(node: &Node) -> bool {
    sqlx::query(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
           AND (query LIKE 'FETCH % FROM compaction_sources%' OR query LIKE 'INSERT INTO block_variants%'
                OR query LIKE 'DECLARE compaction_sources%')",
    )
    .fetch_one(node.pool())
    .await
    .unwrap()
    .get::<i64, _>(0)
        > 0
}

#[tokio::test]
async fn a_compaction_killed_half_way_leaves_the_old_rows_valid_and_a_rerun_completes() {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    let files = write_files(&node);
    let mut args = vec!["ingest", "--dataset", "ds1"];
    args.extend(files.iter().map(|path| path.to_str().unwrap()));
    // Fewer files than a batch (32): ingest leaves them uncompacted.
    node.ok(&args).await;
    assert_counts(&node).await;
    let before = layout(&node).await;
    assert_eq!(before[1..], [0, 0, 0, FILES as i64]);

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_phare"))
        .args(["compact", "--dataset", "ds1", "--all"])
        .env("PHARE_DATABASE_URL", &node.database.url)
        .env("PHARE_DATA_DIR", node.dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !compaction_under_way(&node).await {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the compaction ended before it was seen building: the test proved nothing"
        );
        assert!(Instant::now() < deadline, "the compaction never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // SIGKILL: no destructor, no rollback from the client; the open transaction dies with it.
    child.kill().unwrap();
    assert!(!child.wait().unwrap().success());
    // The server notices the closed socket and aborts the transaction.
    let deadline = Instant::now() + Duration::from_secs(10);
    while compaction_under_way(&node).await {
        assert!(
            Instant::now() < deadline,
            "the killed compaction's transaction stays open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(layout(&node).await, before);
    assert_counts(&node).await;

    let run = node.ok(&["compact", "--dataset", "ds1", "--all"]).await;
    assert!(
        run.stdout
            .contains(&format!("{FILES} analyses compacted into 1 blocks")),
        "{run}"
    );
    let after = layout(&node).await;
    // One row per site some file lists; every file's rows gone; one column per file.
    assert_eq!(after, vec![0, expected().len() as i64, FILES as i64, 1, 0]);
    assert_counts(&node).await;
}
