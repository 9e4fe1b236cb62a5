//! The GT field of a BCF record, read straight from the record's bytes (BCF 2.2, section 6.3).
//! noodles decodes a sample's genotype through per-value look-ups of the field's name and
//! header definition, which made BCF input twice as slow as text VCF; the sample columns of a
//! cohort are most of a record, so they are scanned here once, as the text path does
//! (decision 0014). noodles still parses the site fields.

use std::io::{self, Read};

/// Reads one record's bytes (`l_shared`, `l_indiv` and both blocks) into `raw`. Returns the
/// bytes read, 0 at the end of the stream. A record larger than `max_bytes` is refused before
/// it is read.
pub(crate) fn read_raw_record<R: Read>(
    reader: &mut R,
    raw: &mut Vec<u8>,
    max_bytes: u64,
) -> io::Result<usize> {
    let mut lengths = [0u8; 8];
    let mut filled = 0;
    while filled < lengths.len() {
        let read = reader.read(&mut lengths[filled..])?;
        if read == 0 {
            if filled == 0 {
                return Ok(0);
            }
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated record"));
        }
        filled += read;
    }
    let shared = u64::from(u32::from_le_bytes([
        lengths[0], lengths[1], lengths[2], lengths[3],
    ]));
    let individual = u64::from(u32::from_le_bytes([
        lengths[4], lengths[5], lengths[6], lengths[7],
    ]));
    let size = shared + individual;
    if size > max_bytes {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("record of {size} bytes, more than {max_bytes} (limit max_line_bytes)"),
        ));
    }
    let size =
        usize::try_from(size).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "record too large"))?;
    raw.clear();
    raw.extend_from_slice(&lengths);
    raw.resize(lengths.len() + size, 0);
    reader.read_exact(&mut raw[lengths.len()..])?;
    Ok(raw.len())
}

/// The GT values of a record: `width` bytes per value, `per_sample` values per sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Genotypes<'r> {
    width: usize,
    per_sample: usize,
    values: &'r [u8],
}

/// One typed integer (`type` byte then the value), as BCF writes keys and counts.
fn typed_integer(bytes: &[u8], at: &mut usize) -> Result<i64, String> {
    let descriptor = *bytes.get(*at).ok_or("truncated FORMAT block")?;
    *at += 1;
    let width = match descriptor & 0x0f {
        1 => 1,
        2 => 2,
        3 => 4,
        other => {
            return Err(format!(
                "FORMAT key or count of type {other}, expected an integer"
            ));
        }
    };
    let value = integer(bytes.get(*at..*at + width).ok_or("truncated FORMAT block")?);
    *at += width;
    Ok(value)
}

