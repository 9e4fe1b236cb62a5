//! The one place errors become HTTP: the Beacon error envelope with `errorCode` = status.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use phare_beacon::BeaconError;
use phare_store::StoreError;
use serde_json::json;

use crate::AppState;

#[derive(Debug)]
pub struct ApiError(pub BeaconError);

impl From<BeaconError> for ApiError {
    fn from(error: BeaconError) -> Self {
        Self(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store error while answering");
        Self(BeaconError::internal())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The envelope needs the node's identity: a placeholder body is rewritten with it by
        // `envelope_bare_errors`, which every response passes through.
        let mut response = (status, Json(json!({ "errorMessage": self.0.message }))).into_response();
        response.extensions_mut().insert(self.0);
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
        // A JSON body of our own making that is not an error envelope (e.g. /health's 503).
        return response;
    }
    let error = match response.extensions().get::<BeaconError>() {
        Some(error) => error.clone(),
        None => bare_error(status),
    };
    let document = error.to_document(state.identity());
    let headers = response.headers().clone();
    let mut enveloped = (status, Json(document)).into_response();
    if let Some(allow) = headers.get(header::ALLOW) {
        enveloped.headers_mut().insert(header::ALLOW, allow.clone());
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
