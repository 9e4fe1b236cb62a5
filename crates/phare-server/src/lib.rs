//! Phare's HTTP server: the Beacon v2 API on axum. Handlers are a few lines each: Beacon
//! semantics live in `phare-beacon`, policy in `phare-access`, data in `phare-store`; every
//! error becomes the Beacon error envelope in one place ([`ApiError`]).

mod access;
mod audit_writer;
mod budgets;
mod catalog;
mod cohorts;
mod datasets;
mod entries;
mod error;
mod federation;
mod filtering_terms;
mod g_variants;
mod guard;
mod individuals;
mod metrics;
mod records;
mod request_log;
mod resolve;
mod submissions;
mod web;
mod worker;

use std::sync::{Arc, Mutex};

use phare_access::Authenticator;
use phare_access::pseudonyms::KeyedDigest;
use phare_domain::Assembly;
use phare_vcf::ReferenceGenome;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use phare_beacon::{BeaconError, BeaconIdentity};
use phare_store::Store;
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

pub use access::QueryBudget;
pub use error::ApiError;
pub use federation::{FederationSettings, PartnerSettings};
pub use guard::RequestContext;
pub use metrics::{metrics_router, serve_metrics};
pub use submissions::SubmissionSettings;
pub use worker::spawn_submission_worker;

/// Largest request body accepted: a Beacon query is a few kilobytes.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Who may ask what, and how much: the node's access configuration.
#[derive(Debug)]
pub struct AccessState {
    pub authenticator: Authenticator,
    /// Research identifiers and audit digests (a secret kept apart from the care space).
    pub keys: KeyedDigest,
    pub budget: QueryBudget,
    /// Queries per window for each federation partner and dataset, instead of `budget`'s: one
    /// partner relays the queries of all its users (`[federation] partner_budget_queries`).
    pub partner_budget_queries: Option<u32>,
    /// Public (open-data) frequencies are given only for populations with at least this allele
    /// number (20 diploid people by default).
    pub public_min_allele_number: u64,
}

impl AccessState {
    /// Anonymous callers only, a random research key, no budgets: for tests and trials.
    pub fn anonymous_only() -> Self {
        Self {
            authenticator: Authenticator::anonymous_only(),
            keys: KeyedDigest::new(uuid::Uuid::new_v4().as_bytes()),
            budget: QueryBudget {
                queries: 0,
                window: std::time::Duration::from_secs(3600),
            },
            partner_budget_queries: None,
            public_min_allele_number: DEFAULT_PUBLIC_MIN_ALLELE_NUMBER,
        }
    }
}

/// 20 diploid people: below that a public frequency comes close to describing individuals.
pub const DEFAULT_PUBLIC_MIN_ALLELE_NUMBER: u64 = 40;

#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Clone, Debug)]
struct Inner {
    store: Store,
    identity: BeaconIdentity,
    /// Reference genomes per assembly: sequence queries are left-aligned like ingestion.
    references: Vec<(Assembly, Arc<Mutex<ReferenceGenome>>)>,
    access: Arc<AccessState>,
    /// Term hierarchies for `includeDescendantTerms` and labels for `/filtering_terms`.
    ontology: Arc<phare_ontology::Ontology>,
    audit: Arc<audit_writer::AuditWriter>,
    budgets: Arc<budgets::Budgets>,
    /// Datasets and policy rows, reloaded when the store says they changed.
    catalog: Arc<catalog::Catalog>,
    /// Pushes from platforms, when the node takes them (`with_submissions`).
    submissions: Option<Arc<submissions::Submissions>>,
    /// Partner nodes, when the node federates (`with_federation`).
    federation: Option<Arc<federation::Federation>>,
    metrics: Option<Arc<metrics::Metrics>>,
}

impl AppState {
    pub fn new(store: Store, identity: BeaconIdentity) -> Self {
        Self::with_references(store, identity, Vec::new())
    }

