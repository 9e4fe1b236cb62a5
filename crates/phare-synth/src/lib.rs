//! Deterministic, seeded synthetic cohorts: a multi-sample VCF plus the sample manifest the Phare
//! ingester expects.
//!
//! `phare demo` needs a believable dataset without shipping patient data, and the ingest benchmarks
//! need inputs whose size can be dialled up and which are byte-identical from run to run (so that
//! timings and database contents are comparable). Both come from one [`CohortSpec`].
//!
//! # What the data looks like, and why
//!
//! * **Contigs**: GRCh38 chr1–chr22 and chrX with their real lengths, with or without the `chr`
//!   prefix, so both contig-naming conventions of the ingester are exercised.
//! * **Allele frequencies** follow a power law (density ∝ x^-1.5 on `[1/2N, 0.5]`), which gives
//!   the excess of rare variants seen in real sequencing cohorts: many singletons and doubletons,
//!   a few common sites. Genotypes are drawn under Hardy–Weinberg equilibrium.
//! * **Allele shapes**: about 10% of records are indels (VCF style, with the anchor base), about
//!   3% are multi-allelic (two ALTs, sometimes a deletion plus an insertion that needs trimming
//!   after splitting), the rest SNVs with a transition/transversion ratio of about 2.
//! * **Calls**: about 1% missing (`./.`), a mix of phased and unphased records, and haploid calls
//!   for males on chrX outside the pseudo-autosomal regions (diploid inside them).
//! * **Reference bases** come from a hash of (contig, position), so overlapping records agree on
//!   the reference even though no reference genome is involved.
//!
//! # Determinism
//!
//! Everything is drawn from ChaCha8 generators seeded from [`CohortSpec::seed`], one independent
//! stream per concern (samples, site positions, records), so the same spec gives byte-identical
//! output. The manifest depends only on `seed` and `samples`, so two cohorts that differ only in
//! `sites` share their samples. Allele frequencies use `f64::ln`/`powf`, so byte identity is
//! guaranteed on one platform; across platforms with different libm implementations a rare
//! last-bit difference could change a draw.
//!
//! # Speed
//!
//! Most genotypes are homozygous reference, so each record starts from a pre-rendered template row
//! (`0/0` or `0|0` per sample, `0` for haploid males) and only the non-reference or missing calls
//! are patched in. Those are found by geometric skipping, so the work per record is proportional to
//! the number of carriers, not the number of samples. Each line is assembled in a reused buffer
//! and written with one `write_all`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub mod genomes;

/// Parameters of a synthetic cohort. The same spec always produces the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortSpec {
    /// Number of samples (VCF genotype columns and manifest entries), e.g. 2000.
    pub samples: usize,
    /// Number of VCF records, spread over the contigs in proportion to their length.
    pub sites: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Name contigs `chr1` (true) or `1` (false).
    pub chr_prefix: bool,
    /// BGZF-compress the VCF (noodles-bgzf writer) instead of writing plain text.
    pub bgzf: bool,
}

impl Default for CohortSpec {
    /// The benchmark default: 2,000 samples × 50,000 sites, seed 42, `chr` prefix, BGZF.
    fn default() -> Self {
        Self {
            samples: 2000,
            sites: 50_000,
            seed: 42,
            chr_prefix: true,
            bgzf: true,
        }
    }
}

/// What was written, so callers (benchmarks, `phare demo`) can report and sanity-check the data
/// without re-parsing it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CohortSummary {
    /// Samples in the VCF and the manifest.
    pub samples: usize,
    /// VCF records written.
    pub records: usize,
    /// Genotype calls written (`samples × records`).
    pub genotypes: u64,
    /// ALT alleles over all records (records + multi-allelic records).
    pub alt_alleles: u64,
    /// Records with two ALT alleles.
    pub multiallelic_records: u64,
    /// ALT alleles that are SNVs.
    pub snv_alleles: u64,
    /// ALT alleles longer than REF.
    pub insertion_alleles: u64,
    /// ALT alleles shorter than REF.
    pub deletion_alleles: u64,
    /// ALT alleles with an allele count of 1.
    pub singleton_alleles: u64,
    /// ALT alleles with an allele count of 2.
    pub doubleton_alleles: u64,
    /// Sum of ALT allele counts over all records.
    pub alt_allele_copies: u64,
    /// Missing calls (`./.` or `.`).
    pub missing_genotypes: u64,
    /// Haploid calls (males on chrX outside the PARs).
    pub haploid_genotypes: u64,
    /// Records written with phased (`|`) calls.
    pub phased_records: u64,
    /// Records on chrX.
    pub chrx_records: u64,
    /// Female samples in the manifest.
    pub females: usize,
    /// Male samples in the manifest.
    pub males: usize,
    /// Samples of unknown sex in the manifest.
    pub unknown_sex: usize,
    /// Samples whose `researchConsent` is false.
    pub consent_refused: usize,
}

