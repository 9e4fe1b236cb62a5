//! The one harness of the server's tests: fixtures of tests/data, a node on port 0 of its own
//! fresh database (`Node::builder()…spawn()`), tokens of the development issuer per tier of
//! caller, and request helpers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use phare_access::dev::{DevIssuer, TokenSpec};
use phare_access::pseudonyms::KeyedDigest;
use phare_access::{AccessConfig, Authenticator};
use phare_beacon::BeaconIdentity;
use phare_domain::{Assembly, Granularity, Manifest};
use phare_schema::BeaconSchemas;
use phare_server::{AccessState, AppState, QueryBudget};
use phare_store::{DatasetSettings, IngestOutcome, IngestRequest, NewCohort, NewDataset, PolicyRow, Store};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const RESEARCH_AUDIENCE: &str = "phare";
pub const CARE_AUDIENCE: &str = "phare-care";
/// The node's research key: tests that know it compute the research ids a node gives.
pub const RESEARCH_SECRET: &[u8] = b"phare test research secret";

/// A file of tests/data.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

pub fn schemas() -> &'static BeaconSchemas {
    phare_schema::vendored_cached().expect("beacon schemas load")
}

/// A manifest of tests/data.
pub fn manifest(name: &str) -> Manifest {
    Manifest::from_json(&std::fs::read_to_string(data(name)).expect("manifest")).expect("valid manifest")
}

