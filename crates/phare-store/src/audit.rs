//! The audit log: one row per request that touches data (allowed or denied) and per
//! administrative action, in a SHA-256 hash chain that reveals edits and deletions
//! (docs/decisions/0021-audit-chain.md).

use std::time::Instant;

use sha2::{Digest, Sha256};
use sqlx::postgres::PgRow;
use sqlx::types::chrono::{DateTime, Utc};
use sqlx::{Connection as _, PgConnection, Row};

use crate::{Store, StoreError};

/// The `previous_hash` of the first row.
const GENESIS_HASH: [u8; 32] = [0; 32];

/// Longest an audit append may take once it has its connection: a connection cut without
/// a word (a firewall dropping an idle flow) must not hold every answer back until TCP gives
/// up. Past it the batch fails and its requests are withheld (503).
const APPEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Rows read per round trip by [`Store::verify_audit`]: bounds its memory whatever the log size.
const VERIFY_BATCH_ROWS: i64 = 1000;

/// Attempts of one append whose first id another writer took meanwhile: each attempt reads the
/// new head, so only writers appending without pause in between exhaust them.
const MAX_APPEND_ATTEMPTS: usize = 64;

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
    /// The appending process's clock at the append, to the microsecond, never earlier than the
    /// row before.
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

/// The hashed fields of a row, as stored. Appending hashes through this; verification too,
/// from the values PostgreSQL holds, never from a stored hash.
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

/// The last row of the chain: what the next row links to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ChainHead {
    id: i64,
    at_micros: i64,
    hash: [u8; 32],
}

impl ChainHead {
    /// Before the first row: ids start at 1 and the first link is [`GENESIS_HASH`].
    const GENESIS: Self = Self {
        id: 0,
        at_micros: i64::MIN,
        hash: GENESIS_HASH,
    };
}

/// A batch of rows chained onto a head, one array per column, for the append's `INSERT`.
struct ChainedRows {
    ids: Vec<i64>,
    ats: Vec<DateTime<Utc>>,
    subjects: Vec<String>,
    tiers: Vec<String>,
    actions: Vec<String>,
    resources: Vec<String>,
    decisions: Vec<&'static str>,
    reasons: Vec<String>,
    statuses: Vec<i16>,
    request_ids: Vec<String>,
    previous_hashes: Vec<Vec<u8>>,
    row_hashes: Vec<Vec<u8>>,
    /// The batch's last row: the head once it is committed.
    last: ChainHead,
}

impl ChainedRows {
    /// Gives each entry the next id after `head`, the time `now_micros` (never earlier than the
    /// head's, so that times follow ids even if the clock steps back) and its hash.
    fn new(entries: &[AuditEntry], head: ChainHead, now_micros: i64) -> Result<Self, StoreError> {
        let at_micros = now_micros.max(head.at_micros);
        let at = DateTime::<Utc>::from_timestamp_micros(at_micros)
            .ok_or_else(|| StoreError::Internal(format!("audit time {at_micros} is out of range")))?;
        let mut rows = Self {
            ids: Vec::with_capacity(entries.len()),
            ats: Vec::with_capacity(entries.len()),
            subjects: Vec::with_capacity(entries.len()),
            tiers: Vec::with_capacity(entries.len()),
            actions: Vec::with_capacity(entries.len()),
            resources: Vec::with_capacity(entries.len()),
            decisions: Vec::with_capacity(entries.len()),
            reasons: Vec::with_capacity(entries.len()),
            statuses: Vec::with_capacity(entries.len()),
            request_ids: Vec::with_capacity(entries.len()),
            previous_hashes: Vec::with_capacity(entries.len()),
            row_hashes: Vec::with_capacity(entries.len()),
            last: head,
        };
        for entry in entries {
            // smallint holds every HTTP status; a larger code is a caller bug, not a row to store.
            let status = i16::try_from(entry.status).map_err(|_| {
                StoreError::Internal(format!("audit status {} is out of range", entry.status))
            })?;
            let previous = rows.last;
            let id = previous
                .id
                .checked_add(1)
                .ok_or_else(|| StoreError::Internal("audit ids are exhausted".into()))?;
            let hash = ChainFields {
                id,
                at_micros,
                subject: &entry.subject,
                tier: &entry.tier,
                action: &entry.action,
                resource: &entry.resource,
                decision: entry.decision.as_str(),
                reason: &entry.reason,
                status,
                request_id: &entry.request_id,
                previous_hash: &previous.hash,
            }
            .hash();
            rows.ids.push(id);
            rows.ats.push(at);
            rows.subjects.push(entry.subject.clone());
            rows.tiers.push(entry.tier.clone());
            rows.actions.push(entry.action.clone());
            rows.resources.push(entry.resource.clone());
            rows.decisions.push(entry.decision.as_str());
            rows.reasons.push(entry.reason.clone());
            rows.statuses.push(status);
            rows.request_ids.push(entry.request_id.clone());
            rows.previous_hashes.push(previous.hash.to_vec());
            rows.row_hashes.push(hash.to_vec());
            rows.last = ChainHead { id, at_micros, hash };
        }
        Ok(rows)
    }

