//! A reference genome for normalisation: checks REF against the genome and left-aligns indels.
//!
//! Built on noodles-fasta's indexed reader: a FASTA file with its `.fai` index, plain or
//! bgzip-compressed (`.fa.gz`/`.fa.bgz`, which also needs the `.gzi` that `samtools faidx`
//! writes). FASTA sequence names may be any spelling [`Assembly::contig`] resolves (`chr1`, `1`,
//! `NC_000001.11`); sequences that are not primary chromosomes (alts, decoys, unplaced) are
//! ignored.
//!
//! Ingestion asks for bases per indel record, in order along the genome, so the genome keeps
//! one window of the current contig (64 KiB by default) and reads the file again only when a
//! request falls outside it: one seek per window, not one per record.
//!
//! Left-alignment is the one of vt and `bcftools norm` (Tan, Abecasis & Kang 2015): while both
//! alleles end with the same base, drop that base and prepend the genome's base before the
//! start, moving the start left by one; stop at the start of the contig. Alleles keep VCF's
//! anchor base, as everywhere in Phare.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use noodles_core::{Position, Region};
use noodles_fasta as fasta;
use phare_domain::{Allele, Assembly, Contig};

/// Bases read per window by default: a few hundred indels of a typical VCF share one.
const DEFAULT_WINDOW_SIZE: u64 = 64 * 1024;

type FastaReader = fasta::io::IndexedReader<fasta::io::BufReader<File>>;

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("cannot open reference genome {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    #[error(
        "reference genome {} has no index: {} is missing (create it with `samtools faidx {}`)",
        path.display(), index.display(), path.display()
    )]
    MissingIndex { path: PathBuf, index: PathBuf },
    #[error("cannot read the index {} of reference genome {}: {source}", index.display(), path.display())]
    Index {
        path: PathBuf,
        index: PathBuf,
        source: io::Error,
    },
    #[error(
        "reference genome {} has no sequence named like a primary chromosome of {assembly} \
         (`chr1`, `1` or `NC_000001…`)",
        path.display()
    )]
    NoPrimaryContigs { path: PathBuf, assembly: Assembly },
    #[error("reference genome {} has no sequence for contig {contig}", path.display())]
    MissingContig { path: PathBuf, contig: &'static str },
    #[error("invalid range {contig}:{start}-{end} (0-based, start after end)")]
    InvalidRange {
        contig: &'static str,
        start: u64,
        end: u64,
    },
    #[error(
        "{contig}:{}-{end} lies beyond the end of contig {contig} in reference genome {} ({length} bases)",
        start + 1, path.display()
    )]
    OutOfBounds {
        path: PathBuf,
        contig: &'static str,
        /// 0-based start of the requested range.
        start: u64,
        /// 0-based exclusive end (= 1-based inclusive end).
        end: u64,
        length: u64,
    },
    #[error("cannot read {contig}:{}-{end} from reference genome {}: {source}", start + 1, path.display())]
    Read {
        path: PathBuf,
        contig: &'static str,
        start: u64,
        end: u64,
        source: io::Error,
    },
    #[error(
        "reference genome {} gave {found} bases for {contig}:{}-{end} instead of {}: is its index out of date?",
        path.display(), start + 1, end - start
    )]
    Truncated {
        path: PathBuf,
        contig: &'static str,
        start: u64,
        end: u64,
        found: u64,
    },
    #[error(
        "reference mismatch at {contig}:{position}: reference genome {} has `{expected}` where the variant's REF is `{found}`",
        path.display()
    )]
    Mismatch {
        path: PathBuf,
        contig: &'static str,
        /// 1-based position of the first REF base (VCF's POS after trimming).
        position: u64,
        /// The genome's bases over the REF span, uppercase.
        expected: String,
        /// The allele's REF.
        found: String,
    },
}

/// A FASTA sequence that resolved to a primary chromosome.
struct Sequence {
    /// The name as written in the FASTA (and its `.fai`), e.g. `chr1`.
    name: Vec<u8>,
    length: u64,
}

/// Cached bases `[start, start + bases.len())` of one contig, uppercase.
struct Window {
    contig: Contig,
    start: u64,
    bases: Vec<u8>,
}

impl Window {
    fn covers(&self, contig: Contig, start: u64, end: u64) -> bool {
        self.contig == contig && start >= self.start && end <= self.start + self.bases.len() as u64
    }
}

pub struct ReferenceGenome {
    path: PathBuf,
    assembly: Assembly,
    reader: FastaReader,
    sequences: HashMap<Contig, Sequence>,
    window_size: u64,
    window: Option<Window>,
}

impl fmt::Debug for ReferenceGenome {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ReferenceGenome")
            .field("path", &self.path)
            .field("assembly", &self.assembly)
            .field("contigs", &self.sequences.len())
            .field("window_size", &self.window_size)
            .finish_non_exhaustive()
    }
}