/// The sample manifest, in the JSON shape the Phare ingester parses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// One entry per VCF sample column, in column order.
    pub samples: Vec<ManifestSample>,
}

/// Sex as recorded in the manifest; drives chrX ploidy in the generated VCF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sex {
    /// Diploid on chrX.
    Female,
    /// Haploid on chrX outside the PARs.
    Male,
    /// Called diploid on chrX, as most pipelines do without a sex check.
    Unknown,
}

/// One manifest entry: the link between a VCF column and the care/research metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestSample {
    /// VCF column name (`S000001`, …).
    pub sample: String,
    /// Biosample identifier (`BS000001`, …).
    pub biosample_id: String,
    /// Care pseudonym of the individual (`IND000001`, …).
    pub individual_id: String,
    /// Declared sex.
    pub sex: Sex,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// ISO 3166-2 subdivision code, when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    /// Clinical indication (`PFMG-01`..`PFMG-14`), when known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub indication: Option<String>,
    /// HPO term identifiers; may be empty.
    pub phenotypes: Vec<String>,
    /// Orphanet disease identifiers; may be empty.
    pub diseases: Vec<String>,
    /// False when the patient objected to research use.
    pub research_consent: bool,
}

/// GRCh38 primary-assembly lengths of the contigs the generator uses (without prefix).
pub const GRCH38_CONTIGS: [(&str, u64); 23] = [
    ("1", 248_956_422),
    ("2", 242_193_529),
    ("3", 198_295_559),
    ("4", 190_214_555),
    ("5", 181_538_259),
    ("6", 170_805_979),
    ("7", 159_345_973),
    ("8", 145_138_636),
    ("9", 138_394_717),
    ("10", 133_797_422),
    ("11", 135_086_622),
    ("12", 133_275_309),
    ("13", 114_364_328),
    ("14", 107_043_718),
    ("15", 101_991_189),
    ("16", 90_338_345),
    ("17", 83_257_441),
    ("18", 80_373_285),
    ("19", 58_617_616),
    ("20", 64_444_167),
    ("21", 46_709_983),
    ("22", 50_818_468),
    ("X", 156_040_895),
];

/// GRCh38 chrX pseudo-autosomal region 1, 1-based inclusive.
pub const PAR1: (u64, u64) = (10_001, 2_781_479);
/// GRCh38 chrX pseudo-autosomal region 2, 1-based inclusive.
pub const PAR2: (u64, u64) = (155_701_383, 156_030_895);

/// True when a 1-based chrX position lies in a GRCh38 pseudo-autosomal region, where males are
/// diploid.
pub fn in_par(pos: u64) -> bool {
    (PAR1.0..=PAR1.1).contains(&pos) || (PAR2.0..=PAR2.1).contains(&pos)
}

// Generation parameters. Kept as constants (not spec fields) so that a spec stays small and the
// data shape is the same for every benchmark.
const MISSING_RATE: f64 = 0.01;
const MULTIALLELIC_RATE: f64 = 0.03;
const INSERTION_RATE: f64 = 0.05;
const DELETION_RATE: f64 = 0.05;
const PHASED_RATE: f64 = 0.4;
const QUAL_MISSING_RATE: f64 = 0.2;
/// Exponent of the allele-frequency density x^-ALPHA.
const AF_ALPHA: f64 = 1.5;
const AF_MAX: f64 = 0.5;
/// Longest generated indel, so records stay far from contig ends.
const MAX_INDEL: usize = 20;
/// Distance kept from contig ends (and PAR edges), beyond any REF allele length.
const EDGE: u64 = 10_000;

// Independent RNG streams, so that e.g. the manifest does not depend on `sites`.
const STREAM_SAMPLES: u64 = 1;
const STREAM_POSITIONS: u64 = 2;
const STREAM_RECORDS: u64 = 3;

fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned())
}

fn validate(spec: &CohortSpec) -> io::Result<()> {
    if spec.samples == 0 {
        return Err(invalid("samples must be at least 1"));
    }
    if spec.samples > 9_999_999 {
        return Err(invalid("samples must be at most 9999999"));
    }
    if spec.sites > 100_000_000 {
        return Err(invalid("sites must be at most 100000000"));
    }
    Ok(())
}

