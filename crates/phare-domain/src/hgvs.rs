//! HGVS genomic descriptions (`NC_000017.11:g.7674220C>T`) read into 0-based coordinates.
//!
//! Only the genomic (`g.`) forms on RefSeq chromosome accessions are understood: a substitution,
//! a deletion, an insertion, a deletion-insertion and a duplication, each at a precise
//! position. The accession's version names the assembly (`NC_000001.11` is GRCh38's chromosome
//! 1, `NC_000001.10` GRCh37's). HGVS places indels at their most 3' position; nothing here
//! shifts them, as that needs the reference sequence.

use crate::assembly::{Assembly, Contig};

/// A parsed genomic HGVS description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenomicHgvs {
    /// The accession as written, without a `refseq:` prefix (`NC_000017.11`).
    pub accession: String,
    /// The assembly the accession's version belongs to; `None` for a sequence shared by both
    /// assemblies (the mitochondrial `NC_012920.1`).
    pub assembly: Option<Assembly>,
    pub contig: Contig,
    pub edit: HgvsEdit,
}

/// What the description changes, in 0-based half-open coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HgvsEdit {
    /// `g.100C>T`: one base at `start` replaced.
    Substitution {
        start: u64,
        reference: String,
        alternate: String,
    },
    /// `g.100_102del`, `g.100del`, `g.100_102delCTT`: the bases [start, end) removed.
    Deletion { start: u64, end: u64 },
    /// `g.100_101insAC`: bases inserted between two reference bases; `at` is the 0-based
    /// position of the gap (the 1-based position of the left flanking base).
    Insertion { at: u64, inserted: String },
    /// `g.100_102delinsGT`, `g.100delinsGT`: the bases [start, end) replaced by `inserted`.
    DeletionInsertion { start: u64, end: u64, inserted: String },
    /// `g.100_102dup`: a copy of [start, end) inserted right after it.
    Duplication { start: u64, end: u64 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HgvsError {
    #[error(
        "`{0}` is not a genomic HGVS description on a RefSeq chromosome accession such as NC_000017.11:g.7674220C>T"
    )]
    NotGenomic(String),
    #[error(
        "accession `{0}` is not a chromosome of GRCh38 or GRCh37 (give a versioned NC_ accession, e.g. NC_000017.11)"
    )]
    UnknownAccession(String),
    #[error(
        "`{0}` is not a description this node reads: use N>N, del, ins, delins or dup at precise positions"
    )]
    UnsupportedEdit(String),
    #[error("position {0} is out of range: HGVS positions start at 1")]
    ZeroPosition(u64),
    #[error("the range {first}_{last} must go from lower to higher position")]
    ReversedRange { first: u64, last: u64 },
    #[error("an insertion must name two adjacent positions (such as 100_101), not {first}_{last}")]
    InsertionNotBetweenNeighbours { first: u64, last: u64 },
    #[error("`{bases}` holds a character other than A, C, G, T or N")]
    InvalidBases { bases: String },
    #[error("{written} bases are written for a range of {length} positions")]
    BasesLengthMismatch { written: usize, length: u64 },
    #[error("position {position} is beyond the end of {accession} ({length} bases)")]
    BeyondContig {
        position: u64,
        accession: String,
        length: u64,
    },
}

/// Reads `ACCESSION:g.DESCRIPTION`.
pub fn parse_genomic_hgvs(text: &str) -> Result<GenomicHgvs, HgvsError> {
    let trimmed = text.trim();
    let Some((reference, description)) = trimmed.split_once(":g.") else {
        return Err(HgvsError::NotGenomic(trimmed.to_owned()));
    };
    let accession = reference.strip_prefix("refseq:").unwrap_or(reference);
    if !accession.starts_with("NC_") {
        return Err(HgvsError::NotGenomic(trimmed.to_owned()));
    }
    let (assembly, contig) = resolve_accession(accession)?;
    let edit = parse_edit(description)?;
    if let Some(assembly) = assembly {
        let length = contig.length(assembly);
        let last = match &edit {
            HgvsEdit::Substitution { start, .. } => start + 1,
            HgvsEdit::Insertion { at, .. } => at + 1,
            HgvsEdit::Deletion { end, .. }
            | HgvsEdit::DeletionInsertion { end, .. }
            | HgvsEdit::Duplication { end, .. } => *end,
        };
        if last > length {
            return Err(HgvsError::BeyondContig {
                position: last,
                accession: accession.to_owned(),
                length,
            });
        }
    }
    Ok(GenomicHgvs {
        accession: accession.to_owned(),
        assembly,
        contig,
        edit,
    })
}

/// The assembly and chromosome of a RefSeq accession. A version must be given, since the
/// version is what tells GRCh38 from GRCh37.
fn resolve_accession(accession: &str) -> Result<(Option<Assembly>, Contig), HgvsError> {
    let unknown = || HgvsError::UnknownAccession(accession.to_owned());
    if !accession.contains('.') {
        return Err(unknown());
    }
    match (
        Assembly::Grch38.contig(accession),
        Assembly::Grch37.contig(accession),
    ) {
        (Some(grch38), Some(_)) => Ok((None, grch38)),
        (Some(grch38), None) => Ok((Some(Assembly::Grch38), grch38)),
        (None, Some(grch37)) => Ok((Some(Assembly::Grch37), grch37)),
        (None, None) => Err(unknown()),
    }
}

