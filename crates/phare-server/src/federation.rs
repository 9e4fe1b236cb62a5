//! The federation gateway: `/api/federated/g_variants` asks this node and every partner of the
//! registry at once, each partner under its own deadline, and answers with the local result,
//! each partner's result and the pooled one (docs/decisions/0046-federated-queries.md).
//! Partners are asked at their plain `/g_variants` with a short-lived token this node signs;
//! a partner's own call is never federated again, so two nodes that list each other cannot
//! loop. `/.well-known/jwks.json` publishes the keys partners verify those tokens with.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Json, Response};
use futures::future::join_all;
use phare_access::Tier;
use phare_access::node::{NodeSigner, NodeTokenSpec};
use phare_beacon::{BeaconError, QueryRequest};
use phare_federation::{Federated, Outcome, PartnerReport, federated_response, parse_answer};
use phare_store::{AuditDecision, AuditEntry};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::guard::{ExtraAuditRows, RequestContext};
use crate::{ApiError, AppState, json_body, query_pairs};

/// How this node reaches one partner.
#[derive(Clone, Debug)]
pub struct PartnerSettings {
    pub id: String,
    pub name: String,
    /// The partner's Beacon API root (`https://lyon.example/api`).
    pub url: String,
    /// What our tokens to it name as `aud` (its API root, by default).
    pub audience: String,
    /// `false`: the partner is asked anonymously (a public Beacon), with no token.
    pub send_token: bool,
    pub timeout: Duration,
}

/// The node's side of the federation (`[federation]`).
#[derive(Debug)]
pub struct FederationSettings {
    /// This node's id in the federation: the `sub` of its tokens, the local part's name.
    pub node_id: String,
    /// The `iss` of its tokens: its own API root, where partners find its keys.
    pub issuer: String,
    pub signer: Arc<NodeSigner>,
    pub partners: Vec<PartnerSettings>,
    pub token_lifetime: Duration,
    /// A partner's answer larger than this is refused unread.
    pub max_answer_bytes: usize,
    /// Calls to partners under way at once, over every federated query.
    pub max_concurrent_calls: usize,
    /// Small-count threshold applied to partners' figures and pooled ones.
    pub min_count: u32,
}

#[derive(Debug)]
pub(crate) struct Federation {
    settings: FederationSettings,
    client: reqwest::Client,
    calls: Arc<Semaphore>,
    /// The token last minted per partner, reused for half its lifetime: a partner verifies a
    /// token it has seen from its cache (decision 0042) instead of checking a signature per call.
    /// Keyed by partner; a rotation (another signing key) mints afresh.
    tokens: std::sync::Mutex<std::collections::HashMap<String, CachedToken>>,
}

impl Federation {
    pub(crate) fn new(settings: FederationSettings) -> Result<Self, String> {
        let (tls, root_count) = phare_access::tls_client_config()?;
        if root_count == 0
            && let Some(partner) = settings
                .partners
                .iter()
                .find(|partner| partner.url.to_ascii_lowercase().starts_with("https:"))
        {
            return Err(format!(
                "no system root certificates to verify partner {} ({})",
                partner.id, partner.url
            ));
        }
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            // A partner answers at its own address or not at all.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|error| format!("cannot build the federation client: {error}"))?;
        let calls = Arc::new(Semaphore::new(settings.max_concurrent_calls.max(1)));
        Ok(Self {
            settings,
            client,
            calls,
            tokens: std::sync::Mutex::default(),
        })
    }

    pub(crate) fn jwks(&self) -> Value {
        self.settings.signer.jwks()
    }

    /// The registry without secrets, for `/api/federation`.
    pub(crate) fn registry(&self) -> Value {
        let partners: Vec<Value> = self
            .settings
            .partners
            .iter()
            .map(|partner| {
                json!({
                    "id": partner.id,
                    "name": partner.name,
                    "url": partner.url,
                    "timeoutMs": u64::try_from(partner.timeout.as_millis()).unwrap_or(u64::MAX),
                    "authentication": if partner.send_token { "node-token" } else { "anonymous" },
                })
            })
            .collect();
        json!({ "nodeId": self.settings.node_id, "issuer": self.settings.issuer, "partners": partners })
    }

