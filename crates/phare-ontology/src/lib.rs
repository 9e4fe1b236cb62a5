//! Ontology terms for Beacon filters: hierarchies loaded from OBO files, descendant expansion,
//! and the PFMG vocabulary (pre-indications, sex terms, ages).
//!
//! A Beacon filter on an ontology term selects the term and, by default, its descendants
//! (`includeDescendantTerms`). This crate answers "which ids does this filter mean" from OBO
//! files the operator configures, without touching the database: see
//! `docs/decisions/0024-ontology-filters.md`.
//!
//! ```
//! use phare_ontology::Ontology;
//!
//! let hp = Ontology::from_obo_text(
//!     "hp.obo",
//!     "[Term]\nid: HP:0001250\nname: Seizure\n\n[Term]\nid: HP:0002069\nname: Bilateral tonic-clonic seizure\nis_a: HP:0001250 ! Seizure\n",
//! )?;
//! assert_eq!(hp.with_descendants("hp:0001250"), ["HP:0001250", "HP:0002069"]);
//! # Ok::<(), phare_ontology::OntologyError>(())
//! ```

mod age;
mod error;
mod filtering;
mod obo;
mod ontology;
mod vocabulary;

pub use age::{compare_iso8601_ages, parse_iso8601_age};
pub use error::OntologyError;
pub use filtering::{FilteringTerm, FilteringTermKind, filtering_terms_document};
pub use obo::{MAX_FILE_BYTES, MAX_LINE_BYTES};
pub use ontology::Ontology;
pub use vocabulary::{PRE_INDICATIONS, PreIndication, SEX_TERMS, pre_indication};
