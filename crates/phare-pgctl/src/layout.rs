//! Where the cluster lives, who runs it, and preparing its directories.

use std::ffi::CString;
use std::fs::{self, DirBuilder, Permissions};
use std::io::{self, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::unistd::{Gid, User, getgrouplist};
use sha2::{Digest, Sha256};

use crate::PgCtlError;

/// The unprivileged account the server runs as when phare runs as root.
pub(crate) const SERVICE_ACCOUNT: &str = "postgres";

/// Root-only fallback for clusters whose data directory the service account cannot reach.
pub(crate) const FALLBACK_ROOT: &str = "/var/lib/phare/clusters";

/// File in the phare data directory recording a relocated cluster.
pub(crate) const LOCATION_FILE: &str = "postgres.location";

/// `sizeof(sockaddr_un.sun_path)` on Linux is 108, including the terminating NUL.
pub(crate) const MAX_SOCKET_PATH: usize = 107;

/// The account postgres programs run as when we are root.
#[derive(Debug, Clone)]
pub(crate) struct ServiceAccount {
    pub(crate) name: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) groups: Vec<u32>,
    pub(crate) home: PathBuf,
}

impl ServiceAccount {
    pub(crate) fn lookup(name: &str) -> Result<Self, PgCtlError> {
        let lookup_err = |cause: String| PgCtlError::AccountLookup {
            account: name.to_owned(),
            cause,
        };
        let user = User::from_name(name)
            .map_err(|e| lookup_err(e.to_string()))?
            .ok_or_else(|| PgCtlError::NoServiceAccount {
                account: name.to_owned(),
            })?;
        let cname = CString::new(name).map_err(|e| lookup_err(e.to_string()))?;
        let groups = getgrouplist(&cname, user.gid)
            .unwrap_or_else(|_| vec![user.gid])
            .into_iter()
            .map(Gid::as_raw)
            .collect();
        Ok(Self {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            groups,
            home: user.dir,
        })
    }

    /// Whether this account may search (traverse) a directory with this metadata.
    pub(crate) fn can_traverse(&self, meta: &fs::Metadata) -> bool {
        let mode = meta.mode();
        if meta.uid() == self.uid {
            mode & 0o100 != 0
        } else if meta.gid() == self.gid || self.groups.contains(&meta.gid()) {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    }
}

/// Why the cluster lives where it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placement {
    /// `<data dir>/postgres`.
    InDataDir,
    /// Read from `<data dir>/postgres.location`.
    Recorded,
    /// Under [`FALLBACK_ROOT`]; to be recorded in the location file on first start.
    Relocated { reason: String },
}

/// Makes `path` absolute, resolves symlinks in its existing part and drops `.`/`..` in the rest.
pub(crate) fn normalise(path: &Path) -> Result<PathBuf, PgCtlError> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let cwd =
            std::env::current_dir().map_err(|e| PgCtlError::io("read the current directory for", path, e))?;
        cwd.join(path)
    };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        match fs::canonicalize(existing) {
            Ok(canonical) => {
                let mut out = canonical;
                for component in rest.iter().rev() {
                    match component {
                        Component::ParentDir => {
                            out.pop();
                        }
                        Component::Normal(name) => out.push(name),
                        Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                    }
                }
                return Ok(out);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let (Some(parent), Some(last)) = (existing.parent(), existing.components().next_back())
                else {
                    return Err(PgCtlError::io("resolve", &absolute, e));
                };
                rest.push(last);
                existing = parent;
            }
            Err(e) => return Err(PgCtlError::io("resolve", &absolute, e)),
        }
    }
}

/// The first existing proper ancestor of `dir` the account cannot traverse.
pub(crate) fn untraversable_ancestor(dir: &Path, account: &ServiceAccount) -> Option<PathBuf> {
    let mut ancestors: Vec<&Path> = dir.ancestors().skip(1).collect();
    ancestors.reverse();
    ancestors
        .into_iter()
        .find_map(|ancestor| match fs::metadata(ancestor) {
            Ok(meta) if !account.can_traverse(&meta) => Some(ancestor.to_path_buf()),
            _ => None,
        })
}

