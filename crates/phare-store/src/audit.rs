//! The audit log: one row per request that touches data (allowed or denied) and per
//! administrative action, in a SHA-256 hash chain that reveals edits and deletions
//! (docs/decisions/0021-audit-chain.md).

use std::time::Instant;

use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::types::chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Row};

use crate::{Store, StoreError};

/// The `previous_hash` of the first row.
const GENESIS_HASH: [u8; 32] = [0; 32];

/// Longest an audit append may take once it has its connection: a connection cut without
/// a word (a firewall dropping an idle flow) must not hold every answer back until TCP gives
/// up. Past it the batch fails and its requests are withheld (503).
const APPEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Rows read per round trip by [`Store::verify_audit`]: bounds its memory whatever the log size.
const VERIFY_BATCH_ROWS: i64 = 1000;

/// Versions the hashed encoding, so that a later change cannot produce an old row's hash.
const HASH_DOMAIN: &[u8] = b"phare.audit_log.v1";

/// One event to record.
///
/// `resource` names what was touched (a dataset, an endpoint, a hashed query). It must never
/// hold a raw variant or a token: the caller HMACs variant coordinates before they get here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub subject: String,
    pub tier: String,
    pub action: String,
    pub resource: String,
    pub decision: AuditDecision,
    pub reason: String,
    /// The HTTP status answered, or the outcome code of an administrative action.
    pub status: u16,
    pub request_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditDecision {
    Allow,
    Deny,
}

impl AuditDecision {
    /// Allowed when the answer succeeded, denied otherwise.
    pub fn of_success(success: bool) -> Self {
        if success { Self::Allow } else { Self::Deny }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "allow" => Some(Self::Allow),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// The outcome of checking the whole chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditVerification {
    Intact {
        rows: u64,
    },
    /// The first row, in id order, that does not fit: its content no longer matches its hash,
    /// or its link does not match the row before it (a row was deleted, inserted or rewritten).
    Broken {
        row_id: i64,
        reason: String,
    },
}

/// One stored row, as `phare audit list` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    /// Server time of the append (`clock_timestamp()`), to the microsecond.
    pub at: DateTime<Utc>,
    pub subject: String,
    pub tier: String,
    pub action: String,
    pub resource: String,
    pub decision: AuditDecision,
    pub reason: String,
    pub status: u16,
    pub request_id: String,
    pub previous_hash: Vec<u8>,
    pub row_hash: Vec<u8>,
}

/// The hashed fields of a row, as stored. Verification hashes through this, from the values
/// PostgreSQL holds, never from a hash PostgreSQL computed; appending hashes the same encoding
/// in SQL (migration 0019), so every verification also checks that the two agree.
struct ChainFields<'a> {
    id: i64,
    at_micros: i64,
    subject: &'a str,
    tier: &'a str,
    action: &'a str,
    resource: &'a str,
    decision: &'a str,
    reason: &'a str,
    status: i16,
    request_id: &'a str,
    previous_hash: &'a [u8],
}

impl ChainFields<'_> {
    /// SHA-256 over an unambiguous encoding: fixed-width big-endian integers, and every
    /// variable field preceded by its length, so no two different rows encode alike.
    fn hash(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        };
        field(HASH_DOMAIN);
        field(&self.id.to_be_bytes());
        field(&self.at_micros.to_be_bytes());
        field(self.subject.as_bytes());
        field(self.tier.as_bytes());
        field(self.action.as_bytes());
        field(self.resource.as_bytes());
        field(self.decision.as_bytes());
        field(self.reason.as_bytes());
        field(&self.status.to_be_bytes());
        field(self.request_id.as_bytes());
        field(self.previous_hash);
        hasher.finalize().into()
    }
}

/// A row as read for verification: the raw column values, whatever they now hold.
struct StoredRow {
    id: i64,
    at: DateTime<Utc>,
    subject: String,
    tier: String,
    action: String,
    resource: String,
    decision: String,
    reason: String,
    status: i16,
    request_id: String,
    previous_hash: Vec<u8>,
    row_hash: Vec<u8>,
}

