//! Federation between real `phare serve` processes on loopback, each with its own database and
//! dataset: pooled allele counts checked against bcftools on the same cohorts, partners that
//! die, stall, or answer garbage reported by status, and node-to-node trust (registry only,
//! signatures checked, no recursion, key rotation while serving).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use phare_access::node::{NodeKeyRing, NodeSigner, NodeTokenSpec};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::operations::{Served, dev_token, node_command};
use crate::Node;

const SAMPLES: usize = 30;
const SITES: u64 = 40;

/// A cohort of SNVs whose genotypes come from a fixed linear congruential sequence, so rare and
/// common alleles alike; every third site is rare (about one carrier in the cohort).
fn write_cohort(path: &Path) {
    let mut text = String::from(
        "##fileformat=VCFv4.3\n##contig=<ID=1,length=248956422>\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT",
    );
    for sample in 1..=SAMPLES {
        text.push_str(&format!("\tS{sample:02}"));
    }
    text.push('\n');
    let mut state: u64 = 20_261_206;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % 1000
    };
    let bases = ["A", "C", "G", "T"];
    for site in 0..SITES {
        let reference = bases[(site % 4) as usize];
        let alternate = bases[((site + 1) % 4) as usize];
        let per_mille = if site % 3 == 0 { 20 } else { 150 + site * 10 };
        text.push_str(&format!(
            "1\t{}\t.\t{reference}\t{alternate}\t50\tPASS\t.\tGT",
            10_000 + site * 100
        ));
        for _ in 0..SAMPLES {
            let first = u8::from(next() < per_mille);
            let second = u8::from(next() < per_mille);
            text.push_str(&format!("\t{first}/{second}"));
        }
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// The cohort, written in a directory of its own (kept alive by the caller).
fn cohort_file() -> (tempfile::TempDir, PathBuf) {
    let work = tempfile::tempdir().unwrap();
    let cohort = work.path().join("cohort.vcf");
    write_cohort(&cohort);
    (work, cohort)
}

fn bcftools(args: &[&str]) -> String {
    let output = Command::new("bcftools").args(args).output().unwrap();
    assert!(
        output.status.success(),
        "bcftools {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The samples of one node, as a file of their own (`bcftools view -s`).
fn subset(cohort: &Path, samples: std::ops::RangeInclusive<usize>, out: &Path) -> PathBuf {
    let names: Vec<String> = samples.map(|sample| format!("S{sample:02}")).collect();
    bcftools(&[
        "view",
        "-s",
        &names.join(","),
        "-o",
        out.to_str().unwrap(),
        cohort.to_str().unwrap(),
    ]);
    out.to_owned()
}

/// `(pos, ref, alt) → (AC, AN)` by `bcftools +fill-tags`.
fn allele_counts(file: &Path) -> BTreeMap<(u64, String, String), (u64, u64)> {
    let filled = bcftools(&["+fill-tags", file.to_str().unwrap(), "--", "-t", "AC,AN"]);
    let temporary = tempfile::NamedTempFile::new().unwrap();
    temporary.as_file().write_all(filled.as_bytes()).unwrap();
    bcftools(&[
        "query",
        "-f",
        "%POS\t%REF\t%ALT\t%AC\t%AN\n",
        temporary.path().to_str().unwrap(),
    ])
    .lines()
    .map(|line| {
        let fields: Vec<&str> = line.split('\t').collect();
        (
            (
                fields[0].parse().unwrap(),
                fields[1].to_owned(),
                fields[2].to_owned(),
            ),
            (fields[3].parse().unwrap(), fields[4].parse().unwrap()),
        )
    })
    .collect()
}

/// A port for a node that must be named in its partners' configuration before it starts.
/// Taken below Linux's ephemeral range (32768–60999): a port the kernel hands out for `:0`
/// and that is released again can be taken by any outgoing connection's local end before the
/// node binds it ("address already in use", seen once under a parallel suite).
fn free_port() -> u16 {
    loop {
        let port: u16 = rand::random_range(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A node of the federation: its database, its port, its configuration file.
struct FederatedNode {
    node: Node,
    id: &'static str,
    port: u16,
    metrics_port: u16,
}

impl FederatedNode {
    async fn new(id: &'static str) -> Self {
        Self {
            node: Node::new().await,
            id,
            port: free_port(),
            metrics_port: free_port(),
        }
    }

    fn api(&self) -> String {
        format!("http://127.0.0.1:{}/api", self.port)
    }

    /// Writes the configuration naming `partners` (TOML `[[federation.partners]]` bodies) and
    /// starts `phare serve` with it.
    fn serve(&self, federation: &str, partners: &[String]) -> Served {
        let mut config = format!(
            "public_url = \"http://127.0.0.1:{port}\"\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n[access]\njwks_refresh_interval_seconds = 1\njwks_max_age_seconds = 1\n[federation]\nnode_id = \"{id}\"\n{federation}\n",
            port = self.port,
            metrics = self.metrics_port,
            id = self.id,
        );
        for partner in partners {
            config.push_str("[[federation.partners]]\n");
            config.push_str(partner);
            config.push('\n');
        }
        let path = self.node.dir.path().join("phare.toml");
        std::fs::write(&path, config).unwrap();
        let listen = format!("127.0.0.1:{}", self.port);
        let command = node_command(
            &self.node,
            &[
                ("PHARE_LISTEN", listen.as_str()),
                ("PHARE_ACCESS__TRUST_DEV_ISSUER", "true"),
                ("PHARE_ACCESS__BUDGET_QUERIES", "0"),
            ],
        );
        Served::start_with(command, &["--config", path.to_str().unwrap()])
    }

    /// `[[federation.partners]]` body naming this node.
    fn as_partner(&self, timeout_ms: u64) -> String {
        format!(
            "id = \"{}\"\nname = \"Node {}\"\nurl = \"{}\"\ntimeout_ms = {timeout_ms}",
            self.id,
            self.id.to_uppercase(),
            self.api()
        )
    }

    /// A dataset `cohort` with small-count threshold `min_count`, holding `file`.
    async fn load(&self, file: &Path, min_count: &str) {
        self.node
            .ok(&[
                "dataset",
                "create",
                "cohort",
                "--assembly",
                "GRCh38",
                "--min-count",
                min_count,
            ])
            .await;
        // Variant records for the registered tier, so for partners (decision 0047).
        self.node
            .ok(&[
                "dataset",
                "policy",
                "--dataset",
                "cohort",
                "--tier",
                "registered",
                "--entry-type",
                "genomicVariation",
                "--max",
                "record",
            ])
            .await;
        let run = self.node.ingest("cohort", file, None).await;
        assert!(run.success(), "{run}");
    }

    fn key_dir(&self) -> PathBuf {
        self.node.dir.path().join("node-keys")
    }
}

/// A partner that misbehaves at the HTTP level: accepts and never answers, answers garbage, or
/// answers with `size` bytes of a valid-looking start.
async fn bad_partner(kind: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = [0_u8; 8192];
                let _ = socket.read(&mut request).await;
                match kind {
                    "silent" => tokio::time::sleep(Duration::from_secs(600)).await,
                    "garbage" => {
                        let body = "{\"meta\": {}, \"responseSummary\": {\"exists\": tru";
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            body.len()
                        );
                        let _ = socket.write_all(head.as_bytes()).await;
                        let _ = socket.write_all(body.as_bytes()).await;
                    }
                    _ => {
                        // 10 MB, streamed without a length: the node must stop reading.
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                            .await;
                        let chunk = vec![b' '; 64 * 1024];
                        for _ in 0..160 {
                            let head = format!("{:x}\r\n", chunk.len());
                            if socket.write_all(head.as_bytes()).await.is_err()
                                || socket.write_all(&chunk).await.is_err()
                                || socket.write_all(b"\r\n").await.is_err()
                            {
                                return;
                            }
                        }
                        let _ = socket.write_all(b"0\r\n\r\n").await;
                    }
                }
            });
        }
    });
    port
}

