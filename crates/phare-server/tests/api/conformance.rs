//! Conformance (issue #4): every endpoint the node serves, at every granularity, for every tier
//! of caller, validated against the official Beacon v2 schemas with the offline resolver
//! (`phare_schema::vendored_cached()`, no network). The suite is driven by
//! `phare_beacon::openapi::ENDPOINTS`, the node's own list of paths, so an endpoint added there
//! is called here without editing this file: a query endpoint is validated by the entry type its
//! path returns, a collection by its collection type, filtering terms by
//! `beaconFilteringTermsResponse`. A framework path must be named in [`framework_schema`].
//!
//! Real PostgreSQL, the real server on a socket, tokens of the development issuer, real HTTP.
//! Expected values come from the fixtures (tests/data/README.md), never from the node's output:
//! `tests/data/access.vcf` holds ten patients P01–P10 (CHU-LYON: P01–P05, CHU-LILLE: P06–P10;
//! P03 and P08 objected to research use), and three alleles:
//!
//! | allele (0-based start) | carriers |
//! |---|---|
//! | 1:99999 A>G | P03 het, P08 hom (objectors only) |
//! | 1:199999 C>T | P01 het |
//! | 1:299999 G>A | P01–P07 het, P09 and P10 hom (P08 0/0) |
//!
//! Phenotypes (access.manifest.json): HP:0001250 for P01, P02, P04, P06, P07, P09.
//! `tests/data/small.vcf` (samples S1–S4) has no allele at 1:299999 and has 1:999 A>G (S1 het,
//! S2 hom, S4 het), which access.vcf has not.
//!
//! The `bug_*` tests at the end are regression tests of deviations this suite found (fixed).
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use phare_beacon::openapi::{ENDPOINTS, Endpoint, EndpointKind};
use phare_schema::Schema;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Answer, Body, Dataset, Node, NodeBuilder, Who, encoded, schemas};

/// A sequence query for 1:299999 G>A (in access.vcf, not in small.vcf), as GET pairs.
const COMMON_QUERY: &str = "referenceName=1&start=299999&referenceBases=G&alternateBases=A";
/// A sequence query for 1:999 A>G (in small.vcf, not in access.vcf).
const SMALL_ONLY_QUERY: &str = "referenceName=1&start=999&referenceBases=A&alternateBases=G";
/// The page every matrix request asks for, echoed back in `receivedRequestSummary.pagination`.
const PAGE_SKIP: u64 = 0;
const PAGE_LIMIT: u64 = 20;
const GRANULARITIES: [&str; 3] = ["boolean", "count", "record"];
const LYON: Who = Who::Care("CHU-LYON");
const LILLE: Who = Who::Care("CHU-LILLE");

fn spec_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/beacon-v2")
}

/// Dataset `rare`: access.vcf with its manifest.
fn rare() -> Dataset {
    Dataset::access("rare")
}

/// Dataset `small`: small.vcf with its manifest.
fn small() -> Dataset {
    Dataset::new("small", "small.vcf").manifest("small.manifest.json")
}

/// The default ceiling of the tier (docs/security.md) for datasets created with
/// `anonymous_max: boolean` and no policy row.
fn ceiling(who: Who) -> &'static str {
    match who {
        Who::Anonymous | Who::Forged => "boolean",
        Who::Registered => "count",
        Who::Controlled | Who::Granted(_) | Who::Care(_) => "record",
    }
}

fn rank(granularity: &str) -> u8 {
    match granularity {
        "boolean" => 1,
        "count" => 2,
        "record" => 3,
        other => panic!("not a granularity: {other:?}"),
    }
}

/// The lower of two granularities.
fn lower<'a>(a: &'a str, b: &'a str) -> &'a str {
    if rank(a) <= rank(b) { a } else { b }
}

/// A node with dataset `rare` (access.vcf) and cohort `epilepsy` (HP:0001250 in `rare`).
fn rare_node() -> NodeBuilder {
    Node::builder()
        .dataset(rare())
        .cohort("epilepsy", "Epilepsy", "rare", &["HP:0001250"])
}

/// The ids substituted for `{id}`: what each collection's `{id}` names.
#[derive(Clone, Debug)]
struct Ids {
    variant: String,
    individual: String,
    biosample: String,
    run: String,
    analysis: String,
    dataset: String,
    cohort: String,
}

impl Ids {
    /// Ids that name nothing (well-formed, so that the answer is a 404, not a 400).
    fn unknown(who: Who) -> Self {
        let (individual, biosample, run, analysis) = if who.is_care() {
            ("PAT-NOPE", "BS-NOPE", "run-999999-0", "analysis-999999-0")
        } else {
            (
                "ri-000000000000000000000000",
                "rb-000000000000000000000000",
                "rr-000000000000000000000000",
                "ra-000000000000000000000000",
            )
        };
        Self {
            // 1:12345 A>C is in no fixture.
            variant: "NC_000001.11:12344:A:C".into(),
            individual: individual.into(),
            biosample: biosample.into(),
            run: run.into(),
            analysis: analysis.into(),
            dataset: "nope".into(),
            cohort: "nope".into(),
        }
    }

