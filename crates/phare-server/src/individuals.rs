//! `individual` records and the term filters of `/individuals` (answered by `entries.rs`).
//! Research and open answers leave out patients who objected and name patients by research
//! identifiers (keyed hashes); only the care space shows care pseudonyms, and only for the
//! clinician's own care centre.

use phare_access::policy::Access;
use phare_beacon::BeaconError;
use phare_beacon::filters::{Filter, FilterKind};
use phare_store::IndividualRecord;
use serde_json::{Value, json};

use crate::AppState;
use crate::resolve::individual_id;

const ENTRY_TYPE: &str = "individual";

/// The term lists of the request's filters: a patient matches a filter when one of its terms
/// is among the patient's phenotypes, diseases, indication or sex.
pub(crate) fn term_filters(filters: &[Filter]) -> Result<Vec<Vec<String>>, BeaconError> {
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
