//! One reader for every accepted container, yielding one [`Site`] per kept record.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use noodles_vcf::variant::record::{AlternateBases as _, Filters as _};
use phare_domain::{Allele, AlleleError, Assembly, Contig};
use roaring::RoaringBitmap;

use crate::aggregates::AggregatePlan;
use crate::annotations::AnnotationPlan;
use crate::bcf_genotypes::{Genotypes, read_raw_record};
use crate::error::{Location, VcfError};
use crate::format::InputFormat;
use crate::genotypes::{AlleleCalls, Site, StructuralVariant};
use crate::limits::{Guard, Limits};
use crate::reference::ReferenceGenome;

#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// The dataset's assembly: header contig lengths are checked against it.
    pub assembly: Assembly,
    /// Keep only records whose FILTER is PASS or missing.
    pub pass_only: bool,
    pub limits: Limits,
    /// The assembly's sequence (FASTA with `.fai`): indels are left-aligned against it.
    pub reference_fasta: Option<PathBuf>,
}

impl ReadOptions {
    /// PASS records only, default limits, no reference genome.
    pub fn new(assembly: Assembly) -> Self {
        Self {
            assembly,
            pass_only: true,
            limits: Limits::default(),
            reference_fasta: None,
        }
    }
}

/// Opens the reference genome and checks it is the dataset's assembly, by contig lengths.
fn open_genome(fasta: &Path, assembly: Assembly) -> Result<ReferenceGenome, VcfError> {
    let genome = ReferenceGenome::open(fasta, assembly)
        .map_err(|error| VcfError::new(fasta, Location::File, "reference", error.to_string()))?;
    for contig in assembly.contigs() {
        if let Some(length) = genome.contig_length(contig)
            && length != contig.length(assembly)
        {
            return Err(VcfError::new(
                fasta,
                Location::File,
                "reference",
                format!(
                    "contig {} has {length} bases, but {assembly} has {}: the reference genome is not the dataset's assembly",
                    contig.name(),
                    contig.length(assembly)
                ),
            ));
        }
    }
    Ok(genome)
}

/// What was read but deliberately not stored, reported in the ingest summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkipCounts {
    pub filtered_records: u64,
    pub non_primary_contig_records: u64,
    pub reference_only_records: u64,
    /// `*`, `<NON_REF>`, `<*>` and other symbolic alleles that are not variants or not stored.
    pub symbolic_alleles: u64,
    /// Breakends (`G]17:198982]`): not stored.
    pub breakends: u64,
}

enum Inner {
    /// Text VCF: lines are read here and each is handed to noodles to parse; the sample
    /// columns are then scanned straight from the line (see `count_calls_text`).
    Vcf(
        Box<noodles_vcf::io::Reader<Guard<Box<dyn BufRead + Send>>>>,
        noodles_vcf::Record,
        Vec<u8>,
        Vec<u8>,
    ),
    /// BCF: the record's bytes are read here; noodles parses its site fields, and the GT
    /// values are read straight from the bytes (`bcf_genotypes.rs`).
    Bcf(
        Box<noodles_bcf::io::Reader<Guard<noodles_bgzf::io::MultithreadedReader<CountingReader>>>>,
        noodles_bcf::Record,
        Vec<u8>,
    ),
}

/// Streams a VCF or BCF file, one record in memory at a time.
pub struct VariantReader {
    path: PathBuf,
    format: InputFormat,
    inner: Inner,
    decoder: Decoder,
    /// Lines before the first record, so errors name the file's own line numbers.
    header_lines: u64,
    records_read: u64,
    compressed_bytes: Arc<AtomicU64>,
}

/// Turns a record into a [`Site`]; kept apart from the reader so a record borrowed from the
/// reader can be decoded while the tallies are updated.
struct Decoder {
    header: noodles_vcf::Header,
    options: ReadOptions,
    skipped: SkipCounts,
    call: Vec<Option<usize>>,
    /// Per file column, whether the sample has one X and at most one Y (a male, from the
    /// manifest). Looked up for every call on X and Y: searching a bitmap there took a tenth of
    /// the decoding time.
    haploid_samples: Vec<bool>,
    last_position: Option<(Contig, u64)>,
    contigs_seen: HashSet<Contig>,
    /// The alleles of the recent records of the current contig, with where each was first
    /// read: in a sorted file a repeated allele is found while streaming, not at the merge.
    recent_alleles: BTreeMap<AlleleKey, Location>,
    /// Where the record being decoded was read.
    record_location: Location,
    /// INFO count fields, when the header declares `AC` and `AN`.
    aggregates: Option<AggregatePlan>,
    /// The assembly's sequence, when configured: indels are left-aligned against it.
    genome: Option<ReferenceGenome>,
    /// Annotation fields (ANN, CSQ, BCSQ), when the header declares any.
    annotations: Option<AnnotationPlan>,
    /// The string-map id of GT, which BCF records name their FORMAT fields by.
    bcf_gt_key: Option<usize>,
}

