//! Phare's PostgreSQL store: migrations, datasets, atomic `COPY`-based ingestion of VCF/BCF
//! files into the variant dictionary, counts and carrier sets, and the variant queries.

mod audit;
mod budgets;
mod carrier_sets;
mod carriers;
mod cohorts;
mod compaction;
mod contributions;
mod copy_binary;
mod datasets;
mod entities;
mod error;
mod individuals;
mod ingest;
mod labels;
mod operations;
mod readers;
mod samples;
mod submissions;
mod variants;

#[cfg(feature = "testing")]
pub mod testing;

pub use audit::{AuditAppender, AuditDecision, AuditEntry, AuditRow, AuditVerification};
pub use budgets::{BudgetDecision, BudgetLedger};
pub use carriers::{Carrier, VariantKey, Zygosity};
pub use cohorts::{Cohort, NewCohort};
pub use compaction::{CompactionPolicy, CompactionReport};
pub use datasets::{
    AnalysisInfo, DEFAULT_MIN_COUNT, Dataset, DatasetSettings, NewDataset, PolicyRow, TableSize,
};
pub use entities::{AgeCondition, IndividualQuery, IndividualRecord};
pub use error::StoreError;
pub use individuals::ConsentChange;
pub use ingest::{INGEST_BATCH_ALLELES, IngestOutcome, IngestRequest, IngestSummary, sha256_of};
pub use operations::IngestTotals;
pub use phare_vcf::Limits;
pub use readers::QueryConnections;
pub use samples::{BiosampleQuery, BiosampleRecord, ColumnQuery, ColumnRecord};
pub use submissions::{
    ClaimedSubmission, NewSubmission, Platform, Submission, SubmissionCreated, SubmissionFilter,
    SubmissionState,
};
pub use variants::{StratumCounts, VariantCount, VariantMatch, VariantSearch};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The migrations in `migrations/`, embedded so the binary migrates without the source tree.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Longest wait for a pooled connection. While the database is down every request waits this
/// long before its 503, so it bounds the latency of an outage (docs/decisions/0036).
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// A pooled connection idle for longer than this is pinged before use; one used more recently
/// is trusted, and a statement on it that finds it broken fails with a 503 like any outage.
pub(crate) const PING_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Checks a connection before it serves again after `idle_for` of rest: trusted within
/// [`PING_WHEN_IDLE_FOR`], pinged after. Every connection the store keeps goes through this:
/// the pool's, the query connections (`readers.rs`), the audit appender's.
pub(crate) async fn check_after_idle(
    connection: &mut sqlx::PgConnection,
    idle_for: std::time::Duration,
) -> Result<(), sqlx::Error> {
    if idle_for <= PING_WHEN_IDLE_FOR {
        return Ok(());
    }
    sqlx::Connection::ping(connection).await
}

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
    /// Shared by the clones of one handle: the labels of sample columns (`labels.rs`).
    labels: std::sync::Arc<labels::LabelCache>,
    /// Shared by the clones of one handle: connections for queries' hot statements.
    readers: std::sync::Arc<readers::Readers>,
}

impl Store {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(StoreError::Connect)?;
        Self::connect_with(options).await
    }

    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // sqlx pings every idle connection it hands out: one more round trip before each
            // statement of a busy server. Only connections idle for more than a second are
            // pinged; one cut while busy (a PostgreSQL restart) fails its next statement and
            // is dropped (docs/decisions/0063).
            .test_before_acquire(false)
            .before_acquire(|connection, metadata| {
                Box::pin(async move {
                    check_after_idle(connection, metadata.idle_for).await?;
                    Ok(true)
                })
            })
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        Ok(Self::from_pool(pool))
    }

    /// Whether one connection to `url` opens now. Unlike [`Store::connect`], whose pool retries
    /// a refused connection until its acquire timeout, this fails at once.
    pub async fn answers(url: &str) -> bool {
        use sqlx::Connection as _;
        match sqlx::PgConnection::connect(url).await {
            Ok(connection) => connection.close().await.is_ok(),
            Err(_) => false,
        }
    }

    pub fn from_pool(pool: PgPool) -> Self {
        let readers = readers::Readers::new(pool.connect_options().as_ref().clone());
        Self {
            pool,
            labels: std::sync::Arc::default(),
            readers: std::sync::Arc::new(readers),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await.map_err(StoreError::Migrate)
    }

    /// Liveness of the database, for `/health`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