/// What a bash pipeline of bcftools prints (the tests' independent reference).
pub fn bcftools(script: &str) -> String {
    let output = Command::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .expect("bcftools runs (scripts/test needs it)");
    assert!(
        output.status.success(),
        "bcftools failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// Ingesting `path` into `dataset_id`: PASS records only, no manifest, default limits.
pub fn ingest_request(dataset_id: &str, path: PathBuf) -> IngestRequest {
    IngestRequest::new(dataset_id, path)
}

/// `:` and `<`, `>` percent-encoded, as a client building a URL from an id would.
pub fn encoded(id: &str) -> String {
    id.replace(':', "%3A").replace('<', "%3C").replace('>', "%3E")
}

/// A dataset of a node and the file ingested into it. By default: GRCh38, anonymous callers up
/// to boolean, small counts rounded to 5, no data use conditions, PASS records only.
pub struct Dataset {
    id: &'static str,
    file: PathBuf,
    manifest: Option<Manifest>,
    anonymous_max: Granularity,
    settings: DatasetSettings,
    reference_fasta: Option<PathBuf>,
    synthetic: bool,
}

impl Dataset {
    /// `file` of tests/data, without a manifest.
    pub fn new(id: &'static str, file: &str) -> Self {
        Self::at(id, data(file))
    }

    /// A file anywhere, without a manifest.
    pub fn at(id: &'static str, file: PathBuf) -> Self {
        Self {
            id,
            file,
            manifest: None,
            anonymous_max: Granularity::Boolean,
            settings: DatasetSettings {
                min_count: 5,
                data_use: None,
            },
            reference_fasta: None,
            synthetic: false,
        }
    }

    /// `tests/data/access.vcf` with its manifest: ten patients of two care centres.
    pub fn access(id: &'static str) -> Self {
        Self::new(id, "access.vcf").manifest("access.manifest.json")
    }

    /// Published as open data: no small-count threshold, exact counts, anonymous callers up to
    /// `anonymous_max`.
    pub fn open(id: &'static str, file: &str, anonymous_max: Granularity) -> Self {
        Self::new(id, file).anonymous_max(anonymous_max).min_count(0)
    }

    /// With the manifest of tests/data named `name`.
    pub fn manifest(self, name: &str) -> Self {
        self.with_manifest(manifest(name))
    }

    pub fn with_manifest(mut self, manifest: Manifest) -> Self {
        self.manifest = Some(manifest);
        self
    }

    pub fn anonymous_max(mut self, granularity: Granularity) -> Self {
        self.anonymous_max = granularity;
        self
    }

    pub fn min_count(mut self, min_count: u32) -> Self {
        self.settings.min_count = min_count;
        self
    }

    pub fn data_use(mut self, data_use: Value) -> Self {
        self.settings.data_use = Some(data_use);
        self
    }

    /// Ingested left-aligned against this FASTA.
    pub fn reference_fasta(mut self, fasta: PathBuf) -> Self {
        self.reference_fasta = Some(fasta);
        self
    }

    /// Marked synthetic: what `testMode` answers from.
    pub fn synthetic(mut self) -> Self {
        self.synthetic = true;
        self
    }

    async fn create_and_ingest(self, store: &Store) {
        store
            .create_dataset_with(
                &NewDataset {
                    id: self.id.into(),
                    name: self.id.into(),
                    assembly: Assembly::Grch38,
                    anonymous_max: self.anonymous_max,
                },
                &self.settings,
            )
            .await
            .expect("create dataset");
        let outcome = store
            .ingest(IngestRequest {
                manifest: self.manifest,
                reference_fasta: self.reference_fasta,
                file_name: None,
                file_sha256: None,
                ..ingest_request(self.id, self.file)
            })
            .await
            .expect("ingest");
        assert!(matches!(outcome, IngestOutcome::Ingested(_)));
        if self.synthetic {
            store.set_synthetic(self.id, true).await.expect("synthetic");
        }
    }
}

/// A tier of caller, as tokens of the development issuer make them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Anonymous,
    Registered,
    /// A bona fide researcher granted every dataset of the node.
    Controlled,
    /// A bona fide researcher granted this dataset only.
    Granted(&'static str),
    /// A clinician of this care centre.
    Care(&'static str),
    /// A bearer token that does not verify: a 401 everywhere, never an anonymous answer.
    Forged,
}

impl Who {
    pub fn is_care(self) -> bool {
        matches!(self, Self::Care(_))
    }
}

/// What a node is spawned with; see [`Node::builder`].
pub struct NodeBuilder {
    datasets: Vec<Dataset>,
    budget: QueryBudget,
    ontology: Option<phare_ontology::Ontology>,
    references: Vec<(Assembly, phare_vcf::ReferenceGenome)>,
    cohorts: Vec<NewCohort>,
    /// Tokens of the development issuer verified (otherwise anonymous callers only).
    access: bool,
}

impl NodeBuilder {
    pub fn dataset(mut self, dataset: Dataset) -> Self {
        self.datasets.push(dataset);
        self
    }

    pub fn budget(mut self, budget: QueryBudget) -> Self {
        self.budget = budget;
        self
    }

    pub fn ontology(mut self, ontology: phare_ontology::Ontology) -> Self {
        self.ontology = Some(ontology);
        self
    }

    /// With cohort `id`: the individuals of `dataset` with every one of `terms`.
    pub fn cohort(mut self, id: &str, name: &str, dataset: &str, terms: &[&str]) -> Self {
        self.cohorts.push(NewCohort {
            id: id.into(),
            name: name.into(),
            dataset_id: Some(dataset.into()),
            terms: terms.iter().map(|term| (*term).to_owned()).collect(),
        });
        self
    }

    /// Sequence queries left-aligned against this genome.
    pub fn reference(mut self, assembly: Assembly, genome: phare_vcf::ReferenceGenome) -> Self {
        self.references.push((assembly, genome));
        self
    }

    /// The node's default access: anonymous callers only (no issuer trusted), no budget.
    pub fn anonymous_only(mut self) -> Self {
        self.access = false;
        self
    }

    /// The node on port 0 of its own fresh database, its datasets ingested.
    pub async fn spawn(self) -> Node {
        let database = phare_store::testing::fresh_database().await;
        let store = database.store;
        let mut datasets = Vec::new();
        let mut analyses = Vec::new();
        for dataset in self.datasets {
            let id = dataset.id;
            dataset.create_and_ingest(&store).await;
            let analysis = store.analyses(id).await.expect("analyses")[0].id;
            datasets.push(id);
            analyses.push((id, analysis));
        }
        for cohort in &self.cohorts {
            store.create_cohort(cohort).await.expect("cohort");
        }
        let keys = tempfile::tempdir().expect("tempdir");
        let dev = DevIssuer::load_or_create(keys.path()).expect("dev issuer");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let root = format!("http://{}", listener.local_addr().expect("address"));
        let identity = BeaconIdentity {
            id: "org.example.phare.test".into(),
            name: "Phare test".into(),
            description: "test node".into(),
            organization_id: "org.example".into(),
            organization_name: "Example".into(),
            organization_url: "https://www.example.org".into(),
            environment: "test".into(),
            base_url: format!("{root}/api"),
            software_version: "0.0.0".into(),
        };
        let mut state = AppState::with_references(store.clone(), identity, self.references);
        if self.access {
            let (issuer, visa_issuer) = dev.access_config();
            let authenticator = Authenticator::new(AccessConfig {
                issuers: vec![issuer],
                visa_issuers: vec![visa_issuer],
                ..AccessConfig::default()
            })
            .expect("authenticator");
            state = state.with_access(AccessState {
                authenticator,
                keys: KeyedDigest::new(RESEARCH_SECRET),
                budget: self.budget,
                partner_budget_queries: None,
                public_min_allele_number: 40,
            });
        }
        if let Some(ontology) = self.ontology {
            state = state.with_ontology(ontology);
        }
        let metrics_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let metrics = format!(
            "http://{}/metrics",
            metrics_listener.local_addr().expect("address")
        );
        tokio::spawn(phare_server::serve_metrics(
            metrics_listener,
            state.clone(),
            std::future::pending(),
        ));
        tokio::spawn(phare_server::serve(listener, state, std::future::pending()));
        // The workspace builds reqwest's rustls without a default crypto provider (phare-cli).
        let _ = rustls::crypto::ring::default_provider().install_default();
        Node {
            api: format!("{root}/api"),
            root,
            metrics,
            client: reqwest::Client::new(),
            store,
            dev,
            datasets,
            analyses,
            _keys: keys,
        }
    }
}

/// A running node and a client of it.
pub struct Node {
    /// `http://127.0.0.1:PORT/api`.
    pub api: String,
    /// `http://127.0.0.1:PORT`.
    pub root: String,
    /// `http://127.0.0.1:OTHER_PORT/metrics`: the metrics listener.
    pub metrics: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub dev: DevIssuer,
    datasets: Vec<&'static str>,
    /// The analysis (file) each dataset's file became.
    analyses: Vec<(&'static str, i64)>,
    _keys: tempfile::TempDir,
}

/// One HTTP answer, whatever its status and content type.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub content_type: String,
    pub allow: Option<String>,
    pub text: String,
    /// `Who METHOD /api/...`, for failure messages.
    pub request: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("{}: not JSON ({error}): {}", self.request, self.text))
    }

    /// The JSON document of a 200 answer.
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{}: {}", self.request, self.text);
        assert!(
            self.content_type.starts_with("application/json"),
            "{}: content type {}",
            self.request,
            self.content_type
        );
        self.json()
    }
}

