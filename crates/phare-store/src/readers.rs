//! Connections for the statements every query answer sends, handed back without a round trip.
//!
//! sqlx pings every pooled connection it takes back (`return_to_pool` in sqlx-core 0.9, not
//! configurable): a round trip, a spawned task and wake-ups on both sides after each statement,
//! which for a point query costs about as much as the statement itself. These connections
//! come back only from a statement that ran to its end ([`Reader::release`]); one dropped
//! otherwise (an error, a cancelled request) may be mid-protocol and is closed instead
//! (docs/decisions/0066).

use std::sync::Mutex;
use std::time::Instant;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection as _, PgConnection};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::{ACQUIRE_TIMEOUT, StoreError, check_after_idle};

/// The connections, at most `MAX_READERS` at once.
#[derive(Debug)]
pub(crate) struct Readers {
    options: PgConnectOptions,
    /// Connections whose last statement ran to its end, with when it did.
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    permits: Semaphore,
}

/// Open at most this many: with the pool's 16 and the audit writer's one, 25 connections.
const MAX_READERS: usize = 8;

impl Readers {
    pub(crate) fn new(options: PgConnectOptions) -> Self {
        Self {
            // A statement keyed by an array of ids (`= ANY($1)`: carrier rows, annotations) is
            // estimated at 10 ids by its generic plan and at the few it is given by a custom
            // one, so PostgreSQL's own choice replans it on every call: ~200 µs of planning for
            // 20 µs of execution. Every statement run here reads by key or by an indexed
            // position, where the generic plan is the custom one, or the one PostgreSQL settles
            // on after five calls anyway (docs/decisions/0068).
            options: options.options([("plan_cache_mode", "force_generic_plan")]),
            idle: Mutex::new(Vec::with_capacity(MAX_READERS)),
            permits: Semaphore::new(MAX_READERS),
        }
    }

    /// A connection for one statement, waiting at most [`ACQUIRE_TIMEOUT`] as the pool does.
    /// An idle one is reused once [`check_after_idle`] passes it (a restart may have cut it);
    /// otherwise a new one is opened.
    async fn get(&self) -> Result<Reader<'_>, StoreError> {
        let waited = tokio::time::timeout(ACQUIRE_TIMEOUT, async {
            let permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| StoreError::Internal("the query connections are closed".into()))?;
            let connection = self.idle_or_new().await?;
            Ok::<_, StoreError>(Reader {
                readers: self,
                connection,
                _permit: permit,
            })
        })
        .await;
        waited.unwrap_or_else(|_| {
            Err(StoreError::Internal(format!(
                "no query connection within {} s",
                ACQUIRE_TIMEOUT.as_secs()
            )))
        })
    }

    /// How many a statement holds now, and how many are open and idle.
    fn state(&self) -> QueryConnections {
        QueryConnections {
            in_use: MAX_READERS - self.permits.available_permits(),
            idle: self.idle.lock().map_or(0, |idle| idle.len()),
            max: MAX_READERS,
        }
    }

    async fn idle_or_new(&self) -> Result<PgConnection, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        if let Some((mut connection, idle_since)) = idle
            && check_after_idle(&mut connection, idle_since.elapsed())
                .await
                .is_ok()
        {
            return Ok(connection);
        }
        Ok(PgConnection::connect_with(&self.options).await?)
    }
}

/// One connection of [`Readers`], for statements outside any transaction. Dropped without
/// [`Reader::release`], its connection is closed.
#[derive(Debug)]
struct Reader<'r> {
    readers: &'r Readers,
    connection: PgConnection,
    _permit: SemaphorePermit<'r>,
}

impl Reader<'_> {
    fn connection(&mut self) -> &mut PgConnection {
        &mut self.connection
    }

    /// Hands the connection back for the next statement, once the statement's result is read.
    fn release(self) {
        let Self {
            readers,
            connection,
            _permit,
        } = self;
        if let Ok(mut idle) = readers.idle.lock() {
            idle.push((connection, Instant::now()));
        }
    }
}

/// The query connections' state, for the node's metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryConnections {
    /// Held by a statement now (opening or running).
    pub in_use: usize,
    /// Open, waiting for the next statement.
    pub idle: usize,
    /// Most held at once.
    pub max: usize,
}

impl crate::Store {
    /// How many query connections are in use and idle now.
    pub fn query_connections(&self) -> QueryConnections {
        self.readers.state()
    }

    /// Runs one of a query's hot statements on a query connection, handed back once `statement`
    /// has read its result; closed instead if it failed or was cancelled.
    pub(crate) async fn read<T>(
        &self,
        statement: impl AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut reader = self.readers.get().await?;
        let read = statement(reader.connection()).await?;
        reader.release();
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use crate::testing::fresh_database;

    async fn backend(reader: &mut super::Reader<'_>) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(reader.connection())
            .await
            .unwrap()
    }

    /// A released connection serves the next statement; one whose statement was cancelled
    /// midway (a request dropped by its client) is closed, so the next statement neither waits
    /// for the abandoned one nor reads its leftovers.
    #[tokio::test]
    async fn only_a_connection_whose_statement_ended_is_reused() {
        let database = fresh_database().await;
        let store = &database.store;
        let mut reader = store.readers.get().await.unwrap();
        let first = backend(&mut reader).await;
        reader.release();
        let mut reader = store.readers.get().await.unwrap();
        assert_eq!(backend(&mut reader).await, first);

        let sleeping = sqlx::query("SELECT pg_sleep(30)").execute(reader.connection());
        assert!(
            tokio::time::timeout(Duration::from_millis(200), sleeping)
                .await
                .is_err()
        );
        drop(reader);
        let mut reader = tokio::time::timeout(Duration::from_secs(5), store.readers.get())
            .await
            .expect("a reader at once")
            .unwrap();
        let next = tokio::time::timeout(Duration::from_secs(5), backend(&mut reader))
            .await
            .expect("an answer at once");
        assert_ne!(next, first);
    }
}
