//! Every full-document example shipped with the spec is validated against its schema. The
//! spec's own examples are a corpus written by its authors, so they are the best available
//! evidence that references resolve and that the validator judges like the spec intends;
//! the known-bad ones must keep failing for exactly the documented reasons, which also proves
//! the validator is really checking.

// Test helpers live outside #[test] fns, where clippy's test allowances do not reach.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use phare_schema::{BeaconSchemas, Schema, vendored_cached};
use serde_json::Value;

fn spec_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/beacon-v2")
}

fn schemas() -> &'static BeaconSchemas {
    vendored_cached().expect("vendored schemas load")
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Spec v2.1.1 examples that do not satisfy their own schema, with substrings that must
/// appear among the reported violations. Each was cross-checked with an independent
/// validator (python-jsonschema 4.26 + referencing) and found to be a defect of the example.
const KNOWN_BAD: &[(&str, &[&str])] = &[
    // Written for v2.0: meta lacks returnedGranularity, the request summary lacks
    // requestedGranularity.
    (
        "beaconBooleanResponse-example.json",
        &["/meta: \"returnedGranularity\" is a required property"],
    ),
    (
        "beaconCountResponse-example.json",
        &[
            "/meta: \"returnedGranularity\" is a required property",
            "/meta/receivedRequestSummary: \"requestedGranularity\" is a required property",
        ],
    ),
    (
        "beaconCollectionsResponse-MIN-example.json",
        &["/meta: \"returnedGranularity\" is a required property"],
    ),
    (
        "beaconCollectionsResponse-MID-example.json",
        &["/meta: \"returnedGranularity\" is a required property"],
    ),
    (
        "beaconErrorResponse_example.json",
        &[
            "/meta: \"returnedGranularity\" is a required property",
            // requestParameters must be an object (a dictionary), the example sends an array.
            "/meta/receivedRequestSummary/requestParameters: ",
        ],
    ),
    // Puts resultSets at the top level instead of under `response`.
    (
        "beaconResultsetResponse-MIN-example.json",
        &[
            "/: \"response\" is a required property",
            "/meta: \"returnedGranularity\" is a required property",
        ],
    ),
    // variantAlternativeIds must be externalReference objects, the example has strings.
    (
        "genomicVariant-MID-example.json",
        &["/identifiers/variantAlternativeIds/0: \"dbSNP:rs3975092470\" is not of type \"object\""],
    ),
    // ageOfOnset / observationMoment wrapped in {"ageGroup": …} / {"age": …}; "units" for "unit".
    (
        "individual-MID-example.json",
        &[
            "/diseases/0/ageOfOnset: ",
            "/measures/0/measurementValue: ",
            "/measures/0/observationMoment: ",
        ],
    ),
    (
        "individual-with-pedigree-MID-example.json",
        &["/diseases/0/ageOfOnset: "],
    ),
];

/// Examples that are not documents of any public [`Schema`] (covered by a unit test).
const NOT_AN_ENTRY_DOCUMENT: &[&str] = &["pedigree-example.json"];

fn schema_for_example(name: &str) -> Option<Schema> {
    const PREFIXES: &[(&str, Schema)] = &[
        ("beaconBooleanResponse", Schema::BooleanResponse),
        ("beaconCollectionsResponse", Schema::CollectionsResponse),
        ("beaconConfigurationResponse", Schema::ConfigurationResponse),
        ("beaconCountResponse", Schema::CountResponse),
        ("beaconEntryTypesResponse", Schema::EntryTypesResponse),
        ("beaconErrorResponse", Schema::ErrorResponse),
        ("beaconFilteringTermsResponse", Schema::FilteringTermsResponse),
        ("beaconInfo-", Schema::InfoResponse),
        ("beaconMapResponse", Schema::MapResponse),
        ("beaconResultsetResponse", Schema::ResultsetsResponse),
        ("beaconRequestBody", Schema::RequestBody),
        ("analyses-", Schema::Analysis),
        ("biosample-", Schema::Biosample),
        ("cohorts-", Schema::Cohort),
        ("dataset-", Schema::Dataset),
        ("genomicVariant-", Schema::GenomicVariation),
        ("individual-", Schema::Individual),
        ("runs-", Schema::Run),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, schema)| *schema)
}

/// All example files the brief covers: framework full documents and every model's examples.
fn example_files() -> Vec<PathBuf> {
    let root = spec_root();
    let mut dirs = vec![
        root.join("framework/json/responses/examples-fullDocuments"),
        root.join("framework/json/requests/examples-fullDocuments"),
    ];
    for entry in std::fs::read_dir(root.join("models/json/beacon-v2-default-model")).unwrap() {
        let examples = entry.unwrap().path().join("examples");
        if examples.is_dir() {
            dirs.push(examples);
        }
    }
    let mut files = Vec::new();
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_spec_example_is_judged_as_documented() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for path in example_files() {
        let name = path.file_name().unwrap().to_str().unwrap();
        if NOT_AN_ENTRY_DOCUMENT.contains(&name) {
            continue;
        }
        let Some(schema) = schema_for_example(name) else {
            problems.push(format!("{name}: no schema mapped for this example"));
            continue;
        };
        checked += 1;
        let outcome = schemas().validate(schema, &read(&path));
        match (KNOWN_BAD.iter().find(|(bad, _)| *bad == name), outcome) {
            (None, Ok(())) => {}
            (None, Err(errors)) => {
                problems.push(format!("{name} should validate against {schema}: {errors:#?}"))
            }
            (Some(_), Ok(())) => problems.push(format!(
                "{name} is listed as known-bad but now validates: update KNOWN_BAD"
            )),
            (Some((_, expected)), Err(errors)) => {
                for needle in *expected {
                    if !errors.iter().any(|e| e.contains(needle)) {
                        problems.push(format!(
                            "{name}: expected a violation containing {needle:?}, got {errors:#?}"
                        ));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // 14 framework documents + 17 model examples; guards against a silently empty walk.
    assert_eq!(checked, 31, "number of examples checked");
}

#[test]
fn every_known_bad_example_exists() {
    let names: Vec<String> = example_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    for (bad, _) in KNOWN_BAD {
        assert!(
            names.iter().any(|n| n == bad),
            "{bad} is not in the spec any more"
        );
    }
}

#[test]
fn boolean_example_fails_only_for_missing_granularities() {
    let path = spec_root()
        .join("framework/json/responses/examples-fullDocuments/beaconBooleanResponse-example.json");
    let mut example = read(&path);
    let errors = schemas().validate(Schema::BooleanResponse, &example).unwrap_err();
    assert!(
        errors.iter().any(|e| e.contains("returnedGranularity")),
        "{errors:#?}"
    );

    // Adding the two granularities the v2.1 schema requires makes it valid, so nothing else is
    // wrong with it (and nothing else is wrong with our reference resolution).
    example["meta"]["returnedGranularity"] = "boolean".into();
    example["meta"]["receivedRequestSummary"]["requestedGranularity"] = "boolean".into();
    assert_eq!(schemas().validate(Schema::BooleanResponse, &example), Ok(()));
}

#[test]
fn every_schema_has_a_readable_spec_file() {
    for schema in Schema::ALL {
        let path = spec_root().join(schema.relative_path());
        assert!(path.is_file(), "{schema}: {} missing", path.display());
    }
}
