//! The server's integration tests, one binary: real PostgreSQL, real VCF/BCF files ingested, the
//! real server on a socket, real HTTP. Every module spawns its nodes with the one harness of
//! `support` (`Node::builder()…spawn()`), and mints its callers' tokens there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod conformance;
mod entities;
mod filters;
mod framework_and_queries;
mod gate;
mod operations;
mod security;
mod support;
mod web;
