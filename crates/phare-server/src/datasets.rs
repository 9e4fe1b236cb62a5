//! `/api/datasets` and `/api/datasets/{id}`: the datasets a caller may see, as collections.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Json;
use phare_beacon::response::collections_response;
use phare_beacon::{BeaconError, CollectionRequest};
use phare_store::Dataset;
use serde_json::{Value, json};

use crate::access::{Visible, spend_budget, visible_datasets};
use crate::guard::RequestContext;
use crate::{ApiError, AppState, json_body, query_pairs};

/// The DUO release the stored codes refer to (`duoDataUse[].version`).
const DUO_VERSION: &str = "2021-02-23";

const ENTRY_TYPE: &str = "dataset";

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    list(&state, &context, &request).await
}

pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_body(&json_body(&headers, &body)?)?;
    list(&state, &context, &request).await
}

pub(crate) async fn one(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    single(&state, &context, &id, &request).await
}

pub(crate) async fn one_post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_body(&json_body(&headers, &body)?)?;
    single(&state, &context, &id, &request).await
}

async fn single(
    state: &AppState,
    context: &RequestContext,
    id: &str,
    request: &CollectionRequest,
) -> Result<Json<Value>, ApiError> {
    if let Some(filter) = request.filters.first() {
        // Never silently ignored: datasets are not filtered by terms.
        return Err(BeaconError::bad_request(format!(
            "filter `{}`: filters are not answered on /datasets",
            filter.id
        ))
        .into());
    }
    let visible = visible_datasets(state, &context.caller, ENTRY_TYPE, None, request.test_mode).await?;
    let Some(seen) = visible.into_iter().find(|seen| seen.dataset.id == id) else {
        // The same answer for a hidden dataset as for a missing one.
        return Err(BeaconError::not_found(format!("dataset not found: {id}")).into());
    };
    spend_budget(state, context, std::slice::from_ref(&seen)).await?;
    let document = collections_response(
        state.identity(),
        request.summary.clone(),
        ENTRY_TYPE,
        1,
        vec![record(&seen.dataset)],
    );
    Ok(Json(document))
}

async fn list(
    state: &AppState,
    context: &RequestContext,
    request: &CollectionRequest,
) -> Result<Json<Value>, ApiError> {
    if let Some(filter) = request.filters.first() {
        // Never silently ignored: datasets are not filtered by terms.
        return Err(BeaconError::bad_request(format!(
            "filter `{}`: filters are not answered on /datasets",
            filter.id
        ))
        .into());
    }
    let visible: Vec<Visible> =
        visible_datasets(state, &context.caller, ENTRY_TYPE, None, request.test_mode).await?;
    spend_budget(state, context, &visible).await?;
    let total = visible.len();
    let offset = usize::try_from(request.skip.saturating_mul(request.limit)).unwrap_or(usize::MAX);
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    let page: Vec<Value> = visible
        .iter()
        .skip(offset)
        .take(limit)
        .map(|seen| record(&seen.dataset))
        .collect();
    Ok(Json(collections_response(
        state.identity(),
        request.summary.clone(),
        ENTRY_TYPE,
        total,
        page,
    )))
}

/// A `dataset` record of the default model: what the operator declared, and the assembly.
fn record(dataset: &Dataset) -> Value {
    let mut document = json!({
        "id": dataset.id,
        "name": dataset.name,
        "createDateTime": dataset.created_at,
        "info": { "assemblyId": dataset.assembly.as_str() },
    });
    if let Some(conditions) = dataset.data_use.as_ref().and_then(duo_data_use) {
        document["dataUseConditions"] = json!({ "duoDataUse": conditions });
    }
    document
}

/// `dataUseConditions.duoDataUse`: the permission (a disease-specific one with its disease as
/// modifier, as the specification's example does), then each DUO modifier.
fn duo_data_use(stored: &Value) -> Option<Vec<Value>> {
    let permission = stored.get("permission")?.as_str()?;
    let mut first = json!({ "id": permission, "version": DUO_VERSION });
    if let Some(disease) = stored.get("disease").and_then(Value::as_str) {
        first["modifiers"] = json!([{ "id": disease }]);
    }
    let modifiers = stored
        .get("modifiers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|modifier| json!({ "id": modifier, "version": DUO_VERSION }));
    Some(std::iter::once(first).chain(modifiers).collect())
}
