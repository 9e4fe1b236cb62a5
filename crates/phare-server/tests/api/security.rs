//! Access control end to end: real PostgreSQL, the real server on a socket, real tokens signed
//! by the development issuer (ES256), real HTTP. The fixture `tests/data/access.vcf` has ten
//! patients of two care centres, two of whom objected (P03, P08); expected values are worked out
//! by hand in `tests/data/README.md` and cross-checked with bcftools below.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use phare_access::dev::{DevIssuer, TokenSpec};
use phare_access::pseudonyms::KeyedDigest;
use phare_access::{AccessConfig, Authenticator, BONA_FIDE_VALUE, ResearchPurpose};
use phare_beacon::BeaconIdentity;
use phare_domain::{Assembly, Granularity, Manifest};
use phare_schema::{BeaconSchemas, Schema};
use phare_server::{AccessState, AppState, QueryBudget};
use phare_store::{AuditDecision, DatasetSettings, IngestOutcome, IngestRequest, NewDataset, Store};
use serde_json::{Value, json};

const RESEARCH_AUDIENCE: &str = "phare";
const CARE_AUDIENCE: &str = "phare-care";
const COMMON: &str = "referenceName=1&start=299999&referenceBases=G&alternateBases=A";
const SINGLETON: &str = "referenceName=1&start=199999&referenceBases=C&alternateBases=T";
const OBJECTORS_ONLY: &str = "referenceName=1&start=99999&referenceBases=A&alternateBases=G";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

fn schemas() -> &'static BeaconSchemas {
    phare_schema::vendored_cached().expect("beacon schemas load")
}

struct Node {
    api: String,
    client: reqwest::Client,
    store: Store,
    dev: DevIssuer,
    _keys: tempfile::TempDir,
}

struct DatasetSpec {
    id: &'static str,
    min_count: u32,
    data_use: Option<Value>,
}

async fn spawn_node(datasets: &[DatasetSpec], budget: QueryBudget) -> Node {
    let database = phare_store::testing::fresh_database().await;
    let manifest =
        Manifest::from_json(&std::fs::read_to_string(data("access.manifest.json")).expect("manifest"))
            .expect("valid manifest");
    for spec in datasets {
        database
            .store
            .create_dataset_with(
                &NewDataset {
                    id: spec.id.into(),
                    name: spec.id.into(),
                    assembly: Assembly::Grch38,
                    anonymous_max: Granularity::Boolean,
                },
                &DatasetSettings {
                    min_count: spec.min_count,
                    data_use: spec.data_use.clone(),
                },
            )
            .await
            .expect("create dataset");
        let outcome = database
            .store
            .ingest(IngestRequest {
                dataset_id: spec.id.into(),
                path: data("access.vcf"),
                manifest: Some(manifest.clone()),
                pass_only: true,
                progress: None,
                limits: Default::default(),
                reference_fasta: None,
            })
            .await
            .expect("ingest");
        assert!(matches!(outcome, IngestOutcome::Ingested(_)));
    }
    let keys = tempfile::tempdir().expect("tempdir");
    let dev = DevIssuer::load_or_create(keys.path()).expect("dev issuer");
    let (issuer, visa_issuer) = dev.access_config();
    let authenticator = Authenticator::new(AccessConfig {
        issuers: vec![issuer],
        visa_issuers: vec![visa_issuer],
        ..AccessConfig::default()
    })
    .expect("authenticator");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let root = format!("http://{}", listener.local_addr().expect("address"));
    let identity = BeaconIdentity {
        id: "org.example.phare.security".into(),
        name: "Phare security test".into(),
        description: "test node".into(),
        organization_id: "org.example".into(),
        organization_name: "Example".into(),
        organization_url: "https://www.example.org".into(),
        environment: "test".into(),
        base_url: format!("{root}/api"),
        software_version: "0.0.0".into(),
    };
    let state = AppState::new(database.store.clone(), identity).with_access(AccessState {
        authenticator,
        keys: KeyedDigest::new(b"security test research secret"),
        budget,
        public_min_allele_number: 40,
    });
    tokio::spawn(phare_server::serve(listener, state, std::future::pending()));
    Node {
        api: format!("{root}/api"),
        client: reqwest::Client::new(),
        store: database.store,
        dev,
        _keys: keys,
    }
}

