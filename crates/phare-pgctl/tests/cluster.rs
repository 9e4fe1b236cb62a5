//! Real PostgreSQL, no mocks: each test uses its own temporary data directory.

use std::fs::Permissions;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use phare_pgctl::{ClusterOptions, ManagedCluster, PgCtlError};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// Stops the cluster when the test ends, even on failure.
struct StopOnDrop(ManagedCluster);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Err(e) = self.0.stop() {
            eprintln!("stopping the test cluster failed: {e}");
        }
    }
}

fn options(data_dir: PathBuf) -> ClusterOptions {
    ClusterOptions {
        data_dir,
        bin_dir: None,
        durable: false,
    }
}

/// A temporary directory with mode 0700, like `mktemp -d` (tempfile's default is 0777 & !umask).
#[allow(clippy::unwrap_used)] // test helper: failing to create a temp dir fails the test
fn private_tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[tokio::test]
async fn lifecycle_shared_restart_and_persistence() {
    // Unusual characters in the path exercise conf quoting, pg_ctl's shell quoting and the
    // percent-encoding of the url. As root the temp dir is 0700: the code must open it up.
    let tmp = private_tempdir("phare pg #+%&'é ");
    let data_dir = tmp.path().to_path_buf();

    let cluster = ManagedCluster::new(options(data_dir.clone())).unwrap();
    let guard = StopOnDrop(cluster.clone());
    assert_eq!(
        cluster.cluster_dir(),
        std::fs::canonicalize(&data_dir).unwrap().join("postgres")
    );

    let t = Instant::now();
    let first = cluster.ensure_running().unwrap();
    eprintln!("first init+start: {:?}", t.elapsed());
    assert!(first.initialised && first.started, "{first:?}");
    assert_eq!(first.url, cluster.database_url("phare"));

    // The url really goes through the socket in the cluster directory.
    let opts = PgConnectOptions::from_str(&first.url).unwrap();
    assert_eq!(opts.get_socket(), Some(&cluster.socket_dir().to_path_buf()));
    assert_eq!(opts.get_database(), Some("phare"));
    assert_eq!(opts.get_username(), "phare");

    let mut conn = PgConnection::connect(&first.url).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await.unwrap();
    assert_eq!(one, 1);
    let (listen, fsync): (String, String) =
        sqlx::query_as("SELECT current_setting('listen_addresses'), current_setting('fsync')")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((listen.as_str(), fsync.as_str()), ("", "off"));
    sqlx::query("CREATE TABLE survivor (id int PRIMARY KEY, note text)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO survivor VALUES (1, 'still here')")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    if is_root() {
        let postgres = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        for dir in [cluster.cluster_dir(), cluster.socket_dir(), cluster.pgdata()] {
            let meta = std::fs::metadata(dir).unwrap();
            assert_eq!(meta.uid(), postgres.uid.as_raw(), "{}", dir.display());
            assert_eq!(meta.mode() & 0o777, 0o700, "{}", dir.display());
        }
        assert_eq!(std::fs::metadata(&data_dir).unwrap().mode() & 0o711, 0o711);
    }

    // A second handle (another phare process) shares the running server.
    let other = ManagedCluster::new(options(data_dir.clone())).unwrap();
    assert!(other.is_running().unwrap());
    let t = Instant::now();
    let shared = other.ensure_running().unwrap();
    eprintln!("ensure_running on a running cluster: {:?}", t.elapsed());
    assert!(!shared.initialised && !shared.started, "{shared:?}");
    assert_eq!(shared.url, first.url);

    assert!(other.stop().unwrap(), "was running");
    assert!(!cluster.is_running().unwrap());
    assert!(!cluster.stop().unwrap(), "already stopped");

    let t = Instant::now();
    let again = cluster.ensure_running().unwrap();
    eprintln!("warm start: {:?}", t.elapsed());
    assert!(!again.initialised && again.started, "{again:?}");
    let mut conn = PgConnection::connect(&again.url).await.unwrap();
    let note: String = sqlx::query_scalar("SELECT note FROM survivor WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(note, "still here");
    conn.close().await.unwrap();

    drop(guard);
    assert!(!cluster.is_running().unwrap());
}

#[test]
fn bogus_bin_dir_says_how_to_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let err = ManagedCluster::new(ClusterOptions {
        data_dir: tmp.path().to_path_buf(),
        bin_dir: Some(tmp.path().join("no-such-bin")),
        durable: false,
    })
    .unwrap_err();
    assert!(matches!(err, PgCtlError::BinariesNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    for needle in [
        "no postgresql server binaries found",
        "no-such-bin",
        "apt-get install postgresql",
    ] {
        assert!(msg.contains(needle), "{msg}");
    }
    assert!(
        msg.contains("PHARE_PG_BIN_DIR") && msg.contains("PHARE_DATABASE_URL"),
        "{msg}"
    );
}

/// As root, a data directory the postgres account cannot reach (here under a 0700 directory)
/// gets its cluster under /var/lib/phare/clusters. Only resolves the layout: no side effects.
#[test]
fn root_relocates_unreachable_data_dir() {
    if !is_root() {
        eprintln!("skipped: not root");
        return;
    }
    let tmp = private_tempdir("phare-pgctl-"); // 0700, owned by root
    let data_dir = tmp.path().join("nested/data");
    let cluster = ManagedCluster::new(options(data_dir.clone())).unwrap();
    let dir = cluster.cluster_dir();
    assert!(dir.starts_with("/var/lib/phare/clusters"), "{}", dir.display());
    assert_eq!(dir.file_name().unwrap().len(), 16);
    assert!(!data_dir.exists(), "new() must not create anything");
}
