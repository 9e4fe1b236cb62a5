//! Every entry-type endpoint but `/g_variants` queries and the collections: `/individuals`,
//! `/biosamples`, `/runs`, `/analyses` (GET and POST, with `/{id}`), `/g_variants/{id}`, and
//! the cross look-ups (`/biosamples/{id}/g_variants`, `/datasets/{id}/individuals`, …). One
//! path for all: the datasets the caller sees for the entry type returned (and, for a cross
//! look-up, for the one named in the path: the lower of the two rules holds), the operator's
//! switches, the budget, then per dataset the id resolved, the entries counted (rounded in
//! research and open answers) and, at record granularity, one page of records.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Json;
use phare_access::answer_granularity;
use phare_access::policy::EntryRule;
use phare_beacon::response::{DatasetAnswer, query_response};
use phare_beacon::{BeaconError, QueryRequest};
use phare_domain::Granularity;
use phare_store::{BiosampleQuery, ColumnQuery, IndividualQuery};
use serde_json::Value;

use crate::access::{
    Visible, check_switches, disclosed_answer, entry_access, spend_budget, visible_datasets,
};
use crate::guard::RequestContext;
use crate::individuals::IndividualFilters;
use crate::resolve::{Named, resolve};
use crate::{ApiError, AppState, cohorts, g_variants, individuals, json_body, query_pairs, records};

/// The entry types answered here, as `QueryRequest`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Individual,
    Biosample,
    Run,
    Analysis,
    Variant,
}

impl Kind {
    /// The entry type id, as the policy table and `returnedSchemas` name it.
    pub(crate) fn entry_type(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Biosample => "biosample",
            Self::Run => "run",
            Self::Analysis => "analysis",
            Self::Variant => "genomicVariation",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Self::Individual => "individuals",
            Self::Biosample => "biosamples",
            Self::Run => "runs",
            Self::Analysis => "analyses",
            Self::Variant => "variants",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Self::Individual => "individual",
            Self::Biosample => "biosample",
            Self::Run => "run",
            Self::Analysis => "analysis",
            Self::Variant => "variant",
        }
    }
}

/// What a path's `{id}` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    /// No id: every entry.
    Nothing,
    /// An entry of the returned type, or of another one (cross look-ups).
    Entry(Kind),
    /// A dataset: every entry of it.
    Dataset,
    /// A cohort: its members.
    Cohort,
}

/// Every route answered here: path under `/api`, entry type returned, what `{id}` names.
pub(crate) const ROUTES: &[(&str, Kind, Subject)] = &[
    ("/individuals", Kind::Individual, Subject::Nothing),
    (
        "/individuals/{id}",
        Kind::Individual,
        Subject::Entry(Kind::Individual),
    ),
    (
        "/individuals/{id}/g_variants",
        Kind::Variant,
        Subject::Entry(Kind::Individual),
    ),
    (
        "/individuals/{id}/biosamples",
        Kind::Biosample,
        Subject::Entry(Kind::Individual),
    ),
    ("/biosamples", Kind::Biosample, Subject::Nothing),
    (
        "/biosamples/{id}",
        Kind::Biosample,
        Subject::Entry(Kind::Biosample),
    ),
    (
        "/biosamples/{id}/g_variants",
        Kind::Variant,
        Subject::Entry(Kind::Biosample),
    ),
    (
        "/biosamples/{id}/runs",
        Kind::Run,
        Subject::Entry(Kind::Biosample),
    ),
    (
        "/biosamples/{id}/analyses",
        Kind::Analysis,
        Subject::Entry(Kind::Biosample),
    ),
    ("/runs", Kind::Run, Subject::Nothing),
    ("/runs/{id}", Kind::Run, Subject::Entry(Kind::Run)),
    ("/runs/{id}/g_variants", Kind::Variant, Subject::Entry(Kind::Run)),
    ("/runs/{id}/analyses", Kind::Analysis, Subject::Entry(Kind::Run)),
    ("/analyses", Kind::Analysis, Subject::Nothing),
    ("/analyses/{id}", Kind::Analysis, Subject::Entry(Kind::Analysis)),
    (
        "/analyses/{id}/g_variants",
        Kind::Variant,
        Subject::Entry(Kind::Analysis),
    ),
    ("/g_variants/{id}", Kind::Variant, Subject::Entry(Kind::Variant)),
    (
        "/g_variants/{id}/biosamples",
        Kind::Biosample,
        Subject::Entry(Kind::Variant),
    ),
    (
        "/g_variants/{id}/individuals",
        Kind::Individual,
        Subject::Entry(Kind::Variant),
    ),
    ("/datasets/{id}/g_variants", Kind::Variant, Subject::Dataset),
    ("/datasets/{id}/biosamples", Kind::Biosample, Subject::Dataset),
    ("/datasets/{id}/individuals", Kind::Individual, Subject::Dataset),
    ("/cohorts/{id}/individuals", Kind::Individual, Subject::Cohort),
];

