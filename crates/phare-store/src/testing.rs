//! Test support: a fresh, migrated database per test on the PostgreSQL server named by
//! `PHARE_TEST_DATABASE_URL` (the README's test command starts a throwaway one and sets it).

use sqlx::{ConnectOptions, Executor};

use crate::Store;

/// A migrated database of its own for one test.
#[derive(Debug)]
pub struct TestDatabase {
    pub store: Store,
    /// Connection URL of this database, for processes under test (`PHARE_DATABASE_URL`).
    pub url: String,
}

/// Creates `phare_test_<uuid>` on the test server, migrates it and connects to it.
///
/// # Panics
/// When no test server is configured or reachable: these tests need a real PostgreSQL.
#[allow(clippy::panic, clippy::expect_used)]
pub async fn fresh_database() -> TestDatabase {
    let server_url = std::env::var("PHARE_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("PHARE_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a throwaway PostgreSQL")
    });
    let mut url = url::Url::parse(&server_url).expect("PHARE_TEST_DATABASE_URL is not a url");
    let name = format!("phare_test_{}", uuid::Uuid::new_v4().simple());
    let server: sqlx::postgres::PgConnectOptions = server_url.parse().expect("not a postgres url");
    let mut admin = server
        .connect()
        .await
        .expect("cannot connect to the test postgresql server");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("cannot create a test database");
    url.set_path(&name);
    let url = url.to_string();
    let store = Store::connect(&url)
        .await
        .expect("cannot connect to the test database");
    store.migrate().await.expect("migrations fail");
    TestDatabase { store, url }
}