/// How far before its record's POS a normalised allele may start and still be checked for
/// repeats while streaming. Trimming only moves alleles right; left-alignment moves indels left
/// through a repeat, rarely by more than this. A repeat beyond it is still refused, at the merge.
const REPEAT_WINDOW_BASES: u64 = 10_000;

/// An allele as the variant dictionary keys it: the end matters for structural alleles.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct AlleleKey {
    start: u64,
    end: u64,
    reference: String,
    alternate: String,
}

impl AlleleKey {
    fn of(calls: &AlleleCalls) -> Self {
        let allele = &calls.allele;
        let end = match &calls.structural {
            Some(structural) => structural.end,
            None => allele.start + allele.reference.len() as u64,
        };
        Self {
            start: allele.start,
            end,
            reference: allele.reference.clone(),
            alternate: allele.alternate.clone(),
        }
    }
}

/// "line 12" or "record 12", for messages that point at another place of the file.
fn place(location: &Location) -> String {
    match location {
        Location::Line(line) => format!("line {line}"),
        Location::BcfRecord(record) => format!("record {record}"),
        Location::File | Location::Header => "the header".to_owned(),
    }
}

/// A record of either container: text VCF takes the fast genotype path.
#[derive(Clone, Copy)]
enum RecordRef<'r> {
    Vcf(&'r noodles_vcf::Record, &'r [u8]),
    Bcf(&'r noodles_bcf::Record, &'r [u8]),
}

impl<'r> RecordRef<'r> {
    fn as_variant(self) -> &'r dyn noodles_vcf::variant::Record {
        match self {
            Self::Vcf(record, _) => record,
            Self::Bcf(record, _) => record,
        }
    }
}

/// A male's diploid homozygous call outside the pseudo-autosomal regions of X and Y is one copy
/// (callers that do not model ploidy write `1/1` for a hemizygous `1`). Heterozygous calls
/// there are left as called.
fn adjust_ploidy(call: &mut Vec<Option<usize>>, haploid_sample: bool) {
    if haploid_sample && call.len() == 2 && call[0] == call[1] {
        call.truncate(1);
    }
}

fn sample_field(header: &noodles_vcf::Header, index: usize) -> String {
    let name = header
        .sample_names()
        .get_index(index)
        .map(String::as_str)
        .unwrap_or("?");
    format!("GT of sample {name}")
}

/// Reads one line and lets noodles parse its site columns (CHROM to FORMAT, and the first sample)
/// as a record; the sample columns, most of the line, are left to `count_calls_text`, which scans
/// them once.
/// Returns the bytes read (0 at the end).
fn read_line_record<R: BufRead>(
    reader: &mut noodles_vcf::io::Reader<R>,
    record: &mut noodles_vcf::Record,
    line: &mut Vec<u8>,
    site_line: &mut Vec<u8>,
) -> io::Result<usize> {
    line.clear();
    let read = reader.get_mut().read_until(b'\n', line)?;
    if read == 0 {
        return Ok(0);
    }
    // noodles needs at least one sample column after FORMAT: hand it the line up to the end of
    // the first sample column, then an end of line.
    let Some(tenth_tab) = memchr::memchr_iter(b'\t', line).nth(9) else {
        noodles_vcf::io::Reader::new(line.as_slice()).read_record(record)?;
        return Ok(read);
    };
    site_line.clear();
    site_line.extend_from_slice(&line[..tenth_tab]);
    site_line.push(b'\n');
    noodles_vcf::io::Reader::new(site_line.as_slice()).read_record(record)?;
    Ok(read)
}

fn trim_line_end(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}

/// The `index`-th `:`-separated subfield of a sample column; a missing one reads as `.`.
fn subfield(column: &[u8], index: usize) -> &[u8] {
    let mut rest = column;
    for _ in 0..index {
        match memchr::memchr(b':', rest) {
            Some(colon) => rest = &rest[colon + 1..],
            None => return b".",
        }
    }
    match memchr::memchr(b':', rest) {
        Some(colon) => &rest[..colon],
        None => rest,
    }
}

/// Parses a VCF GT value (`0/1`, `1|0`, `./.`, `1`, `.`) into allele indices, `None` for missing.
fn parse_genotype(text: &[u8], call: &mut Vec<Option<usize>>) -> Result<(), String> {
    call.clear();
    let invalid = || {
        format!(
            "invalid genotype `{}`: expected allele indices separated by / or |, such as 0/1, 1|0 or ./.",
            String::from_utf8_lossy(text)
        )
    };
    // VCF 4.4 allows an explicit leading phasing marker.
    let body = match text.first() {
        Some(b'/' | b'|') => &text[1..],
        _ => text,
    };
    if body.is_empty() {
        return Err(invalid());
    }
    for allele in body.split(|byte| matches!(byte, b'/' | b'|')) {
        match allele {
            b"." => call.push(None),
            digits if !digits.is_empty() && digits.len() <= 9 && digits.iter().all(u8::is_ascii_digit) => {
                let index = digits
                    .iter()
                    .fold(0usize, |value, digit| value * 10 + usize::from(digit - b'0'));
                call.push(Some(index));
            }
            _ => return Err(invalid()),
        }
    }
    Ok(())
}

