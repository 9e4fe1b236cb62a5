//! `/api/individuals` (GET, POST) and `/api/individuals/{id}`: patients, filtered by ontology
//! terms. Research and open answers leave out patients who objected and name patients by
//! research identifiers (keyed hashes); only the care space shows care pseudonyms, and only
//! for the clinician's own care centre.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Json;
use phare_access::answer_granularity;
use phare_access::policy::Access;
use phare_access::suppression::disclose;
use phare_beacon::filters::{Filter, FilterKind};
use phare_beacon::response::{DatasetAnswer, query_response};
use phare_beacon::{BeaconError, QueryRequest};
use phare_domain::Granularity;
use phare_store::{IndividualQuery, IndividualRecord};
use serde_json::{Value, json};

use crate::access::{Visible, spend_budget, visible_datasets};
use crate::guard::RequestContext;
use crate::{ApiError, AppState, json_body, query_pairs};

const ENTRY_TYPE: &str = "individual";

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    answer(&state, &context, &request, None).await
}

pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_body(&json_body(&headers, &body)?)?;
    answer(&state, &context, &request, None).await
}

pub(crate) async fn one(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    answer(&state, &context, &request, Some(&id)).await
}

/// The term lists of the request's filters: a patient matches a filter when one of its terms
/// is among the patient's phenotypes, diseases, indication or sex.
fn term_filters(filters: &[Filter]) -> Result<Vec<Vec<String>>, BeaconError> {
    filters
        .iter()
        .map(|filter| match &filter.kind {
            FilterKind::Ontology | FilterKind::Custom => {
                if let Some(scope) = filter.scope.as_deref().filter(|scope| *scope != ENTRY_TYPE) {
                    return Err(BeaconError::bad_request(format!(
                        "filter `{}`: scope `{scope}` is not answered on /individuals (use `individual`)",
                        filter.id
                    )));
                }
                Ok(vec![filter.id.clone()])
            }
            FilterKind::Alphanumeric { .. } => Err(BeaconError::bad_request(format!(
                "filter `{}`: alphanumeric filters are not answered on /individuals",
                filter.id
            ))),
        })
        .collect()
}

async fn answer(
    state: &AppState,
    context: &RequestContext,
    request: &QueryRequest,
    id: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    if request.query.is_some() {
        return Err(BeaconError::bad_request(
            "genomic parameters are not answered on /individuals: ask /g_variants for the variant",
        )
        .into());
    }
    let filters = term_filters(&request.filters)?;
    let visible =
        visible_datasets(state, &context.caller, ENTRY_TYPE, request.dataset_ids.as_deref()).await?;
    check_switches(context, &visible, id.is_some(), filters.is_empty())?;
    spend_budget(state, context, &visible).await?;
    let ceilings: Vec<Granularity> = visible.iter().map(|seen| seen.access.rule.max).collect();
    let returned = answer_granularity(request.requested_granularity, &ceilings);
    let offset = i64::try_from(request.skip.saturating_mul(request.limit)).unwrap_or(i64::MAX);
    let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
    let mut answers = Vec::with_capacity(visible.len());
    for seen in &visible {
        let dataset_id = &seen.dataset.id;
        let Some(pseudonym) = (match id {
            Some(id) => resolve(state, seen, id).await?,
            None => Some(String::new()),
        }) else {
            answers.push(empty_answer(dataset_id));
            continue;
        };
        let query = IndividualQuery {
            research_only: seen.access.is_research(),
            term_filters: filters.clone(),
            care_centre: None,
            pseudonym: id.map(|_| pseudonym),
        };
        let count = state.store().count_individuals(dataset_id, &query).await?;
        let disclosed = disclose(u64::try_from(count).unwrap_or(0), seen.access.min_count);
        let records = if returned == Granularity::Record {
            // Care answers show records of the clinician's own centre only; counts cover all.
            let page_query = IndividualQuery {
                care_centre: seen.access.care_centre.clone(),
                ..query
            };
            state
                .store()
                .find_individuals(dataset_id, &page_query, offset, limit)
                .await?
                .iter()
                .map(|individual| record(state, &seen.access, dataset_id, individual))
                .collect()
        } else {
            Vec::new()
        };
        answers.push(DatasetAnswer {
            dataset_id: dataset_id.clone(),
            count: disclosed.value,
            count_range: disclosed
                .adjusted_to()
                .map(|_| (disclosed.lowest, disclosed.highest)),
            records,
        });
    }
    Ok(Json(query_response(
        state.identity(),
        request,
        returned,
        &answers,
        ENTRY_TYPE,
    )))
}

