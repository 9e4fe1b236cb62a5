//! Beacon v2 semantics, free of HTTP framework and database: request parsing (GET and POST
//! alike), response envelopes, the framework documents (`/info`, `/map`, …), and the one error
//! type every failure is turned into.

pub mod documents;
pub mod error;
pub mod filters;
pub mod openapi;
pub mod request;
pub mod response;

pub use documents::BeaconIdentity;
pub use error::BeaconError;
pub use filters::{Filter, FilterKind, Operator};
pub use request::{CollectionRequest, GenomicQuery, IncludeResultsets, QueryRequest, stored_variant_types};

/// The Beacon specification version the responses follow.
pub const API_VERSION: &str = "v2.0.0";
