//! Limits that stop a hostile or broken file early, before it costs the node memory or time:
//! line length, header size, decompressed bytes (zip bombs), samples, alleles per record and
//! allele length. Defaults are far above real files; operators can lower them.

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest text line (header or record), in bytes.
    pub max_line_bytes: u64,
    /// Largest header, in decompressed bytes.
    pub max_header_bytes: u64,
    /// Most decompressed bytes one file may expand to.
    pub max_decompressed_bytes: u64,
    /// Most sample columns.
    pub max_samples: usize,
    /// Most alternate alleles in one record.
    pub max_alleles_per_record: usize,
    /// Longest REF or ALT allele, in bases.
    pub max_allele_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_line_bytes: 256 << 20,
            max_header_bytes: 64 << 20,
            max_decompressed_bytes: 4 << 40,
            max_samples: 1_000_000,
            max_alleles_per_record: 1_000,
            max_allele_length: 1_000_000,
        }
    }
}

/// Enforces the byte limits on the decompressed stream. Errors surface on the read that
/// crosses a limit, so at most one buffer beyond it is ever held.
pub(crate) struct Guard<R> {
    inner: R,
    state: GuardState,
    /// Bytes at the front of the inner buffer already accounted for.
    accounted: usize,
}

struct GuardState {
    limits: Limits,
    /// Text formats have lines; BCF does not.
    lines: bool,
    in_header: Arc<AtomicBool>,
    total: u64,
    current_line: u64,
    violation: Option<String>,
}

impl<R> Guard<R> {
    pub(crate) fn new(inner: R, limits: Limits, lines: bool, in_header: Arc<AtomicBool>) -> Self {
        let state = GuardState {
            limits,
            lines,
            in_header,
            total: 0,
            current_line: 0,
            violation: None,
        };
        Self {
            inner,
            state,
            accounted: 0,
        }
    }
}

impl GuardState {
    fn account(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.total > self.limits.max_decompressed_bytes {
            self.violation = Some(format!(
                "file expands to more than {} decompressed bytes (limit max_decompressed_bytes)",
                self.limits.max_decompressed_bytes
            ));
            return;
        }
        if self.in_header.load(Ordering::Relaxed) && self.total > self.limits.max_header_bytes {
            self.violation = Some(format!(
                "header larger than {} bytes (limit max_header_bytes)",
                self.limits.max_header_bytes
            ));
            return;
        }
        if !self.lines {
            return;
        }
        if bytes.len() as u64 > self.limits.max_line_bytes {
            // A limit below the chunk size: every line of the chunk must be measured.
            let mut rest = bytes;
            while let Some(newline) = memchr::memchr(b'\n', rest) {
                self.current_line += newline as u64;
                self.check_line();
                self.current_line = 0;
                rest = &rest[newline + 1..];
            }
            self.current_line += rest.len() as u64;
            self.check_line();
            return;
        }
        // Otherwise only the line running across chunk boundaries can exceed the limit: the
        // bytes before the chunk's first newline extend it, those after its last start the next.
        match memchr::memchr(b'\n', bytes) {
            None => self.current_line += bytes.len() as u64,
            Some(first) => {
                self.current_line += first as u64;
                self.check_line();
                let last = memchr::memrchr(b'\n', bytes).unwrap_or(first);
                self.current_line = (bytes.len() - last - 1) as u64;
            }
        }
        self.check_line();
    }

    fn check_line(&mut self) {
        if self.current_line > self.limits.max_line_bytes && self.violation.is_none() {
            self.violation = Some(format!(
                "line longer than {} bytes (limit max_line_bytes)",
                self.limits.max_line_bytes
            ));
        }
    }

    fn checked(&self) -> io::Result<()> {
        match &self.violation {
            Some(message) => Err(io::Error::new(io::ErrorKind::InvalidData, message.clone())),
            None => Ok(()),
        }
    }
}

impl<R: BufRead> Read for Guard<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let count = available.len().min(buffer.len());
        buffer[..count].copy_from_slice(&available[..count]);
        self.consume(count);
        Ok(count)
    }
}

impl<R: BufRead> BufRead for Guard<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.state.checked()?;
        let buffer = self.inner.fill_buf()?;
        // Bytes are accounted the first time they are offered, so each is scanned once.
        if buffer.len() > self.accounted {
            self.state.account(&buffer[self.accounted..]);
            self.accounted = buffer.len();
        }
        self.state.checked()?;
        Ok(buffer)
    }

    fn consume(&mut self, amount: usize) {
        self.accounted = self.accounted.saturating_sub(amount);
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(text: &'static [u8], limits: Limits, in_header: bool) -> Guard<&'static [u8]> {
        Guard::new(text, limits, true, Arc::new(AtomicBool::new(in_header)))
    }

    #[test]
    fn a_line_over_the_limit_fails_the_next_read() {
        let limits = Limits {
            max_line_bytes: 8,
            ..Limits::default()
        };
        let mut reader = guard(b"short\nthis line is too long\nok\n", limits, false);
        let mut text = String::new();
        let error = reader.read_to_string(&mut text).expect_err("long line");
        assert!(error.to_string().contains("max_line_bytes"), "{error}");
    }

    #[test]
    fn a_long_line_split_across_chunks_is_caught() {
        let limits = Limits {
            max_line_bytes: 100,
            ..Limits::default()
        };
        let long = format!("{}\n", "A".repeat(150));
        let text: &'static [u8] = Box::leak(long.into_bytes().into_boxed_slice());
        // Chunks of 64 bytes, each below the limit: only the running count can see the line.
        let chunked = std::io::BufReader::with_capacity(64, text);
        let mut reader = Guard::new(chunked, limits, true, Arc::new(AtomicBool::new(false)));
        let mut output = String::new();
        let error = reader
            .read_to_string(&mut output)
            .expect_err("long line across chunks");
        assert!(error.to_string().contains("max_line_bytes"), "{error}");
    }

    #[test]
    fn lines_within_the_limit_pass_untouched() {
        let limits = Limits {
            max_line_bytes: 8,
            ..Limits::default()
        };
        let mut reader = guard(b"12345678\nabc\n", limits, false);
        let mut text = String::new();
        reader.read_to_string(&mut text).expect("within limits");
        assert_eq!(text, "12345678\nabc\n");
    }

    #[test]
    fn decompressed_and_header_budgets_are_enforced() {
        let limits = Limits {
            max_decompressed_bytes: 10,
            ..Limits::default()
        };
        let mut text = String::new();
        let error = guard(b"0123456789abcdef\n", limits, false)
            .read_to_string(&mut text)
            .expect_err("bomb");
        assert!(error.to_string().contains("max_decompressed_bytes"), "{error}");
        let limits = Limits {
            max_header_bytes: 4,
            ..Limits::default()
        };
        let error = guard(b"##fileformat\n", limits, true)
            .read_to_string(&mut text)
            .expect_err("header");
        assert!(error.to_string().contains("max_header_bytes"), "{error}");
    }
}