impl VariantReader {
    pub fn open(path: &Path, options: ReadOptions) -> Result<Self, VcfError> {
        let file_error = |error: io::Error| VcfError::new(path, Location::File, "file", error.to_string());
        let sniffed = InputFormat::detect(File::open(path).map_err(file_error)?).map_err(file_error)?;
        let Some(format) = sniffed else {
            return Err(VcfError::new(
                path,
                Location::File,
                "format",
                "not a VCF (plain, gzip or BGZF) or BCF file: it must start with `##fileformat=VCF` or be gzip/BGZF-compressed",
            ));
        };
        if matches!(format, InputFormat::VcfBgzf | InputFormat::Bcf) {
            check_bgzf_end(path)?;
        }
        let compressed_bytes = Arc::new(AtomicU64::new(0));
        let counting = CountingReader {
            inner: File::open(path).map_err(file_error)?,
            count: compressed_bytes.clone(),
        };
        let header_error =
            |error: io::Error| VcfError::new(path, Location::Header, "header", error.to_string());
        let in_header = Arc::new(AtomicBool::new(true));
        let limits = options.limits.clone();
        let (header, inner, header_lines) = match format {
            InputFormat::Bcf => {
                let guarded = Guard::new(bgzf_reader(counting), limits, false, in_header.clone())
                    .with_compressed_bytes(compressed_bytes.clone());
                let mut reader = noodles_bcf::io::Reader::from(guarded);
                let header = reader.read_header().map_err(header_error)?;
                (
                    header,
                    Inner::Bcf(Box::new(reader), noodles_bcf::Record::default(), Vec::new()),
                    0,
                )
            }
            InputFormat::Vcf | InputFormat::VcfGzip | InputFormat::VcfBgzf => {
                let text: Box<dyn BufRead + Send> = match format {
                    InputFormat::VcfGzip => Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(
                        BufReader::new(counting),
                    ))),
                    InputFormat::VcfBgzf => Box::new(bgzf_reader(counting)),
                    _ => Box::new(BufReader::with_capacity(1 << 16, counting)),
                };
                let mut guarded = Guard::new(text, limits, true, in_header.clone());
                if format != InputFormat::Vcf {
                    guarded = guarded.with_compressed_bytes(compressed_bytes.clone());
                }
                let mut reader = noodles_vcf::io::Reader::new(guarded);
                let mut raw_header = String::new();
                reader
                    .header_reader()
                    .read_to_string(&mut raw_header)
                    .map_err(header_error)?;
                let header: noodles_vcf::Header = raw_header
                    .parse()
                    .map_err(|error| VcfError::new(path, Location::Header, "header", format!("{error}")))?;
                let header_lines = raw_header.lines().count() as u64;
                (
                    header,
                    Inner::Vcf(
                        Box::new(reader),
                        noodles_vcf::Record::default(),
                        Vec::with_capacity(1 << 16),
                        Vec::with_capacity(1 << 10),
                    ),
                    header_lines,
                )
            }
        };
        in_header.store(false, Ordering::Relaxed);
        check_contigs(path, &header, options.assembly)?;
        let samples = header.sample_names().len();
        if samples > options.limits.max_samples {
            return Err(VcfError::new(
                path,
                Location::Header,
                "samples",
                format!(
                    "{samples} samples, more than {} (limit max_samples)",
                    options.limits.max_samples
                ),
            ));
        }
        let aggregates = AggregatePlan::from_header(&header);
        let annotations = AnnotationPlan::from_header(&header);
        let header_gt_key = header.string_maps().strings().get_index_of("GT");
        let genome = options
            .reference_fasta
            .as_deref()
            .map(|fasta| open_genome(fasta, options.assembly))
            .transpose()?;
        Ok(Self {
            path: path.to_path_buf(),
            format,
            inner,
            decoder: Decoder {
                header,
                options,
                skipped: SkipCounts::default(),
                call: Vec::with_capacity(2),
                haploid_samples: Vec::new(),
                last_position: None,
                contigs_seen: HashSet::new(),
                recent_alleles: BTreeMap::new(),
                record_location: Location::File,
                aggregates,
                genome,
                annotations,
                bcf_gt_key: header_gt_key,
            },
            header_lines,
            records_read: 0,
            compressed_bytes,
        })
    }

    pub fn format(&self) -> InputFormat {
        self.format
    }

    pub fn sample_names(&self) -> Vec<String> {
        self.decoder.header.sample_names().iter().cloned().collect()
    }

    /// Declares which samples (file columns) are male: outside the pseudo-autosomal regions of
    /// X and Y their homozygous calls count as one copy (hemizygous).
    pub fn set_male_samples(&mut self, samples: RoaringBitmap) {
        let mut haploid = vec![false; self.decoder.header.sample_names().len()];
        for sample in &samples {
            if let Some(flag) = haploid.get_mut(sample as usize) {
                *flag = true;
            }
        }
        self.decoder.haploid_samples = haploid;
    }

    pub fn skipped(&self) -> &SkipCounts {
        &self.decoder.skipped
    }

    pub fn records_read(&self) -> u64 {
        self.records_read
    }

    /// Bytes consumed from the file as stored (compressed), for progress reporting.
    pub fn progress_counter(&self) -> Arc<AtomicU64> {
        self.compressed_bytes.clone()
    }

    fn location(&self) -> Location {
        match self.inner {
            Inner::Vcf(..) => Location::Line(self.header_lines + self.records_read),
            Inner::Bcf(..) => Location::BcfRecord(self.records_read),
        }
    }

    /// Reads records until one is kept, filling `site`. Returns false at the end of the file.
    pub fn next_site(&mut self, site: &mut Site) -> Result<bool, VcfError> {
        loop {
            let read = match &mut self.inner {
                Inner::Vcf(reader, record, line, site_line) => {
                    read_line_record(reader, record, line, site_line)
                }
                Inner::Bcf(reader, record, raw) => {
                    read_bcf_record(reader, record, raw, self.decoder.options.limits.max_line_bytes)
                }
            };
            self.records_read += 1;
            match read {
                Ok(0) => {
                    self.records_read -= 1;
                    return Ok(false);
                }
                Ok(_) => {}
                Err(error) => return Err(self.error("record", error.to_string())),
            }
            self.decoder.record_location = self.location();
            let kept = match &self.inner {
                Inner::Vcf(_, record, line, _) => self.decoder.fill_site(RecordRef::Vcf(record, line), site),
                Inner::Bcf(_, record, raw) => self.decoder.fill_site(RecordRef::Bcf(record, raw), site),
            };
            match kept {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err((field, message)) => return Err(self.error(&field, message)),
            }
        }
    }

    fn error(&self, field: &str, message: String) -> VcfError {
        VcfError::new(&self.path, self.location(), field, message)
    }
}

