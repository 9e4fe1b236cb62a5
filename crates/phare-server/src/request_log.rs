//! One structured log line and one metrics observation per request, and the request id that
//! ties the line, the audit row and the answer (`x-request-id`) together. The line names the
//! route template, never the path or query: those carry variants and identifiers. Tokens,
//! pseudonyms and parameters never reach it (docs/security.md).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest incoming request id taken over.
const MAX_REQUEST_ID_LEN: usize = 64;

/// The request's id, for the gate's audit row and the handlers.
#[derive(Clone, Debug)]
pub(crate) struct RequestId(pub(crate) String);

/// The tier the gate found the caller to have, for the log line (`unauthenticated` when the
/// credentials were refused).
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallerTier(pub(crate) &'static str);

pub(crate) async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_sane_request_id(value))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned);
    // Unrouted paths share one label: their raw text is the caller's, unbounded and possibly
    // identifying.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |matched| matched.as_str())
        .to_owned();
    let method = method_label(request.method());
    request.extensions_mut().insert(RequestId(request_id.clone()));
    let mut response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let tier = response
        .extensions()
        .get::<CallerTier>()
        .map_or("none", |tier| tier.0);
    if let Some(metrics) = state.metrics() {
        metrics.observe_request(&route, method, status, elapsed);
    }
    tracing::info!(
        target: "phare::request",
        request_id = %request_id,
        method,
        route = %route,
        status,
        latency_ms = elapsed.as_micros() as f64 / 1000.0,
        tier,
        "request"
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// A proxy's or client's id is kept when it is a short token that cannot forge log structure.
fn is_sane_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

/// Extension methods are the caller's text: one label for all of them.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_tokens_are_taken_as_request_ids() {
        assert!(is_sane_request_id("3f2a9c1e-proxy.42_b"));
        assert!(is_sane_request_id(&"a".repeat(64)));
        assert!(!is_sane_request_id(&"a".repeat(65)));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("abc def"));
        assert!(!is_sane_request_id("abc\"},{\"status\":200"));
        assert!(!is_sane_request_id("é"));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").unwrap_or(Method::TRACE)),
            "OTHER"
        );
    }
}
