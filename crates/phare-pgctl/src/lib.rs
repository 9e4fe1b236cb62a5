//! Managed PostgreSQL: the embedded default database of Phare.
//!
//! When no database url is configured, Phare runs a private PostgreSQL cluster under its data
//! directory `D`, with the server binaries installed on the machine:
//!
//! * cluster directory `D/postgres/` (PGDATA `data/`, socket directory `run/`, log `server.log`);
//! * the server listens only on a Unix socket in `run/` (`listen_addresses = ''`, socket directory
//!   and socket mode 0700), which makes `trust` authentication for local connections private to
//!   the owner of the cluster (and root);
//! * the server is started detached with `pg_ctl start`: it outlives the Phare process that
//!   started it and is shared by every Phare process using the same data directory (a server and
//!   an ingest in another shell); [`ManagedCluster::stop`] stops it;
//! * an exclusive lock on `D/postgres.lock` serialises initialise/start/stop between processes.
//!
//! **Root.** PostgreSQL refuses to run as root, so when the effective uid is 0 every postgres
//! program runs as the `postgres` system account (setuid/setgid in the child), the cluster
//! directory is owned by it (mode 0700), and `D` gets at least mode 0711. If an ancestor of `D`
//! is not traversable by that account (say a checkout under `/root`, mode 0700), or the socket
//! path would be too long, the cluster goes to `/var/lib/phare/clusters/<16 hex of sha256(D)>/`
//! instead, and `D/postgres.location` records it so later processes find the same cluster.
//!
//! **Blocking.** The API is synchronous (it runs programs with `std::process` and may wait
//! seconds, even minutes for crash recovery): async callers must wrap calls in
//! `tokio::task::spawn_blocking`.

mod conf;
mod error;
mod layout;
mod locate;
mod procfs;

use std::fs::{self, File, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

pub use error::PgCtlError;

use layout::{Placement, ServiceAccount};
use procfs::PidState;

/// Superuser role created by initdb; local connections authenticate with `trust`.
pub const SUPERUSER: &str = "phare";
/// Database created by [`ManagedCluster::ensure_running`].
pub const DATABASE: &str = "phare";
/// Port of the cluster. There is no TCP listener: it only names the socket file `.s.PGSQL.5432`.
pub const PORT: u16 = 5432;

/// How long `pg_ctl start -w` may wait (crash recovery can replay up to `max_wal_size` of wal).
const START_TIMEOUT_SECS: u64 = 600;
/// How long `pg_ctl stop -w` may wait.
const STOP_TIMEOUT_SECS: u64 = 120;
/// How long to wait for an already running server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of server.log quoted in start errors.
const LOG_TAIL_BYTES: u64 = 8 * 1024;
/// Lines of server.log quoted in start errors.
const LOG_TAIL_LINES: usize = 30;

/// What to manage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The phare data directory `D`; the cluster lives in `D/postgres/` (or where
    /// `D/postgres.location` says).
    pub data_dir: PathBuf,
    /// Directory of the server binaries (`initdb`, `pg_ctl`, `postgres`, `psql`, `pg_isready`),
    /// e.g. from `PHARE_PG_BIN_DIR`. `None`: `pg_config --bindir`, then the highest
    /// `/usr/lib/postgresql/*/bin`, then the directory of `initdb` on `PATH`.
    pub bin_dir: Option<PathBuf>,
    /// `false` turns off `fsync`, `synchronous_commit` and `full_page_writes` (and syncing at
    /// initdb): much faster, but a crash can lose or corrupt data. For throwaway test clusters.
    pub durable: bool,
}

impl ClusterOptions {
    /// Durable cluster in `data_dir`, binaries located automatically.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            bin_dir: None,
            durable: true,
        }
    }
}