impl Decoder {
    /// Returns Ok(false) for a record that is read correctly but not stored.
    fn fill_site(&mut self, record_ref: RecordRef<'_>, site: &mut Site) -> Result<bool, (String, String)> {
        let record = record_ref.as_variant();
        fn invalid(field: &'static str) -> impl Fn(io::Error) -> (String, String) {
            move |error| (field.to_owned(), error.to_string())
        }
        let chromosome = record
            .reference_sequence_name(&self.header)
            .map_err(invalid("CHROM"))?;
        let position = match record.variant_start() {
            Some(result) => usize::from(result.map_err(invalid("POS"))?) as u64,
            None => {
                return Err((
                    "POS".into(),
                    "position is missing or 0: expected a 1-based position".into(),
                ));
            }
        };
        let filters = record.filters();
        if self.options.pass_only
            && !filters.is_empty()
            && !filters.is_pass(&self.header).map_err(invalid("FILTER"))?
        {
            self.skipped.filtered_records += 1;
            return Ok(false);
        }
        let Some(contig) = self.options.assembly.contig(chromosome) else {
            self.skipped.non_primary_contig_records += 1;
            return Ok(false);
        };
        let contig_length = contig.length(self.options.assembly);
        if position > contig_length {
            return Err((
                "POS".into(),
                format!(
                    "position {position} is beyond the end of {} {chromosome} ({contig_length} bases)",
                    self.options.assembly
                ),
            ));
        }
        self.check_order(contig, position)?;
        let reference = reference_bases(record)?;
        let limits = &self.options.limits;
        if reference.len() > limits.max_allele_length {
            return Err((
                "REF".into(),
                format!(
                    "{} bases, more than {} (limit max_allele_length)",
                    reference.len(),
                    limits.max_allele_length
                ),
            ));
        }
        site.reset(Some(contig), position);
        let alternates = record.alternate_bases();
        let alternate_count = alternates.len();
        if alternate_count > limits.max_alleles_per_record {
            return Err((
                "ALT".into(),
                format!(
                    "{alternate_count} alternate alleles, more than {} (limit max_alleles_per_record)",
                    limits.max_alleles_per_record
                ),
            ));
        }
        let mut breakend_record = false;
        for (offset, alternate) in alternates.iter().enumerate() {
            let alternate = alternate.map_err(invalid("ALT"))?;
            if alternate.len() > limits.max_allele_length {
                return Err((
                    "ALT".into(),
                    format!(
                        "an allele of {} bases, more than {} (limit max_allele_length)",
                        alternate.len(),
                        limits.max_allele_length
                    ),
                ));
            }
            if let Some(kind) = structural_kind(alternate) {
                let end = record
                    .variant_end(&self.header)
                    .map_err(|error| ("INFO END".to_owned(), error.to_string()))?;
                let mut end = usize::from(end) as u64;
                if end <= position && kind != "INS" {
                    // Before VCF 4.5, noodles takes END only; a file giving SVLEN alone spans it.
                    let Some(length) = structural_length(&self.header, record)? else {
                        return Err((
                            "INFO END".into(),
                            format!("a <{kind}> allele needs its end: give INFO END or SVLEN"),
                        ));
                    };
                    end = position + length;
                }
                if end < position {
                    return Err((
                        "INFO END".into(),
                        format!("end {end} is before the position {position}"),
                    ));
                }
                // An insertion has no reference span: like a sequence insertion it is placed on
                // its padding base. The other types span the bases after the padding base.
                let (start, end) = if kind == "INS" {
                    (position - 1, position)
                } else {
                    (position, end)
                };
                let allele = Allele {
                    start,
                    reference: reference.clone(),
                    alternate: format!("<{kind}>"),
                };
                let mut calls = AlleleCalls::new(allele, offset + 1);
                calls.structural = Some(StructuralVariant { kind, end });
                site.alleles.push(calls);
                continue;
            }
            if alternate.contains('[') || alternate.contains(']') {
                self.skipped.breakends += 1;
                breakend_record = true;
                continue;
            }
            if is_symbolic(alternate) {
                self.skipped.symbolic_alleles += 1;
                continue;
            }
            let trimmed = Allele::from_vcf(position, &reference, alternate).map_err(|error| match error {
                AlleleError::InvalidBase {
                    field: "reference", ..
                } => ("REF".to_owned(), error.to_string()),
                other => ("ALT".to_owned(), other.to_string()),
            })?;
            // With a reference genome, indels are left-aligned (and their REF checked), so the
            // same indel written at two places of a repeat is one variant.
            let allele = match self.genome.as_mut() {
                Some(genome) if trimmed.reference.len() != trimmed.alternate.len() => genome
                    .left_align(contig, &trimmed)
                    .map_err(|error| ("REF".to_owned(), error.to_string()))?,
                _ => trimmed,
            };
            site.alleles.push(AlleleCalls::new(allele, offset + 1));
        }
        if site.alleles.is_empty() {
            // A breakend-only record is counted as a breakend, not as a reference block.
            if !breakend_record {
                self.skipped.reference_only_records += 1;
            }
            return Ok(false);
        }
        self.check_repeats(contig, position, site)?;
        if let Some(plan) = &self.annotations {
            let written: Vec<String> = alternates
                .iter()
                .map(|alternate| alternate.map(str::to_owned))
                .collect::<Result<_, _>>()
                .map_err(invalid("ALT"))?;
            let mut per_allele = plan.read(&self.header, record, &reference, &written)?;
            for calls in &mut site.alleles {
                if let Some(annotations) = per_allele.get_mut(calls.alt_index - 1) {
                    calls.annotations = std::mem::take(annotations);
                }
            }
        }
        let haploid_region = matches!(contig.name(), "X" | "Y")
            && !contig.in_par(self.options.assembly, position.saturating_sub(1));
        match record_ref {
            RecordRef::Vcf(text, line) => {
                self.count_calls_text(text, line, site, alternate_count, haploid_region)?
            }
            RecordRef::Bcf(_, raw) => self.count_calls_bcf(raw, site, alternate_count, haploid_region)?,
        }
        // Without genotypes, the counts the file states in INFO (if it states any).
        if !site.genotyped
            && let Some(plan) = &self.aggregates
        {
            for calls in &mut site.alleles {
                calls.aggregates = plan.read(&self.header, record, calls.alt_index)?;
            }
        }
        Ok(true)
    }