fn no_budget() -> QueryBudget {
    QueryBudget {
        queries: 0,
        window: Duration::from_secs(60),
    }
}

fn rare() -> DatasetSpec {
    DatasetSpec {
        id: "rare",
        min_count: 5,
        data_use: None,
    }
}

/// A tier of caller, as tokens of the development issuer make them.
#[derive(Clone, Copy, Debug)]
enum Who {
    Anonymous,
    Registered,
    Controlled(&'static str),
    Care(&'static str),
}

impl Node {
    fn token(&self, who: Who) -> Option<String> {
        let spec = match who {
            Who::Anonymous => return None,
            Who::Registered => TokenSpec {
                bona_fide: true,
                ..TokenSpec::new("researcher-1", RESEARCH_AUDIENCE)
            },
            Who::Controlled(dataset) => TokenSpec {
                bona_fide: true,
                grants: vec![format!("{}/datasets/{dataset}", self.api)],
                ..TokenSpec::new("researcher-2", RESEARCH_AUDIENCE)
            },
            Who::Care(centre) => TokenSpec {
                roles: vec!["clinician".into()],
                care_centre: Some(centre.into()),
                ..TokenSpec::new(&format!("dr-{centre}"), CARE_AUDIENCE)
            },
        };
        Some(self.dev.access_token(&spec).expect("mint"))
    }

    async fn get_as(
        &self,
        token: Option<&str>,
        path_and_query: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self.client.get(format!("{}{path_and_query}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("get");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.expect("json body");
        (status, headers, body)
    }

    async fn get(&self, who: Who, path_and_query: &str) -> Value {
        let token = self.token(who);
        let (status, _, document) = self.get_as(token.as_deref(), path_and_query).await;
        assert_eq!(status, 200, "{who:?} {path_and_query}: {document:#}");
        document
    }
}

fn returned_granularity(document: &Value) -> &str {
    document["meta"]["returnedGranularity"]
        .as_str()
        .expect("returnedGranularity")
}

/// Every count-like number of a response: summary, result sets, frequencies.
fn counts(document: &Value, found: &mut Vec<(String, i64)>) {
    match document {
        Value::Object(map) => {
            for (key, value) in map {
                let is_count = matches!(
                    key.as_str(),
                    "numTotalResults"
                        | "resultsCount"
                        | "alleleCount"
                        | "alleleNumber"
                        | "alleleCountHomozygous"
                        | "alleleCountHeterozygous"
                        | "alleleCountHemizygous"
                );
                if is_count && let Some(number) = value.as_i64() {
                    found.push((key.clone(), number));
                }
                counts(value, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| counts(item, found)),
        _ => {}
    }
}

fn total_frequency(document: &Value, dataset: &str) -> Option<(i64, i64)> {
    let set = document["response"]["resultSets"]
        .as_array()?
        .iter()
        .find(|set| set["id"] == dataset)?;
    let result = set["results"].as_array()?.first()?;
    let total = result["frequencyInPopulations"][0]["frequencies"]
        .as_array()?
        .iter()
        .find(|frequency| frequency["population"] == "Total")?;
    Some((total["alleleCount"].as_i64()?, total["alleleNumber"].as_i64()?))
}

/// AC and AN of the variant at 1:300000 over the given samples, from bcftools.
fn bcftools_ac_an(exclude: &str) -> (i64, i64) {
    let script = format!(
        "bcftools view -s '^{exclude}' '{}' | bcftools +fill-tags - -- -t AC,AN | bcftools query -i 'POS=300000' -f '%AC\\t%AN\\n'",
        data("access.vcf").display()
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("bcftools runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf-8");
    let fields: Vec<i64> = text
        .trim()
        .split('\t')
        .map(|field| field.parse().expect("number"))
        .collect();
    (fields[0], fields[1])
}

#[tokio::test]
async fn every_token_of_the_bad_token_corpus_is_refused_with_401_and_audited() {
    let node = spawn_node(&[rare()], no_budget()).await;
    let corpus = phare_access::testing::bad_tokens(&node.dev, RESEARCH_AUDIENCE);
    assert!(corpus.len() >= 15, "corpus too small: {}", corpus.len());
    for (name, token) in &corpus {
        for path in [format!("/g_variants?{COMMON}"), "/info".to_owned()] {
            let (status, headers, document) = node.get_as(Some(token), &path).await;
            assert_eq!(status, 401, "{name} on {path} was not refused: {document:#}");
            assert_eq!(document["error"]["errorCode"], 401, "{name}");
            assert!(
                headers
                    .get("www-authenticate")
                    .is_some_and(|value| value.to_str().unwrap_or("").starts_with("Bearer")),
                "{name}: no WWW-Authenticate"
            );
            if let Err(errors) = schemas().validate(Schema::ErrorResponse, &document) {
                panic!("{name}: error envelope invalid: {errors:#?}");
            }
            let text = document.to_string();
            if let Some(signature) = token.rsplit('.').next().filter(|part| part.len() > 8) {
                assert!(!text.contains(signature), "{name}: the answer repeats the token");
            }
        }
    }
    let rows = node.store.audit_rows(1000).await.expect("audit rows");
    let refusals = rows
        .iter()
        .filter(|row| row.status == 401 && row.decision == AuditDecision::Deny)
        .count();
    assert_eq!(refusals, corpus.len() * 2, "one audit row per refusal");
    for row in &rows {
        for (name, token) in &corpus {
            if let Some(signature) = token.rsplit('.').next().filter(|part| part.len() > 8) {
                let text = format!("{} {} {}", row.resource, row.reason, row.subject);
                assert!(
                    !text.contains(signature),
                    "audit row {} holds token {name}",
                    row.id
                );
            }
        }
    }
    // Forged, conditional and untrusted visas are dropped: the caller is authenticated but
    // earns no grant (public tier: boolean only).
    for token in [
        phare_access::testing::forged_visa_token(&node.dev, RESEARCH_AUDIENCE),
        phare_access::testing::visa_with_conditions_token(&node.dev, RESEARCH_AUDIENCE),
        phare_access::testing::untrusted_jku_visa_token(&node.dev, RESEARCH_AUDIENCE),
    ] {
        let (status, _, document) = node
            .get_as(
                Some(&token),
                &format!("/g_variants?{COMMON}&requestedGranularity=record"),
            )
            .await;
        assert_eq!(status, 200, "{document:#}");
        assert_eq!(returned_granularity(&document), "boolean");
    }
}

#[tokio::test]
async fn each_tier_gets_exactly_its_granularity() {
    let node = spawn_node(&[rare()], no_budget()).await;
    for (who, expected) in [
        (Who::Anonymous, "boolean"),
        (Who::Registered, "count"),
        (Who::Controlled("rare"), "record"),
        (Who::Controlled("another-dataset"), "count"),
        (Who::Care("CHU-LYON"), "record"),
    ] {
        for path in [
            format!("/g_variants?{COMMON}&requestedGranularity=record"),
            "/individuals?requestedGranularity=record".to_owned(),
        ] {
            let document = node.get(who, &path).await;
            assert_eq!(returned_granularity(&document), expected, "{who:?} {path}");
            let schema = match expected {
                "boolean" => Schema::BooleanResponse,
                "count" => Schema::CountResponse,
                _ => Schema::ResultsetsResponse,
            };
            if let Err(errors) = schemas().validate(schema, &document) {
                panic!("{who:?} {path}: {errors:#?}\n{document:#}");
            }
        }
        // Asking for less is answered at what was asked.
        let document = node
            .get(who, &format!("/g_variants?{COMMON}&requestedGranularity=boolean"))
            .await;
        assert_eq!(returned_granularity(&document), "boolean");
    }
    // The operator lowers the controlled tier for individuals only.
    node.store
        .set_policy(
            "rare",
            &phare_store::PolicyRow {
                tier: "controlled".into(),
                entry_type: "individual".into(),
                max_granularity: Granularity::Count,
                id_lookups: true,
                unfiltered_queries: true,
            },
        )
        .await
        .expect("policy");
    let individuals = node
        .get(
            Who::Controlled("rare"),
            "/individuals?requestedGranularity=record",
        )
        .await;
    assert_eq!(returned_granularity(&individuals), "count");
    let variants = node
        .get(
            Who::Controlled("rare"),
            &format!("/g_variants?{COMMON}&requestedGranularity=record"),
        )
        .await;
    assert_eq!(returned_granularity(&variants), "record");
}

#[tokio::test]
async fn care_pseudonyms_never_appear_in_research_answers() {
    let node = spawn_node(&[rare()], no_budget()).await;
    let research = node
        .get(
            Who::Controlled("rare"),
            "/individuals?requestedGranularity=record&limit=50",
        )
        .await;
    let text = research.to_string();
    assert!(!text.contains("PAT-"), "a care pseudonym leaked: {research:#}");
    assert!(!text.contains("BS-P"), "a biosample id leaked: {research:#}");
    assert!(!text.contains("CHU-"), "a care centre leaked: {research:#}");
    let ids: Vec<&str> = research["response"]["resultSets"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|record| record["id"].as_str().expect("id"))
        .collect();
    // Eight patients did not object (P03 and P08 did).
    assert_eq!(ids.len(), 8, "{research:#}");
    assert!(ids.iter().all(|id| id.starts_with("ri-")), "{ids:?}");
    // A research identifier looks the patient up again, and only in research answers.
    let one = node
        .get(
            Who::Controlled("rare"),
            &format!("/individuals/{}?requestedGranularity=record", ids[0]),
        )
        .await;
    assert_eq!(one["response"]["resultSets"][0]["results"][0]["id"], ids[0]);
    assert!(!one.to_string().contains("PAT-"));
    // A care pseudonym names nobody in a research answer: the same 404 as an unknown id.
    let token = node.token(Who::Controlled("rare"));
    let (status, _, by_pseudonym) = node
        .get_as(
            token.as_deref(),
            "/individuals/PAT-P01?requestedGranularity=record",
        )
        .await;
    assert_eq!(status, 404, "{by_pseudonym:#}");
    assert!(
        !by_pseudonym.to_string().contains("PAT-P01"),
        "the 404 repeats the pseudonym"
    );

    // Care: pseudonyms, own centre only at record level, every patient counted.
    let lyon = node
        .get(
            Who::Care("CHU-LYON"),
            "/individuals?requestedGranularity=record&limit=50",
        )
        .await;
    let mut pseudonyms: Vec<&str> = lyon["response"]["resultSets"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|record| record["id"].as_str().expect("id"))
        .collect();
    pseudonyms.sort_unstable();
    assert_eq!(
        pseudonyms,
        ["PAT-P01", "PAT-P02", "PAT-P03", "PAT-P04", "PAT-P05"]
    );
    assert_eq!(lyon["responseSummary"]["numTotalResults"], 10);
    assert!(lyon["responseSummary"].get("countPrecision").is_none());
    // The research answer names nobody the care answer names.
    for pseudonym in &pseudonyms {
        assert!(!text.contains(pseudonym));
    }
}

#[tokio::test]
async fn objecting_patients_never_count_in_research_or_open_answers() {
    let open = DatasetSpec {
        id: "open",
        min_count: 0,
        data_use: None,
    };
    let node = spawn_node(&[rare(), open], no_budget()).await;
    // The allele only P03 and P08 carry: invisible outside care.
    for who in [
        Who::Anonymous,
        Who::Registered,
        Who::Controlled("rare"),
        Who::Controlled("open"),
    ] {
        let document = node
            .get(
                who,
                &format!("/g_variants?{OBJECTORS_ONLY}&requestedGranularity=record"),
            )
            .await;
        assert_eq!(
            document["responseSummary"]["exists"], false,
            "{who:?}: {document:#}"
        );
    }
    let care = node
        .get(
            Who::Care("CHU-LILLE"),
            &format!("/g_variants?{OBJECTORS_ONLY}&requestedGranularity=count"),
        )
        .await;
    assert_eq!(care["responseSummary"]["exists"], true);
    // Frequencies: research without P03 and P08, care with everyone (bcftools on the same file).
    let research = node
        .get(
            Who::Controlled("open"),
            &format!("/g_variants?{COMMON}&requestedGranularity=record&datasetIds=open"),
        )
        .await;
    assert_eq!(
        total_frequency(&research, "open"),
        Some(bcftools_ac_an("P03,P08"))
    );
    assert_eq!(total_frequency(&research, "open"), Some((10, 16)));
    let care = node
        .get(
            Who::Care("CHU-LYON"),
            &format!("/g_variants?{COMMON}&requestedGranularity=record&datasetIds=open"),
        )
        .await;
    assert_eq!(total_frequency(&care, "open"), Some((11, 20)));
    // Individuals: 8 in research, 10 in care.
    let research_count = node
        .get(
            Who::Controlled("open"),
            "/individuals?requestedGranularity=count&datasetIds=open",
        )
        .await;
    assert_eq!(research_count["responseSummary"]["numTotalResults"], 8);
    let care_count = node
        .get(
            Who::Care("CHU-LYON"),
            "/individuals?requestedGranularity=count&datasetIds=open",
        )
        .await;
    assert_eq!(care_count["responseSummary"]["numTotalResults"], 10);
}

#[tokio::test]
async fn counts_below_five_never_leave_the_node_in_research_or_open_answers() {
    let node = spawn_node(&[rare()], no_budget()).await;
    let queries = [
        format!("/g_variants?{SINGLETON}&requestedGranularity=record"),
        format!("/g_variants?{COMMON}&requestedGranularity=record"),
        "/g_variants?referenceName=1&start=0&end=1000000&requestedGranularity=record".to_owned(),
        "/individuals?requestedGranularity=record".to_owned(),
        "/individuals?requestedGranularity=count&filters=HP:0001250".to_owned(),
        "/individuals?requestedGranularity=count&filters=HP:0001263".to_owned(),
        "/individuals?requestedGranularity=count&filters=NCIT:C16576".to_owned(),
        "/individuals?requestedGranularity=count&filters=NCIT:C20197".to_owned(),
        "/individuals?requestedGranularity=count&filters=HP:0001250,NCIT:C20197".to_owned(),
    ];
    let mut seen_rounding = false;
    for who in [Who::Anonymous, Who::Registered, Who::Controlled("rare")] {
        for query in &queries {
            let document = node.get(who, query).await;
            let mut found = Vec::new();
            counts(&document, &mut found);
            for (field, value) in found {
                assert!(
                    value == 0 || value % 5 == 0,
                    "{who:?} {query}: {field} = {value} discloses a small count: {document:#}"
                );
            }
            if document["responseSummary"]["countPrecision"] == "rounded" {
                seen_rounding = true;
                assert!(document["responseSummary"]["countAdjustedTo"].is_array());
            }
        }
    }
    assert!(seen_rounding, "no answer was marked as rounded");
    // The singleton (P01 only) is reported as 5 with its interval, never as 1.
    let singleton = node
        .get(
            Who::Controlled("rare"),
            &format!("/g_variants?{SINGLETON}&requestedGranularity=record"),
        )
        .await;
    assert_eq!(
        total_frequency(&singleton, "rare").map(|(count, _)| count),
        Some(5)
    );
    // HP:0001263 and not objecting: P05 and P10, two patients: floored to 5.
    let two = node
        .get(
            Who::Registered,
            "/individuals?requestedGranularity=count&filters=HP:0001263",
        )
        .await;
    assert_eq!(two["responseSummary"]["numTotalResults"], 5);
    assert_eq!(two["responseSummary"]["countAdjustedTo"], json!(["1-9"]));
    // Care answers are exact.
    let care = node
        .get(
            Who::Care("CHU-LYON"),
            "/individuals?requestedGranularity=count&filters=HP:0001263",
        )
        .await;
    assert_eq!(care["responseSummary"]["numTotalResults"], 4);
}

#[tokio::test]
async fn an_exhausted_budget_answers_429_with_retry_after() {
    let budget = QueryBudget {
        queries: 3,
        window: Duration::from_secs(60),
    };
    let node = spawn_node(&[rare()], budget).await;
    for _ in 0..3 {
        node.get(Who::Anonymous, &format!("/g_variants?{COMMON}")).await;
    }
    let (status, headers, document) = node.get_as(None, &format!("/g_variants?{COMMON}")).await;
    assert_eq!(status, 429, "{document:#}");
    assert_eq!(document["error"]["errorCode"], 429);
    let retry_after: u64 = headers
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // A researcher's budget is their own.
    node.get(Who::Registered, &format!("/g_variants?{COMMON}")).await;
    let rows = node.store.audit_rows(100).await.expect("audit");
    assert!(
        rows.iter()
            .any(|row| row.status == 429 && row.decision == AuditDecision::Deny)
    );
}

#[tokio::test]
async fn data_use_conditions_open_datasets_only_to_compatible_purposes() {
    let disease_specific = DatasetSpec {
        id: "cardio",
        min_count: 5,
        data_use: Some(json!({"permission": "DUO:0000007", "disease": "MONDO:0004994", "modifiers": []})),
    };
    let node = spawn_node(&[rare(), disease_specific], no_budget()).await;
    let purpose = |codes: &[&str], disease: Option<&str>| {
        node.dev
            .access_token(&TokenSpec {
                bona_fide: true,
                purpose: Some(ResearchPurpose {
                    codes: codes.iter().map(|code| (*code).to_owned()).collect(),
                    disease: disease.map(str::to_owned),
                }),
                ..TokenSpec::new("researcher-3", RESEARCH_AUDIENCE)
            })
            .expect("mint")
    };
    let path = format!("/g_variants?{COMMON}&requestedGranularity=count&datasetIds=cardio");
    let (status, _, _) = node
        .get_as(Some(&purpose(&["DUO:0000007"], Some("MONDO:0004994"))), &path)
        .await;
    assert_eq!(status, 200);
    for token in [
        purpose(&["DUO:0000007"], Some("MONDO:0005015")),
        purpose(&["DUO:0000011"], None),
    ] {
        let (status, _, document) = node.get_as(Some(&token), &path).await;
        assert_eq!(status, 404, "{document:#}");
    }
    let (_, _, listing) = node.get_as(None, "/datasets").await;
    let cardio = listing["response"]["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .find(|dataset| dataset["id"] == "cardio")
        .expect("cardio listed");
    assert_eq!(cardio["dataUseConditions"]["duoDataUse"][0]["id"], "DUO:0000007");
    assert_eq!(
        cardio["dataUseConditions"]["duoDataUse"][0]["modifiers"][0]["id"],
        "MONDO:0004994"
    );
    let _ = BONA_FIDE_VALUE;
}

#[tokio::test]
async fn platforms_cannot_query_and_audit_rows_hold_no_coordinates() {
    let node = spawn_node(&[rare()], no_budget()).await;
    let platform = node
        .dev
        .access_token(&TokenSpec {
            roles: vec!["platform".into()],
            platform: Some("seqoia".into()),
            ..TokenSpec::new("seqoia-push", RESEARCH_AUDIENCE)
        })
        .expect("mint");
    let (status, _, document) = node
        .get_as(Some(&platform), &format!("/g_variants?{COMMON}"))
        .await;
    assert_eq!(status, 403, "{document:#}");
    node.get(
        Who::Controlled("rare"),
        &format!("/g_variants?{COMMON}&requestedGranularity=record"),
    )
    .await;
    let rows = node.store.audit_rows(100).await.expect("audit");
    assert!(rows.iter().any(|row| row.status == 403));
    let allowed = rows
        .iter()
        .find(|row| row.status == 200 && row.action == "GET /api/g_variants")
        .expect("the allowed query is audited");
    assert!(allowed.subject.contains("researcher-2"), "{}", allowed.subject);
    assert_eq!(allowed.tier, "controlled");
    for row in &rows {
        assert!(
            !row.resource.contains("299999") && !row.resource.contains("alternateBases"),
            "row {} names the variant: {}",
            row.id,
            row.resource
        );
    }
    assert!(matches!(
        node.store.verify_audit().await.expect("verify"),
        phare_store::AuditVerification::Intact { .. }
    ));
}