/// Outcome of [`ManagedCluster::ensure_running`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// sqlx connection url of the `phare` database (see [`ManagedCluster::database_url`]).
    pub url: String,
    /// This call created the cluster (ran initdb).
    pub initialised: bool,
    /// This call started the server (it was not running).
    pub started: bool,
}

/// A private PostgreSQL cluster under a phare data directory.
///
/// Dropping it does not stop the server (other phare processes may be using it).
#[derive(Debug, Clone)]
pub struct ManagedCluster {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    cluster_dir: PathBuf,
    pgdata: PathBuf,
    socket_dir: PathBuf,
    log_file: PathBuf,
    durable: bool,
    /// `Some` when running as root: postgres programs run as this account.
    service_account: Option<ServiceAccount>,
    placement: Placement,
}

impl ManagedCluster {
    /// Locates the binaries and resolves the layout. Reads `D/postgres.location` if present but
    /// creates nothing.
    pub fn new(options: ClusterOptions) -> Result<Self, PgCtlError> {
        let (bin_dir, source) = locate::locate(options.bin_dir.as_deref())?;
        let data_dir = layout::normalise(&options.data_dir)?;
        let service_account = if nix::unistd::geteuid().is_root() {
            Some(ServiceAccount::lookup(layout::SERVICE_ACCOUNT)?)
        } else {
            None
        };

        let (cluster_dir, placement) = match layout::read_location_file(&data_dir)? {
            Some(recorded) => (recorded, Placement::Recorded),
            None => Self::place(&data_dir, service_account.as_ref())?,
        };
        let socket_dir = cluster_dir.join("run");
        layout::check_socket_path(&socket_dir, PORT)?;
        layout::check_path_chars(&cluster_dir)?;

        let cluster = Self {
            bin_dir,
            pgdata: cluster_dir.join("data"),
            log_file: cluster_dir.join("server.log"),
            socket_dir,
            cluster_dir,
            data_dir,
            durable: options.durable,
            service_account,
            placement,
        };
        debug!(
            bin_dir = %cluster.bin_dir.display(),
            bin_source = source.as_str(),
            cluster_dir = %cluster.cluster_dir.display(),
            run_as = cluster.service_account.as_ref().map(|a| a.name.as_str()),
            "resolved managed postgresql cluster"
        );
        Ok(cluster)
    }

    /// Chooses the cluster directory when no location is recorded.
    fn place(data_dir: &Path, account: Option<&ServiceAccount>) -> Result<(PathBuf, Placement), PgCtlError> {
        let default = data_dir.join("postgres");
        let relocate = |reason: String| {
            let dir = layout::fallback_cluster_dir(data_dir);
            (dir, Placement::Relocated { reason })
        };
        if let Some(account) = account
            && let Some(blocker) = layout::untraversable_ancestor(data_dir, account)
        {
            return Ok(relocate(format!(
                "{} is not traversable by the {} account",
                blocker.display(),
                account.name
            )));
        }
        if let Err(too_long) = layout::check_socket_path(&default.join("run"), PORT) {
            return match account {
                // Only root may create the fallback under /var/lib.
                Some(_) => Ok(relocate(too_long.to_string())),
                None => Err(too_long),
            };
        }
        if account.is_some()
            && let Err(unsupported) = layout::check_path_chars(&default)
        {
            return Ok(relocate(unsupported.to_string()));
        }
        Ok((default, Placement::InDataDir))
    }