    /// Records must be sorted by position within a contig, and each contig in one block:
    /// carrier sets and duplicate detection rely on it, and an unsorted file is usually broken.
    fn check_order(&mut self, contig: Contig, position: u64) -> Result<(), (String, String)> {
        match self.last_position {
            Some((last_contig, last)) if last_contig == contig => {
                if position < last {
                    return Err((
                        "POS".into(),
                        format!(
                            "records are not sorted: position {position} comes after {last} on {}",
                            contig.name()
                        ),
                    ));
                }
            }
            _ => {
                self.recent_alleles.clear();
                if !self.contigs_seen.insert(contig) {
                    return Err((
                        "CHROM".into(),
                        format!(
                            "records are not sorted: contig {} appears again after other contigs",
                            contig.name()
                        ),
                    ));
                }
            }
        }
        self.last_position = Some((contig, position));
        Ok(())
    }

    /// Refuses an allele that an earlier record already gave (after splitting and normalising),
    /// naming both places, before the record's genotypes are read. Relies on `check_order`:
    /// alleles of earlier contigs, and those starting well before this record, cannot recur.
    fn check_repeats(&mut self, contig: Contig, position: u64, site: &Site) -> Result<(), (String, String)> {
        let horizon = position.saturating_sub(1 + REPEAT_WINDOW_BASES);
        while let Some(entry) = self.recent_alleles.first_entry() {
            if entry.key().start >= horizon {
                break;
            }
            entry.remove();
        }
        for calls in &site.alleles {
            let key = AlleleKey::of(calls);
            if let Some(first) = self.recent_alleles.get(&key) {
                let allele = &calls.allele;
                return Err((
                    "ALT".into(),
                    format!(
                        "allele {}:{} {}>{} (after splitting and normalising) was already given at {}: each allele may appear once per file; deduplicate it (bcftools norm -m- -d exact)",
                        contig.name(),
                        allele.start + 1,
                        allele.reference,
                        allele.alternate,
                        place(first)
                    ),
                ));
            }
            self.recent_alleles.insert(key, self.record_location.clone());
        }
        Ok(())
    }