pub(crate) async fn list_get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    matched: MatchedPath,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    dispatch(&state, &context, matched.as_str(), None, request).await
}

pub(crate) async fn list_post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    matched: MatchedPath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_body(&json_body(&headers, &body)?)?;
    dispatch(&state, &context, matched.as_str(), None, request).await
}

pub(crate) async fn one_get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    matched: MatchedPath,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    dispatch(&state, &context, matched.as_str(), Some(id), request).await
}

pub(crate) async fn one_post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    matched: MatchedPath,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_body(&json_body(&headers, &body)?)?;
    dispatch(&state, &context, matched.as_str(), Some(id), request).await
}

async fn dispatch(
    state: &AppState,
    context: &RequestContext,
    matched: &str,
    id: Option<String>,
    mut request: QueryRequest,
) -> Result<Json<Value>, ApiError> {
    let route = matched.strip_prefix("/api").unwrap_or(matched);
    let Some((_, kind, subject)) = ROUTES.iter().find(|(path, ..)| *path == route) else {
        return Err(
            BeaconError::not_found("no such endpoint: see /api/map for what this node serves").into(),
        );
    };
    match (subject, id) {
        (Subject::Nothing, _) => answer(state, context, &request, *kind, None, &[]).await,
        (Subject::Entry(named), Some(id)) => {
            answer(state, context, &request, *kind, Some((*named, &id)), &[]).await
        }
        (Subject::Dataset, Some(id)) => {
            if request
                .dataset_ids
                .as_ref()
                .is_some_and(|wanted| wanted != std::slice::from_ref(&id))
            {
                return Err(BeaconError::bad_request(format!(
                    "`datasetIds` cannot name other datasets than the one in the path (`{id}`)"
                ))
                .into());
            }
            request.dataset_ids = Some(vec![id]);
            if *kind == Kind::Variant && request.query.is_some() {
                return g_variants::answer(state, context, &request).await;
            }
            answer(state, context, &request, *kind, None, &[]).await
        }
        (Subject::Cohort, Some(id)) => cohorts::members(state, context, request, &id).await,
        _ => Err(BeaconError::not_found("no such endpoint: see /api/map for what this node serves").into()),
    }
}