    /// Initialises the cluster if needed, starts the server if it is not running, waits until
    /// it accepts connections and creates the `phare` database if missing. Safe to call from
    /// several processes at once (they serialise on `D/postgres.lock`). Blocking.
    pub fn ensure_running(&self) -> Result<Started, PgCtlError> {
        let begin = Instant::now();
        layout::create_dirs(&self.data_dir, 0o755)?;
        if self.service_account.is_some() && self.placement == Placement::InDataDir {
            // The postgres account must reach D/postgres.
            layout::add_mode_bits(&self.data_dir, 0o711)?;
        }
        let _lock = self.lock()?;

        if let Placement::Relocated { reason } = &self.placement {
            info!(
                cluster_dir = %self.cluster_dir.display(),
                data_dir = %self.data_dir.display(),
                reason = %reason,
                "placing the managed postgresql cluster outside the data directory"
            );
            layout::write_location_file(&self.data_dir, &self.cluster_dir)?;
        }
        let account = self.service_account.as_ref();
        layout::prepare_private_dir(&self.cluster_dir, 0o700, account)?;
        layout::prepare_private_dir(&self.socket_dir, 0o700, account)?;

        let initialised = if self.is_initialised() {
            false
        } else {
            self.initdb()?;
            true
        };
        self.check_owner()?;

        let started = if self.status()? {
            debug!(pgdata = %self.pgdata.display(), "managed postgresql server already running");
            false
        } else {
            self.check_version()?;
            self.start()?;
            true
        };
        self.wait_ready()?;
        self.ensure_database(DATABASE)?;
        info!(
            cluster_dir = %self.cluster_dir.display(),
            socket_dir = %self.socket_dir.display(),
            initialised,
            started,
            elapsed_ms = begin.elapsed().as_millis(),
            "managed postgresql cluster ready"
        );
        Ok(Started {
            url: self.database_url(DATABASE),
            initialised,
            started,
        })
    }

    /// Whether the server of this cluster is running (`pg_ctl status`). Blocking.
    pub fn is_running(&self) -> Result<bool, PgCtlError> {
        self.status()
    }

