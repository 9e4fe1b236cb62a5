//! What an operator's monitoring reads from the database: totals of what ingest has stored, and
//! whether a failure means the database is out of reach (the node answers 503, not 500).

use sqlx::Row;

use crate::{Store, StoreError};

/// Everything ingested so far, over all datasets: a monitoring system derives ingest throughput
/// from how these grow (`rate()` in Prometheus).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestTotals {
    pub analyses: i64,
    pub records: i64,
    pub alleles: i64,
}

impl Store {
    pub async fn ingest_totals(&self) -> Result<IngestTotals, StoreError> {
        let row = sqlx::query(
            "SELECT count(*) AS analyses, coalesce(sum(record_count), 0)::bigint AS records,
                    coalesce(sum(allele_count), 0)::bigint AS alleles
             FROM analyses",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(IngestTotals {
            analyses: row.try_get("analyses")?,
            records: row.try_get("records")?,
            alleles: row.try_get("alleles")?,
        })
    }
}

impl StoreError {
    /// The database could not be reached (down, restarting, every connection busy past the
    /// acquire timeout), as opposed to a statement failing.
    pub fn is_unavailable(&self) -> bool {
        let error = match self {
            Self::Connect(error) | Self::Database(error) => error,
            _ => return false,
        };
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            // Class 08 (connection exception) and 57P (operator intervention: the server is
            // shutting down or restarting) end the statement, not the node.
            sqlx::Error::Database(error) => error
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
            _ => false,
        }
    }
}
