//! Streaming VCF/BCF reading for ingestion: each record is split into its alternate alleles,
//! normalised, and reduced to allele counts and per-sample carrier sets, in bounded memory.

mod aggregates;
mod annotations;
mod bcf_genotypes;
mod error;
mod format;
mod genotypes;
mod limits;
mod reader;
mod reference;

pub use aggregates::PopulationAggregate;
pub use annotations::AlleleAnnotation;
pub use error::{Location, VcfError};
pub use format::InputFormat;
pub use genotypes::{AlleleCalls, Site, StructuralVariant};
pub use limits::Limits;
pub use reader::{ReadOptions, SkipCounts, VariantReader};
pub use reference::{ReferenceError, ReferenceGenome};
