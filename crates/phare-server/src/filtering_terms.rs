//! `/filtering_terms` and its scoped forms: the filters each endpoint answers. `/individuals`
//! takes filters, and `/g_variants` reads the same ones (variants carried by the individuals
//! they select); biosamples, runs, analyses, datasets and cohorts take none and list none. A term carried by fewer patients than a dataset's small-count
//! threshold is not listed in research and open answers: its mere presence would tell that a
//! rare phenotype is among the patients.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::Json;
use phare_beacon::{BeaconError, CollectionRequest};
use phare_ontology::{FilteringTerm, FilteringTermKind, PRE_INDICATIONS, SEX_TERMS};
use serde_json::{Value, json};

use crate::access::{Visible, spend_budget, visible_datasets};
use crate::guard::RequestContext;
use crate::{ApiError, AppState, query_pairs};

const SCOPE: &str = "individual";

/// `/filtering_terms`, `/individuals/filtering_terms`, `/g_variants/filtering_terms`: every
/// term of the datasets the caller sees individuals of.
pub(crate) async fn individuals(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let paging = Paging::read(query.as_deref())?;
    let visible = visible_datasets(&state, &context.caller, SCOPE, None, false).await?;
    spend_budget(&state, &context, &visible).await?;
    let terms = individual_terms(&state, &visible).await?;
    Ok(Json(document(&state, &paging.of(terms))))
}

/// `/datasets/{id}/filtering_terms`: the terms of one dataset (404 when hidden or missing).
pub(crate) async fn dataset(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let paging = Paging::read(query.as_deref())?;
    let wanted = [id];
    let visible = visible_datasets(&state, &context.caller, SCOPE, Some(&wanted), false).await?;
    spend_budget(&state, &context, &visible).await?;
    let terms = individual_terms(&state, &visible).await?;
    Ok(Json(document(&state, &paging.of(terms))))
}

/// `/cohorts/{id}/filtering_terms`: the terms defining the cohort.
pub(crate) async fn cohort(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let paging = Paging::read(query.as_deref())?;
    let Some((cohort, datasets)) = crate::cohorts::visible_cohorts(&state, &context)
        .await?
        .into_iter()
        .find(|(cohort, _)| cohort.id == id)
    else {
        return Err(crate::cohorts::not_found(&id));
    };
    spend_budget(&state, &context, &datasets).await?;
    let terms: Vec<FilteringTerm> = cohort.terms.iter().map(|term| describe(&state, term)).collect();
    Ok(Json(document(&state, &paging.of(terms))))
}

/// The filtering terms of entry types that take no filters: an empty, valid list.
pub(crate) async fn none(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    Paging::read(query.as_deref())?;
    Ok(Json(document(&state, &[])))
}

/// `skip` (pages) and `limit` of a filtering-terms listing; any other parameter is a 400.
struct Paging {
    skip: usize,
    limit: usize,
}

impl Paging {
    fn read(query: Option<&str>) -> Result<Self, ApiError> {
        let pairs = query_pairs(query)?;
        if let Some((name, _)) = pairs
            .iter()
            .find(|(name, _)| !matches!(name.as_str(), "skip" | "limit"))
        {
            return Err(BeaconError::bad_request(format!(
                "unknown request parameter `{name}`: filtering terms take `skip` and `limit`"
            ))
            .into());
        }
        let request = CollectionRequest::from_query_pairs(&pairs)?;
        Ok(Self {
            skip: usize::try_from(request.skip).unwrap_or(usize::MAX),
            limit: usize::try_from(request.limit).unwrap_or(usize::MAX),
        })
    }

    fn of(&self, terms: Vec<FilteringTerm>) -> Vec<FilteringTerm> {
        terms
            .into_iter()
            .skip(self.skip.saturating_mul(self.limit))
            .take(self.limit)
            .collect()
    }
}

fn document(state: &AppState, terms: &[FilteringTerm]) -> Value {
    json!({
        "meta": state.identity().informational_meta(&[json!({
            "entityType": "filteringTerm",
            "schema": "beacon-filtering-terms-v2.0.0",
        })]),
        "response": state.ontology().filtering_terms_document(terms),
    })
}

/// A term with its label (from the loaded ontologies, the PFMG vocabulary or NCIT sex terms)
/// and its kind.
fn describe(state: &AppState, id: &str) -> FilteringTerm {
    let ontology = state.ontology();
    let normalised = ontology.normalise_id(id);
    if let Some(indication) = phare_ontology::pre_indication(&normalised) {
        return FilteringTerm {
            id: indication.id.to_owned(),
            label: Some(indication.label_en.to_owned()),
            kind: FilteringTermKind::Custom,
            scopes: vec![SCOPE],
        };
    }
    let label = ontology.label(&normalised).map(str::to_owned).or_else(|| {
        SEX_TERMS
            .iter()
            .find(|(term, _)| *term == normalised)
            .map(|(_, label)| (*label).to_owned())
    });
    let kind = if normalised.contains(':') {
        FilteringTermKind::OntologyTerm
    } else {
        FilteringTermKind::Custom
    };
    FilteringTerm {
        id: normalised,
        label,
        kind,
        scopes: vec![SCOPE],
    }
}

/// Terms stored for the patients of these datasets that the caller may learn of, plus the
/// vocabulary every node answers: sex terms, the PFMG pre-indications and `age`.
async fn individual_terms(state: &AppState, visible: &[Visible]) -> Result<Vec<FilteringTerm>, ApiError> {
    let mut ids: Vec<String> = SEX_TERMS.iter().map(|(term, _)| (*term).to_owned()).collect();
    ids.extend(PRE_INDICATIONS.iter().map(|indication| indication.id.to_owned()));
    for seen in visible {
        let used = state
            .store()
            .used_terms(std::slice::from_ref(&seen.dataset.id), seen.access.is_research())
            .await?;
        let threshold = i64::from(seen.access.min_count);
        for (term, patients) in used {
            let id = state.ontology().normalise_id(&term);
            if patients >= threshold && !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let mut terms: Vec<FilteringTerm> = ids.iter().map(|id| describe(state, id)).collect();
    terms.sort_by(|left, right| left.id.cmp(&right.id));
    terms.push(FilteringTerm {
        id: "age".into(),
        label: Some("age at sampling (ISO 8601 duration, e.g. P40Y)".into()),
        kind: FilteringTermKind::Alphanumeric,
        scopes: vec![SCOPE],
    });
    Ok(terms)
}
