//! Offline validation of JSON documents against the official GA4GH Beacon v2 schemas.
//!
//! Phare promises to speak Beacon v2, and the only trustworthy judge of that promise is the
//! specification's own JSON schemas. This crate compiles those schemas (vendored in the
//! repository under `spec/beacon-v2/`, see its `SOURCE.md`) into validators so tests and
//! tools can check every envelope and record the server emits.
//!
//! ```
//! use phare_schema::{vendored_cached, Schema};
//!
//! let schemas = vendored_cached().map_err(|e| e.to_string())?;
//! let response = serde_json::json!({"meta": {}, "responseSummary": {"exists": "yes"}});
//! let errors = schemas.validate(Schema::BooleanResponse, &response).unwrap_err();
//! assert!(errors.contains(&r#"/responseSummary/exists: "yes" is not of type "boolean""#.to_owned()));
//! # Ok::<(), String>(())
//! ```
//!
//! # Reference resolution
//!
//! The spec files carry no `$id` and point at each other with relative paths plus two absolute
//! prefixes. Every schema file found under the spec folder is registered, before anything is
//! compiled, under the URI it would have in the upstream repository
//! (`https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/<path>`), and the VRS 1.3
//! schema under `https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json`. Relative references then
//! resolve exactly as upstream intends, and absolute ones hit the registry.
//!
//! Nothing ever touches the network: a custom retriever maps those two URI spaces to local
//! files and refuses every other URI with an error, so a dangling reference fails loudly at
//! load time instead of triggering a download (even if some other crate in the build enables
//! the `jsonschema` HTTP feature).
//!
//! # Known spec defects tolerated
//!
//! The spec files themselves are never modified; instead, when loading:
//!
//! - several default-model `endpoints.json` files point at
//!   `beaconCommonComponents.json#/definitions/...`, but that file keeps its definitions under
//!   `$defs`: such references are rewritten to `#/$defs/...` in memory;
//! - the default-model entry schemas (`analyses`, `biosamples`, `datasets`, `individuals`,
//!   `runs`) refer to `../common/info.json`, i.e. `models/json/beacon-v2-default-model/common/info.json`,
//!   which does not exist; the framework's `framework/json/common/info.json` (the same "any
//!   object" placeholder) is registered under that URI too.

use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Registry, Retrieve, Uri, ValidationError, Validator};
use serde_json::Value;

/// URI prefix under which the upstream repository publishes the Beacon v2 files; the spec
/// itself uses it in absolute `$ref`s, so the vendored folder is registered under it.
const BEACON_BASE_URI: &str = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/";

/// Canonical URI of VRS 1.3 as referenced by the genomicVariations model.
const VRS_URI: &str = "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json";

/// Where the VRS 1.3 schema lives inside the vendored folder.
const VRS_RELATIVE_PATH: &str = "vrs-1.3/vrs.json";

/// Files the spec refers to but does not ship, each with the file that stands in for it
/// (`missing`, `substitute`), both relative to the spec folder. Used only while `missing` is
/// absent on disk (and `substitute` present), so a corrected spec takes precedence.
const MISSING_FILE_SUBSTITUTES: &[(&str, &str)] = &[(
    "models/json/beacon-v2-default-model/common/info.json",
    "framework/json/common/info.json",
)];

/// Longest message kept per violation: some messages embed the offending instance, which
/// for a whole record could be kilobytes of JSON that drown the useful part.
const MAX_MESSAGE_CHARS: usize = 400;

