//! Hand-written documents: minimal valid ones (so the negative cases cannot pass by
//! rejecting everything) and minimal invalid ones that must be caught with a useful path.

// Test helpers live outside #[test] fns, where clippy's test allowances do not reach.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use phare_schema::{BeaconSchemas, Schema, SchemaError, vendored_cached};
use serde_json::{Value, json};

fn schemas() -> &'static BeaconSchemas {
    vendored_cached().expect("vendored schemas load")
}

fn errors(schema: Schema, document: &Value) -> Vec<String> {
    match schemas().validate(schema, document) {
        Ok(()) => panic!("document should be rejected by {schema}: {document:#}"),
        Err(errors) => errors,
    }
}

fn assert_valid(schema: Schema, document: &Value) {
    if let Err(errors) = schemas().validate(schema, document) {
        panic!("document should validate against {schema}: {errors:#?}");
    }
}

fn assert_has(errors: &[String], needle: &str) {
    assert!(
        errors.iter().any(|e| e.contains(needle)),
        "no violation containing {needle:?} in {errors:#?}"
    );
}

fn meta(granularity: &str) -> Value {
    json!({
        "beaconId": "org.example.phare",
        "apiVersion": "v2.0.0",
        "returnedGranularity": granularity,
        "returnedSchemas": [{"entityType": "genomicVariation", "schema": "beacon-g_variant-v2.0.0"}],
        "receivedRequestSummary": {
            "apiVersion": "v2.0.0",
            "requestedSchemas": [],
            "pagination": {"skip": 0, "limit": 10},
            "requestedGranularity": granularity,
            "requestParameters": {"referenceName": {"value": "1"}},
        },
    })
}

fn count_response() -> Value {
    json!({"meta": meta("count"), "responseSummary": {"exists": true, "numTotalResults": 3}})
}

fn genomic_variation() -> Value {
    json!({
        "variantInternalId": "GRCh38-1-55505652-G-A",
        "variation": {
            "variantType": "SNP",
            "referenceBases": "G",
            "alternateBases": "A",
            "location": {
                "type": "SequenceLocation",
                "sequence_id": "refseq:NC_000001.11",
                "interval": {
                    "type": "SequenceInterval",
                    "start": {"type": "Number", "value": 55505651},
                    "end": {"type": "Number", "value": 55505652},
                },
            },
        },
    })
}

fn resultsets_response(records: Vec<Value>) -> Value {
    json!({
        "meta": meta("record"),
        "responseSummary": {"exists": !records.is_empty(), "numTotalResults": records.len()},
        "response": {"resultSets": [{
            "id": "dataset-1",
            "setType": "dataset",
            "exists": !records.is_empty(),
            "resultsCount": records.len(),
            "results": records,
        }]},
    })
}

#[test]
fn minimal_count_response_validates() {
    assert_valid(Schema::CountResponse, &count_response());
}

#[test]
fn count_response_with_string_total_is_rejected_at_its_path() {
    let mut doc = count_response();
    doc["responseSummary"]["numTotalResults"] = json!("3");
    let errors = errors(Schema::CountResponse, &doc);
    assert_has(
        &errors,
        "/responseSummary/numTotalResults: \"3\" is not of type \"integer\"",
    );
}

#[test]
fn count_response_requires_the_total() {
    let mut doc = count_response();
    doc["responseSummary"]
        .as_object_mut()
        .unwrap()
        .remove("numTotalResults");
    assert_has(
        &errors(Schema::CountResponse, &doc),
        "/responseSummary: \"numTotalResults\" is a required property",
    );
    // ... which a boolean response does not.
    assert_valid(
        Schema::BooleanResponse,
        &json!({"meta": meta("boolean"), "responseSummary": doc["responseSummary"]}),
    );
}

#[test]
fn response_meta_requires_returned_granularity_and_a_known_value() {
    let mut doc = count_response();
    doc["meta"]["returnedGranularity"] = json!("everything");
    assert_has(
        &errors(Schema::CountResponse, &doc),
        "/meta/returnedGranularity: ",
    );
    doc["meta"].as_object_mut().unwrap().remove("returnedGranularity");
    assert_has(
        &errors(Schema::CountResponse, &doc),
        "/meta: \"returnedGranularity\" is a required property",
    );
}

