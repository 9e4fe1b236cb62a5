//! The audit log's hash chain and append-only guard, and the query budgets, against a real
//! PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use phare_store::testing::fresh_database;
use phare_store::{AuditDecision, AuditEntry, AuditVerification, BudgetDecision, BudgetLedger, Store};

fn entry(number: u16) -> AuditEntry {
    AuditEntry {
        subject: format!("user-{number}"),
        tier: if number.is_multiple_of(2) {
            "registered"
        } else {
            "anonymous"
        }
        .into(),
        action: "g_variants.query".into(),
        resource: format!("dataset:demo/hmac:{number:064x}"),
        decision: if number.is_multiple_of(3) {
            AuditDecision::Deny
        } else {
            AuditDecision::Allow
        },
        reason: format!("reason {number}"),
        status: if number.is_multiple_of(3) { 403 } else { 200 },
        request_id: format!("request-{number}"),
    }
}

/// Appends rows 1 to `count`, one batch each, as the server's writer would.
async fn append(store: &Store, count: u16) {
    let mut appender = store.audit_appender();
    for number in 1..=count {
        appender.append(&[entry(number)]).await.expect("append");
    }
}

/// SHA-256 over decision 0021's encoding written out by hand: the version tag, then every
/// field as its length (64-bit big-endian) and its bytes.
fn hand_hash(fields: &[&[u8]]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut encoded = Vec::new();
    for field in std::iter::once(b"phare.audit_log.v1".as_slice()).chain(fields.iter().copied()) {
        encoded.extend((field.len() as u64).to_be_bytes());
        encoded.extend(field);
    }
    Sha256::digest(&encoded).to_vec()
}

/// Ids of the stored rows, oldest first.
async fn ids(store: &Store) -> Vec<i64> {
    let mut ids: Vec<i64> = store
        .audit_rows(5000)
        .await
        .expect("rows")
        .iter()
        .map(|row| row.id)
        .collect();
    ids.reverse();
    ids
}

/// Runs `sql` with the append-only triggers disabled, as a superuser could.
async fn tamper(store: &Store, sql: &str, id: i64) {
    let mut transaction = store.pool().begin().await.expect("begin");
    sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER USER")
        .execute(&mut *transaction)
        .await
        .expect("disable triggers");
    let changed = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(id)
        .execute(&mut *transaction)
        .await
        .expect("tamper");
    assert_eq!(changed.rows_affected(), 1);
    sqlx::query("ALTER TABLE audit_log ENABLE TRIGGER USER")
        .execute(&mut *transaction)
        .await
        .expect("enable triggers");
    transaction.commit().await.expect("commit");
}

fn broken_at(verification: AuditVerification) -> i64 {
    match verification {
        AuditVerification::Broken { row_id, reason } => {
            assert!(!reason.is_empty());
            row_id
        }
        AuditVerification::Intact { rows } => panic!("chain of {rows} rows reported intact"),
    }
}

#[tokio::test]
async fn appended_rows_round_trip_and_chain() {
    let database = fresh_database().await;
    let store = &database.store;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 0 }
    );
    append(store, 3).await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 3 }
    );

    let rows = store.audit_rows(10).await.unwrap();
    assert_eq!(rows.len(), 3);
    for (row, number) in rows.iter().zip([3u16, 2, 1]) {
        let expected = entry(number);
        assert_eq!(row.subject, expected.subject);
        assert_eq!(row.tier, expected.tier);
        assert_eq!(row.action, expected.action);
        assert_eq!(row.resource, expected.resource);
        assert_eq!(row.decision, expected.decision);
        assert_eq!(row.reason, expected.reason);
        assert_eq!(row.status, expected.status);
        assert_eq!(row.request_id, expected.request_id);
        assert_eq!(row.row_hash.len(), 32);
    }
    // Newest first, each linked to the one below it, the first to zeros.
    assert!(rows[0].id > rows[1].id && rows[1].id > rows[2].id);
    assert!(rows[0].at >= rows[1].at && rows[1].at >= rows[2].at);
    assert_eq!(rows[0].previous_hash, rows[1].row_hash);
    assert_eq!(rows[1].previous_hash, rows[2].row_hash);
    assert_eq!(rows[2].previous_hash, vec![0u8; 32]);
    assert_eq!(AuditDecision::Deny.as_str(), "deny");
    assert_eq!(rows[0].decision.as_str(), "deny");
    assert_eq!(store.audit_rows(1).await.unwrap().len(), 1);
}

