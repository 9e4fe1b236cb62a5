//! The access verbs of the real `phare` binary against a real PostgreSQL: development tokens,
//! small-count thresholds and data-use conditions at dataset creation, policy rows, the audit
//! rows of administrative actions and `phare audit verify` finding an edited row.

use phare_access::dev::DevIssuer;
use phare_access::{AccessConfig, Authenticator};
use sqlx::{Executor, Row};

use super::{Node, data};

#[tokio::test]
async fn dev_tokens_carry_what_was_asked_and_verify_against_the_dev_issuer() {
    let node = Node::new().await;
    let care = node
        .ok(&[
            "dev",
            "token",
            "--care",
            "--subject",
            "dr-a",
            "--role",
            "clinician",
            "--care-centre",
            "CHU-LYON",
        ])
        .await;
    let research = node
        .ok(&[
            "dev",
            "token",
            "--subject",
            "res-b",
            "--bona-fide",
            "--grant",
            "rare",
            "--purpose",
            "DUO:0000006",
        ])
        .await;
    let dev = DevIssuer::load_or_create(&node.dir.path().join("dev-issuer")).expect("same key");
    let (issuer, visa_issuer) = dev.access_config();
    let authenticator = Authenticator::new(AccessConfig {
        issuers: vec![issuer],
        visa_issuers: vec![visa_issuer],
        ..AccessConfig::default()
    })
    .expect("authenticator");
    let clinician = authenticator
        .authenticate(Some(&format!("Bearer {}", care.stdout.trim())), None)
        .await
        .expect("care token verifies");
    assert_eq!(clinician.care.expect("care role").centre, "CHU-LYON");
    let researcher = authenticator
        .authenticate(Some(&format!("Bearer {}", research.stdout.trim())), None)
        .await
        .expect("research token verifies");
    assert!(researcher.bona_fide);
    assert!(researcher.care.is_none());
    // A dataset id is expanded to the dataset's canonical URL, as the server names it.
    assert_eq!(
        researcher.grants.into_iter().collect::<Vec<_>>(),
        ["http://127.0.0.1:8080/api/datasets/rare"]
    );
    assert_eq!(researcher.purpose.expect("purpose").codes, ["DUO:0000006"]);
    // A care token without its centre cannot be minted into something that verifies.
    let bad = node.ok(&["dev", "token", "--care", "--role", "clinician"]).await;
    assert!(
        authenticator
            .authenticate(Some(&format!("Bearer {}", bad.stdout.trim())), None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn dataset_settings_policies_and_admin_actions_are_stored_and_audited() {
    let node = Node::new().await;
    let pool = node.database.store.pool();
    node.ok(&[
        "dataset",
        "create",
        "cardio",
        "--min-count",
        "10",
        "--data-use",
        "DUO:0000007",
        "--data-use-disease",
        "MONDO:0004994",
        "--data-use-modifier",
        "DUO:0000044",
    ])
    .await;
    let row = sqlx::query("SELECT min_count, data_use FROM datasets WHERE id = 'cardio'")
        .fetch_one(pool)
        .await
        .expect("dataset row");
    assert_eq!(row.get::<i32, _>("min_count"), 10);
    assert_eq!(
        row.get::<serde_json::Value, _>("data_use"),
        serde_json::json!({"permission": "DUO:0000007", "disease": "MONDO:0004994", "modifiers": ["DUO:0000044"]})
    );
    for (args, complaint) in [
        (
            vec!["dataset", "create", "x", "--data-use", "DUO:0000999"],
            "--data-use",
        ),
        (
            vec!["dataset", "create", "x", "--data-use", "DUO:0000007"],
            "--data-use-disease",
        ),
        (vec!["dataset", "create", "x", "--min-count=-1"], "--min-count"),
        (
            vec![
                "dataset",
                "policy",
                "--dataset",
                "cardio",
                "--tier",
                "gold",
                "--max",
                "count",
            ],
            "--tier",
        ),
        (
            vec![
                "dataset",
                "policy",
                "--dataset",
                "cardio",
                "--tier",
                "public",
                "--entry-type",
                "genes",
                "--max",
                "count",
            ],
            "--entry-type",
        ),
        (
            vec![
                "dataset",
                "policy",
                "--dataset",
                "nope",
                "--tier",
                "public",
                "--max",
                "count",
            ],
            "nope",
        ),
    ] {
        let run = node.phare(&args).await;
        assert_ne!(run.code, Some(0), "{args:?} was accepted: {run}");
        assert!(run.stderr.contains(complaint), "{args:?}: {run}");
    }
    node.ok(&[
        "dataset",
        "policy",
        "--dataset",
        "cardio",
        "--tier",
        "controlled",
        "--entry-type",
        "individual",
        "--max",
        "count",
        "--no-id-lookups",
    ])
    .await;
    let policy = sqlx::query(
        "SELECT tier, entry_type, max_granularity, id_lookups, unfiltered_queries FROM dataset_policies",
    )
    .fetch_one(pool)
    .await
    .expect("policy row");
    assert_eq!(policy.get::<String, _>("tier"), "controlled");
    assert_eq!(policy.get::<String, _>("entry_type"), "individual");
    assert_eq!(policy.get::<String, _>("max_granularity"), "count");
    assert!(!policy.get::<bool, _>("id_lookups"));
    assert!(policy.get::<bool, _>("unfiltered_queries"));

    node.ok(&[
        "ingest",
        "--dataset",
        "cardio",
        "--manifest",
        data("access.manifest.json").to_str().unwrap(),
        data("access.vcf").to_str().unwrap(),
    ])
    .await;
    node.ok(&["individual", "oppose", "PAT-P01"]).await;
    let rows = node.database.store.audit_rows(100).await.expect("audit rows");
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .rev()
        .map(|row| (row.action.as_str(), row.decision.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("dataset create", "allow"),
            ("dataset policy", "deny"),
            ("dataset policy", "allow"),
            ("ingest", "allow"),
            ("individual oppose", "allow"),
        ],
        "{rows:#?}"
    );
    assert!(
        rows.iter()
            .all(|row| row.subject == "operator:operator-test" && row.tier == "admin")
    );
    let oppose = &rows[0];
    assert!(
        !oppose.resource.contains("PAT-"),
        "the pseudonym is in the audit log: {}",
        oppose.resource
    );
}

#[tokio::test]
async fn audit_verify_reports_the_first_edited_row() {
    let node = Node::new().await;
    for id in ["one", "two", "three"] {
        node.ok(&["dataset", "create", id]).await;
    }
    let intact = node.ok(&["audit", "verify"]).await;
    assert!(intact.stdout.contains("intact: 3 rows"), "{intact}");
    let listed = node.ok(&["audit", "list"]).await;
    assert_eq!(listed.stdout.lines().count(), 3, "{listed}");

    let pool = node.database.store.pool();
    let second: i64 = sqlx::query("SELECT id FROM audit_log ORDER BY id OFFSET 1 LIMIT 1")
        .fetch_one(pool)
        .await
        .expect("second row")
        .get("id");
    // The application cannot edit the log…
    let refused = pool
        .execute(sqlx::AssertSqlSafe(format!(
            "UPDATE audit_log SET resource = 'dataset:forged' WHERE id = {second}"
        )))
        .await;
    assert!(refused.is_err(), "an audit row was updated");
    // …and when someone with the powers of the database owner does, verify finds the row.
    let mut connection = pool.acquire().await.expect("connection");
    connection
        .execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        .await
        .expect("disable triggers (test role is a superuser)");
    connection
        .execute(sqlx::AssertSqlSafe(format!(
            "UPDATE audit_log SET resource = 'dataset:forged' WHERE id = {second}"
        )))
        .await
        .expect("edit");
    connection
        .execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        .await
        .expect("enable triggers");
    let broken = node.phare(&["audit", "verify"]).await;
    assert_ne!(broken.code, Some(0), "{broken}");
    assert!(
        broken.stderr.contains(&format!("broken at row {second}")),
        "{broken}"
    );
}