/// `/var/lib/phare/clusters/<first 16 hex digits of sha256(data dir)>`.
pub(crate) fn fallback_cluster_dir(data_dir: &Path) -> PathBuf {
    let digest = Sha256::digest(data_dir.as_os_str().as_bytes());
    let hex = hex::encode(digest);
    Path::new(FALLBACK_ROOT).join(&hex[..16])
}

/// The socket file postgres creates in `socket_dir` for `port`.
pub(crate) fn socket_file(socket_dir: &Path, port: u16) -> PathBuf {
    socket_dir.join(format!(".s.PGSQL.{port}"))
}

pub(crate) fn check_socket_path(socket_dir: &Path, port: u16) -> Result<(), PgCtlError> {
    let path = socket_file(socket_dir, port);
    let len = path.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(PgCtlError::SocketPathTooLong {
            path,
            len,
            max: MAX_SOCKET_PATH,
        });
    }
    Ok(())
}

/// Rejects paths the tools cannot carry: connection urls need utf-8; `pg_ctl start` runs the
/// server through `sh -c "exec \"postgres\" -D \"<pgdata>\" ..."`, so characters special inside
/// double quotes would break it; libpq (psql, pg_isready) splits a `host` on commas, with no
/// escape, so a socket directory with a comma is unreachable for them.
pub(crate) fn check_path_chars(path: &Path) -> Result<(), PgCtlError> {
    let unsupported = |reason| PgCtlError::UnsupportedPath {
        path: path.to_path_buf(),
        reason,
    };
    let Some(text) = path.to_str() else {
        return Err(unsupported("it is not valid utf-8"));
    };
    if text
        .chars()
        .any(|c| matches!(c, '"' | '$' | '`' | '\\' | ',') || c.is_control())
    {
        return Err(unsupported(
            "pg_ctl and libpq cannot pass paths with a comma, \", $, `, \\ or control characters",
        ));
    }
    Ok(())
}

pub(crate) fn read_location_file(data_dir: &Path) -> Result<Option<PathBuf>, PgCtlError> {
    let file = data_dir.join(LOCATION_FILE);
    let text = match fs::read(&file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PgCtlError::io("read", file, e)),
    };
    let text = String::from_utf8(text).map_err(|_| PgCtlError::BadLocationFile {
        file: file.clone(),
        reason: "not utf-8".into(),
    })?;
    let recorded = PathBuf::from(text.trim_end_matches(['\n', '\r']));
    if !recorded.is_absolute() {
        return Err(PgCtlError::BadLocationFile {
            file,
            reason: format!("{:?} is not an absolute path", recorded.display().to_string()),
        });
    }
    Ok(Some(recorded))
}

/// Records the cluster location atomically (write a temporary file, rename).
pub(crate) fn write_location_file(data_dir: &Path, cluster_dir: &Path) -> Result<(), PgCtlError> {
    let file = data_dir.join(LOCATION_FILE);
    let tmp = data_dir.join(format!("{LOCATION_FILE}.tmp"));
    let mut content = cluster_dir.as_os_str().as_bytes().to_vec();
    content.push(b'\n');
    let write = || -> io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&content)?;
        f.sync_all()
    };
    write().map_err(|e| PgCtlError::io("write", &tmp, e))?;
    fs::rename(&tmp, &file).map_err(|e| PgCtlError::io("rename into place", &file, e))
}

/// Creates `dir` and its missing ancestors; each directory created gets exactly `mode`
/// (umask notwithstanding). Existing directories are left alone.
pub(crate) fn create_dirs(dir: &Path, mode: u32) -> Result<(), PgCtlError> {
    let mut missing: Vec<&Path> = dir.ancestors().take_while(|p| !p.exists()).collect();
    missing.reverse();
    for path in missing {
        match DirBuilder::new().mode(mode).create(path) {
            Ok(()) => set_mode(path, mode)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(PgCtlError::io("create directory", path, e)),
        }
    }
    Ok(())
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), PgCtlError> {
    fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(|e| PgCtlError::io("change the permissions of", path, e))
}

