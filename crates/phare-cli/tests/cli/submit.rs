//! Platforms pushing files to a real `phare serve` over a socket (issue #9): `phare submit`
//! end to end, the tus protocol driven by hand (interrupted chunks, corrupt chunks, offsets),
//! who may see which submission, and a server killed during an ingest.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::operations::{Served, dev_token, node_command};
use super::{Node, assert_same, count_rows, data, expected_counts, stored_counts};

/// `phare serve` for this node, trusting its development issuer (the tests' platform tokens).
fn serve(node: &Node) -> Served {
    Served::start(node_command(node, &[("PHARE_ACCESS__TRUST_DEV_ISSUER", "true")]))
}

async fn platform_token(node: &Node, platform: &str) -> String {
    dev_token(
        node,
        &[
            "--role",
            "platform",
            "--platform",
            platform,
            "--subject",
            platform,
        ],
    )
    .await
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn chunk_checksum(bytes: &[u8]) -> String {
    format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    )
}

/// A platform's HTTP calls, by hand.
struct Platform<'a> {
    served: &'a Served,
    token: String,
    client: reqwest::Client,
}

impl<'a> Platform<'a> {
    fn new(served: &'a Served, token: String) -> Self {
        Self {
            served,
            token,
            client: super::http_client(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.served.root))
            .bearer_auth(&self.token)
            .header("tus-resumable", "1.0.0")
    }

    async fn create(
        &self,
        dataset: &str,
        name: &str,
        bytes: &[u8],
        manifest: Option<Value>,
    ) -> reqwest::Response {
        self.request(reqwest::Method::POST, "/api/submissions")
            .json(&json!({
                "dataset": dataset,
                "fileName": name,
                "length": bytes.len(),
                "sha256": sha256_hex(bytes),
                "manifest": manifest,
            }))
            .send()
            .await
            .unwrap()
    }

    /// Creates a submission that must be new (201) and returns its id.
    async fn create_new(&self, dataset: &str, name: &str, bytes: &[u8], manifest: Option<Value>) -> String {
        let created = self.create(dataset, name, bytes, manifest).await;
        assert_eq!(created.status(), 201);
        let document: Value = created.json().await.unwrap();
        document["id"].as_str().unwrap().to_owned()
    }

