//! Normalised alleles in Beacon's 0-based, half-open coordinates.
//!
//! One rule everywhere (ingest and query alike), so a variant written differently by two
//! platforms, or asked for in a non-parsimonious form, lands on the same row:
//! trim shared trailing bases while both alleles are longer than one base, then shared leading
//! bases while both are longer than one base, advancing the start. The result keeps VCF's
//! anchor base for indels (`AT>A`), which is what Beacon's `referenceBases`/`alternateBases`
//! carry. Left-alignment needs the reference sequence and is not done here.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Allele {
    /// 0-based start of the reference bases.
    pub start: u64,
    pub reference: String,
    pub alternate: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AlleleError {
    #[error("position must be at least 1, got {0}")]
    ZeroPosition(u64),
    #[error("{field} bases are empty")]
    Empty { field: &'static str },
    #[error("{field} bases `{bases}` contain a character other than A, C, G, T, N")]
    InvalidBase { field: &'static str, bases: String },
    #[error("reference and alternate bases are identical (`{0}`)")]
    NotAVariant(String),
}

/// Beacon / EFO classification of a normalised allele.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariantType {
    Snp,
    Mnp,
    Insertion,
    Deletion,
    Indel,
}

impl VariantType {
    /// The value used in Beacon's `variantType` (the legacy VCF-style vocabulary the
    /// reference implementations and clients use).
    pub fn beacon_term(self) -> &'static str {
        match self {
            Self::Snp => "SNP",
            Self::Mnp => "MNP",
            Self::Insertion => "INS",
            Self::Deletion => "DEL",
            Self::Indel => "INDEL",
        }
    }
}

impl Allele {
    /// Normalises a VCF-style allele given its 1-based `POS`.
    pub fn from_vcf(position: u64, reference: &str, alternate: &str) -> Result<Self, AlleleError> {
        if position == 0 {
            return Err(AlleleError::ZeroPosition(position));
        }
        Self::normalised(position - 1, reference, alternate)
    }

    /// Normalises an allele given its 0-based start.
    pub fn normalised(start: u64, reference: &str, alternate: &str) -> Result<Self, AlleleError> {
        let reference = canonical_bases("reference", reference)?;
        let alternate = canonical_bases("alternate", alternate)?;
        if reference == alternate {
            return Err(AlleleError::NotAVariant(reference));
        }
        let mut reference_bases = reference.as_bytes();
        let mut alternate_bases = alternate.as_bytes();
        while reference_bases.len() > 1
            && alternate_bases.len() > 1
            && reference_bases.last() == alternate_bases.last()
        {
            reference_bases = &reference_bases[..reference_bases.len() - 1];
            alternate_bases = &alternate_bases[..alternate_bases.len() - 1];
        }
        let mut trimmed_start = start;
        while reference_bases.len() > 1
            && alternate_bases.len() > 1
            && reference_bases[0] == alternate_bases[0]
        {
            reference_bases = &reference_bases[1..];
            alternate_bases = &alternate_bases[1..];
            trimmed_start += 1;
        }
        Ok(Self {
            start: trimmed_start,
            reference: String::from_utf8_lossy(reference_bases).into_owned(),
            alternate: String::from_utf8_lossy(alternate_bases).into_owned(),
        })
    }

    /// 0-based exclusive end of the reference bases.
    pub fn end(&self) -> u64 {
        self.start + self.reference.len() as u64
    }

    pub fn variant_type(&self) -> VariantType {
        let reference_length = self.reference.len();
        let alternate_length = self.alternate.len();
        let shares_anchor = self.reference.as_bytes().first() == self.alternate.as_bytes().first();
        match (reference_length, alternate_length) {
            (1, 1) => VariantType::Snp,
            (left, right) if left == right => VariantType::Mnp,
            (1, _) if shares_anchor => VariantType::Insertion,
            (_, 1) if shares_anchor => VariantType::Deletion,
            _ => VariantType::Indel,
        }
    }

    /// The fully trimmed form VRS wants: no anchor base, possibly empty states.
    /// Returns (start, end, alternate state) in 0-based interbase coordinates.
    pub fn vrs_trimmed(&self) -> (u64, u64, &str) {
        let shared_prefix = self
            .reference
            .bytes()
            .zip(self.alternate.bytes())
            .take_while(|(left, right)| left == right)
            .count();
        let start = self.start + shared_prefix as u64;
        (start, self.end(), &self.alternate[shared_prefix..])
    }