/// A batch is one transaction whose rows chain in order, after the rows already there; an
/// edit inside a batch breaks the chain at that row like any other.
#[tokio::test]
async fn a_batch_appends_its_rows_in_order_on_the_chain() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 2).await;
    let batch: Vec<AuditEntry> = (3..=7).map(entry).collect();
    store.append_audit_batch(&batch).await.unwrap();
    store.append_audit_batch(&[]).await.unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 7 }
    );
    let rows = store.audit_rows(10).await.unwrap();
    let subjects: Vec<&str> = rows.iter().rev().map(|row| row.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "user-1", "user-2", "user-3", "user-4", "user-5", "user-6", "user-7"
        ]
    );
    let ids = ids(store).await;
    tamper(
        store,
        "UPDATE audit_log SET reason = 'edited' WHERE id = $1",
        ids[4],
    )
    .await;
    assert_eq!(broken_at(store.verify_audit().await.unwrap()), ids[4]);
}

#[tokio::test]
async fn update_delete_and_truncate_are_refused() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 2).await;
    for sql in [
        "UPDATE audit_log SET resource = 'other'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let error = sqlx::query(sql)
            .execute(store.pool())
            .await
            .expect_err(sql)
            .to_string();
        assert!(
            error.contains("audit_log is append-only"),
            "{sql}: unexpected error {error}"
        );
    }
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 2 }
    );
}

#[tokio::test]
async fn an_edited_row_breaks_the_chain_at_that_row() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 5).await;
    let ids = ids(store).await;
    tamper(
        store,
        "UPDATE audit_log SET resource = 'dataset:other' WHERE id = $1",
        ids[2],
    )
    .await;
    assert_eq!(broken_at(store.verify_audit().await.unwrap()), ids[2]);
}

#[tokio::test]
async fn a_replaced_hash_breaks_the_chain_at_that_row() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 5).await;
    let ids = ids(store).await;
    tamper(
        store,
        "UPDATE audit_log SET row_hash = sha256(row_hash) WHERE id = $1",
        ids[1],
    )
    .await;
    assert_eq!(broken_at(store.verify_audit().await.unwrap()), ids[1]);
}

#[tokio::test]
async fn a_deleted_middle_row_breaks_the_chain_at_the_next_row() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 5).await;
    let ids = ids(store).await;
    tamper(store, "DELETE FROM audit_log WHERE id = $1", ids[2]).await;
    assert_eq!(broken_at(store.verify_audit().await.unwrap()), ids[3]);
}

#[tokio::test]
async fn a_deleted_first_row_breaks_the_chain_at_the_new_first_row() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 3).await;
    let ids = ids(store).await;
    tamper(store, "DELETE FROM audit_log WHERE id = $1", ids[0]).await;
    assert_eq!(broken_at(store.verify_audit().await.unwrap()), ids[1]);
}

#[tokio::test]
async fn an_edited_last_row_breaks_the_chain_at_it() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 4).await;
    let ids = ids(store).await;
    let last = *ids.last().unwrap();
    tamper(
        store,
        "UPDATE audit_log SET status = 403, decision = 'deny' WHERE id = $1",
        last,
    )
    .await;
    assert_eq!(broken_at(store.verify_audit().await.unwrap()), last);
}

#[tokio::test]
async fn a_shifted_timestamp_breaks_the_chain() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 3).await;
    let ids = ids(store).await;
    tamper(
        store,
        "UPDATE audit_log SET at = at - interval '1 microsecond' WHERE id = $1",
        ids[1],
    )
    .await;
    assert_eq!(broken_at(store.verify_audit().await.unwrap()), ids[1]);
}