/// Answers for `kind` entries, all of them or those related to the entry `named` names, within
/// the request's datasets. `member_terms` are a cohort's terms, matched as filters are.
pub(crate) async fn answer(
    state: &AppState,
    context: &RequestContext,
    request: &QueryRequest,
    kind: Kind,
    named: Option<(Kind, &str)>,
    member_terms: &[String],
) -> Result<Json<Value>, ApiError> {
    if request.query.is_some() {
        return Err(BeaconError::bad_request(format!(
            "genomic parameters are not answered on this endpoint ({}): ask /g_variants for the variant",
            kind.plural()
        ))
        .into());
    }
    let mut filters = if kind == Kind::Individual {
        individuals::filters(state, &request.filters).await?
    } else if let Some(filter) = request.filters.first() {
        // Never silently ignored: an unanswered filter would widen the answer.
        return Err(BeaconError::bad_request(format!(
            "filter `{}`: filters are not answered on {} (ask /individuals)",
            filter.id,
            kind.plural()
        ))
        .into());
    } else {
        IndividualFilters::default()
    };
    let unfiltered = named.is_none() && filters.is_empty() && member_terms.is_empty();
    filters.terms.extend(
        member_terms
            .iter()
            .map(|term| individuals::expand_term(state.ontology(), term, true)),
    );
    let mut visible = visible_datasets(
        state,
        &context.caller,
        kind.entry_type(),
        request.dataset_ids.as_deref(),
        request.test_mode,
    )
    .await?;
    if let Some((named_kind, _)) = named
        && named_kind != kind
    {
        visible = with_named_rule(
            state,
            context,
            visible,
            named_kind,
            request.dataset_ids.as_deref(),
        )?;
    }
    let what = named.map_or(kind, |(named_kind, _)| named_kind).plural();
    check_switches(
        context,
        visible.iter().map(|seen| &seen.access),
        what,
        named.is_some(),
        unfiltered,
    )?;
    spend_budget(state, context, &visible).await?;
    let ceilings: Vec<Granularity> = visible.iter().map(|seen| seen.access.rule.max).collect();
    let page = Page {
        returned: answer_granularity(request.requested_granularity, &ceilings),
        offset: i64::try_from(request.skip.saturating_mul(request.limit)).unwrap_or(i64::MAX),
        limit: i64::try_from(request.limit).unwrap_or(i64::MAX),
    };
    let mut answers = Vec::with_capacity(visible.len());
    let mut found_named = false;
    for seen in &visible {
        let subject = match named {
            None => None,
            Some((named_kind, id)) => match resolve(state, seen, named_kind, id).await? {
                Some(found) => Some(found),
                None => {
                    answers.push(empty_answer(&seen.dataset.id));
                    continue;
                }
            },
        };
        found_named = true;
        let (count, records) = match kind {
            Kind::Individual => individuals_of(state, seen, subject, &filters, &page).await?,
            Kind::Biosample => biosamples_of(state, seen, subject, &page).await?,
            Kind::Run | Kind::Analysis => columns_of(state, seen, kind, subject, &page).await?,
            Kind::Variant => variants_of(state, context, seen, subject, &page).await?,
        };
        answers.push(disclosed_answer(
            &seen.dataset.id,
            count,
            seen.access.min_count,
            records,
        ));
    }
    if let Some((named_kind, _)) = named
        && !found_named
    {
        // The same answer for an entry of a hidden dataset as for one that does not exist.
        return Err(BeaconError::not_found(format!(
            "no {} with this id in the datasets you may see",
            named_kind.singular()
        ))
        .into());
    }
    Ok(Json(query_response(
        state.identity(),
        request,
        page.returned,
        &answers,
        kind.entry_type(),
    )))
}

/// A cross look-up reads two entry types of each dataset: the lower rule of the two holds, and
/// a dataset whose named entry type is closed to the caller is not searched.
fn with_named_rule(
    state: &AppState,
    context: &RequestContext,
    visible: Vec<Visible>,
    named_kind: Kind,
    wanted: Option<&[String]>,
) -> Result<Vec<Visible>, ApiError> {
    let mut kept = Vec::with_capacity(visible.len());
    let mut closed = Vec::new();
    for mut seen in visible {
        let other = entry_access(state, &context.caller, &seen.dataset, named_kind.entry_type());
        if other.rule.max == Granularity::None {
            closed.push(seen.dataset.id.clone());
            continue;
        }
        let rule = seen.access.rule;
        seen.access.rule = EntryRule {
            max: rule.max.min(other.rule.max),
            id_lookups: rule.id_lookups && other.rule.id_lookups,
            unfiltered_queries: rule.unfiltered_queries && other.rule.unfiltered_queries,
        };
        kept.push(seen);
    }
    if wanted.is_some() && !closed.is_empty() {
        return Err(BeaconError::not_found(format!("dataset(s) not found: {}", closed.join(", "))).into());
    }
    Ok(kept)
}