impl ReferenceGenome {
    /// Opens a FASTA file and its `.fai` index (and `.gzi` if bgzip-compressed); fails naming
    /// the missing file if an index is absent. Sequence names are resolved to the assembly's
    /// primary chromosomes here; other sequences are ignored, and a FASTA with none is refused.
    pub fn open(path: &Path, assembly: Assembly) -> Result<Self, ReferenceError> {
        std::fs::metadata(path).map_err(|source| ReferenceError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let index_path = with_suffix(path, "fai");
        if !index_path.is_file() {
            return Err(ReferenceError::MissingIndex {
                path: path.to_path_buf(),
                index: index_path,
            });
        }
        // noodles reads `.gz`/`.bgz` as BGZF, which needs the `.gzi` block index.
        if matches!(
            path.extension().and_then(|extension| extension.to_str()),
            Some("gz" | "bgz")
        ) {
            let gzi_path = with_suffix(path, "gzi");
            if !gzi_path.is_file() {
                return Err(ReferenceError::MissingIndex {
                    path: path.to_path_buf(),
                    index: gzi_path,
                });
            }
        }
        let index = fasta::fai::fs::read(&index_path).map_err(|source| ReferenceError::Index {
            path: path.to_path_buf(),
            index: index_path.clone(),
            source,
        })?;
        let mut sequences = HashMap::new();
        for record in index.as_ref() {
            let name: &[u8] = record.name().as_ref();
            let Some(contig) = std::str::from_utf8(name)
                .ok()
                .and_then(|name| assembly.contig(name))
            else {
                continue;
            };
            // The first spelling wins if a FASTA carries a chromosome twice.
            sequences.entry(contig).or_insert_with(|| Sequence {
                name: name.to_vec(),
                length: record.length(),
            });
        }
        if sequences.is_empty() {
            return Err(ReferenceError::NoPrimaryContigs {
                path: path.to_path_buf(),
                assembly,
            });
        }
        let reader = fasta::io::indexed_reader::Builder::default()
            .set_index(index)
            .build_from_path(path)
            .map_err(|source| ReferenceError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            path: path.to_path_buf(),
            assembly,
            reader,
            sequences,
            window_size: DEFAULT_WINDOW_SIZE,
            window: None,
        })
    }

