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
        let expected = String::from_utf8_lossy(genome).into_owned();
        Err(ReferenceError::Mismatch {
            path: self.path.clone(),
            contig: contig.name(),
            position: allele.start + 1,
            expected,
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
        let window_end = end.max(window_start.saturating_add(self.window_size)).min(length);
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
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid position {position}"),
            )
        })
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

#[cfg(test)]
mod tests {
    //! Fixtures: `tests/data/reference/` (see its README.md). `mini.fa` holds `chr1` (310 bases),
    //! `chrX` (200 bases) and an unplaced `chrUn_KI270302v1`, 60 bases a line. Its landmarks,
    //! 0-based:
    //!
    //! ```text
    //! chr1  36..52   TCCG CACACACA TTTA   39 = G, CA x4 at 40..47, 48 = T
    //! chr1  96..108  ATA G AAAAA TCC      99 = G, A x5 at 100..104, 105 = T
    //! chr1  149      C                    (an SNV site)
    //! chr1  196..228 GGCA TGTG…TG CGGT    199 = A, TG x12 at 200..223, 224 = C
    //! chr1  250..260 acgtacgtac           soft-masked (lowercase)
    //! chrX  0..7     CACACA G             CA x3 at 0..5, 6 = G
    //! chrX  60..66   T GGGG A             60 = T, G x4 at 61..64
    //! ```
    //!
    //! Every left-alignment below was worked by hand, then `bcftools norm -f mini.fa
    //! indels.vcf` (bcftools 1.16) gave the same alleles for every record of `indels.vcf`;
    //! `left_alignment_agrees_with_bcftools_norm` re-runs it whenever bcftools is on PATH.