    /// `path` with `{id}` replaced by the id of the collection named just before it.
    fn substitute(&self, path: &str) -> String {
        let segments: Vec<&str> = path.split('/').collect();
        let mut out = Vec::with_capacity(segments.len());
        for (index, segment) in segments.iter().enumerate() {
            if *segment != "{id}" {
                out.push((*segment).to_owned());
                continue;
            }
            let collection = index
                .checked_sub(1)
                .map(|before| segments[before])
                .unwrap_or_default();
            let id = match collection {
                "g_variants" => encoded(&self.variant),
                "individuals" => self.individual.clone(),
                "biosamples" => self.biosample.clone(),
                "runs" => self.run.clone(),
                "analyses" => self.analysis.clone(),
                "datasets" => self.dataset.clone(),
                "cohorts" => self.cohort.clone(),
                other => panic!("{path}: no id known for `{other}/{{id}}`: add one to Ids"),
            };
            out.push(id);
        }
        out.join("/")
    }
}

/// The records of a record answer: (result set id, record id).
fn records(document: &Value) -> Vec<(String, String)> {
    document["response"]["resultSets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .flat_map(|set| {
            let dataset = set["id"].as_str().unwrap_or_default().to_owned();
            set["results"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(move |record| {
                    let id = record
                        .get("id")
                        .or_else(|| record.get("variantInternalId"))
                        .and_then(Value::as_str)
                        .unwrap_or_else(|| panic!("record without id: {record:#}"))
                        .to_owned();
                    (dataset.clone(), id)
                })
        })
        .collect()
}