    /// HGVS genomic description on a RefSeq accession, e.g. `NC_000017.11:g.7674220G>A`.
    /// Indels are described where they stand; HGVS's 3' rule needs the reference sequence.
    pub fn hgvs(&self, accession: &str) -> String {
        let (start, end, inserted) = self.vrs_trimmed();
        let first = start + 1;
        let description = match self.variant_type() {
            VariantType::Snp => format!("{}{}>{}", self.start + 1, self.reference, self.alternate),
            VariantType::Insertion => format!("{}_{}ins{inserted}", start, start + 1),
            VariantType::Deletion if end - start == 1 => format!("{first}del"),
            VariantType::Deletion => format!("{first}_{end}del"),
            _ if end - start == 1 => format!("{first}delins{inserted}"),
            _ => format!("{first}_{end}delins{inserted}"),
        };
        format!("{accession}:g.{description}")
    }
}

impl fmt::Display for Allele {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}>{}", self.start, self.reference, self.alternate)
    }
}

fn canonical_bases(field: &'static str, bases: &str) -> Result<String, AlleleError> {
    if bases.is_empty() {
        return Err(AlleleError::Empty { field });
    }
    let upper = bases.to_ascii_uppercase();
    if !upper
        .bytes()
        .all(|base| matches!(base, b'A' | b'C' | b'G' | b'T' | b'N'))
    {
        return Err(AlleleError::InvalidBase {
            field,
            bases: bases.to_owned(),
        });
    }
    Ok(upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allele(start: u64, reference: &str, alternate: &str) -> Allele {
        Allele {
            start,
            reference: reference.into(),
            alternate: alternate.into(),
        }
    }

    #[test]
    fn snv_keeps_position_minus_one() {
        assert_eq!(
            Allele::from_vcf(7_674_220, "G", "a"),
            Ok(allele(7_674_219, "G", "A"))
        );
    }

    #[test]
    fn mnv_sharing_a_first_base_is_trimmed_to_an_snv_one_base_later() {
        assert_eq!(Allele::from_vcf(100, "ACG", "ATG"), Ok(allele(100, "C", "T")));
    }

    #[test]
    fn split_multiallelic_insertion_loses_its_shared_suffix() {
        // REF=ATG ALT=ATGTG at POS 10: the TG suffix is shared, leaving A>ATG.
        assert_eq!(Allele::from_vcf(10, "ATG", "ATGTG"), Ok(allele(9, "A", "ATG")));
        assert_eq!(Allele::from_vcf(10, "ATG", "A"), Ok(allele(9, "ATG", "A")));
    }

    #[test]
    fn deletion_keeps_its_anchor_base() {
        let deletion = Allele::from_vcf(5, "CAT", "C").expect("deletion");
        assert_eq!(deletion.end(), 7);
        assert_eq!(deletion.variant_type(), VariantType::Deletion);
        assert_eq!(deletion.vrs_trimmed(), (5, 7, ""));
        assert_eq!(deletion.hgvs("NC_000001.11"), "NC_000001.11:g.6_7del");
    }

    #[test]
    fn insertion_is_described_between_its_flanking_bases() {
        let insertion = Allele::from_vcf(10, "A", "ATG").expect("insertion");
        assert_eq!(insertion.vrs_trimmed(), (10, 10, "TG"));
        assert_eq!(insertion.hgvs("NC_000001.11"), "NC_000001.11:g.10_11insTG");
        assert_eq!(insertion.variant_type(), VariantType::Insertion);
    }

    #[test]
    fn snv_hgvs_uses_one_based_position() {
        let snv = Allele::from_vcf(7_674_220, "G", "A").expect("snv");
        assert_eq!(snv.hgvs("NC_000017.11"), "NC_000017.11:g.7674220G>A");
    }

    #[test]
    fn bad_bases_and_zero_position_are_refused() {
        assert_eq!(Allele::from_vcf(0, "A", "T"), Err(AlleleError::ZeroPosition(0)));
        assert!(matches!(
            Allele::from_vcf(1, "A", "<DEL>"),
            Err(AlleleError::InvalidBase { .. })
        ));
        assert!(matches!(
            Allele::from_vcf(1, "", "T"),
            Err(AlleleError::Empty { .. })
        ));
        assert!(matches!(
            Allele::from_vcf(1, "AC", "AC"),
            Err(AlleleError::NotAVariant(_))
        ));
    }
}