    /// Asks every partner at once; each report says what became of its call. `as_node`:
    /// with this node's token (partners answer it as a partner), or anonymously (partners
    /// answer with their public policy).
    async fn fan_out(&self, forward: &Forward, request_id: &str, as_node: bool) -> Vec<PartnerReport> {
        join_all(
            self.settings
                .partners
                .iter()
                .map(|partner| self.ask(partner, forward, request_id, as_node)),
        )
        .await
    }

    async fn ask(
        &self,
        partner: &PartnerSettings,
        forward: &Forward,
        request_id: &str,
        as_node: bool,
    ) -> PartnerReport {
        let started = Instant::now();
        // Bounded over every federated query. A call that finds no free slot is not made: a
        // slow partner holding slots must not turn calls to the others into timeouts.
        let outcome = match Arc::clone(&self.calls).try_acquire_owned() {
            Err(_) => Outcome::Unavailable {
                reason: "too many partner calls under way on this node".to_owned(),
            },
            Ok(_permit) => {
                let call = self.call(partner, forward, request_id, as_node && partner.send_token);
                match tokio::time::timeout(partner.timeout, call).await {
                    Ok(outcome) => outcome,
                    Err(_) => Outcome::TimedOut {
                        after_ms: u64::try_from(partner.timeout.as_millis()).unwrap_or(u64::MAX),
                    },
                }
            }
        };
        PartnerReport {
            id: partner.id.clone(),
            name: partner.name.clone(),
            url: partner.url.clone(),
            outcome,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// A token for `partner`: the last one while it has more than half its lifetime left and
    /// its key still signs.
    fn token_for(&self, partner: &PartnerSettings) -> Option<String> {
        let signing_kid = self.settings.signer.signing_kid()?;
        let mut tokens = match self.tokens.lock() {
            Ok(tokens) => tokens,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(cached) = tokens.get(&partner.id)
            && cached.minted.elapsed() < self.settings.token_lifetime / 2
            && cached.kid == signing_kid
        {
            return Some(cached.token.clone());
        }
        let spec = NodeTokenSpec {
            issuer: &self.settings.issuer,
            subject: &self.settings.node_id,
            audience: &partner.audience,
            lifetime: self.settings.token_lifetime,
        };
        let token = self.settings.signer.token(&spec)?;
        tokens.insert(
            partner.id.clone(),
            CachedToken {
                token: token.clone(),
                kid: signing_kid,
                minted: Instant::now(),
            },
        );
        Some(token)
    }

    async fn call(
        &self,
        partner: &PartnerSettings,
        forward: &Forward,
        request_id: &str,
        signed: bool,
    ) -> Outcome {
        let url = format!("{}/g_variants", partner.url.trim_end_matches('/'));
        let mut request = match forward {
            Forward::Query(query) if query.is_empty() => self.client.get(url),
            Forward::Query(query) => self.client.get(format!("{url}?{query}")),
            Forward::Body(body) => self
                .client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone()),
        };
        request = request.header("x-request-id", request_id);
        if signed {
            let Some(token) = self.token_for(partner) else {
                return Outcome::Unavailable {
                    reason: "this node has no signing key".to_owned(),
                };
            };
            request = request.bearer_auth(token);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return Outcome::Unavailable {
                    reason: describe(&error),
                };
            }
        };
        let status = response.status();
        let limit = self.settings.max_answer_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Outcome::BadAnswer {
                reason: format!("answer larger than {limit} bytes"),
            };
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Outcome::BadAnswer {
                            reason: format!("answer larger than {limit} bytes"),
                        };
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => {
                    return Outcome::Unavailable {
                        reason: describe(&error),
                    };
                }
            }
        }
        if !status.is_success() {
            let reason = error_message(&body).unwrap_or_else(|| status.to_string());
            let code = status.as_u16();
            return if matches!(code, 401 | 403 | 429) {
                Outcome::Refused { status: code, reason }
            } else {
                Outcome::Error { status: code, reason }
            };
        }
        // Parsing megabytes of JSON takes milliseconds: off the async threads.
        match tokio::task::spawn_blocking(move || parse_answer(&body)).await {
            Ok(Ok(answer)) => Outcome::Answered(answer),
            Ok(Err(reason)) => Outcome::BadAnswer { reason },
            Err(_) => Outcome::BadAnswer {
                reason: "the answer could not be read".to_owned(),
            },
        }
    }
}