/// A Beacon v2 schema that documents can be validated against.
///
/// Framework variants are the request/response envelopes; the entry-type variants are the
/// default model's `defaultSchema.json` records that appear inside result sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Schema {
    /// `/info` response (`beaconInfoResponse.json`).
    InfoResponse,
    /// GA4GH service-info (`ga4gh-service-info-1-0-0-schema.json`).
    ServiceInfo,
    /// `/configuration` response.
    ConfigurationResponse,
    /// `/map` response.
    MapResponse,
    /// `/entry_types` response.
    EntryTypesResponse,
    /// `/filtering_terms` response.
    FilteringTermsResponse,
    /// Boolean-granularity query response.
    BooleanResponse,
    /// Count-granularity query response.
    CountResponse,
    /// Record-granularity query response (envelope only; see
    /// [`BeaconSchemas::validate_resultsets`] for the records).
    ResultsetsResponse,
    /// Collections (datasets, cohorts) response.
    CollectionsResponse,
    /// Error response.
    ErrorResponse,
    /// POST request body.
    RequestBody,
    /// genomicVariations entry.
    GenomicVariation,
    /// individuals entry.
    Individual,
    /// biosamples entry.
    Biosample,
    /// runs entry.
    Run,
    /// analyses entry.
    Analysis,
    /// datasets entry.
    Dataset,
    /// cohorts entry.
    Cohort,
}

impl Schema {
    /// Every schema, so callers (and [`BeaconSchemas::load`]) can iterate exhaustively.
    pub const ALL: [Schema; 19] = [
        Schema::InfoResponse,
        Schema::ServiceInfo,
        Schema::ConfigurationResponse,
        Schema::MapResponse,
        Schema::EntryTypesResponse,
        Schema::FilteringTermsResponse,
        Schema::BooleanResponse,
        Schema::CountResponse,
        Schema::ResultsetsResponse,
        Schema::CollectionsResponse,
        Schema::ErrorResponse,
        Schema::RequestBody,
        Schema::GenomicVariation,
        Schema::Individual,
        Schema::Biosample,
        Schema::Run,
        Schema::Analysis,
        Schema::Dataset,
        Schema::Cohort,
    ];

    /// Path of the schema file relative to the spec folder, so error messages and tests can
    /// point at the exact file that judged a document.
    pub fn relative_path(self) -> &'static str {
        match self {
            Schema::InfoResponse => "framework/json/responses/beaconInfoResponse.json",
            Schema::ServiceInfo => "framework/json/responses/ga4gh-service-info-1-0-0-schema.json",
            Schema::ConfigurationResponse => "framework/json/responses/beaconConfigurationResponse.json",
            Schema::MapResponse => "framework/json/responses/beaconMapResponse.json",
            Schema::EntryTypesResponse => "framework/json/responses/beaconEntryTypesResponse.json",
            Schema::FilteringTermsResponse => "framework/json/responses/beaconFilteringTermsResponse.json",
            Schema::BooleanResponse => "framework/json/responses/beaconBooleanResponse.json",
            Schema::CountResponse => "framework/json/responses/beaconCountResponse.json",
            Schema::ResultsetsResponse => "framework/json/responses/beaconResultsetsResponse.json",
            Schema::CollectionsResponse => "framework/json/responses/beaconCollectionsResponse.json",
            Schema::ErrorResponse => "framework/json/responses/beaconErrorResponse.json",
            Schema::RequestBody => "framework/json/requests/beaconRequestBody.json",
            Schema::GenomicVariation => {
                "models/json/beacon-v2-default-model/genomicVariations/defaultSchema.json"
            }
            Schema::Individual => "models/json/beacon-v2-default-model/individuals/defaultSchema.json",
            Schema::Biosample => "models/json/beacon-v2-default-model/biosamples/defaultSchema.json",
            Schema::Run => "models/json/beacon-v2-default-model/runs/defaultSchema.json",
            Schema::Analysis => "models/json/beacon-v2-default-model/analyses/defaultSchema.json",
            Schema::Dataset => "models/json/beacon-v2-default-model/datasets/defaultSchema.json",
            Schema::Cohort => "models/json/beacon-v2-default-model/cohorts/defaultSchema.json",
        }
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.relative_path())
    }
}