fn external_partner(id: &str, port: u16, timeout_ms: u64) -> String {
    format!(
        "id = \"{id}\"\nname = \"{id}\"\nurl = \"http://127.0.0.1:{port}/api\"\ntimeout_ms = {timeout_ms}\naccept_queries = false"
    )
}

/// `POS (1-based) → (AC, AN)` of the `Total` population of each record of a result set.
fn totals(result_set: &Value) -> BTreeMap<u64, (u64, u64)> {
    result_set["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            // `vcfStyle.start` is 0-based, like every Beacon coordinate.
            let position = record["info"]["vcfStyle"]["start"].as_u64().unwrap() + 1;
            let total = record["frequencyInPopulations"][0]["frequencies"]
                .as_array()
                .unwrap()
                .iter()
                .find(|frequency| frequency["population"] == "Total")
                .unwrap();
            (
                position,
                (
                    total["alleleCount"].as_u64().unwrap(),
                    total["alleleNumber"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

/// GET `url`, with `token` when given, insisting on 200: the JSON answer.
async fn get_json(url: &str, token: Option<&str>) -> Value {
    let mut request = super::http_client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

/// Audit rows of `action` at a node, from `subject` only when given.
async fn audit_rows(node: &FederatedNode, action: &str, subject: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = $1 AND ($2::text IS NULL OR subject = $2)",
    )
    .bind(action)
    .bind(subject)
    .fetch_one(node.node.pool())
    .await
    .unwrap()
}

fn node_status<'a>(document: &'a Value, id: &str) -> &'a Value {
    document["info"]["federation"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|node| node["id"] == id)
        .unwrap_or_else(|| panic!("no status for {id}: {document}"))
}

const RANGE: &str = "referenceName=1&start=0&end=20000&requestedGranularity=record&limit=100";

#[tokio::test]
async fn three_nodes_pool_allele_counts_like_bcftools_and_report_every_partner_honestly() {
    let (work, cohort) = cohort_file();
    let paris = FederatedNode::new("paris").await;
    let lyon = FederatedNode::new("lyon").await;
    let helsinki = FederatedNode::new("helsinki").await;
    let files = [
        subset(&cohort, 1..=10, &work.path().join("paris.vcf")),
        subset(&cohort, 11..=20, &work.path().join("lyon.vcf")),
        subset(&cohort, 21..=30, &work.path().join("helsinki.vcf")),
    ];
    for (node, file) in [&paris, &lyon, &helsinki].into_iter().zip(&files) {
        node.load(file, "0").await;
    }
    let silent = bad_partner("silent").await;
    let garbage = bad_partner("garbage").await;
    let huge = bad_partner("huge").await;

    // Full mesh: each partner also lists Paris, so a loop would show.
    let _lyon = lyon.serve("", &[paris.as_partner(2000), helsinki.as_partner(2000)]);
    let mut helsinki_served = helsinki.serve("", &[paris.as_partner(2000), lyon.as_partner(2000)]);
    let _paris = paris.serve(
        "min_count = 0",
        &[
            lyon.as_partner(5000),
            helsinki.as_partner(5000),
            external_partner("silent", silent, 800),
            external_partner("garbage", garbage, 5000),
            external_partner("huge", huge, 5000),
        ],
    );
    let clinician = dev_token(
        &paris.node,
        &["--care", "--role", "clinician", "--care-centre", "CHU-PARIS"],
    )
    .await;
    let client = super::http_client();
    let ask = || async {
        let started = Instant::now();
        let response = client
            .get(format!("{}/federated/g_variants?{RANGE}", paris.api()))
            .bearer_auth(&clinician)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let document: Value = response.json().await.unwrap();
        (document, started.elapsed())
    };

    let (document, took) = ask().await;
    // The silent partner's deadline is 0.8 s: the answer waits for nothing longer.
    assert!(took < Duration::from_millis(800 + 4000), "took {took:?}");
    for (id, status) in [
        ("paris", "answered"),
        ("lyon", "answered"),
        ("helsinki", "answered"),
        ("silent", "timedOut"),
        ("garbage", "badAnswer"),
        ("huge", "badAnswer"),
    ] {
        assert_eq!(node_status(&document, id)["status"], status, "{id}: {document}");
    }
    assert!(
        node_status(&document, "huge")["error"]
            .as_str()
            .unwrap()
            .contains("larger than")
    );
    assert_eq!(document["info"]["federation"]["complete"], false);
    let metrics = client
        .get(format!("http://127.0.0.1:{}/metrics", paris.metrics_port))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        r#"phare_federation_calls_total{partner="lyon",status="answered"} 1"#,
        r#"phare_federation_calls_total{partner="silent",status="timedOut"} 1"#,
        r#"phare_federation_calls_total{partner="huge",status="badAnswer"} 1"#,
    ] {
        assert!(
            metrics.lines().any(|line| line == series),
            "{series} not in\n{metrics}"
        );
    }

    // Expected, by bcftools: each node's counts; the pooled count of an allele sums the nodes
    // that carry it (a node without a carrier does not report the allele), which for alleles
    // every node carries is bcftools on the whole cohort.
    let per_node: Vec<_> = files.iter().map(|file| allele_counts(file)).collect();
    let whole = allele_counts(&cohort);
    let pooled_set = document["response"]["resultSets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|set| set["id"] == "pooled")
        .unwrap();
    let pooled = totals(pooled_set);
    let mut expected = BTreeMap::new();
    let mut everywhere = 0;
    for (key, (count, number)) in &whole {
        let carriers: Vec<&(u64, u64)> = per_node
            .iter()
            .map(|counts| &counts[key])
            .filter(|(count, _)| *count > 0)
            .collect();
        if carriers.is_empty() {
            continue;
        }
        let sum = carriers
            .iter()
            .fold((0, 0), |(count, number), node| (count + node.0, number + node.1));
        if carriers.len() == 3 {
            assert_eq!(sum, (*count, *number));
            everywhere += 1;
        }
        expected.insert(key.0, sum);
    }
    assert!(
        everywhere >= 10,
        "too few alleles carried on every node: {everywhere}"
    );
    assert!(expected.len() > everywhere, "no allele is missing from some node");
    assert_eq!(pooled, expected);
    // Counts are summed over nodes (each node counts its own alleles); the pooled result set
    // holds each distinct allele once.
    let carried_per_node: usize = per_node
        .iter()
        .map(|counts| counts.values().filter(|(count, _)| *count > 0).count())
        .sum();
    assert_eq!(document["responseSummary"]["numTotalResults"], carried_per_node);
    assert_eq!(pooled_set["resultsCount"], expected.len());
    // Each partner's own result set is relayed, named after it.
    assert!(
        document["response"]["resultSets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|set| set["id"] == "lyon:cohort")
    );
    let schemas = phare_schema::vendored_cached().unwrap();
    schemas
        .validate_resultsets(&document, phare_schema::Schema::GenomicVariation)
        .unwrap_or_else(|errors| panic!("{errors:#?}"));

    // Every partner call is audited on both sides.
    let rows: Vec<(String, String, i16)> = sqlx::query_as(
        "SELECT resource, reason, status FROM audit_log WHERE action = 'FEDERATE /api/g_variants' ORDER BY resource",
    )
    .fetch_all(paris.node.pool())
    .await
    .unwrap();
    let expected: Vec<(String, String, i16)> = [
        ("partner:garbage", "badAnswer", 502),
        ("partner:helsinki", "answered", 200),
        ("partner:huge", "badAnswer", 502),
        ("partner:lyon", "answered", 200),
        ("partner:silent", "timedOut", 504),
    ]
    .into_iter()
    .map(|(resource, reason, status)| (resource.to_owned(), reason.to_owned(), status))
    .collect();
    assert_eq!(rows, expected);
    let incoming: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE subject = $1 AND action = 'GET /api/g_variants' AND status = 200",
    )
    .bind(format!("{} partner:paris", paris.api()))
    .fetch_one(lyon.node.pool())
    .await
    .unwrap();
    assert_eq!(incoming, 1);

    // Helsinki dies: reported unavailable, never as "not found"; the others still pool.
    helsinki_served.kill();
    let (document, _) = ask().await;
    assert_eq!(node_status(&document, "helsinki")["status"], "unavailable");
    assert!(node_status(&document, "helsinki").get("summary").is_none());
    assert_eq!(node_status(&document, "lyon")["status"], "answered");
    let pooled_set = document["response"]["resultSets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|set| set["id"] == "pooled")
        .unwrap();
    let without_helsinki: BTreeMap<u64, (u64, u64)> = whole
        .keys()
        .filter_map(|key| {
            let sum = per_node[..2]
                .iter()
                .map(|counts| counts[key])
                .filter(|(count, _)| *count > 0)
                .fold((0, 0), |(count, number), node| (count + node.0, number + node.1));
            (sum.0 > 0).then_some((key.0, sum))
        })
        .collect();
    assert_eq!(totals(pooled_set), without_helsinki);
}

/// What a count may be shown as under threshold `k` (docs/security.md, "Small counts"),
/// written here from the rule, not taken from Phare.
fn shown(count: u64, k: u64) -> u64 {
    match count {
        0 => 0,
        count if count < k => k,
        count => count - count % k,
    }
}

#[tokio::test]
async fn with_default_thresholds_partner_figures_are_rounded_and_pooled_ones_rounded_again() {
    let (work, cohort) = cohort_file();
    let paris = FederatedNode::new("paris").await;
    let lyon = FederatedNode::new("lyon").await;
    let paris_file = subset(&cohort, 1..=15, &work.path().join("paris.vcf"));
    let lyon_file = subset(&cohort, 16..=30, &work.path().join("lyon.vcf"));
    paris.load(&paris_file, "5").await;
    lyon.load(&lyon_file, "5").await;
    let _lyon = lyon.serve("", &[paris.as_partner(5000)]);
    let _paris = paris.serve("", &[lyon.as_partner(5000)]);
    // A clinician of Paris: Paris's own counts exact, Lyon's as Lyon shows a partner.
    let clinician = dev_token(
        &paris.node,
        &["--care", "--role", "clinician", "--care-centre", "CHU-PARIS"],
    )
    .await;
    let document = get_json(
        &format!("{}/federated/g_variants?{RANGE}", paris.api()),
        Some(&clinician),
    )
    .await;
    assert_eq!(document["info"]["federation"]["complete"], true, "{document}");
    let sets = document["response"]["resultSets"].as_array().unwrap();
    let set = |id: &str| {
        sets.iter()
            .find(|set| set["id"] == id)
            .unwrap_or_else(|| panic!("no {id}"))
    };
    let paris_counts = allele_counts(&paris_file);
    let lyon_counts = allele_counts(&lyon_file);
    let by_position = |counts: &BTreeMap<(u64, String, String), (u64, u64)>| -> BTreeMap<u64, (u64, u64)> {
        counts.iter().map(|(key, value)| (key.0, *value)).collect()
    };
    let (paris_counts, lyon_counts) = (by_position(&paris_counts), by_position(&lyon_counts));
    // Lyon's relayed figures: rounded (k = 5) where Lyon reports the allele.
    let relayed = totals(set("lyon:cohort"));
    let expected_relayed: BTreeMap<u64, (u64, u64)> = lyon_counts
        .iter()
        .filter(|(_, (count, _))| *count > 0)
        .map(|(position, (count, number))| (*position, (shown(*count, 5), shown(*number, 5))))
        .collect();
    assert_eq!(relayed, expected_relayed);
    // Pooled: Paris's exact counts plus Lyon's shown ones, rounded again after pooling.
    let expected_pooled: BTreeMap<u64, (u64, u64)> = paris_counts
        .keys()
        .filter_map(|position| {
            let local = paris_counts[position];
            let partner = expected_relayed.get(position).copied();
            let (count, number) = match (local.0 > 0, partner) {
                (true, Some(partner)) => (local.0 + partner.0, local.1 + partner.1),
                (true, None) => local,
                (false, Some(partner)) => partner,
                (false, None) => return None,
            };
            Some((*position, (shown(count, 5), shown(number, 5))))
        })
        .collect();
    assert_eq!(totals(set("pooled")), expected_pooled);
    assert_eq!(set("pooled")["countPrecision"], "rounded");
}

/// A token as `issuer`, signed by the keys of `dir` (a node's own, or a stranger's).
fn node_token(dir: &Path, issuer: &str, subject: &str, audience: &str) -> String {
    NodeSigner::open(dir)
        .unwrap()
        .token(&NodeTokenSpec {
            issuer,
            subject,
            audience,
            lifetime: Duration::from_secs(60),
        })
        .unwrap()
}

#[tokio::test]
async fn only_registered_partners_with_their_own_signatures_are_answered_and_never_federated_again() {
    let (work, cohort) = cohort_file();
    let paris = FederatedNode::new("paris").await;
    let lyon = FederatedNode::new("lyon").await;
    paris.load(&cohort, "0").await;
    lyon.load(&cohort, "0").await;
    let _paris = paris.serve("partner_budget_queries = 3", &[lyon.as_partner(5000)]);
    let mut lyon_served = lyon.serve("", &[paris.as_partner(5000)]);
    let client = super::http_client();
    let point = "referenceName=1&start=10099&referenceBases=C&alternateBases=G";
    let status_with = |url: String, token: String| {
        let client = client.clone();
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    // Lyon's own key, as Lyon: Paris answers it (a partner: aggregates only).
    let lyon_token = node_token(&lyon.key_dir(), &lyon.api(), "lyon", &paris.api());
    let answer = get_json(
        &format!("{}/g_variants?{point}&requestedGranularity=record", paris.api()),
        Some(&lyon_token),
    )
    .await;
    assert_eq!(answer["meta"]["returnedGranularity"], "record", "{answer}");
    let records = answer["response"]["resultSets"][0]["results"].as_array().unwrap();
    assert!(!records.is_empty(), "{answer}");
    assert!(records.iter().all(|record| record.get("caseLevelData").is_none()));
    // Filters select people: a partner gets counts of what they carry, never the list.
    let filtered = get_json(
        &format!(
            "{}/g_variants?{point}&filters=NCIT:C16576&requestedGranularity=record",
            paris.api()
        ),
        Some(&lyon_token),
    )
    .await;
    assert_eq!(filtered["meta"]["returnedGranularity"], "count", "{filtered}");
    // Partners have a budget of their own (3 here, while people have none): a third query
    // passes, the fourth is 429.
    let partner_query = format!("{}/g_variants?{point}", paris.api());
    assert_eq!(status_with(partner_query.clone(), lyon_token.clone()).await, 200);
    assert_eq!(status_with(partner_query, lyon_token.clone()).await, 429);
    // …but never federates it again: no recursion between nodes that list each other.
    assert_eq!(
        status_with(
            format!("{}/federated/g_variants?{point}", paris.api()),
            lyon_token.clone()
        )
        .await,
        403
    );

    // Refused here before any partner is asked: Lyon sees no call.
    let before = audit_rows(&lyon, "GET /api/g_variants", None).await;
    let researcher = dev_token(&paris.node, &["--bona-fide"]).await;
    let platform = dev_token(&paris.node, &["--role", "platform", "--platform", "seqoia"]).await;
    assert_eq!(
        status_with(
            format!("{}/federated/g_variants?{point}&datasetIds=cohort", paris.api()),
            researcher.clone()
        )
        .await,
        400
    );
    assert_eq!(
        status_with(format!("{}/federated/g_variants?{point}", paris.api()), platform).await,
        403
    );
    assert_eq!(audit_rows(&lyon, "GET /api/g_variants", None).await, before);
    // The public is relayed what partners give the public: Lyon is asked anonymously.
    get_json(&format!("{}/federated/g_variants?{point}", paris.api()), None).await;
    assert_eq!(
        audit_rows(&lyon, "GET /api/g_variants", Some("anonymous")).await,
        1
    );

    // A node not in the registry: 401.
    let stranger = work.path().join("stranger-keys");
    let stranger_token = node_token(&stranger, "http://127.0.0.1:9/api", "stranger", &paris.api());
    assert_eq!(
        status_with(format!("{}/g_variants?{point}", paris.api()), stranger_token).await,
        401
    );
    // Lyon's name with another key: 401 (unknown kid) …
    let forged = node_token(&stranger, &lyon.api(), "lyon", &paris.api());
    assert_eq!(
        status_with(format!("{}/g_variants?{point}", paris.api()), forged.clone()).await,
        401
    );
    // … and with Lyon's kid in the header but a stranger's signature: 401.
    let lyon_kid = NodeKeyRing::open(&lyon.key_dir()).unwrap().keys()[0].kid.clone();
    let forged_kid = with_kid(&forged, &lyon_kid);
    assert_eq!(
        status_with(format!("{}/g_variants?{point}", paris.api()), forged_kid).await,
        401
    );
    // A token for another audience: 401.
    let elsewhere = node_token(&lyon.key_dir(), &lyon.api(), "lyon", "https://other.example/api");
    assert_eq!(
        status_with(format!("{}/g_variants?{point}", paris.api()), elsewhere).await,
        401
    );

    // Paris rotates its key while serving: announced first, signing two seconds later; Lyon
    // keeps answering throughout, and after the old key is retired.
    let federated_ok = || async {
        let document = get_json(
            &format!("{}/federated/g_variants?{point}", paris.api()),
            Some(&researcher),
        )
        .await;
        assert_eq!(node_status(&document, "lyon")["status"], "answered", "{document}");
    };
    federated_ok().await;
    // A token of the key about to be retired, kept to be replayed after its retirement.
    let old_key_token = node_token(&paris.key_dir(), &paris.api(), "paris", &lyon.api());
    let old_kid = NodeKeyRing::open(&paris.key_dir()).unwrap().keys()[0].kid.clone();
    let rotated = paris
        .node
        .ok(&["node", "rotate-key", "--delay-seconds", "2"])
        .await;
    let new_kid = rotated.stdout.trim().to_owned();
    federated_ok().await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    federated_ok().await;
    let keys = paris.node.ok(&["node", "keys"]).await;
    assert!(
        keys.stdout
            .lines()
            .any(|line| line.starts_with(&new_kid) && line.ends_with("signing")),
        "{keys}"
    );
    paris.node.ok(&["node", "retire-key", &old_kid]).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    federated_ok().await;
    // Lyon refetched Paris's keys (older than its maximum age): the retired key no longer
    // verifies, though its token has not expired.
    assert_eq!(
        status_with(format!("{}/g_variants?{point}", lyon.api()), old_key_token).await,
        401
    );
    // A Lyon that never saw the old key (restarted: nothing cached) still answers: Paris
    // signs with the new key only.
    lyon_served.kill();
    let _lyon = lyon.serve("", &[paris.as_partner(5000)]);
    federated_ok().await;
    let published = get_json(
        &format!("http://127.0.0.1:{}/.well-known/jwks.json", paris.port),
        None,
    )
    .await;
    let kids: Vec<&str> = published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [new_kid.as_str()]);
}

/// The same token with `kid` in its header: the signature no longer matches.
fn with_kid(token: &str, kid: &str) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let mut header: Value = serde_json::from_slice(&engine.decode(parts.next().unwrap()).unwrap()).unwrap();
    header["kid"] = Value::from(kid);
    let rest: Vec<&str> = parts.collect();
    format!("{}.{}", engine.encode(header.to_string()), rest.join("."))
}