const HPO_TERMS: [&str; 24] = [
    "HP:0001250", // Seizure
    "HP:0001249", // Intellectual disability
    "HP:0001263", // Global developmental delay
    "HP:0000252", // Microcephaly
    "HP:0000256", // Macrocephaly
    "HP:0001252", // Hypotonia
    "HP:0000717", // Autism
    "HP:0000729", // Autistic behavior
    "HP:0002376", // Developmental regression
    "HP:0001508", // Failure to thrive
    "HP:0004322", // Short stature
    "HP:0000098", // Tall stature
    "HP:0001166", // Arachnodactyly
    "HP:0001627", // Abnormal heart morphology
    "HP:0001631", // Atrial septal defect
    "HP:0001638", // Cardiomyopathy
    "HP:0001639", // Hypertrophic cardiomyopathy
    "HP:0001644", // Dilated cardiomyopathy
    "HP:0000365", // Hearing impairment
    "HP:0000505", // Visual impairment
    "HP:0000510", // Rod-cone dystrophy
    "HP:0000486", // Strabismus
    "HP:0001324", // Muscle weakness
    "HP:0003560", // Muscular dystrophy
];

const ORPHA_DISEASES: [&str; 8] = [
    "ORPHA:558",   // Marfan syndrome
    "ORPHA:586",   // Cystic fibrosis
    "ORPHA:778",   // Rett syndrome
    "ORPHA:908",   // Fragile X syndrome
    "ORPHA:98896", // Duchenne muscular dystrophy
    "ORPHA:791",   // Retinitis pigmentosa
    "ORPHA:399",   // Huntington disease
    "ORPHA:636",   // Neurofibromatosis type 1
];

/// ISO 3166-2 codes of the metropolitan French regions.
const FR_REGIONS: [&str; 13] = [
    "FR-ARA", "FR-BFC", "FR-BRE", "FR-CVL", "FR-20R", "FR-GES", "FR-HDF", "FR-IDF", "FR-NOR", "FR-NAQ",
    "FR-OCC", "FR-PDL", "FR-PAC",
];

const OTHER_COUNTRIES: [&str; 4] = ["BE", "CH", "LU", "DE"];

fn pick<'a, R: RngExt>(rng: &mut R, items: &[&'a str]) -> &'a str {
    items
        .get(rng.random_range(0..items.len()))
        .copied()
        .unwrap_or_default()
}

/// The manifest of a spec: depends only on `seed` and `samples`.
pub fn manifest(spec: &CohortSpec) -> Manifest {
    let mut rng = rng(spec.seed, STREAM_SAMPLES);
    let samples = (1..=spec.samples)
        .map(|i| {
            let sex_draw: f64 = rng.random();
            let sex = if sex_draw < 0.495 {
                Sex::Female
            } else if sex_draw < 0.99 {
                Sex::Male
            } else {
                Sex::Unknown
            };
            let (country, region) = if rng.random_bool(0.97) {
                let region = rng
                    .random_bool(0.9)
                    .then(|| pick(&mut rng, &FR_REGIONS).to_owned());
                ("FR".to_owned(), region)
            } else {
                (pick(&mut rng, &OTHER_COUNTRIES).to_owned(), None)
            };
            let indication = rng
                .random_bool(0.95)
                .then(|| format!("PFMG-{:02}", rng.random_range(1..=14u32)));
            let n_pheno = [0usize, 1, 1, 2, 2, 3, 4][rng.random_range(0..7usize)];
            let mut phenotypes: Vec<String> = Vec::with_capacity(n_pheno);
            while phenotypes.len() < n_pheno {
                let term = pick(&mut rng, &HPO_TERMS);
                if !phenotypes.iter().any(|t| t == term) {
                    phenotypes.push(term.to_owned());
                }
            }
            let diseases = if rng.random_bool(0.25) {
                vec![pick(&mut rng, &ORPHA_DISEASES).to_owned()]
            } else {
                Vec::new()
            };
            let research_consent = !rng.random_bool(0.05);
            ManifestSample {
                sample: sample_name(i),
                biosample_id: format!("BS{i:06}"),
                individual_id: format!("IND{i:06}"),
                sex,
                country,
                region,
                indication,
                phenotypes,
                diseases,
                research_consent,
            }
        })
        .collect();
    Manifest { samples }
}

/// VCF column name of the 1-based sample `i`.
pub fn sample_name(i: usize) -> String {
    format!("S{i:06}")
}

