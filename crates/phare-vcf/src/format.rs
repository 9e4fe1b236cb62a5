//! Recognises the container from its first bytes, never from the file name: platforms name
//! files inconsistently, and a `.vcf.gz` that is really plain gzip must still be read.

use std::io::{self, Read};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormat {
    Vcf,
    VcfGzip,
    VcfBgzf,
    Bcf,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl InputFormat {
    /// Sniffs the format from the start of a file.
    pub fn detect(mut input: impl Read) -> io::Result<Option<Self>> {
        let mut head = [0u8; 18];
        let length = read_up_to(&mut input, &mut head)?;
        let head = &head[..length];
        if head.starts_with(b"##fileformat=VCF") {
            return Ok(Some(Self::Vcf));
        }
        if !head.starts_with(&GZIP_MAGIC) {
            return Ok(None);
        }
        if !is_bgzf_header(head) {
            return Ok(Some(Self::VcfGzip));
        }
        let mut rest = Vec::with_capacity(length);
        rest.extend_from_slice(head);
        let mut decoder = flate2::read::GzDecoder::new(io::Cursor::new(rest).chain(input));
        let mut magic = [0u8; 16];
        let decoded = read_up_to(&mut decoder, &mut magic)?;
        let magic = &magic[..decoded];
        if magic.starts_with(b"BCF\x02") {
            Ok(Some(Self::Bcf))
        } else if magic.starts_with(b"##fileformat=VCF") {
            Ok(Some(Self::VcfBgzf))
        } else {
            Ok(None)
        }
    }
}

/// BGZF is gzip with FEXTRA set and a `BC` subfield (SAM/BAM specification, section 4.1).
fn is_bgzf_header(head: &[u8]) -> bool {
    head.len() >= 16 && head[3] & 0x04 != 0 && head[12] == b'B' && head[13] == b'C'
}

fn read_up_to(input: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_recognised_by_its_first_line() {
        let detected = InputFormat::detect(&b"##fileformat=VCFv4.2\n"[..]).expect("read");
        assert_eq!(detected, Some(InputFormat::Vcf));
    }

    #[test]
    fn anything_else_is_not_a_variant_file() {
        assert_eq!(InputFormat::detect(&b"PK\x03\x04zip"[..]).expect("read"), None);
        assert_eq!(InputFormat::detect(&b""[..]).expect("read"), None);
    }

    #[test]
    fn plain_gzip_is_told_apart_from_bgzf() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(b"##fileformat=VCFv4.2\n").expect("write");
        let compressed = encoder.finish().expect("finish");
        assert_eq!(
            InputFormat::detect(&compressed[..]).expect("read"),
            Some(InputFormat::VcfGzip)
        );
    }
}