/// The granularity of the answer and the page asked for.
struct Page {
    returned: Granularity,
    offset: i64,
    limit: i64,
}

impl Page {
    fn records(&self) -> bool {
        self.returned == Granularity::Record
    }

    /// This page of an in-memory list.
    fn of<T: Clone>(&self, items: &[T]) -> Vec<T> {
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        items.iter().skip(offset).take(limit).cloned().collect()
    }
}

fn empty_answer(dataset_id: &str) -> DatasetAnswer {
    DatasetAnswer {
        dataset_id: dataset_id.to_owned(),
        count: 0,
        count_range: None,
        records: Vec::new(),
    }
}

/// A path/entry pairing the routes never produce.
fn unrouted() -> ApiError {
    ApiError::from(BeaconError::internal())
}

/// The columns (runs) that count for the caller, in the dataset's scope.
fn scoped_columns(seen: &Visible) -> ColumnQuery {
    ColumnQuery {
        research_only: seen.access.is_research(),
        ..ColumnQuery::default()
    }
}

/// Distinct values, in first-seen order.
fn distinct<T: PartialEq + Copy>(values: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut unique = Vec::new();
    for value in values {
        if !unique.contains(&value) {
            unique.push(value);
        }
    }
    unique
}

async fn individuals_of(
    state: &AppState,
    seen: &Visible,
    subject: Option<Named>,
    filters: &IndividualFilters,
    page: &Page,
) -> Result<(i64, Vec<Value>), ApiError> {
    let dataset_id = &seen.dataset.id;
    let ids = match subject {
        None => None,
        Some(Named::Individual(id)) => Some(vec![id]),
        Some(Named::Variant(variant_id)) => {
            let carriers = state
                .store()
                .carriers(dataset_id, &[variant_id], &scoped_columns(seen))
                .await?;
            let carriers = carriers.get(&variant_id).map(Vec::as_slice).unwrap_or_default();
            Some(distinct(
                carriers.iter().map(|carrier| carrier.column.individual_id),
            ))
        }
        Some(_) => return Err(unrouted()),
    };
    let query = IndividualQuery {
        research_only: seen.access.is_research(),
        term_filters: filters.terms.clone(),
        care_centre: None,
        pseudonym: None,
        ids,
        age_conditions: filters.ages.clone(),
    };
    let count = state.store().count_individuals(dataset_id, &query).await?;
    if !page.records() {
        return Ok((count, Vec::new()));
    }
    // Care answers show records of the clinician's own centre only; counts cover all.
    let page_query = IndividualQuery {
        care_centre: seen.access.care_centre.clone(),
        ..query
    };
    let records = state
        .store()
        .find_individuals(dataset_id, &page_query, page.offset, page.limit)
        .await?
        .iter()
        .map(|individual| individuals::record(state, &seen.access, dataset_id, individual))
        .collect();
    Ok((count, records))
}

async fn biosamples_of(
    state: &AppState,
    seen: &Visible,
    subject: Option<Named>,
    page: &Page,
) -> Result<(i64, Vec<Value>), ApiError> {
    let dataset_id = &seen.dataset.id;
    let mut query = BiosampleQuery {
        research_only: seen.access.is_research(),
        ..BiosampleQuery::default()
    };
    match subject {
        None => {}
        Some(Named::Biosample(id)) => query.ids = Some(vec![id]),
        Some(Named::Individual(id)) => query.individual_ids = Some(vec![id]),
        Some(Named::Variant(variant_id)) => {
            let carriers = state
                .store()
                .carriers(dataset_id, &[variant_id], &scoped_columns(seen))
                .await?;
            let carriers = carriers.get(&variant_id).map(Vec::as_slice).unwrap_or_default();
            query.ids = Some(distinct(
                carriers.iter().map(|carrier| carrier.column.biosample_id),
            ));
        }
        Some(Named::Column(..)) => return Err(unrouted()),
    }
    let count = state.store().count_biosamples(dataset_id, &query).await?;
    if !page.records() {
        return Ok((count, Vec::new()));
    }
    let page_query = BiosampleQuery {
        care_centre: seen.access.care_centre.clone(),
        ..query
    };
    let records = state
        .store()
        .find_biosamples(dataset_id, &page_query, page.offset, Some(page.limit))
        .await?
        .iter()
        .map(|biosample| records::biosample(state, &seen.access, dataset_id, biosample))
        .collect();
    Ok((count, records))
}

