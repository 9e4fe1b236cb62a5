//! Platforms and their submissions: the registry of sequencing platforms the operator declared,
//! and the files they push (state, upload offset, outcome). The worker that ingests a received
//! file claims it with a session advisory lock, so a crashed worker's claim ends with its
//! connection and another one takes the file up again.

use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use crate::{Store, StoreError};

/// Class of the two-key advisory locks a worker holds on the submission it processes.
const SUBMISSION_LOCK_CLASS: i32 = i32::from_be_bytes(*b"psub");

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub id: String,
    pub name: String,
    /// Datasets the platform may submit to.
    pub datasets: Vec<String>,
    pub max_upload_bytes: Option<i64>,
    pub max_concurrent_uploads: Option<i32>,
}

/// Where a submission is on its way from upload to stored counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmissionState {
    Receiving,
    Received,
    Validating,
    Ingesting,
    Committed,
    Rejected,
    Expired,
}

impl SubmissionState {
    pub const ALL: [Self; 7] = [
        Self::Receiving,
        Self::Received,
        Self::Validating,
        Self::Ingesting,
        Self::Committed,
        Self::Rejected,
        Self::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receiving => "receiving",
            Self::Received => "received",
            Self::Validating => "validating",
            Self::Ingesting => "ingesting",
            Self::Committed => "committed",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
        }
    }

    /// Committed, rejected and expired submissions change no more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Committed | Self::Rejected | Self::Expired)
    }
}

impl std::str::FromStr for SubmissionState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|state| state.as_str()).collect();
                format!("unknown submission state `{text}`: one of {}", known.join(", "))
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub id: String,
    pub platform_id: String,
    pub dataset_id: String,
    pub file_name: String,
    /// Hex, as declared at creation.
    pub file_sha256: String,
    pub upload_length: u64,
    pub upload_offset: u64,
    pub manifest: Option<serde_json::Value>,
    pub include_filtered: bool,
    pub state: SubmissionState,
    pub error: Option<String>,
    pub analysis_id: Option<i64>,
    /// Committed, and every sample of its analysis has since been replaced by a re-analysis.
    pub superseded: bool,
    pub bytes_read: u64,
    pub records_read: u64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug)]