/// Writes the cohort VCF to `vcf` (BGZF-compressed when `spec.bgzf`) and its manifest JSON to
/// `manifest`. Both writers should be buffered; each VCF line is written with one `write_all`.
///
/// Generic over the writers so that tests and `phare demo` can generate in memory or stream
/// straight into an ingester without touching the disk.
///
/// ```
/// use phare_synth::{CohortSpec, write_cohort};
///
/// let spec = CohortSpec { samples: 10, sites: 100, seed: 1, chr_prefix: true, bgzf: false };
/// let (mut vcf, mut manifest) = (Vec::new(), Vec::new());
/// let summary = write_cohort(&spec, &mut vcf, &mut manifest)?;
/// assert_eq!(summary.records, 100);
/// assert_eq!(summary.genotypes, 1000);
/// assert!(vcf.starts_with(b"##fileformat=VCFv4.3\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
///
/// `InvalidInput` for an unusable spec (no samples, absurd sizes); otherwise any error of the
/// underlying writers.
pub fn write_cohort<W: Write, M: Write>(
    spec: &CohortSpec,
    vcf: W,
    mut manifest_out: M,
) -> io::Result<CohortSummary> {
    validate(spec)?;
    let manifest = manifest(spec);
    serde_json::to_writer_pretty(&mut manifest_out, &manifest)?;
    manifest_out.write_all(b"\n")?;
    manifest_out.flush()?;

    let mut summary = if spec.bgzf {
        let mut writer = noodles_bgzf::io::Writer::new(vcf);
        let summary = write_vcf(spec, &manifest, &mut writer)?;
        writer.finish()?.flush()?;
        summary
    } else {
        let mut vcf = vcf;
        let summary = write_vcf(spec, &manifest, &mut vcf)?;
        vcf.flush()?;
        summary
    };
    for s in &manifest.samples {
        match s.sex {
            Sex::Female => summary.females += 1,
            Sex::Male => summary.males += 1,
            Sex::Unknown => summary.unknown_sex += 1,
        }
        summary.consent_refused += usize::from(!s.research_consent);
    }
    Ok(summary)
}

/// [`write_cohort`] to files (created or truncated), through 1 MiB buffers.
pub fn write_cohort_files(
    spec: &CohortSpec,
    vcf_path: &Path,
    manifest_path: &Path,
) -> io::Result<CohortSummary> {
    let vcf = BufWriter::with_capacity(1 << 20, File::create(vcf_path)?);
    let manifest = BufWriter::new(File::create(manifest_path)?);
    write_cohort(spec, vcf, manifest)
}

/// Pseudo-reference base at (contig, 1-based position): a fixed hash, so overlapping records
/// agree on the reference.
fn ref_base(contig: usize, pos: u64) -> u8 {
    // splitmix64 finaliser
    let mut z = (contig as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ pos;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    b"ACGT"[(z & 3) as usize]
}

fn random_base<R: RngExt>(rng: &mut R) -> u8 {
    b"ACGT"[rng.random_range(0..4usize)]
}

fn transition(b: u8) -> u8 {
    match b {
        b'A' => b'G',
        b'G' => b'A',
        b'C' => b'T',
        _ => b'C',
    }
}

/// A SNV ALT for `reference`: a transition two times out of three (Ti/Tv ≈ 2), else a
/// transversion, never `reference` and never `avoid`.
fn snv_alt<R: RngExt>(rng: &mut R, reference: u8, avoid: Option<u8>) -> u8 {
    loop {
        let alt = if rng.random_bool(2.0 / 3.0) {
            transition(reference)
        } else {
            random_base(rng)
        };
        if alt != reference && Some(alt) != avoid {
            return alt;
        }
    }
}

/// Indel length: geometric with p = 0.5 (mostly 1–2 bp), capped at [`MAX_INDEL`].
fn indel_len<R: RngExt>(rng: &mut R) -> usize {
    let mut len = 1;
    while len < MAX_INDEL && rng.random_bool(0.5) {
        len += 1;
    }
    len
}

/// Allele frequency drawn from the density ∝ x^-AF_ALPHA on `[min, AF_MAX]` (inverse CDF).
fn draw_af<R: RngExt>(rng: &mut R, min: f64) -> f64 {
    let e = 1.0 - AF_ALPHA;
    let lo = min.powf(e);
    let hi = AF_MAX.powf(e);
    let u: f64 = rng.random();
    (lo + u * (hi - lo)).powf(1.0 / e).clamp(min, AF_MAX)
}

/// A call that differs from the template's hom-ref (or is missing). Allele indices are 0..=2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Diploid(u8, u8),
    DiploidMissing,
    Haploid(u8),
    HaploidMissing,
}

/// Per-record site model: ALT frequencies and the derived HWE event probabilities.
struct SiteModel {
    /// Frequencies of REF, ALT1, ALT2 (ALT2 = 0 for bi-allelic sites).
    q: [f64; 3],
}

impl SiteModel {
    /// ALT index drawn from the ALT frequencies only (conditional on "not REF").
    fn nonref<R: RngExt>(&self, rng: &mut R) -> u8 {
        let alt_total = self.q[1] + self.q[2];
        if self.q[2] > 0.0 && rng.random::<f64>() * alt_total >= self.q[1] {
            2
        } else {
            1
        }
    }

