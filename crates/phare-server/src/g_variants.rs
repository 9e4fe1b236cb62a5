//! `/api/g_variants`, GET and POST: sequence and range queries over every visible dataset.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Json;
use phare_access::{Caller, DatasetPolicy, answer_granularity};
use phare_beacon::response::{
    CountSource, DatasetAnswer, PopulationCounts, query_response, structural_variant_record, variant_record,
    with_molecular_attributes,
};
use phare_beacon::{BeaconError, GenomicQuery, QueryRequest};
use phare_domain::{Allele, Assembly, Granularity};
use phare_store::{Dataset, VariantMatch, VariantSearch};
use serde_json::Value;

use crate::{ApiError, AppState, json_body, query_pairs};

const ENTRY_TYPE: &str = "genomicVariation";

pub(crate) async fn get(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    answer(&state, &Caller::Anonymous, &request).await
}

pub(crate) async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_body(&json_body(&headers, &body)?)?;
    answer(&state, &Caller::Anonymous, &request).await
}

/// One dataset the caller may see, with the search translated to its assembly.
struct Target {
    dataset: Dataset,
    ceiling: Granularity,
    search: VariantSearch,
}

async fn answer(state: &AppState, caller: &Caller, request: &QueryRequest) -> Result<Json<Value>, ApiError> {
    let targets = targets(state, caller, request).await?;
    let ceilings: Vec<Granularity> = targets.iter().map(|target| target.ceiling).collect();
    let returned = answer_granularity(request.requested_granularity, &ceilings);
    let scope = caller.count_scope().as_str();
    let offset = i64::try_from(request.skip.saturating_mul(request.limit)).unwrap_or(i64::MAX);
    let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
    let mut answers = Vec::with_capacity(targets.len());
    for target in &targets {
        let store = state.store();
        let count = store
            .count_variants(&target.dataset.id, scope, &target.search)
            .await?;
        let records = if returned == Granularity::Record {
            let found = store
                .find_variants(&target.dataset.id, scope, &target.search, offset, limit)
                .await?;
            found
                .iter()
                .filter_map(|variant| record(state, &target.dataset, variant))
                .collect()
        } else {
            Vec::new()
        };
        answers.push(DatasetAnswer {
            dataset_id: target.dataset.id.clone(),
            count: u64::try_from(count).unwrap_or(0),
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

/// The datasets to search: those asked for (or all), visible to the caller, on the query's
/// assembly. A dataset the caller may not see is reported exactly like one that does not
/// exist, so the answer never hints at hidden data.
async fn targets(state: &AppState, caller: &Caller, request: &QueryRequest) -> Result<Vec<Target>, ApiError> {
    let visible: Vec<(Dataset, Granularity)> = state
        .store()
        .datasets()
        .await?
        .into_iter()
        .map(|dataset| {
            let ceiling = caller.ceiling(&DatasetPolicy {
                anonymous_max: dataset.anonymous_max,
            });
            (dataset, ceiling)
        })
        .filter(|(_, ceiling)| *ceiling > Granularity::None)
        .collect();
    let selected: Vec<(Dataset, Granularity)> = match &request.dataset_ids {
        None => visible,
        Some(ids) => {
            let missing: Vec<&str> = ids
                .iter()
                .filter(|id| !visible.iter().any(|(dataset, _)| &dataset.id == *id))
                .map(String::as_str)
                .collect();
            if !missing.is_empty() {
                return Err(
                    BeaconError::not_found(format!("dataset(s) not found: {}", missing.join(", "))).into(),
                );
            }
            visible
                .into_iter()
                .filter(|(dataset, _)| ids.contains(&dataset.id))
                .collect()
        }
    };
    let wanted_assembly = request
        .query
        .assembly_id()
        .map(|text| {
            text.parse::<Assembly>()
                .map_err(|error| BeaconError::bad_request(format!("`assemblyId`: {error}")))
        })
        .transpose()?;
    let reference_name = request.query.reference_name();
    let on_assembly = |dataset: &Dataset| wanted_assembly.is_none_or(|assembly| assembly == dataset.assembly);
    if let Some(reference_name) = reference_name {
        let resolvable = [Assembly::Grch38, Assembly::Grch37]
            .iter()
            .any(|assembly| assembly.contig(reference_name).is_some());
        if !resolvable {
            return Err(BeaconError::bad_request(format!(
                "`referenceName` `{reference_name}` is not a chromosome of GRCh38 or GRCh37 (use 1-22, X, Y, MT, with or without `chr`, or a RefSeq accession)"
            ))
            .into());
        }
    }
    let mut targets = Vec::new();
    for (dataset, ceiling) in selected {
        if !on_assembly(&dataset) {
            continue;
        }
        let contig = match reference_name {
            Some(reference_name) => match dataset.assembly.contig(reference_name) {
                Some(contig) => Some(contig.name()),
                None => continue,
            },
            None => None,
        };
        let search = left_aligned(state, dataset.assembly, search_for(&request.query, contig)?).await?;
        targets.push(Target {
            dataset,
            ceiling,
            search,
        });
    }
    Ok(targets)
}

/// With a reference genome for the assembly, an indel asked for is left-aligned as ingestion
/// left-aligned the stored ones (the genome is read on a blocking thread).
async fn left_aligned(
    state: &AppState,
    assembly: Assembly,
    search: VariantSearch,
) -> Result<VariantSearch, ApiError> {
    let VariantSearch::Sequence {
        contig: name,
        start,
        reference: Some(reference),
        alternate,
    } = &search
    else {
        return Ok(search);
    };
    let (Some(genome), Some(contig)) = (state.reference(assembly), assembly.contig(name)) else {
        return Ok(search);
    };
    if reference.len() == alternate.len() {
        return Ok(search);
    }
    let allele = Allele {
        start: *start,
        reference: reference.clone(),
        alternate: alternate.clone(),
    };
    let aligned = tokio::task::spawn_blocking(move || {
        let mut genome = genome.lock().map_err(|_| BeaconError::internal())?;
        genome
            .left_align(contig, &allele)
            .map_err(|error| BeaconError::bad_request(format!("alleles: {error}")))
    })
    .await
    .map_err(|_| BeaconError::internal())??;
    Ok(VariantSearch::Sequence {
        contig: name.clone(),
        start: aligned.start,
        reference: Some(aligned.reference),
        alternate: aligned.alternate,
    })
}

/// Normalises the query's alleles exactly as ingestion normalised the stored ones.
fn search_for(query: &GenomicQuery, contig: Option<&str>) -> Result<VariantSearch, BeaconError> {
    let positional = || {
        contig
            .map(str::to_owned)
            .ok_or_else(|| BeaconError::bad_request("`referenceName` is missing"))
    };
    Ok(match query {
        GenomicQuery::Gene {
            gene_id,
            amino_acid_change,
            variant_type,
            ..
        } => VariantSearch::Gene {
            gene: gene_id.clone(),
            protein_change: amino_acid_change.clone(),
            variant_type: variant_type.clone(),
        },
        GenomicQuery::Sequence {
            start,
            reference_bases: Some(reference),
            alternate_bases,
            ..
        } => {
            let allele = Allele::normalised(*start, reference, alternate_bases)
                .map_err(|error| BeaconError::bad_request(format!("alleles: {error}")))?;
            VariantSearch::Sequence {
                contig: positional()?,
                start: allele.start,
                reference: Some(allele.reference),
                alternate: allele.alternate,
            }
        }
        GenomicQuery::Sequence {
            start,
            reference_bases: None,
            alternate_bases,
            ..
        } => VariantSearch::Sequence {
            contig: positional()?,
            start: *start,
            reference: None,
            alternate: alternate_bases.clone(),
        },
        GenomicQuery::Range {
            start,
            end,
            variant_type,
            reference_bases,
            alternate_bases,
            ..
        } => VariantSearch::Range {
            contig: positional()?,
            start: *start,
            end: *end,
            variant_type: variant_type.clone(),
            reference: reference_bases.clone(),
            alternate: alternate_bases.clone(),
        },
    })
}

fn record(state: &AppState, dataset: &Dataset, variant: &VariantMatch) -> Option<Value> {
    let contig = dataset.assembly.contig(&variant.contig)?;
    let accession = contig.refseq_accession(dataset.assembly);
    let start = u64::try_from(variant.start).ok()?;
    let populations: Vec<PopulationCounts> = variant
        .strata
        .iter()
        .map(|counts| PopulationCounts {
            population: counts.stratum.clone(),
            allele_count: counts.allele_count,
            allele_number: counts.allele_number,
            homozygous: counts.homozygous,
            heterozygous: counts.heterozygous,
            hemizygous: counts.hemizygous,
        })
        .collect();
    let source = CountSource {
        dataset_id: &dataset.id,
        url: &state.identity().base_url,
    };
    let record = if variant.alternate.starts_with('<') {
        let end = u64::try_from(variant.end).ok()?;
        structural_variant_record(accession, start, end, &variant.variant_type, source, &populations)
    } else {
        let allele = Allele {
            start,
            reference: variant.reference.clone(),
            alternate: variant.alternate.clone(),
        };
        variant_record(&allele, accession, &variant.variant_type, source, &populations)
    };
    Some(with_molecular_attributes(
        record,
        &variant.genes,
        &variant.protein_changes,
        &variant.effects,
    ))
}