#[test]
fn request_parameters_echo_must_be_a_dictionary_of_objects() {
    // Surprising but normative: requestParameters.json is `additionalProperties: {type: object}`,
    // so echoing `"referenceName": "1"` as a bare string is invalid.
    let mut doc = count_response();
    doc["meta"]["receivedRequestSummary"]["requestParameters"] = json!({"referenceName": "1"});
    assert_has(
        &errors(Schema::CountResponse, &doc),
        "/meta/receivedRequestSummary/requestParameters/referenceName: \"1\" is not of type \"object\"",
    );
}

#[test]
fn boolean_response_needs_a_boolean_exists() {
    let doc = json!({"meta": meta("boolean"), "responseSummary": {"exists": "yes"}});
    assert_has(
        &errors(Schema::BooleanResponse, &doc),
        "/responseSummary/exists: \"yes\" is not of type \"boolean\"",
    );
    let doc = json!({"meta": meta("boolean")});
    assert_has(
        &errors(Schema::BooleanResponse, &doc),
        "/: \"responseSummary\" is a required property",
    );
}

#[test]
fn minimal_genomic_variation_validates() {
    assert_valid(Schema::GenomicVariation, &genomic_variation());
}

#[test]
fn genomic_variation_without_variation_is_rejected() {
    let mut doc = genomic_variation();
    doc.as_object_mut().unwrap().remove("variation");
    assert_has(
        &errors(Schema::GenomicVariation, &doc),
        "/: \"variation\" is a required property",
    );
}

#[test]
fn genomic_variation_with_bad_bases_explains_the_failing_branches() {
    let mut doc = genomic_variation();
    doc["variation"]["alternateBases"] = json!("X");
    let errors = errors(Schema::GenomicVariation, &doc);
    // `variation` is a oneOf (VRS molecular, VRS systemic, legacy); the branch details say why
    // the legacy branch rejected it.
    assert_has(&errors, "/variation: ");
    assert_has(&errors, "/variation/alternateBases: \"X\" does not match");
}

#[test]
fn resultsets_records_are_checked_against_the_entry_schema() {
    let mut bad = genomic_variation();
    bad.as_object_mut().unwrap().remove("variantInternalId");
    let doc = resultsets_response(vec![genomic_variation(), bad]);

    // The envelope alone accepts any object as a record...
    assert_valid(Schema::ResultsetsResponse, &doc);
    // ... the record pass catches it, with a path from the document root.
    let errors = schemas()
        .validate_resultsets(&doc, Schema::GenomicVariation)
        .unwrap_err();
    assert_eq!(
        errors,
        vec!["/response/resultSets/0/results/1: \"variantInternalId\" is a required property".to_owned()]
    );
    assert_eq!(
        schemas().validate_resultsets(
            &resultsets_response(vec![genomic_variation()]),
            Schema::GenomicVariation
        ),
        Ok(())
    );
}

#[test]
fn resultsets_envelope_errors_are_reported_with_record_errors() {
    let mut doc = resultsets_response(vec![json!({"variantInternalId": 7})]);
    doc["response"]["resultSets"][0]
        .as_object_mut()
        .unwrap()
        .remove("resultsCount");
    let errors = schemas()
        .validate_resultsets(&doc, Schema::GenomicVariation)
        .unwrap_err();
    assert_has(
        &errors,
        "/response/resultSets/0: \"resultsCount\" is a required property",
    );
    assert_has(
        &errors,
        "/response/resultSets/0/results/0: \"variation\" is a required property",
    );
    assert_has(
        &errors,
        "/response/resultSets/0/results/0/variantInternalId: 7 is not of type \"string\"",
    );
}

#[test]
fn resultsets_response_requires_response_and_results_count() {
    let mut doc = resultsets_response(vec![]);
    doc.as_object_mut().unwrap().remove("response");
    assert_has(
        &errors(Schema::ResultsetsResponse, &doc),
        "/: \"response\" is a required property",
    );
}