/// Why the schemas could not be loaded or compiled.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// A spec file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory that failed.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A spec file is not valid JSON.
    #[error("cannot parse {path}: {source}")]
    Json {
        /// The offending file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A file path cannot be expressed as a URI under the registry's base.
    #[error("cannot map {path} to a schema uri")]
    Path {
        /// The offending file.
        path: PathBuf,
    },
    /// The set of schema files could not be assembled into a registry (bad URI, unresolvable
    /// reference, refused retrieval).
    #[error("cannot build the schema registry: {0}")]
    Registry(String),
    /// One schema failed to compile (invalid schema or unresolvable `$ref`).
    #[error("cannot compile {schema}: {message}")]
    Compile {
        /// The schema's path relative to the spec folder.
        schema: String,
        /// What went wrong.
        message: String,
    },
}

/// Compiled validators for every [`Schema`], built once and reused: compiling the Beacon
/// schemas (including VRS) is far slower than validating a document.
pub struct BeaconSchemas {
    root: PathBuf,
    registry: Registry<'static>,
    validators: HashMap<Schema, Validator>,
}

impl fmt::Debug for BeaconSchemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BeaconSchemas")
            .field("root", &self.root)
            .field("schemas", &self.validators.len())
            .finish_non_exhaustive()
    }
}

impl BeaconSchemas {
    /// Loads from the repository's vendored copy (`spec/beacon-v2`, found relative to this
    /// crate's manifest), which is what tests and the server's self-checks should use.
    pub fn vendored() -> Result<Self, SchemaError> {
        Self::load(&vendored_root())
    }

    /// Loads and compiles every schema under `root` (a folder laid out like `spec/beacon-v2`),
    /// without any network access.
    pub fn load(root: &Path) -> Result<Self, SchemaError> {
        let root = root.to_path_buf();
        let mut resources = Vec::new();
        collect_schema_files(&root, &root, &mut resources)?;
        for (missing, substitute) in MISSING_FILE_SUBSTITUTES {
            let substitute = root.join(substitute);
            if !root.join(missing).exists() && substitute.exists() {
                resources.push((uri_for(missing), read_schema_file(&substitute)?));
            }
        }
        let registry = Registry::new()
            .retriever(OfflineRetriever { root: root.clone() })
            .draft(Draft::Draft202012)
            .extend(resources)
            .and_then(|builder| builder.prepare())
            .map_err(|e| SchemaError::Registry(lowercase_first(&e.to_string())))?;
        let mut schemas = BeaconSchemas {
            root,
            registry,
            validators: HashMap::new(),
        };
        for schema in Schema::ALL {
            let validator = schemas
                .compile_uri(&uri_for(schema.relative_path()))
                .map_err(|message| SchemaError::Compile {
                    schema: schema.to_string(),
                    message,
                })?;
            schemas.validators.insert(schema, validator);
        }
        Ok(schemas)
    }

