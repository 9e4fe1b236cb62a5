//! `/api/cohorts`, `/api/cohorts/{id}` and `/api/cohorts/{id}/individuals`: the operator's
//! cohorts, as collections. A cohort is a named list of terms; its members are the individuals
//! matching every term, so `/cohorts/{id}/individuals` answers exactly as `/individuals` with
//! those terms as filters, under the same policy. A cohort is listed when the caller sees its
//! dataset (any dataset, for a cohort drawn from all) for the `cohort` entry type; its size only
//! when the caller may count individuals there, rounded like every research count.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Json;
use phare_access::suppression::{DisclosedCount, disclose};
use phare_beacon::response::collections_response;
use phare_beacon::{BeaconError, CollectionRequest, QueryRequest};
use phare_domain::Granularity;
use phare_store::{Cohort, IndividualQuery};
use serde_json::{Value, json};

use crate::access::{Visible, entry_access, spend_budget, visible_datasets};
use crate::entries::{self, Kind};
use crate::guard::RequestContext;
use crate::{ApiError, AppState, json_body, query_pairs};

const ENTRY_TYPE: &str = "cohort";

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    list(&state, &context, &request, None).await
}

pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_body(&json_body(&headers, &body)?)?;
    list(&state, &context, &request, None).await
}

pub(crate) async fn one_get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    list(&state, &context, &request, Some(&id)).await
}

pub(crate) async fn one_post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = CollectionRequest::from_body(&json_body(&headers, &body)?)?;
    list(&state, &context, &request, Some(&id)).await
}

/// The cohorts the caller may see, each with the datasets it is drawn from.
pub(crate) async fn visible_cohorts(
    state: &AppState,
    context: &RequestContext,
) -> Result<Vec<(Cohort, Vec<Visible>)>, ApiError> {
    let visible = visible_datasets(state, &context.caller, ENTRY_TYPE, None, false).await?;
    Ok(state
        .store()
        .cohorts()
        .await?
        .into_iter()
        .filter_map(|cohort| {
            let datasets: Vec<Visible> = visible
                .iter()
                .filter(|seen| {
                    cohort
                        .dataset_id
                        .as_ref()
                        .is_none_or(|wanted| *wanted == seen.dataset.id)
                })
                .cloned()
                .collect();
            (!datasets.is_empty()).then_some((cohort, datasets))
        })
        .collect())
}

pub(crate) fn not_found(id: &str) -> ApiError {
    // The same answer for a hidden cohort as for a missing one.
    BeaconError::not_found(format!("cohort not found: {id}")).into()
}

async fn list(
    state: &AppState,
    context: &RequestContext,
    request: &CollectionRequest,
    only: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    if let Some(filter) = request.filters.first() {
        // Never silently ignored: an unanswered filter would widen the answer.
        return Err(BeaconError::bad_request(format!(
            "filter `{}`: filters are not answered on /cohorts",
            filter.id
        ))
        .into());
    }
    let mut cohorts = visible_cohorts(state, context).await?;
    if let Some(id) = only {
        cohorts.retain(|(cohort, _)| cohort.id == id);
        if cohorts.is_empty() {
            return Err(not_found(id));
        }
    }
    let mut charged: Vec<&Visible> = Vec::new();
    for (_, datasets) in &cohorts {
        for seen in datasets {
            if !charged.iter().any(|known| known.dataset.id == seen.dataset.id) {
                charged.push(seen);
            }
        }
    }
    spend_budget(state, context, charged).await?;
    let offset = usize::try_from(request.skip.saturating_mul(request.limit)).unwrap_or(usize::MAX);
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    let mut page = Vec::new();
    for (cohort, datasets) in cohorts.iter().skip(offset).take(limit) {
        page.push(record(state, context, cohort, datasets).await?);
    }
    Ok(Json(collections_response(
        state.identity(),
        request.summary.clone(),
        ENTRY_TYPE,
        cohorts.len(),
        page,
    )))
}

