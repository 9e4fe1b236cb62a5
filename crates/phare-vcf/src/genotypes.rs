//! Reduction of one record's genotypes to per-allele counts and carrier sets.
//!
//! Definitions (the same ones `tests/data/README.md` works the fixtures by hand with):
//! AN counts called alleles; a diploid call with two copies of an allele is homozygous, with one
//! copy heterozygous (`0/1`, `1/2` for both alleles, and the half-missing `./1`); a haploid call
//! of the allele is hemizygous. So AC = 2·hom + het + hemi always holds.

use phare_domain::{Allele, Contig};
use roaring::RoaringBitmap;

use crate::aggregates::PopulationAggregate;
use crate::annotations::AlleleAnnotation;

/// One VCF record after splitting: its alleles and the calls at the site.
#[derive(Clone, Debug, Default)]
pub struct Site {
    pub contig: Option<Contig>,
    /// 1-based POS as written in the file.
    pub position: u64,
    pub alleles: Vec<AlleleCalls>,
    /// AN: called alleles across all samples at this site.
    pub allele_number: u32,
    /// Samples with exactly one called allele (a haploid call, or a half-missing diploid one)
    /// and samples with none. With the diploid rest they give AN for any subset S of samples
    /// (a stratum, the patients who did not object): AN(S) = 2·|S| − |one ∩ S| − 2·|none ∩ S|.
    pub one_called: RoaringBitmap,
    pub none_called: RoaringBitmap,
    /// Whether the record carried genotypes at all (a sites-only record has none).
    pub genotyped: bool,
}

/// One alternate allele of a site, normalised, with its carriers by zygosity (sample indices
/// are the file's sample columns, 0-based).
#[derive(Clone, Debug, PartialEq)]
pub struct AlleleCalls {
    pub allele: Allele,
    /// 1-based index of this allele in the record's ALT column.
    pub alt_index: usize,
    pub allele_count: u32,
    pub homozygous: RoaringBitmap,
    pub heterozygous: RoaringBitmap,
    pub hemizygous: RoaringBitmap,
    /// Counts read from INFO when the record has no genotypes (aggregate files).
    pub aggregates: Vec<PopulationAggregate>,
    /// Set for a symbolic structural allele (`<DEL>`, `<DUP>`, …): its type and span.
    pub structural: Option<StructuralVariant>,
    /// Genes, protein changes and effects from the file's annotations (ANN, CSQ, BCSQ).
    pub annotations: Vec<AlleleAnnotation>,
}

/// A symbolic structural allele: the allele's `start` is its first affected base (VCF POS in
/// 0-based terms, after the padding base; an insertion sits on its padding base) and `end` (0-based, exclusive) comes from INFO `END` or
/// `SVLEN`, so range queries find the whole span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructuralVariant {
    /// `DEL`, `DUP`, `INS`, `INV` or `CNV`.
    pub kind: &'static str,
    pub end: u64,
}

impl AlleleCalls {
    pub fn new(allele: Allele, alt_index: usize) -> Self {
        Self {
            allele,
            alt_index,
            allele_count: 0,
            homozygous: RoaringBitmap::new(),
            heterozygous: RoaringBitmap::new(),
            hemizygous: RoaringBitmap::new(),
            aggregates: Vec::new(),
            structural: None,
            annotations: Vec::new(),
        }
    }
}

/// Why a genotype could not be counted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GenotypeError {
    #[error("genotype refers to allele {allele} but the record has {alternates} alternate allele(s)")]
    AlleleOutOfRange { allele: usize, alternates: usize },
    #[error("ploidy {0} is not supported (only haploid and diploid calls)")]
    Ploidy(usize),
}

impl Site {
    /// Starts a site; `alleles` hold the kept alternate alleles (symbolic ones are left out by
    /// the caller but still count as called alleles in AN).
    pub fn reset(&mut self, contig: Option<Contig>, position: u64) {
        self.contig = contig;
        self.position = position;
        self.alleles.clear();
        self.allele_number = 0;
        self.one_called.clear();
        self.none_called.clear();
        self.genotyped = false;
    }

    /// AN over a subset of the samples, from the call bitmaps (see [`Site::one_called`]).
    pub fn allele_number_of(&self, samples: &RoaringBitmap) -> u64 {
        if !self.genotyped {
            return 0;
        }
        2 * samples.len()
            - self.one_called.intersection_len(samples)
            - 2 * self.none_called.intersection_len(samples)
    }

    /// Adds the next sample's call when it is `0/0`: the same as [`Site::add_call`] with two
    /// reference alleles, without the general path's work.
    pub fn add_reference_call(&mut self) {
        self.genotyped = true;
        self.allele_number += 2;
    }

    /// Adds the next `samples` calls when they are all `0/0`.
    pub fn add_reference_calls(&mut self, samples: u32) {
        if samples > 0 {
            self.genotyped = true;
            self.allele_number += 2 * samples;
        }
    }