    /// Allele index drawn from all frequencies.
    fn any<R: RngExt>(&self, rng: &mut R) -> u8 {
        let u: f64 = rng.random();
        if u < self.q[0] {
            0
        } else if u < self.q[0] + self.q[1] || self.q[2] == 0.0 {
            1
        } else {
            2
        }
    }

    /// Probability that a diploid call is not `0/0` (missing or carrying an ALT).
    fn diploid_event(&self) -> f64 {
        MISSING_RATE + (1.0 - MISSING_RATE) * (1.0 - self.q[0] * self.q[0])
    }

    fn haploid_event(&self) -> f64 {
        MISSING_RATE + (1.0 - MISSING_RATE) * (1.0 - self.q[0])
    }

    /// A diploid call conditional on it not being `0/0`.
    fn diploid_call<R: RngExt>(&self, rng: &mut R, p_event: f64) -> Call {
        if rng.random::<f64>() * p_event < MISSING_RATE {
            return Call::DiploidMissing;
        }
        // P(first allele ALT | not 0/0) = (1 - q0) / (1 - q0²) = 1 / (1 + q0).
        if rng.random::<f64>() * (1.0 + self.q[0]) < 1.0 {
            Call::Diploid(self.nonref(rng), self.any(rng))
        } else {
            Call::Diploid(0, self.nonref(rng))
        }
    }

    fn haploid_call<R: RngExt>(&self, rng: &mut R, p_event: f64) -> Call {
        if rng.random::<f64>() * p_event < MISSING_RATE {
            Call::HaploidMissing
        } else {
            Call::Haploid(self.nonref(rng))
        }
    }
}

/// Visits the members of `group` that have an "event" (probability `p` each, independently) by
/// geometric skipping: O(events) instead of O(samples).
fn for_each_event<R: RngExt>(rng: &mut R, group: &[u32], p: f64, mut f: impl FnMut(&mut R, u32)) {
    if group.is_empty() || p <= 0.0 {
        return;
    }
    let log_q = (1.0 - p.min(0.999_999)).ln();
    let mut i = 0usize;
    while i < group.len() {
        let u = 1.0 - rng.random::<f64>(); // (0, 1]
        let skip = (u.ln() / log_q).floor();
        if skip >= (group.len() - i) as f64 {
            break;
        }
        i += skip as usize;
        if let Some(&s) = group.get(i) {
            f(rng, s);
        }
        i += 1;
    }
}

/// Pre-rendered genotype columns for one ploidy pattern, with the byte offset of each call.
struct Layout {
    unphased: Vec<u8>,
    phased: Vec<u8>,
    offsets: Vec<u32>,
    haploid: Vec<bool>,
}

impl Layout {
    fn new(haploid: Vec<bool>) -> Self {
        let mut unphased = Vec::with_capacity(haploid.len() * 4 + 1);
        let mut phased = Vec::with_capacity(haploid.len() * 4 + 1);
        let mut offsets = Vec::with_capacity(haploid.len());
        for &h in &haploid {
            unphased.push(b'\t');
            phased.push(b'\t');
            offsets.push(unphased.len() as u32);
            if h {
                unphased.push(b'0');
                phased.push(b'0');
            } else {
                unphased.extend_from_slice(b"0/0");
                phased.extend_from_slice(b"0|0");
            }
        }
        unphased.push(b'\n');
        phased.push(b'\n');
        Self {
            unphased,
            phased,
            offsets,
            haploid,
        }
    }
}

/// Where records go: a contig and 1-based inclusive position ranges with their share of the
/// contig's records.
struct Segment {
    lo: u64,
    hi: u64,
    share: f64,
}

fn segments(contig: &str, len: u64) -> Vec<Segment> {
    if contig == "X" {
        // PARs get a larger share than their length (~2%) so that small cohorts still have
        // diploid-male chrX records to test.
        vec![
            Segment {
                lo: PAR1.0 + 100,
                hi: PAR1.1 - 100,
                share: 0.05,
            },
            Segment {
                lo: PAR1.1 + 1,
                hi: PAR2.0 - 100,
                share: 0.94,
            },
            Segment {
                lo: PAR2.0 + 100,
                hi: PAR2.1 - 100,
                share: 0.01,
            },
        ]
    } else {
        vec![Segment {
            lo: EDGE + 1,
            hi: len - EDGE,
            share: 1.0,
        }]
    }
}