fn results(document: &Value) -> Vec<Value> {
    document["response"]["resultSets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .flat_map(|set| set["results"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Finds the ids of one tier from list calls. Care ids are those of P01 (CHU-LYON) and its
/// sample; research ids are the first consenting patient's, linked where the records say so.
async fn discover_ids(node: &Node, who: Who) -> Ids {
    let record = "requestedGranularity=record&limit=50";
    let variant_query = node
        .get_answer(LYON, &format!("/g_variants?{COMMON_QUERY}&{record}"))
        .await
        .ok();
    let variant = records(&variant_query)
        .first()
        .map(|(_, id)| id.clone())
        .unwrap_or_else(|| panic!("1:299999 G>A not found: {variant_query:#}"));
    let lister = if who.is_care() { LYON } else { Who::Controlled };
    let list = |path: &'static str| async move {
        let document = node.get_answer(lister, &format!("{path}?{record}")).await.ok();
        results(&document)
    };
    let (individuals, biosamples, runs, analyses) = (
        list("/individuals").await,
        list("/biosamples").await,
        list("/runs").await,
        list("/analyses").await,
    );
    let id = |record: &Value| record["id"].as_str().expect("id").to_owned();
    let individual = if who.is_care() {
        let wanted = "PAT-P01";
        assert!(
            individuals.iter().any(|record| record["id"] == wanted),
            "{wanted} not among Lyon's individuals: {individuals:#?}"
        );
        wanted.to_owned()
    } else {
        let mut all: Vec<String> = individuals.iter().map(id).collect();
        all.sort_unstable();
        all.first().cloned().expect("a research individual")
    };
    let biosample = biosamples
        .iter()
        .find(|record| record["individualId"] == individual.as_str())
        .or_else(|| biosamples.first())
        .map(id)
        .expect("a biosample");
    if who.is_care() {
        assert_eq!(biosample, "BS-P01");
    }
    let run = runs
        .iter()
        .find(|record| record["biosampleId"] == biosample.as_str())
        .or_else(|| runs.first())
        .map(id)
        .expect("a run");
    let analysis = analyses
        .iter()
        .find(|record| record["runId"] == run.as_str())
        .or_else(|| analyses.first())
        .map(id)
        .expect("an analysis");
    Ids {
        variant,
        individual,
        biosample,
        run,
        analysis,
        dataset: "rare".into(),
        cohort: "epilepsy".into(),
    }
}

/// The entry type a query path returns: its last segment that is not `{id}`.
fn returned_entry(path: &str) -> (Schema, &'static str) {
    let last = path
        .split('/')
        .rev()
        .find(|segment| *segment != "{id}" && !segment.is_empty())
        .unwrap_or_default();
    match last {
        "g_variants" => (Schema::GenomicVariation, "genomicVariation"),
        "individuals" => (Schema::Individual, "individual"),
        "biosamples" => (Schema::Biosample, "biosample"),
        "runs" => (Schema::Run, "run"),
        "analyses" => (Schema::Analysis, "analysis"),
        other => panic!("{path}: no entry schema known for `{other}`"),
    }
}

/// The collection type of a collection path: its first segment.
fn collection_entry(path: &str) -> (Schema, &'static str) {
    match path.split('/').nth(1).unwrap_or_default() {
        "datasets" => (Schema::Dataset, "dataset"),
        "cohorts" => (Schema::Cohort, "cohort"),
        other => panic!("{path}: no collection schema known for `{other}`"),
    }
}

/// The schema of a framework document; `None` for `/openapi.json` and `/docs`, checked apart.
fn framework_schema(path: &str) -> Option<Schema> {
    match path {
        "" | "/info" => Some(Schema::InfoResponse),
        "/service-info" => Some(Schema::ServiceInfo),
        "/map" => Some(Schema::MapResponse),
        "/configuration" => Some(Schema::ConfigurationResponse),
        "/entry_types" => Some(Schema::EntryTypesResponse),
        "/openapi.json" | "/docs" | "/federation" => None,
        other => panic!("framework endpoint {other}: name the schema of its answer in framework_schema"),
    }
}

/// What the care space (CHU-LYON, ids of P01) counts, exactly, from the fixture. An endpoint
/// missing here is still validated, only its count is not compared.
fn care_count(path: &str) -> Option<i64> {
    Some(match path {
        // 1:299999 G>A, once.
        // A node without partners answers the federated route with its own part alone.
        "/g_variants" | "/federated/g_variants" | "/g_variants/{id}" => 1,
        // Its nine carriers: everyone but P08 (0/0); care counts objectors.
        "/g_variants/{id}/biosamples" | "/g_variants/{id}/individuals" => 9,
        // Ten patients, one sample each, one file.
        "/individuals" | "/biosamples" | "/runs" | "/analyses" => 10,
        "/datasets/{id}/individuals" | "/datasets/{id}/biosamples" => 10,
        "/individuals/{id}" | "/biosamples/{id}" | "/runs/{id}" | "/analyses/{id}" => 1,
        "/individuals/{id}/biosamples" | "/biosamples/{id}/runs" => 1,
        "/biosamples/{id}/analyses" | "/runs/{id}/analyses" => 1,
        // P01 carries 1:199999 C>T and 1:299999 G>A.
        "/individuals/{id}/g_variants"
        | "/biosamples/{id}/g_variants"
        | "/runs/{id}/g_variants"
        | "/analyses/{id}/g_variants" => 2,
        // The three alleles of access.vcf.
        "/datasets/{id}/g_variants" => 3,
        // HP:0001250: P01, P02, P04, P06, P07, P09.
        "/cohorts/{id}/individuals" => 6,
        _ => return None,
    })
}

fn assert_valid(schema: Schema, document: &Value, request: &str) {
    if let Err(errors) = schemas().validate(schema, document) {
        panic!("{request}: not a valid {schema:?}: {errors:#?}\n{document:#}");
    }
}

/// The checks every query answer passes: status, granularity, echo, schemas, counts.
fn check_query_answer(answer: &Answer, endpoint: &Endpoint, who: Who, requested: &str) {
    let request = answer.request.as_str();
    let document = answer.ok();
    let meta = &document["meta"];
    let returned = meta["returnedGranularity"]
        .as_str()
        .unwrap_or_else(|| panic!("{request}: no returnedGranularity: {document:#}"));
    assert!(
        rank(returned) <= rank(requested),
        "{request}: {returned} > {requested}"
    );
    assert_eq!(
        returned,
        lower(requested, ceiling(who)),
        "{request}: the tier's ceiling is {}",
        ceiling(who)
    );
    let summary = &meta["receivedRequestSummary"];
    assert_eq!(
        summary["requestedGranularity"], requested,
        "{request}: {document:#}"
    );
    assert_eq!(
        summary["pagination"],
        json!({ "skip": PAGE_SKIP, "limit": PAGE_LIMIT }),
        "{request}: pagination echo"
    );
    let (entry_schema, entity_type) = returned_entry(endpoint.path);
    let returned_schemas = meta["returnedSchemas"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert!(!returned_schemas.is_empty(), "{request}: no returnedSchemas");
    assert_eq!(returned_schemas[0]["entityType"], entity_type, "{request}");
    let validated = match returned {
        "boolean" => schemas().validate(Schema::BooleanResponse, &document),
        "count" => schemas().validate(Schema::CountResponse, &document),
        _ => schemas().validate_resultsets(&document, entry_schema),
    };
    if let Err(errors) = validated {
        panic!("{request}: {returned} answer invalid: {errors:#?}\n{document:#}");
    }
    // Every id and query of the matrix names something that exists in every tier's scope.
    assert_eq!(
        document["responseSummary"]["exists"], true,
        "{request}: {document:#}"
    );
    if returned != "boolean"
        && who.is_care()
        && let Some(expected) = care_count(endpoint.path)
    {
        assert_eq!(
            document["responseSummary"]["numTotalResults"], expected,
            "{request}: {document:#}"
        );
    }
    if returned == "record" {
        let sets = document["response"]["resultSets"]
            .as_array()
            .unwrap_or_else(|| panic!("{request}: no result sets"));
        assert!(!sets.is_empty(), "{request}: a hit gives a result set (HIT)");
        for set in sets {
            let shown = set["results"].as_array().map_or(0, Vec::len);
            assert!(
                shown as u64 <= PAGE_LIMIT,
                "{request}: {shown} records on a page of {PAGE_LIMIT}"
            );
        }
    }
}

/// The genomic queries, local or federated, which need a genomic part.
fn is_variant_query(path: &str) -> bool {
    path == "/g_variants" || path == "/federated/g_variants"
}

/// `/federation`: the registry, without secrets (this test node has no partners).
fn check_registry(answer: &Answer) {
    let document = answer.ok();
    assert_eq!(document["partners"], json!([]), "{}", answer.request);
}

fn query_get(endpoint: &Endpoint, ids: &Ids, granularity: &str) -> String {
    let genomic = if is_variant_query(endpoint.path) {
        format!("{COMMON_QUERY}&")
    } else {
        String::new()
    };
    format!(
        "{}?{genomic}requestedGranularity={granularity}&skip={PAGE_SKIP}&limit={PAGE_LIMIT}",
        ids.substitute(endpoint.path)
    )
}

fn query_body(endpoint: &Endpoint, granularity: &str) -> Value {
    let mut query = json!({
        "requestedGranularity": granularity,
        "pagination": { "skip": PAGE_SKIP, "limit": PAGE_LIMIT },
    });
    if is_variant_query(endpoint.path) {
        // The framework's requestParameters name the entry type's own parameters.
        query["requestParameters"] = json!({ "g_variant": {
            "referenceName": "1", "start": [299999], "referenceBases": "G", "alternateBases": "A"
        } });
    }
    let body = json!({ "meta": { "apiVersion": "v2.0" }, "query": query });
    // The request itself must be a valid beaconRequestBody, or the test proves nothing.
    assert_valid(Schema::RequestBody, &body, "the test's own request body");
    body
}

fn collection_body() -> Value {
    let body = json!({
        "meta": { "apiVersion": "v2.0" },
        "query": { "pagination": { "skip": PAGE_SKIP, "limit": PAGE_LIMIT } },
    });
    assert_valid(Schema::RequestBody, &body, "the test's own request body");
    body
}

fn check_collection_answer(answer: &Answer, endpoint: &Endpoint, who: Who) {
    let request = answer.request.as_str();
    let document = answer.ok();
    assert_valid(Schema::CollectionsResponse, &document, request);
    let (entry_schema, entity_type) = collection_entry(endpoint.path);
    let meta = &document["meta"];
    let returned_schemas = meta["returnedSchemas"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert!(!returned_schemas.is_empty(), "{request}: no returnedSchemas");
    assert_eq!(returned_schemas[0]["entityType"], entity_type, "{request}");
    assert_eq!(meta["returnedGranularity"], "record", "{request}");
    let collections = document["response"]["collections"]
        .as_array()
        .unwrap_or_else(|| panic!("{request}: no collections: {document:#}"));
    for collection in collections {
        assert_valid(entry_schema, collection, request);
    }
    // The fixture: one dataset `rare`, one cohort `epilepsy`, visible to every tier.
    let listed: Vec<&str> = collections.iter().filter_map(|c| c["id"].as_str()).collect();
    let expected = if entity_type == "dataset" {
        "rare"
    } else {
        "epilepsy"
    };
    assert_eq!(listed, [expected], "{request}");
    assert_eq!(document["responseSummary"]["numTotalResults"], 1, "{request}");
    if entity_type == "cohort" {
        // Care counts exactly the six patients with HP:0001250; research rounds (6 → 5).
        let size = &collections[0]["cohortSize"];
        match who {
            Who::Care(_) => assert_eq!(*size, 6, "{request}"),
            Who::Registered | Who::Controlled | Who::Granted(_) => {
                assert_eq!(*size, 5, "{request}")
            }
            Who::Anonymous | Who::Forged => {
                assert!(size.is_null(), "{request}: a size for a boolean tier");
            }
        }
    }
}

fn check_openapi(answer: &Answer) {
    let request = answer.request.as_str();
    let document = answer.ok();
    let version = document["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1."), "{request}: openapi {version:?}");
    let paths = document["paths"]
        .as_object()
        .unwrap_or_else(|| panic!("{request}: no paths"));
    for endpoint in ENDPOINTS {
        let path = if endpoint.path.is_empty() {
            "/"
        } else {
            endpoint.path
        };
        let described = paths.keys().any(|key| {
            key.ends_with(path) || (path == "/" && (key == "/" || key == "/api" || key == "/api/"))
        });
        assert!(described, "{request}: {path} is not described");
    }
    // Every official schema it refers to exists in the vendored spec.
    let mut references = Vec::new();
    collect_refs(&document, &mut references);
    let prefix = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/";
    for reference in references
        .iter()
        .filter(|reference| reference.starts_with(prefix))
    {
        let file = reference[prefix.len()..].split('#').next().unwrap_or_default();
        assert!(
            spec_root().join(file).is_file(),
            "{request}: {reference} names no file of the specification"
        );
    }
}

fn collect_refs(document: &Value, found: &mut Vec<String>) {
    match document {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref"
                    && let Some(reference) = value.as_str()
                {
                    found.push(reference.to_owned());
                }
                collect_refs(value, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, found)),
        _ => {}
    }
}

fn check_docs(answer: &Answer) {
    assert_eq!(answer.status, 200, "{}: {}", answer.request, answer.text);
    assert!(
        answer.content_type.starts_with("text/html"),
        "{}: content type {}",
        answer.request,
        answer.content_type
    );
    assert!(
        answer.text.to_lowercase().contains("<html"),
        "{}: not an HTML page",
        answer.request
    );
}

/// Calls every endpoint of `ENDPOINTS` as `who`: GET, and POST where served, at every
/// granularity for queries, and checks each answer.
async fn run_matrix(who: Who) {
    let node = rare_node().spawn().await;
    let ids = discover_ids(&node, who).await;
    let mut answers = 0usize;
    for endpoint in ENDPOINTS {
        let path = ids.substitute(endpoint.path);
        match endpoint.kind {
            EndpointKind::Framework => {
                let answer = node.get_answer(who, &path).await;
                match endpoint.path {
                    "/openapi.json" => check_openapi(&answer),
                    "/docs" => check_docs(&answer),
                    "/federation" => check_registry(&answer),
                    _ => {
                        let schema = framework_schema(endpoint.path).expect("schema");
                        assert_valid(schema, &answer.ok(), &answer.request);
                    }
                }
                answers += 1;
            }
            EndpointKind::FilteringTerms => {
                let mut got = vec![node.get_answer(who, &path).await];
                if endpoint.post {
                    got.push(node.post_answer(who, &path, &collection_body()).await);
                }
                for answer in got {
                    assert_valid(Schema::FilteringTermsResponse, &answer.ok(), &answer.request);
                    answers += 1;
                }
            }
            EndpointKind::Collection => {
                let get = node
                    .get_answer(who, &format!("{path}?skip={PAGE_SKIP}&limit={PAGE_LIMIT}"))
                    .await;
                check_collection_answer(&get, endpoint, who);
                let post = node.post_answer(who, &path, &collection_body()).await;
                check_collection_answer(&post, endpoint, who);
                answers += 2;
                // Listings echo the page asked for.
                if !endpoint.path.contains("{id}") {
                    for answer in [&get, &post] {
                        assert_eq!(
                            answer.json()["meta"]["receivedRequestSummary"]["pagination"],
                            json!({ "skip": PAGE_SKIP, "limit": PAGE_LIMIT }),
                            "{}",
                            answer.request
                        );
                    }
                }
            }
            EndpointKind::Query => {
                for granularity in GRANULARITIES {
                    let get = node
                        .get_answer(who, &query_get(endpoint, &ids, granularity))
                        .await;
                    check_query_answer(&get, endpoint, who, granularity);
                    answers += 1;
                    if endpoint.post {
                        let post = node
                            .post_answer(who, &path, &query_body(endpoint, granularity))
                            .await;
                        check_query_answer(&post, endpoint, who, granularity);
                        answers += 1;
                    }
                }
            }
        }
    }
    println!(
        "{who:?}: {answers} answers validated over {} endpoints",
        ENDPOINTS.len()
    );
}

#[tokio::test]
async fn every_endpoint_conforms_for_anonymous_callers() {
    run_matrix(Who::Anonymous).await;
}

#[tokio::test]
async fn every_endpoint_conforms_for_registered_researchers() {
    run_matrix(Who::Registered).await;
}

#[tokio::test]
async fn every_endpoint_conforms_for_controlled_access_researchers() {
    run_matrix(Who::Controlled).await;
}

#[tokio::test]
async fn every_endpoint_conforms_for_clinicians() {
    run_matrix(LYON).await;
}

/// `errorCode` equals the status and the document is a `beaconErrorResponse`.
fn check_error(answer: &Answer, status: u16) {
    let request = answer.request.as_str();
    assert_eq!(answer.status, status, "{request}: {}", answer.text);
    let document = answer.json();
    assert_valid(Schema::ErrorResponse, &document, request);
    assert_eq!(document["error"]["errorCode"], status, "{request}");
    assert!(
        document["error"]["errorMessage"]
            .as_str()
            .is_some_and(|message| !message.is_empty()),
        "{request}: no message"
    );
    if status == 405 {
        assert!(answer.allow.is_some(), "{request}: a 405 without Allow");
    }
}

#[tokio::test]
async fn every_endpoint_answers_errors_in_the_beacon_envelope() {
    let node = rare_node().spawn().await;
    let mut checked = 0usize;
    for who in [LYON, Who::Controlled] {
        let ids = discover_ids(&node, who).await;
        let unknown = Ids::unknown(who);
        for endpoint in ENDPOINTS {
            let path = ids.substitute(endpoint.path);
            // A method the endpoint does not take.
            check_error(&node.call(who, Method::PUT, &path, Body::None).await, 405);
            checked += 1;
            if endpoint.post {
                if endpoint.kind == EndpointKind::Query {
                    // One bad parameter.
                    let bad = node
                        .get_answer(who, &format!("{path}?requestedGranularity=everything"))
                        .await;
                    check_error(&bad, 400);
                    checked += 1;
                }
                if endpoint.kind == EndpointKind::Collection && !endpoint.path.contains("{id}") {
                    // A page larger than the node serves (`limit` is at most 1000).
                    check_error(&node.get_answer(who, &format!("{path}?limit=5000")).await, 400);
                    checked += 1;
                }
                // Malformed JSON, and a body that is not declared as JSON.
                let malformed = node
                    .call(
                        who,
                        Method::POST,
                        &path,
                        Body::Raw("application/json", "{\"query\": {\"requestedGranularity\": "),
                    )
                    .await;
                check_error(&malformed, 400);
                let wrong_type = node
                    .call(
                        who,
                        Method::POST,
                        &path,
                        Body::Raw("text/plain", "{\"query\": {}}"),
                    )
                    .await;
                check_error(&wrong_type, 415);
                checked += 2;
            } else {
                check_error(&node.post_answer(who, &path, &json!({})).await, 405);
                checked += 1;
            }
            // An id that names nothing.
            if endpoint.path.contains("{id}") {
                let missing = unknown.substitute(endpoint.path);
                check_error(&node.get_answer(who, &missing).await, 404);
                checked += 1;
                if endpoint.post {
                    let posted = if endpoint.kind == EndpointKind::Query {
                        query_body(endpoint, "record")
                    } else {
                        collection_body()
                    };
                    check_error(&node.post_answer(who, &missing, &posted).await, 404);
                    checked += 1;
                }
            }
            // Credentials that do not verify.
            if who == LYON {
                check_error(&node.get_answer(Who::Forged, &path).await, 401);
                checked += 1;
            }
        }
    }
    // An unknown path is the same envelope.
    check_error(&node.get_answer(Who::Anonymous, "/no_such_endpoint").await, 404);
    println!("{} error answers validated", checked + 1);
}

/// The records of `/individuals` pages of `limit`, skip 0..pages, as `who`: ids per page and
/// `numTotalResults` of each.
async fn individual_pages(node: &Node, who: Who, limit: u64, pages: u64) -> Vec<(Vec<String>, i64)> {
    let mut found = Vec::new();
    for skip in 0..pages {
        let answer = node
            .get_answer(
                who,
                &format!("/individuals?requestedGranularity=record&limit={limit}&skip={skip}"),
            )
            .await;
        let document = answer.ok();
        if let Err(errors) = schemas().validate_resultsets(&document, Schema::Individual) {
            panic!("{}: {errors:#?}", answer.request);
        }
        assert_eq!(
            document["meta"]["receivedRequestSummary"]["pagination"],
            json!({ "skip": skip, "limit": limit }),
            "{}",
            answer.request
        );
        let ids = records(&document).into_iter().map(|(_, id)| id).collect();
        let total = document["responseSummary"]["numTotalResults"]
            .as_i64()
            .expect("count");
        found.push((ids, total));
    }
    found
}

fn names(prefix: &str, numbers: std::ops::RangeInclusive<u32>) -> BTreeSet<String> {
    numbers.map(|number| format!("{prefix}{number:02}")).collect()
}

#[tokio::test]
async fn pagination_pages_never_repeat_and_keep_the_count() {
    let node = rare_node().spawn().await;
    // Care: ten patients counted, records of the clinician's own centre only (five each).
    for (who, own) in [(LYON, names("PAT-P", 1..=5)), (LILLE, names("PAT-P", 6..=10))] {
        let pages = individual_pages(&node, who, 3, 5).await;
        let sizes: Vec<usize> = pages.iter().map(|(ids, _)| ids.len()).collect();
        assert_eq!(sizes, [3, 2, 0, 0, 0], "{who:?}");
        assert!(pages.iter().all(|(_, total)| *total == 10), "{who:?}");
        let all: Vec<String> = pages.into_iter().flat_map(|(ids, _)| ids).collect();
        let distinct: BTreeSet<String> = all.iter().cloned().collect();
        assert_eq!(
            distinct.len(),
            all.len(),
            "{who:?}: a record on two pages: {all:?}"
        );
        assert_eq!(distinct, own, "{who:?}");
    }
    // Research: the eight patients who did not object, counted rounded down to 5.
    let pages = individual_pages(&node, Who::Controlled, 3, 5).await;
    let sizes: Vec<usize> = pages.iter().map(|(ids, _)| ids.len()).collect();
    assert_eq!(sizes, [3, 3, 2, 0, 0]);
    assert!(pages.iter().all(|(_, total)| *total == 5));
    let all: Vec<String> = pages.into_iter().flat_map(|(ids, _)| ids).collect();
    let distinct: BTreeSet<&String> = all.iter().collect();
    assert_eq!(distinct.len(), 8, "{all:?}");
    // `limit=0` is the maximum page, echoed as 1000.
    for (who, shown, total) in [(LYON, 5, 10), (Who::Controlled, 8, 5)] {
        let answer = node
            .get_answer(who, "/individuals?requestedGranularity=record&limit=0")
            .await;
        let document = answer.ok();
        assert_eq!(
            document["meta"]["receivedRequestSummary"]["pagination"],
            json!({ "skip": 0, "limit": 1000 }),
            "{}",
            answer.request
        );
        assert_eq!(records(&document).len(), shown, "{}", answer.request);
        assert_eq!(document["responseSummary"]["numTotalResults"], total);
        // Beyond the end: an empty page, the same count.
        let beyond = node
            .get_answer(who, "/individuals?requestedGranularity=record&limit=10&skip=7")
            .await
            .ok();
        assert!(records(&beyond).is_empty(), "{beyond:#}");
        assert_eq!(beyond["responseSummary"]["numTotalResults"], total);
        assert_eq!(beyond["response"]["resultSets"][0]["resultsCount"], total);
        // No pagination: the default page.
        let default = node
            .get_answer(who, "/individuals?requestedGranularity=record")
            .await
            .ok();
        assert_eq!(
            default["meta"]["receivedRequestSummary"]["pagination"],
            json!({ "skip": 0, "limit": 10 })
        );
    }
    // POST pages as GET does.
    let posted = node.post_answer(
            LYON,
            "/individuals",
            &json!({"meta": {"apiVersion": "v2.0"}, "query": {"requestedGranularity": "record", "pagination": {"skip": 1, "limit": 3}}}),
        )
        .await
        .ok();
    let got = node
        .get_answer(LYON, "/individuals?requestedGranularity=record&skip=1&limit=3")
        .await
        .ok();
    assert_eq!(posted["response"], got["response"]);
    assert_eq!(
        posted["meta"]["receivedRequestSummary"]["pagination"],
        json!({ "skip": 1, "limit": 3 })
    );
    // The variants of the dataset: the three alleles of access.vcf over pages of 2.
    let mut variants = Vec::new();
    for (skip, expected) in [(0, 2), (1, 1), (2, 0)] {
        let page = node
            .get_answer(
                LYON,
                &format!("/datasets/rare/g_variants?requestedGranularity=record&limit=2&skip={skip}"),
            )
            .await
            .ok();
        if let Err(errors) = schemas().validate_resultsets(&page, Schema::GenomicVariation) {
            panic!("page {skip}: {errors:#?}");
        }
        assert_eq!(page["responseSummary"]["numTotalResults"], 3);
        let ids: Vec<String> = records(&page).into_iter().map(|(_, id)| id).collect();
        assert_eq!(ids.len(), expected, "page {skip}: {ids:?}");
        variants.extend(ids);
    }
    let distinct: BTreeSet<&String> = variants.iter().collect();
    assert_eq!(distinct.len(), 3, "{variants:?}");
}

/// `(result set id, exists, resultsCount)` of a record answer, in order.
fn result_sets(document: &Value) -> Vec<(String, bool, i64)> {
    document["response"]["resultSets"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|set| {
            (
                set["id"].as_str().expect("id").to_owned(),
                set["exists"].as_bool().expect("exists"),
                set["resultsCount"].as_i64().expect("resultsCount"),
            )
        })
        .collect()
}

#[tokio::test]
async fn include_resultset_responses_picks_datasets_with_and_without_hits() {
    let node = Node::builder().dataset(rare()).dataset(small()).spawn().await;
    let variant_id = encoded("NC_000001.11:299999:G:A");
    for who in [LYON, Who::Controlled] {
        // 1:299999 G>A is in `rare` only, 1:999 A>G in `small` only.
        for (query, hit, miss) in [
            (COMMON_QUERY.to_owned(), "rare", "small"),
            (SMALL_ONLY_QUERY.to_owned(), "small", "rare"),
        ] {
            for (include, expected) in [
                (Some("HIT"), vec![hit]),
                (None, vec![hit]),
                (Some("MISS"), vec![miss]),
                (Some("ALL"), vec!["rare", "small"]),
                (Some("NONE"), vec![]),
            ] {
                let parameter = include.map_or(String::new(), |value| {
                    format!("&includeResultsetResponses={value}")
                });
                let answer = node
                    .get_answer(
                        who,
                        &format!("/g_variants?{query}&requestedGranularity=record{parameter}"),
                    )
                    .await;
                let document = answer.ok();
                let request = answer.request.as_str();
                if let Err(errors) = schemas().validate_resultsets(&document, Schema::GenomicVariation) {
                    panic!("{request}: {errors:#?}\n{document:#}");
                }
                assert_eq!(document["meta"]["returnedGranularity"], "record", "{request}");
                assert_eq!(
                    document["meta"]["receivedRequestSummary"]["includeResultsetResponses"],
                    include.unwrap_or("HIT"),
                    "{request}"
                );
                assert_eq!(document["responseSummary"]["exists"], true, "{request}");
                let mut sets = result_sets(&document);
                sets.sort();
                let names: Vec<&str> = sets.iter().map(|(id, ..)| id.as_str()).collect();
                assert_eq!(names, expected, "{request}");
                for (id, exists, count) in &sets {
                    assert_eq!(*exists, id == hit, "{request}: {id}");
                    if id != hit {
                        assert_eq!(*count, 0, "{request}: {id}");
                    }
                }
                let hit_records = records(&document)
                    .into_iter()
                    .filter(|(set, _)| set == hit)
                    .count();
                let shown = usize::from(expected.contains(&hit));
                assert_eq!(hit_records, shown, "{request}");
            }
        }
        // POST and the look-up by id answer the same way.
        let posted = node.post_answer(
                who,
                "/g_variants",
                &json!({"meta": {"apiVersion": "v2.0"}, "query": {
                    "requestParameters": {"g_variant": {"referenceName": "1", "start": [299999], "referenceBases": "G", "alternateBases": "A"}},
                    "requestedGranularity": "record", "includeResultsetResponses": "MISS"}}),
            )
            .await
            .ok();
        let sets: Vec<String> = result_sets(&posted).into_iter().map(|(id, ..)| id).collect();
        assert_eq!(sets, ["small"], "{who:?} POST MISS");
        for (include, expected) in [
            ("HIT", vec!["rare"]),
            ("MISS", vec!["small"]),
            ("ALL", vec!["rare", "small"]),
        ] {
            let document = node.get_answer(
                    who,
                    &format!("/g_variants/{variant_id}?requestedGranularity=record&includeResultsetResponses={include}"),
                )
                .await
                .ok();
            if let Err(errors) = schemas().validate_resultsets(&document, Schema::GenomicVariation) {
                panic!("{who:?} /g_variants/{{id}} {include}: {errors:#?}");
            }
            let mut sets: Vec<String> = result_sets(&document).into_iter().map(|(id, ..)| id).collect();
            sets.sort();
            assert_eq!(sets, expected, "{who:?} /g_variants/{{id}} {include}");
        }
    }
}

/// A node with `rare` (access.vcf) and `small` (small.vcf) marked synthetic: what
/// `testMode=true` answers from.
fn test_mode_node() -> NodeBuilder {
    Node::builder().dataset(rare()).dataset(small().synthetic())
}

#[tokio::test]
async fn test_mode_is_echoed_and_reads_synthetic_datasets_only() {
    let node = test_mode_node().spawn().await;
    // 1:999 A>G is in `small` (synthetic) only; with ALL, only `small` is searched at all.
    let answer = node.get_answer(
            LYON,
            &format!("/g_variants?{SMALL_ONLY_QUERY}&requestedGranularity=record&includeResultsetResponses=ALL&testMode=true"),
        )
        .await;
    let document = answer.ok();
    if let Err(errors) = schemas().validate_resultsets(&document, Schema::GenomicVariation) {
        panic!("{}: {errors:#?}", answer.request);
    }
    assert_eq!(document["meta"]["receivedRequestSummary"]["testMode"], true);
    let sets: Vec<String> = result_sets(&document).into_iter().map(|(id, ..)| id).collect();
    assert_eq!(sets, ["small"], "{document:#}");
    // 1:299999 G>A is in `rare` only: not found in test mode.
    let common = node
        .get_answer(LYON, &format!("/g_variants?{COMMON_QUERY}&testMode=true"))
        .await
        .ok();
    assert_eq!(common["responseSummary"]["exists"], false, "{common:#}");
    assert_valid(Schema::BooleanResponse, &common, "test mode boolean");
    // small.vcf has four patients, S1–S4: care counts them all.
    let posted = node.post_answer(
            LYON,
            "/individuals",
            &json!({"meta": {"apiVersion": "v2.0"}, "query": {"requestedGranularity": "count", "testMode": true}}),
        )
        .await
        .ok();
    assert_valid(Schema::CountResponse, &posted, "POST /individuals testMode");
    assert_eq!(posted["meta"]["receivedRequestSummary"]["testMode"], true);
    assert_eq!(posted["responseSummary"]["numTotalResults"], 4, "{posted:#}");
    let datasets = node.get_answer(LYON, "/datasets?testMode=true").await.ok();
    assert_valid(Schema::CollectionsResponse, &datasets, "GET /datasets testMode");
    assert_eq!(datasets["response"]["collections"][0]["id"], "small");
    assert_eq!(datasets["responseSummary"]["numTotalResults"], 1);
}

// ---------------------------------------------------------------------------------------------
// Deviations from the specification this suite found, kept as regression tests. Each test
// states what the specification (or the node's own documentation) asks.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bug_response_meta_says_test_mode_when_the_request_was_in_test_mode() {
    let node = test_mode_node().spawn().await;
    for path in [
        format!("/g_variants?{SMALL_ONLY_QUERY}&requestedGranularity=record&testMode=true"),
        "/individuals?requestedGranularity=count&testMode=true".to_owned(),
        "/datasets?testMode=true".to_owned(),
    ] {
        let answer = node.get_answer(LYON, &path).await;
        let document = answer.ok();
        assert_eq!(document["meta"]["receivedRequestSummary"]["testMode"], true);
        // beaconResponseMeta.testMode (TestMode): "Used for indicating that a request or
        // response is done in a test context".
        assert_eq!(
            document["meta"]["testMode"], true,
            "{}: {document:#}",
            answer.request
        );
    }
}