#[test]
fn entry_schemas_reject_wrong_info_through_the_substituted_common_info() {
    // individuals/defaultSchema.json refers to a non-existent `../common/info.json`; the
    // framework's Info placeholder (an object) stands in for it.
    let individual = json!({"id": "ind-1", "sex": {"id": "NCIT:C16576", "label": "female"}});
    assert_valid(Schema::Individual, &individual);
    let mut with_info = individual.clone();
    with_info["info"] = json!({"anything": true});
    assert_valid(Schema::Individual, &with_info);
    with_info["info"] = json!(5);
    assert_has(
        &errors(Schema::Individual, &with_info),
        "/info: 5 is not of type \"object\"",
    );
}

#[test]
fn service_info_minimal_and_invalid() {
    let service = json!({
        "id": "org.example.phare",
        "name": "Phare",
        "type": {"group": "org.ga4gh", "artifact": "beacon", "version": "v2.0.0"},
        "organization": {"name": "Example", "url": "https://example.org"},
        "version": "0.1.0",
    });
    assert_valid(Schema::ServiceInfo, &service);
    let mut broken = service.clone();
    broken["type"].as_object_mut().unwrap().remove("artifact");
    assert_has(
        &errors(Schema::ServiceInfo, &broken),
        "/type: \"artifact\" is a required property",
    );
}

#[test]
fn error_response_requires_an_integer_code() {
    let doc = json!({"meta": meta("boolean"), "error": {"errorCode": 400, "errorMessage": "bad start"}});
    assert_valid(Schema::ErrorResponse, &doc);
    let doc = json!({"meta": meta("boolean"), "error": {"errorCode": "400"}});
    assert_has(
        &errors(Schema::ErrorResponse, &doc),
        "/error/errorCode: \"400\" is not of type \"integer\"",
    );
}

#[test]
fn request_body_rejects_unknown_granularity() {
    let body = json!({"meta": {"apiVersion": "2.0"}, "query": {"requestedGranularity": "count"}});
    assert_valid(Schema::RequestBody, &body);
    let body = json!({"meta": {"apiVersion": "2.0"}, "query": {"requestedGranularity": "everything"}});
    assert_has(
        &errors(Schema::RequestBody, &body),
        "/query/requestedGranularity: ",
    );
}

#[test]
fn every_schema_rejects_a_non_object_document() {
    for schema in Schema::ALL {
        assert_has(&errors(schema, &json!(42)), "/: 42 is not of type \"object\"");
    }
}

#[test]
fn cached_instance_is_shared() {
    let first = vendored_cached().unwrap();
    let second = vendored_cached().unwrap();
    assert!(std::ptr::eq(first, second));
}

#[test]
fn load_from_a_missing_folder_reports_the_path() {
    let error = BeaconSchemas::load(std::path::Path::new("/nonexistent/beacon-v2")).unwrap_err();
    assert!(matches!(error, SchemaError::Io { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("cannot read /nonexistent/beacon-v2"),
        "{message}"
    );
}

#[test]
fn load_refuses_references_to_the_network() {
    // A spec folder whose only schema points at an arbitrary web URL: loading must fail with
    // the offline retriever's refusal instead of performing an HTTP request.
    let dir = tempfile::tempdir().unwrap();
    let schema_dir = dir.path().join("framework/json");
    std::fs::create_dir_all(&schema_dir).unwrap();
    std::fs::write(
        schema_dir.join("remote.json"),
        r#"{"$schema": "https://json-schema.org/draft/2020-12/schema",
            "properties": {"x": {"$ref": "http://schemas.example.com/remote.json"}}}"#,
    )
    .unwrap();
    let error = BeaconSchemas::load(dir.path()).unwrap_err();
    assert!(matches!(error, SchemaError::Registry(_)), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("refusing to retrieve http://schemas.example.com/remote.json"),
        "{message}"
    );
}

#[test]
fn load_of_an_incomplete_folder_names_the_missing_schema() {
    // A folder with valid but unrelated schemas loads its registry, then fails to compile
    // the first Beacon schema because that file is not there.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("framework/json")).unwrap();
    std::fs::write(dir.path().join("framework/json/empty.json"), "{}").unwrap();
    let message = BeaconSchemas::load(dir.path()).unwrap_err().to_string();
    assert!(
        message.starts_with("cannot compile framework/json/responses/beaconInfoResponse.json"),
        "{message}"
    );
}