fn parse_edit(description: &str) -> Result<HgvsEdit, HgvsError> {
    let unsupported = || HgvsError::UnsupportedEdit(description.to_owned());
    let digits = description.bytes().take_while(u8::is_ascii_digit).count();
    let first = position(&description[..digits]).ok_or_else(unsupported)?;
    let rest = &description[digits..];
    let (last, operation) = match rest.strip_prefix('_') {
        Some(after) => {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            (
                Some(position(&after[..digits]).ok_or_else(unsupported)?),
                &after[digits..],
            )
        }
        None => (None, rest),
    };
    if let Some(last) = last
        && last <= first
    {
        return Err(HgvsError::ReversedRange { first, last });
    }
    // 0-based half-open span of the named positions.
    let start = first - 1;
    let end = last.unwrap_or(first);
    if let Some(inserted) = operation.strip_prefix("delins") {
        return Ok(HgvsEdit::DeletionInsertion {
            start,
            end,
            inserted: bases(inserted, false)?,
        });
    }
    if let Some(deleted) = operation.strip_prefix("del") {
        // `delCTT` and the older `delCTTinsGT` name the deleted bases: they must fit the range.
        let (deleted, inserted) = match deleted.split_once("ins") {
            Some((deleted, inserted)) => (deleted, Some(bases(inserted, false)?)),
            None => (deleted, None),
        };
        let deleted = bases(deleted, true)?;
        if !deleted.is_empty() && deleted.len() as u64 != end - start {
            return Err(HgvsError::BasesLengthMismatch {
                written: deleted.len(),
                length: end - start,
            });
        }
        return Ok(match inserted {
            Some(inserted) => HgvsEdit::DeletionInsertion { start, end, inserted },
            None => HgvsEdit::Deletion { start, end },
        });
    }
    if let Some(inserted) = operation.strip_prefix("ins") {
        let Some(last) = last else {
            return Err(unsupported());
        };
        if last != first + 1 {
            return Err(HgvsError::InsertionNotBetweenNeighbours { first, last });
        }
        return Ok(HgvsEdit::Insertion {
            at: first,
            inserted: bases(inserted, false)?,
        });
    }
    if let Some(duplicated) = operation.strip_prefix("dup") {
        let duplicated = bases(duplicated, true)?;
        if !duplicated.is_empty() && duplicated.len() as u64 != end - start {
            return Err(HgvsError::BasesLengthMismatch {
                written: duplicated.len(),
                length: end - start,
            });
        }
        return Ok(HgvsEdit::Duplication { start, end });
    }
    if let Some((reference, alternate)) = operation.split_once('>')
        && last.is_none()
    {
        let reference = bases(reference, false)?;
        let alternate = bases(alternate, false)?;
        if reference.len() != 1 || alternate.len() != 1 || reference == alternate {
            return Err(unsupported());
        }
        return Ok(HgvsEdit::Substitution {
            start,
            reference,
            alternate,
        });
    }
    Err(unsupported())
}

/// A 1-based position: digits only, at least 1.
fn position(digits: &str) -> Option<u64> {
    let value: u64 = digits.parse().ok()?;
    (value > 0).then_some(value)
}