/// Each term is one filter: a member matches them all.
fn term_filters(state: &AppState, cohort: &Cohort) -> Vec<Vec<String>> {
    cohort
        .terms
        .iter()
        .map(|term| crate::individuals::expand_term(state.ontology(), term, true))
        .collect()
}

/// A `cohort` record: its terms as inclusion criteria (phenotypes, sexes, diseases; terms that
/// are not ontology ids, such as PFMG pre-indication codes, are in `info.terms` only).
async fn record(
    state: &AppState,
    context: &RequestContext,
    cohort: &Cohort,
    datasets: &[Visible],
) -> Result<Value, ApiError> {
    let mut phenotypes = Vec::new();
    let mut sexes = Vec::new();
    let mut diseases = Vec::new();
    for term in &cohort.terms {
        match term.as_str() {
            "NCIT:C16576" => sexes.push(json!({ "id": term, "label": "female" })),
            "NCIT:C20197" => sexes.push(json!({ "id": term, "label": "male" })),
            _ if term.starts_with("HP:") => phenotypes.push(json!({ "featureType": { "id": term } })),
            _ if term.contains(':') => diseases.push(json!({ "diseaseCode": { "id": term } })),
            _ => {}
        }
    }
    let mut criteria = serde_json::Map::new();
    for (key, list) in [
        ("phenotypicConditions", phenotypes),
        ("genders", sexes),
        ("diseaseConditions", diseases),
    ] {
        if !list.is_empty() {
            criteria.insert(key.to_owned(), Value::Array(list));
        }
    }
    let dataset_ids: Vec<&str> = datasets.iter().map(|seen| seen.dataset.id.as_str()).collect();
    let mut document = json!({
        "id": cohort.id,
        "name": cohort.name,
        "cohortType": "beacon-defined",
        "info": { "terms": cohort.terms, "datasetIds": dataset_ids, "createDateTime": cohort.created_at },
    });
    if !criteria.is_empty() {
        document["inclusionCriteria"] = Value::Object(criteria);
    }
    // The size is a count of individuals: only where both the cohort's and the individuals'
    // rules allow counts, rounded as every research count is.
    let mut sizes = Vec::with_capacity(datasets.len());
    for seen in datasets {
        let individuals = entry_access(
            state,
            &context.caller,
            &seen.dataset,
            Kind::Individual.entry_type(),
        );
        if seen.access.rule.max < Granularity::Count || individuals.rule.max < Granularity::Count {
            return Ok(document);
        }
        let query = IndividualQuery {
            research_only: seen.access.is_research(),
            term_filters: term_filters(state, cohort),
            ..IndividualQuery::default()
        };
        let count = state.store().count_individuals(&seen.dataset.id, &query).await?;
        sizes.push(disclose(u64::try_from(count).unwrap_or(0), seen.access.min_count));
    }
    let size = DisclosedCount::sum(sizes);
    document["cohortSize"] = json!(size.value);
    if let Some(range) = size.adjusted_to() {
        document["info"]["cohortSizeAdjustedTo"] = json!(range);
    }
    Ok(document)
}

/// `/cohorts/{id}/individuals`: `/individuals` restricted to the cohort's terms and dataset.
pub(crate) async fn members(
    state: &AppState,
    context: &RequestContext,
    mut request: QueryRequest,
    id: &str,
) -> Result<Json<Value>, ApiError> {
    let cohorts = visible_cohorts(state, context).await?;
    let Some((cohort, _)) = cohorts.iter().find(|(cohort, _)| cohort.id == id) else {
        return Err(not_found(id));
    };
    if let Some(dataset) = &cohort.dataset_id {
        if request
            .dataset_ids
            .as_ref()
            .is_some_and(|wanted| !wanted.contains(dataset))
        {
            return Err(BeaconError::bad_request(format!(
                "`datasetIds`: cohort `{id}` is drawn from dataset `{dataset}` only"
            ))
            .into());
        }
        request.dataset_ids = Some(vec![dataset.clone()]);
    }
    entries::answer(state, context, &request, Kind::Individual, None, &cohort.terms).await
}
