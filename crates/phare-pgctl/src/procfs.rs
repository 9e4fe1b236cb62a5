//! Linux `/proc` checks that `pg_ctl` lacks.
//!
//! `pg_ctl status` and the postmaster's own lock-file check test a pid with `kill(pid, 0)`, which
//! also succeeds for a zombie. After a crash (postmaster killed), the dead postmaster stays a
//! zombie until its new parent reaps it; in containers whose pid 1 reaps late or never, the
//! stale `postmaster.pid` then makes the cluster look running and blocks the next start.

use std::fs;
use std::path::Path;

/// State of the process named in line 1 of `postmaster.pid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PidState {
    /// No `postmaster.pid`, or no pid in it.
    NoPidFile,
    /// The process runs.
    Alive(i32),
    /// The process is a zombie: dead, not yet reaped.
    Zombie(i32),
    /// No such process.
    Gone(i32),
    /// `postmaster.pid` is unreadable or `/proc` is not available: ask pg_ctl.
    Unknown,
}

pub(crate) fn postmaster_state(pgdata: &Path) -> PidState {
    let text = match fs::read_to_string(pgdata.join("postmaster.pid")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return PidState::NoPidFile,
        Err(_) => return PidState::Unknown,
    };
    let Some(pid) = text
        .lines()
        .next()
        .and_then(|line| line.trim().parse::<i32>().ok())
    else {
        return PidState::NoPidFile;
    };
    // Standalone backends write -pid.
    let pid = pid.abs();
    if !Path::new("/proc/self/stat").exists() {
        return PidState::Unknown;
    }
    match process_state(pid) {
        None => PidState::Gone(pid),
        Some('Z' | 'X') => PidState::Zombie(pid),
        Some(_) => PidState::Alive(pid),
    }
}

/// The state letter of `/proc/<pid>/stat` ("pid (comm) S ..."; comm may hold spaces and parens).
fn process_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.trim_start().chars().next()
}

/// Pids of live processes whose working directory is `pgdata` (every postgres server process
/// chdirs into its data directory). Processes we may not inspect are not seen.
pub(crate) fn live_processes_in(pgdata: &Path) -> Vec<i32> {
    let Ok(canonical) = fs::canonicalize(pgdata) else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd == canonical)
                && !matches!(process_state(pid), Some('Z' | 'X') | None)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(postmaster_state(tmp.path()), PidState::NoPidFile);
        let me = i32::try_from(std::process::id()).unwrap();
        fs::write(tmp.path().join("postmaster.pid"), format!("{me}\n/x\n")).unwrap();
        assert_eq!(postmaster_state(tmp.path()), PidState::Alive(me));
        assert!(live_processes_in(tmp.path()).is_empty());
    }
}
