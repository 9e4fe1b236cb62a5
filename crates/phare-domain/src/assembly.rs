//! Reference assemblies and the many spellings of their chromosomes.
//!
//! Platforms write `chr1`, `1` or `NC_000001.11`; Beacon clients add `refseq:NC_000001.11`.
//! Everything is stored under one canonical name (`1`…`22`, `X`, `Y`, `MT`) so that the same
//! variant from two platforms is one row, and `1` never matches `chr19`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A human reference assembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Assembly {
    #[serde(rename = "GRCh37")]
    Grch37,
    #[serde(rename = "GRCh38")]
    Grch38,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "unknown assembly `{0}`: expected GRCh38 (hg38, GCF_000001405.40, GCA_000001405.29) or GRCh37 (hg19, GCF_000001405.25, GCA_000001405.14)"
)]
pub struct UnknownAssembly(pub String);

impl FromStr for Assembly {
    type Err = UnknownAssembly;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lowered = text.trim().to_ascii_lowercase();
        let release = lowered.split('.').next().unwrap_or_default();
        if matches!(release, "grch38" | "hg38") || is_grch38_accession(&lowered) {
            return Ok(Self::Grch38);
        }
        if matches!(release, "grch37" | "hg19") || is_grch37_accession(&lowered) {
            return Ok(Self::Grch37);
        }
        Err(UnknownAssembly(text.to_owned()))
    }
}

/// The version of an assembly accession, RefSeq (`GCF_`) or GenBank (`GCA_`), with the range
/// of versions each assembly's patches take in that database.
fn accession_version(
    lowered: &str,
) -> Option<(u32, std::ops::RangeInclusive<u32>, std::ops::RangeInclusive<u32>)> {
    // RefSeq: GRCh38 is GCF_000001405.26 to .40 (p14), GRCh37 .13 to .25 (p13).
    if let Some(version) = lowered.strip_prefix("gcf_000001405.") {
        return Some((version.parse().ok()?, 26..=40, 13..=25));
    }
    // GenBank: GRCh38 is GCA_000001405.15 to .29 (p14), GRCh37 .1 to .14 (p13).
    let version = lowered.strip_prefix("gca_000001405.")?;
    Some((version.parse().ok()?, 15..=29, 1..=14))
}

fn is_grch38_accession(lowered: &str) -> bool {
    accession_version(lowered).is_some_and(|(version, grch38, _)| grch38.contains(&version))
}

fn is_grch37_accession(lowered: &str) -> bool {
    accession_version(lowered).is_some_and(|(version, _, grch37)| grch37.contains(&version))
}

impl Assembly {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grch37 => "GRCh37",
            Self::Grch38 => "GRCh38",
        }
    }

    /// Resolves any usual spelling of a primary chromosome of this assembly.
    ///
    /// RefSeq accessions must carry this assembly's version (or none): `NC_000001.10` is
    /// GRCh37's chromosome 1 and is not a GRCh38 contig.
    pub fn contig(self, name: &str) -> Option<Contig> {
        let trimmed = name.trim();
        let without_scheme = trimmed.strip_prefix("refseq:").unwrap_or(trimmed);
        if let Some(accession) = without_scheme.strip_prefix("NC_") {
            return self.contig_by_accession(accession);
        }
        let without_chr = strip_chr_prefix(without_scheme);
        let upper = without_chr.to_ascii_uppercase();
        let wanted = match upper.as_str() {
            "M" => "MT",
            other => other,
        };
        CONTIGS.iter().position(|info| info.name == wanted).map(Contig)
    }

    fn contig_by_accession(self, accession: &str) -> Option<Contig> {
        let (number, version) = match accession.split_once('.') {
            Some((number, version)) => (number, Some(version)),
            None => (accession, None),
        };
        CONTIGS
            .iter()
            .position(|info| {
                let own = info.accession(self);
                let (own_number, own_version) =
                    own.trim_start_matches("NC_").split_once('.').unwrap_or((own, ""));
                own_number == number && version.is_none_or(|wanted| wanted == own_version)
            })
            .map(Contig)
    }

    /// All primary contigs, in karyotypic order.
    pub fn contigs(self) -> impl Iterator<Item = Contig> {
        (0..CONTIGS.len()).map(Contig)
    }
}

fn strip_chr_prefix(name: &str) -> &str {
    match name.get(..3) {
        Some(prefix) if prefix.eq_ignore_ascii_case("chr") => &name[3..],
        _ => name,
    }
}