/// A little-endian signed integer of 1, 2 or 4 bytes.
fn integer(bytes: &[u8]) -> i64 {
    match *bytes {
        [byte] => i64::from(byte as i8),
        [low, high] => i64::from(i16::from_le_bytes([low, high])),
        [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
        _ => 0,
    }
}

impl<'r> Genotypes<'r> {
    /// Finds the GT field (string-map id `gt_key`) in the record's individual block. `raw` is
    /// what [`read_raw_record`] read. `None` when the record has no GT.
    pub(crate) fn find(raw: &'r [u8], gt_key: usize, samples: usize) -> Result<Option<Self>, String> {
        let header_bytes = |range: std::ops::Range<usize>| raw.get(range).ok_or("truncated record");
        let shared =
            u32::from_le_bytes(header_bytes(0..4)?.try_into().map_err(|_| "truncated record")?) as usize;
        let fields = u32::from_le_bytes(header_bytes(28..32)?.try_into().map_err(|_| "truncated record")?);
        let format_count = (fields >> 24) as usize;
        let individual = raw.get(8 + shared..).ok_or("truncated record")?;
        let mut at = 0;
        for _ in 0..format_count {
            let key = typed_integer(individual, &mut at)?;
            let descriptor = *individual.get(at).ok_or("truncated FORMAT block")?;
            at += 1;
            let width = match descriptor & 0x0f {
                0 => 0,
                1 | 7 => 1,
                2 => 2,
                3 | 5 => 4,
                other => return Err(format!("FORMAT value of unknown type {other}")),
            };
            let mut per_sample = usize::from(descriptor >> 4);
            if per_sample == 15 {
                per_sample = usize::try_from(typed_integer(individual, &mut at)?)
                    .map_err(|_| "negative FORMAT value count")?;
            }
            let length = samples
                .checked_mul(per_sample)
                .and_then(|values| values.checked_mul(width))
                .ok_or("FORMAT block too large")?;
            let values = individual.get(at..at + length).ok_or("truncated FORMAT block")?;
            at += length;
            if usize::try_from(key).ok() == Some(gt_key) {
                if !matches!(descriptor & 0x0f, 1..=3) {
                    return Err("GT is not stored as integers".into());
                }
                return Ok(Some(Self {
                    width,
                    per_sample,
                    values,
                }));
            }
        }
        Ok(None)
    }

    /// Whether sample `index` is `0/0` or `0|0` (two calls of allele 0), the shortcut of most
    /// calls of a cohort.
    pub(crate) fn is_reference_call(&self, index: usize) -> bool {
        if self.width != 1 || self.per_sample != 2 {
            return false;
        }
        let at = index * 2;
        matches!(self.values.get(at..at + 2), Some([first, second]) if first >> 1 == 1 && second >> 1 == 1)
    }

    /// How many samples from `index` on are `0/0` or `0|0` in a row: diploid 8-bit values are
    /// taken eight bytes (four samples) at a time while they run, as the text path takes its
    /// `0|0` columns four bytes at a time (decision 0052). 0 for other layouts.
    pub(crate) fn reference_run(&self, index: usize) -> usize {
        if self.width != 1 || self.per_sample != 2 {
            return 0;
        }
        let Some(values) = self.values.get(index * 2..) else {
            return 0;
        };
        // Allele 0 is stored as 2 (unphased) or 3 (phased): every byte is 2 once the phase bit
        // is cleared.
        const PHASE_CLEARED: u64 = 0xfefe_fefe_fefe_fefe;
        const ALLELE_ZERO: u64 = 0x0202_0202_0202_0202;
        let mut run = 0;
        for word in values.chunks_exact(8) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            if u64::from_le_bytes(bytes) & PHASE_CLEARED != ALLELE_ZERO {
                break;
            }
            run += 4;
        }
        for pair in values.get(run * 2..).unwrap_or_default().chunks_exact(2) {
            if pair[0] & 0xfe != 2 || pair[1] & 0xfe != 2 {
                break;
            }
            run += 1;
        }
        run
    }

    /// Sample `index`'s two alleles, for 8-bit diploid values when both are called: the usual
    /// non-reference call, read without building it value by value. `None` otherwise (a
    /// missing allele, an end-of-vector value, another layout): [`Genotypes::call`] reads those.
    pub(crate) fn called_pair(&self, index: usize) -> Option<[usize; 2]> {
        if self.width != 1 || self.per_sample != 2 {
            return None;
        }
        let at = index * 2;
        let &[first, second] = self.values.get(at..at + 2)? else {
            return None;
        };
        // (allele + 1) << 1 | phased: a called allele is at least 2; 0 and 1 are a missing
        // allele, and the negative values are the missing and end-of-vector markers.
        let (first, second) = (first as i8, second as i8);
        if first < 2 || second < 2 {
            return None;
        }
        Some([
            usize::from((first >> 1) as u8) - 1,
            usize::from((second >> 1) as u8) - 1,
        ])
    }

    /// Sample `index`'s allele indices (`None` for a missing allele), into `call`.
    pub(crate) fn call(&self, index: usize, call: &mut Vec<Option<usize>>) -> Result<(), String> {
        call.clear();
        let (end_of_vector, missing) = match self.width {
            1 => (-127, -128),
            2 => (-32_767, -32_768),
            _ => (-2_147_483_647, -2_147_483_648),
        };
        let start = index * self.per_sample * self.width;
        let bytes = self
            .values
            .get(start..start + self.per_sample * self.width)
            .ok_or("truncated GT values")?;
        // 8-bit values, nearly every file's, without the general width's decoding.
        if self.width == 1 {
            for &byte in bytes {
                if !push_allele(i64::from(byte as i8), end_of_vector, missing, call)? {
                    break;
                }
            }
        } else {
            for value in bytes.chunks_exact(self.width).map(integer) {
                if !push_allele(value, end_of_vector, missing, call)? {
                    break;
                }
            }
        }
        if call.is_empty() {
            call.push(None);
        }
        Ok(())
    }
}

