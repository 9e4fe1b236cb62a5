//! Filters end to end over HTTP: ontology terms with and without descendants (hierarchies from
//! the committed OBO subsets), the PFMG vocabulary in both spellings, age filters, unknown ids,
//! `/filtering_terms` (with small-count protection), `testMode` and the OpenAPI document.
//! Expected values are worked out by hand from tests/data/access.vcf + access.manifest.json
//! (P01–P10; P03 and P08 objected; HP:0001250 for P01 P02 P04 P06 P07 P09, HP:0001263 for the
//! others) and small.manifest.json (PFMG-01 for S1 and S3, S3 objected).
use phare_domain::{Granularity, Manifest};
use phare_schema::Schema;
use serde_json::{Value, json};

use crate::support::{Dataset, Node, NodeBuilder, Who, data};

/// The care space (exact counts).
const CARE: Who = Who::Care("CHU-LYON");

/// `access` (threshold 5) with ages added to its manifest, `small` and a synthetic `synth`.
fn filters_node() -> NodeBuilder {
    let mut access: Value =
        serde_json::from_str(&std::fs::read_to_string(data("access.manifest.json")).unwrap()).unwrap();
    for (index, entry) in access["samples"].as_array_mut().unwrap().iter_mut().enumerate() {
        // P01–P05 are ten, P06–P10 forty-five.
        entry["age"] = json!(if index < 5 { "P10Y" } else { "P45Y" });
    }
    let access = Manifest::from_json(&access.to_string()).expect("manifest with ages");
    let dataset = |id, file| Dataset::new(id, file).anonymous_max(Granularity::Count);
    let ontology = phare_ontology::Ontology::load(&[
        data("ontology/hp-subset.obo"),
        data("ontology/orpha-subset.obo"),
        data("ontology/ncit-sex.obo"),
    ])
    .expect("ontology subsets");
    Node::builder()
        .dataset(dataset("access", "access.vcf").with_manifest(access.clone()))
        .dataset(dataset("small", "small.vcf").manifest("small.manifest.json"))
        .dataset(dataset("synth", "access.vcf").with_manifest(access).synthetic())
        .ontology(ontology)
}

impl Node {
    /// `numTotalResults` of a care (exact) count of individuals of one dataset.
    async fn care_count(&self, dataset: &str, filters: Value) -> i64 {
        let (status, document) = self
            .post_status(
                CARE,
                "/individuals",
                &json!({"query": {"filters": filters, "requestedGranularity": "count", "datasetIds": [dataset]}}),
            )
            .await;
        assert_eq!(status, 200, "{filters}: {document:#}");
        document["responseSummary"]["numTotalResults"].as_i64().unwrap()
    }
}

#[tokio::test]
async fn ontology_filters_expand_descendants_unless_told_not_to() {
    let node = filters_node().spawn().await;
    assert_eq!(node.care_count("access", json!(["HP:0001250"])).await, 6);
    assert_eq!(node.care_count("access", json!(["HP:0001263"])).await, 4);
    // Abnormality of the nervous system: both terms descend from it, so every patient.
    assert_eq!(node.care_count("access", json!(["HP:0000707"])).await, 10);
    assert_eq!(
        node.care_count(
            "access",
            json!([{"id": "HP:0000707", "includeDescendantTerms": false}])
        )
        .await,
        0
    );
    // Neurodevelopmental delay: only global developmental delay below it.
    assert_eq!(node.care_count("access", json!(["HP:0012758"])).await, 4);
    // Two filters: both must hold (seizure and male: P02 P04 P06).
    assert_eq!(
        node.care_count("access", json!(["HP:0001250", "NCIT:C20197"]))
            .await,
        3
    );
    // Lower-case prefixes are the same term.
    assert_eq!(node.care_count("access", json!(["hp:0001250"])).await, 6);
}