/// Splits `total` into parts proportional to `weights` (largest remainder, deterministic).
fn apportion(total: usize, weights: &[f64]) -> Vec<usize> {
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| total as f64 * w / sum).collect();
    let mut parts: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut left = total.saturating_sub(parts.iter().sum());
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let fa = exact[a] - exact[a].floor();
        let fb = exact[b] - exact[b].floor();
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &i in order.iter().cycle().take(weights.len() * 2) {
        if left == 0 {
            break;
        }
        if let Some(p) = parts.get_mut(i) {
            *p += 1;
            left -= 1;
        }
    }
    parts
}

/// `n` distinct sorted positions in `[lo, hi]`.
fn positions<R: RngExt>(rng: &mut R, n: usize, lo: u64, hi: u64) -> io::Result<Vec<u64>> {
    let span = hi.saturating_sub(lo) + 1;
    if (n as u64).saturating_mul(4) > span {
        return Err(invalid("too many sites for the contig length"));
    }
    let mut out: Vec<u64> = Vec::with_capacity(n);
    while out.len() < n {
        while out.len() < n {
            out.push(rng.random_range(lo..=hi));
        }
        out.sort_unstable();
        out.dedup();
    }
    Ok(out)
}

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn write_header<W: Write>(spec: &CohortSpec, manifest: &Manifest, out: &mut W) -> io::Result<()> {
    let prefix = if spec.chr_prefix { "chr" } else { "" };
    let mut h = String::with_capacity(1024 + manifest.samples.len() * 8);
    h.push_str("##fileformat=VCFv4.3\n");
    h.push_str("##FILTER=<ID=PASS,Description=\"All filters passed\">\n");
    h.push_str(concat!("##source=phare-synth ", env!("CARGO_PKG_VERSION"), "\n"));
    h.push_str(&format!(
        "##phareSynthSpec=samples:{},sites:{},seed:{},chrPrefix:{}\n",
        spec.samples, spec.sites, spec.seed, spec.chr_prefix
    ));
    h.push_str("##reference=GRCh38\n");
    for (name, len) in GRCH38_CONTIGS {
        h.push_str(&format!(
            "##contig=<ID={prefix}{name},length={len},assembly=GRCh38>\n"
        ));
    }
    h.push_str("##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n");
    h.push_str("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT");
    for s in &manifest.samples {
        h.push('\t');
        h.push_str(&s.sample);
    }
    h.push('\n');
    out.write_all(h.as_bytes())
}

fn allele_digit(a: u8) -> u8 {
    b'0' + a
}

