//! Limits that stop a hostile or broken file early, before it costs the node memory or time:
//! line length, header size, decompressed bytes and compression ratio (zip bombs), samples,
//! alleles per record and allele length. Defaults are far above real files; operators can lower
//! them.

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// Most decompressed bytes per compressed byte read (0: no check). Real VCF/BCF files stay
    /// far below it (docs/benchmarks.md); a decompression bomb does not.
    pub max_compression_ratio: u64,
    /// Decompressed bytes read before the ratio is checked, so that small files, whose ratio
    /// means little, are never refused by it.
    pub compression_ratio_after_bytes: u64,
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
            max_compression_ratio: 150,
            compression_ratio_after_bytes: 64 << 20,
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
    /// Bytes read from the file as stored, for compressed formats.
    compressed: Option<Arc<AtomicU64>>,
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
            compressed: None,
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

    /// Also checks the compression ratio against the bytes read from the file as stored.
    pub(crate) fn with_compressed_bytes(mut self, compressed: Arc<AtomicU64>) -> Self {
        self.state.compressed = Some(compressed);
        self
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
        if let Some(compressed) = &self.compressed
            && self.limits.max_compression_ratio > 0
            && self.total > self.limits.compression_ratio_after_bytes
        {
            let compressed = compressed.load(Ordering::Relaxed).max(1);
            if self.total / compressed > self.limits.max_compression_ratio {
                self.violation = Some(format!(
                    "{compressed} compressed bytes expand to {} bytes, a ratio above {} (limit max_compression_ratio): a decompression bomb, or a file far more repetitive than real VCF/BCF",
                    self.total, self.limits.max_compression_ratio
                ));
                return;
            }
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

    fn ratio_guard(text: &'static [u8], compressed: u64, limits: Limits) -> io::Result<String> {
        let mut reader =
            guard(text, limits, false).with_compressed_bytes(Arc::new(AtomicU64::new(compressed)));
        let mut output = String::new();
        reader.read_to_string(&mut output).map(|_| output)
    }

    #[test]
    fn the_compression_ratio_is_checked_once_past_the_grace_bytes() {
        let limits = Limits {
            max_compression_ratio: 10,
            compression_ratio_after_bytes: 20,
            ..Limits::default()
        };
        let text: &'static [u8] = b"0123456789012345678901234567890123456789\n";
        // 41 bytes from 2 stored bytes: a ratio of 20, over the limit of 10.
        let error = ratio_guard(text, 2, limits.clone()).expect_err("bomb");
        assert!(error.to_string().contains("max_compression_ratio"), "{error}");
        // From 5 stored bytes the ratio is 8: within the limit.
        assert!(ratio_guard(text, 5, limits.clone()).is_ok());
        // Under the grace bytes, any ratio passes.
        assert!(ratio_guard(b"0123456789\n", 1, limits.clone()).is_ok());
        // 0 turns the check off.
        let off = Limits {
            max_compression_ratio: 0,
            ..limits
        };
        assert!(ratio_guard(text, 1, off).is_ok());
    }
}
