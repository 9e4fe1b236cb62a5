//! Query budgets: at most `limit` queries per key in a sliding window, counted in PostgreSQL so
//! that every server process sharing the database shares the budget. A key names who spends
//! it: a user and a dataset, or the IP address of an anonymous caller.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::types::chrono::{DateTime, Utc};

use crate::{Store, StoreError};

/// Class of the two-key advisory locks taken per budget key; the two-key space does not overlap
/// the single-key locks taken elsewhere in the store.
const BUDGET_LOCK_CLASS: i32 = i32::from_be_bytes(*b"pbud");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetDecision {
    Allowed,
    /// Nothing was consumed; the server answers 429 with this as `Retry-After`.
    Exhausted {
        retry_after_seconds: u64,
    },
}

/// The advisory lock of one key: a hash, so keys of any length map to the lock space. Two keys
/// that collide merely wait for each other.
fn lock_of(key: &str) -> i32 {
    let digest = Sha256::digest(key.as_bytes());
    i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Whole seconds, rounded up, and at least 1: `Retry-After: 0` would invite an immediate retry
/// that fails again.
fn seconds_rounded_up(micros: i64) -> u64 {
    micros.max(1).unsigned_abs().div_ceil(1_000_000)
}

impl Store {
    /// Consumes one unit from every key, or from none: if any key has `limit` or more events
    /// within the last `window`, nothing is recorded and the answer is Exhausted, with the
    /// seconds until that key gets a unit back (at least 1; with several such keys, the longest
    /// wait, since the call cannot succeed before). A key's unit comes back when its `limit`-th
    /// most recent event leaves the window, which is its oldest one unless the limit was
    /// lowered. A `limit` of 0 refuses every call, with the window as the wait. A key named
    /// twice counts once.
    ///
    /// Keys are locked in a fixed order (sorted advisory lock ids, held until commit), so
    /// concurrent calls neither deadlock nor overshoot the limit. Events older than the window
    /// are deleted for the keys touched.
    pub async fn consume_budget(
        &self,
        keys: &[String],
        limit: u32,
        window: Duration,
    ) -> Result<BudgetDecision, StoreError> {
        let too_long = || StoreError::Internal("budget window is too long".into());
        let window_micros = i64::try_from(window.as_micros()).map_err(|_| too_long())?;
        let mut keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(BudgetDecision::Allowed);
        }
        if limit == 0 {
            return Ok(BudgetDecision::Exhausted {
                retry_after_seconds: seconds_rounded_up(window_micros),
            });
        }
        // Sorted by lock id rather than by key: two keys with colliding hashes would otherwise
        // be taken in different orders by different calls.
        let mut locks: Vec<i32> = keys.iter().map(|key| lock_of(key)).collect();
        locks.sort_unstable();
        locks.dedup();

        let mut transaction = self.pool().begin().await?;
        for lock in locks {
            sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind(BUDGET_LOCK_CLASS)
                .bind(lock)
                .execute(&mut *transaction)
                .await?;
        }
        // Read after the locks: the time must not precede events committed while waiting.
        let now: DateTime<Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(&mut *transaction)
            .await?;
        let cutoff_micros = now
            .timestamp_micros()
            .checked_sub(window_micros)
            .ok_or_else(too_long)?;
        let cutoff = DateTime::<Utc>::from_timestamp_micros(cutoff_micros).ok_or_else(too_long)?;
        sqlx::query("DELETE FROM query_budget_events WHERE budget_key = ANY($1) AND at <= $2")
            .bind(&keys)
            .bind(cutoff)
            .execute(&mut *transaction)
            .await?;

        let mut longest_wait_micros: Option<i64> = None;
        for key in &keys {
            // Only events within the window remain, so a `limit`-th most recent one exists
            // exactly when the key is exhausted, and it is the one whose leaving frees a unit.
            let freeing_event: Option<DateTime<Utc>> = sqlx::query_scalar(
                "SELECT at FROM query_budget_events WHERE budget_key = $1
                 ORDER BY at DESC OFFSET $2 LIMIT 1",
            )
            .bind(key)
            .bind(i64::from(limit - 1))
            .fetch_optional(&mut *transaction)
            .await?;
            if let Some(at) = freeing_event {
                // It leaves when the cutoff passes it.
                let wait = at.timestamp_micros() - cutoff_micros;
                longest_wait_micros = Some(longest_wait_micros.map_or(wait, |longest| longest.max(wait)));
            }
        }
        if let Some(wait) = longest_wait_micros {
            // Commit all the same, to keep the deletion of expired events.
            transaction.commit().await?;
            return Ok(BudgetDecision::Exhausted {
                retry_after_seconds: seconds_rounded_up(wait),
            });
        }
        sqlx::query(
            "INSERT INTO query_budget_events (budget_key, at) SELECT key, $2 FROM unnest($1::text[]) AS key",
        )
        .bind(&keys)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(BudgetDecision::Allowed)
    }
}