/// Adds permission bits to `path` if it lacks them.
pub(crate) fn add_mode_bits(path: &Path, bits: u32) -> Result<(), PgCtlError> {
    let meta = fs::metadata(path).map_err(|e| PgCtlError::io("stat", path, e))?;
    let mode = meta.mode() & 0o7777;
    if mode & bits != bits {
        set_mode(path, mode | bits)?;
    }
    Ok(())
}

/// Creates `dir` (and ancestors, 0755) if missing, then forces its mode and, when an account is
/// given, its owner.
pub(crate) fn prepare_private_dir(
    dir: &Path,
    mode: u32,
    owner: Option<&ServiceAccount>,
) -> Result<(), PgCtlError> {
    if let Some(parent) = dir.parent() {
        create_dirs(parent, 0o755)?;
    }
    create_dirs(dir, mode)?;
    if let Some(account) = owner {
        let meta = fs::metadata(dir).map_err(|e| PgCtlError::io("stat", dir, e))?;
        if meta.uid() != account.uid || meta.gid() != account.gid {
            std::os::unix::fs::chown(dir, Some(account.uid), Some(account.gid))
                .map_err(|e| PgCtlError::io("change the owner of", dir, e))?;
        }
    }
    let meta = fs::metadata(dir).map_err(|e| PgCtlError::io("stat", dir, e))?;
    if meta.mode() & 0o7777 != mode {
        set_mode(dir, mode)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_resolves_existing_prefix_and_dots() {
        let tmp = tempfile::tempdir().unwrap();
        let real = fs::canonicalize(tmp.path()).unwrap();
        let got = normalise(&tmp.path().join("a/./b/../c")).unwrap();
        assert_eq!(got, real.join("a/c"));
        assert_eq!(normalise(tmp.path()).unwrap(), real);
    }

    #[test]
    fn fallback_dir_is_short_and_stable() {
        let a = fallback_cluster_dir(Path::new("/root/phare/data"));
        assert_eq!(a, fallback_cluster_dir(Path::new("/root/phare/data")));
        assert_ne!(a, fallback_cluster_dir(Path::new("/root/phare/data2")));
        let name = a.file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), 16);
        assert!(name.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(check_socket_path(&a.join("run"), 5432).is_ok());
    }

    #[test]
    fn socket_path_limit() {
        let ok = PathBuf::from(format!(
            "/{}",
            "x".repeat(MAX_SOCKET_PATH - 1 - ".s.PGSQL.5432".len() - 1)
        ));
        assert_eq!(socket_file(&ok, 5432).as_os_str().len(), MAX_SOCKET_PATH);
        assert!(check_socket_path(&ok, 5432).is_ok());
        let long = PathBuf::from(format!("{}y", ok.display()));
        let err = check_socket_path(&long, 5432).unwrap_err().to_string();
        assert!(err.contains("108 bytes, over the 107-byte limit"), "{err}");
    }

    #[test]
    fn path_chars() {
        assert!(check_path_chars(Path::new("/tmp/a b/#+%&'é?=;")).is_ok());
        assert!(check_path_chars(Path::new("/tmp/a,b")).is_err());
        assert!(check_path_chars(Path::new("/tmp/a\"b")).is_err());
        assert!(check_path_chars(Path::new("/tmp/$HOME")).is_err());
    }

    #[test]
    fn location_file_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(read_location_file(tmp.path()).unwrap(), None);
        write_location_file(tmp.path(), Path::new("/var/lib/phare/clusters/0123456789abcdef")).unwrap();
        assert_eq!(
            read_location_file(tmp.path()).unwrap(),
            Some(PathBuf::from("/var/lib/phare/clusters/0123456789abcdef"))
        );
        fs::write(tmp.path().join(LOCATION_FILE), "relative/dir\n").unwrap();
        assert!(read_location_file(tmp.path()).is_err());
    }

    #[test]
    fn create_dirs_ignores_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let deep = tmp.path().join("x/y");
        create_dirs(&deep, 0o751).unwrap();
        assert_eq!(fs::metadata(&deep).unwrap().mode() & 0o7777, 0o751);
        assert_eq!(fs::metadata(tmp.path().join("x")).unwrap().mode() & 0o7777, 0o751);
    }
}