fn write_vcf<W: Write>(spec: &CohortSpec, manifest: &Manifest, out: &mut W) -> io::Result<CohortSummary> {
    write_header(spec, manifest, out)?;
    let n = manifest.samples.len();
    let mut summary = CohortSummary {
        samples: n,
        ..CohortSummary::default()
    };

    let all: Vec<u32> = (0..n as u32).collect();
    let males: Vec<u32> = all
        .iter()
        .copied()
        .filter(|&i| manifest.samples[i as usize].sex == Sex::Male)
        .collect();
    let non_males: Vec<u32> = all
        .iter()
        .copied()
        .filter(|&i| manifest.samples[i as usize].sex != Sex::Male)
        .collect();
    let diploid_layout = Layout::new(vec![false; n]);
    let x_layout = Layout::new(manifest.samples.iter().map(|s| s.sex == Sex::Male).collect());

    let weights: Vec<f64> = GRCH38_CONTIGS.iter().map(|&(_, len)| len as f64).collect();
    let per_contig = apportion(spec.sites, &weights);
    let mut pos_rng = rng(spec.seed, STREAM_POSITIONS);
    let mut rec_rng = rng(spec.seed, STREAM_RECORDS);
    let af_min = 1.0 / (2.0 * n as f64);
    let prefix: &[u8] = if spec.chr_prefix { b"chr" } else { b"" };

    let mut line: Vec<u8> = Vec::with_capacity(diploid_layout.unphased.len() + 256);
    let mut events: Vec<(u32, Call)> = Vec::new();
    let mut ref_allele: Vec<u8> = Vec::with_capacity(MAX_INDEL + 2);
    let mut alts: [Vec<u8>; 2] = [
        Vec::with_capacity(2 * MAX_INDEL + 2),
        Vec::with_capacity(MAX_INDEL + 2),
    ];

    for (contig_idx, (&(name, len), &count)) in GRCH38_CONTIGS.iter().zip(&per_contig).enumerate() {
        if count == 0 {
            continue;
        }
        let is_x = name == "X";
        let segs = segments(name, len);
        let shares: Vec<f64> = segs.iter().map(|s| s.share).collect();
        let seg_counts = apportion(count, &shares);
        let mut all_pos: Vec<u64> = Vec::with_capacity(count);
        for (seg, &c) in segs.iter().zip(&seg_counts) {
            all_pos.extend(positions(&mut pos_rng, c, seg.lo, seg.hi)?);
        }

        for pos in all_pos {
            // --- alleles ---
            let multi = rec_rng.random_bool(MULTIALLELIC_RATE);
            ref_allele.clear();
            alts[0].clear();
            alts[1].clear();
            let anchor = ref_base(contig_idx, pos);
            ref_allele.push(anchor);
            let n_alts = if multi {
                if rec_rng.random_bool(0.8) {
                    let a1 = snv_alt(&mut rec_rng, anchor, None);
                    let a2 = snv_alt(&mut rec_rng, anchor, Some(a1));
                    alts[0].push(a1);
                    alts[1].push(a2);
                } else {
                    // REF = anchor + deleted bases; ALT1 = full deletion; ALT2 = insertion after the
                    // REF span, which needs trimming once split (e.g. ATG → A,ATGTG).
                    let del = indel_len(&mut rec_rng);
                    for k in 1..=del as u64 {
                        ref_allele.push(ref_base(contig_idx, pos + k));
                    }
                    alts[0].push(anchor);
                    alts[1].extend_from_slice(&ref_allele);
                    for _ in 0..indel_len(&mut rec_rng) {
                        alts[1].push(random_base(&mut rec_rng));
                    }
                }
                2
            } else {
                let u: f64 = rec_rng.random();
                if u < INSERTION_RATE {
                    alts[0].push(anchor);
                    for _ in 0..indel_len(&mut rec_rng) {
                        alts[0].push(random_base(&mut rec_rng));
                    }
                } else if u < INSERTION_RATE + DELETION_RATE {
                    for k in 1..=indel_len(&mut rec_rng) as u64 {
                        ref_allele.push(ref_base(contig_idx, pos + k));
                    }
                    alts[0].push(anchor);
                } else {
                    alts[0].push(snv_alt(&mut rec_rng, anchor, None));
                }
                1
            };

            // --- frequencies ---
            let p1 = draw_af(&mut rec_rng, af_min);
            let p2 = if n_alts == 2 {
                draw_af(&mut rec_rng, af_min)
            } else {
                0.0
            };
            let scale = if p1 + p2 > 0.9 { 0.9 / (p1 + p2) } else { 1.0 };
            let model = SiteModel {
                q: [1.0 - (p1 + p2) * scale, p1 * scale, p2 * scale],
            };

            // --- calls ---
            let male_haploid = is_x && !in_par(pos);
            let layout = if male_haploid { &x_layout } else { &diploid_layout };
            events.clear();
            if male_haploid {
                let pd = model.diploid_event();
                for_each_event(&mut rec_rng, &non_males, pd, |r, s| {
                    events.push((s, model.diploid_call(r, pd)))
                });
                let ph = model.haploid_event();
                for_each_event(&mut rec_rng, &males, ph, |r, s| {
                    events.push((s, model.haploid_call(r, ph)))
                });
            } else {
                let pd = model.diploid_event();
                for_each_event(&mut rec_rng, &all, pd, |r, s| {
                    events.push((s, model.diploid_call(r, pd)))
                });
            }
            // Every declared ALT is seen at least once (cohort VCFs only list observed alleles):
            // give a missing ALT to one random sample as a het (or hemizygous) call.
            for alt in 1..=n_alts as u8 {
                let mut tries = 0;
                while tries < 64 && !events.iter().any(|(_, c)| carries(*c, alt)) {
                    tries += 1;
                    let s = rec_rng.random_range(0..n as u32);
                    let call = if layout.haploid.get(s as usize).copied().unwrap_or(false) {
                        Call::Haploid(alt)
                    } else {
                        Call::Diploid(0, alt)
                    };
                    match events.iter_mut().find(|(e, _)| *e == s) {
                        // Do not take away the only copy of the other ALT.
                        Some((_, c)) if n_alts == 2 && carries(*c, 3 - alt) => {}
                        Some((_, c)) => *c = call,
                        None => events.push((s, call)),
                    }
                }
            }

            let phased = rec_rng.random_bool(PHASED_RATE);
            let qual = if rec_rng.random_bool(QUAL_MISSING_RATE) {
                None
            } else {
                Some(rec_rng.random_range(20..5000u64))
            };

            // --- render ---
            line.clear();
            line.extend_from_slice(prefix);
            line.extend_from_slice(name.as_bytes());
            line.push(b'\t');
            push_u64(&mut line, pos);
            line.extend_from_slice(b"\t.\t");
            line.extend_from_slice(&ref_allele);
            line.push(b'\t');
            line.extend_from_slice(&alts[0]);
            if n_alts == 2 {
                line.push(b',');
                line.extend_from_slice(&alts[1]);
            }
            line.push(b'\t');
            match qual {
                Some(q) => push_u64(&mut line, q),
                None => line.push(b'.'),
            }
            line.extend_from_slice(b"\tPASS\t.\tGT");
            let base = line.len();
            line.extend_from_slice(if phased { &layout.phased } else { &layout.unphased });
            let sep = if phased { b'|' } else { b'/' };
            let mut ac = [0u64; 3];
            for &(s, call) in &events {
                let Some(&off) = layout.offsets.get(s as usize) else {
                    continue;
                };
                let at = base + off as usize;
                match call {
                    Call::Diploid(a, b) => {
                        let (a, b) = if phased || a <= b { (a, b) } else { (b, a) };
                        ac[a as usize] += 1;
                        ac[b as usize] += 1;
                        if let Some(dst) = line.get_mut(at..at + 3) {
                            dst.copy_from_slice(&[allele_digit(a), sep, allele_digit(b)]);
                        }
                    }
                    Call::DiploidMissing => {
                        summary.missing_genotypes += 1;
                        if let Some(dst) = line.get_mut(at..at + 3) {
                            dst.copy_from_slice(b"./.");
                        }
                    }
                    Call::Haploid(a) => {
                        ac[a as usize] += 1;
                        if let Some(dst) = line.get_mut(at) {
                            *dst = allele_digit(a);
                        }
                    }
                    Call::HaploidMissing => {
                        summary.missing_genotypes += 1;
                        if let Some(dst) = line.get_mut(at) {
                            *dst = b'.';
                        }
                    }
                }
            }
            out.write_all(&line)?;

            // --- summary ---
            summary.records += 1;
            summary.genotypes += n as u64;
            summary.chrx_records += u64::from(is_x);
            summary.phased_records += u64::from(phased);
            summary.multiallelic_records += u64::from(n_alts == 2);
            if male_haploid {
                summary.haploid_genotypes += males.len() as u64;
            }
            for (k, alt) in alts.iter().take(n_alts).enumerate() {
                summary.alt_alleles += 1;
                match alt.len().cmp(&ref_allele.len()) {
                    std::cmp::Ordering::Equal => summary.snv_alleles += 1,
                    std::cmp::Ordering::Greater => summary.insertion_alleles += 1,
                    std::cmp::Ordering::Less => summary.deletion_alleles += 1,
                }
                let c = ac[k + 1];
                summary.alt_allele_copies += c;
                summary.singleton_alleles += u64::from(c == 1);
                summary.doubleton_alleles += u64::from(c == 2);
            }
        }
    }
    Ok(summary)
}

