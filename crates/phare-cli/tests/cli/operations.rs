//! `phare serve` as an operator runs it: JSON log lines that carry no secret, a PostgreSQL
//! restart survived without restarting the node, and a `kill -9` in the middle of audit writes
//! that loses no answered request. Real binary, real PostgreSQL, real HTTP over a socket.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Node, count_rows, data, managed_phare};

/// A running `phare serve --log-format json` on a free loopback port, its stderr collected.
pub(super) struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(super) root: String,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Served {
    /// Starts `command` (a `phare` command without arguments) as `serve`.
    pub(super) fn start(command: Command) -> Self {
        Self::start_with(command, &[])
    }

    /// Starts `command` as `serve` with these arguments after it (`--config FILE`).
    pub(super) fn start_with(mut command: Command, serve_args: &[&str]) -> Self {
        // A free port unless the caller chose one (nodes of a federation name each other).
        if !command.get_envs().any(|(key, _)| key == "PHARE_LISTEN") {
            command.env("PHARE_LISTEN", "127.0.0.1:0");
        }
        command
            .args(["serve", "--log-format", "json"])
            .args(serve_args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (address_sender, address) = mpsc::channel();
        let collected = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(event) = serde_json::from_str::<Value>(&line)
                    && event["message"] == "serving the beacon api at /api"
                {
                    let _ = address_sender.send(event["address"].as_str().unwrap_or("").to_owned());
                }
                collected.lock().unwrap().push(line);
            }
        });
        let address = address.recv_timeout(Duration::from_secs(90)).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("phare serve did not start: {:?}", lines.lock().unwrap())
        });
        Self {
            child,
            root: format!("http://{address}"),
            lines,
            reader: Some(reader),
        }
    }

    /// Kills the server (SIGKILL) and returns every line it wrote to stderr.
    pub(super) fn kill(&mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        self.lines.lock().unwrap().clone()
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `phare` with this node's database and data directory only (no other `PHARE_…` variable).
pub(super) fn node_command(node: &Node, extra: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_phare"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("PHARE_") && key != "PHARE_TEST_DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command
        .env("PHARE_DATABASE_URL", &node.database.url)
        .env("PHARE_DATA_DIR", node.dir.path())
        .current_dir(node.dir.path())
        .stdin(Stdio::null());
    for (key, value) in extra {
        command.env(key, value);
    }
    command
}

const TRUST_DEV: (&str, &str) = ("PHARE_ACCESS__TRUST_DEV_ISSUER", "true");
/// access.vcf's 1:300000 G>A, 0-based.
const COMMON: &str = "referenceName=1&start=299999&referenceBases=G&alternateBases=A";

pub(super) async fn dev_token(node: &Node, args: &[&str]) -> String {
    let mut all = vec!["dev", "token"];
    all.extend_from_slice(args);
    let run = node.ok(&all).await;
    run.stdout.trim().to_owned()
}

#[tokio::test]
async fn json_request_logs_carry_ids_routes_and_tiers_but_no_token_pseudonym_or_variant() {
    let node = Node::new().await;
    node.create_dataset("rare").await;
    let ingested = node
        .ingest("rare", &data("access.vcf"), Some(&data("access.manifest.json")))
        .await;
    assert!(ingested.success(), "{ingested}");
    let care = dev_token(
        &node,
        &["--care", "--role", "clinician", "--care-centre", "CHU-LYON"],
    )
    .await;
    let registered = dev_token(&node, &["--bona-fide", "--subject", "researcher-7"]).await;
    let mut server = Served::start(node_command(&node, &[TRUST_DEV]));
    let client = super::http_client();
    let api = format!("{}/api", server.root);

    let mut sent = Vec::new();
    let anonymous = client
        .get(format!("{api}/g_variants?{COMMON}"))
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    sent.push(("trace-me-1".to_owned(), "/api/g_variants", 200, "public"));
    assert_eq!(anonymous.status().as_u16(), 200);
    assert_eq!(anonymous.headers()["x-request-id"], "trace-me-1");
    let requests = [
        (
            client
                .get(format!("{api}/individuals/PAT-P01"))
                .bearer_auth(&care),
            "/api/individuals/{id}",
            "care",
        ),
        (
            client
                .post(format!("{api}/g_variants"))
                .bearer_auth(&registered)
                .json(&serde_json::json!({
                    "meta": {"apiVersion": "v2.0"},
                    "query": {"requestParameters": {"referenceName": "1", "start": [299999], "alternateBases": "A"}}
                })),
            "/api/g_variants",
            "registered",
        ),
        (
            client
                .get(format!("{api}/g_variants?{COMMON}"))
                .bearer_auth("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.Zm9yZ2VkLXNpZ25hdHVyZQ"),
            "/api/g_variants",
            "unauthenticated",
        ),
    ];
    for (request, route, tier) in requests {
        let response = request.send().await.unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        sent.push((id, route, response.status().as_u16(), tier));
    }
    assert_eq!(sent[3].2, 401, "a forged token is refused");
    let lines = server.kill();

    let events: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}")))
        .collect();
    let logged: Vec<&Value> = events
        .iter()
        .filter(|event| event["target"] == "phare::request")
        .collect();
    assert_eq!(logged.len(), sent.len(), "one line per request: {lines:#?}");
    for (id, route, status, tier) in &sent {
        let line = logged
            .iter()
            .find(|event| event["request_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no line for request {id}: {lines:#?}"));
        assert_eq!(line["route"], *route, "{line}");
        assert_eq!(line["status"], *status, "{line}");
        assert_eq!(line["tier"], *tier, "{line}");
        assert!(line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
        assert_eq!(line["level"], "INFO", "{line}");
    }
    let text = lines.join("\n");
    let forged_signature = "Zm9yZ2VkLXNpZ25hdHVyZQ";
    for secret in [
        care.as_str(),
        &care[care.len() - 20..],
        registered.as_str(),
        &registered[registered.len() - 20..],
        forged_signature,
        "PAT-P01",
        "299999",
        "referenceName",
        "alternateBases",
        "/individuals/PAT",
    ] {
        assert!(!text.contains(secret), "`{secret}` is in the log:\n{text}");
    }
}

/// `f` every 200 ms until it returns `Some`, for at most `limit`.
async fn within<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    mut f: impl FnMut() -> F,
) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(value) = f().await {
            return Some(value);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[tokio::test]
async fn a_postgresql_restart_is_survived_without_restarting_the_node() {
    let data_dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = managed_phare(data_dir.path(), args).output().unwrap();
        assert!(
            output.status.success(),
            "phare {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    run(&["dataset", "create", "rare", "--anonymous-max", "record"]);
    let vcf = data("access.vcf");
    let manifest = data("access.manifest.json");
    run(&[
        "ingest",
        "--dataset",
        "rare",
        "--manifest",
        manifest.to_str().unwrap(),
        vcf.to_str().unwrap(),
    ]);
    let mut server = Served::start(managed_phare(data_dir.path(), &[]));
    let client = super::http_client();
    let query = format!("{}/api/g_variants?{COMMON}", server.root);
    let status_of = |url: String| {
        let client = client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, document) = status_of(query.clone()).await;
    assert_eq!(
        (status, &document["responseSummary"]["exists"]),
        (200, &Value::Bool(true)),
        "{document:#}"
    );

    run(&["db", "stop"]);
    // Liveness does not depend on the database; readiness and data requests say it is gone,
    // in bounded time, in the Beacon envelope.
    let (status, _) = status_of(format!("{}/health", server.root)).await;
    assert_eq!(status, 200);
    let started = Instant::now();
    let (status, document) = status_of(format!("{}/ready", server.root)).await;
    assert_eq!(
        (status, &document["status"]),
        (503, &Value::from("database unreachable"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "/ready took {:?}",
        started.elapsed()
    );
    for _ in 0..2 {
        let started = Instant::now();
        let (status, document) = status_of(query.clone()).await;
        let elapsed = started.elapsed();
        assert_eq!(status, 503, "{document:#}");
        assert_eq!(document["error"]["errorCode"], 503, "{document:#}");
        assert!(document["meta"]["beaconId"].is_string(), "{document:#}");
        assert!(elapsed < Duration::from_secs(10), "a 503 after {elapsed:?}");
    }
    // Framework documents need no database.
    let (status, _) = status_of(format!("{}/api/info", server.root)).await;
    assert_eq!(status, 200);

    run(&["db", "start"]);
    let back = within(Duration::from_secs(30), || {
        let query = query.clone();
        let status_of = &status_of;
        async move {
            let (status, document) = status_of(query).await;
            (status == 200).then_some(document)
        }
    })
    .await
    .expect("service did not come back within 30 s of the database");
    assert_eq!(back["responseSummary"]["exists"], true, "{back:#}");
    // Readiness reads through the pool, which a query no longer touches (decision 0066): a
    // pooled connection used less than a second before the restart is not pinged, so the
    // first probe may find it cut, as any statement would (decision 0063); the next one opens
    // a fresh connection.
    let ready = within(Duration::from_secs(30), || {
        let status_of = &status_of;
        let ready_url = format!("{}/ready", server.root);
        async move { (status_of(ready_url).await.0 == 200).then_some(()) }
    })
    .await;
    assert!(
        ready.is_some(),
        "/ready did not come back within 30 s of the database"
    );
    assert!(server.is_running(), "the node was restarted");
    let lines = server.kill();
    // The withheld answers are logged as such, with who asked.
    let withheld = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["target"] == "phare::request" && event["status"] == 503)
        .filter(|event| event["route"] == "/api/g_variants" && event["tier"] == "public")
        .count();
    assert_eq!(withheld, 2, "{lines:#?}");
    // Every answer given is accounted for, and the chain is intact across the outage.
    let verified = run(&["audit", "verify"]);
    assert!(verified.contains("intact"), "{verified}");
    run(&["db", "stop"]);
}

#[tokio::test]
async fn a_server_killed_mid_write_loses_no_answered_request_and_keeps_its_audit_chain() {
    let node = Node::new().await;
    node.create_dataset("rare").await;
    let ingested = node
        .ingest("rare", &data("access.vcf"), Some(&data("access.manifest.json")))
        .await;
    assert!(ingested.success(), "{ingested}");
    let mut server = Served::start(node_command(&node, &[]));
    let client = super::http_client();
    let query = format!("{}/api/g_variants?{COMMON}", server.root);
    // Eight callers in a loop: audit rows are being committed all the time.
    let answered = Arc::new(Mutex::new(Vec::new()));
    let mut callers = Vec::new();
    for _ in 0..8 {
        let (client, query, answered) = (client.clone(), query.clone(), answered.clone());
        callers.push(tokio::spawn(async move {
            while let Ok(response) = client.get(&query).send().await {
                if response.status().as_u16() == 200 {
                    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
                    answered.lock().unwrap().push(id);
                }
            }
        }));
    }
    let wait = within(Duration::from_secs(30), || {
        let answered = answered.clone();
        async move { (answered.lock().unwrap().len() >= 50).then_some(()) }
    });
    wait.await.expect("no answers");
    server.kill();
    for caller in callers {
        caller.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();

    let verified = node.phare(&["audit", "verify"]).await;
    assert!(verified.success(), "{verified}");
    let audited: Vec<String> = sqlx::query_scalar("SELECT request_id FROM audit_log")
        .fetch_all(node.pool())
        .await
        .unwrap();
    let missing: Vec<&String> = answered.iter().filter(|id| !audited.contains(id)).collect();
    assert!(missing.is_empty(), "answered but not audited: {missing:?}");
    assert!(count_rows(node.pool(), "audit_log").await >= i64::try_from(answered.len()).unwrap());

    // A new process serves the same database at once.
    let mut restarted = Served::start(node_command(&node, &[]));
    let response = client
        .get(format!("{}/api/g_variants?{COMMON}", restarted.root))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    restarted.kill();
    let verified = node.phare(&["audit", "verify"]).await;
    assert!(verified.success(), "{verified}");
}
