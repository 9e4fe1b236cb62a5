//! Test support: a fresh, migrated database per test on the PostgreSQL server named by
//! `PHARE_TEST_DATABASE_URL` (the README's test command starts a throwaway one and sets it).

use sqlx::Executor;
use sqlx::postgres::PgConnectOptions;

use crate::Store;

/// Creates `phare_test_<uuid>` on the test server, migrates it and connects to it.
///
/// # Panics
/// When no test server is configured or reachable: tests need a real PostgreSQL.
#[allow(clippy::panic, clippy::expect_used)]
pub async fn fresh_store() -> Store {
    let url = std::env::var("PHARE_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("PHARE_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL")
    });
    let server: PgConnectOptions = url
        .parse()
        .expect("PHARE_TEST_DATABASE_URL is not a postgres url");
    let name = format!("phare_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect_with_options(&server).await;
    let admin = admin
        .as_mut()
        .expect("cannot connect to the test postgresql server");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("cannot create a test database");
    let store = Store::connect_with(server.database(&name))
        .await
        .expect("cannot connect to the test database");
    store.migrate().await.expect("migrations fail");
    store
}

trait ConnectWith {
    async fn connect_with_options(options: &PgConnectOptions) -> Result<sqlx::PgConnection, sqlx::Error>;
}

impl ConnectWith for sqlx::PgConnection {
    async fn connect_with_options(options: &PgConnectOptions) -> Result<sqlx::PgConnection, sqlx::Error> {
        use sqlx::ConnectOptions;
        options.connect().await
    }
}