/// A request body.
pub enum Body {
    None,
    Json(Value),
    /// Raw bytes with this content type.
    Raw(&'static str, &'static str),
}

impl Node {
    /// No dataset, tokens of the development issuer verified, no budget, no ontology.
    pub fn builder() -> NodeBuilder {
        NodeBuilder {
            datasets: Vec::new(),
            budget: QueryBudget {
                queries: 0,
                window: Duration::from_secs(60),
            },
            ontology: None,
            references: Vec::new(),
            cohorts: Vec::new(),
            access: true,
        }
    }

    /// The analysis (file) the file of `dataset` became.
    pub fn analysis(&self, dataset: &str) -> i64 {
        self.analyses
            .iter()
            .find(|(id, _)| *id == dataset)
            .map(|(_, analysis)| *analysis)
            .unwrap_or_else(|| panic!("no dataset {dataset}"))
    }

    /// The operator's policy row for `tier` and `entry_type` of `dataset` (unfiltered queries
    /// allowed).
    pub async fn set_policy(
        &self,
        dataset: &str,
        tier: &str,
        entry_type: &str,
        max_granularity: Granularity,
        id_lookups: bool,
    ) {
        self.store
            .set_policy(
                dataset,
                &PolicyRow {
                    tier: tier.into(),
                    entry_type: entry_type.into(),
                    max_granularity,
                    id_lookups,
                    unfiltered_queries: true,
                },
            )
            .await
            .expect("policy");
    }

