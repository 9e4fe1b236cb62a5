//! Phare's HTTP server: the Beacon v2 API on axum. Handlers are a few lines each: Beacon
//! semantics live in `phare-beacon`, policy in `phare-access`, data in `phare-store`; every
//! error becomes the Beacon error envelope in one place ([`ApiError`]).

mod datasets;
mod error;
mod g_variants;

use std::sync::{Arc, Mutex};

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
use tower_http::trace::TraceLayer;

pub use error::ApiError;

/// Largest request body accepted: a Beacon query is a few kilobytes.
const MAX_BODY_BYTES: usize = 1 << 20;

#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    identity: BeaconIdentity,
    /// Reference genomes per assembly: sequence queries are left-aligned like ingestion.
    references: Vec<(Assembly, Arc<Mutex<ReferenceGenome>>)>,
}

impl AppState {
    pub fn new(store: Store, identity: BeaconIdentity) -> Self {
        Self::with_references(store, identity, Vec::new())
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

/// Every route of the node. A plain function, so tests can drive it in-process or over a socket.
pub fn router(state: AppState) -> Router {
    let beacon = Router::new()
        .route("/", get(info))
        .route("/info", get(info))
        .route("/service-info", get(service_info))
        .route("/map", get(map))
        .route("/configuration", get(configuration))
        .route("/entry_types", get(entry_types))
        .route("/g_variants", get(g_variants::get).post(g_variants::post))
        .route("/datasets", get(datasets::get).post(datasets::post))
        .route("/datasets/{id}", get(datasets::one));
    Router::new()
        .route("/health", get(health))
        .nest("/api", beacon)
        .fallback(not_found)
        // The body limit sits inside the envelope layer, so its 413 gets the Beacon envelope too.
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            error::envelope_bare_errors,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => Json(json!({ "status": "ok" })).into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "database unreachable" })),
            )
                .into_response()
        }
    }
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
    ApiError(phare_beacon::BeaconError::not_found(
        "no such endpoint: see /api/map for what this node serves",
    ))
}