    /// Adds the next sample's call (samples come in column order): its alleles (None = missing),
    /// `alternates` being the record's ALT count.
    pub fn add_call(
        &mut self,
        sample: u32,
        call: &[Option<usize>],
        alternates: usize,
    ) -> Result<(), GenotypeError> {
        if call.len() > 2 {
            return Err(GenotypeError::Ploidy(call.len()));
        }
        for allele in call.iter().flatten() {
            if *allele > alternates {
                return Err(GenotypeError::AlleleOutOfRange {
                    allele: *allele,
                    alternates,
                });
            }
        }
        self.genotyped = true;
        let called = call.iter().flatten().count();
        self.allele_number += called as u32;
        match called {
            0 => {
                add_sample(&mut self.none_called, sample);
            }
            1 => {
                add_sample(&mut self.one_called, sample);
            }
            _ => {}
        }
        let haploid = call.len() == 1;
        for calls in &mut self.alleles {
            let copies = call
                .iter()
                .filter(|allele| **allele == Some(calls.alt_index))
                .count();
            calls.allele_count += copies as u32;
            match (haploid, copies) {
                (_, 0) => {}
                (true, _) => {
                    add_sample(&mut calls.hemizygous, sample);
                }
                (false, 1) => {
                    add_sample(&mut calls.heterozygous, sample);
                }
                (false, _) => {
                    add_sample(&mut calls.homozygous, sample);
                }
            }
        }
        Ok(())
    }
}

/// Samples come in column order, so a sample is almost always past the set's largest: pushing
/// it is one comparison and a push, where `insert` searches the container for its place.
fn add_sample(carriers: &mut RoaringBitmap, sample: u32) {
    if carriers.try_push(sample).is_err() {
        carriers.insert(sample);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_with(alternates: &[&str]) -> Site {
        let mut site = Site::default();
        site.reset(None, 10);
        for (offset, alternate) in alternates.iter().enumerate() {
            let allele = Allele::from_vcf(10, "A", alternate).expect("allele");
            site.alleles.push(AlleleCalls::new(allele, offset + 1));
        }
        site
    }

    #[test]
    fn diploid_haploid_and_missing_calls_are_counted_by_hand_rules() {
        let mut site = site_with(&["C", "G"]);
        site.add_call(0, &[Some(0), Some(1)], 2).expect("0/1");
        site.add_call(1, &[Some(1), Some(2)], 2).expect("1/2");
        site.add_call(2, &[Some(2), Some(2)], 2).expect("2/2");
        site.add_call(3, &[None, None], 2).expect("./.");
        site.add_call(4, &[None, Some(1)], 2).expect("./1");
        site.add_call(5, &[Some(1)], 2).expect("1");
        site.add_call(6, &[None], 2).expect(".");
        // called alleles: 2 + 2 + 2 + 0 + 1 + 1 + 0
        assert_eq!(site.allele_number, 8);
        assert_eq!(site.none_called.iter().collect::<Vec<_>>(), vec![3, 6]);
        assert_eq!(site.one_called.iter().collect::<Vec<_>>(), vec![4, 5]);
        let all: RoaringBitmap = (0..7).collect();
        assert_eq!(site.allele_number_of(&all), 8);
        let some: RoaringBitmap = [0, 3, 4].into_iter().collect();
        assert_eq!(site.allele_number_of(&some), 2 + 1);
        let first = &site.alleles[0];
        assert_eq!(first.allele_count, 4);
        assert_eq!(first.heterozygous.iter().collect::<Vec<_>>(), vec![0, 1, 4]);
        assert!(first.homozygous.is_empty());
        assert_eq!(first.hemizygous.iter().collect::<Vec<_>>(), vec![5]);
        let second = &site.alleles[1];
        assert_eq!(second.allele_count, 3);
        assert_eq!(second.heterozygous.iter().collect::<Vec<_>>(), vec![1]);
        assert_eq!(second.homozygous.iter().collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn the_reference_shortcut_equals_the_general_path() {
        let mut general = site_with(&["C"]);
        let mut shortcut = site_with(&["C"]);
        for sample in 0..3 {
            general.add_call(sample, &[Some(0), Some(0)], 1).expect("0/0");
            shortcut.add_reference_call();
        }
        general.add_call(3, &[Some(1), Some(1)], 1).expect("1/1");
        shortcut.add_call(3, &[Some(1), Some(1)], 1).expect("1/1");
        assert_eq!(general.allele_number, shortcut.allele_number);
        assert_eq!(general.alleles, shortcut.alleles);
        assert_eq!(
            (&general.one_called, &general.none_called),
            (&shortcut.one_called, &shortcut.none_called)
        );
        assert_eq!(general.genotyped, shortcut.genotyped);
    }

    #[test]
    fn out_of_range_alleles_and_polyploid_calls_are_errors() {
        let mut site = site_with(&["C"]);
        assert_eq!(
            site.add_call(0, &[Some(0), Some(3)], 1),
            Err(GenotypeError::AlleleOutOfRange {
                allele: 3,
                alternates: 1
            })
        );
        assert_eq!(
            site.add_call(0, &[Some(0), Some(0), Some(1)], 1),
            Err(GenotypeError::Ploidy(3))
        );
    }
}