impl fmt::Display for Assembly {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A primary chromosome, the same object in both assemblies (lengths and accessions differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Contig(usize);

impl Contig {
    /// The canonical stored name: `1`…`22`, `X`, `Y`, `MT`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn length(self, assembly: Assembly) -> u64 {
        match assembly {
            Assembly::Grch37 => self.info().grch37_length,
            Assembly::Grch38 => self.info().grch38_length,
        }
    }

    /// The RefSeq accession, e.g. `NC_000017.11`, as VRS `refseq:` sequence ids want it.
    pub fn refseq_accession(self, assembly: Assembly) -> &'static str {
        self.info().accession(assembly)
    }

    /// Whether a 0-based position lies in a pseudo-autosomal region, where males are diploid.
    pub fn in_par(self, assembly: Assembly, start0: u64) -> bool {
        let regions: &[(u64, u64)] = match (self.name(), assembly) {
            ("X", Assembly::Grch38) => &[(10_000, 2_781_479), (155_701_382, 156_030_895)],
            ("Y", Assembly::Grch38) => &[(10_000, 2_781_479), (56_887_902, 57_217_415)],
            ("X", Assembly::Grch37) => &[(60_000, 2_699_520), (154_931_043, 155_260_560)],
            ("Y", Assembly::Grch37) => &[(10_000, 2_649_520), (59_034_049, 59_363_566)],
            _ => &[],
        };
        regions
            .iter()
            .any(|&(start, end)| start0 >= start && start0 < end)
    }

    fn info(self) -> &'static ContigInfo {
        &CONTIGS[self.0]
    }
}

struct ContigInfo {
    name: &'static str,
    grch38_accession: &'static str,
    grch38_length: u64,
    grch37_accession: &'static str,
    grch37_length: u64,
}

impl ContigInfo {
    fn accession(&self, assembly: Assembly) -> &'static str {
        match assembly {
            Assembly::Grch37 => self.grch37_accession,
            Assembly::Grch38 => self.grch38_accession,
        }
    }
}

const fn contig(
    name: &'static str,
    grch38_accession: &'static str,
    grch38_length: u64,
    grch37_accession: &'static str,
    grch37_length: u64,
) -> ContigInfo {
    ContigInfo {
        name,
        grch38_accession,
        grch38_length,
        grch37_accession,
        grch37_length,
    }
}

