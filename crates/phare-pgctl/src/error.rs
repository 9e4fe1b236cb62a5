//! Errors of the managed cluster.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while locating, initialising, starting or stopping the managed
/// cluster. Messages are lowercase and name what failed and where; io errors are part of the
/// message (not exposed through `source()`), so a plain `to_string()` is complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgCtlError {
    /// No directory with initdb, pg_ctl, postgres, psql and pg_isready was found.
    #[error(
        "no postgresql server binaries found (looked in {looked}): install them (debian/ubuntu: \
         apt-get install postgresql) or set PHARE_PG_BIN_DIR, or point phare at an existing server \
         with PHARE_DATABASE_URL"
    )]
    BinariesNotFound {
        /// Human-readable list of the places searched.
        looked: String,
    },

    /// Running as root, but there is no unprivileged `postgres` account to run the server as.
    #[error(
        "running as root but there is no `{account}` system account to run the postgresql server as \
         (postgresql refuses to run as root): create it (debian/ubuntu: apt-get install postgresql, \
         or useradd --system {account}), run phare as an unprivileged user, or point phare at an \
         existing server with PHARE_DATABASE_URL"
    )]
    NoServiceAccount {
        /// Name of the missing account.
        account: String,
    },

    /// Looking up the service account failed.
    #[error("could not look up the `{account}` system account: {cause}")]
    AccountLookup {
        /// Name of the account.
        account: String,
        /// Underlying error.
        cause: String,
    },

    /// The Unix socket path would exceed the kernel's `sun_path` limit.
    #[error(
        "the postgresql unix socket path {path} is {len} bytes, over the {max}-byte limit of unix \
         sockets: use a phare data directory with a shorter path, or point phare at an existing \
         server with PHARE_DATABASE_URL"
    )]
    SocketPathTooLong {
        /// The socket path that would be used.
        path: PathBuf,
        /// Its length in bytes.
        len: usize,
        /// The maximum length in bytes.
        max: usize,
    },

    /// A path postgres, pg_ctl or a connection url cannot carry.
    #[error("unsupported cluster path {path}: {reason}; use a phare data directory without it")]
    UnsupportedPath {
        /// The offending path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// `postgres.location` exists but does not hold a usable path.
    #[error("invalid cluster location recorded in {file}: {reason} (delete the file if the cluster moved)")]
    BadLocationFile {
        /// The location file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A filesystem operation failed.
    #[error("could not {action} {path}: {cause}")]
    Io {
        /// What was attempted ("create directory", "read", ...).
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Underlying error.
        cause: io::Error,
    },

    /// A postgres program could not be run at all.
    #[error("could not run {program}: {cause}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Underlying error.
        cause: io::Error,
    },

    /// A postgres program ran and failed.
    #[error("{what} failed ({status}): {output}")]
    CommandFailed {
        /// What was being done, with the program and data directory.
        what: String,
        /// Exit status.
        status: String,
        /// Its (trimmed) stdout and stderr.
        output: String,
    },

    /// `pg_ctl start` failed.
    #[error(
        "could not start the postgresql server for {pgdata} ({status}): {output}\nlast lines of \
         {log}:\n{tail}"
    )]
    StartFailed {
        /// The data directory.
        pgdata: PathBuf,
        /// The server log.
        log: PathBuf,
        /// pg_ctl exit status.
        status: String,
        /// pg_ctl output.
        output: String,
        /// The tail of the server log.
        tail: String,
    },

    /// The server runs but does not accept connections.
    #[error("the postgresql server for {pgdata} did not accept connections on {socket_dir} within {secs}s")]
    NotReady {
        /// The data directory.
        pgdata: PathBuf,
        /// The socket directory.
        socket_dir: PathBuf,
        /// How long we waited.
        secs: u64,
    },

    /// The cluster was created by another major version than the binaries found.
    #[error(
        "the cluster {pgdata} was created by postgresql {data_version} but the binaries in {bin_dir} \
         are postgresql {bin_version}: install the postgresql {data_version} server binaries and set \
         PHARE_PG_BIN_DIR to their directory, or upgrade the cluster with pg_upgrade"
    )]
    VersionMismatch {
        /// The data directory.
        pgdata: PathBuf,
        /// Major version in `PG_VERSION`.
        data_version: String,
        /// The binaries' directory.
        bin_dir: PathBuf,
        /// Major version of the binaries.
        bin_version: String,
    },

    /// A crashed postmaster left server processes behind.
    #[error(
        "the postgresql server for {pgdata} crashed but its processes {pids:?} still run: wait for \
         them to exit (or kill them), then start again"
    )]
    LeftoverProcesses {
        /// The data directory.
        pgdata: PathBuf,
        /// The live processes working in it.
        pids: Vec<i32>,
    },

    /// The data directory belongs to another user than the one the server must run as.
    #[error(
        "the cluster {pgdata} is owned by uid {owner} but the server runs as {user} (uid {uid}): \
         chown -R {user} {pgdata} or use another phare data directory"
    )]
    WrongOwner {
        /// The data directory.
        pgdata: PathBuf,
        /// Its owner.
        owner: u32,
        /// The user the server runs as.
        user: String,
        /// That user's uid.
        uid: u32,
    },
}

impl PgCtlError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, cause: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            cause,
        }
    }
}