    /// Validates `document` against `schema`. Returns every violation as
    /// `"<instance path>: <message>"` (the root is shown as `/`), so a failing test shows all
    /// problems at once rather than the first.
    pub fn validate(&self, schema: Schema, document: &Value) -> Result<(), Vec<String>> {
        let errors = match self.validators.get(&schema) {
            Some(validator) => collect_errors(validator, document, ""),
            // Unreachable by construction (`load` compiles every variant), but reporting it
            // beats panicking in a library.
            None => vec![format!("/: schema {schema} was not compiled")],
        };
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Validates a `beaconResultsetsResponse` envelope and every record in
    /// `response.resultSets[].results[]` against `entry`. The envelope schema only says
    /// records are objects, so without the second pass a malformed record would pass.
    /// Record violations carry their full path from the document root.
    pub fn validate_resultsets(&self, document: &Value, entry: Schema) -> Result<(), Vec<String>> {
        let mut errors = self
            .validate(Schema::ResultsetsResponse, document)
            .err()
            .unwrap_or_default();
        let Some(validator) = self.validators.get(&entry) else {
            errors.push(format!("/: schema {entry} was not compiled"));
            return Err(errors);
        };
        let result_sets = document
            .pointer("/response/resultSets")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (set_index, set) in result_sets.iter().enumerate() {
            let records = set
                .get("results")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (record_index, record) in records.iter().enumerate() {
                let prefix = format!("/response/resultSets/{set_index}/results/{record_index}");
                errors.extend(collect_errors(validator, record, &prefix));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    /// Compiles the schema registered at `uri` against the shared registry. Kept private: the
    /// public surface is the [`Schema`] enum, but tests use it to reach other spec files.
    fn compile_uri(&self, uri: &str) -> Result<Validator, String> {
        // A one-line wrapper resolves the target through the registry like any other `$ref`,
        // so the target document keeps its registered URI as base for its own references.
        let wrapper = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": uri,
        });
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&self.registry)
            .with_retriever(OfflineRetriever {
                root: self.root.clone(),
            })
            .with_base_uri(format!("{BEACON_BASE_URI}phare-schema/entrypoint.json"))
            .build(&wrapper)
            .map_err(|e| lowercase_first(&e.to_string()))
    }
}

/// Process-wide instance loaded from the vendored spec on first use, so test suites that
/// validate hundreds of documents pay the compilation cost once.
pub fn vendored_cached() -> Result<&'static BeaconSchemas, &'static SchemaError> {
    static CACHE: OnceLock<Result<BeaconSchemas, SchemaError>> = OnceLock::new();
    CACHE.get_or_init(BeaconSchemas::vendored).as_ref()
}

/// The vendored spec folder: `<workspace>/spec/beacon-v2`.
fn vendored_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/beacon-v2")
}

/// The URI a spec file is registered under, from its `/`-separated path relative to the root.
fn uri_for(relative: &str) -> String {
    if relative == VRS_RELATIVE_PATH {
        VRS_URI.to_owned()
    } else {
        format!("{BEACON_BASE_URI}{relative}")
    }
}

/// The inverse of [`uri_for`]: which vendored file a URI denotes, if it is one of ours.
fn relative_path_for(uri: &str) -> Option<&str> {
    if uri == VRS_URI {
        return Some(VRS_RELATIVE_PATH);
    }
    let relative = uri.strip_prefix(BEACON_BASE_URI)?;
    // Resolution normalises `..`, but never let a URI escape the spec folder regardless.
    let safe = !relative.is_empty()
        && Path::new(relative)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    safe.then_some(relative)
}

/// Collects every schema file below `dir` as `(uri, contents)`. Example folders hold
/// instance documents, not schemas, and are skipped; so is anything that is not `.json`.
fn collect_schema_files(root: &Path, dir: &Path, out: &mut Vec<(String, Value)>) -> Result<(), SchemaError> {
    let io_error = |source| SchemaError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io_error)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error)?;
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if !name.starts_with("examples") {
                collect_schema_files(root, &path, out)?;
            }
        } else if name.ends_with(".json") {
            let relative = path
                .strip_prefix(root)
                .ok()
                .and_then(|p| {
                    let parts = p
                        .components()
                        .map(|c| c.as_os_str().to_str())
                        .collect::<Option<Vec<_>>>()?;
                    Some(parts.join("/"))
                })
                .ok_or_else(|| SchemaError::Path { path: path.clone() })?;
            out.push((uri_for(&relative), read_schema_file(&path)?));
        }
    }
    Ok(())
}

/// Reads one spec file and repairs the known broken references in memory.
fn read_schema_file(path: &Path) -> Result<Value, SchemaError> {
    let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Io {
        path: path.into(),
        source,
    })?;
    let mut value: Value = serde_json::from_str(&text).map_err(|source| SchemaError::Json {
        path: path.into(),
        source,
    })?;
    repair_refs(&mut value);
    Ok(value)
}

