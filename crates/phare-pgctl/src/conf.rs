//! The server settings phare manages, and the connection url.

use std::fmt::Write as _;
use std::path::Path;

/// File in PGDATA holding phare's settings; rewritten before every start.
pub(crate) const PHARE_CONF: &str = "phare.conf";

/// Line appended once (at initdb time) to `postgresql.conf`. Settings made with `ALTER SYSTEM`
/// (`postgresql.auto.conf`) are read after it and still win.
pub(crate) const INCLUDE_LINE: &str =
    "\n# settings managed by phare (rewritten at each start)\ninclude = 'phare.conf'\n";

/// Quotes a string value for postgresql.conf: single quotes doubled, backslashes escaped
/// (the conf parser interprets backslash escapes inside quoted values).
pub(crate) fn conf_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `unix_socket_directories` is a comma-separated list whose elements may be double-quoted;
/// quoting keeps commas and spaces in the path.
pub(crate) fn socket_dirs_value(socket_dir: &Path) -> String {
    let dir = socket_dir.to_string_lossy().replace('"', "\"\"");
    conf_quote(&format!("\"{dir}\""))
}

/// Contents of `phare.conf`.
pub(crate) fn phare_conf(socket_dir: &Path, port: u16, durable: bool) -> String {
    let mut conf = String::from(
        "# written by phare at each start of the managed cluster: edits here are lost.\n\
         # to override a setting, use ALTER SYSTEM (postgresql.auto.conf wins over this file).\n\n\
         # unix socket only, private to the owner of the cluster directory\n\
         listen_addresses = ''\n",
    );
    // Writing to a String cannot fail.
    let _ = writeln!(
        conf,
        "unix_socket_directories = {}",
        socket_dirs_value(socket_dir)
    );
    let _ = writeln!(conf, "unix_socket_permissions = 0700");
    let _ = writeln!(conf, "port = {port}\t\t\t\t# only names the socket file");
    conf.push_str(
        "\n# memory and wal, sized for a ~24 GiB / 2-core machine\n\
         shared_buffers = 1GB\n\
         effective_cache_size = 8GB\n\
         work_mem = 32MB\n\
         maintenance_work_mem = 512MB\n\
         max_wal_size = 4GB\n\
         min_wal_size = 256MB\n\
         checkpoint_completion_target = 0.9\n\
         wal_compression = on\n\
         random_page_cost = 1.1\n\
         max_parallel_workers_per_gather = 2\n\
         max_parallel_maintenance_workers = 2\n\
         max_connections = 100\n\
         \n# logging (the server log is server.log next to the data directory)\n\
         log_line_prefix = '%m [%p] %q%u@%d '\n\
         log_min_duration_statement = 5s\n",
    );
    if durable {
        conf.push_str("\n# durability: defaults (fsync, synchronous_commit and full_page_writes on)\n");
    } else {
        conf.push_str(
            "\n# throwaway cluster: a crash may lose or corrupt data\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n",
        );
    }
    conf
}

/// Percent-encodes everything but unreserved characters (and `/` when `keep_slash`), so the
/// value survives both url parsing and `application/x-www-form-urlencoded` decoding of the
/// query string (which sqlx uses, and which would turn a literal `+` into a space).
pub(crate) fn percent_encode(value: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        let keep =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || (keep_slash && b == b'/');
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `postgres://<user>@localhost:<port>/<database>?host=<socket dir>&sslmode=disable`
///
/// sqlx-postgres 0.9 (`PgConnectOptions::parse_from_url`) turns a `host` query parameter that
/// starts with `/` into `socket(...)`, and then connects to `<socket dir>/.s.PGSQL.<port>`; the
/// port is explicit so `PGPORT` in the environment cannot change the socket name, and sslmode is
/// explicit so `PGSSLMODE=require` cannot break a socket connection. `localhost` is ignored for
/// the connection but keeps the url valid for libpq-style tools too.
pub(crate) fn database_url(user: &str, socket_dir: &str, port: u16, database: &str) -> String {
    format!(
        "postgres://{}@localhost:{port}/{}?host={}&sslmode=disable",
        percent_encode(user, false),
        percent_encode(database, false),
        percent_encode(socket_dir, true)
    )
}

/// Quotes an SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal (standard_conforming_strings is on).
pub(crate) fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(conf_quote(r"a'b\c"), r"'a''b\\c'");
        assert_eq!(socket_dirs_value(Path::new("/t/a, \"b\"")), r#"'"/t/a, ""b"""'"#);
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(quote_literal("o'k"), "'o''k'");
    }

    #[test]
    fn url_encoding() {
        assert_eq!(
            database_url("phare", "/tmp/a b/+#%&é/run", 5432, "phare"),
            "postgres://phare@localhost:5432/phare?host=/tmp/a%20b/%2B%23%25%26%C3%A9/run&sslmode=disable"
        );
    }

    #[test]
    fn non_durable_settings() {
        let conf = phare_conf(Path::new("/d/run"), 5432, false);
        assert!(conf.contains("fsync = off"));
        assert!(conf.contains("listen_addresses = ''"));
        assert!(conf.contains("unix_socket_directories = '\"/d/run\"'"));
        assert!(!phare_conf(Path::new("/d/run"), 5432, true).contains("fsync = off"));
    }
}
