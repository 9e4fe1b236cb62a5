//! The gate's caches and in-memory state keep the guarantees of docs/security.md: a policy
//! change is seen by the next query, budgets hold under concurrent requests and across a clean
//! restart (decisions 0040 and 0041).
use std::time::Duration;

use phare_beacon::BeaconIdentity;
use phare_domain::Granularity;
use phare_server::{AccessState, AppState, QueryBudget};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::support::{Dataset, Node, Who};

/// 1:300000 G>A in `access.vcf`, carried by several patients.
const COMMON: &str = "referenceName=1&start=299999&referenceBases=G&alternateBases=A";

fn returned_granularity(document: &Value) -> &str {
    document["meta"]["returnedGranularity"]
        .as_str()
        .expect("returnedGranularity")
}

#[tokio::test]
async fn a_policy_change_is_seen_by_the_very_next_query() {
    let node = Node::builder().dataset(Dataset::access("rare")).spawn().await;
    let path = format!("/g_variants?{COMMON}&requestedGranularity=record&datasetIds=rare");
    // Read twice: the second answer comes from the cached datasets.
    for _ in 0..2 {
        let document = node.get(Who::Registered, &path).await;
        assert_eq!(returned_granularity(&document), "count", "{document:#}");
    }
    // Through the store, as `phare dataset policy` writes it.
    node.set_policy(
        "rare",
        "registered",
        "genomicVariation",
        Granularity::Boolean,
        true,
    )
    .await;
    let document = node.get(Who::Registered, &path).await;
    assert_eq!(returned_granularity(&document), "boolean", "{document:#}");
    // By another process writing SQL directly: the triggers count that change too.
    sqlx::query(
        "UPDATE dataset_policies SET max_granularity = 'record'
         WHERE dataset_id = 'rare' AND tier = 'registered' AND entry_type = 'genomicVariation'",
    )
    .execute(node.store.pool())
    .await
    .expect("update policy");
    let document = node.get(Who::Registered, &path).await;
    assert_eq!(returned_granularity(&document), "record", "{document:#}");
    // Removing the row brings back the built-in default.
    sqlx::query("DELETE FROM dataset_policies WHERE dataset_id = 'rare'")
        .execute(node.store.pool())
        .await
        .expect("delete policy");
    let document = node.get(Who::Registered, &path).await;
    assert_eq!(returned_granularity(&document), "count", "{document:#}");
    // A dataset created after the cache was filled is seen at once.
    node.store
        .create_dataset(&phare_store::NewDataset {
            id: "later".into(),
            name: "Created later".into(),
            assembly: phare_domain::Assembly::Grch38,
            anonymous_max: Granularity::Boolean,
        })
        .await
        .expect("create dataset");
    let later = format!("/g_variants?{COMMON}&requestedGranularity=count&datasetIds=later");
    let (status, document) = node.status(Who::Registered, &later).await;
    assert_eq!(status, 200, "{document:#}");
}

fn exists(document: &Value) -> bool {
    document["responseSummary"]["exists"]
        .as_bool()
        .expect("responseSummary.exists")
}

/// A genomic query is answered from the catalog as last read and checked by the generation its
/// count reads (decision 0065): a dataset closed meanwhile is gone from the very next answer,
/// not only from the one after.
#[tokio::test]
async fn a_dataset_closed_meanwhile_is_gone_from_the_very_next_query() {
    // Closed to anonymous callers, so that closing it to registered ones closes it to them.
    let node = Node::builder()
        .dataset(Dataset::access("rare").anonymous_max(Granularity::None))
        .spawn()
        .await;
    let path = format!("/g_variants?{COMMON}&requestedGranularity=count");
    for _ in 0..2 {
        let document = node.get(Who::Registered, &path).await;
        assert!(exists(&document), "{document:#}");
    }
    node.set_policy("rare", "registered", "genomicVariation", Granularity::None, false)
        .await;
    let document = node.get(Who::Registered, &path).await;
    assert!(!exists(&document), "{document:#}");
}

/// A caller who saw no dataset runs no count, so nothing confirms the cached catalog: the
/// answer is computed again from the store's, and a dataset opened meanwhile is counted.
#[tokio::test]
async fn a_dataset_opened_to_a_caller_who_saw_none_is_counted_at_once() {
    let node = Node::builder()
        .dataset(Dataset::access("rare").anonymous_max(Granularity::None))
        .spawn()
        .await;
    let path = format!("/g_variants?{COMMON}&requestedGranularity=boolean");
    for _ in 0..2 {
        let document = node.get(Who::Anonymous, &path).await;
        assert!(!exists(&document), "{document:#}");
    }
    sqlx::query("UPDATE datasets SET anonymous_max = 'boolean' WHERE id = 'rare'")
        .execute(node.store.pool())
        .await
        .expect("open dataset");
    let document = node.get(Who::Anonymous, &path).await;
    assert!(exists(&document), "{document:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_holds_under_concurrent_requests() {
    let budget = QueryBudget {
        queries: 5,
        window: Duration::from_secs(600),
    };
    let node = Node::builder()
        .dataset(Dataset::access("rare"))
        .budget(budget)
        .spawn()
        .await;
    let url = format!("{}/g_variants?{COMMON}&requestedGranularity=boolean", node.api);
    let mut requests = JoinSet::new();
    for _ in 0..24 {
        let client = node.client.clone();
        let url = url.clone();
        requests.spawn(async move { client.get(url).send().await.expect("send").status().as_u16() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = requests.join_next().await {
        statuses.push(status.expect("request"));
    }
    let allowed = statuses.iter().filter(|status| **status == 200).count();
    let refused = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!((allowed, refused), (5, 19), "{statuses:?}");
}

fn identity(base_url: &str) -> BeaconIdentity {
    BeaconIdentity {
        id: "org.example.phare.restart".into(),
        name: "Phare restart test".into(),
        description: "restart".into(),
        organization_id: "org.example".into(),
        organization_name: "Example".into(),
        organization_url: "https://www.example.org".into(),
        environment: "test".into(),
        base_url: base_url.to_owned(),
        software_version: "0.0.0".into(),
    }
}

/// A server process over `node`'s database, anonymous callers only, stopped by the sender.
async fn serve_anonymous(
    node: &Node,
    budget: QueryBudget,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api = format!("http://{}/api", listener.local_addr().expect("address"));
    let state = AppState::new(node.store.clone(), identity(&api)).with_access(AccessState {
        budget,
        ..AccessState::anonymous_only()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(phare_server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (api, stop, server)
}

#[tokio::test]
async fn a_spent_budget_survives_a_clean_restart() {
    let node = Node::builder()
        .dataset(Dataset::access("rare"))
        .anonymous_only()
        .spawn()
        .await;
    let budget = QueryBudget {
        queries: 3,
        window: Duration::from_secs(600),
    };
    let status = |api: String| {
        let client = node.client.clone();
        async move {
            client
                .get(format!("{api}/g_variants?{COMMON}&requestedGranularity=boolean"))
                .send()
                .await
                .expect("send")
                .status()
                .as_u16()
        }
    };
    let (api, stop, server) = serve_anonymous(&node, budget).await;
    for _ in 0..3 {
        assert_eq!(status(api.clone()).await, 200);
    }
    // Stopped well within the flush interval of the last query: the shutdown writes it.
    stop.send(()).expect("stop");
    server.await.expect("join").expect("serve");
    let (api, _stop, _server) = serve_anonymous(&node, budget).await;
    assert_eq!(status(api).await, 429);
}