    /// The bearer token of a tier; none for anonymous callers.
    pub fn token(&self, who: Who) -> Option<String> {
        let grant = |dataset: &str| format!("{}/datasets/{dataset}", self.api);
        let spec = match who {
            Who::Anonymous => return None,
            Who::Forged => return Some("eyJhbGciOiJub25lIn0.e30.".into()),
            Who::Registered => TokenSpec {
                bona_fide: true,
                ..TokenSpec::new("researcher-1", RESEARCH_AUDIENCE)
            },
            Who::Controlled => TokenSpec {
                bona_fide: true,
                grants: self.datasets.iter().map(|dataset| grant(dataset)).collect(),
                ..TokenSpec::new("researcher-2", RESEARCH_AUDIENCE)
            },
            Who::Granted(dataset) => TokenSpec {
                bona_fide: true,
                grants: vec![grant(dataset)],
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

    /// `path_and_query` under `/api`, or an absolute URL.
    async fn send(
        &self,
        caller: String,
        token: Option<&str>,
        method: Method,
        path_and_query: &str,
        body: Body,
    ) -> Answer {
        let request_name = format!("{caller} {method} /api{path_and_query}");
        let url = if path_and_query.starts_with("http") {
            path_and_query.to_owned()
        } else {
            format!("{}{path_and_query}", self.api)
        };
        let mut request = self.client.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request = match body {
            Body::None => request,
            Body::Json(document) => request.json(&document),
            Body::Raw(content_type, text) => request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(text),
        };
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("{request_name}: {error}"));
        let headers = response.headers().clone();
        let header = |name: reqwest::header::HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
        let allow = header(reqwest::header::ALLOW);
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        Answer {
            status,
            headers,
            content_type,
            allow,
            text,
            request: request_name,
        }
    }

    /// Any request, as `who`.
    pub async fn call(&self, who: Who, method: Method, path_and_query: &str, body: Body) -> Answer {
        let token = self.token(who);
        self.send(format!("{who:?}"), token.as_deref(), method, path_and_query, body)
            .await
    }

    /// A GET answer, whatever its status.
    pub async fn get_answer(&self, who: Who, path_and_query: &str) -> Answer {
        self.call(who, Method::GET, path_and_query, Body::None).await
    }

    /// A POST answer, whatever its status.
    pub async fn post_answer(&self, who: Who, path: &str, body: &Value) -> Answer {
        self.call(who, Method::POST, path, Body::Json(body.clone())).await
    }

    /// Status and JSON document of a GET.
    pub async fn status(&self, who: Who, path_and_query: &str) -> (u16, Value) {
        let answer = self.get_answer(who, path_and_query).await;
        (answer.status, answer.json())
    }

    /// Status and JSON document of a POST.
    pub async fn post_status(&self, who: Who, path: &str, body: &Value) -> (u16, Value) {
        let answer = self.post_answer(who, path, body).await;
        (answer.status, answer.json())
    }

    /// The document of a GET that must answer 200.
    pub async fn get(&self, who: Who, path_and_query: &str) -> Value {
        let (status, document) = self.status(who, path_and_query).await;
        assert_eq!(status, 200, "{who:?} {path_and_query}: {document:#}");
        document
    }

    /// The document of a POST that must answer 200.
    pub async fn post(&self, who: Who, path: &str, body: &Value) -> Value {
        let (status, document) = self.post_status(who, path, body).await;
        assert_eq!(status, 200, "{who:?} POST {path}: {document:#}");
        document
    }

    /// A GET with this bearer token (or none): status, headers and JSON document.
    pub async fn get_as(&self, token: Option<&str>, path_and_query: &str) -> (u16, HeaderMap, Value) {
        let answer = self
            .send(
                "bearer".to_owned(),
                token,
                Method::GET,
                path_and_query,
                Body::None,
            )
            .await;
        let document = answer.json();
        (answer.status, answer.headers, document)
    }
}