    /// The hot loop for text VCF: the GT subfield of each sample column is scanned as bytes,
    /// without building noodles' typed per-sample values (several times slower).
    fn count_calls_text(
        &mut self,
        record: &noodles_vcf::Record,
        line: &[u8],
        site: &mut Site,
        alternate_count: usize,
        haploid_region: bool,
    ) -> Result<(), (String, String)> {
        let Some(gt_index) = record.samples().keys().iter().position(|key| key == "GT") else {
            return Ok(());
        };
        let expected = self.header.sample_names().len();
        // noodles has parsed and checked the record; the sample columns start after the ninth tab.
        let Some(ninth_tab) = memchr::memchr_iter(b'\t', line).nth(8) else {
            return Err((
                "samples".into(),
                format!("no sample columns, but the header names {expected}"),
            ));
        };
        let values = trim_line_end(&line[ninth_tab + 1..]);
        let too_many = || {
            (
                "samples".to_owned(),
                format!("more sample columns than the {expected} the header names"),
            )
        };
        // Columns holding only a `0|0` or `0/0` GT, most of a cohort when FORMAT is GT alone, are
        // taken four bytes at a time while they run; the loop below sees every other column.
        let gt_only_runs = gt_index == 0 && !haploid_region;
        let mut rest = values;
        let mut index = 0usize;
        loop {
            if gt_only_runs {
                while let Some(word) = rest.first_chunk::<4>()
                    && (word == b"0|0\t" || word == b"0/0\t")
                {
                    if index >= expected {
                        return Err(too_many());
                    }
                    site.add_reference_call();
                    index += 1;
                    rest = &rest[4..];
                }
                // A one-digit diploid call (`0|1`, `1/1`, `1|2`) followed by a tab, most of the
                // rest on a real cohort, is read in place: no tab search, no parser.
                if let Some(&[first, separator, second, b'\t']) = rest.first_chunk::<4>()
                    && first.is_ascii_digit()
                    && second.is_ascii_digit()
                    && matches!(separator, b'/' | b'|')
                {
                    if index >= expected {
                        return Err(too_many());
                    }
                    let call = [Some(usize::from(first - b'0')), Some(usize::from(second - b'0'))];
                    site.add_call(index as u32, &call, alternate_count)
                        .map_err(|error| (sample_field(&self.header, index), error.to_string()))?;
                    index += 1;
                    rest = &rest[4..];
                    continue;
                }
            }
            let (column, next) = match memchr::memchr(b'\t', rest) {
                Some(tab) => (&rest[..tab], Some(&rest[tab + 1..])),
                None => (rest, None),
            };
            if index >= expected {
                return Err(too_many());
            }
            let genotype = subfield(column, gt_index);
            // Most calls of a cohort are homozygous reference: they add two called alleles and
            // touch no carrier set, so they skip the general path. Not a male's 0/0 outside the
            // PARs: that is one copy, which the general path counts.
            let reference_call = genotype.len() == 3
                && genotype[0] == b'0'
                && genotype[2] == b'0'
                && matches!(genotype[1], b'/' | b'|');
            let haploid_sample = haploid_region && self.is_haploid(index);
            if reference_call && !haploid_sample {
                site.add_reference_call();
            } else {
                parse_genotype(genotype, &mut self.call)
                    .map_err(|message| (sample_field(&self.header, index), message))?;
                adjust_ploidy(&mut self.call, haploid_sample);
                site.add_call(index as u32, &self.call, alternate_count)
                    .map_err(|error| (sample_field(&self.header, index), error.to_string()))?;
            }
            index += 1;
            match next {
                Some(next) => rest = next,
                None => break,
            }
        }
        if index != expected {
            return Err((
                "samples".into(),
                format!("{index} sample columns, but the header names {expected}"),
            ));
        }
        Ok(())
    }