#[tokio::test]
async fn bug_one_dataset_reads_its_request_like_one_cohort_does() {
    let node = rare_node().spawn().await;
    // /cohorts/{id} refuses an unknown parameter, as docs/api.md says collections do.
    let cohort = node.get_answer(LYON, "/cohorts/epilepsy?colour=red").await;
    check_error(&cohort, 400);
    let dataset = node.get_answer(LYON, "/datasets/rare?colour=red").await;
    check_error(&dataset, 400);
    // receivedRequestSummary echoes the request: /cohorts/{id} echoes limit 20, /datasets/{id}
    // echoes the default 10.
    let page = json!({ "skip": 0, "limit": 20 });
    let cohort = node
        .get_answer(LYON, "/cohorts/epilepsy?skip=0&limit=20")
        .await
        .ok();
    assert_eq!(cohort["meta"]["receivedRequestSummary"]["pagination"], page);
    let got = node.get_answer(LYON, "/datasets/rare?skip=0&limit=20").await.ok();
    assert_eq!(
        got["meta"]["receivedRequestSummary"]["pagination"], page,
        "GET: {got:#}"
    );
    let posted = node
        .post_answer(LYON, "/datasets/rare", &collection_body())
        .await
        .ok();
    assert_eq!(
        posted["meta"]["receivedRequestSummary"]["pagination"], page,
        "POST: {posted:#}"
    );
}