/// Rewrites `beaconCommonComponents.json#/definitions/X` to `#/$defs/X`: the file only has
/// `$defs`, and v2.1.1's default-model `endpoints.json` files still use the draft-07 name.
/// Returns how many references were rewritten.
fn repair_refs(value: &mut Value) -> usize {
    const BROKEN: &str = "beaconCommonComponents.json#/definitions/";
    const FIXED: &str = "beaconCommonComponents.json#/$defs/";
    match value {
        Value::Object(map) => {
            let mut repaired = 0;
            for (key, child) in map.iter_mut() {
                match child {
                    Value::String(reference) if key == "$ref" && reference.contains(BROKEN) => {
                        *reference = reference.replace(BROKEN, FIXED);
                        repaired += 1;
                    }
                    _ => repaired += repair_refs(child),
                }
            }
            repaired
        }
        Value::Array(items) => items.iter_mut().map(repair_refs).sum(),
        _ => 0,
    }
}

/// Serves the two vendored URI spaces from disk and refuses everything else, so that no
/// reference can ever cause a network fetch.
#[derive(Debug, Clone)]
struct OfflineRetriever {
    root: PathBuf,
}

impl Retrieve for OfflineRetriever {
    fn retrieve(&self, uri: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let Some(relative) = relative_path_for(uri.as_str()) else {
            return Err(format!(
                "refusing to retrieve {uri}: phare-schema resolves only the vendored beacon v2 and vrs 1.3 \
                 schemas and never uses the network"
            )
            .into());
        };
        let mut path = self.root.join(relative);
        if !path.exists()
            && let Some((_, substitute)) = MISSING_FILE_SUBSTITUTES.iter().find(|(m, _)| *m == relative)
        {
            path = self.root.join(substitute);
        }
        Ok(read_schema_file(&path)?)
    }
}

/// Runs `validator` over `document` and renders each violation, prefixing instance paths
/// with `prefix` (the location of `document` inside a larger response).
fn collect_errors(validator: &Validator, document: &Value, prefix: &str) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|error| render(&error, prefix))
        .collect()
}

/// `"<path>: <message>"`, with the branch failures of `anyOf`/`oneOf` appended because the
/// bare "not valid under any of the schemas" says nothing about what to fix.
fn render(error: &ValidationError<'_>, prefix: &str) -> String {
    let path = format!("{prefix}{}", error.instance_path().as_str());
    let path = if path.is_empty() { "/" } else { path.as_str() };
    let mut message = truncate(&error.to_string());
    let branches = match error.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            Some(context)
        }
        _ => None,
    };
    if let Some(branches) = branches {
        for (index, branch) in branches.iter().enumerate() {
            if let Some(first) = branch.first() {
                let inner = format!("{prefix}{}", first.instance_path().as_str());
                let inner = if inner.is_empty() { "/" } else { inner.as_str() };
                message.push_str(&format!(
                    "; branch {index}: {inner}: {}",
                    truncate(&first.to_string())
                ));
            }
        }
    }
    format!("{path}: {message}")
}