    /// The BCF twin of `count_calls_text`: GT values read from the record's bytes, `0/0` calls
    /// taking the same shortcut.
    fn count_calls_bcf(
        &mut self,
        raw: &[u8],
        site: &mut Site,
        alternate_count: usize,
        haploid_region: bool,
    ) -> Result<(), (String, String)> {
        let Some(gt_key) = self.bcf_gt_key else {
            return Ok(());
        };
        let samples = self.header.sample_names().len();
        let Some(genotypes) =
            Genotypes::find(raw, gt_key, samples).map_err(|message| ("FORMAT".to_owned(), message))?
        else {
            return Ok(());
        };
        let mut index = 0;
        while index < samples {
            // As in the text path: outside X and Y, runs of `0/0` calls are taken in one step.
            if !haploid_region {
                let run = genotypes.reference_run(index);
                if run > 0 {
                    site.add_reference_calls(run as u32);
                    index += run;
                    continue;
                }
                if let Some([first, second]) = genotypes.called_pair(index) {
                    site.add_call(index as u32, &[Some(first), Some(second)], alternate_count)
                        .map_err(|error| (sample_field(&self.header, index), error.to_string()))?;
                    index += 1;
                    continue;
                }
            }
            let haploid_sample = haploid_region && self.is_haploid(index);
            if !haploid_sample && genotypes.is_reference_call(index) {
                site.add_reference_call();
                index += 1;
                continue;
            }
            genotypes
                .call(index, &mut self.call)
                .map_err(|message| (sample_field(&self.header, index), message))?;
            adjust_ploidy(&mut self.call, haploid_sample);
            site.add_call(index as u32, &self.call, alternate_count)
                .map_err(|error| (sample_field(&self.header, index), error.to_string()))?;
            index += 1;
        }
        Ok(())
    }

    fn is_haploid(&self, index: usize) -> bool {
        self.haploid_samples.get(index).copied().unwrap_or(false)
    }
}

/// Reads one BCF record's bytes into `raw`, then lets noodles parse them into `record`.
fn read_bcf_record<R: Read>(
    reader: &mut noodles_bcf::io::Reader<R>,
    record: &mut noodles_bcf::Record,
    raw: &mut Vec<u8>,
    max_bytes: u64,
) -> io::Result<usize> {
    let read = read_raw_record(reader.get_mut(), raw, max_bytes)?;
    if read == 0 {
        return Ok(0);
    }
    noodles_bcf::io::Reader::from(raw.as_slice()).read_record(record)?;
    Ok(read)
}

fn reference_bases(record: &dyn noodles_vcf::variant::Record) -> Result<String, (String, String)> {
    let bases = record.reference_bases();
    let mut reference = String::with_capacity(bases.len());
    for base in bases.iter() {
        let base = base.map_err(|error| ("REF".to_owned(), error.to_string()))?;
        reference.push(char::from(base));
    }
    Ok(reference)
}

/// `|SVLEN|` of a record (first value), when the file gives it.
fn structural_length(
    header: &noodles_vcf::Header,
    record: &dyn noodles_vcf::variant::Record,
) -> Result<Option<u64>, (String, String)> {
    use noodles_vcf::variant::record::Info as _;
    use noodles_vcf::variant::record::info::field::Value as InfoValue;
    use noodles_vcf::variant::record::info::field::value::Array;
    let info = record.info();
    let Some(value) = info.get(header, "SVLEN") else {
        return Ok(None);
    };
    let value = value.map_err(|error| ("INFO SVLEN".to_owned(), error.to_string()))?;
    let length = match value {
        Some(InfoValue::Integer(length)) => Some(length),
        Some(InfoValue::Array(Array::Integer(values))) => values
            .iter()
            .next()
            .transpose()
            .map_err(|error| ("INFO SVLEN".to_owned(), error.to_string()))?
            .flatten(),
        _ => None,
    };
    Ok(length.map(|length| u64::from(length.unsigned_abs())))
}

/// The structural types stored (the first part of `<DEL:ME:ALU>`, `<DUP:TANDEM>`, …).
fn structural_kind(alternate: &str) -> Option<&'static str> {
    let symbol = alternate.strip_prefix('<')?.strip_suffix('>')?;
    match symbol.split(':').next()? {
        "DEL" => Some("DEL"),
        "DUP" => Some("DUP"),
        "INS" => Some("INS"),
        "INV" => Some("INV"),
        "CNV" => Some("CNV"),
        _ => None,
    }
}