async fn columns_of(
    state: &AppState,
    seen: &Visible,
    kind: Kind,
    subject: Option<Named>,
    page: &Page,
) -> Result<(i64, Vec<Value>), ApiError> {
    let dataset_id = &seen.dataset.id;
    let mut query = scoped_columns(seen);
    match subject {
        None => {}
        Some(Named::Column(analysis, index)) => query.columns = Some(vec![(analysis, index)]),
        Some(Named::Biosample(id)) => query.biosample_ids = Some(vec![id]),
        Some(_) => return Err(unrouted()),
    }
    let count = state.store().count_columns(dataset_id, &query).await?;
    if !page.records() {
        return Ok((count, Vec::new()));
    }
    let page_query = ColumnQuery {
        care_centre: seen.access.care_centre.clone(),
        ..query
    };
    let records = state
        .store()
        .find_columns(dataset_id, &page_query, page.offset, Some(page.limit))
        .await?
        .iter()
        .map(|column| match kind {
            Kind::Run => records::run(state, &seen.access, dataset_id, column),
            _ => records::analysis(state, &seen.access, dataset_id, column),
        })
        .collect();
    Ok((count, records))
}

async fn variants_of(
    state: &AppState,
    context: &RequestContext,
    seen: &Visible,
    subject: Option<Named>,
    page: &Page,
) -> Result<(i64, Vec<Value>), ApiError> {
    let store = state.store();
    let dataset_id = &seen.dataset.id;
    let scope = seen.access.scope.as_str();
    let (count, page_ids) = match subject {
        None => {
            let count = store.count_dataset_variants(dataset_id, scope).await?;
            let ids = if page.records() {
                store
                    .dataset_variant_ids(dataset_id, scope, page.offset, page.limit)
                    .await?
            } else {
                Vec::new()
            };
            (count, ids)
        }
        Some(Named::Variant(variant_id)) => (1, vec![variant_id]),
        Some(sample) => {
            let mut query = scoped_columns(seen);
            match sample {
                Named::Column(analysis, index) => query.columns = Some(vec![(analysis, index)]),
                Named::Biosample(id) => query.biosample_ids = Some(vec![id]),
                Named::Individual(id) => {
                    let biosamples = BiosampleQuery {
                        research_only: seen.access.is_research(),
                        individual_ids: Some(vec![id]),
                        ..BiosampleQuery::default()
                    };
                    let found = store.find_biosamples(dataset_id, &biosamples, 0, None).await?;
                    query.biosample_ids = Some(found.iter().map(|biosample| biosample.id).collect());
                }
                Named::Variant(_) => return Err(unrouted()),
            }
            let columns = store.find_columns(dataset_id, &query, 0, None).await?;
            let keys: Vec<(i64, i32)> = columns
                .iter()
                .map(|column| (column.analysis_id, column.sample_index))
                .collect();
            let ids = store.column_variant_ids(dataset_id, scope, &keys, None).await?;
            // A clinician sees the variants of their own centre's patients only; counts cover all.
            let own = seen.access.is_research()
                || columns.iter().all(|column| {
                    column.care_centre.is_some() && column.care_centre == seen.access.care_centre
                });
            let count = i64::try_from(ids.len()).unwrap_or(i64::MAX);
            (count, if own { page.of(&ids) } else { Vec::new() })
        }
    };
    if !page.records() || page_ids.is_empty() {
        return Ok((count, Vec::new()));
    }
    let variants = store.variants_by_ids(dataset_id, scope, &page_ids).await?;
    let records = g_variants::records(state, context, seen, &variants).await?;
    Ok((count, records))
}
