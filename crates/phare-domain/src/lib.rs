//! Phare's core vocabulary, free of I/O: assemblies and contig aliases, normalised alleles in
//! 0-based half-open coordinates, granularity, and the sample manifest a platform sends with a VCF.

pub mod allele;
pub mod assembly;
pub mod granularity;
pub mod hgvs;
pub mod manifest;
pub mod protein;

pub use allele::{Allele, AlleleError, VariantType};
pub use assembly::{Assembly, Contig};
pub use granularity::Granularity;
pub use hgvs::{GenomicHgvs, HgvsEdit, HgvsError, parse_genomic_hgvs};
pub use manifest::{Manifest, ManifestError, ManifestSample, Sex, population_labels};
pub use protein::normalise_protein_change;
