//! Access control end to end: real PostgreSQL, the real server on a socket, real tokens signed
//! by the development issuer (ES256), real HTTP. The fixture `tests/data/access.vcf` has ten
//! patients of two care centres, two of whom objected (P03, P08); expected values are worked out
//! by hand in `tests/data/README.md` and cross-checked with bcftools below.
use std::time::Duration;

use phare_access::ResearchPurpose;
use phare_access::dev::TokenSpec;
use phare_domain::Granularity;
use phare_schema::Schema;
use phare_server::QueryBudget;
use phare_store::AuditDecision;
use serde_json::{Value, json};

use crate::support::{Dataset, Node, RESEARCH_AUDIENCE, Who, bcftools, data, schemas};

const COMMON: &str = "referenceName=1&start=299999&referenceBases=G&alternateBases=A";
const SINGLETON: &str = "referenceName=1&start=199999&referenceBases=C&alternateBases=T";
const OBJECTORS_ONLY: &str = "referenceName=1&start=99999&referenceBases=A&alternateBases=G";

/// `access.vcf` as dataset `rare`: small counts rounded to 5.
fn rare() -> Dataset {
    Dataset::access("rare")
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
    let text = bcftools(&script);
    let fields: Vec<i64> = text
        .trim()
        .split('\t')
        .map(|field| field.parse().expect("number"))
        .collect();
    (fields[0], fields[1])
}

#[tokio::test]
async fn every_token_of_the_bad_token_corpus_is_refused_with_401_and_audited() {
    let node = Node::builder().dataset(rare()).spawn().await;
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
    let node = Node::builder().dataset(rare()).spawn().await;
    for (who, expected) in [
        (Who::Anonymous, "boolean"),
        (Who::Registered, "count"),
        (Who::Granted("rare"), "record"),
        (Who::Granted("another-dataset"), "count"),
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
    node.set_policy("rare", "controlled", "individual", Granularity::Count, true)
        .await;
    let individuals = node
        .get(Who::Granted("rare"), "/individuals?requestedGranularity=record")
        .await;
    assert_eq!(returned_granularity(&individuals), "count");
    let variants = node
        .get(
            Who::Granted("rare"),
            &format!("/g_variants?{COMMON}&requestedGranularity=record"),
        )
        .await;
    assert_eq!(returned_granularity(&variants), "record");
}

#[tokio::test]
async fn care_pseudonyms_never_appear_in_research_answers() {
    let node = Node::builder().dataset(rare()).spawn().await;
    let research = node
        .get(
            Who::Granted("rare"),
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
            Who::Granted("rare"),
            &format!("/individuals/{}?requestedGranularity=record", ids[0]),
        )
        .await;
    assert_eq!(one["response"]["resultSets"][0]["results"][0]["id"], ids[0]);
    assert!(!one.to_string().contains("PAT-"));
    // A care pseudonym names nobody in a research answer: the same 404 as an unknown id.
    let token = node.token(Who::Granted("rare"));
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
    let open = Dataset::access("open").min_count(0);
    let node = Node::builder().dataset(rare()).dataset(open).spawn().await;
    // The allele only P03 and P08 carry: invisible outside care.
    for who in [
        Who::Anonymous,
        Who::Registered,
        Who::Granted("rare"),
        Who::Granted("open"),
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
            Who::Granted("open"),
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
            Who::Granted("open"),
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
    let node = Node::builder().dataset(rare()).spawn().await;
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
    for who in [Who::Anonymous, Who::Registered, Who::Granted("rare")] {
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
            Who::Granted("rare"),
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
    let node = Node::builder().dataset(rare()).budget(budget).spawn().await;
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
    let disease_specific = Dataset::access("cardio")
        .data_use(json!({"permission": "DUO:0000007", "disease": "MONDO:0004994", "modifiers": []}));
    let mondo = phare_ontology::Ontology::load(&[data("ontology/mondo-subset.obo")]).expect("mondo subset");
    let node = Node::builder()
        .dataset(rare())
        .dataset(disease_specific)
        .ontology(mondo)
        .spawn()
        .await;
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
    // Dilated cardiomyopathy descends from cardiomyopathy in the loaded Mondo subset.
    let (status, _, _) = node
        .get_as(Some(&purpose(&["DUO:0000007"], Some("MONDO:0005021"))), &path)
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
}

#[tokio::test]
async fn platforms_cannot_query_and_audit_rows_hold_no_coordinates() {
    let node = Node::builder().dataset(rare()).spawn().await;
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
        Who::Granted("rare"),
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

/// Concurrent requests are audited in batches (group commit): every one of them still gets its
/// own row, in one intact chain, before its answer leaves.
#[tokio::test]
async fn concurrent_requests_each_get_their_audit_row_in_one_chain() {
    let node = Node::builder().dataset(rare()).spawn().await;
    let requests = (0..40).map(|index| {
        let node = &node;
        async move {
            let path = if index % 2 == 0 {
                format!("/g_variants?{COMMON}")
            } else {
                "/individuals?requestedGranularity=count".to_owned()
            };
            node.get(Who::Anonymous, &path).await
        }
    });
    futures::future::join_all(requests).await;
    let rows = node.store.audit_rows(1000).await.expect("audit");
    let data_rows = rows
        .iter()
        .filter(|row| row.action == "GET /api/g_variants" || row.action == "GET /api/individuals")
        .count();
    assert_eq!(data_rows, 40);
    let mut request_ids: Vec<&str> = rows.iter().map(|row| row.request_id.as_str()).collect();
    request_ids.sort_unstable();
    request_ids.dedup();
    assert_eq!(request_ids.len(), rows.len(), "each row is its own request");
    assert!(matches!(
        node.store.verify_audit().await.expect("verify"),
        phare_store::AuditVerification::Intact { .. }
    ));
}