    /// Stops the server (`pg_ctl stop -m fast -w`): open sessions are disconnected, running
    /// transactions rolled back. Returns whether it was running. Blocking.
    pub fn stop(&self) -> Result<bool, PgCtlError> {
        if !self.data_dir.is_dir() {
            return Ok(false);
        }
        let _lock = self.lock()?;
        if !self.status()? {
            return Ok(false);
        }
        let begin = Instant::now();
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.pgdata)
            .args(["-m", "fast", "-w", "-t"]);
        cmd.arg(STOP_TIMEOUT_SECS.to_string());
        let output = self.run(cmd)?;
        if !output.status.success() {
            return Err(self.failed("pg_ctl stop", &output));
        }
        info!(
            pgdata = %self.pgdata.display(),
            elapsed_ms = begin.elapsed().as_millis(),
            "stopped the managed postgresql server"
        );
        Ok(true)
    }

    /// sqlx connection url of `database` over the cluster's Unix socket:
    /// `postgres://phare@localhost:5432/<database>?host=<percent-encoded socket dir>&sslmode=disable`.
    pub fn database_url(&self, database: &str) -> String {
        // check_path_chars (in new) guarantees utf-8.
        conf::database_url(SUPERUSER, &self.socket_dir.to_string_lossy(), PORT, database)
    }

    /// The cluster directory (`D/postgres` or the recorded/relocated one).
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// The data directory of the cluster (PGDATA).
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// The directory holding the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The server log.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The directory of the postgres binaries in use.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    fn is_initialised(&self) -> bool {
        self.pgdata.join("PG_VERSION").is_file()
    }

    /// Exclusive lock on `D/postgres.lock`, released when the file is dropped. The file is opened
    /// close-on-exec, so the detached server does not inherit (and keep) the lock.
    fn lock(&self) -> Result<File, PgCtlError> {
        let path = self.data_dir.join("postgres.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| PgCtlError::io("open the lock file", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                info!(lock = %path.display(), "waiting for another phare process to set up postgresql");
                file.lock().map_err(|e| PgCtlError::io("lock", &path, e))?;
            }
            Err(TryLockError::Error(e)) => return Err(PgCtlError::io("lock", &path, e)),
        }
        Ok(file)
    }

    /// A command for a program of the bin dir, run as the service account when root, with a
    /// clean postgres environment.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        for (key, _) in std::env::vars_os() {
            if key.as_encoded_bytes().starts_with(b"PG") {
                cmd.env_remove(key);
            }
        }
        cmd.env("LC_ALL", "C")
            .stdin(Stdio::null())
            .current_dir(&self.cluster_dir);
        if let Some(account) = &self.service_account {
            cmd.uid(account.uid)
                .gid(account.gid)
                .env("HOME", &account.home)
                .env("USER", &account.name)
                .env("LOGNAME", &account.name);
        }
        cmd
    }

    fn run(&self, mut cmd: Command) -> Result<Output, PgCtlError> {
        let program = PathBuf::from(cmd.get_program());
        debug!(command = ?cmd, "running");
        cmd.output().map_err(|cause| PgCtlError::Spawn { program, cause })
    }

    fn failed(&self, what: &str, output: &Output) -> PgCtlError {
        PgCtlError::CommandFailed {
            what: format!("{what} for {}", self.pgdata.display()),
            status: output.status.to_string(),
            output: output_text(output),
        }
    }

    fn initdb(&self) -> Result<(), PgCtlError> {
        let begin = Instant::now();
        info!(pgdata = %self.pgdata.display(), "initialising a new postgresql cluster");
        // Initialise next to PGDATA and rename when complete, so a crash half-way leaves no
        // half-initialised PGDATA behind (we hold the lock: nobody else uses the staging dir).
        let staging = self.cluster_dir.join("data.initdb");
        if staging.exists() {
            warn!(dir = %staging.display(), "removing an interrupted initdb");
            fs::remove_dir_all(&staging).map_err(|e| PgCtlError::io("remove", &staging, e))?;
        }
        if self.pgdata.exists() {
            // Exists without PG_VERSION: initdb accepts it only if empty; say so clearly otherwise.
            let empty = fs::read_dir(&self.pgdata)
                .map_err(|e| PgCtlError::io("read", &self.pgdata, e))?
                .next()
                .is_none();
            if !empty {
                return Err(PgCtlError::CommandFailed {
                    what: format!("initdb for {}", self.pgdata.display()),
                    status: "not run".into(),
                    output: "the directory is not empty but holds no cluster (no PG_VERSION): move it \
                             away or delete it"
                        .into(),
                });
            }
            fs::remove_dir(&self.pgdata).map_err(|e| PgCtlError::io("remove", &self.pgdata, e))?;
        }
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&staging).args([
            &format!("--username={SUPERUSER}"),
            "--auth-local=trust",
            "--auth-host=reject",
            "--encoding=UTF8",
            "--locale=C",
        ]);
        if !self.durable {
            cmd.arg("--no-sync");
        }
        let output = self.run(cmd)?;
        if !output.status.success() {
            return Err(self.failed("initdb", &output));
        }
        let main_conf = staging.join("postgresql.conf");
        let append = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut f = fs::OpenOptions::new().append(true).open(&main_conf)?;
            f.write_all(conf::INCLUDE_LINE.as_bytes())
        };
        append().map_err(|e| PgCtlError::io("append to", &main_conf, e))?;
        self.write_conf_in(&staging)?;
        fs::rename(&staging, &self.pgdata).map_err(|e| PgCtlError::io("rename into place", &staging, e))?;
        info!(
            pgdata = %self.pgdata.display(),
            elapsed_ms = begin.elapsed().as_millis(),
            "initialised the postgresql cluster"
        );
        Ok(())
    }

    /// Writes `phare.conf` into `pgdata`, owned by the service account when root.
    fn write_conf_in(&self, pgdata: &Path) -> Result<(), PgCtlError> {
        let path = pgdata.join(conf::PHARE_CONF);
        let content = conf::phare_conf(&self.socket_dir, PORT, self.durable);
        if fs::read_to_string(&path).is_ok_and(|old| old == content) {
            return Ok(());
        }
        fs::write(&path, content).map_err(|e| PgCtlError::io("write", &path, e))?;
        layout::set_mode(&path, 0o600)?;
        if let Some(account) = &self.service_account {
            std::os::unix::fs::chown(&path, Some(account.uid), Some(account.gid))
                .map_err(|e| PgCtlError::io("change the owner of", &path, e))?;
        }
        Ok(())
    }

    /// The server refuses a PGDATA owned by another user: say so before trying.
    fn check_owner(&self) -> Result<(), PgCtlError> {
        let meta = fs::metadata(&self.pgdata).map_err(|e| PgCtlError::io("stat", &self.pgdata, e))?;
        let (user, uid) = match &self.service_account {
            Some(account) => (account.name.clone(), account.uid),
            None => {
                let uid = nix::unistd::geteuid().as_raw();
                (format!("uid {uid}"), uid)
            }
        };
        if meta.uid() != uid {
            return Err(PgCtlError::WrongOwner {
                pgdata: self.pgdata.clone(),
                owner: meta.uid(),
                user,
                uid,
            });
        }
        Ok(())
    }

    fn check_version(&self) -> Result<(), PgCtlError> {
        let version_file = self.pgdata.join("PG_VERSION");
        let data_version = fs::read_to_string(&version_file)
            .map_err(|e| PgCtlError::io("read", &version_file, e))?
            .trim()
            .to_owned();
        let mut cmd = self.command("pg_ctl");
        cmd.arg("--version");
        let output = self.run(cmd)?;
        let text = String::from_utf8_lossy(&output.stdout);
        match locate::major_version(&text) {
            Some(bin_version) if bin_version != data_version => Err(PgCtlError::VersionMismatch {
                pgdata: self.pgdata.clone(),
                data_version,
                bin_dir: self.bin_dir.clone(),
                bin_version,
            }),
            Some(_) => Ok(()),
            None => {
                warn!(output = %text.trim(), "could not parse the version of pg_ctl");
                Ok(())
            }
        }
    }

    /// `pg_ctl status` (0 running, 3 not running, 4 no accessible data directory), except that a
    /// postmaster that is a zombie (killed, not yet reaped) is not running.
    fn status(&self) -> Result<bool, PgCtlError> {
        if !self.is_initialised() {
            return Ok(false);
        }
        match procfs::postmaster_state(&self.pgdata) {
            PidState::NoPidFile | PidState::Gone(_) | PidState::Zombie(_) => return Ok(false),
            PidState::Alive(_) | PidState::Unknown => {}
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("status").arg("-D").arg(&self.pgdata);
        let output = self.run(cmd)?;
        match output.status.code() {
            Some(0) => Ok(true),
            Some(3 | 4) => Ok(false),
            _ => Err(self.failed("pg_ctl status", &output)),
        }
    }

    fn start(&self) -> Result<(), PgCtlError> {
        let begin = Instant::now();
        self.write_conf_in(&self.pgdata)?;
        self.handle_stale_pid_file()?;
        let mut cmd = self.command("pg_ctl");
        cmd.arg("start")
            .arg("-D")
            .arg(&self.pgdata)
            .arg("-l")
            .arg(&self.log_file)
            .args(["-w", "-t"])
            .arg(START_TIMEOUT_SECS.to_string());
        let output = self.run(cmd)?;
        if !output.status.success() {
            return Err(PgCtlError::StartFailed {
                pgdata: self.pgdata.clone(),
                log: self.log_file.clone(),
                status: output.status.to_string(),
                output: output_text(&output),
                tail: log_tail(&self.log_file),
            });
        }
        info!(
            pgdata = %self.pgdata.display(),
            socket_dir = %self.socket_dir.display(),
            log = %self.log_file.display(),
            elapsed_ms = begin.elapsed().as_millis(),
            "started the managed postgresql server"
        );
        Ok(())
    }

    /// Before a start with a `postmaster.pid` whose server is not running (crash). A dead pid is
    /// handled by the postmaster itself; a zombie pid passes its `kill(pid, 0)` test and would
    /// block the start, so once no server process is left the stale file is removed.
    fn handle_stale_pid_file(&self) -> Result<(), PgCtlError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match procfs::postmaster_state(&self.pgdata) {
                PidState::Gone(pid) => {
                    warn!(pgdata = %self.pgdata.display(), pid, "postmaster.pid of a crashed server: starting anyway");
                    return Ok(());
                }
                PidState::Zombie(pid) if Instant::now() >= deadline => {
                    let pids = procfs::live_processes_in(&self.pgdata);
                    if !pids.is_empty() {
                        return Err(PgCtlError::LeftoverProcesses {
                            pgdata: self.pgdata.clone(),
                            pids,
                        });
                    }
                    let pid_file = self.pgdata.join("postmaster.pid");
                    warn!(
                        pid_file = %pid_file.display(),
                        pid,
                        "removing postmaster.pid of a crashed server whose process is an unreaped zombie"
                    );
                    return fs::remove_file(&pid_file).map_err(|e| PgCtlError::io("remove", pid_file, e));
                }
                // Give the new parent of the zombie a moment to reap it.
                PidState::Zombie(_) => std::thread::sleep(Duration::from_millis(100)),
                PidState::NoPidFile | PidState::Alive(_) | PidState::Unknown => return Ok(()),
            }
        }
    }

    /// Waits until `pg_isready` reports that the server accepts connections.
    fn wait_ready(&self) -> Result<(), PgCtlError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let mut cmd = self.command("pg_isready");
            cmd.arg("-h").arg(&self.socket_dir);
            cmd.args([
                "-p",
                &PORT.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
                "-t",
                "5",
                "-q",
            ]);
            let output = self.run(cmd)?;
            match output.status.code() {
                Some(0) => return Ok(()),
                // 1: rejecting connections (starting up), 2: no response.
                Some(1 | 2) => {}
                // 3: no attempt (bad parameters); killed by a signal.
                _ => return Err(self.failed("pg_isready", &output)),
            }
            if Instant::now() >= deadline {
                return Err(PgCtlError::NotReady {
                    pgdata: self.pgdata.clone(),
                    socket_dir: self.socket_dir.clone(),
                    secs: READY_TIMEOUT.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs one SQL command with psql in the `postgres` database; returns its unaligned output.
    fn psql(&self, sql: &str) -> Result<String, PgCtlError> {
        let mut cmd = self.command("psql");
        cmd.args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.socket_dir);
        cmd.args([
            "-p",
            &PORT.to_string(),
            "-U",
            SUPERUSER,
            "-d",
            "postgres",
            "-c",
            sql,
        ]);
        let output = self.run(cmd)?;
        if !output.status.success() {
            return Err(self.failed(&format!("psql -c {sql:?}"), &output));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    fn ensure_database(&self, name: &str) -> Result<(), PgCtlError> {
        let exists = self.psql(&format!(
            "SELECT 1 FROM pg_database WHERE datname = {}",
            conf::quote_literal(name)
        ))?;
        if exists != "1" {
            self.psql(&format!("CREATE DATABASE {}", conf::quote_ident(name)))?;
            info!(database = name, cluster_dir = %self.cluster_dir.display(), "created database");
        }
        Ok(())
    }
}

fn output_text(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = format!("{}\n{}", stdout.trim(), stderr.trim());
    let text = text.trim();
    if text.is_empty() {
        "no output".to_owned()
    } else {
        text.to_owned()
    }
}

/// The last lines of the server log, for start errors.
fn log_tail(path: &Path) -> String {
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(LOG_TAIL_LINES);
            let tail = lines[start..].join("\n");
            if tail.is_empty() {
                "(empty)".to_owned()
            } else {
                tail
            }
        }
        Err(e) => format!("(could not read it: {e})"),
    }
}