/// Variants carried by the individuals the filters select: a cross-entity query.
#[tokio::test]
async fn filters_on_g_variants_select_variants_carried_by_matching_individuals() {
    let node = filters_node().spawn().await;
    let count = |query: &str| {
        let path = format!("/g_variants?{query}&requestedGranularity=count&datasetIds=access");
        let node = &node;
        async move {
            let (status, document) = node.status(CARE, &path).await;
            assert_eq!(status, 200, "{path}: {document:#}");
            document["responseSummary"]["numTotalResults"].as_i64().unwrap()
        }
    };
    // Global developmental delay (P03 P05 P08 P10) carry 1:100000 (P03, P08) and 1:300000
    // (P03, P05, P10); not the singleton 1:200000 (P01).
    assert_eq!(count("filters=HP:0001263").await, 2);
    assert_eq!(
        count("filters=HP:0001263&referenceName=1&start=0&end=1000000").await,
        2
    );
    assert_eq!(
        count("filters=HP:0001263&referenceName=1&start=199999&referenceBases=C&alternateBases=T").await,
        0
    );
    // Seizure (P01 P02 P04 P06 P07 P09): the singleton (P01) and 1:300000.
    assert_eq!(count("filters=HP:0001250").await, 2);
    assert_eq!(
        count("filters=HP:0001250&referenceName=1&start=199999&referenceBases=C&alternateBases=T").await,
        1
    );
    // Seizure and male (P02 P04 P06): 1:300000 only.
    assert_eq!(count("filters=HP:0001250,NCIT:C20197").await, 1);
    // Aged 45 (P06–P10): 1:100000 (P08) and 1:300000 (P06 P07 P09 P10).
    let (status, document) = node
        .post_status(
            CARE,
            "/g_variants",
            &json!({"query": {"filters": [{"id": "age", "operator": ">", "value": "P40Y"}],
                   "requestedGranularity": "record", "datasetIds": ["access"]}}),
        )
        .await;
    assert_eq!(status, 200, "{document:#}");
    assert_eq!(document["responseSummary"]["numTotalResults"], 2);
    let starts: Vec<i64> = document["response"]["resultSets"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["info"]["vcfStyle"]["start"].as_i64().unwrap())
        .collect();
    assert_eq!(starts, [99_999, 299_999]);
}

#[tokio::test]
async fn pre_indications_match_in_both_spellings() {
    let node = filters_node().spawn().await;
    assert_eq!(node.care_count("small", json!(["PFMG:01"])).await, 2);
    assert_eq!(node.care_count("small", json!(["PFMG-01"])).await, 2);
    assert_eq!(node.care_count("small", json!(["PFMG:05"])).await, 1);
}

#[tokio::test]
async fn age_filters_compare_iso_durations() {
    let node = filters_node().spawn().await;
    let age = |operator: &str, value: &str| json!([{"id": "age", "operator": operator, "value": value}]);
    assert_eq!(node.care_count("access", age(">", "P40Y")).await, 5);
    assert_eq!(node.care_count("access", age("<=", "P10Y")).await, 5);
    assert_eq!(node.care_count("access", age("=", "P45Y")).await, 5);
    assert_eq!(node.care_count("access", age("<", "P10Y")).await, 0);
    assert_eq!(node.care_count("access", age(">=", "P1Y")).await, 10);
    // small.vcf's patients have no recorded age: no age condition holds for them.
    assert_eq!(node.care_count("small", age(">=", "P0D")).await, 0);
    let (status, document) = node
        .post_status(
            CARE,
            "/individuals",
            &json!({"query": {"filters": age(">", "forty")}}),
        )
        .await;
    assert_eq!(status, 400, "{document:#}");
}