/// Lengths and accessions from the NCBI assembly reports of GRCh38.p14 and GRCh37.p13.
static CONTIGS: [ContigInfo; 25] = [
    contig("1", "NC_000001.11", 248_956_422, "NC_000001.10", 249_250_621),
    contig("2", "NC_000002.12", 242_193_529, "NC_000002.11", 243_199_373),
    contig("3", "NC_000003.12", 198_295_559, "NC_000003.11", 198_022_430),
    contig("4", "NC_000004.12", 190_214_555, "NC_000004.11", 191_154_276),
    contig("5", "NC_000005.10", 181_538_259, "NC_000005.9", 180_915_260),
    contig("6", "NC_000006.12", 170_805_979, "NC_000006.11", 171_115_067),
    contig("7", "NC_000007.14", 159_345_973, "NC_000007.13", 159_138_663),
    contig("8", "NC_000008.11", 145_138_636, "NC_000008.10", 146_364_022),
    contig("9", "NC_000009.12", 138_394_717, "NC_000009.11", 141_213_431),
    contig("10", "NC_000010.11", 133_797_422, "NC_000010.10", 135_534_747),
    contig("11", "NC_000011.10", 135_086_622, "NC_000011.9", 135_006_516),
    contig("12", "NC_000012.12", 133_275_309, "NC_000012.11", 133_851_895),
    contig("13", "NC_000013.11", 114_364_328, "NC_000013.10", 115_169_878),
    contig("14", "NC_000014.9", 107_043_718, "NC_000014.8", 107_349_540),
    contig("15", "NC_000015.10", 101_991_189, "NC_000015.9", 102_531_392),
    contig("16", "NC_000016.10", 90_338_345, "NC_000016.9", 90_354_753),
    contig("17", "NC_000017.11", 83_257_441, "NC_000017.10", 81_195_210),
    contig("18", "NC_000018.10", 80_373_285, "NC_000018.9", 78_077_248),
    contig("19", "NC_000019.10", 58_617_616, "NC_000019.9", 59_128_983),
    contig("20", "NC_000020.11", 64_444_167, "NC_000020.10", 63_025_520),
    contig("21", "NC_000021.9", 46_709_983, "NC_000021.8", 48_129_895),
    contig("22", "NC_000022.11", 50_818_468, "NC_000022.10", 51_304_566),
    contig("X", "NC_000023.11", 156_040_895, "NC_000023.10", 155_270_560),
    contig("Y", "NC_000024.10", 57_227_415, "NC_000024.9", 59_373_566),
    contig("MT", "NC_012920.1", 16_569, "NC_012920.1", 16_569),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_usual_spelling_of_chromosome_one_resolves_to_one_contig() {
        for name in [
            "1",
            "chr1",
            "CHR1",
            "NC_000001.11",
            "refseq:NC_000001.11",
            "NC_000001",
        ] {
            let contig = Assembly::Grch38.contig(name).map(Contig::name);
            assert_eq!(contig, Some("1"), "{name}");
        }
    }

    #[test]
    fn one_never_matches_nineteen_and_accessions_are_assembly_specific() {
        assert_eq!(Assembly::Grch38.contig("chr19").map(Contig::name), Some("19"));
        assert_eq!(Assembly::Grch38.contig("NC_000001.10"), None);
        assert_eq!(
            Assembly::Grch37.contig("NC_000001.10").map(Contig::name),
            Some("1")
        );
        assert_eq!(Assembly::Grch38.contig("chrM").map(Contig::name), Some("MT"));
        assert_eq!(Assembly::Grch38.contig("chrUn_KI270302v1"), None);
        assert_eq!(Assembly::Grch38.contig(""), None);
    }

    #[test]
    fn assemblies_parse_from_their_aliases() {
        assert_eq!("hg38".parse(), Ok(Assembly::Grch38));
        assert_eq!("GCF_000001405.40".parse(), Ok(Assembly::Grch38));
        assert_eq!("GCF_000001405.25".parse(), Ok(Assembly::Grch37));
        assert_eq!("grch37".parse(), Ok(Assembly::Grch37));
        assert!("hg18".parse::<Assembly>().is_err());
    }

    #[test]
    fn every_usual_assembly_spelling_is_read_case_insensitively() {
        for text in [
            "GRCh38",
            "grch38",
            "GRCh38.p14",
            "hg38",
            "HG38",
            "GCF_000001405.40",
            "gcf_000001405.26",
            "GCA_000001405.15",
            "GCA_000001405.29",
        ] {
            assert_eq!(text.parse(), Ok(Assembly::Grch38), "{text}");
        }
        for text in [
            "GRCh37",
            "GRCh37.p13",
            "hg19",
            "Hg19",
            "GCF_000001405.25",
            "GCF_000001405.13",
            "GCA_000001405.1",
            "GCA_000001405.14",
        ] {
            assert_eq!(text.parse(), Ok(Assembly::Grch37), "{text}");
        }
        for text in [
            "GCF_000001405.41",
            "GCF_000001405.12",
            "GCA_000001405.30",
            "GCA_000001405.x",
            "",
        ] {
            assert!(text.parse::<Assembly>().is_err(), "{text}");
        }
    }

    #[test]
    fn chromosome_one_is_never_chromosome_nineteen() {
        let one = Assembly::Grch38.contig("1");
        assert_eq!(one.map(Contig::name), Some("1"));
        assert_ne!(one, Assembly::Grch38.contig("chr19"));
        assert_ne!(one, Assembly::Grch38.contig("19"));
        assert_ne!(Assembly::Grch38.contig("chr1"), Assembly::Grch38.contig("chr19"));
        assert_eq!(Assembly::Grch38.contig("chr1"), one);
        // A prefix of a longer name is not a match either way.
        assert_eq!(Assembly::Grch38.contig("NC_00001.11"), None);
        assert_eq!(Assembly::Grch38.contig("NC_000001.1"), None);
    }

    #[test]
    fn a_grch37_accession_does_not_resolve_on_grch38_and_back() {
        assert_eq!(Assembly::Grch38.contig("NC_000001.10"), None);
        assert_eq!(Assembly::Grch38.contig("refseq:NC_000001.10"), None);
        assert_eq!(Assembly::Grch37.contig("NC_000001.11"), None);
        assert_eq!(
            Assembly::Grch37.contig("refseq:NC_000001.10").map(Contig::name),
            Some("1")
        );
        // The mitochondrial sequence is the same in both.
        assert_eq!(
            Assembly::Grch37.contig("NC_012920.1"),
            Assembly::Grch38.contig("NC_012920.1")
        );
    }

    #[test]
    fn pseudo_autosomal_regions_use_zero_based_bounds() {
        let x = Assembly::Grch38.contig("X").expect("x");
        // PAR1 is chrX:10,001-2,781,479 in 1-based closed coordinates.
        assert!(!x.in_par(Assembly::Grch38, 9_999));
        assert!(x.in_par(Assembly::Grch38, 10_000));
        assert!(x.in_par(Assembly::Grch38, 2_781_478));
        assert!(!x.in_par(Assembly::Grch38, 2_781_479));
    }
}