impl StoredRow {
    fn read(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            at: row.try_get("at")?,
            subject: row.try_get("subject")?,
            tier: row.try_get("tier")?,
            action: row.try_get("action")?,
            resource: row.try_get("resource")?,
            decision: row.try_get("decision")?,
            reason: row.try_get("reason")?,
            status: row.try_get("status")?,
            request_id: row.try_get("request_id")?,
            previous_hash: row.try_get("previous_hash")?,
            row_hash: row.try_get("row_hash")?,
        })
    }

    fn computed_hash(&self) -> [u8; 32] {
        ChainFields {
            id: self.id,
            at_micros: self.at.timestamp_micros(),
            subject: &self.subject,
            tier: &self.tier,
            action: &self.action,
            resource: &self.resource,
            decision: &self.decision,
            reason: &self.reason,
            status: self.status,
            request_id: &self.request_id,
            previous_hash: &self.previous_hash,
        }
        .hash()
    }

    fn into_audit_row(self) -> Result<AuditRow, StoreError> {
        let decision = AuditDecision::parse(&self.decision).ok_or_else(|| {
            StoreError::Internal(format!(
                "audit row {} has an unknown decision `{}`",
                self.id, self.decision
            ))
        })?;
        let status = u16::try_from(self.status).map_err(|_| {
            StoreError::Internal(format!(
                "audit row {} has a negative status {}",
                self.id, self.status
            ))
        })?;
        Ok(AuditRow {
            id: self.id,
            at: self.at,
            subject: self.subject,
            tier: self.tier,
            action: self.action,
            resource: self.resource,
            decision,
            reason: self.reason,
            status,
            request_id: self.request_id,
            previous_hash: self.previous_hash,
            row_hash: self.row_hash,
        })
    }
}

/// A batch of rows as one array per column, for `audit_append`.
struct AuditColumns {
    subjects: Vec<String>,
    tiers: Vec<String>,
    actions: Vec<String>,
    resources: Vec<String>,
    decisions: Vec<&'static str>,
    reasons: Vec<String>,
    statuses: Vec<i16>,
    request_ids: Vec<String>,
}

impl AuditColumns {
    fn with_capacity(rows: usize) -> Self {
        Self {
            subjects: Vec::with_capacity(rows),
            tiers: Vec::with_capacity(rows),
            actions: Vec::with_capacity(rows),
            resources: Vec::with_capacity(rows),
            decisions: Vec::with_capacity(rows),
            reasons: Vec::with_capacity(rows),
            statuses: Vec::with_capacity(rows),
            request_ids: Vec::with_capacity(rows),
        }
    }

    fn push(&mut self, entry: &AuditEntry, status: i16) {
        self.subjects.push(entry.subject.clone());
        self.tiers.push(entry.tier.clone());
        self.actions.push(entry.action.clone());
        self.resources.push(entry.resource.clone());
        self.decisions.push(entry.decision.as_str());
        self.reasons.push(entry.reason.clone());
        self.statuses.push(status);
        self.request_ids.push(entry.request_id.clone());
    }
}

impl Store {
    /// Appends one row to the chain. Appends are serialised by an advisory lock held until
    /// commit: the id, the time and the previous hash are all taken under it, so ids, times and
    /// links follow one order.
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.append_audit_batch(std::slice::from_ref(entry)).await
    }

    /// Appends several rows in one transaction, in order: one durable commit and one round trip
    /// for all of them, which is what lets a busy server keep one audit row per request (group
    /// commit).
    pub async fn append_audit_batch(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let mut connection = self.pool().acquire().await?;
        append_batch(&mut connection, entries).await
    }

    /// An appender that keeps its connection from one batch to the next, for a writer that
    /// appends all the time: no pool hand-over (and its ping) before and after each batch.
    pub fn audit_appender(&self) -> AuditAppender {
        AuditAppender {
            store: self.clone(),
            kept: None,
        }
    }

    /// Walks the whole chain in id order, in batches, recomputing every row's hash and checking
    /// every link, and reports the first row that does not fit.
    ///
    /// Gaps in ids are accepted: a rolled-back append leaves one in the sequence, and the links
    /// alone reveal a deleted row (the next row's `previous_hash` no longer matches). Deleting
    /// the last rows leaves no trace in the chain itself; comparing the head with an exported
    /// copy does (see the decision note).
    pub async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let mut expected_previous = GENESIS_HASH.to_vec();
        let mut last_id = i64::MIN;
        let mut rows_checked: u64 = 0;
        loop {
            let batch = sqlx::query(
                "SELECT id, at, subject, tier, action, resource, decision, reason, status, request_id,
                        previous_hash, row_hash
                 FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(last_id)
            .bind(VERIFY_BATCH_ROWS)
            .fetch_all(self.pool())
            .await?;
            if batch.is_empty() {
                return Ok(AuditVerification::Intact { rows: rows_checked });
            }
            for row in &batch {
                let stored = StoredRow::read(row)?;
                if stored.previous_hash != expected_previous {
                    return Ok(AuditVerification::Broken {
                        row_id: stored.id,
                        reason: "previous_hash does not match the row before it: a row was deleted, inserted or rewritten".into(),
                    });
                }
                if stored.row_hash != stored.computed_hash() {
                    return Ok(AuditVerification::Broken {
                        row_id: stored.id,
                        reason: "row_hash does not match the row's content: the row was edited".into(),
                    });
                }
                last_id = stored.id;
                expected_previous = stored.row_hash;
                rows_checked += 1;
            }
        }
    }

    /// The `limit` most recent rows, newest first.
    pub async fn audit_rows(&self, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, subject, tier, action, resource, decision, reason, status, request_id,
                    previous_hash, row_hash
             FROM audit_log ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| StoredRow::read(row)?.into_audit_row())
            .collect()
    }
}

