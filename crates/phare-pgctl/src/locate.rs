//! Finding the PostgreSQL server binaries.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::PgCtlError;

/// Programs the managed cluster runs; a bin dir must hold all of them.
pub(crate) const REQUIRED: [&str; 5] = ["initdb", "pg_ctl", "postgres", "psql", "pg_isready"];

/// Where Debian/Ubuntu install one directory per major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";

/// Where the binaries were found (for logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinSource {
    Configured,
    PgConfig,
    VersionedDir,
    InitdbOnPath,
}

impl BinSource {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Configured => "configured bin dir",
            Self::PgConfig => "pg_config --bindir",
            Self::VersionedDir => "highest version in /usr/lib/postgresql",
            Self::InitdbOnPath => "initdb on PATH",
        }
    }
}

/// Locates the server binaries: the configured dir, else `pg_config --bindir`, else the highest
/// version in `/usr/lib/postgresql/*/bin`, else the directory of `initdb` on `PATH`.
pub(crate) fn locate(configured: Option<&Path>) -> Result<(PathBuf, BinSource), PgCtlError> {
    if let Some(dir) = configured {
        if has_server_binaries(dir) {
            return Ok((dir.to_path_buf(), BinSource::Configured));
        }
        return Err(PgCtlError::BinariesNotFound {
            looked: format!(
                "the configured bin dir {} has no {}",
                dir.display(),
                REQUIRED.join("/")
            ),
        });
    }
    let mut looked = Vec::new();

    let path_var = std::env::var_os("PATH").unwrap_or_default();
    match find_on_path(&path_var, "pg_config") {
        Some(pg_config) => {
            if let Some(dir) = pg_config_bindir(&pg_config) {
                if has_server_binaries(&dir) {
                    return Ok((dir, BinSource::PgConfig));
                }
                looked.push(format!("{} (from pg_config --bindir)", dir.display()));
            } else {
                looked.push(format!("{} --bindir (failed)", pg_config.display()));
            }
        }
        None => looked.push("pg_config on PATH (absent)".to_owned()),
    }

    if let Some(dir) = highest_versioned_dir(Path::new(DEBIAN_ROOT)) {
        return Ok((dir, BinSource::VersionedDir));
    }
    looked.push(format!("{DEBIAN_ROOT}/*/bin"));

    if let Some(initdb) = find_on_path(&path_var, "initdb") {
        // Follow symlinks: /usr/local/bin/initdb may point into the real bin dir.
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = real.parent()
            && has_server_binaries(dir)
        {
            return Ok((dir.to_path_buf(), BinSource::InitdbOnPath));
        }
        looked.push(format!(
            "{} (initdb on PATH, without the other server programs)",
            real.display()
        ));
    } else {
        looked.push("initdb on PATH (absent)".to_owned());
    }
    Err(PgCtlError::BinariesNotFound {
        looked: looked.join(", "),
    })
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

pub(crate) fn has_server_binaries(dir: &Path) -> bool {
    REQUIRED.iter().all(|name| is_executable(&dir.join(name)))
}

fn find_on_path(path_var: &OsStr, program: &str) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn pg_config_bindir(pg_config: &Path) -> Option<PathBuf> {
    let output = Command::new(pg_config)
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let dir = PathBuf::from(text.trim());
    dir.is_absolute().then_some(dir)
}

/// `<root>/<version>/bin` with the highest version (`15` > `9.6`) that holds the server binaries.
fn highest_versioned_dir(root: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    let mut candidates: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = parse_version(name.to_str()?)?;
            let bin = entry.path().join("bin");
            has_server_binaries(&bin).then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}

fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// The major version ("15", "9.6") in the output of `pg_ctl --version`
/// (`pg_ctl (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)`).
pub(crate) fn major_version(version_output: &str) -> Option<String> {
    let rest = version_output.split("(PostgreSQL)").nth(1)?;
    let full = rest.split_whitespace().next()?;
    let numeric: String = full
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = numeric.split('.').filter(|p| !p.is_empty());
    let first = parts.next()?;
    let first_num: u32 = first.parse().ok()?;
    if first_num >= 10 {
        Some(first.to_owned())
    } else {
        // Before 10 the major version had two components.
        Some(format!("{first}.{}", parts.next()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        let mut v = [parse_version("9.6"), parse_version("15"), parse_version("10")];
        v.sort();
        assert_eq!(v[2], Some(vec![15]));
        assert_eq!(parse_version("common"), None);
    }

    #[test]
    fn major_version_from_pg_ctl_output() {
        assert_eq!(
            major_version("pg_ctl (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)\n").as_deref(),
            Some("15")
        );
        assert_eq!(
            major_version("pg_ctl (PostgreSQL) 9.6.24").as_deref(),
            Some("9.6")
        );
        assert_eq!(
            major_version("pg_ctl (PostgreSQL) 17beta1").as_deref(),
            Some("17")
        );
        assert_eq!(major_version("garbage"), None);
    }
}
