//! `/api/datasets` and `/api/datasets/{id}`: the datasets a caller may see, as collections.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Json;
use phare_access::{Caller, DatasetPolicy};
use phare_beacon::response::collections_response;
use phare_beacon::{BeaconError, CollectionRequest};
use phare_domain::Granularity;
use phare_store::Dataset;
use serde_json::{Value, json};

use crate::{ApiError, AppState, json_body, query_pairs};

const ENTRY_TYPE: &str = "dataset";

pub(crate) async fn get(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    list(&state, &Caller::Anonymous, &request).await
}

pub(crate) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_body(&json_body(&headers, &body)?)?;
    list(&state, &Caller::Anonymous, &request).await
}

pub(crate) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = Caller::Anonymous;
    let visible = visible(&state, &caller).await?;
    let Some(dataset) = visible.into_iter().find(|dataset| dataset.id == id) else {
        // The same answer for a hidden dataset as for a missing one.
        return Err(BeaconError::not_found(format!("dataset not found: {id}")).into());
    };
    let request = CollectionRequest::from_query_pairs(&[])?;
    let document = collections_response(
        state.identity(),
        request.summary,
        ENTRY_TYPE,
        1,
        vec![record(&dataset)],
    );
    Ok(Json(document))
}

async fn list(
    state: &AppState,
    caller: &Caller,
    request: &CollectionRequest,
) -> Result<Json<Value>, ApiError> {
    let visible = visible(state, caller).await?;
    let total = visible.len();
    let offset = usize::try_from(request.skip.saturating_mul(request.limit)).unwrap_or(usize::MAX);
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    let page: Vec<Value> = visible.iter().skip(offset).take(limit).map(record).collect();
    Ok(Json(collections_response(
        state.identity(),
        request.summary.clone(),
        ENTRY_TYPE,
        total,
        page,
    )))
}

/// Datasets whose ceiling for this caller is above `none`.
async fn visible(state: &AppState, caller: &Caller) -> Result<Vec<Dataset>, ApiError> {
    Ok(state
        .store()
        .datasets()
        .await?
        .into_iter()
        .filter(|dataset| {
            caller.ceiling(&DatasetPolicy {
                anonymous_max: dataset.anonymous_max,
            }) > Granularity::None
        })
        .collect())
}

/// A `dataset` record of the default model: what the operator declared, and the assembly.
fn record(dataset: &Dataset) -> Value {
    json!({
        "id": dataset.id,
        "name": dataset.name,
        "createDateTime": dataset.created_at,
        "info": { "assemblyId": dataset.assembly.as_str() },
    })
}
