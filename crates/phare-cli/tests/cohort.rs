//! `phare cohort create` and `phare cohort list`, the real binary against a real PostgreSQL (a
//! fresh database per test): cohorts are stored as given, refused when invalid, and audited.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Stdio;

use phare_store::testing::{TestDatabase, fresh_database};

/// What one finished run of the binary printed.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

async fn phare(database: &TestDatabase, dir: &tempfile::TempDir, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_phare"));
    // Only this test's configuration: PHARE_TEST_DATABASE_URL stays (config ignores it).
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("PHARE_") && key != "PHARE_TEST_DATABASE_URL" {
            command.env_remove(key);
        }
    }
    let output = command
        .args(args)
        .env("PHARE_DATABASE_URL", &database.url)
        .env("PHARE_DATA_DIR", dir.path())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let run = Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "phare {args:?} panicked: {}",
        run.stderr
    );
    run
}

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[tokio::test]
async fn cohorts_are_created_listed_refused_when_invalid_and_audited() {
    let database = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let created = phare(&database, &dir, &["dataset", "create", "rare"]).await;
    assert!(created.success, "{}", created.stderr);
    let ingested = phare(
        &database,
        &dir,
        &[
            "ingest",
            "--dataset",
            "rare",
            "--manifest",
            &data("access.manifest.json"),
            &data("access.vcf"),
        ],
    )
    .await;
    assert!(ingested.success, "{}", ingested.stderr);
    let run = phare(
        &database,
        &dir,
        &[
            "cohort",
            "create",
            "epilepsy-female",
            "--name",
            "Epilepsy, women",
            "--term",
            "HP:0001250",
            "--term",
            "NCIT:C16576",
            "--dataset",
            "rare",
        ],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    assert!(
        run.stdout.contains("HP:0001250 and NCIT:C16576"),
        "{}",
        run.stdout
    );
    let everywhere = phare(
        &database,
        &dir,
        &["cohort", "create", "pfmg-01", "--term", "PFMG-01"],
    )
    .await;
    assert!(everywhere.success, "{}", everywhere.stderr);
    // Refused: the same id again, an unknown dataset, no term, a bad id.
    for args in [
        vec!["cohort", "create", "pfmg-01", "--term", "PFMG-02"],
        vec![
            "cohort",
            "create",
            "other",
            "--term",
            "HP:0001250",
            "--dataset",
            "nope",
        ],
        vec!["cohort", "create", "other"],
        vec!["cohort", "create", "-bad id", "--term", "HP:0001250"],
    ] {
        let refused = phare(&database, &dir, &args).await;
        assert!(!refused.success, "{args:?} was accepted: {}", refused.stdout);
    }
    let listed = phare(&database, &dir, &["cohort", "list"]).await;
    assert!(listed.success, "{}", listed.stderr);
    let rows: Vec<Vec<&str>> = listed
        .stdout
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().take(3).collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["epilepsy-female", "rare", "HP:0001250,NCIT:C16576"],
            vec!["pfmg-01", "*", "PFMG-01"],
        ]
    );
    // The store holds them as given: what /api/cohorts reads.
    let cohorts = database.store.cohorts().await.unwrap();
    assert_eq!(cohorts[0].name, "Epilepsy, women");
    assert_eq!(cohorts[0].dataset_id.as_deref(), Some("rare"));
    assert_eq!(cohorts[1].dataset_id, None);
    // Each creation, refused or not, left an audit row.
    let rows = database.store.audit_rows(100).await.unwrap();
    let cohort_rows = rows.iter().filter(|row| row.action == "cohort create").count();
    assert_eq!(
        cohort_rows, 4,
        "two created, two refused by the store (clap refused the others)"
    );
}