    /// One statement for the whole batch; outside a transaction block it commits before it
    /// returns. If another writer appended since the head was read, the first id is taken: the
    /// primary key refuses the batch ([`id_taken`]) and nothing of it is stored.
    async fn insert(&self, connection: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO audit_log (id, at, subject, tier, action, resource, decision, reason, status,
                                    request_id, previous_hash, row_hash)
             OVERRIDING SYSTEM VALUE
             SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[], $8::text[], $9::smallint[], $10::text[],
                                  $11::bytea[], $12::bytea[])",
        )
        .bind(&self.ids)
        .bind(&self.ats)
        .bind(&self.subjects)
        .bind(&self.tiers)
        .bind(&self.actions)
        .bind(&self.resources)
        .bind(&self.decisions)
        .bind(&self.reasons)
        .bind(&self.statuses)
        .bind(&self.request_ids)
        .bind(&self.previous_hashes)
        .bind(&self.row_hashes)
        .execute(connection)
        .await?;
        Ok(())
    }
}

/// The chain's last committed row, or [`ChainHead::GENESIS`] for an empty log.
async fn chain_head(connection: &mut PgConnection) -> Result<ChainHead, StoreError> {
    let row = sqlx::query("SELECT id, at, row_hash FROM audit_log ORDER BY id DESC LIMIT 1")
        .fetch_optional(connection)
        .await?;
    let Some(row) = row else {
        return Ok(ChainHead::GENESIS);
    };
    let id: i64 = row.try_get("id")?;
    let at: DateTime<Utc> = row.try_get("at")?;
    let stored_hash: Vec<u8> = row.try_get("row_hash")?;
    let hash = <[u8; 32]>::try_from(stored_hash.as_slice()).map_err(|_| {
        StoreError::Internal(format!(
            "audit row {id} has a hash of {} bytes",
            stored_hash.len()
        ))
    })?;
    Ok(ChainHead {
        id,
        at_micros: at.timestamp_micros(),
        hash,
    })
}

/// Whether an append was refused because its first id is taken: another writer (another
/// process, the CLI) appended after the head was read.
fn id_taken(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.constraint() == Some("audit_log_pkey"))
}

fn head_kept_moving() -> StoreError {
    StoreError::Internal(format!(
        "another writer took the audit chain's next id {MAX_APPEND_ATTEMPTS} times in a row"
    ))
}

impl Store {
    /// Appends one row to the chain.
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.append_audit_batch(std::slice::from_ref(entry)).await
    }

    /// Appends several rows, in order, for a writer that appends now and then (the CLI): an
    /// appender of its own for these rows ([`Store::audit_appender`]), so a connection opened
    /// for them, never one a cancelled caller left inside a transaction block.
    pub async fn append_audit_batch(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        self.audit_appender().append(entries).await
    }

    /// An appender with a connection of its own, kept from one batch to the next, for a writer
    /// that appends all the time: one statement per batch, no pool hand-over (and its pings).
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
    kept: Option<KeptConnection>,
}

#[derive(Debug)]
struct KeptConnection {
    /// Opened by the appender, never taken from the pool: no other code ever runs a statement
    /// on it, so it is never inside a transaction block and each append commits by itself.
    connection: PgConnection,
    /// When its last append ended.
    idle_since: Instant,
    /// The head after its last append: the next batch links to it without reading it.
    head: ChainHead,
}

impl AuditAppender {
    /// Appends `entries` in order, returning once they are committed: one `INSERT` chained onto
    /// the head of the previous append. Lock-free: if another writer took the next id meanwhile,
    /// the head is read again and the batch chained onto it. The kept connection is pinged
    /// first when idle long enough to have been cut, as the pool does, and replaced if the
    /// ping fails; the append is bounded by [`APPEND_TIMEOUT`]. A failed or timed-out append
    /// discards its connection, so that the next one starts afresh.
    pub async fn append(&mut self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let kept = match self.kept.take() {
            Some(mut kept) => {
                let idle_for = kept.idle_since.elapsed();
                let checked = tokio::time::timeout(
                    crate::ACQUIRE_TIMEOUT,
                    crate::check_after_idle(&mut kept.connection, idle_for),
                )
                .await;
                matches!(checked, Ok(Ok(()))).then_some(kept)
            }
            None => None,
        };
        let (mut connection, known_head) = match kept {
            Some(kept) => (kept.connection, Some(kept.head)),
            None => (self.connect().await?, None),
        };
        let appended =
            tokio::time::timeout(APPEND_TIMEOUT, append_from(&mut connection, known_head, entries)).await;
        let head = match appended {
            Ok(appended) => appended?,
            Err(_) => {
                return Err(StoreError::Internal(format!(
                    "an audit append took longer than {} s: its connection was dropped",
                    APPEND_TIMEOUT.as_secs()
                )));
            }
        };
        self.kept = Some(KeptConnection {
            connection,
            idle_since: Instant::now(),
            head,
        });
        Ok(())
    }

    async fn connect(&self) -> Result<PgConnection, StoreError> {
        let options = self.store.pool().connect_options();
        match tokio::time::timeout(crate::ACQUIRE_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(connection) => Ok(connection?),
            Err(_) => Err(StoreError::Internal(format!(
                "no audit connection within {} s",
                crate::ACQUIRE_TIMEOUT.as_secs()
            ))),
        }
    }
}

/// One append on the appender's connection, from `known_head` (read when unknown); returns the
/// new head.
async fn append_from(
    connection: &mut PgConnection,
    known_head: Option<ChainHead>,
    entries: &[AuditEntry],
) -> Result<ChainHead, StoreError> {
    let mut known_head = known_head;
    for _ in 0..MAX_APPEND_ATTEMPTS {
        let head = match known_head {
            Some(head) => head,
            None => chain_head(connection).await?,
        };
        let rows = ChainedRows::new(entries, head, Utc::now().timestamp_micros())?;
        match rows.insert(connection).await {
            Ok(()) => return Ok(rows.last),
            Err(error) if id_taken(&error) => known_head = None,
            Err(error) => return Err(error.into()),
        }
    }
    Err(head_kept_moving())
}