/// Caps a message at [`MAX_MESSAGE_CHARS`] characters.
fn truncate(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

/// Error strings of this crate start lowercase; upstream messages sometimes do not.
fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> &'static BeaconSchemas {
        vendored_cached().expect("vendored schemas load")
    }

    fn validator_for(uri: &str) -> Validator {
        schemas()
            .compile_uri(uri)
            .unwrap_or_else(|e| panic!("{uri} compiles: {e}"))
    }

    #[test]
    fn uris_keep_the_folder_layout_and_map_back() {
        let relative = "framework/json/common/ontologyTerm.json";
        assert_eq!(
            uri_for(relative),
            "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/common/ontologyTerm.json"
        );
        assert_eq!(relative_path_for(&uri_for(relative)), Some(relative));
        assert_eq!(uri_for(VRS_RELATIVE_PATH), VRS_URI);
        assert_eq!(relative_path_for(VRS_URI), Some(VRS_RELATIVE_PATH));
    }

    #[test]
    fn foreign_or_escaping_uris_map_to_no_file() {
        assert_eq!(relative_path_for("https://example.org/schema.json"), None);
        assert_eq!(
            relative_path_for("https://w3id.org/ga4gh/schema/vrs/2.0/vrs.json"),
            None
        );
        assert_eq!(
            relative_path_for(&format!("{BEACON_BASE_URI}../etc/passwd")),
            None
        );
        assert_eq!(relative_path_for(&format!("{BEACON_BASE_URI}/etc/passwd")), None);
        assert_eq!(relative_path_for(BEACON_BASE_URI), None);
    }

    #[test]
    fn repair_refs_fixes_only_the_common_components_definitions_pointer() {
        let mut doc = json!({
            "a": {"$ref": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/common/beaconCommonComponents.json#/definitions/IncludeResultsetResponses"},
            "b": [{"$ref": "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json#/definitions/Location"}],
            "c": {"description": "beaconCommonComponents.json#/definitions/ in prose stays"},
        });
        assert_eq!(repair_refs(&mut doc), 1);
        assert_eq!(
            doc["a"]["$ref"],
            "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/common/beaconCommonComponents.json#/$defs/IncludeResultsetResponses"
        );
        assert_eq!(
            doc["b"][0]["$ref"],
            "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json#/definitions/Location"
        );
        assert_eq!(
            doc["c"]["description"],
            "beaconCommonComponents.json#/definitions/ in prose stays"
        );
    }

    #[test]
    fn the_broken_endpoints_reference_resolves_after_repair() {
        // This is the exact subschema holding the defective `#/definitions/` pointer; it only
        // compiles because the pointer was rewritten to `#/$defs/` on load.
        let uri = uri_for(
            "models/json/beacon-v2-default-model/genomicVariations/endpoints.json\
             #/components/parameters/includeResultsetResponses/schema",
        );
        let validator = validator_for(&uri);
        assert!(validator.is_valid(&json!("HIT")));
        assert!(validator.is_valid(&json!("NONE")));
        assert!(!validator.is_valid(&json!("SOMETIMES")));
    }

    #[test]
    fn references_outside_the_vendored_spec_are_refused_not_fetched() {
        // `example.invalid` can never resolve, but the point is that the error is ours: the
        // retriever refused before any network code could run.
        let error = match schemas().compile_uri("https://example.invalid/beacon/schema.json") {
            Ok(_) => panic!("a foreign reference must not compile"),
            Err(error) => error,
        };
        assert!(
            error.contains("refusing to retrieve https://example.invalid/beacon/schema.json"),
            "{error}"
        );
        assert!(error.contains("never uses the network"), "{error}");
    }

    #[test]
    fn references_to_absent_spec_files_fail_with_the_file_path() {
        let error = match schemas().compile_uri(&uri_for("framework/json/common/doesNotExist.json")) {
            Ok(_) => panic!("a missing file must not compile"),
            Err(error) => error,
        };
        assert!(error.contains("doesNotExist.json"), "{error}");
    }

    #[test]
    fn pedigree_example_validates_against_the_common_pedigree_schema() {
        // The only model example that is not an entry-type document: it illustrates
        // `common/pedigree.json`, which is not part of the public `Schema` enum.
        let path = vendored_root()
            .join("models/json/beacon-v2-default-model/individuals/examples/pedigree-example.json");
        let example: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let validator = validator_for(&uri_for(
            "models/json/beacon-v2-default-model/common/pedigree.json",
        ));
        let errors = collect_errors(&validator, &example, "");
        assert!(errors.is_empty(), "{errors:#?}");
        let mut broken = example.clone();
        broken.as_object_mut().unwrap().remove("members");
        assert!(!collect_errors(&validator, &broken, "").is_empty());
    }

    #[test]
    fn long_messages_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn lowercase_first_only_touches_the_first_letter() {
        assert_eq!(lowercase_first("Resource 'X' missing"), "resource 'X' missing");
        assert_eq!(lowercase_first(""), "");
    }
}