pub struct NewSubmission {
    pub id: String,
    pub platform_id: String,
    pub dataset_id: String,
    pub file_name: String,
    pub file_sha256: [u8; 32],
    pub upload_length: u64,
    pub manifest: Option<serde_json::Value>,
    pub include_filtered: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubmissionCreated {
    New(Submission),
    /// The same file (SHA-256) is already submitted to the dataset, or already ingested:
    /// this is that submission.
    Existing(Submission),
    /// The platform already has this many uploads under way.
    TooManyUploads(u32),
}

/// What the operator and the status endpoint filter on.
#[derive(Clone, Debug, Default)]
pub struct SubmissionFilter {
    pub platform_id: Option<String>,
    pub dataset_id: Option<String>,
    pub state: Option<SubmissionState>,
    pub limit: i64,
}

/// A submission a worker holds: the advisory lock lives on `connection` until [`Store::release`].
/// The connection is detached from the pool, so a claim dropped without release closes it
/// (and the lock with it) instead of going back to the pool still locked.
#[derive(Debug)]
pub struct ClaimedSubmission {
    pub submission: Submission,
    connection: PgConnection,
}

fn submission_from_row(row: &PgRow) -> Result<Submission, StoreError> {
    let state: String = row.try_get("state")?;
    let sha: Vec<u8> = row.try_get("file_sha256")?;
    let count = |name: &str| -> Result<u64, StoreError> { Ok(row.try_get::<i64, _>(name)?.max(0) as u64) };
    Ok(Submission {
        id: row.try_get("id")?,
        platform_id: row.try_get("platform_id")?,
        dataset_id: row.try_get("dataset_id")?,
        file_name: row.try_get("file_name")?,
        file_sha256: hex::encode(sha),
        upload_length: count("upload_length")?,
        upload_offset: count("upload_offset")?,
        manifest: row.try_get("manifest")?,
        include_filtered: row.try_get("include_filtered")?,
        state: state.parse().map_err(StoreError::Internal)?,
        error: row.try_get("error")?,
        analysis_id: row.try_get("analysis_id")?,
        superseded: row.try_get("superseded")?,
        bytes_read: count("bytes_read")?,
        records_read: count("records_read")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Submission {
    /// The state as reported: a committed submission whose samples were all re-analysed since
    /// is `superseded`.
    pub fn reported_state(&self) -> &'static str {
        if self.state == SubmissionState::Committed && self.superseded {
            "superseded"
        } else {
            self.state.as_str()
        }
    }
}

fn platform_from_row(row: &PgRow) -> Result<Platform, StoreError> {
    Ok(Platform {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        datasets: row.try_get("datasets")?,
        max_upload_bytes: row.try_get("max_upload_bytes")?,
        max_concurrent_uploads: row.try_get("max_concurrent_uploads")?,
    })
}

fn lock_key(id: &str) -> i32 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

impl Store {
    /// Declares a platform, or updates its name and quotas; `datasets` are added to those it
    /// may already submit to.
    pub async fn add_platform(&self, platform: &Platform) -> Result<(), StoreError> {
        let mut transaction = self.pool().begin().await?;
        for dataset in &platform.datasets {
            let known: bool = sqlx::query("SELECT EXISTS (SELECT 1 FROM datasets WHERE id = $1) AS known")
                .bind(dataset)
                .fetch_one(&mut *transaction)
                .await?
                .try_get("known")?;
            if !known {
                return Err(StoreError::UnknownDataset(dataset.clone()));
            }
        }
        let inserted = sqlx::query(
            "INSERT INTO platforms (id, name, max_upload_bytes, max_concurrent_uploads) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                 max_upload_bytes = excluded.max_upload_bytes,
                 max_concurrent_uploads = excluded.max_concurrent_uploads",
        )
        .bind(&platform.id)
        .bind(&platform.name)
        .bind(platform.max_upload_bytes)
        .bind(platform.max_concurrent_uploads)
        .execute(&mut *transaction)
        .await;
        if let Err(sqlx::Error::Database(error)) = &inserted
            && error.is_check_violation()
        {
            return Err(StoreError::InvalidDataset(format!(
                "platform id `{}`: letters, digits, '.', '_' or '-', at most 64",
                platform.id
            )));
        }
        inserted?;
        sqlx::query(
            "INSERT INTO platform_datasets (platform_id, dataset_id) SELECT $1, unnest($2::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(&platform.id)
        .bind(&platform.datasets)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn platforms(&self) -> Result<Vec<Platform>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, p.name, p.max_upload_bytes, p.max_concurrent_uploads,
                    coalesce(array_agg(d.dataset_id ORDER BY d.dataset_id) FILTER (WHERE d.dataset_id IS NOT NULL), '{}') AS datasets
             FROM platforms p LEFT JOIN platform_datasets d ON d.platform_id = p.id
             GROUP BY p.id ORDER BY p.id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(platform_from_row).collect()
    }

    pub async fn platform(&self, id: &str) -> Result<Option<Platform>, StoreError> {
        let row = sqlx::query(
            "SELECT p.id, p.name, p.max_upload_bytes, p.max_concurrent_uploads,
                    coalesce(array_agg(d.dataset_id ORDER BY d.dataset_id) FILTER (WHERE d.dataset_id IS NOT NULL), '{}') AS datasets
             FROM platforms p LEFT JOIN platform_datasets d ON d.platform_id = p.id
             WHERE p.id = $1 GROUP BY p.id",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(platform_from_row).transpose()
    }

    /// Creates a submission in `receiving`, unless the same file is already live in the dataset
    /// (answered with that submission) or already ingested there by other means (answered with
    /// a submission created `committed`, which needs no upload). `max_uploads` bounds the
    /// platform's submissions in `receiving`.
    pub async fn create_submission(
        &self,
        new: &NewSubmission,
        max_uploads: u32,
    ) -> Result<SubmissionCreated, StoreError> {
        let mut transaction = self.pool().begin().await?;
        // One creation per platform at a time (the quota count holds), then one per file and
        // dataset whatever the platform (the duplicate check holds). Always in this order.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('phare.submission.' || $1))")
            .bind(&new.platform_id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtext('phare.submission.' || $1 || '.' || encode($2, 'hex')))",
        )
        .bind(&new.dataset_id)
        .bind(new.file_sha256.as_slice())
        .execute(&mut *transaction)
        .await?;
        let existing = sqlx::query(
            "SELECT * FROM submission_status
             WHERE dataset_id = $1 AND file_sha256 = $2 AND state NOT IN ('rejected', 'expired')",
        )
        .bind(&new.dataset_id)
        .bind(new.file_sha256.as_slice())
        .fetch_optional(&mut *transaction)
        .await?;
        if let Some(row) = existing {
            return Ok(SubmissionCreated::Existing(submission_from_row(&row)?));
        }
        let ingested: Option<i64> =
            sqlx::query_scalar("SELECT id FROM analyses WHERE dataset_id = $1 AND file_sha256 = $2")
                .bind(&new.dataset_id)
                .bind(new.file_sha256.as_slice())
                .fetch_optional(&mut *transaction)
                .await?;
        if ingested.is_none() {
            // Files waiting for the worker count too: they hold disk like uploads do.
            let receiving: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM submissions
                 WHERE platform_id = $1 AND state IN ('receiving', 'received', 'validating', 'ingesting')",
            )
            .bind(&new.platform_id)
            .fetch_one(&mut *transaction)
            .await?;
            if receiving >= i64::from(max_uploads) {
                return Ok(SubmissionCreated::TooManyUploads(max_uploads));
            }
        }
        let length = i64::try_from(new.upload_length)
            .map_err(|_| StoreError::Internal("upload length out of range".into()))?;
        let (state, offset) = match ingested {
            Some(_) => (SubmissionState::Committed, length),
            None => (SubmissionState::Receiving, 0),
        };
        sqlx::query(
            "INSERT INTO submissions (id, platform_id, dataset_id, file_name, file_sha256, upload_length, upload_offset,
                                      manifest, include_filtered, state, analysis_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&new.id)
        .bind(&new.platform_id)
        .bind(&new.dataset_id)
        .bind(&new.file_name)
        .bind(new.file_sha256.as_slice())
        .bind(length)
        .bind(offset)
        .bind(&new.manifest)
        .bind(new.include_filtered)
        .bind(state.as_str())
        .bind(ingested)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        let created = self
            .submission(&new.id)
            .await?
            .ok_or_else(|| StoreError::Internal("submission vanished after its creation".into()))?;
        Ok(match ingested {
            Some(_) => SubmissionCreated::Existing(created),
            None => SubmissionCreated::New(created),
        })
    }

    pub async fn submission(&self, id: &str) -> Result<Option<Submission>, StoreError> {
        let row = sqlx::query("SELECT * FROM submission_status WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(submission_from_row).transpose()
    }

    /// Newest first.
    pub async fn submissions(&self, filter: &SubmissionFilter) -> Result<Vec<Submission>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM submission_status
             WHERE ($1::text IS NULL OR platform_id = $1) AND ($2::text IS NULL OR dataset_id = $2)
               AND ($3::text IS NULL OR state = $3)
             ORDER BY created DESC, id LIMIT $4",
        )
        .bind(&filter.platform_id)
        .bind(&filter.dataset_id)
        .bind(filter.state.map(SubmissionState::as_str))
        .bind(filter.limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(submission_from_row).collect()
    }

    /// Moves the upload offset from `from` to `to` (the bytes are on disk and synced), and to
    /// `received` when the last byte arrived. False when the submission is no longer at `from`
    /// or no longer receiving: the caller's bytes must then be discarded.
    pub async fn advance_upload(&self, id: &str, from: u64, to: u64) -> Result<bool, StoreError> {
        let out_of_range = || StoreError::Internal("upload offset out of range".into());
        let from = i64::try_from(from).map_err(|_| out_of_range())?;
        let to = i64::try_from(to).map_err(|_| out_of_range())?;
        let updated = sqlx::query(
            "UPDATE submissions SET upload_offset = $3, updated_at = now(),
                 state = CASE WHEN $3 = upload_length THEN 'received' ELSE state END
             WHERE id = $1 AND upload_offset = $2 AND state = 'receiving' AND $3 <= upload_length",
        )
        .bind(id)
        .bind(from)
        .bind(to)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(updated == 1)
    }

    /// Marks an upload as active, so a long chunk is not expired while it is written.
    pub async fn touch_upload(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE submissions SET updated_at = now() WHERE id = $1 AND state = 'receiving'")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The oldest received (or interrupted) submission nobody holds, locked for this worker.
    pub async fn claim_submission(&self) -> Result<Option<ClaimedSubmission>, StoreError> {
        let candidates: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM submissions WHERE state IN ('received', 'validating', 'ingesting')
             ORDER BY updated_at, id LIMIT 32",
        )
        .fetch_all(self.pool())
        .await?;
        if candidates.is_empty() {
            return Ok(None);
        }
        let mut connection = self.pool().acquire().await?.detach();
        for id in candidates {
            let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                .bind(SUBMISSION_LOCK_CLASS)
                .bind(lock_key(&id))
                .fetch_one(&mut connection)
                .await?;
            if !locked {
                continue;
            }
            // Read again under the lock: another worker may have finished it meanwhile.
            match self.submission(&id).await? {
                Some(submission)
                    if matches!(
                        submission.state,
                        SubmissionState::Received | SubmissionState::Validating | SubmissionState::Ingesting
                    ) =>
                {
                    return Ok(Some(ClaimedSubmission {
                        submission,
                        connection,
                    }));
                }
                _ => unlock(&mut connection, &id).await?,
            }
        }
        Ok(None)
    }

    /// Lets the submission go (its state says what became of it).
    pub async fn release(&self, claimed: ClaimedSubmission) -> Result<(), StoreError> {
        let ClaimedSubmission {
            submission,
            mut connection,
        } = claimed;
        unlock(&mut connection, &submission.id).await
    }

    pub async fn set_submission_state(&self, id: &str, state: SubmissionState) -> Result<(), StoreError> {
        sqlx::query("UPDATE submissions SET state = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(state.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn set_submission_progress(&self, id: &str, bytes_read: u64) -> Result<(), StoreError> {
        sqlx::query("UPDATE submissions SET bytes_read = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(i64::try_from(bytes_read).unwrap_or(i64::MAX))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// `records_read` unknown (an earlier attempt committed the ingest): the analysis' count.
    pub async fn commit_submission(
        &self,
        id: &str,
        analysis_id: i64,
        records_read: Option<u64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE submissions SET state = 'committed', analysis_id = $2, error = NULL,
                 records_read = coalesce($3, (SELECT record_count FROM analyses WHERE id = $2)),
                 bytes_read = upload_length, updated_at = now()
             WHERE id = $1",
        )
        .bind(id)
        .bind(analysis_id)
        .bind(records_read.map(|records| i64::try_from(records).unwrap_or(i64::MAX)))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn reject_submission(&self, id: &str, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE submissions SET state = 'rejected', error = $2, updated_at = now() WHERE id = $1",
        )
        .bind(id)
        .bind(error)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The first of `biosamples` or `pseudonyms` (by index in the two lists, biosamples first)
    /// that another platform's submission already brought into the dataset: a platform may
    /// re-analyse its own samples, not supersede or rewrite another's.
    pub async fn sample_of_another_platform(
        &self,
        dataset_id: &str,
        platform_id: &str,
        biosamples: &[String],
        pseudonyms: &[String],
    ) -> Result<Option<String>, StoreError> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT CASE WHEN b.external_id = ANY($3) THEN 'a biosample' ELSE 'a patient' END
             FROM submissions sub
             JOIN analysis_samples s ON s.analysis_id = sub.analysis_id
             JOIN biosamples b ON b.id = s.biosample_id
             JOIN individuals i ON i.id = b.individual_id
             WHERE sub.dataset_id = $1 AND sub.platform_id <> $2 AND sub.state = 'committed'
               AND (b.external_id = ANY($3) OR i.pseudonym = ANY($4))
             LIMIT 1",
        )
        .bind(dataset_id)
        .bind(platform_id)
        .bind(biosamples)
        .bind(pseudonyms)
        .fetch_optional(self.pool())
        .await?;
        Ok(found)
    }

    /// Uploads in `receiving` that got no byte for `idle`: marked `expired`. Returns their ids,
    /// so their partial files can be removed.
    pub async fn expire_uploads(&self, idle: Duration) -> Result<Vec<String>, StoreError> {
        let seconds = idle.as_secs_f64();
        let expired = sqlx::query_scalar(
            "UPDATE submissions SET state = 'expired', updated_at = now(),
                 error = format('upload expired: no data for %s seconds', $1::bigint)
             WHERE state = 'receiving' AND updated_at < now() - make_interval(secs => $2)
             RETURNING id",
        )
        .bind(idle.as_secs() as i64)
        .bind(seconds)
        .fetch_all(self.pool())
        .await?;
        Ok(expired)
    }
}

async fn unlock(connection: &mut PgConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(SUBMISSION_LOCK_CLASS)
        .bind(lock_key(id))
        .execute(&mut *connection)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_from_their_names() {
        for state in SubmissionState::ALL {
            assert_eq!(state.as_str().parse::<SubmissionState>(), Ok(state));
        }
        assert!("done".parse::<SubmissionState>().is_err());
        assert!(SubmissionState::Committed.is_final() && !SubmissionState::Ingesting.is_final());
    }
}