struct CachedToken {
    token: String,
    kid: String,
    minted: Instant,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token: it opens partners for up to its lifetime.
        formatter
            .debug_struct("CachedToken")
            .field("kid", &self.kid)
            .field("minted", &self.minted)
            .finish_non_exhaustive()
    }
}

/// A connection error in words, without the URL's query (it holds the caller's parameters).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut deepest = None;
    while let Some(cause) = source {
        deepest = Some(cause.to_string());
        source = cause.source();
    }
    match deepest {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_owned(),
    }
}

/// The partner's own words from a Beacon error envelope, shortened. Only a small envelope is
/// read: a large error body is not worth parsing on the async threads.
fn error_message(body: &[u8]) -> Option<String> {
    if body.len() > 64 * 1024 {
        return None;
    }
    let document: Value = serde_json::from_slice(body).ok()?;
    let message = document["error"]["errorMessage"].as_str()?;
    Some(message.chars().take(200).collect())
}

/// The caller's query as it goes to partners: the same parameters, already validated here.
enum Forward {
    Query(String),
    Body(Bytes),
}

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Response {
    let request = match query_pairs(query.as_deref()).and_then(|pairs| QueryRequest::from_query_pairs(&pairs))
    {
        Ok(request) => request,
        Err(error) => return ApiError::from(error).into_response(),
    };
    federate(
        &state,
        &context,
        &request,
        Forward::Query(query.unwrap_or_default()),
    )
    .await
}

pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match json_body(&headers, &body).and_then(|document| QueryRequest::from_body(&document)) {
        Ok(request) => request,
        Err(error) => return ApiError::from(error).into_response(),
    };
    federate(&state, &context, &request, Forward::Body(body)).await
}

pub(crate) async fn registry(State(state): State<AppState>) -> Json<Value> {
    Json(match state.federation() {
        Some(federation) => federation.registry(),
        None => json!({ "partners": [] }),
    })
}

pub(crate) async fn jwks(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    match state.federation() {
        Some(federation) => Ok(Json(federation.jwks())),
        None => Err(BeaconError::not_found("this node has no federation keys").into()),
    }
}

/// The federated answer, carrying one audit row per partner call for the gate to commit with
/// its own, whatever the answer is. Partners are asked only once the caller passed what can be
/// checked first: the right to query, parameters that make sense across nodes, the federated
/// query's budget. The work runs in a task of its own, so a caller who hangs up does not stop
/// the audit of calls already made.
async fn federate(
    state: &AppState,
    context: &RequestContext,
    request: &QueryRequest,
    forward: Forward,
) -> Response {
    if let Err(refused) = preflight(state, context, request).await {
        return refused.into_response();
    }
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let task_state = state.clone();
    let task_context = context.clone();
    let task_request = request.clone();
    tokio::spawn(async move {
        let answered = answer_and_audit(&task_state, &task_context, &task_request, forward).await;
        if let Err((_, rows)) = sender.send(answered) {
            // The caller is gone: the partners audited our calls, so this side does too.
            for row in rows {
                if let Err(error) = task_state.audit_writer().append(task_state.store(), row).await {
                    tracing::error!(%error, "cannot write the audit row of a partner call");
                }
            }
        }
    });
    match receiver.await {
        Ok((mut response, rows)) => {
            response.extensions_mut().insert(ExtraAuditRows(rows));
            response
        }
        Err(_) => ApiError::from(BeaconError::internal()).into_response(),
    }
}