fn empty_answer(dataset_id: &str) -> DatasetAnswer {
    DatasetAnswer {
        dataset_id: dataset_id.to_owned(),
        count: 0,
        count_range: None,
        records: Vec::new(),
    }
}

/// The operator's switches: id look-ups and unfiltered queries may be closed per tier. A
/// caller without credentials is told to authenticate (401); one with credentials that do not
/// allow it gets 403. Neither says whether anything exists.
fn check_switches(
    context: &RequestContext,
    visible: &[Visible],
    by_id: bool,
    unfiltered: bool,
) -> Result<(), ApiError> {
    let refused = visible.iter().any(|seen| {
        (by_id && !seen.access.rule.id_lookups)
            || (!by_id && unfiltered && !seen.access.rule.unfiltered_queries)
    });
    if !refused {
        return Ok(());
    }
    let what = if by_id {
        "look-ups by id"
    } else {
        "queries without filters"
    };
    if context.caller.subject.is_none() {
        return Err(BeaconError::unauthorized(format!("{what} of individuals need credentials")).into());
    }
    Err(BeaconError::forbidden(format!(
        "{what} of individuals are not allowed for these credentials"
    ))
    .into())
}

/// The care pseudonym an id names in a dataset, as the caller may name patients: research
/// identifiers in research and open answers, care pseudonyms (of any centre: the answer's
/// records are still limited to the caller's centre) in the care space.
async fn resolve(state: &AppState, seen: &Visible, id: &str) -> Result<Option<String>, ApiError> {
    let dataset_id = &seen.dataset.id;
    if !seen.access.is_research() {
        return Ok(Some(id.to_owned()));
    }
    if !id.starts_with("ri-") {
        return Ok(None);
    }
    let everyone = IndividualQuery {
        research_only: true,
        ..IndividualQuery::default()
    };
    let keys = &state.access().keys;
    Ok(state
        .store()
        .individual_pseudonyms(dataset_id, &everyone)
        .await?
        .into_iter()
        .find(|pseudonym| keys.research_individual(dataset_id, pseudonym) == id))
}

/// An `individual` record of the default model.
fn record(state: &AppState, access: &Access, dataset_id: &str, individual: &IndividualRecord) -> Value {
    let (sex_id, sex_label) = match individual.sex.as_str() {
        "female" => ("NCIT:C16576", "female"),
        "male" => ("NCIT:C20197", "male"),
        _ => ("NCIT:C17998", "unknown"),
    };
    let id = if access.is_research() {
        state
            .access()
            .keys
            .research_individual(dataset_id, &individual.pseudonym)
    } else {
        individual.pseudonym.clone()
    };
    let mut document = json!({
        "id": id,
        "sex": { "id": sex_id, "label": sex_label },
    });
    if let Some(country) = &individual.country {
        document["geographicOrigin"] = json!({ "id": format!("ISO3166:{country}"), "label": country });
    }
    if !individual.phenotypes.is_empty() {
        document["phenotypicFeatures"] = individual
            .phenotypes
            .iter()
            .map(|term| json!({ "featureType": { "id": term } }))
            .collect();
    }
    if !individual.diseases.is_empty() {
        document["diseases"] = individual
            .diseases
            .iter()
            .map(|term| json!({ "diseaseCode": { "id": term } }))
            .collect();
    }
    let mut info = json!({ "datasetId": dataset_id });
    if let Some(indication) = &individual.indication {
        info["indication"] = json!(indication);
    }
    if !access.is_research()
        && let Some(centre) = &individual.care_centre
    {
        info["careCentre"] = json!(centre);
    }
    document["info"] = info;
    document
}