#[tokio::test]
async fn bug_collections_accept_every_schema_valid_request() {
    let node = rare_node().spawn().await;
    let body = json!({
        "meta": { "apiVersion": "v2.0" },
        "query": {
            "requestedGranularity": "record",
            "includeResultsetResponses": "HIT",
            "pagination": { "skip": 0, "limit": 5 },
        },
    });
    assert_valid(Schema::RequestBody, &body, "the test's own request body");
    for path in ["/datasets", "/cohorts"] {
        let answer = node.post_answer(LYON, path, &body).await;
        assert_valid(Schema::CollectionsResponse, &answer.ok(), &answer.request);
    }
    // models/json/beacon-v2-default-model/{datasets,individuals}/endpoints.json list
    // `requestedSchema` among the GET parameters; asking for the schema the node returns.
    for path in [
        "/datasets?requestedSchema=beacon-dataset-v2.0.0",
        "/individuals?requestedSchema=beacon-individual-v2.0.0&requestedGranularity=count",
    ] {
        node.get_answer(LYON, path).await.ok();
    }
}

#[tokio::test]
async fn bug_filtering_terms_read_their_query_string() {
    let node = rare_node().spawn().await;
    let everything = node.get_answer(LYON, "/filtering_terms").await.ok();
    let all = everything["response"]["filteringTerms"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(all > 2, "{everything:#}");
    let page = node
        .get_answer(LYON, "/filtering_terms?skip=0&limit=2")
        .await
        .ok();
    let shown = page["response"]["filteringTerms"].as_array().map_or(0, Vec::len);
    assert_eq!(shown, 2, "limit=2 gave {shown} of {all} terms");
    check_error(&node.get_answer(LYON, "/filtering_terms?colour=red").await, 400);
}
