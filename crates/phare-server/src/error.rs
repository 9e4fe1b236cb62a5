//! The one place errors become HTTP: the Beacon error envelope with `errorCode` = status.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use phare_beacon::BeaconError;
use phare_store::StoreError;
use serde_json::json;

use crate::AppState;
use crate::request_log::CallerTier;

#[derive(Debug)]
pub struct ApiError {
    pub error: BeaconError,
    /// Seconds for `Retry-After` (429 only).
    pub retry_after_seconds: Option<u64>,
}

impl ApiError {
    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        Self {
            error: BeaconError::too_many_requests(format!(
                "query budget exhausted: retry in {retry_after_seconds} s"
            )),
            retry_after_seconds: Some(retry_after_seconds),
        }
    }
}

impl From<BeaconError> for ApiError {
    fn from(error: BeaconError) -> Self {
        Self {
            error,
            retry_after_seconds: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            // A database outage is the node's, and temporary: retry, rather than report a bug.
            tracing::warn!(%error, "database unavailable while answering");
            return Self::from(BeaconError::service_unavailable(
                "the node's database is unavailable; retry later",
            ));
        }
        tracing::error!(%error, "store error while answering");
        Self::from(BeaconError::internal())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The envelope needs the node's identity: a placeholder body is rewritten with it by
        // `envelope_bare_errors`, which every response passes through.
        let mut response = (status, Json(json!({ "errorMessage": self.error.message }))).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750: say which scheme is expected.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"phare\""),
            );
        }
        response.extensions_mut().insert(self.error);
        response
    }
}

/// Gives every error response the Beacon envelope: ours (carrying a [`BeaconError`]) and the
/// bare ones axum and tower-http produce (405, 413, 415…).
pub(crate) async fn envelope_bare_errors(State(state): State<AppState>, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if is_json && response.extensions().get::<BeaconError>().is_none() {
        // A JSON body of our own making that is not an error envelope (e.g. /ready's 503).
        return response;
    }
    let error = match response.extensions().get::<BeaconError>() {
        Some(error) => error.clone(),
        None => bare_error(status),
    };
    let document = error.to_document(state.identity());
    let headers = response.headers().clone();
    let mut enveloped = (status, Json(document)).into_response();
    for kept in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = headers.get(&kept) {
            enveloped.headers_mut().insert(kept, value.clone());
        }
    }
    enveloped.extensions_mut().insert(error);
    if let Some(tier) = response.extensions().get::<CallerTier>() {
        enveloped.extensions_mut().insert(*tier);
    }
    enveloped
}

fn bare_error(status: StatusCode) -> BeaconError {
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this endpoint".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large (limit 1 MiB)".to_owned(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "request body must be application/json".to_owned(),
        other => other.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    BeaconError {
        status: status.as_u16(),
        message,
    }
}
