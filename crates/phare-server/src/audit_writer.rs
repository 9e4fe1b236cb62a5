//! Writes the gate's audit rows in batches: requests arriving while a batch commits wait for
//! the next one, so a busy node pays one durable commit per batch instead of one per request
//! (group commit). Each request still waits until its own row is committed before its answer
//! leaves: no access goes unaccounted for.

use phare_store::{AuditEntry, Store};
use tokio::sync::{OnceCell, mpsc, oneshot};

/// Rows written in one transaction at most.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<(), String>>;

#[derive(Debug, Default)]
pub(crate) struct AuditWriter {
    /// Started on first use, inside the runtime serving the requests.
    sender: OnceCell<mpsc::Sender<(AuditEntry, Reply)>>,
}

impl AuditWriter {
    /// Rows queued and not yet taken by the writer (for `/metrics`).
    pub(crate) fn queue_depth(&self) -> usize {
        self.sender
            .get()
            .map_or(0, |sender| sender.max_capacity() - sender.capacity())
    }

    /// Appends `entry`, returning once it is committed (or with the reason it could not be).
    pub(crate) async fn append(&self, store: &Store, entry: AuditEntry) -> Result<(), String> {
        let sender = self
            .sender
            .get_or_init(|| async {
                let (sender, receiver) = mpsc::channel(MAX_BATCH * 4);
                tokio::spawn(write_batches(store.clone(), receiver));
                sender
            })
            .await;
        let (reply, committed) = oneshot::channel();
        sender
            .send((entry, reply))
            .await
            .map_err(|_| "the audit writer stopped".to_owned())?;
        committed
            .await
            .map_err(|_| "the audit writer stopped".to_owned())?
    }
}

async fn write_batches(store: Store, mut receiver: mpsc::Receiver<(AuditEntry, Reply)>) {
    let mut appender = store.audit_appender();
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let entries: Vec<AuditEntry> = batch.iter().map(|(entry, _)| entry.clone()).collect();
        let outcome = appender.append(&entries).await.map_err(|error| error.to_string());
        for (_, reply) in batch {
            // A request that gave up waiting has nothing left to answer.
            let _ = reply.send(outcome.clone());
        }
    }
}
