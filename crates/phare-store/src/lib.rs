//! Phare's PostgreSQL store: migrations, datasets, atomic `COPY`-based ingestion of VCF/BCF
//! files into the variant dictionary, counts and carrier sets, and the variant queries.

mod audit;
mod budgets;
mod carriers;
mod cohorts;
mod contributions;
mod datasets;
mod entities;
mod error;
mod individuals;
mod ingest;
mod samples;
mod submissions;
mod variants;

#[cfg(feature = "testing")]
pub mod testing;

pub use audit::{AuditDecision, AuditEntry, AuditRow, AuditVerification};
pub use budgets::{BudgetDecision, BudgetLedger};
pub use carriers::{Carrier, VariantKey, Zygosity};
pub use cohorts::{Cohort, NewCohort};
pub use datasets::{
    AnalysisInfo, DEFAULT_MIN_COUNT, Dataset, DatasetSettings, NewDataset, PolicyRow, TableSize,
};
pub use entities::{AgeCondition, IndividualQuery, IndividualRecord};
pub use error::StoreError;
pub use individuals::ConsentChange;
pub use ingest::{IngestOutcome, IngestRequest, IngestSummary, sha256_of};
pub use phare_vcf::Limits;
pub use samples::{BiosampleQuery, BiosampleRecord, ColumnQuery, ColumnRecord};
pub use submissions::{
    ClaimedSubmission, NewSubmission, Platform, Submission, SubmissionCreated, SubmissionFilter,
    SubmissionState,
};
pub use variants::{StratumCounts, VariantMatch, VariantSearch};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The migrations in `migrations/`, embedded so the binary migrates without the source tree.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// A handle on the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(StoreError::Connect)?;
        Self::connect_with(options).await
    }

    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        Ok(Self { pool })
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self { pool }
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