/// Appends one GT value's allele to `call`; false at the end-of-vector value, which ends it.
fn push_allele(
    value: i64,
    end_of_vector: i64,
    missing: i64,
    call: &mut Vec<Option<usize>>,
) -> Result<bool, String> {
    if value == end_of_vector {
        return Ok(false);
    }
    if value == missing {
        call.push(None);
        return Ok(true);
    }
    // (allele + 1) << 1 | phased; 0 is a missing allele.
    match (value >> 1) - 1 {
        -1 => call.push(None),
        allele if allele >= 0 => call.push(Some(allele as usize)),
        _ => return Err(format!("invalid GT value {value}")),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record with no shared fields but the counts, and an individual block of `format`.
    fn record(samples: u32, formats: u8, individual: &[u8]) -> Vec<u8> {
        let mut shared = vec![0u8; 24];
        shared[20..24].copy_from_slice(&(samples | (u32::from(formats) << 24)).to_le_bytes());
        let mut raw = Vec::new();
        raw.extend_from_slice(&(shared.len() as u32).to_le_bytes());
        raw.extend_from_slice(&(individual.len() as u32).to_le_bytes());
        raw.extend_from_slice(&shared);
        raw.extend_from_slice(individual);
        raw
    }

    #[test]
    fn gt_values_decode_to_allele_indices() {
        // Three samples, FORMAT DP (key 2, one int8) then GT (key 1, two int8 each):
        // 0/0, 0|1 and ./. ; then a haploid 1 padded with the end-of-vector value.
        let individual = [
            0x11, 2, 0x11, 30, 31, 32, // DP
            0x11, 1, 0x21, 0x02, 0x02, 0x02, 0x05, 0x00, 0x00, // GT
        ];
        let raw = record(3, 2, &individual);
        let genotypes = Genotypes::find(&raw, 1, 3).expect("valid").expect("has GT");
        let mut call = Vec::new();
        assert!(genotypes.is_reference_call(0));
        genotypes.call(0, &mut call).expect("0/0");
        assert_eq!(call, [Some(0), Some(0)]);
        assert!(!genotypes.is_reference_call(1));
        genotypes.call(1, &mut call).expect("0|1");
        assert_eq!(call, [Some(0), Some(1)]);
        genotypes.call(2, &mut call).expect("./.");
        assert_eq!(call, [None, None]);

        let haploid = record(1, 1, &[0x11, 1, 0x21, 0x04, 0x81]);
        let genotypes = Genotypes::find(&haploid, 1, 1).expect("valid").expect("has GT");
        genotypes.call(0, &mut call).expect("1");
        assert_eq!(call, [Some(1)]);
        assert!(
            Genotypes::find(&haploid, 5, 1).expect("valid").is_none(),
            "no such key"
        );
    }

    #[test]
    fn reference_runs_stop_at_the_first_other_call() {
        // Eleven samples, GT only: 0/0 0|0 0/0 0/0 | 0|0 0/0 0/1 0/0 | 0/0 ./. 0/0, worked by
        // hand from BCF's (allele + 1) << 1 | phased encoding.
        let values = [
            0x02, 0x02, 0x02, 0x03, 0x02, 0x02, 0x02, 0x02, // samples 0-3
            0x02, 0x03, 0x02, 0x02, 0x02, 0x04, 0x02, 0x02, // samples 4-7
            0x02, 0x02, 0x00, 0x00, 0x02, 0x02, // samples 8-10
        ];
        let mut individual = vec![0x11, 1, 0x21];
        individual.extend_from_slice(&values);
        let raw = record(11, 1, &individual);
        let genotypes = Genotypes::find(&raw, 1, 11).expect("valid").expect("has GT");
        // From 0: four whole, then 0|0 and 0/0 of the second word, stopped by 0/1 (sample 6).
        assert_eq!(genotypes.reference_run(0), 6);
        assert_eq!(genotypes.reference_run(5), 1);
        assert_eq!(genotypes.reference_run(6), 0);
        // Sample 8 then ./. (sample 9), in the tail shorter than a word.
        assert_eq!(genotypes.reference_run(7), 2);
        assert_eq!(genotypes.reference_run(10), 1);
        assert_eq!(genotypes.reference_run(11), 0);
        assert_eq!(genotypes.reference_run(12), 0);

        // Samples 2 and 6 hold the only calls of that word with both alleles called.
        assert_eq!(genotypes.called_pair(6), Some([0, 1]));
        assert_eq!(genotypes.called_pair(0), Some([0, 0]));
        assert_eq!(genotypes.called_pair(9), None, "./. is read by call()");
        assert_eq!(genotypes.called_pair(11), None, "past the last sample");
        let pairs = record(
            4,
            1,
            &[0x11, 1, 0x21, 0x06, 0x05, 0x00, 0x04, 0x04, 0x81, 0x80, 0x80],
        );
        let genotypes = Genotypes::find(&pairs, 1, 4).expect("valid").expect("has GT");
        // 2|1, ./1, 1 (haploid, padded), ./. as the missing marker.
        assert_eq!(genotypes.called_pair(0), Some([2, 1]));
        assert_eq!(genotypes.called_pair(1), None);
        assert_eq!(genotypes.called_pair(2), None);
        assert_eq!(genotypes.called_pair(3), None);

        // A haploid layout (one value per sample) has no runs to take.
        let haploid = record(2, 1, &[0x11, 1, 0x11, 0x02, 0x02]);
        let genotypes = Genotypes::find(&haploid, 1, 2).expect("valid").expect("has GT");
        assert_eq!(genotypes.reference_run(0), 0);
        assert_eq!(genotypes.called_pair(0), None);
    }

    #[test]
    fn truncated_and_oversized_records_are_errors_not_panics() {
        let raw = record(3, 1, &[0x11, 1, 0x21, 0x02]);
        assert!(Genotypes::find(&raw, 1, 3).is_err());
        assert!(Genotypes::find(&raw[..10], 1, 3).is_err());
        let mut bytes: &[u8] = &[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0];
        let error = read_raw_record(&mut bytes, &mut Vec::new(), 1 << 20).expect_err("oversized");
        assert!(error.to_string().contains("max_line_bytes"), "{error}");
        let mut cut: &[u8] = &[4, 0, 0, 0, 0, 0];
        assert!(read_raw_record(&mut cut, &mut Vec::new(), 1 << 20).is_err());
        let mut empty: &[u8] = &[];
        assert_eq!(
            read_raw_record(&mut empty, &mut Vec::new(), 1 << 20).expect("end"),
            0
        );
    }
}
