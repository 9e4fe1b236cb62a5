//! `biosample`, `run` and `analysis` records of the default model, from what ingestion stored.
//! Research and open answers name entries by keyed identifiers only and leave out sample
//! names, file names and care centres; the care space shows them.

use phare_access::policy::Access;
use phare_store::{BiosampleRecord, ColumnRecord};
use serde_json::{Value, json};

use crate::AppState;
use crate::entries::Kind;
use crate::resolve::{biosample_id, column_id, individual_id};

/// Neither the manifest nor the VCF says what the sample is or where it comes from.
fn unknown_term() -> Value {
    json!({ "id": "NCIT:C17998", "label": "Unknown" })
}

pub(crate) fn biosample(
    state: &AppState,
    access: &Access,
    dataset_id: &str,
    biosample: &BiosampleRecord,
) -> Value {
    let mut info = json!({ "datasetId": dataset_id });
    if !access.is_research()
        && let Some(centre) = &biosample.care_centre
    {
        info["careCentre"] = json!(centre);
    }
    json!({
        "id": biosample_id(state, access, dataset_id, &biosample.external_id),
        "individualId": individual_id(state, access, dataset_id, &biosample.pseudonym),
        "biosampleStatus": unknown_term(),
        "sampleOriginType": unknown_term(),
        "info": info,
    })
}

/// A run: the sequencing of one biosample that one ingested file holds (its column). The run
/// date is the day of ingestion, the only date Phare knows.
pub(crate) fn run(state: &AppState, access: &Access, dataset_id: &str, column: &ColumnRecord) -> Value {
    json!({
        "id": column_id(state, access, dataset_id, Kind::Run, column),
        "biosampleId": biosample_id(state, access, dataset_id, &column.external_id),
        "individualId": individual_id(state, access, dataset_id, &column.pseudonym),
        "runDate": column.created_on,
        "info": column_info(access, dataset_id, column),
    })
}

/// An analysis: the variant calls of one file column. The pipeline is not recorded by
/// platforms' manifests, so it is stated as unknown rather than guessed.
pub(crate) fn analysis(state: &AppState, access: &Access, dataset_id: &str, column: &ColumnRecord) -> Value {
    json!({
        "id": column_id(state, access, dataset_id, Kind::Analysis, column),
        "runId": column_id(state, access, dataset_id, Kind::Run, column),
        "biosampleId": biosample_id(state, access, dataset_id, &column.external_id),
        "individualId": individual_id(state, access, dataset_id, &column.pseudonym),
        "pipelineName": "unknown",
        "analysisDate": column.created_on,
        "info": column_info(access, dataset_id, column),
    })
}

/// The container as people name it (`analyses.file_format` stores the reader's format name).
fn file_format_label(stored: &str) -> &str {
    match stored {
        "Vcf" => "VCF",
        "VcfGzip" => "VCF (gzip)",
        "VcfBgzf" => "VCF (BGZF)",
        "Bcf" => "BCF",
        other => other,
    }
}

fn column_info(access: &Access, dataset_id: &str, column: &ColumnRecord) -> Value {
    let mut info = json!({ "datasetId": dataset_id, "fileFormat": file_format_label(&column.file_format) });
    if !access.is_research() {
        // Sample and file names come from platforms and can identify: care space only.
        info["vcfSampleId"] = json!(column.sample_name);
        info["fileName"] = json!(column.file_name);
        if let Some(centre) = &column.care_centre {
            info["careCentre"] = json!(centre);
        }
    }
    info
}