/// Keeps one connection for its appends; see [`Store::audit_appender`].
#[derive(Debug)]
pub struct AuditAppender {
    store: Store,
    /// The kept connection, and when its last append ended.
    kept: Option<(PoolConnection<Postgres>, Instant)>,
}

impl AuditAppender {
    /// As [`Store::append_audit_batch`]. The kept connection is pinged first when idle long
    /// enough to have been cut, as the pool does, and replaced if the ping fails; the append
    /// itself is bounded by [`APPEND_TIMEOUT`]. A failed or timed-out append discards its
    /// connection, so that the next one starts on a fresh connection.
    pub async fn append(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        let kept = match self.kept.take() {
            Some((connection, idle_since)) if idle_since.elapsed() <= crate::PING_WHEN_IDLE_FOR => {
                Some(connection)
            }
            Some((mut connection, _)) => {
                let pinged =
                    tokio::time::timeout(crate::ACQUIRE_TIMEOUT, sqlx::Connection::ping(&mut *connection))
                        .await;
                if matches!(pinged, Ok(Ok(()))) {
                    Some(connection)
                } else {
                    drop(connection.detach());
                    None
                }
            }
            None => None,
        };
        let mut connection = match kept {
            Some(connection) => connection,
            None => self.store.pool().acquire().await?,
        };
        let appended =
            match tokio::time::timeout(APPEND_TIMEOUT, append_batch(&mut connection, entries)).await {
                Ok(appended) => appended,
                Err(_) => Err(StoreError::Internal(format!(
                    "an audit append took longer than {} s: its connection was dropped",
                    APPEND_TIMEOUT.as_secs()
                ))),
            };
        match appended {
            Ok(()) => {
                self.kept = Some((connection, Instant::now()));
                Ok(())
            }
            Err(error) => {
                drop(connection.detach());
                Err(error)
            }
        }
    }
}

/// One statement, the procedure `audit_append` (migration 0019), in one round trip: it takes the
/// chain's lock, reads the head, draws ids and times, hashes each row as [`ChainFields::hash`]
/// does and commits, so it returns once its rows are durable. On a connection left inside a
/// transaction block its COMMIT is refused: an error, never rows reported but uncommitted.
async fn append_batch(connection: &mut PgConnection, entries: &[AuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut rows = AuditColumns::with_capacity(entries.len());
    for entry in entries {
        // smallint holds every HTTP status; a larger code is a caller bug, not a row to store.
        let status = i16::try_from(entry.status)
            .map_err(|_| StoreError::Internal(format!("audit status {} is out of range", entry.status)))?;
        rows.push(entry, status);
    }
    sqlx::query("CALL audit_append($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&rows.subjects)
        .bind(&rows.tiers)
        .bind(&rows.actions)
        .bind(&rows.resources)
        .bind(&rows.decisions)
        .bind(&rows.reasons)
        .bind(&rows.statuses)
        .bind(&rows.request_ids)
        .execute(connection)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_chain_lock_key_spells_paud() {
        let migration = include_str!("../../../migrations/0019_audit_append.sql");
        assert_eq!(i32::from_be_bytes(*b"paud"), 1_885_435_236);
        assert!(migration.contains("pg_advisory_xact_lock(1885435236, 0)"));
    }
}