/// The hash computed at append is the one decision 0021 specifies, re-encoded here by hand:
/// non-ASCII text, empty fields and the largest status included.
#[tokio::test]
async fn appended_hashes_follow_the_documented_encoding() {
    let database = fresh_database().await;
    let store = &database.store;
    let unusual = AuditEntry {
        subject: "Zoë Ørsted – 患者".into(),
        tier: String::new(),
        action: "g_variants.query".into(),
        resource: String::new(),
        decision: AuditDecision::Deny,
        reason: "refusé".into(),
        status: 32767,
        request_id: "r".into(),
    };
    store
        .append_audit_batch(&[entry(1), unusual.clone()])
        .await
        .unwrap();
    let rows = store.audit_rows(2).await.unwrap();
    let (last, first) = (&rows[0], &rows[1]);
    let expected = hand_hash(&[
        &last.id.to_be_bytes(),
        &last.at.timestamp_micros().to_be_bytes(),
        "Zoë Ørsted – 患者".as_bytes(),
        b"",
        b"g_variants.query",
        b"",
        b"deny",
        "refusé".as_bytes(),
        &[0x7f, 0xff],
        b"r",
        &first.row_hash,
    ]);
    assert_eq!(last.row_hash, expected);
    assert_eq!(last.previous_hash, first.row_hash);
    assert_eq!(last.subject, unusual.subject);
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 2 }
    );
}

/// Cuts the kept connection of an appender (the one whose last statement was an append).
async fn cut_appender_connection(store: &Store) {
    let cut: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'INSERT INTO audit_log%'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(cut, [true]);
}

async fn subjects(store: &Store) -> Vec<String> {
    store
        .audit_rows(10)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.subject)
        .collect()
}

/// An appender keeps its connection. Cut while in use, the next append fails (the requests
/// waiting on it get their 503) and the one after starts on a fresh connection; cut while idle
/// for longer than a second, the next append pings it first and succeeds on a fresh one.
#[tokio::test]
async fn an_appender_recovers_from_a_cut_connection() {
    let database = fresh_database().await;
    let store = &database.store;
    let mut appender = store.audit_appender();
    appender.append(&[entry(1)]).await.unwrap();
    cut_appender_connection(store).await;
    assert!(appender.append(&[entry(2)]).await.is_err());
    appender.append(&[entry(3)]).await.unwrap();
    assert_eq!(subjects(store).await, ["user-3", "user-1"]);

    cut_appender_connection(store).await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    appender.append(&[entry(4)]).await.unwrap();
    assert_eq!(subjects(store).await, ["user-4", "user-3", "user-1"]);
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 3 }
    );
}

/// Writers that interleave: each appender remembers the head of its own last append, so a
/// stale one finds its next id taken by the other, reads the head again and links to it.
#[tokio::test]
async fn interleaved_writers_keep_one_chain() {
    let database = fresh_database().await;
    let store = &database.store;
    let mut first = store.audit_appender();
    let mut second = store.audit_appender();
    first.append(&[entry(1)]).await.unwrap();
    second.append(&[entry(2), entry(3)]).await.unwrap();
    first.append(&[entry(4)]).await.unwrap();
    store.append_audit(&entry(5)).await.unwrap();
    second.append(&[entry(6)]).await.unwrap();
    first.append(&[entry(7)]).await.unwrap();
    assert_eq!(
        subjects(store).await,
        [
            "user-7", "user-6", "user-5", "user-4", "user-3", "user-2", "user-1"
        ]
    );
    assert_eq!(ids(store).await, (1..=7).collect::<Vec<i64>>());
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 7 }
    );
}