fn carries(call: Call, alt: u8) -> bool {
    match call {
        Call::Diploid(a, b) => a == alt || b == alt,
        Call::Haploid(a) => a == alt,
        Call::DiploidMissing | Call::HaploidMissing => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_sums_to_total() {
        let w = [3.0, 1.0, 1.0];
        for total in [0, 1, 2, 5, 7, 1000] {
            assert_eq!(apportion(total, &w).iter().sum::<usize>(), total);
        }
        assert_eq!(apportion(5, &w), vec![3, 1, 1]);
    }

    #[test]
    fn par_boundaries() {
        assert!(!in_par(10_000));
        assert!(in_par(10_001));
        assert!(in_par(2_781_479));
        assert!(!in_par(2_781_480));
        assert!(!in_par(155_701_382));
        assert!(in_par(155_701_383));
        assert!(in_par(156_030_895));
        assert!(!in_par(156_030_896));
    }

    #[test]
    fn af_within_bounds() {
        let mut r = rng(1, 9);
        for _ in 0..10_000 {
            let af = draw_af(&mut r, 1.0 / 4000.0);
            assert!((1.0 / 4000.0..=0.5).contains(&af), "{af}");
        }
    }

    #[test]
    fn push_u64_formats() {
        let mut b = Vec::new();
        push_u64(&mut b, 0);
        b.push(b' ');
        push_u64(&mut b, 248_956_422);
        assert_eq!(b, b"0 248956422");
    }

    #[test]
    fn ref_base_is_stable() {
        assert_eq!(ref_base(0, 12345), ref_base(0, 12345));
        let counts = (0..4000u64).fold([0usize; 4], |mut c, p| {
            c[b"ACGT".iter().position(|&b| b == ref_base(3, p)).unwrap()] += 1;
            c
        });
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn rejects_zero_samples() {
        let spec = CohortSpec {
            samples: 0,
            ..CohortSpec::default()
        };
        let err = write_cohort(&spec, io::sink(), io::sink()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
