//! Submissions against a real PostgreSQL: one live submission per file, the upload offset's
//! compare-and-set, claims that exclude each other, expiry of idle uploads, quotas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use phare_domain::{Assembly, Granularity};
use phare_store::testing::fresh_database;
use phare_store::{NewDataset, NewSubmission, Platform, Store, SubmissionCreated, SubmissionState};

async fn node() -> phare_store::testing::TestDatabase {
    let database = fresh_database().await;
    database
        .store
        .create_dataset(&NewDataset {
            id: "ds".into(),
            name: "ds".into(),
            assembly: Assembly::Grch38,
            anonymous_max: Granularity::Boolean,
        })
        .await
        .expect("dataset");
    database
        .store
        .add_platform(&Platform {
            id: "seqoia".into(),
            name: "SeqOIA".into(),
            datasets: vec!["ds".into()],
            max_upload_bytes: None,
            max_concurrent_uploads: None,
        })
        .await
        .expect("platform");
    database
}

fn submission(id: &str, content: u8) -> NewSubmission {
    NewSubmission {
        id: id.repeat(32 / id.len()),
        platform_id: "seqoia".into(),
        dataset_id: "ds".into(),
        file_name: "run.vcf.gz".into(),
        file_sha256: [content; 32],
        upload_length: 10,
        manifest: None,
        include_filtered: false,
    }
}

async fn created(store: &Store, new: &NewSubmission, max_uploads: u32) -> SubmissionCreated {
    store.create_submission(new, max_uploads).await.expect("create")
}

#[tokio::test]
async fn one_file_is_one_live_submission_and_offsets_move_only_forward_from_where_they_are() {
    let database = node().await;
    let store = &database.store;
    let first = submission("a", 1);
    let SubmissionCreated::New(made) = created(store, &first, 4).await else {
        panic!("a new submission");
    };
    assert_eq!((made.state, made.upload_offset), (SubmissionState::Receiving, 0));
    // The same file again, under another id: the existing submission.
    let again = NewSubmission {
        id: "b".repeat(32),
        ..first.clone()
    };
    assert!(
        matches!(created(store, &again, 4).await, SubmissionCreated::Existing(existing) if existing.id == made.id)
    );

    assert!(store.advance_upload(&made.id, 0, 4).await.unwrap());
    assert!(
        !store.advance_upload(&made.id, 0, 8).await.unwrap(),
        "a stale offset"
    );
    assert!(
        !store.advance_upload(&made.id, 4, 11).await.unwrap(),
        "past the length"
    );
    assert!(store.advance_upload(&made.id, 4, 10).await.unwrap());
    let received = store.submission(&made.id).await.unwrap().unwrap();
    assert_eq!(
        (received.state, received.upload_offset),
        (SubmissionState::Received, 10)
    );
    assert!(
        !store.advance_upload(&made.id, 10, 10).await.unwrap(),
        "no longer receiving"
    );
}

#[tokio::test]
async fn a_claimed_submission_is_nobody_elses_until_released() {
    let database = node().await;
    let store = &database.store;
    let SubmissionCreated::New(made) = created(store, &submission("c", 2), 4).await else {
        panic!("a new submission");
    };
    assert!(
        store.claim_submission().await.unwrap().is_none(),
        "still receiving"
    );
    assert!(store.advance_upload(&made.id, 0, 10).await.unwrap());
    let claimed = store.claim_submission().await.unwrap().expect("claimed");
    assert_eq!(claimed.submission.id, made.id);
    assert!(
        store.claim_submission().await.unwrap().is_none(),
        "held by the first claim"
    );
    store.release(claimed).await.unwrap();
    let again = store.claim_submission().await.unwrap().expect("claimable again");
    // A claim dropped without release (a worker that died) lets go with its connection.
    drop(again);
    let mut reclaimed = None;
    for _ in 0..50 {
        reclaimed = store.claim_submission().await.unwrap();
        if reclaimed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reclaimed.is_some(), "the dead claim's lock was never released");
}

#[tokio::test]
async fn idle_uploads_expire_and_quotas_count_uploads_under_way() {
    let database = node().await;
    let store = &database.store;
    let SubmissionCreated::New(idle) = created(store, &submission("d", 3), 1).await else {
        panic!("a new submission");
    };
    assert!(matches!(
        created(store, &submission("e", 4), 1).await,
        SubmissionCreated::TooManyUploads(1)
    ));
    assert_eq!(
        store.expire_uploads(Duration::ZERO).await.unwrap(),
        vec![idle.id.clone()]
    );
    let expired = store.submission(&idle.id).await.unwrap().unwrap();
    assert_eq!(expired.state, SubmissionState::Expired);
    assert!(expired.error.unwrap().contains("expired"));
    // Expired, the file may be pushed again, and the quota is free.
    let retry = NewSubmission {
        id: "f".repeat(32),
        ..submission("d", 3)
    };
    assert!(matches!(
        created(store, &retry, 1).await,
        SubmissionCreated::New(_)
    ));
}
