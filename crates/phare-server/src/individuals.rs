//! `individual` records and the term filters of `/individuals` (answered by `entries.rs`).
//! Research and open answers leave out patients who objected and name patients by research
//! identifiers (keyed hashes); only the care space shows care pseudonyms, and only for the
//! clinician's own care centre.

use phare_access::policy::Access;
use phare_beacon::BeaconError;
use phare_beacon::filters::{Filter, FilterKind};
use phare_ontology::Ontology;
use phare_store::{AgeCondition, IndividualRecord};
use serde_json::{Value, json};

use crate::resolve::individual_id;
use crate::{ApiError, AppState};

/// What the filters of an `/individuals` request select: term lists (a patient matches one when
/// any of its terms is among the patient's phenotypes, diseases, indication or sex) and age
/// conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct IndividualFilters {
    pub terms: Vec<Vec<String>>,
    pub ages: Vec<AgeCondition>,
}

impl IndividualFilters {
    pub(crate) fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.ages.is_empty()
    }
}

/// Ids of alphanumeric filters on the patient's age (`age`, and NCIT's "Age").
const AGE_FILTER_IDS: [&str; 2] = ["age", "NCIT:C25150"];

/// The spellings one term may be stored under: the normalised id (`HP:0001250`,
/// `ORPHA:558`, `PFMG:01`) and, for pre-indications, the manifest's `PFMG-01` form.
fn spellings(ontology: &Ontology, id: &str) -> Vec<String> {
    let normalised = ontology.normalise_id(id);
    let mut spelled = vec![normalised.clone()];
    if let Some(number) = normalised.strip_prefix("PFMG:") {
        spelled.push(format!("PFMG-{number}"));
    }
    if normalised != id.trim() {
        spelled.push(id.trim().to_owned());
    }
    spelled
}

/// One filter's terms: the term and, unless `includeDescendantTerms` is false, every term below
/// it in the loaded ontologies.
pub(crate) fn expand_term(ontology: &Ontology, id: &str, include_descendants: bool) -> Vec<String> {
    let mut terms = spellings(ontology, id);
    if include_descendants {
        for descendant in ontology.with_descendants(&ontology.normalise_id(id)) {
            if !terms.contains(&descendant) {
                terms.push(descendant);
            }
        }
    }
    terms
}

/// Whether an id names something this node can filter on: a term of the loaded ontologies, a
/// PFMG pre-indication, an NCIT sex term, or (asked of the store only for ids none of these
/// know) a term some stored patient carries, in any dataset: whether an id is known must not
/// depend on, and so reveal, what the caller may see.
async fn known_term(state: &AppState, id: &str) -> Result<bool, ApiError> {
    let ontology = state.ontology();
    let normalised = ontology.normalise_id(id);
    let in_vocabulary = ontology.contains(&normalised)
        || phare_ontology::pre_indication(&normalised).is_some()
        || phare_ontology::SEX_TERMS
            .iter()
            .any(|(term, _)| *term == normalised);
    if in_vocabulary {
        return Ok(true);
    }
    Ok(state.store().term_in_use(&spellings(ontology, id)).await?)
}

/// Reads the request's filters for `/individuals` (and `/g_variants`). An id the node cannot
/// filter on is a 400 naming it (an unknown filter is never silently ignored: it would widen
/// the answer).
pub(crate) async fn filters(state: &AppState, filters: &[Filter]) -> Result<IndividualFilters, ApiError> {
    let ontology = state.ontology();
    let mut selected = IndividualFilters::default();
    for filter in filters {
        if let Some(scope) = filter
            .scope
            .as_deref()
            .filter(|scope| !matches!(*scope, "individual" | "individuals"))
        {
            return Err(BeaconError::bad_request(format!(
                "filter `{}`: scope `{scope}` is not answered on /individuals (use `individual`)",
                filter.id
            ))
            .into());
        }
        match &filter.kind {
            FilterKind::Ontology | FilterKind::Custom => {
                if !known_term(state, &filter.id).await? {
                    return Err(BeaconError::bad_request(format!(
                        "unknown filter `{}`: not a term of this node's ontologies or vocabulary (see /api/filtering_terms)",
                        filter.id
                    ))
                    .into());
                }
                selected
                    .terms
                    .push(expand_term(ontology, &filter.id, filter.include_descendants));
            }
            FilterKind::Alphanumeric { operator, value } => {
                if !AGE_FILTER_IDS.contains(&filter.id.as_str()) {
                    return Err(BeaconError::bad_request(format!(
                        "unknown filter `{}`: the alphanumeric filter answered is `age` (ISO 8601 duration)",
                        filter.id
                    ))
                    .into());
                }
                let days = phare_ontology::parse_iso8601_age(value)
                    .map_err(|error| BeaconError::bad_request(format!("filter `{}`: {error}", filter.id)))?;
                selected.ages.push(AgeCondition {
                    operator: operator.as_str().to_owned(),
                    days: days.round() as i64,
                });
            }
        }
    }
    Ok(selected)
}

/// An `individual` record of the default model.
pub(crate) fn record(
    state: &AppState,
    access: &Access,
    dataset_id: &str,
    individual: &IndividualRecord,
) -> Value {
    let (sex_id, sex_label) = match individual.sex.as_str() {
        "female" => ("NCIT:C16576", "female"),
        "male" => ("NCIT:C20197", "male"),
        _ => ("NCIT:C17998", "unknown"),
    };
    let mut document = json!({
        "id": individual_id(state, access, dataset_id, &individual.pseudonym),
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