    /// The same node with another access configuration.
    pub fn with_access(self, access: AccessState) -> Self {
        let mut inner = (*self.inner).clone();
        inner.access = Arc::new(access);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The same node with term hierarchies loaded (`[ontologies] files`).
    pub fn with_ontology(self, ontology: phare_ontology::Ontology) -> Self {
        let mut inner = (*self.inner).clone();
        inner.ontology = Arc::new(ontology);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The same node taking pushes from sequencing platforms (`/api/submissions`); the worker
    /// that ingests them is started apart ([`spawn_submission_worker`]).
    pub fn with_submissions(self, settings: SubmissionSettings) -> Self {
        let mut inner = (*self.inner).clone();
        inner.submissions = Some(Arc::new(submissions::Submissions::new(settings)));
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The same node federating with the partners of `settings` (and publishing its keys).
    pub fn with_federation(self, settings: FederationSettings) -> Result<Self, String> {
        let mut inner = (*self.inner).clone();
        inner.federation = Some(Arc::new(federation::Federation::new(settings)?));
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    pub(crate) fn federation(&self) -> Option<&federation::Federation> {
        self.inner.federation.as_deref()
    }

    pub(crate) fn submissions(&self) -> Option<&Arc<submissions::Submissions>> {
        self.inner.submissions.as_ref()
    }

    pub(crate) fn audit_writer(&self) -> &audit_writer::AuditWriter {
        &self.inner.audit
    }

    pub(crate) fn metrics(&self) -> Option<&metrics::Metrics> {
        self.inner.metrics.as_deref()
    }

    pub(crate) fn budgets(&self) -> &budgets::Budgets {
        &self.inner.budgets
    }

    pub(crate) fn catalog(&self) -> &catalog::Catalog {
        &self.inner.catalog
    }

    pub fn ontology(&self) -> &phare_ontology::Ontology {
        &self.inner.ontology
    }

    pub fn access(&self) -> &AccessState {
        &self.inner.access
    }

    /// With the reference genomes ingestion left-aligns against, so that a query written at
    /// another place of a repeat finds the stored indel.
    pub fn with_references(
        store: Store,
        identity: BeaconIdentity,
        references: Vec<(Assembly, ReferenceGenome)>,
    ) -> Self {
        let references = references
            .into_iter()
            .map(|(assembly, genome)| (assembly, Arc::new(Mutex::new(genome))))
            .collect();
        Self {
            inner: Arc::new(Inner {
                store,
                identity,
                references,
                access: Arc::new(AccessState::anonymous_only()),
                ontology: Arc::new(phare_ontology::Ontology::default()),
                audit: Arc::new(audit_writer::AuditWriter::default()),
                budgets: Arc::new(budgets::Budgets::default()),
                catalog: Arc::new(catalog::Catalog::default()),
                submissions: None,
                federation: None,
                metrics: new_metrics(),
            }),
        }
    }

    pub(crate) fn reference(&self, assembly: Assembly) -> Option<Arc<Mutex<ReferenceGenome>>> {
        self.inner
            .references
            .iter()
            .find(|(known, _)| *known == assembly)
            .map(|(_, genome)| genome.clone())
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn identity(&self) -> &BeaconIdentity {
        &self.inner.identity
    }
}

/// The collectors' names are constants, so building them fails only on a programming error
/// (a unit test builds them); the node then serves without metrics rather than not at all.
fn new_metrics() -> Option<Arc<metrics::Metrics>> {
    match metrics::Metrics::new() {
        Ok(metrics) => Some(Arc::new(metrics)),
        Err(error) => {
            tracing::error!(%error, "cannot build the metrics: serving without them");
            None
        }
    }
}

/// Every route of the node. A plain function, so tests can drive it in-process or over a socket.
pub fn router(state: AppState) -> Router {
    let mut beacon = Router::new()
        .route("/", get(info))
        .route("/info", get(info))
        .route("/service-info", get(service_info))
        .route("/map", get(map))
        .route("/configuration", get(configuration))
        .route("/entry_types", get(entry_types))
        .route("/g_variants", get(g_variants::get).post(g_variants::post))
        .route(
            "/federated/g_variants",
            get(federation::get).post(federation::post),
        )
        .route("/federation", get(federation::registry))
        .route("/datasets", get(datasets::get).post(datasets::post))
        .route("/datasets/{id}", get(datasets::one).post(datasets::one_post))
        .route("/cohorts", get(cohorts::get).post(cohorts::post))
        .route("/cohorts/{id}", get(cohorts::one_get).post(cohorts::one_post))
        .route("/filtering_terms", get(filtering_terms::individuals))
        .route("/individuals/filtering_terms", get(filtering_terms::individuals))
        .route("/datasets/{id}/filtering_terms", get(filtering_terms::dataset))
        .route("/cohorts/{id}/filtering_terms", get(filtering_terms::cohort))
        .route("/g_variants/filtering_terms", get(filtering_terms::individuals))
        .route("/biosamples/filtering_terms", get(filtering_terms::none))
        .route("/runs/filtering_terms", get(filtering_terms::none))
        .route("/analyses/filtering_terms", get(filtering_terms::none))
        .route("/datasets/filtering_terms", get(filtering_terms::none))
        .route("/cohorts/filtering_terms", get(filtering_terms::none))
        .route("/openapi.json", get(openapi))
        .route("/docs", get(api_page));
    // The entry types and cross look-ups of `entries.rs`, from its one table of routes.
    for (path, ..) in entries::ROUTES {
        beacon = if path.contains("{id}") {
            beacon.route(path, get(entries::one_get).post(entries::one_post))
        } else {
            beacon.route(path, get(entries::list_get).post(entries::list_post))
        };
    }
    let gated = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route(guard::JWKS_PATH, get(federation::jwks))
        .nest("/api", beacon)
        .merge(web::routes())
        .fallback(not_found)
        // Inside the envelope layer, so refusals get the Beacon envelope.
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        // The body limit sits inside the envelope layer, so its 413 gets the Beacon envelope too.
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
    // Submissions stream gigabytes: they pass a gate of their own, without the body limit.
    Router::new()
        .merge(submissions::router(state.clone()))
        .merge(gated)
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            error::envelope_bare_errors,
        ))
        // Outermost: the log line and metrics see every answer, the envelope's included.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_log::observe,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The client address keys anonymous query budgets.
    let served = axum::serve(
        listener,
        router(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    // Budgets spent since the last periodic flush survive a clean stop.
    state.budgets().flush(state.store(), state.access().budget).await;
    served
}

/// Liveness: the process answers. It does not look at the database, so an orchestrator does not
/// restart a node that only waits for its database to come back (`/ready` says that).
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// A readiness probe must answer before the prober gives up, database or not.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Readiness: the database answers, so data requests can be served (and audited).
async fn ready(State(state): State<AppState>) -> Response {
    let failure = match tokio::time::timeout(READY_TIMEOUT, state.store().ping()).await {
        Ok(Ok(())) => return Json(json!({ "status": "ready" })).into_response(),
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {} s", READY_TIMEOUT.as_secs()),
    };
    tracing::warn!(error = %failure, "readiness: database unreachable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "database unreachable" })),
    )
        .into_response()
}

async fn info(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.identity().info())
}

async fn service_info(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.identity().service_info())
}

async fn map(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.identity().map())
}

async fn configuration(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.identity().configuration())
}

async fn openapi(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.identity().openapi())
}

async fn api_page(State(state): State<AppState>) -> axum::response::Html<String> {
    axum::response::Html(state.identity().api_page())
}

async fn entry_types(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.identity().entry_types())
}

/// The pairs of a GET query string.
pub(crate) fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, BeaconError> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|error| BeaconError::bad_request(format!("query string is not valid: {error}")))
}

/// A POST body: JSON only (415 otherwise), parse errors located (400).
pub(crate) fn json_body(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, BeaconError> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(';')
                .next()
                .is_some_and(|mime| mime.trim() == "application/json")
        });
    if !is_json {
        return Err(BeaconError::unsupported_media_type(
            "request body must be application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|error| {
        BeaconError::bad_request(format!(
            "request body is not valid JSON (line {}, column {}): {error}",
            error.line(),
            error.column()
        ))
    })
}

async fn not_found() -> ApiError {
    ApiError::from(phare_beacon::BeaconError::not_found(
        "no such endpoint: see /api/map for what this node serves",
    ))
}