    /// Sets how many bases are read at a time (at least 1; 64 KiB by default).
    pub fn with_window_size(mut self, bases: u64) -> Self {
        self.window_size = bases.max(1);
        self.window = None;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn assembly(&self) -> Assembly {
        self.assembly
    }

    /// The length of a contig in this FASTA, if it has it: compare with
    /// [`Contig::length`] to catch a FASTA of the other assembly.
    pub fn contig_length(&self, contig: Contig) -> Option<u64> {
        self.sequences.get(&contig).map(|sequence| sequence.length)
    }

    /// Bases `[start, end)` (0-based) of a contig, uppercase.
    pub fn bases(&mut self, contig: Contig, start: u64, end: u64) -> Result<Vec<u8>, ReferenceError> {
        self.cached(contig, start, end).map(<[u8]>::to_vec)
    }

    /// Checks the allele's REF against the genome (case-insensitively; `N` matches only `N`).
    pub fn check_reference(&mut self, contig: Contig, allele: &Allele) -> Result<(), ReferenceError> {
        let genome = self.cached(contig, allele.start, allele.end())?;
        if genome.eq_ignore_ascii_case(allele.reference.as_bytes()) {
            return Ok(());
        }
        Err(ReferenceError::Mismatch {
            path: self.path.clone(),
            contig: contig.name(),
            position: allele.start + 1,
            expected: String::from_utf8_lossy(genome).into_owned(),
            found: allele.reference.clone(),
        })
    }

    /// Left-aligns an already-trimmed indel (VCF style, with its anchor base) the way vt and
    /// `bcftools norm -f` do: while both alleles end with the same base, drop it and prepend
    /// the genome's base before the start, moving the start left by one; stop at position 0
    /// (the anchor cannot move before the contig) and before an anchor that is not A, C, G or
    /// T (left-aligning into an `N` gap says nothing). Then shared leading bases are trimmed as
    /// [`Allele::normalised`] does.
    ///
    /// SNVs and MNVs (REF and ALT of equal length) are returned unchanged without reading the
    /// genome. For indels, REF is checked first: a mismatch is returned as
    /// [`ReferenceError::Mismatch`], since shifting an allele that disagrees with the genome
    /// would invent a variant.
    pub fn left_align(&mut self, contig: Contig, allele: &Allele) -> Result<Allele, ReferenceError> {
        if allele.reference.len() == allele.alternate.len() {
            return Ok(allele.clone());
        }
        self.check_reference(contig, allele)?;
        let mut start = allele.start;
        let mut reference: VecDeque<u8> = allele.reference.bytes().collect();
        let mut alternate: VecDeque<u8> = allele.alternate.bytes().collect();
        loop {
            match (reference.back(), alternate.back()) {
                (Some(last_reference), Some(last_alternate))
                    if last_reference.eq_ignore_ascii_case(last_alternate) => {}
                _ => break,
            }
            if reference.len() > 1 && alternate.len() > 1 {
                reference.pop_back();
                alternate.pop_back();
                continue;
            }
            // Dropping the last base would empty one allele: re-anchor one base to the left.
            if start == 0 {
                break;
            }
            let anchor = self.base(contig, start - 1)?;
            if !matches!(anchor, b'A' | b'C' | b'G' | b'T') {
                break;
            }
            reference.pop_back();
            alternate.pop_back();
            reference.push_front(anchor);
            alternate.push_front(anchor);
            start -= 1;
        }
        while reference.len() > 1 && alternate.len() > 1 && reference.front() == alternate.front() {
            reference.pop_front();
            alternate.pop_front();
            start += 1;
        }
        Ok(Allele {
            start,
            reference: bases_to_string(reference),
            alternate: bases_to_string(alternate),
        })
    }

    fn base(&mut self, contig: Contig, position: u64) -> Result<u8, ReferenceError> {
        let bases = self.cached(contig, position, position + 1)?;
        match bases.first() {
            Some(&base) => Ok(base),
            None => Err(self.truncated(contig, position, position + 1, 0)),
        }
    }

    /// Bases `[start, end)` from the window, reading a new window first if needed.
    fn cached(&mut self, contig: Contig, start: u64, end: u64) -> Result<&[u8], ReferenceError> {
        if start > end {
            return Err(ReferenceError::InvalidRange {
                contig: contig.name(),
                start,
                end,
            });
        }
        let covered = self
            .window
            .as_ref()
            .is_some_and(|window| window.covers(contig, start, end));
        if !covered {
            self.window = Some(self.read_window(contig, start, end)?);
        }
        match &self.window {
            Some(window) => {
                let from = usize::try_from(start - window.start).unwrap_or(usize::MAX);
                let to = usize::try_from(end - window.start).unwrap_or(usize::MAX);
                window
                    .bases
                    .get(from..to)
                    .ok_or_else(|| self.truncated(contig, start, end, 0))
            }
            None => Err(self.truncated(contig, start, end, 0)),
        }
    }

    /// Reads a window covering `[start, end)`: it starts a quarter window before `start`, so
    /// left-alignment can walk back without a new read, and runs `window_size` bases on (more if
    /// the request is longer), clipped to the contig.
    fn read_window(&mut self, contig: Contig, start: u64, end: u64) -> Result<Window, ReferenceError> {
        let Some(sequence) = self.sequences.get(&contig) else {
            return Err(ReferenceError::MissingContig {
                path: self.path.clone(),
                contig: contig.name(),
            });
        };
        let length = sequence.length;
        if end > length {
            return Err(ReferenceError::OutOfBounds {
                path: self.path.clone(),
                contig: contig.name(),
                start,
                end,
                length,
            });
        }
        let window_start = start.saturating_sub(self.window_size / 4);
        let window_end = end
            .max(window_start.saturating_add(self.window_size))
            .min(length);
        if window_start == window_end {
            return Ok(Window {
                contig,
                start: window_start,
                bases: Vec::new(),
            });
        }
        let read_error = |source| ReferenceError::Read {
            path: self.path.clone(),
            contig: contig.name(),
            start: window_start,
            end: window_end,
            source,
        };
        // noodles regions are 1-based and inclusive.
        let first = to_position(window_start + 1).map_err(read_error)?;
        let last = to_position(window_end).map_err(read_error)?;
        let region = Region::new(sequence.name.clone(), first..=last);
        let record = self.reader.query(&region).map_err(read_error)?;
        let mut bases = record.sequence().as_ref().to_vec();
        if bases.len() as u64 != window_end - window_start {
            return Err(self.truncated(contig, window_start, window_end, bases.len() as u64));
        }
        bases.make_ascii_uppercase();
        Ok(Window {
            contig,
            start: window_start,
            bases,
        })
    }

    fn truncated(&self, contig: Contig, start: u64, end: u64, found: u64) -> ReferenceError {
        ReferenceError::Truncated {
            path: self.path.clone(),
            contig: contig.name(),
            start,
            end,
            found,
        }
    }
}

fn to_position(position: u64) -> io::Result<Position> {
    usize::try_from(position)
        .ok()
        .and_then(Position::new)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid position {position}")))
}

fn bases_to_string(bases: VecDeque<u8>) -> String {
    String::from_utf8_lossy(&Vec::from(bases)).into_owned()
}

/// `ref.fa` → `ref.fa.fai` (the suffix is appended, not substituted).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}
