//! Prometheus metrics, served on their own listener (`[metrics] listen`), never on the API's:
//! request counts and latency by route template and status, the database pool, the audit
//! writer's queue and what ingest has stored. Routes are labelled by their template
//! (`/api/individuals/{id}`), never by the raw path, which would carry identifiers and variants
//! and grow without bound. Each node has its own registry, so nodes in one process (the tests)
//! do not mix their counts.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::AppState;

/// Seconds: from a cached framework document to a slow filtered query.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A scrape must not wait on a database that is down for longer than this.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGaugeVec,
    pool_max: IntGauge,
    query_connections: IntGaugeVec,
    query_max: IntGauge,
    audit_queue: IntGauge,
    database_up: IntGauge,
    ingested: IntGaugeVec,
    partner_calls: IntCounterVec,
    partner_latency: HistogramVec,
}

impl Metrics {
    pub(crate) fn new() -> Result<Self, prometheus::Error> {
        let requests = IntCounterVec::new(
            Opts::new("phare_http_requests_total", "HTTP requests answered"),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "phare_http_request_duration_seconds",
                "Time from the request to the response headers",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method", "status"],
        )?;
        let pool_connections = IntGaugeVec::new(
            Opts::new("phare_db_pool_connections", "Database pool connections by state"),
            &["state"],
        )?;
        let pool_max = IntGauge::new(
            "phare_db_pool_max_connections",
            "Most connections the database pool opens",
        )?;
        let query_connections = IntGaugeVec::new(
            Opts::new(
                "phare_db_query_connections",
                "Connections beside the pool for queries' hot statements, by state",
            ),
            &["state"],
        )?;
        let query_max = IntGauge::new(
            "phare_db_query_max_connections",
            "Most connections opened beside the pool for queries' hot statements",
        )?;
        let audit_queue = IntGauge::new(
            "phare_audit_queue_depth",
            "Audit rows waiting for the writer (each one holds back an answer)",
        )?;
        let database_up = IntGauge::new(
            "phare_database_up",
            "1 when the database answered this scrape, 0 otherwise",
        )?;
        let ingested = IntGaugeVec::new(
            Opts::new(
                "phare_ingested",
                "Analyses (files), records and alleles stored by ingest, all datasets; rate() gives ingest throughput",
            ),
            &["what"],
        )?;
        let partner_calls = IntCounterVec::new(
            Opts::new(
                "phare_federation_calls_total",
                "Calls to federation partners by outcome (answered, timedOut, unavailable, refused, error, badAnswer)",
            ),
            &["partner", "status"],
        )?;
        let partner_latency = HistogramVec::new(
            HistogramOpts::new(
                "phare_federation_call_duration_seconds",
                "Time a partner took to answer, or to reach its deadline",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["partner"],
        )?;
        let registry = Registry::new();
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(query_connections.clone()))?;
        registry.register(Box::new(query_max.clone()))?;
        registry.register(Box::new(audit_queue.clone()))?;
        registry.register(Box::new(database_up.clone()))?;
        registry.register(Box::new(ingested.clone()))?;
        registry.register(Box::new(partner_calls.clone()))?;
        registry.register(Box::new(partner_latency.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            pool_connections,
            pool_max,
            query_connections,
            query_max,
            audit_queue,
            database_up,
            ingested,
            partner_calls,
            partner_latency,
        })
    }

    /// One call to a partner: labelled by the registry id, a fixed set.
    pub(crate) fn observe_partner_call(&self, partner: &str, status: &str, elapsed: Duration) {
        self.partner_calls.with_label_values(&[partner, status]).inc();
        self.partner_latency
            .with_label_values(&[partner])
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [route, method, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition, with the gauges read now.
    async fn render(&self, state: &AppState) -> Result<String, prometheus::Error> {
        let gauge = |count: usize| i64::try_from(count).unwrap_or(i64::MAX);
        let pool = state.store().pool();
        let size = i64::from(pool.size());
        let idle = gauge(pool.num_idle());
        self.pool_connections.with_label_values(&["idle"]).set(idle);
        self.pool_connections
            .with_label_values(&["in_use"])
            .set(size.saturating_sub(idle));
        self.pool_max.set(i64::from(pool.options().get_max_connections()));
        let queries = state.store().query_connections();
        self.query_connections
            .with_label_values(&["idle"])
            .set(gauge(queries.idle));
        self.query_connections
            .with_label_values(&["in_use"])
            .set(gauge(queries.in_use));
        self.query_max.set(gauge(queries.max));
        self.audit_queue.set(gauge(state.audit_writer().queue_depth()));
        match tokio::time::timeout(DATABASE_TIMEOUT, state.store().ingest_totals()).await {
            Ok(Ok(totals)) => {
                self.database_up.set(1);
                self.ingested
                    .with_label_values(&["analyses"])
                    .set(totals.analyses);
                self.ingested.with_label_values(&["records"]).set(totals.records);
                self.ingested.with_label_values(&["alleles"]).set(totals.alleles);
            }
            // The totals keep their last values: they only ever grow.
            Ok(Err(_)) | Err(_) => self.database_up.set(0),
        }
        let mut text = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut text)?;
        String::from_utf8(text).map_err(|error| prometheus::Error::Msg(error.to_string()))
    }
}

/// The metrics listener's one route. No authentication: it is bound to loopback or a private
/// network (docs/security.md).
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

/// Serves `/metrics` until `shutdown` resolves.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(state): State<AppState>) -> Response {
    let Some(metrics) = state.metrics() else {
        return (StatusCode::NOT_FOUND, "metrics are not available\n").into_response();
    };
    match metrics.render(&state).await {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot render the metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot render the metrics\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_collectors_build_and_register() {
        assert!(Metrics::new().is_ok());
    }
}