    async fn patch(&self, id: &str, offset: usize, chunk: &[u8], checksum: &str) -> reqwest::Response {
        self.request(reqwest::Method::PATCH, &format!("/api/submissions/{id}/file"))
            .header("upload-offset", offset)
            .header("upload-checksum", checksum)
            .header("content-type", "application/offset+octet-stream")
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn offset(&self, id: &str) -> u64 {
        let response = self
            .request(reqwest::Method::HEAD, &format!("/api/submissions/{id}/file"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    async fn status(&self, id: &str) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::GET, &format!("/api/submissions/{id}"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls until the submission is in a final state.
    async fn settled(&self, id: &str) -> Value {
        for _ in 0..1200 {
            let (status, document) = self.status(id).await;
            assert_eq!(status, 200, "{document}");
            if ["committed", "superseded", "rejected", "expired"]
                .contains(&document["state"].as_str().unwrap())
            {
                return document;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("submission {id} never settled");
    }

    /// A PATCH cut off half-way: headers announce `chunk`, half of it is sent, the socket closes.
    async fn interrupted_patch(&self, id: &str, offset: usize, chunk: &[u8]) {
        drop(self.half_sent_patch(id, offset, chunk).await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// A PATCH whose headers announce `chunk` and of which half is sent; the socket stays open
    /// until the caller drops it.
    async fn half_sent_patch(&self, id: &str, offset: usize, chunk: &[u8]) -> tokio::net::TcpStream {
        use tokio::io::AsyncWriteExt as _;
        let address = self.served.root.trim_start_matches("http://");
        let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = format!(
            "PATCH /api/submissions/{id}/file HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\n\
             tus-resumable: 1.0.0\r\nupload-offset: {offset}\r\nupload-checksum: {}\r\n\
             content-type: application/offset+octet-stream\r\ncontent-length: {}\r\n\r\n",
            self.token,
            chunk_checksum(chunk),
            chunk.len()
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        socket.write_all(&chunk[..chunk.len() / 2]).await.unwrap();
        socket.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        socket
    }
}

/// A node with datasets `ds1` (declared for `seqoia`) and `ds2`, platforms `seqoia` and
/// `auragen`, and its server running.
async fn pushing_node() -> (Node, Served) {
    let node = Node::new().await;
    node.create_dataset("ds1").await;
    node.create_dataset("ds2").await;
    node.ok(&["platform", "add", "seqoia", "--dataset", "ds1"]).await;
    node.ok(&["platform", "add", "auragen", "--dataset", "ds2"]).await;
    let served = serve(&node);
    (node, served)
}

async fn submit(
    node: &Node,
    served: &Served,
    token: &str,
    dataset: &str,
    manifest: Option<&Path>,
    file: &Path,
) -> super::Run {
    let mut args = vec![
        "submit".to_owned(),
        "--node".to_owned(),
        served.root.clone(),
        "--dataset".to_owned(),
        dataset.to_owned(),
        "--token".to_owned(),
        token.to_owned(),
        "--chunk-mib".to_owned(),
        "1".to_owned(),
    ];
    if let Some(manifest) = manifest {
        args.extend(["--manifest".to_owned(), manifest.display().to_string()]);
    }
    args.push(file.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    node.phare(&args).await
}

#[tokio::test]
async fn a_pushed_file_stores_the_hand_counts_once_however_often_it_is_pushed() {
    let (node, served) = pushing_node().await;
    let token = platform_token(&node, "seqoia").await;
    let run = submit(&node, &served, &token, "ds1", None, &data("small.vcf.gz")).await;
    assert!(run.success(), "{run}");
    assert!(run.stdout.contains("committed into ds1 as analysis"), "{run}");
    // The hand-worked counts of the fixture, as `phare ingest` stores them.
    let expected = expected_counts("expected/small.tsv");
    assert_same(
        "all/Total",
        &stored_counts(node.pool(), "ds1", "all", "Total").await,
        &expected,
    );

    let again = submit(&node, &served, &token, "ds1", None, &data("small.vcf.gz")).await;
    assert!(again.success(), "{again}");
    assert_eq!(count_rows(node.pool(), "analyses").await, 1, "{again}");
    assert_eq!(count_rows(node.pool(), "submissions").await, 1, "{again}");
    assert_same(
        "all/Total",
        &stored_counts(node.pool(), "ds1", "all", "Total").await,
        &expected,
    );

    // The operator sees it, committed, with its audit trail.
    let listed = node.ok(&["submission", "list", "--dataset", "ds1"]).await;
    assert!(
        listed.stdout.contains("committed") && listed.stdout.contains("small.vcf.gz"),
        "{listed}"
    );
    let actions: Vec<String> = sqlx::query("SELECT action FROM audit_log ORDER BY id")
        .fetch_all(node.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("action"))
        .collect();
    for step in [
        "platform add",
        "POST /api/submissions",
        "submission validate",
        "submission ingest",
        "submission commit",
    ] {
        assert!(
            actions.iter().any(|action| action.starts_with(step)),
            "no `{step}` in {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_pushed_file_with_its_manifest_counts_as_a_local_ingest_of_it() {
    let (node, served) = pushing_node().await;
    node.ok(&["platform", "add", "seqoia", "--dataset", "ds2"]).await;
    let token = platform_token(&node, "seqoia").await;
    let manifest = data("small.manifest.json");
    let run = submit(&node, &served, &token, "ds1", Some(&manifest), &data("small.bcf")).await;
    assert!(run.success(), "{run}");
    let local = node.ingest("ds2", &data("small.bcf"), Some(&manifest)).await;
    assert!(local.success(), "{local}");
    for scope in ["all", "research"] {
        for stratum in ["Total", "F", "M"] {
            let pushed = stored_counts(node.pool(), "ds1", scope, stratum).await;
            let ingested = stored_counts(node.pool(), "ds2", scope, stratum).await;
            assert!(!pushed.is_empty());
            assert_same(&format!("{scope}/{stratum}"), &pushed, &ingested);
        }
    }
}

#[tokio::test]
async fn an_upload_interrupted_twice_resumes_from_the_nodes_offset() {
    let (node, served) = pushing_node().await;
    let platform = Platform::new(&served, platform_token(&node, "seqoia").await);
    let bytes = std::fs::read(data("small.vcf.gz")).unwrap();
    let created = platform.create("ds1", "small.vcf.gz", &bytes, None).await;
    assert_eq!(created.status(), 201);
    let document: Value = created.json().await.unwrap();
    let id = document["id"].as_str().unwrap().to_owned();
    assert_eq!(document["state"], "receiving");

    let third = bytes.len() / 3;
    let first = platform
        .patch(&id, 0, &bytes[..third], &chunk_checksum(&bytes[..third]))
        .await;
    assert_eq!(first.status(), 204);
    assert_eq!(first.headers()["upload-offset"], third.to_string().as_str());
    // Cut off twice: the node keeps nothing of a half-sent checksummed chunk.
    platform
        .interrupted_patch(&id, third, &bytes[third..2 * third])
        .await;
    assert_eq!(platform.offset(&id).await, third as u64);
    platform.interrupted_patch(&id, third, &bytes[third..]).await;
    assert_eq!(platform.offset(&id).await, third as u64);
    // While a PATCH is under way, another one of the same upload is refused, and it leaves the
    // offset and the bytes the first one will be judged on alone.
    let slow = platform
        .half_sent_patch(&id, third, &bytes[third..2 * third])
        .await;
    let overlapping = platform
        .patch(
            &id,
            third,
            &bytes[third..2 * third],
            &chunk_checksum(&bytes[third..2 * third]),
        )
        .await;
    assert_eq!(overlapping.status(), 409);
    drop(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(platform.offset(&id).await, third as u64);
    // A PATCH at a stale offset is refused with the tus conflict.
    let stale = platform
        .patch(&id, 0, &bytes[..third], &chunk_checksum(&bytes[..third]))
        .await;
    assert_eq!(stale.status(), 409);

    // `phare submit` finds the same submission (same file) and resumes at the node's offset.
    let run = submit(
        &node,
        &served,
        &platform.token,
        "ds1",
        None,
        &data("small.vcf.gz"),
    )
    .await;
    assert!(run.success(), "{run}");
    assert!(run.stdout.contains(&id), "{run}");
    let settled = platform.settled(&id).await;
    assert_eq!(settled["state"], "committed", "{settled}");
    let expected = expected_counts("expected/small.tsv");
    assert_same(
        "all/Total",
        &stored_counts(node.pool(), "ds1", "all", "Total").await,
        &expected,
    );
}

#[tokio::test]
async fn corrupt_chunks_and_corrupt_files_are_refused_and_nothing_is_stored() {
    let (node, served) = pushing_node().await;
    let platform = Platform::new(&served, platform_token(&node, "seqoia").await);
    let bytes = std::fs::read(data("small.vcf")).unwrap();
    let id = platform.create_new("ds1", "small.vcf", &bytes, None).await;
    let half = bytes.len() / 2;
    let mut corrupted = bytes[..half].to_vec();
    corrupted[10] ^= 0x20;
    // The checksum of the right bytes over corrupted ones: 460, nothing appended.
    let refused = platform
        .patch(&id, 0, &corrupted, &chunk_checksum(&bytes[..half]))
        .await;
    assert_eq!(refused.status(), 460);
    let envelope: Value = refused.json().await.unwrap();
    assert!(
        envelope["error"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("does not match its sha256"),
        "{envelope}"
    );
    assert_eq!(platform.offset(&id).await, 0);
    let unsupported = platform.patch(&id, 0, &bytes[..half], "md5 AAAA").await;
    assert_eq!(unsupported.status(), 400);
    assert_eq!(platform.offset(&id).await, 0);
    let accepted = platform
        .patch(&id, 0, &bytes[..half], &chunk_checksum(&bytes[..half]))
        .await;
    assert_eq!(accepted.status(), 204);
    let longer = [&bytes[half..], b"extra".as_slice()].concat();
    let past_the_end = platform.patch(&id, half, &longer, &chunk_checksum(&longer)).await;
    assert_eq!(past_the_end.status(), 413);
    assert_eq!(platform.offset(&id).await, half as u64);
    let rest = platform
        .patch(&id, half, &bytes[half..], &chunk_checksum(&bytes[half..]))
        .await;
    assert_eq!(rest.status(), 204);
    assert_eq!(platform.settled(&id).await["state"], "committed");

    // A file whose declared SHA-256 is not the one received: every chunk checks, the file not.
    let declared = b"not the file that will be sent".repeat(10);
    let sent = {
        let mut sent = std::fs::read(data("small.vcf.plain.gz")).unwrap();
        sent.truncate(declared.len().min(sent.len()));
        sent.resize(declared.len(), b'x');
        sent
    };
    let wrong = platform.create_new("ds1", "wrong.vcf.gz", &declared, None).await;
    let last = platform.patch(&wrong, 0, &sent, &chunk_checksum(&sent)).await;
    assert_eq!(last.status(), 400);
    let settled = platform.settled(&wrong).await;
    assert_eq!(settled["state"], "rejected");
    assert!(settled["error"].as_str().unwrap().contains("sha256"), "{settled}");
    assert_eq!(count_rows(node.pool(), "analyses").await, 1);
}

#[tokio::test]
async fn a_manifest_that_does_not_match_the_samples_rejects_the_push_with_the_reason() {
    let (node, served) = pushing_node().await;
    let token = platform_token(&node, "seqoia").await;
    // The manifest of another file: its sample names are not small.vcf's.
    let manifest = data("chr_prefixed.manifest.json");
    let before = super::snapshot(node.pool()).await;
    let run = submit(&node, &served, &token, "ds1", Some(&manifest), &data("small.vcf")).await;
    assert!(!run.success(), "{run}");
    assert!(
        run.stderr.contains("rejected") && run.stderr.contains("small.vcf"),
        "{run}"
    );
    assert_eq!(
        super::snapshot(node.pool()).await,
        before,
        "a rejected push left rows behind"
    );
}

#[tokio::test]
async fn a_platform_cannot_supersede_the_samples_another_platform_sent() {
    let (node, served) = pushing_node().await;
    node.ok(&["platform", "add", "auragen", "--dataset", "ds1"]).await;
    let manifest = data("small.manifest.json");
    let seqoia = platform_token(&node, "seqoia").await;
    let first = submit(
        &node,
        &served,
        &seqoia,
        "ds1",
        Some(&manifest),
        &data("small.bcf"),
    )
    .await;
    assert!(first.success(), "{first}");
    let before = super::snapshot(node.pool()).await;
    // The same biosamples from another platform would supersede seqoia's analysis.
    let auragen = platform_token(&node, "auragen").await;
    let second = submit(
        &node,
        &served,
        &auragen,
        "ds1",
        Some(&manifest),
        &data("small.vcf"),
    )
    .await;
    assert!(!second.success(), "{second}");
    assert!(second.stderr.contains("by another platform"), "{second}");
    assert_eq!(super::snapshot(node.pool()).await, before);
    // seqoia's own re-analysis of them is accepted and supersedes the first.
    let again = submit(
        &node,
        &served,
        &seqoia,
        "ds1",
        Some(&manifest),
        &data("small.vcf"),
    )
    .await;
    assert!(again.success(), "{again}");
    let listed = node.ok(&["submission", "list", "--platform", "seqoia"]).await;
    assert!(listed.stdout.contains("superseded"), "{listed}");
}

#[tokio::test]
async fn platforms_see_only_their_own_submissions_and_datasets() {
    let (node, served) = pushing_node().await;
    let seqoia = Platform::new(&served, platform_token(&node, "seqoia").await);
    let auragen = Platform::new(&served, platform_token(&node, "auragen").await);
    let bytes = std::fs::read(data("small.vcf")).unwrap();
    let id = seqoia.create_new("ds1", "small.vcf", &bytes, None).await;

    // Another platform's submission is as unknown as a missing one: 404, not 403.
    let (status, _) = auragen.status(&id).await;
    assert_eq!(status, 404);
    let head = auragen
        .request(reqwest::Method::HEAD, &format!("/api/submissions/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
    assert_eq!(
        auragen
            .patch(&id, 0, &bytes, &chunk_checksum(&bytes))
            .await
            .status(),
        404
    );
    let listed: Value = auragen
        .request(reqwest::Method::GET, "/api/submissions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["submissions"], json!([]));
    assert_eq!(seqoia.offset(&id).await, 0);

    // A dataset the platform was not declared for, existing or not: 403.
    assert_eq!(
        auragen.create("ds1", "small.vcf", &bytes, None).await.status(),
        403
    );
    assert_eq!(
        auragen.create("nope", "small.vcf", &bytes, None).await.status(),
        403
    );
    // A platform the operator never declared, a researcher, no token, a foreign signature.
    let undeclared = Platform::new(&served, platform_token(&node, "intruder").await);
    assert_eq!(
        undeclared.create("ds1", "small.vcf", &bytes, None).await.status(),
        403
    );
    let researcher = Platform::new(
        &served,
        node.ok(&["dev", "token", "--bona-fide"])
            .await
            .stdout
            .trim()
            .to_owned(),
    );
    assert_eq!(
        researcher.create("ds1", "small.vcf", &bytes, None).await.status(),
        403
    );
    let anonymous = super::http_client()
        .get(format!("{}/api/submissions", served.root))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let other_node = Node::new().await;
    let foreign = Platform::new(&served, platform_token(&other_node, "seqoia").await);
    assert_eq!(foreign.status(&id).await.0, 401);
    // Platforms never get query answers.
    let query = seqoia
        .request(reqwest::Method::GET, "/api/g_variants")
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 403);
}

#[tokio::test]
async fn quotas_bound_the_size_and_the_number_of_uploads() {
    let (node, served) = pushing_node().await;
    node.ok(&[
        "platform",
        "add",
        "seqoia",
        "--dataset",
        "ds1",
        "--max-upload-bytes",
        "2000",
        "--max-concurrent-uploads",
        "2",
    ])
    .await;
    let platform = Platform::new(&served, platform_token(&node, "seqoia").await);
    let too_big = vec![b'#'; 2001];
    let refused = platform.create("ds1", "big.vcf", &too_big, None).await;
    assert_eq!(refused.status(), 413);
    for content in [b"first".as_slice(), b"second"] {
        assert_eq!(platform.create("ds1", "a.vcf", content, None).await.status(), 201);
    }
    let third = platform.create("ds1", "c.vcf", b"third", None).await;
    assert_eq!(third.status(), 429);
    assert_eq!(count_rows(node.pool(), "submissions").await, 2);
}

/// A cohort big enough that its ingest lasts a while in a debug build.
fn large_cohort(directory: &Path) -> (PathBuf, PathBuf) {
    let spec = phare_synth::CohortSpec {
        samples: 500,
        sites: 20_000,
        seed: 11,
        chr_prefix: false,
        bgzf: true,
    };
    let vcf = directory.join("cohort.vcf.gz");
    let manifest = directory.join("manifest.json");
    phare_synth::write_cohort_files(&spec, &vcf, &manifest).unwrap();
    (vcf, manifest)
}

#[tokio::test]
async fn a_server_killed_during_an_ingest_commits_the_submission_exactly_once_after_restart() {
    let (node, mut served) = pushing_node().await;
    let inputs = tempfile::tempdir().unwrap();
    let (vcf, manifest) = large_cohort(inputs.path());
    let token = platform_token(&node, "seqoia").await;
    let platform = Platform::new(&served, token.clone());
    let bytes = std::fs::read(&vcf).unwrap();
    let id = platform
        .create_new("ds1", "cohort.vcf.gz", &bytes, Some(manifest_json(&manifest)))
        .await;
    for (index, chunk) in bytes.chunks(1 << 20).enumerate() {
        let response = platform
            .patch(&id, index << 20, chunk, &chunk_checksum(chunk))
            .await;
        assert_eq!(response.status(), 204);
    }
    let mut seen_ingesting = false;
    for _ in 0..2000 {
        let (_, document) = platform.status(&id).await;
        if document["state"] == "ingesting" {
            seen_ingesting = true;
            break;
        }
        assert_ne!(
            document["state"], "committed",
            "the ingest ended before the kill: the test proves nothing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(seen_ingesting);
    tokio::time::sleep(Duration::from_millis(300)).await;
    served.kill();

    let restarted = serve(&node);
    let platform = Platform::new(&restarted, token);
    let settled = platform.settled(&id).await;
    assert_eq!(settled["state"], "committed", "{settled}");
    assert_eq!(count_rows(node.pool(), "analyses").await, 1);
    // The same counts as one local ingest of the file.
    let local = node.ingest("ds2", &vcf, Some(&manifest)).await;
    assert!(local.success(), "{local}");
    assert_same(
        "all/Total",
        &stored_counts(node.pool(), "ds1", "all", "Total").await,
        &stored_counts(node.pool(), "ds2", "all", "Total").await,
    );
    // The upload's bytes are gone once committed.
    let leftover = std::fs::read_dir(node.dir.path().join("uploads"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(leftover, 0);
}

fn manifest_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A TLS-terminating proxy on loopback in front of `backend` (`host:port`), as a deployment
/// puts one in front of the node, with a fresh self-signed certificate for `localhost`.
/// Returns its port and the certificate (PEM).
async fn tls_proxy(backend: String) -> (u16, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let certificate_pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let backend = backend.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(&backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    (port, certificate_pem)
}

#[tokio::test]
async fn phare_submit_pushes_through_a_tls_proxy_it_verifies() {
    let (node, served) = pushing_node().await;
    let (port, certificate) = tls_proxy(served.root.trim_start_matches("http://").to_owned()).await;
    let certificate_file = node.dir.path().join("proxy.pem");
    std::fs::write(&certificate_file, certificate).unwrap();
    let token = platform_token(&node, "seqoia").await;
    let https = format!("https://localhost:{port}");
    let file = data("small.vcf.gz");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "submit",
            "--node",
            &https,
            "--dataset",
            "ds1",
            "--token",
            &token,
            "--retries",
            "0",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect();
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args.push(file.display().to_string());
        args
    };
    // Without the proxy's certificate the client refuses the connection: TLS is really checked.
    let untrusted: Vec<String> = args(&[]);
    let refused = node
        .phare(&untrusted.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert!(!refused.success(), "{refused}");
    assert_eq!(count_rows(node.pool(), "submissions").await, 0);
    let trusted = args(&["--ca-cert", certificate_file.to_str().unwrap()]);
    let run = node
        .phare(&trusted.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
    assert!(run.success(), "{run}");
    assert!(run.stdout.contains("committed into ds1"), "{run}");
    let expected = expected_counts("expected/small.tsv");
    assert_same(
        "all/Total",
        &stored_counts(node.pool(), "ds1", "all", "Total").await,
        &expected,
    );
}