#[tokio::test]
async fn unknown_filters_are_refused_never_ignored() {
    let node = filters_node().spawn().await;
    for (filters, named) in [
        (json!(["HP:9999999"]), "HP:9999999"),
        (json!(["colour"]), "colour"),
        (
            json!([{"id": "height", "operator": ">", "value": "180"}]),
            "height",
        ),
        (json!([{"id": "HP:0001250", "scope": "biosample"}]), "HP:0001250"),
    ] {
        let (status, document) = node
            .post_status(CARE, "/individuals", &json!({"query": {"filters": filters}}))
            .await;
        assert_eq!(status, 400, "{filters}: {document:#}");
        let message = document["error"]["errorMessage"].as_str().unwrap();
        assert!(message.contains(named), "{message}");
    }
    // A term of the ontology nobody carries is known: zero, not an error.
    assert_eq!(node.care_count("access", json!(["HP:0001166"])).await, 0);
    // /g_variants reads filters like /individuals: unknown ids are refused there too.
    let (status, _) = node
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=1&start=299999&alternateBases=A&filters=HP:9999999",
        )
        .await;
    assert_eq!(status, 400);
    // Endpoints that take no filters refuse them.
    let (status, _) = node
        .status(Who::Anonymous, "/biosamples?filters=HP:0001250")
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn filtering_terms_list_what_can_be_asked_without_revealing_rare_terms() {
    let node = filters_node().spawn().await;
    let schemas = phare_schema::vendored_cached().expect("schemas");
    let (status, public) = node.status(Who::Anonymous, "/filtering_terms?limit=0").await;
    assert_eq!(status, 200, "{public:#}");
    if let Err(errors) = schemas.validate(Schema::FilteringTermsResponse, &public) {
        panic!("{errors:#?}\n{public:#}");
    }
    let ids = |document: &Value| -> Vec<String> {
        document["response"]["filteringTerms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|term| term["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let public_ids = ids(&public);
    // Seizure: P01 P02 P04 P06 P07 P09, all consenting (six ≥ 5): listed. Global developmental
    // delay: of P03 P05 P08 P10 only P05 and P10 consent (two) in `access` and `synth`, and S1
    // alone in `small` (one): never five in one dataset, so not listed to the public.
    assert!(public_ids.contains(&"HP:0001250".to_owned()), "{public_ids:?}");
    assert!(!public_ids.contains(&"HP:0001263".to_owned()), "{public_ids:?}");
    assert!(public_ids.contains(&"NCIT:C16576".to_owned()));
    assert!(public_ids.contains(&"PFMG:01".to_owned()));
    assert!(public_ids.contains(&"age".to_owned()));
    let seizure = public["response"]["filteringTerms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|term| term["id"] == "HP:0001250")
        .unwrap();
    assert_eq!(seizure["label"], "Seizure");
    // The care space sees every term.
    let (_, care) = node.status(CARE, "/filtering_terms?limit=0").await;
    assert!(ids(&care).contains(&"HP:0001263".to_owned()));
    // Entry types that take no filters list none; scoped forms answer.
    let (status, none) = node.status(Who::Anonymous, "/biosamples/filtering_terms").await;
    assert_eq!(status, 200);
    assert!(ids(&none).is_empty());
    let (status, _) = node
        .status(Who::Anonymous, "/datasets/access/filtering_terms")
        .await;
    assert_eq!(status, 200);
    let (status, _) = node
        .status(Who::Anonymous, "/datasets/nope/filtering_terms")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn test_mode_answers_from_synthetic_datasets_only() {
    let node = filters_node().spawn().await;
    let (_, everything) = node.status(Who::Anonymous, "/datasets").await;
    assert_eq!(everything["responseSummary"]["numTotalResults"], 3);
    let (_, synthetic) = node.status(Who::Anonymous, "/datasets?testMode=true").await;
    assert_eq!(synthetic["responseSummary"]["numTotalResults"], 1);
    assert_eq!(synthetic["response"]["collections"][0]["id"], "synth");
    assert_eq!(synthetic["meta"]["receivedRequestSummary"]["testMode"], true);
    let (status, document) = node
        .status(CARE, "/g_variants?referenceName=1&start=299999&referenceBases=G&alternateBases=A&requestedGranularity=record&testMode=true&includeResultsetResponses=ALL",
        )
        .await;
    assert_eq!(status, 200, "{document:#}");
    let sets: Vec<&str> = document["response"]["resultSets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|set| set["id"].as_str().unwrap())
        .collect();
    assert_eq!(sets, ["synth"]);
    let (status, _) = node
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=1&start=299999&alternateBases=A&testMode=true&datasetIds=access",
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_openapi_document_and_the_api_page_describe_every_endpoint() {
    let node = filters_node().spawn().await;
    let (status, openapi) = node.status(Who::Anonymous, "/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(openapi["openapi"], "3.1.0");
    let paths = openapi["paths"].as_object().unwrap();
    assert_eq!(paths.len(), phare_beacon::openapi::ENDPOINTS.len());
    let page = node
        .client
        .get(format!("{}/docs", node.api))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let text = page.text().await.unwrap();
    assert!(text.contains("/individuals/{id}/g_variants"));
    // Every path of the table is routed: no 404 "no such endpoint", no 405 (ids are unknown
    // here, so a 404 naming the entry is fine).
    for endpoint in phare_beacon::openapi::ENDPOINTS {
        let path = endpoint.path.replace("{id}", "access");
        let response = node
            .client
            .get(format!("{}{path}", node.api))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_ne!(status, 405, "{path}: {body}");
        assert!(!body.contains("no such endpoint"), "{path} is not routed: {body}");
    }
}
