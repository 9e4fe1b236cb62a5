//! The gate every request passes: it authenticates the caller (a bad token is a 401, never a
//! downgrade to anonymous), hands the handlers who is asking, and writes one audit row for every
//! request that touches data and every refusal. If the audit row cannot be written the answer
//! is withheld (503): no access goes unaccounted for.

use std::net::{IpAddr, SocketAddr};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use phare_access::{Caller, PASSPORT_HEADER};
use phare_beacon::BeaconError;
use phare_beacon::openapi::{ENDPOINTS, EndpointKind};
use phare_store::{AuditDecision, AuditEntry};

use crate::request_log::{CallerTier, RequestId};
use crate::{ApiError, AppState, MAX_BODY_BYTES};

/// Where the node publishes the public keys of its node tokens (RFC 8615 well-known path).
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Probes of orchestrators and load balancers, and the node's public keys: no credentials
/// read, no audit row, no database touched on the way (`/ready` pings it itself), so they
/// answer during a database outage and hold no data.
const UNGUARDED_ROUTES: [&str; 3] = ["/health", "/ready", JWKS_PATH];

/// Rows a handler needs written with the request's own (the federation gateway's partner
/// calls): the gate commits them together, and withholds the answer if they cannot be.
#[derive(Clone, Debug)]
pub(crate) struct ExtraAuditRows(pub Vec<AuditEntry>);

/// What the handlers know about the request besides its parameters.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub caller: Caller,
    pub client_ip: Option<IpAddr>,
    pub request_id: String,
}

pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    // The allow-list: the web page and its assets, the same for everyone and free of data.
    if crate::web::serves_without_credentials(request.uri().path()) {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>();
    if route.is_some_and(|route| UNGUARDED_ROUTES.contains(&route.as_str())) {
        return next.run(request).await;
    }
    let request_id = request.extensions().get::<RequestId>().map_or_else(
        || uuid::Uuid::new_v4().simple().to_string(),
        |RequestId(id)| id.clone(),
    );
    let client_ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let action = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or("(unrouted)", |matched| matched.as_str())
    );
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let (mut parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::from(BeaconError::payload_too_large(
                "request body too large (limit 1 MiB)",
            ))
            .into_response();
        }
    };
    let header_text = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|value| value.to_str().map(str::to_owned).map_err(|_| ()))
    };
    let authorization = header_text(header::AUTHORIZATION.as_str());
    let passport = header_text(PASSPORT_HEADER);
    let authenticated = match (authorization, passport) {
        (Some(Err(())), _) | (_, Some(Err(()))) => Err("credentials header is not visible ascii".to_owned()),
        (authorization, passport) => state
            .access()
            .authenticator
            .authenticate(
                authorization.and_then(Result::ok).as_deref(),
                passport.and_then(Result::ok).as_deref(),
            )
            .await
            .map_err(|error| error.reason),
    };
    let (caller, mut response) = match authenticated {
        Err(reason) => {
            tracing::info!(%request_id, %reason, "refused credentials");
            (
                None,
                ApiError::from(BeaconError::unauthorized(format!(
                    "invalid credentials: {reason}"
                )))
                .into_response(),
            )
        }
        Ok(caller) => {
            parts.extensions.insert(RequestContext {
                caller: caller.clone(),
                client_ip,
                request_id: request_id.clone(),
            });
            let request = Request::from_parts(parts, Body::from(body.clone()));
            (Some(caller), next.run(request).await)
        }
    };
    let status = response.status();
    let extra_rows = response
        .extensions_mut()
        .remove::<ExtraAuditRows>()
        .map(|ExtraAuditRows(rows)| rows)
        .unwrap_or_default();
    if touches_data(&path) || path == crate::web::WHOAMI_PATH || is_refusal(status) || !extra_rows.is_empty()
    {
        let entry = audit_entry(
            &state,
            caller.as_ref(),
            &action,
            &path,
            &query,
            &body,
            &response,
            &request_id,
        );
        // Appended together: the writer usually commits them in one batch, and the answer
        // leaves only once every one is committed.
        let written = futures::future::join_all(
            std::iter::once(entry)
                .chain(extra_rows)
                .map(|row| state.audit_writer().append(state.store(), row)),
        )
        .await;
        if let Some(Err(error)) = written.into_iter().find(Result::is_err) {
            tracing::error!(%error, %request_id, "cannot write the audit row: answer withheld");
            response = ApiError::from(BeaconError::service_unavailable(
                "the node cannot account for this access now; retry later",
            ))
            .into_response();
        }
    }
    // After the audit: a withheld answer's log line still names who asked.
    response.extensions_mut().insert(CallerTier(
        caller
            .as_ref()
            .map_or("unauthenticated", |caller| caller.highest_tier().as_str()),
    ));
    response
}

/// Entry-type endpoints read patients' data; the framework documents (`/info`, `/map`, …) and
/// `/health` do not. Read from the node's one table of endpoints.
fn touches_data(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/api/") else {
        return false;
    };
    let first = rest.split('/').next().unwrap_or("");
    ENDPOINTS.iter().any(|endpoint| {
        endpoint.kind != EndpointKind::Framework
            && endpoint.path.trim_start_matches('/').split('/').next() == Some(first)
    })
}

/// The reason an audit row gives: messages of 401/403/429 are ours and name no data; others
/// (a 400 naming a pseudonym of a manifest, a variant of a query) may echo parameters, so only
/// the status text is kept.
pub(crate) fn audit_reason(response: &Response) -> String {
    let status = response.status();
    match response.extensions().get::<BeaconError>() {
        Some(error) if is_refusal(status) => error.message.clone(),
        _ => status.canonical_reason().unwrap_or("").to_lowercase(),
    }
}

fn is_refusal(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
    )
}

#[allow(clippy::too_many_arguments)]
fn audit_entry(
    state: &AppState,
    caller: Option<&Caller>,
    action: &str,
    path: &str,
    query: &str,
    body: &Bytes,
    response: &Response,
    request_id: &str,
) -> AuditEntry {
    let status = response.status();
    // Parameters can name a variant or a patient: only a keyed digest of them is kept.
    let resource = if query.is_empty() && body.is_empty() {
        path.to_owned()
    } else {
        let text = format!("{query}\n{}", String::from_utf8_lossy(body));
        format!("{path} params:{}", state.access().keys.query_digest(&text))
    };
    let reason = audit_reason(response);
    AuditEntry {
        subject: caller.map_or_else(|| "unauthenticated".to_owned(), Caller::audit_subject),
        tier: caller.map_or_else(
            || "none".to_owned(),
            |caller| caller.highest_tier().as_str().to_owned(),
        ),
        action: action.to_owned(),
        resource,
        decision: AuditDecision::of_success(status.is_success()),
        reason,
        status: status.as_u16(),
        request_id: request_id.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_type_endpoints_touch_data_and_framework_documents_do_not() {
        assert!(touches_data("/api/g_variants"));
        assert!(touches_data("/api/datasets/rare/g_variants"));
        assert!(touches_data("/api/individuals/ri-00"));
        assert!(!touches_data("/api/info"));
        assert!(!touches_data("/api/map"));
        assert!(!touches_data("/health"));
        assert!(!touches_data("/api"));
    }
}
