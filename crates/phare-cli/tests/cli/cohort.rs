//! `phare cohort create` and `phare cohort list`: cohorts are stored as given, refused when
//! invalid, and audited.

use super::{Node, data};

#[tokio::test]
async fn cohorts_are_created_listed_refused_when_invalid_and_audited() {
    let node = Node::new().await;
    let created = node.phare(&["dataset", "create", "rare"]).await;
    assert!(created.success(), "{}", created.stderr);
    let ingested = node
        .phare(&[
            "ingest",
            "--dataset",
            "rare",
            "--manifest",
            data("access.manifest.json").to_str().unwrap(),
            data("access.vcf").to_str().unwrap(),
        ])
        .await;
    assert!(ingested.success(), "{}", ingested.stderr);
    let run = node
        .phare(&[
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
        ])
        .await;
    assert!(run.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("HP:0001250 and NCIT:C16576"),
        "{}",
        run.stdout
    );
    let everywhere = node
        .phare(&["cohort", "create", "pfmg-01", "--term", "PFMG-01"])
        .await;
    assert!(everywhere.success(), "{}", everywhere.stderr);
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
        let refused = node.phare(&args).await;
        assert!(!refused.success(), "{args:?} was accepted: {}", refused.stdout);
    }
    let listed = node.phare(&["cohort", "list"]).await;
    assert!(listed.success(), "{}", listed.stderr);
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
    let cohorts = node.database.store.cohorts().await.unwrap();
    assert_eq!(cohorts[0].name, "Epilepsy, women");
    assert_eq!(cohorts[0].dataset_id.as_deref(), Some("rare"));
    assert_eq!(cohorts[1].dataset_id, None);
    // Each creation, refused or not, left an audit row.
    let rows = node.database.store.audit_rows(100).await.unwrap();
    let cohort_rows = rows.iter().filter(|row| row.action == "cohort create").count();
    assert_eq!(
        cohort_rows, 4,
        "two created, two refused by the store (clap refused the others)"
    );
}