/// What is refused before any partner is asked: a partner's own query (no recursion), a caller
/// who may not query, `datasetIds` (they name this node's datasets), an exhausted federation
/// budget (one unit per federated query, per user or client address, besides the per-dataset
/// budgets the local part spends).
async fn preflight(
    state: &AppState,
    context: &RequestContext,
    request: &QueryRequest,
) -> Result<(), ApiError> {
    let caller = &context.caller;
    if caller.roles.partner {
        return Err(BeaconError::forbidden(
            "a partner node's query is answered locally only (/api/g_variants): it is never federated again",
        )
        .into());
    }
    if !phare_access::policy::may_query(caller) {
        return Err(BeaconError::forbidden(
            "these credentials are for pushing data or administration, not for queries",
        )
        .into());
    }
    if request.dataset_ids.is_some() {
        return Err(BeaconError::bad_request(
            "`datasetIds` names this node's datasets: ask /api/g_variants, or leave it out to ask every node",
        )
        .into());
    }
    let budget = state.access().budget;
    if budget.queries == 0 || state.federation().is_none() {
        return Ok(());
    }
    let key = match &caller.subject {
        Some(_) => format!("federation:{}", caller.audit_subject()),
        None => format!(
            "federation-ip:{}",
            context
                .client_ip
                .map_or_else(|| "unknown".to_owned(), |address| address.to_string())
        ),
    };
    match state.budgets().consume(state.store(), &[key], budget).await? {
        phare_store::BudgetDecision::Allowed => Ok(()),
        phare_store::BudgetDecision::Exhausted { retry_after_seconds } => {
            Err(ApiError::too_many_requests(retry_after_seconds))
        }
    }
}

async fn answer_and_audit(
    state: &AppState,
    context: &RequestContext,
    request: &QueryRequest,
    forward: Forward,
) -> (Response, Vec<AuditEntry>) {
    // The public is relayed what partners give the public: they are asked without our token.
    // Everyone else gets what partners give this node, a partner: aggregates.
    let as_node = context.caller.highest_tier() != Tier::Public;
    let local = crate::g_variants::answer(state, context, request);
    let (local, reports) = match state.federation() {
        Some(federation) => {
            let partners = federation.fan_out(&forward, &context.request_id, as_node);
            tokio::join!(local, partners)
        }
        None => (local.await, Vec::new()),
    };
    if let Some(metrics) = state.metrics() {
        for report in &reports {
            metrics.observe_partner_call(
                &report.id,
                report.outcome.status(),
                Duration::from_millis(report.latency_ms),
            );
        }
    }
    let rows = partner_audit_rows(context, &reports);
    let response = match local {
        Ok(Json(local)) => match federated_document(state, local, reports).await {
            Ok(document) => Json(document).into_response(),
            Err(error) => error.into_response(),
        },
        Err(error) => error.into_response(),
    };
    (response, rows)
}

/// Pooling copies and walks every record: on a blocking thread.
async fn federated_document(
    state: &AppState,
    local: Value,
    reports: Vec<PartnerReport>,
) -> Result<Value, ApiError> {
    let (node_id, min_count) = state.federation().map_or(("local".to_owned(), 5), |federation| {
        (federation.settings.node_id.clone(), federation.settings.min_count)
    });
    let source_reference = state.identity().base_url.clone();
    let built = tokio::task::spawn_blocking(move || {
        federated_response(Federated {
            local_id: &node_id,
            local: &local,
            partners: reports,
            min_count,
            source_reference: &source_reference,
        })
    })
    .await;
    match built {
        Ok(Ok(document)) => Ok(document),
        Ok(Err(error)) => {
            tracing::error!(%error, "cannot build the federated answer");
            Err(BeaconError::internal().into())
        }
        Err(_) => Err(BeaconError::internal().into()),
    }
}

/// One audit row per call to a partner, on this side (the partner writes its own): who asked,
/// which partner, what came of it.
fn partner_audit_rows(context: &RequestContext, reports: &[PartnerReport]) -> Vec<AuditEntry> {
    let subject = context.caller.audit_subject();
    let tier = context.caller.highest_tier().as_str();
    reports
        .iter()
        .map(|report| {
            let status = match &report.outcome {
                Outcome::Answered(_) => 200,
                Outcome::Refused { status, .. } | Outcome::Error { status, .. } => *status,
                Outcome::TimedOut { .. } => 504,
                Outcome::Unavailable { .. } | Outcome::BadAnswer { .. } => 502,
            };
            AuditEntry {
                subject: subject.clone(),
                tier: tier.to_owned(),
                action: "FEDERATE /api/g_variants".to_owned(),
                resource: format!("partner:{}", report.id),
                decision: AuditDecision::of_success(status == 200),
                reason: report.outcome.status().to_owned(),
                status,
                request_id: context.request_id.clone(),
            }
        })
        .collect()
}
