//! What an operator relies on: `/metrics` on its own listener (route templates, never raw
//! paths), liveness and readiness outside the gate, request ids, and a hostile request corpus
//! answered with clear errors while the node keeps serving. Real server, real socket.
use std::time::Duration;

use phare_schema::Schema;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{Dataset, Node, Who, schemas};

const COMMON: &str = "referenceName=1&start=299999&referenceBases=G&alternateBases=A";

async fn scrape(node: &Node) -> String {
    let response = node.client.get(&node.metrics).send().await.expect("scrape");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.expect("text")
}

/// The value of the one sample line that starts with `series` (name and labels, exactly).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect("number"))
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_on_their_own_listener() {
    let node = Node::builder().dataset(Dataset::access("rare")).spawn().await;
    // The API does not serve them: only the separate listener does.
    let on_api = node
        .get_answer(Who::Anonymous, &format!("{}/metrics", node.root))
        .await;
    assert_eq!(on_api.status, 404, "{}", on_api.text);

    for _ in 0..3 {
        node.get(Who::Anonymous, &format!("/g_variants?{COMMON}")).await;
    }
    node.get(Who::Registered, &format!("/g_variants?{COMMON}")).await;
    // Two look-ups of ids that name no one: one series, labelled by the template.
    let mut lookup_statuses = Vec::new();
    for id in ["P0-LEAKS-1", "P0-LEAKS-2"] {
        let answer = node
            .get_answer(Who::Anonymous, &format!("/individuals/{id}"))
            .await;
        lookup_statuses.push(answer.status);
    }
    assert_eq!(lookup_statuses[0], lookup_statuses[1]);
    let bad = node
        .get_answer(
            Who::Anonymous,
            "/g_variants?referenceName=1&start=12345678&nonsense=1",
        )
        .await;
    assert_eq!(bad.status, 400);
    node.get_answer(Who::Anonymous, "/no/such/path/ZZ-UNROUTED").await;

    let text = scrape(&node).await;
    let g_variants = r#"{method="GET",route="/api/g_variants",status="200"}"#;
    assert_eq!(
        sample(&text, &format!("phare_http_requests_total{g_variants}")),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("phare_http_request_duration_seconds_count{g_variants}")
        ),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"phare_http_requests_total{method="GET",route="/api/g_variants",status="400"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                r#"phare_http_requests_total{{method="GET",route="/api/individuals/{{id}}",status="{}"}}"#,
                lookup_statuses[0]
            )
        ),
        Some(2.0),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched""#), "{text}");
    // Names and labels only: a sample's value (a duration such as 0.2224611229999) may hold
    // any digits.
    let series: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _value)| series))
        .collect();
    for leak in ["P0-LEAKS", "ZZ-UNROUTED", "12345678", "299999", "nonsense"] {
        assert!(
            series.iter().all(|line| !line.contains(leak)),
            "{leak} in the metrics:\n{text}"
        );
    }
    // What ingest stored: access.vcf is one file of three PASS records, one ALT each.
    assert_eq!(
        sample(&text, r#"phare_ingested{what="analyses"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"phare_ingested{what="records"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"phare_ingested{what="alleles"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(sample(&text, "phare_database_up"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "phare_audit_queue_depth"), Some(0.0), "{text}");
    assert_eq!(
        sample(&text, "phare_db_pool_max_connections"),
        Some(16.0),
        "{text}"
    );
    let idle = sample(&text, r#"phare_db_pool_connections{state="idle"}"#).expect("idle");
    let in_use = sample(&text, r#"phare_db_pool_connections{state="in_use"}"#).expect("in use");
    assert!(idle + in_use >= 1.0 && idle + in_use <= 16.0, "{text}");
    // The four counts ran one after another, each on the query connection the one before
    // handed back: one opened, idle now.
    for (series, expected) in [
        ("phare_db_query_max_connections", 8.0),
        (r#"phare_db_query_connections{state="idle"}"#, 1.0),
        (r#"phare_db_query_connections{state="in_use"}"#, 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(expected), "{series}\n{text}");
    }
}

#[tokio::test]
async fn health_and_readiness_answer_outside_the_gate_and_request_ids_are_kept_when_sane() {
    let node = Node::builder().dataset(Dataset::access("rare")).spawn().await;
    // A probe with a forged token is not refused: the probes read no credentials.
    for (path, status) in [("/health", "ok"), ("/ready", "ready")] {
        let answer = node
            .call(
                Who::Forged,
                reqwest::Method::GET,
                &format!("{}{path}", node.root),
                crate::support::Body::None,
            )
            .await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        assert_eq!(answer.json()["status"], status, "{path}");
    }
    let audited = node.store.audit_rows(1000).await.expect("audit rows").len();
    assert_eq!(audited, 0, "probes write no audit row");

    let with_id = |id: &'static str| {
        node.client
            .get(format!("{}/g_variants?{COMMON}", node.api))
            .header("x-request-id", id)
            .send()
    };
    let kept = with_id("lb-7f3a.42_b").await.expect("request");
    assert_eq!(kept.headers()["x-request-id"], "lb-7f3a.42_b");
    let replaced = with_id("no spaces or quotes\"").await.expect("request");
    let fresh = replaced.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(fresh.len(), 32, "{fresh}");
    assert!(fresh.bytes().all(|byte| byte.is_ascii_hexdigit()), "{fresh}");
    // The audit row carries the same id as the answer.
    let ids: Vec<String> = node
        .store
        .audit_rows(1000)
        .await
        .expect("audit rows")
        .into_iter()
        .map(|row| row.request_id)
        .collect();
    assert!(ids.contains(&"lb-7f3a.42_b".to_owned()), "{ids:?}");
    assert!(ids.contains(&fresh), "{ids:?}");
}

/// Sends `head` (request line and headers, without the blank line) and a body over a fresh
/// connection; returns the status line and the rest of what came back.
async fn raw_request(node: &Node, head: &[u8], body: &[u8]) -> (String, String) {
    let address = node.root.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
    let mut request = head.to_vec();
    request.extend_from_slice(b"\r\n\r\n");
    request.extend_from_slice(body);
    // The server may answer and close before reading everything: what matters is the answer.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "no answer within 10 s");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status_line = text.lines().next().unwrap_or("").to_owned();
    (status_line, text)
}

/// The Beacon error envelope of a full HTTP answer: its code and message.
fn envelope(status: u16, text: &str) -> String {
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let body = if text.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        // One chunk: size line, data, then the terminating chunk.
        body.split("\r\n").nth(1).unwrap_or("")
    } else {
        body
    };
    let document: Value = serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {text}"));
    if let Err(errors) = schemas().validate(Schema::ErrorResponse, &document) {
        panic!("not a Beacon error envelope: {errors:?}\n{document:#}");
    }
    assert_eq!(document["error"]["errorCode"], status, "{document:#}");
    document["error"]["errorMessage"]
        .as_str()
        .expect("message")
        .to_owned()
}

#[tokio::test]
async fn a_hostile_request_corpus_gets_clear_errors_and_the_node_keeps_serving() {
    let node = Node::builder().dataset(Dataset::access("rare")).spawn().await;
    let audit_before = node.store.audit_rows(100_000).await.expect("audit").len();

    // Huge headers: one header of 1 MiB, then 200 small headers. hyper refuses both before any
    // of our code runs, so the answer is its bare 431.
    let huge = format!(
        "GET /api/info HTTP/1.1\r\nHost: x\r\nX-Big: {}",
        "a".repeat(1 << 20)
    );
    let (status, text) = raw_request(&node, huge.as_bytes(), b"").await;
    assert!(status.contains(" 431 "), "{status}\n{text}");
    assert!(text.contains("content-length: 0"), "hyper's bare answer: {text}");
    let mut many = "GET /api/info HTTP/1.1\r\nHost: x".to_owned();
    for index in 0..200 {
        many.push_str(&format!("\r\nX-H{index}: v"));
    }
    let (status, text) = raw_request(&node, many.as_bytes(), b"").await;
    assert!(status.contains(" 431 "), "{status}\n{text}");

    // A 2 MiB body announced by its length, and one streamed in chunks (no length): 413.
    let length = format!(
        "POST /api/g_variants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close",
        2 << 20
    );
    let (status, text) = raw_request(&node, length.as_bytes(), &vec![b' '; 2 << 20]).await;
    assert!(status.contains(" 413 "), "{status}\n{text}");
    assert!(envelope(413, &text).contains("1 MiB"), "{text}");
    let mut chunked = Vec::new();
    for _ in 0..32 {
        chunked.extend_from_slice(format!("{:x}\r\n", 64 << 10).as_bytes());
        chunked.extend_from_slice(&vec![b' '; 64 << 10]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = raw_request(
        &node,
        b"POST /api/g_variants HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close",
        &chunked,
    )
    .await;
    assert!(status.contains(" 413 "), "{status}\n{text}");
    assert!(envelope(413, &text).contains("1 MiB"), "{text}");

    let post = |body: Vec<u8>| {
        node.client
            .post(format!("{}/g_variants", node.api))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let answer = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let document: Value = response.json().await.expect("json");
        if let Err(errors) = schemas().validate(Schema::ErrorResponse, &document) {
            panic!("not a Beacon error envelope: {errors:?}\n{document:#}");
        }
        assert_eq!(document["error"]["errorCode"], status);
        (
            status,
            document["error"]["errorMessage"]
                .as_str()
                .expect("message")
                .to_owned(),
        )
    };

    // JSON nested 100,000 deep (200 kB): refused by the parser's depth limit, not a stack overflow.
    let mut deep = "[".repeat(100_000).into_bytes();
    deep.extend("]".repeat(100_000).bytes());
    let (status, message) = answer(post(deep).await.expect("deep")).await;
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("not valid JSON") && message.contains("recursion"),
        "{message}"
    );

    // Invalid UTF-8 inside a JSON string.
    let (status, message) = answer(
        post(b"{\"meta\": {\"apiVersion\": \"v2\xff\xfe\"}}".to_vec())
            .await
            .expect("utf-8"),
    )
    .await;
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("not valid JSON") && message.contains("line 1"),
        "{message}"
    );

    // Invalid UTF-8 in the query string, percent-encoded, and unknown parameters.
    for (query, named) in [
        ("referenceName=%FF%FE&start=1&alternateBases=A", "referenceName"),
        (
            "referenceName=1&start=1&alternateBases=A&dropTable=1",
            "dropTable",
        ),
        ("referenceName=1&start=%F0%28%8C%28&alternateBases=A", "start"),
    ] {
        let response = node
            .client
            .get(format!("{}/g_variants?{query}", node.api))
            .send()
            .await
            .expect("query");
        let (status, message) = answer(response).await;
        assert_eq!(status, 400, "{query}: {message}");
        assert!(message.contains(named), "{query}: {message}");
    }
    // A raw (not percent-encoded) non-UTF-8 byte in the request line: hyper refuses it (400).
    let (status, text) = raw_request(
        &node,
        b"GET /api/g_variants?referenceName=\xff HTTP/1.1\r\nHost: x\r\nConnection: close",
        b"",
    )
    .await;
    assert!(status.contains(" 400 "), "{status}\n{text}");
    // Credentials that are not visible ASCII: refused, never read as anonymous.
    let (status, text) = raw_request(
        &node,
        b"GET /api/g_variants?referenceName=1&start=299999&alternateBases=A HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close",
        b"",
    )
    .await;
    assert!(status.contains(" 401 "), "{status}\n{text}");
    assert!(envelope(401, &text).contains("visible ascii"), "{text}");

    // Still serving, and still answering right.
    let document = node.get(Who::Anonymous, &format!("/g_variants?{COMMON}")).await;
    assert_eq!(document["responseSummary"]["exists"], true, "{document:#}");
    let info = node.get(Who::Anonymous, "/info").await;
    assert_eq!(info["meta"]["beaconId"], "org.example.phare.test");
    // Nothing was stored but the audit rows of what reached the gate.
    assert_eq!(node.store.datasets().await.expect("datasets").len(), 1);
    let audit_after = node.store.audit_rows(100_000).await.expect("audit").len();
    assert!(audit_after > audit_before);
}