/// Alleles that name no concrete sequence and are not stored: other symbolic alleles
/// (`<NON_REF>`, `<*>`), the spanning deletion `*` and the missing `.`.
fn is_symbolic(alternate: &str) -> bool {
    alternate.starts_with('<') || alternate == "*" || alternate == "."
}

/// The dataset's assembly decides contig lengths: a GRCh37 file declared into a GRCh38 dataset
/// is refused from its header, before a single record is read.
fn check_contigs(path: &Path, header: &noodles_vcf::Header, assembly: Assembly) -> Result<(), VcfError> {
    for (name, contig_map) in header.contigs() {
        let (Some(contig), Some(declared)) = (assembly.contig(name), contig_map.length()) else {
            continue;
        };
        let expected = contig.length(assembly);
        if declared as u64 != expected {
            return Err(VcfError::new(
                path,
                Location::Header,
                format!("##contig={name}"),
                format!(
                    "length {declared} does not match {assembly} ({expected}): the file is not on the dataset's assembly"
                ),
            ));
        }
    }
    Ok(())
}

/// BGZF blocks are inflated on other threads while this one parses the records they hold
/// (decision 0050): one worker per core beyond the parsing thread, at least one, and no more
/// than four, past which the parsing thread is the limit.
fn bgzf_reader(input: CountingReader) -> noodles_bgzf::io::MultithreadedReader<CountingReader> {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let workers = std::num::NonZero::new(cores.saturating_sub(1).clamp(1, MAX_INFLATE_WORKERS))
        .unwrap_or(std::num::NonZero::<usize>::MIN);
    noodles_bgzf::io::MultithreadedReader::with_worker_count(workers, input)
}

const MAX_INFLATE_WORKERS: usize = 4;

/// Counts bytes as they are read from disk, for a progress bar that knows the file size.
struct CountingReader {
    inner: File,
    count: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// The empty block htslib and noodles end every BGZF file with (SAM specification, 4.1.2).
const BGZF_EOF: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x06, 0x00, 0x42, 0x43, 0x02, 0x00, 0x1b,
    0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

/// A BGZF file cut between two blocks decompresses cleanly up to the cut: only the missing
/// end-of-file block tells that records are lost, so a file without it is refused.
fn check_bgzf_end(path: &Path) -> Result<(), VcfError> {
    use std::io::{Seek, SeekFrom};
    let truncated = || {
        VcfError::new(
            path,
            Location::File,
            "BGZF",
            "the end-of-file block is missing: the file is truncated (an interrupted copy or compression?)",
        )
    };
    let file_error = |error: io::Error| VcfError::new(path, Location::File, "file", error.to_string());
    let mut file = File::open(path).map_err(file_error)?;
    let length = file.seek(SeekFrom::End(0)).map_err(file_error)?;
    if length < BGZF_EOF.len() as u64 {
        return Err(truncated());
    }
    file.seek(SeekFrom::End(-(BGZF_EOF.len() as i64)))
        .map_err(file_error)?;
    let mut tail = [0u8; 28];
    file.read_exact(&mut tail).map_err(file_error)?;
    if tail != BGZF_EOF {
        return Err(truncated());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_genotype;

    fn parsed(text: &str) -> Result<Vec<Option<usize>>, String> {
        let mut call = Vec::new();
        parse_genotype(text.as_bytes(), &mut call).map(|()| call)
    }

    #[test]
    fn genotypes_parse_to_allele_indices() {
        assert_eq!(parsed("0/1"), Ok(vec![Some(0), Some(1)]));
        assert_eq!(parsed("1|0"), Ok(vec![Some(1), Some(0)]));
        assert_eq!(parsed("./."), Ok(vec![None, None]));
        assert_eq!(parsed("./12"), Ok(vec![None, Some(12)]));
        assert_eq!(parsed("1"), Ok(vec![Some(1)]));
        assert_eq!(parsed("."), Ok(vec![None]));
        assert_eq!(parsed("|0|1"), Ok(vec![Some(0), Some(1)]));
        assert_eq!(parsed("0/1/2"), Ok(vec![Some(0), Some(1), Some(2)]));
    }

    #[test]
    fn subfields_are_found_by_position() {
        use super::subfield;
        assert_eq!(subfield(b"0/1:35:12,3", 0), b"0/1");
        assert_eq!(subfield(b"0/1:35:12,3", 2), b"12,3");
        assert_eq!(subfield(b"0/1", 1), b".");
        assert_eq!(subfield(b"", 0), b"");
    }

    #[test]
    fn malformed_genotypes_are_refused_with_the_value() {
        for text in ["", "0/", "a/1", "0//1", "-1", "0/1 ", "1234567890"] {
            let error = parsed(text).expect_err(text);
            assert!(error.contains(&format!("`{text}`")), "{error}");
        }
    }
}
