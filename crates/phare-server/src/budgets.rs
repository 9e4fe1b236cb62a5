//! The node's query budgets: one in-memory ledger per process (`phare_store::BudgetLedger`),
//! flushed to the store about once a second by a background task and once more at shutdown.
//! A crash loses at most the spending since the last flush (docs/security.md, "Query budgets").

use std::sync::{Arc, Weak};
use std::time::Duration;

use phare_store::{BudgetDecision, BudgetLedger, Store, StoreError};
use tokio::sync::OnceCell;

use crate::QueryBudget;

/// How often spent units are written: the most a crash can lose.
pub(crate) const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(crate) struct Budgets {
    ledger: Arc<BudgetLedger>,
    /// Started on first use, inside the runtime serving the requests.
    flusher: OnceCell<()>,
}

impl Budgets {
    pub(crate) async fn consume(
        &self,
        store: &Store,
        keys: &[String],
        budget: QueryBudget,
    ) -> Result<BudgetDecision, StoreError> {
        self.flusher
            .get_or_init(|| async {
                tokio::spawn(flush_periodically(
                    Arc::downgrade(&self.ledger),
                    store.clone(),
                    budget.window,
                ));
            })
            .await;
        self.ledger
            .consume(store, keys, budget.queries, budget.window)
            .await
    }

    /// Writes what is still unsaved (at shutdown).
    pub(crate) async fn flush(&self, store: &Store, budget: QueryBudget) {
        if let Err(error) = self.ledger.flush(store, budget.window).await {
            tracing::error!(%error, "cannot write the query budgets");
        }
    }
}

/// Ends when the ledger is dropped (the node is gone).
async fn flush_periodically(ledger: Weak<BudgetLedger>, store: Store, window: Duration) {
    let mut ticks = tokio::time::interval(FLUSH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(ledger) = ledger.upgrade() else {
            return;
        };
        if let Err(error) = ledger.flush(&store, window).await {
            tracing::warn!(%error, "cannot write the query budgets yet: kept for the next flush");
        }
    }
}
