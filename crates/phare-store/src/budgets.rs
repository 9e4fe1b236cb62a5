//! Query budgets: at most `limit` queries per key in a sliding window. A key names who spends
//! it: a user and a dataset, or the IP address of an anonymous caller.
//!
//! The window is counted in memory ([`BudgetLedger`]): a query costs no database round trip,
//! and concurrent requests of one process are decided one after the other under one lock, so
//! they never overshoot. Spent units are written to `query_budget_events` by
//! [`BudgetLedger::flush`], which the server calls about once a second and at shutdown; a key
//! first seen by a process is read back from there, so a restart keeps what was flushed. What a
//! crash loses is the spending since the last flush (docs/decisions/0040-budgets-in-memory.md).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use sqlx::types::chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use crate::{Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetDecision {
    Allowed,
    /// Nothing was consumed; the server answers 429 with this as `Retry-After`.
    Exhausted {
        retry_after_seconds: u64,
    },
}

/// Whole seconds, rounded up, and at least 1: `Retry-After: 0` would invite an immediate retry
/// that fails again.
fn seconds_rounded_up(micros: i64) -> u64 {
    micros.max(1).unsigned_abs().div_ceil(1_000_000)
}

fn window_micros(window: Duration) -> Result<i64, StoreError> {
    i64::try_from(window.as_micros()).map_err(|_| StoreError::Internal("budget window is too long".into()))
}

/// One process's view of the budgets: the spending of every key it has seen within the window,
/// and what it has not yet written to the store.
#[derive(Debug, Default)]
pub struct BudgetLedger {
    state: Mutex<LedgerState>,
}

#[derive(Debug, Default)]
struct LedgerState {
    /// Times of spent units (microseconds since the epoch), oldest first, per key.
    spent: HashMap<String, VecDeque<i64>>,
    /// Units spent since the last flush.
    unsaved: Vec<(String, i64)>,
    /// The latest time handed out: a clock stepping back must not reorder a key's units.
    latest_micros: i64,
}

impl BudgetLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes one unit from every key, or from none: if any key has `limit` or more units
    /// within the last `window`, nothing is recorded and the answer is Exhausted, with the
    /// seconds until that key gets a unit back (at least 1; with several such keys, the longest
    /// wait, since the call cannot succeed before). A key's unit comes back when its `limit`-th
    /// most recent unit leaves the window. A `limit` of 0 refuses every call, with the window
    /// as the wait. A key named twice counts once.
    ///
    /// A key this ledger has not seen yet is first read from the store (what earlier processes
    /// flushed), under the ledger's lock, so concurrent first calls read it once.
    pub async fn consume(
        &self,
        store: &Store,
        keys: &[String],
        limit: u32,
        window: Duration,
    ) -> Result<BudgetDecision, StoreError> {
        let window_micros = window_micros(window)?;
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
        let mut state = self.state.lock().await;
        let unseen: Vec<String> = keys
            .iter()
            .filter(|key| !state.spent.contains_key(**key))
            .map(|key| (*key).to_owned())
            .collect();
        if !unseen.is_empty() {
            let since = Utc::now().timestamp_micros().saturating_sub(window_micros);
            let mut loaded = store.budget_events_since(&unseen, since).await?;
            for key in unseen {
                let times = loaded.remove(&key).unwrap_or_default();
                state.spent.insert(key, times);
            }
        }
        let now = Utc::now().timestamp_micros().max(state.latest_micros);
        state.latest_micros = now;
        let cutoff = now.saturating_sub(window_micros);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut longest_wait: Option<i64> = None;
        for key in &keys {
            let Some(times) = state.spent.get_mut(*key) else {
                continue;
            };
            while times.front().is_some_and(|at| *at <= cutoff) {
                times.pop_front();
            }
            if times.len() >= limit {
                // The unit whose leaving frees one: it leaves when the cutoff passes it.
                let freeing = times[times.len() - limit];
                let wait = freeing - cutoff;
                longest_wait = Some(longest_wait.map_or(wait, |longest| longest.max(wait)));
            }
        }
        if let Some(wait) = longest_wait {
            return Ok(BudgetDecision::Exhausted {
                retry_after_seconds: seconds_rounded_up(wait),
            });
        }
        for key in keys {
            state.spent.entry(key.to_owned()).or_default().push_back(now);
            state.unsaved.push((key.to_owned(), now));
        }
        Ok(BudgetDecision::Allowed)
    }

    /// Writes the units spent since the last flush in one transaction, deletes the expired
    /// ones of the keys written, and forgets keys with nothing left in the window (they are
    /// read again when next seen). Returns how many units were written. If the write fails,
    /// the units are kept for the next flush.
    pub async fn flush(&self, store: &Store, window: Duration) -> Result<usize, StoreError> {
        let window_micros = window_micros(window)?;
        let unsaved = {
            let mut state = self.state.lock().await;
            let cutoff = Utc::now()
                .timestamp_micros()
                .max(state.latest_micros)
                .saturating_sub(window_micros);
            state
                .spent
                .retain(|_, times| times.back().is_some_and(|at| *at > cutoff));
            std::mem::take(&mut state.unsaved)
        };
        if unsaved.is_empty() {
            return Ok(0);
        }
        let written = unsaved.len();
        if let Err(error) = store.record_budget_events(&unsaved, window_micros).await {
            let mut state = self.state.lock().await;
            let later = std::mem::replace(&mut state.unsaved, unsaved);
            state.unsaved.extend(later);
            return Err(error);
        }
        Ok(written)
    }
}

fn timestamp(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Internal(format!("budget time {micros} is out of range")))
}

impl Store {
    /// The stored units of `keys` spent after `since_micros`, oldest first per key.
    async fn budget_events_since(
        &self,
        keys: &[String],
        since_micros: i64,
    ) -> Result<HashMap<String, VecDeque<i64>>, StoreError> {
        let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT budget_key, at FROM query_budget_events
             WHERE budget_key = ANY($1) AND at > $2 ORDER BY budget_key, at",
        )
        .bind(keys)
        .bind(timestamp(since_micros)?)
        .fetch_all(self.pool())
        .await?;
        let mut events: HashMap<String, VecDeque<i64>> = HashMap::new();
        for (key, at) in rows {
            events.entry(key).or_default().push_back(at.timestamp_micros());
        }
        Ok(events)
    }

    /// Appends spent units and deletes the expired units of the same keys, in one transaction.
    async fn record_budget_events(
        &self,
        events: &[(String, i64)],
        window_micros: i64,
    ) -> Result<(), StoreError> {
        let mut keys = Vec::with_capacity(events.len());
        let mut times = Vec::with_capacity(events.len());
        let mut latest = i64::MIN;
        for (key, at) in events {
            keys.push(key.as_str());
            times.push(timestamp(*at)?);
            latest = latest.max(*at);
        }
        let cutoff = timestamp(latest.saturating_sub(window_micros))?;
        let mut transaction = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO query_budget_events (budget_key, at)
             SELECT * FROM unnest($1::text[], $2::timestamptz[])",
        )
        .bind(&keys)
        .bind(&times)
        .execute(&mut *transaction)
        .await?;
        keys.sort_unstable();
        keys.dedup();
        sqlx::query("DELETE FROM query_budget_events WHERE budget_key = ANY($1) AND at <= $2")
            .bind(&keys)
            .bind(cutoff)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }
}