/// Ids left unused (a log whose ids came from a sequence, before decision 0064, has gaps where
/// appends rolled back) are not a break; appends go on after the highest id.
#[tokio::test]
async fn a_gap_in_ids_is_not_a_break() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 2).await;
    let head = store.audit_rows(1).await.unwrap().remove(0);
    let (id, at_micros) = (head.id + 5, head.at.timestamp_micros() + 1);
    let row_hash = hand_hash(&[
        &id.to_be_bytes(),
        &at_micros.to_be_bytes(),
        b"someone",
        b"anonymous",
        b"GET /api/info",
        b"r",
        b"allow",
        b"ok",
        &200i16.to_be_bytes(),
        b"q",
        &head.row_hash,
    ]);
    sqlx::query(
        "INSERT INTO audit_log (id, at, subject, tier, action, resource, decision, reason, status,
                                request_id, previous_hash, row_hash)
         OVERRIDING SYSTEM VALUE
         VALUES ($1, $2, 'someone', 'anonymous', 'GET /api/info', 'r', 'allow', 'ok', 200, 'q', $3, $4)",
    )
    .bind(id)
    .bind(sqlx::types::chrono::DateTime::from_timestamp_micros(at_micros).unwrap())
    .bind(&head.row_hash)
    .bind(row_hash)
    .execute(store.pool())
    .await
    .unwrap();
    store.audit_appender().append(&[entry(3)]).await.unwrap();
    append(store, 1).await;
    assert_eq!(ids(store).await, [1, 2, 7, 8, 9]);
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 5 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_keep_one_chain() {
    let database = fresh_database().await;
    let store = database.store.clone();
    let tasks: Vec<_> = (1..=20u16)
        .map(|number| {
            let store = store.clone();
            tokio::spawn(async move { store.append_audit(&entry(number)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 20 }
    );
}

#[tokio::test]
async fn verification_spans_several_batches() {
    let database = fresh_database().await;
    let store = &database.store;
    append(store, 1100).await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditVerification::Intact { rows: 1100 }
    );
    let ids = ids(store).await;
    tamper(
        store,
        "UPDATE audit_log SET reason = 'nothing to see' WHERE id = $1",
        ids[1050],
    )
    .await;
    assert_eq!(broken_at(store.verify_audit().await.unwrap()), ids[1050]);
}

const MINUTE: Duration = Duration::from_secs(60);

fn keys(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

fn retry_after(decision: BudgetDecision) -> u64 {
    match decision {
        BudgetDecision::Exhausted { retry_after_seconds } => retry_after_seconds,
        BudgetDecision::Allowed => panic!("allowed past the limit"),
    }
}

#[tokio::test]
async fn a_budget_is_exhausted_at_its_limit_per_key() {
    let database = fresh_database().await;
    let store = &database.store;
    let ledger = BudgetLedger::new();
    let alice = keys(&["user:alice/dataset:demo"]);
    for _ in 0..3 {
        assert_eq!(
            ledger.consume(store, &alice, 3, MINUTE).await.unwrap(),
            BudgetDecision::Allowed
        );
    }
    let wait = retry_after(ledger.consume(store, &alice, 3, MINUTE).await.unwrap());
    assert!((1..=60).contains(&wait), "retry after {wait} s");
    // Refused calls consume nothing, so the wait does not grow.
    let wait_again = retry_after(ledger.consume(store, &alice, 3, MINUTE).await.unwrap());
    assert!(wait_again <= wait);

    let bob = keys(&["user:bob/dataset:demo"]);
    assert_eq!(
        ledger.consume(store, &bob, 3, MINUTE).await.unwrap(),
        BudgetDecision::Allowed
    );
    assert!(matches!(
        ledger.consume(store, &[], 3, MINUTE).await.unwrap(),
        BudgetDecision::Allowed
    ));
    assert!((1..=60).contains(&retry_after(
        ledger.consume(store, &bob, 0, MINUTE).await.unwrap()
    )));
}

#[tokio::test]
async fn a_multi_key_call_is_all_or_nothing() {
    let database = fresh_database().await;
    let store = &database.store;
    let ledger = BudgetLedger::new();
    let exhausted = keys(&["ip:192.0.2.1"]);
    for _ in 0..2 {
        ledger.consume(store, &exhausted, 2, MINUTE).await.unwrap();
    }
    let together = keys(&["user:carol/dataset:a", "ip:192.0.2.1", "user:carol/dataset:b"]);
    retry_after(ledger.consume(store, &together, 2, MINUTE).await.unwrap());
    // Nothing was taken from the other two: both still have their whole budget.
    for key in ["user:carol/dataset:a", "user:carol/dataset:b"] {
        let single = keys(&[key]);
        for _ in 0..2 {
            assert_eq!(
                ledger.consume(store, &single, 2, MINUTE).await.unwrap(),
                BudgetDecision::Allowed,
                "{key}"
            );
        }
        retry_after(ledger.consume(store, &single, 2, MINUTE).await.unwrap());
    }
    // A key named twice in one call is consumed once.
    let twice = keys(&["user:dave", "user:dave"]);
    assert_eq!(
        ledger.consume(store, &twice, 2, MINUTE).await.unwrap(),
        BudgetDecision::Allowed
    );
    assert_eq!(
        ledger.consume(store, &twice, 2, MINUTE).await.unwrap(),
        BudgetDecision::Allowed
    );
}

#[tokio::test]
async fn a_budget_frees_up_when_its_window_slides() {
    let database = fresh_database().await;
    let store = &database.store;
    let ledger = BudgetLedger::new();
    let key = keys(&["ip:198.51.100.7"]);
    let window = Duration::from_secs(1);
    for _ in 0..2 {
        assert_eq!(
            ledger.consume(store, &key, 2, window).await.unwrap(),
            BudgetDecision::Allowed
        );
    }
    assert_eq!(ledger.flush(store, window).await.unwrap(), 2);
    assert_eq!(
        retry_after(ledger.consume(store, &key, 2, window).await.unwrap()),
        1
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        ledger.consume(store, &key, 2, window).await.unwrap(),
        BudgetDecision::Allowed
    );
    // Expired events of the keys written are gone.
    assert_eq!(ledger.flush(store, window).await.unwrap(), 1);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM query_budget_events WHERE budget_key = $1")
        .bind(&key[0])
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_consumers_do_not_overshoot() {
    let database = fresh_database().await;
    let store = database.store.clone();
    let ledger = std::sync::Arc::new(BudgetLedger::new());
    let tasks: Vec<_> = (0..10u32)
        .map(|task| {
            let store = store.clone();
            let ledger = ledger.clone();
            // Overlapping key sets in different orders: locks must not deadlock.
            let names = if task.is_multiple_of(2) {
                keys(&["user:erin", "ip:203.0.113.9"])
            } else {
                keys(&["ip:203.0.113.9", "user:erin"])
            };
            tokio::spawn(async move { ledger.consume(&store, &names, 5, MINUTE).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() == BudgetDecision::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
}

#[tokio::test]
async fn a_flushed_budget_survives_a_restart_and_an_unflushed_one_is_the_loss_window() {
    let database = fresh_database().await;
    let store = &database.store;
    let flushed = keys(&["user:frank/dataset:demo"]);
    let unflushed = keys(&["user:grace/dataset:demo"]);
    let before = BudgetLedger::new();
    for _ in 0..3 {
        assert_eq!(
            before.consume(store, &flushed, 3, MINUTE).await.unwrap(),
            BudgetDecision::Allowed
        );
    }
    assert_eq!(before.flush(store, MINUTE).await.unwrap(), 3);
    for _ in 0..3 {
        before.consume(store, &unflushed, 3, MINUTE).await.unwrap();
    }
    // A new process (the same database, a new ledger) reads what was flushed: still exhausted.
    let after = BudgetLedger::new();
    let wait = retry_after(after.consume(store, &flushed, 3, MINUTE).await.unwrap());
    assert!((1..=60).contains(&wait), "retry after {wait} s");
    // What was never flushed is what a crash loses: that key starts afresh.
    assert_eq!(
        after.consume(store, &unflushed, 3, MINUTE).await.unwrap(),
        BudgetDecision::Allowed
    );
    // Stored units are the flushed ones only.
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM query_budget_events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(stored, 3);
}