    use std::process::Command;

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/reference")
            .join(name)
    }

    fn contig(name: &str) -> Contig {
        Assembly::Grch38.contig(name).expect("primary contig")
    }

    fn mini() -> ReferenceGenome {
        ReferenceGenome::open(&fixture("mini.fa"), Assembly::Grch38).expect("open mini.fa")
    }

    fn vcf(position: u64, reference: &str, alternate: &str) -> Allele {
        Allele::from_vcf(position, reference, alternate).expect("valid allele")
    }

    type Case = (
        &'static str,
        &'static str,
        u64,
        &'static str,
        &'static str,
        u64,
        &'static str,
        &'static str,
    );

    /// `(ID, CHROM, POS, REF, ALT)` of `indels.vcf` → `(POS, REF, ALT)` left-aligned.
    /// bcftools norm -f mini.fa agreed on every row (it keeps the soft-masked case of
    /// `masked_del`, `CacgT`; Phare's alleles are uppercase).
    #[rustfmt::skip]
    const CASES: &[Case] = &[
        ("noshift_del", "chr1", 10, "TAG", "T", 10, "TAG", "T"),
        ("ca_del", "chr1", 46, "ACA", "A", 40, "GCA", "G"),
        ("ca_ins", "chr1", 48, "A", "ACA", 40, "G", "GCA"),
        ("long_del", "chr1", 60, "GACTTCGCACTCCTGTTCGGCT", "G", 60, "GACTTCGCACTCCTGTTCGGCT", "G"),
        ("polya_del", "chr1", 103, "AAA", "A", 100, "GAA", "G"),
        ("polya_ins", "chr1", 104, "A", "AA", 100, "G", "GA"),
        ("snv", "chr1", 150, "C", "T", 150, "C", "T"),
        ("tg_del10", "chr1", 204, "GTGTGTGTGTGTGTGTGTGTG", "G", 200, "ATGTGTGTGTGTGTGTGTGTG", "A"),
        ("tg_del4", "chr1", 216, "GTGTGTGTG", "G", 200, "ATGTGTGTG", "A"),
        ("tg_del", "chr1", 222, "GTG", "G", 200, "ATG", "A"),
        ("tg_ins", "chr1", 224, "G", "GTGTG", 200, "A", "ATGTG"),
        ("masked_del", "chr1", 254, "TACGT", "T", 250, "CACGT", "C"),
        ("start_del", "chrX", 4, "ACA", "A", 1, "CAC", "C"),
        ("start_ins", "chrX", 6, "A", "ACA", 1, "C", "CAC"),
        ("polyg_ins", "chrX", 64, "G", "GG", 61, "T", "TG"),
    ];

    fn run_cases(genome: &mut ReferenceGenome, cases: &[Case]) {
        for &(id, chrom, pos, reference, alternate, want_pos, want_ref, want_alt) in cases {
            let aligned = genome
                .left_align(contig(chrom), &vcf(pos, reference, alternate))
                .unwrap_or_else(|error| panic!("{id}: {error}"));
            assert_eq!(aligned, vcf(want_pos, want_ref, want_alt), "{id} ({genome:?})");
        }
    }

    #[test]
    fn hand_written_index_matches_the_one_noodles_builds() {
        let built = fasta::fs::index(fixture("mini.fa")).expect("index mini.fa");
        let written = fasta::fai::fs::read(fixture("mini.fa.fai")).expect("read mini.fa.fai");
        assert_eq!(built, written);
        // A bgzipped FASTA's .fai holds the offsets of the uncompressed text: the same file.
        let written_gz = fasta::fai::fs::read(fixture("mini.fa.gz.fai")).expect("read .gz.fai");
        assert_eq!(built, written_gz);
    }

    #[test]
    fn chr_prefixed_names_resolve_and_other_sequences_are_ignored() {
        let genome = mini();
        assert_eq!(genome.contig_length(contig("1")), Some(310));
        assert_eq!(genome.contig_length(contig("chrX")), Some(200));
        assert_eq!(genome.contig_length(contig("Y")), None);
        assert_eq!(
            genome.sequences.len(),
            2,
            "chrUn_KI270302v1 is not a primary contig"
        );
        // GRCh37 spells chr1 and chrX the same way.
        let grch37 = ReferenceGenome::open(&fixture("mini.fa"), Assembly::Grch37).expect("open");
        assert_eq!(grch37.contig_length(contig("1")), Some(310));
    }

    #[test]
    fn bases_are_zero_based_half_open_uppercase_and_cross_lines() {
        let mut genome = mini();
        assert_eq!(genome.bases(contig("X"), 0, 7).expect("bases"), b"CACACAG");
        assert_eq!(genome.bases(contig("1"), 39, 49).expect("bases"), b"GCACACACAT");
        // Line 1 of chr1 is bases 0..60: this range spans the line break.
        assert_eq!(genome.bases(contig("1"), 55, 65).expect("bases"), b"TCAAGACTTC");
        // Soft-masked bases come back uppercase.
        assert_eq!(
            genome.bases(contig("1"), 248, 262).expect("bases"),
            b"TCACGTACGTACCG"
        );
        // The last base, and an empty range at the very end.
        assert_eq!(genome.bases(contig("1"), 309, 310).expect("bases"), b"G");
        assert_eq!(genome.bases(contig("1"), 310, 310).expect("bases"), b"");
    }

    #[test]
    fn bad_ranges_and_absent_contigs_are_reported_with_contig_and_position() {
        let mut genome = mini();
        let error = genome.bases(contig("1"), 300, 311).expect_err("beyond the end");
        assert!(
            matches!(error, ReferenceError::OutOfBounds { length: 310, .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.starts_with("1:301-311 lies beyond the end of contig 1"),
            "{message}"
        );
        assert!(message.contains("mini.fa (310 bases)"), "{message}");

        let error = genome.bases(contig("2"), 0, 1).expect_err("no chr2");
        assert!(matches!(error, ReferenceError::MissingContig { contig: "2", .. }));
        assert!(
            error.to_string().contains("has no sequence for contig 2"),
            "{error}"
        );

        let error = genome.bases(contig("1"), 5, 4).expect_err("start after end");
        assert!(matches!(error, ReferenceError::InvalidRange { .. }));
    }

    #[test]
    fn opening_without_an_index_names_the_missing_file() {
        let directory = tempfile::tempdir().expect("tempdir");
        let fasta_path = directory.path().join("genome.fa");
        std::fs::copy(fixture("mini.fa"), &fasta_path).expect("copy");
        let error = ReferenceGenome::open(&fasta_path, Assembly::Grch38).expect_err("no .fai");
        match &error {
            ReferenceError::MissingIndex { path, index } => {
                assert_eq!(path, &fasta_path);
                assert_eq!(index, &directory.path().join("genome.fa.fai"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains("genome.fa.fai is missing"), "{message}");
        assert!(message.contains("samtools faidx"), "{message}");

        // A bgzipped FASTA needs its .gzi as well.
        let gz_path = directory.path().join("genome.fa.gz");
        std::fs::copy(fixture("mini.fa.gz"), &gz_path).expect("copy");
        std::fs::copy(
            fixture("mini.fa.gz.fai"),
            directory.path().join("genome.fa.gz.fai"),
        )
        .expect("copy");
        let error = ReferenceGenome::open(&gz_path, Assembly::Grch38).expect_err("no .gzi");
        assert!(
            error.to_string().contains("genome.fa.gz.gzi is missing"),
            "{error}"
        );

        let error = ReferenceGenome::open(&directory.path().join("absent.fa"), Assembly::Grch38)
            .expect_err("no file");
        assert!(matches!(error, ReferenceError::Open { .. }));
        assert!(error.to_string().contains("absent.fa"), "{error}");
    }

    #[test]
    fn a_fasta_without_primary_chromosomes_is_refused() {
        let directory = tempfile::tempdir().expect("tempdir");
        let fasta_path = directory.path().join("decoys.fa");
        std::fs::write(&fasta_path, ">chrUn_KI270302v1\nACGT\n>chrEBV\nACGT\n").expect("write");
        let index = fasta::fs::index(&fasta_path).expect("index");
        fasta::fai::fs::write(directory.path().join("decoys.fa.fai"), &index).expect("write fai");
        let error = ReferenceGenome::open(&fasta_path, Assembly::Grch38).expect_err("no primary");
        assert!(matches!(error, ReferenceError::NoPrimaryContigs { .. }));
        assert!(
            error.to_string().contains("primary chromosome of GRCh38"),
            "{error}"
        );
    }

    #[test]
    fn bgzipped_fasta_reads_the_same_bases() {
        let mut plain = mini();
        let mut compressed =
            ReferenceGenome::open(&fixture("mini.fa.gz"), Assembly::Grch38).expect("open mini.fa.gz");
        for (name, length) in [("1", 310), ("X", 200)] {
            let plain_bases = plain.bases(contig(name), 0, length).expect("plain");
            assert_eq!(plain_bases.len() as u64, length);
            assert_eq!(
                compressed.bases(contig(name), 0, length).expect("bgzf"),
                plain_bases
            );
        }
        run_cases(&mut compressed, CASES);
    }

    #[test]
    fn check_reference_accepts_the_genome_and_reports_a_mismatch_one_based() {
        let mut genome = mini();
        genome
            .check_reference(contig("1"), &vcf(46, "ACA", "A"))
            .expect("REF matches");
        // Soft-masked bases match uppercase REF.
        genome
            .check_reference(contig("1"), &vcf(254, "TACGT", "T"))
            .expect("REF matches");
        // chrX 0-based 12 is T (CACACAGAAGAAT…): POS 13 with REF G is wrong.
        let error = genome
            .check_reference(contig("X"), &vcf(13, "G", "A"))
            .expect_err("mismatch");
        match &error {
            ReferenceError::Mismatch {
                contig,
                position,
                expected,
                found,
                ..
            } => {
                assert_eq!((*contig, *position), ("X", 13));
                assert_eq!((expected.as_str(), found.as_str()), ("T", "G"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let message = error.to_string();
        assert!(message.starts_with("reference mismatch at X:13:"), "{message}");
        assert!(
            message.contains("has `T` where the variant's REF is `G`"),
            "{message}"
        );
        // A REF running past the end of the contig is out of bounds, not a mismatch.
        let error = genome
            .check_reference(contig("X"), &vcf(200, "GA", "G"))
            .expect_err("past the end");
        assert!(matches!(error, ReferenceError::OutOfBounds { .. }), "{error:?}");
    }

    #[test]
    fn deletion_of_one_unit_at_the_right_end_of_a_repeat_moves_to_the_leftmost_position() {
        // chr1 39..49 = G CACACACA T. Deleting the last CA (0-based 46, 47), anchored on the A
        // at 45, is POS 46 ACA>A. Both alleles end with A: drop it (AC>-) and prepend base 44
        // (C): CAC>C at 44. End C = C: drop, prepend A (43): ACA>A at 43. Again: CAC>C at 42,
        // ACA>A at 41, CAC>C at 40, then drop C and prepend base 39 (G): GCA>G at 39. A ≠ G:
        // done. POS 40 GCA>G deletes the first CA of the run.
        let mut genome = mini();
        let aligned = genome
            .left_align(contig("1"), &vcf(46, "ACA", "A"))
            .expect("align");
        assert_eq!(aligned, vcf(40, "GCA", "G"));
        // The same unit inserted at the right end (POS 48 A>ACA) ends up at POS 40 G>GCA.
        let aligned = genome
            .left_align(contig("1"), &vcf(48, "A", "ACA"))
            .expect("align");
        assert_eq!(aligned, vcf(40, "G", "GCA"));
    }

    #[test]
    fn insertion_in_a_poly_a_run_moves_to_just_before_the_run() {
        // chr1 99..106 = G AAAAA T. One more A inserted after base 103: POS 104 A>AA. Ends
        // A = A, REF has one base: drop, prepend base 102 (A): A>AA at 102, then at 101, 100,
        // and at 99 the prepended base is G: G>GA, whose ends differ. POS 100 G>GA.
        let mut genome = mini();
        let aligned = genome
            .left_align(contig("1"), &vcf(104, "A", "AA"))
            .expect("align");
        assert_eq!(aligned, vcf(100, "G", "GA"));
        // Deleting two As written at the end of the run (POS 103 AAA>A) → POS 100 GAA>G.
        let aligned = genome
            .left_align(contig("1"), &vcf(103, "AAA", "A"))
            .expect("align");
        assert_eq!(aligned, vcf(100, "GAA", "G"));
    }

    #[test]
    fn an_indel_at_the_start_of_a_contig_cannot_move_past_position_zero() {
        // chrX 0..7 = CACACA G. Deleting the last CA (POS 4 ACA>A) walks left to CAC>C at
        // 0-based 0: both still end with C, but the anchor cannot move before the contig.
        // bcftools gives the same POS 1 CAC>C (it deletes bases 2-3, not 1-2).
        let mut genome = mini();
        let aligned = genome
            .left_align(contig("X"), &vcf(4, "ACA", "A"))
            .expect("align");
        assert_eq!(aligned, vcf(1, "CAC", "C"));
        let aligned = genome
            .left_align(contig("X"), &vcf(6, "A", "ACA"))
            .expect("align");
        assert_eq!(aligned, vcf(1, "C", "CAC"));
        // Already at position 0: unchanged.
        let aligned = genome
            .left_align(contig("X"), &vcf(1, "CAC", "C"))
            .expect("align");
        assert_eq!(aligned, vcf(1, "CAC", "C"));
    }

    #[test]
    fn snvs_mnvs_and_unrepeated_indels_are_unchanged() {
        let mut genome = mini();
        let snv = vcf(150, "C", "T");
        assert_eq!(genome.left_align(contig("1"), &snv).expect("snv"), snv);
        // Not read at all: an SNV on a contig the FASTA lacks comes back as it is.
        let elsewhere = vcf(1000, "A", "G");
        assert_eq!(
            genome.left_align(contig("2"), &elsewhere).expect("snv"),
            elsewhere
        );
        let mnv = vcf(40, "CA", "TT");
        assert_eq!(genome.left_align(contig("1"), &mnv).expect("mnv"), mnv);
        // chr1 9..12 = TAG: the deleted AG ends with G, the anchor is T.
        let deletion = vcf(10, "TAG", "T");
        assert_eq!(genome.left_align(contig("1"), &deletion).expect("del"), deletion);
    }

    #[test]
    fn left_align_refuses_an_indel_whose_ref_disagrees_with_the_genome() {
        let mut genome = mini();
        let error = genome
            .left_align(contig("1"), &vcf(46, "GCA", "G"))
            .expect_err("REF is ACA there");
        assert!(
            matches!(error, ReferenceError::Mismatch { position: 46, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn left_alignment_stops_before_an_n_anchor() {
        let directory = tempfile::tempdir().expect("tempdir");
        let fasta_path = directory.path().join("gap.fa");
        // 0-based: NNNN at 0..4, CACACA at 4..10, G at 10.
        std::fs::write(&fasta_path, ">chr2\nNNNNCACACAGT\n").expect("write");
        let index = fasta::fs::index(&fasta_path).expect("index");
        fasta::fai::fs::write(directory.path().join("gap.fa.fai"), &index).expect("write fai");
        let mut genome = ReferenceGenome::open(&fasta_path, Assembly::Grch38).expect("open");
        // POS 8 ACA>A walks to CAC>C at 0-based 4; the next anchor would be N.
        let aligned = genome
            .left_align(contig("2"), &vcf(8, "ACA", "A"))
            .expect("align");
        assert_eq!(aligned, vcf(5, "CAC", "C"));
    }

    #[test]
    fn left_alignment_across_window_edges_gives_the_same_alleles() {
        // TG deletion at the right end of the 12-unit repeat (POS 222 GTG>G, 0-based 221) with
        // 16-base windows: checking REF reads [217, 233) (a quarter window, 4 bases, before
        // 221); walking left needs base 216, outside, so [212, 228) is read, then [207, 223),
        // [202, 218), [197, 213) to reach the anchor A at 199: POS 200 ATG>A.
        let mut genome = mini().with_window_size(16);
        let aligned = genome
            .left_align(contig("1"), &vcf(222, "GTG", "G"))
            .expect("align");
        assert_eq!(aligned, vcf(200, "ATG", "A"));
        let window = genome
            .window
            .as_ref()
            .map(|window| (window.start, window.bases.len()));
        assert_eq!(window, Some((197, 16)), "the last window read");
        // A REF longer than the window (tg_del10, 21 bases; long_del, 22) is read whole.
        let aligned = genome
            .left_align(contig("1"), &vcf(204, "GTGTGTGTGTGTGTGTGTGTG", "G"))
            .expect("align");
        assert_eq!(aligned, vcf(200, "ATGTGTGTGTGTGTGTGTGTG", "A"));

        // Every case, in file order and backwards, with windows from 1 base (one read per base)
        // to the default: the same results.
        let reversed: Vec<_> = CASES.iter().rev().copied().collect();
        for window_size in [1, 2, 3, 5, 16, 17, 64, DEFAULT_WINDOW_SIZE] {
            let mut genome = mini().with_window_size(window_size);
            run_cases(&mut genome, CASES);
            run_cases(&mut genome, &reversed);
        }
    }

    #[test]
    fn cases_table_matches_the_vcf_fixture() {
        let text = std::fs::read_to_string(fixture("indels.vcf")).expect("read indels.vcf");
        let records: Vec<(String, String, u64, String, String)> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                (
                    fields[2].to_owned(),
                    fields[0].to_owned(),
                    fields[1].parse().expect("POS"),
                    fields[3].to_owned(),
                    fields[4].to_owned(),
                )
            })
            .collect();
        let table: Vec<(String, String, u64, String, String)> = CASES
            .iter()
            .map(|&(id, chrom, pos, reference, alternate, ..)| {
                (id.into(), chrom.into(), pos, reference.into(), alternate.into())
            })
            .collect();
        assert_eq!(records, table);
    }

    /// Re-runs `bcftools norm -f mini.fa indels.vcf` and compares with `left_align` record by
    /// record; skipped (with a note) when bcftools is not installed.
    #[test]
    fn left_alignment_agrees_with_bcftools_norm() {
        let output = match Command::new("bcftools")
            .args(["norm", "--no-version", "-f"])
            .arg(fixture("mini.fa"))
            .arg(fixture("indels.vcf"))
            .output()
        {
            Ok(output) => output,
            Err(error) => {
                eprintln!("skipping the bcftools cross-check: cannot run bcftools: {error}");
                return;
            }
        };
        assert!(
            output.status.success(),
            "bcftools norm failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let normalised = String::from_utf8(output.stdout).expect("utf-8");
        let mut genome = mini();
        let mut compared = 0;
        for line in normalised.lines().filter(|line| !line.starts_with('#')) {
            let fields: Vec<&str> = line.split('\t').collect();
            let (chrom, pos, id, reference, alternate) =
                (fields[0], fields[1], fields[2], fields[3], fields[4]);
            let &(_, _, input_pos, input_ref, input_alt, ..) = CASES
                .iter()
                .find(|case| case.0 == id)
                .unwrap_or_else(|| panic!("bcftools wrote an unknown record {id}"));
            let ours = genome
                .left_align(contig(chrom), &vcf(input_pos, input_ref, input_alt))
                .expect("align");
            let theirs = vcf(pos.parse().expect("POS"), reference, alternate);
            assert_eq!(ours, theirs, "{id}");
            compared += 1;
        }
        assert_eq!(compared, CASES.len());
    }
}
