//! The submission worker: takes received files one at a time, checks them against what the
//! platform declared, and ingests them with the same atomic ingest as `phare ingest`. A claim
//! is a session advisory lock (`Store::claim_submission`), so a worker killed at any point
//! leaves the file to the next one, which starts it again: a half-done ingest left nothing, and
//! a finished one is recognised by its SHA-256 and not stored twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use phare_domain::Manifest;
use phare_store::{
    AuditDecision, AuditEntry, ClaimedSubmission, INGEST_BATCH_ALLELES, IngestOutcome, IngestRequest,
    SubmissionState,
};

use crate::AppState;
use crate::submissions::{Submissions, remove_upload, sha256_mismatch};

/// How often the queue is looked at without a wake-up (files received by another process,
/// or left by a worker that died), and expired uploads swept.
const POLL: Duration = Duration::from_secs(2);
const SWEEP: Duration = Duration::from_secs(60);
/// How often progress reaches the database while a file is ingested.
const PROGRESS: Duration = Duration::from_secs(1);

/// Starts the worker on the current runtime; it runs until the process ends. Does nothing on
/// a node that takes no submissions.
pub fn spawn_submission_worker(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let submissions = state.submissions()?.clone();
    Some(tokio::spawn(async move {
        let mut last_sweep: Option<Instant> = None;
        loop {
            if last_sweep.is_none_or(|at| at.elapsed() >= SWEEP) {
                sweep(&state, &submissions).await;
                last_sweep = Some(Instant::now());
            }
            match state.store().claim_submission().await {
                Ok(Some(claimed)) => process(&state, &submissions, claimed).await,
                Ok(None) => {
                    tokio::select! {
                        () = submissions.wakeup.notified() => {}
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "submission worker: cannot read the queue");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    }))
}

/// Expires idle uploads and removes the files of submissions that are over.
async fn sweep(state: &AppState, submissions: &Submissions) {
    match state
        .store()
        .expire_uploads(submissions.settings.upload_expiry)
        .await
    {
        Ok(expired) => {
            for id in expired {
                remove_upload(submissions, &id).await;
                submissions.forget(&id);
                audit(
                    state,
                    &id,
                    "submission expire",
                    AuditDecision::Deny,
                    "upload expired",
                )
                .await;
            }
        }
        Err(error) => tracing::warn!(%error, "submission worker: cannot expire uploads"),
    }
    let Ok(mut entries) = tokio::fs::read_dir(&submissions.settings.upload_dir).await else {
        return;
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(Some(submission)) = state.store().submission(&name).await
            && submission.state.is_final()
        {
            remove_upload(submissions, &name).await;
        }
    }
}

async fn audit(state: &AppState, id: &str, action: &str, decision: AuditDecision, reason: &str) {
    let entry = AuditEntry {
        subject: "phare:submission-worker".to_owned(),
        tier: "operator".to_owned(),
        action: action.to_owned(),
        resource: format!("submission:{id}"),
        decision,
        reason: reason.to_owned(),
        status: 0,
        request_id: String::new(),
    };
    if let Err(error) = state.audit_writer().append(state.store(), entry).await {
        tracing::error!(%error, submission = id, "cannot write the audit row of a submission step");
    }
}

/// Folds the dataset's small analyses into carrier blocks when a batch is due. The
/// submission is committed whatever happens here: a failed compaction leaves the carrier sets
/// where they were, and the next commit tries again.
async fn compact(state: &AppState, dataset_id: &str) {
    match state
        .store()
        .compact(dataset_id, phare_store::CompactionPolicy::default(), false)
        .await
    {
        Ok(report) if report.blocks_built + report.blocks_merged > 0 => tracing::info!(
            dataset = dataset_id,
            analyses = report.analyses_compacted,
            blocks_built = report.blocks_built,
            blocks_merged = report.blocks_merged,
            "carrier sets compacted"
        ),
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%error, dataset = dataset_id, "compaction failed: tried again after the next commit")
        }
    }
}

/// What became of one attempt at a submission.
enum Outcome {
    /// `records` is unknown when an earlier attempt had committed the ingest.
    Committed { analysis_id: i64, records: Option<u64> },
    /// Refused for what the platform sent: final.
    Rejected(String),
    /// The node failed (database down, disk): tried again later.
    Failed(String),
}

async fn process(state: &AppState, submissions: &Arc<Submissions>, claimed: ClaimedSubmission) {
    let id = claimed.submission.id.clone();
    let outcome = attempt(state, submissions, &claimed).await;
    let recorded = match &outcome {
        Outcome::Committed { analysis_id, records } => {
            let done = state.store().commit_submission(&id, *analysis_id, *records).await;
            if done.is_ok() {
                tracing::info!(submission = %id, analysis_id, "submission committed");
                audit(state, &id, "submission commit", AuditDecision::Allow, "committed").await;
                remove_upload(submissions, &id).await;
                compact(state, &claimed.submission.dataset_id).await;
            }
            done
        }
        Outcome::Rejected(message) => {
            let done = state.store().reject_submission(&id, message).await;
            if done.is_ok() {
                tracing::info!(submission = %id, "submission rejected");
                audit(state, &id, "submission reject", AuditDecision::Deny, "rejected").await;
                remove_upload(submissions, &id).await;
            }
            done
        }
        Outcome::Failed(message) => {
            tracing::warn!(submission = %id, error = %message, "submission attempt failed: retried later");
            state
                .store()
                .set_submission_state(&id, SubmissionState::Received)
                .await
        }
    };
    submissions.forget(&id);
    if let Err(error) = recorded {
        tracing::warn!(%error, submission = %id, "cannot record a submission's outcome: retried later");
    }
    if let Err(error) = state.store().release(claimed).await {
        tracing::warn!(%error, submission = %id, "cannot release a submission");
    }
    if matches!(outcome, Outcome::Failed(_)) {
        tokio::time::sleep(POLL).await;
    }
}

async fn attempt(state: &AppState, submissions: &Submissions, claimed: &ClaimedSubmission) -> Outcome {
    let submission = &claimed.submission;
    let id = &submission.id;
    let store = state.store();
    if let Err(error) = store.set_submission_state(id, SubmissionState::Validating).await {
        return Outcome::Failed(error.to_string());
    }
    audit(
        state,
        id,
        "submission validate",
        AuditDecision::Allow,
        "validating",
    )
    .await;
    let path = submissions.upload_path(id);
    let on_disk = tokio::fs::metadata(&path).await.map(|metadata| metadata.len());
    match on_disk {
        Ok(length) if length == submission.upload_length => {}
        Ok(length) => {
            return Outcome::Rejected(format!(
                "{}: {length} bytes on the node, not the {} uploaded: push it again",
                submission.file_name, submission.upload_length
            ));
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Outcome::Rejected(format!(
                "{}: the received file is not on this node (its upload directory is not shared with the node that received it, or it was removed): push it again",
                submission.file_name
            ));
        }
        Err(error) => return Outcome::Failed(format!("the received file cannot be read: {error}")),
    }
    let digest = match submissions.take_verified(id) {
        Some(digest) => digest,
        None => {
            let file = path.clone();
            match tokio::task::spawn_blocking(move || phare_store::sha256_of(&file)).await {
                Ok(Ok(digest)) => digest,
                Ok(Err(error)) => return Outcome::Failed(error.to_string()),
                Err(error) => return Outcome::Failed(error.to_string()),
            }
        }
    };
    if hex::encode(digest) != submission.file_sha256 {
        return Outcome::Rejected(sha256_mismatch(submission, &digest));
    }
    let manifest = match &submission.manifest {
        Some(value) => match Manifest::from_value(value.clone()) {
            Ok(manifest) => Some(manifest),
            Err(error) => return Outcome::Rejected(format!("manifest: {error}")),
        },
        None => None,
    };
    if let Some(manifest) = &manifest {
        let biosamples: Vec<String> = manifest
            .samples
            .iter()
            .map(|entry| entry.biosample_id.clone())
            .collect();
        let pseudonyms: Vec<String> = manifest
            .samples
            .iter()
            .map(|entry| entry.individual_id.clone())
            .collect();
        match store
            .sample_of_another_platform(
                &submission.dataset_id,
                &submission.platform_id,
                &biosamples,
                &pseudonyms,
            )
            .await
        {
            Ok(Some(sample)) => {
                return Outcome::Rejected(format!(
                    "manifest: {sample} was sent to dataset {} by another platform: a platform may re-analyse its own samples only",
                    submission.dataset_id
                ));
            }
            Ok(None) => {}
            Err(error) => return Outcome::Failed(error.to_string()),
        }
    }
    let assembly = match store.dataset(&submission.dataset_id).await {
        Ok(dataset) => dataset.assembly,
        Err(error) => return Outcome::Failed(error.to_string()),
    };
    let reference_fasta = submissions
        .settings
        .references
        .iter()
        .find(|(known, _)| *known == assembly)
        .map(|(_, fasta)| fasta.clone());
    if let Err(error) = store.set_submission_state(id, SubmissionState::Ingesting).await {
        return Outcome::Failed(error.to_string());
    }
    audit(state, id, "submission ingest", AuditDecision::Allow, "ingesting").await;
    let progress = Arc::new(AtomicU64::new(0));
    let reporter = {
        let store = store.clone();
        let progress = progress.clone();
        let id = id.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS).await;
                // Best effort: a missed progress update only delays the bar.
                let _ = store
                    .set_submission_progress(&id, progress.load(Ordering::Relaxed))
                    .await;
            }
        })
    };
    let ingested = store
        .ingest(IngestRequest {
            dataset_id: submission.dataset_id.clone(),
            path: path.clone(),
            manifest,
            pass_only: !submission.include_filtered,
            progress: Some(progress),
            limits: submissions.settings.limits.clone(),
            reference_fasta,
            file_name: Some(submission.file_name.clone()),
            file_sha256: Some(digest),
            batch_alleles: INGEST_BATCH_ALLELES,
        })
        .await;
    reporter.abort();
    match ingested {
        Ok(IngestOutcome::Ingested(summary)) => Outcome::Committed {
            analysis_id: summary.analysis_id,
            records: Some(summary.records_read),
        },
        Ok(IngestOutcome::AlreadyIngested { analysis_id, .. }) => Outcome::Committed {
            analysis_id,
            records: None,
        },
        Err(error) if error.is_input_error() => {
            // Errors name the file as the node stores it; the platform knows it by its name.
            let message = error
                .to_string()
                .replace(&path.display().to_string(), &submission.file_name);
            Outcome::Rejected(message)
        }
        Err(error) => Outcome::Failed(error.to_string()),
    }
}