/// Upper-cased bases; empty only where `may_be_empty` (deleted or duplicated bases are optional).
fn bases(text: &str, may_be_empty: bool) -> Result<String, HgvsError> {
    let upper = text.to_ascii_uppercase();
    let valid = upper
        .bytes()
        .all(|base| matches!(base, b'A' | b'C' | b'G' | b'T' | b'N'));
    if !valid || (upper.is_empty() && !may_be_empty) {
        return Err(HgvsError::InvalidBases {
            bases: text.to_owned(),
        });
    }
    Ok(upper)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Allele;

    fn edit(text: &str) -> HgvsEdit {
        parse_genomic_hgvs(text).expect(text).edit
    }

    #[test]
    fn substitution_is_one_based_and_names_the_assembly() {
        let parsed = parse_genomic_hgvs("NC_000017.11:g.7674220C>T").expect("valid");
        assert_eq!(parsed.accession, "NC_000017.11");
        assert_eq!(parsed.assembly, Some(Assembly::Grch38));
        assert_eq!(parsed.contig.name(), "17");
        assert_eq!(
            parsed.edit,
            HgvsEdit::Substitution {
                start: 7_674_219,
                reference: "C".into(),
                alternate: "T".into(),
            }
        );
        let grch37 = parse_genomic_hgvs("refseq:NC_000017.10:g.7577538c>t").expect("valid");
        assert_eq!(grch37.assembly, Some(Assembly::Grch37));
        assert_eq!(grch37.accession, "NC_000017.10");
    }

    #[test]
    fn deletions_with_and_without_their_bases_give_the_same_interval() {
        let deletion = HgvsEdit::Deletion { start: 99, end: 102 };
        assert_eq!(edit("NC_000001.11:g.100_102del"), deletion);
        assert_eq!(edit("NC_000001.11:g.100_102delCTT"), deletion);
        assert_eq!(
            edit("NC_000001.11:g.100del"),
            HgvsEdit::Deletion { start: 99, end: 100 }
        );
    }

    #[test]
    fn insertion_sits_in_the_gap_after_its_first_position() {
        assert_eq!(
            edit("NC_000001.11:g.100_101insAC"),
            HgvsEdit::Insertion {
                at: 100,
                inserted: "AC".into(),
            }
        );
    }

    #[test]
    fn deletion_insertions_in_current_and_older_spellings() {
        let expected = HgvsEdit::DeletionInsertion {
            start: 99,
            end: 102,
            inserted: "GT".into(),
        };
        assert_eq!(edit("NC_000001.11:g.100_102delinsGT"), expected);
        assert_eq!(edit("NC_000001.11:g.100_102delCTTinsGT"), expected);
        assert_eq!(
            edit("NC_000001.11:g.100delinsGT"),
            HgvsEdit::DeletionInsertion {
                start: 99,
                end: 100,
                inserted: "GT".into(),
            }
        );
    }

    #[test]
    fn duplication_names_the_copied_interval() {
        assert_eq!(
            edit("NC_000001.11:g.100_102dup"),
            HgvsEdit::Duplication { start: 99, end: 102 }
        );
        assert_eq!(
            edit("NC_000001.11:g.100dup"),
            HgvsEdit::Duplication { start: 99, end: 100 }
        );
    }

    #[test]
    fn the_descriptions_phare_emits_read_back_to_their_allele() {
        let cases = [
            (
                Allele::from_vcf(7_674_220, "G", "A"),
                HgvsEdit::Substitution {
                    start: 7_674_219,
                    reference: "G".into(),
                    alternate: "A".into(),
                },
            ),
            (
                Allele::from_vcf(3000, "GTC", "G"),
                HgvsEdit::Deletion {
                    start: 3000,
                    end: 3002,
                },
            ),
            (
                Allele::from_vcf(12, "CA", "C"),
                HgvsEdit::Deletion { start: 12, end: 13 },
            ),
            (
                Allele::from_vcf(4000, "T", "TAA"),
                HgvsEdit::Insertion {
                    at: 4000,
                    inserted: "AA".into(),
                },
            ),
            (
                Allele::from_vcf(5001, "CT", "GA"),
                HgvsEdit::DeletionInsertion {
                    start: 5000,
                    end: 5002,
                    inserted: "GA".into(),
                },
            ),
        ];
        for (allele, expected) in cases {
            let text = allele.expect("allele").hgvs("NC_000001.11");
            assert_eq!(parse_genomic_hgvs(&text).expect(&text).edit, expected, "{text}");
        }
    }

    #[test]
    fn accessions_must_be_versioned_chromosomes_of_a_known_assembly() {
        for text in [
            "NC_000001.9:g.100A>G",
            "NC_000001:g.100A>G",
            "NC_000099.1:g.100A>G",
        ] {
            assert!(
                matches!(parse_genomic_hgvs(text), Err(HgvsError::UnknownAccession(_))),
                "{text}"
            );
        }
        let mitochondrial = parse_genomic_hgvs("NC_012920.1:g.3243A>G").expect("mt");
        assert_eq!(mitochondrial.assembly, None);
        assert_eq!(mitochondrial.contig.name(), "MT");
    }

    #[test]
    fn other_references_and_forms_are_refused() {
        let not_genomic = [
            "NM_004006.2:c.4375C>T",
            "chr17:g.7674220C>T",
            "NC_000017.11:c.100A>G",
            "7674220C>T",
        ];
        for text in not_genomic {
            assert!(
                matches!(parse_genomic_hgvs(text), Err(HgvsError::NotGenomic(_))),
                "{text}"
            );
        }
        let errors = [
            ("NC_000001.11:g.(100_102)del", "not a description"),
            ("NC_000001.11:g.100_102inv", "not a description"),
            ("NC_000001.11:g.100AC>GT", "not a description"),
            ("NC_000001.11:g.100A>A", "not a description"),
            ("NC_000001.11:g.100_102C>T", "not a description"),
            ("NC_000001.11:g.100insA", "not a description"),
            ("NC_000001.11:g.0A>G", "not a description"),
            ("NC_000001.11:g.102_100del", "lower to higher"),
            ("NC_000001.11:g.100_100del", "lower to higher"),
            ("NC_000001.11:g.100_105insA", "adjacent"),
            ("NC_000001.11:g.100_101ins", "character other than"),
            ("NC_000001.11:g.100_101insXY", "character other than"),
            (
                "NC_000001.11:g.100_102delCT",
                "2 bases are written for a range of 3",
            ),
            (
                "NC_000001.11:g.100_102dupCT",
                "2 bases are written for a range of 3",
            ),
            ("NC_000001.11:g.248956423A>G", "beyond the end"),
        ];
        for (text, message) in errors {
            let error = parse_genomic_hgvs(text).expect_err(text).to_string();
            assert!(error.contains(message), "{text}: {error}");
        }
    }
}
