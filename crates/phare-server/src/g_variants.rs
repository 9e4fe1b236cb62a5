//! `/api/g_variants`, GET and POST: sequence and range queries over every visible dataset.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Json;
use phare_access::Tier;
use phare_access::answer_granularity;
use phare_access::policy::Access;
use phare_access::suppression::disclose;
use phare_beacon::response::{
    CountSource, PopulationCounts, query_response, structural_variant_record, variant_record,
    with_molecular_attributes,
};
use phare_beacon::{BeaconError, GenomicQuery, QueryRequest};
use phare_domain::{Allele, Assembly, Granularity};
use phare_store::{Carrier, ColumnQuery, Dataset, VariantMatch, VariantSearch, Zygosity};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::access::{Visible, disclosed_answer, entry_access, spend_budget, visible_among};
use crate::catalog::Datasets;
use crate::entries::Kind;
use crate::guard::RequestContext;
use crate::resolve::{biosample_id, column_id, individual_id};
use crate::{ApiError, AppState, json_body, query_pairs};

const ENTRY_TYPE: &str = "genomicVariation";

pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_query_pairs(&query_pairs(query.as_deref())?)?;
    answer(&state, &context, &request).await
}

pub(crate) async fn post(
    State(state): State<AppState>,
    Extension(context): Extension<RequestContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request = QueryRequest::from_body(&json_body(&headers, &body)?)?;
    answer(&state, &context, &request).await
}

/// One dataset the caller may see, with the search translated to its assembly.
struct Target {
    visible: Visible,
    /// `None` for a query of filters alone: every variant the selected individuals carry.
    search: Option<VariantSearch>,
}

/// A genomic query combined with filters reads at most this many candidate alleles per dataset
/// before keeping those the selected individuals carry (docs/api.md).
const MAX_FILTERED_CANDIDATES: i64 = 100_000;

/// The variants carried, in non-superseded sample columns of the research scope when the
/// caller is in it, by the individuals the filters select.
async fn carried_by(
    state: &AppState,
    seen: &Visible,
    filters: &crate::individuals::IndividualFilters,
    within: Option<&[i64]>,
) -> Result<Vec<i64>, ApiError> {
    let store = state.store();
    let dataset_id = &seen.dataset.id;
    let research_only = seen.access.is_research();
    let individuals = phare_store::IndividualQuery {
        research_only,
        term_filters: filters.terms.clone(),
        age_conditions: filters.ages.clone(),
        ..phare_store::IndividualQuery::default()
    };
    let keys = store.individual_columns(dataset_id, &individuals).await?;
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(store
        .column_variant_ids(dataset_id, seen.access.scope.as_str(), &keys, within)
        .await?)
}

pub(crate) async fn answer(
    state: &AppState,
    context: &RequestContext,
    request: &QueryRequest,
) -> Result<Json<Value>, ApiError> {
    // Filters select the variants carried by the individuals they describe (scope
    // `individual`); they are read like `/individuals` filters, unknown ids refused.
    let carriers_filter = if request.filters.is_empty() {
        None
    } else {
        Some(crate::individuals::filters(state, &request.filters).await?)
    };
    // A genomic query alone is answered from the catalog as last read: each count's statement
    // also reads the catalog generation, and unless every one saw the generation the catalog
    // was read at, the answer is thrown away and computed again from a catalog read now
    // (docs/decisions/0065).
    if carriers_filter.is_none()
        && let Some((generation, datasets)) = state.catalog().last_read()
    {
        match answer_among(state, context, request, &datasets, None).await {
            Ok(answered)
                if !answered.generations_read.is_empty()
                    && answered.generations_read.iter().all(|read| *read == generation) =>
            {
                return Ok(answered.response);
            }
            // The node's own failure (an outage) owes nothing to the catalog: a second attempt
            // would make the caller wait for it twice.
            Err(error) if error.error.status >= 500 => return Err(error),
            // Unconfirmed, or refused (404, 429…) as the catalog last stood: computed again.
            Ok(_) | Err(_) => {}
        }
    }
    let datasets = state.catalog().datasets(state.store()).await?;
    let answered = answer_among(state, context, request, &datasets, carriers_filter.as_ref()).await?;
    Ok(answered.response)
}

/// An answer, and the catalog generations its counts read (one per dataset counted by a
/// genomic query alone; none otherwise).
struct Answered {
    response: Json<Value>,
    generations_read: Vec<i64>,
}

/// The answer with `datasets` as the catalog.
async fn answer_among(
    state: &AppState,
    context: &RequestContext,
    request: &QueryRequest,
    datasets: &Datasets,
    carriers_filter: Option<&crate::individuals::IndividualFilters>,
) -> Result<Answered, ApiError> {
    let visible = visible_among(
        state,
        datasets,
        &context.caller,
        ENTRY_TYPE,
        request.dataset_ids.as_deref(),
        request.test_mode,
    )?;
    let targets = if request.query.is_none() && carriers_filter.is_some() {
        visible
            .into_iter()
            .map(|visible| Target {
                visible,
                search: None,
            })
            .collect()
    } else {
        targets(state, visible, request).await?
    };
    spend_budget(state, context, targets.iter().map(|target| &target.visible)).await?;
    let ceilings: Vec<Granularity> = targets
        .iter()
        .map(|target| target.visible.access.rule.max)
        .collect();
    let mut returned = answer_granularity(request.requested_granularity, &ceilings);
    if context.caller.roles.partner && carriers_filter.is_some() {
        // Filters select people: the variants they carry, listed, would describe them. A
        // partner relays other people's questions, so it gets counts of such a selection.
        returned = returned.min(Granularity::Count);
    }
    let offset = i64::try_from(request.skip.saturating_mul(request.limit)).unwrap_or(i64::MAX);
    let limit = i64::try_from(request.limit).unwrap_or(i64::MAX);
    let mut answers = Vec::with_capacity(targets.len());
    let mut generations_read = Vec::with_capacity(targets.len());
    for target in &targets {
        let store = state.store();
        let access = &target.visible.access;
        let dataset = &target.visible.dataset;
        let scope = access.scope.as_str();
        let (count, records) = match (carriers_filter, &target.search) {
            (None, Some(search)) => {
                let (count, documents) = if returned == Granularity::Record {
                    let shown = carriers_shown(state, context, &target.visible);
                    // The count and the page are independent reads: side by side.
                    let (count, (found, mut carriers)) = futures::try_join!(
                        store.count_variants(&dataset.id, scope, search),
                        store.find_variants(&dataset.id, scope, search, offset, limit, shown.as_ref())
                    )?;
                    (count, rendered(state, &target.visible, &found, &mut carriers))
                } else {
                    (
                        store.count_variants(&dataset.id, scope, search).await?,
                        Vec::new(),
                    )
                };
                generations_read.push(count.catalog_generation);
                (count.matches, documents)
            }
            (Some(filters), search) => {
                let ids: Vec<i64> = match search {
                    None => carried_by(state, &target.visible, filters, None).await?,
                    Some(search) => {
                        let candidate_ids = store
                            .find_variant_ids(&dataset.id, scope, search, MAX_FILTERED_CANDIDATES + 1)
                            .await?;
                        if candidate_ids.len()
                            > usize::try_from(MAX_FILTERED_CANDIDATES).unwrap_or(usize::MAX)
                        {
                            // Never a silently partial answer: the caller narrows the query.
                            return Err(BeaconError::bad_request(format!(
                                "the genomic part of this filtered query matches more than {MAX_FILTERED_CANDIDATES} alleles in dataset `{}`: narrow the range",
                                dataset.id
                            ))
                            .into());
                        }
                        // In the order of the genomic search (by position).
                        carried_by(state, &target.visible, filters, Some(&candidate_ids)).await?
                    }
                };
                let count = i64::try_from(ids.len()).unwrap_or(i64::MAX);
                let records = if returned == Granularity::Record {
                    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(ids.len());
                    let end = start
                        .saturating_add(usize::try_from(limit).unwrap_or(usize::MAX))
                        .min(ids.len());
                    let found = store
                        .variants_by_ids(&dataset.id, scope, &ids[start..end])
                        .await?;
                    records(state, context, &target.visible, &found).await?
                } else {
                    Vec::new()
                };
                (count, records)
            }
            (None, None) => {
                return Err(BeaconError::bad_request(phare_beacon::request::GENOMIC_QUERY_NEEDED).into());
            }
        };
        answers.push(disclosed_answer(&dataset.id, count, access.min_count, records));
    }
    Ok(Answered {
        response: Json(query_response(
            state.identity(),
            request,
            returned,
            &answers,
            ENTRY_TYPE,
        )),
        generations_read,
    })
}

/// The visible datasets on the query's assembly, each with the search in its coordinates.
async fn targets(
    state: &AppState,
    visible: Vec<Visible>,
    request: &QueryRequest,
) -> Result<Vec<Target>, ApiError> {
    let Some(query) = &request.query else {
        return Err(BeaconError::bad_request(phare_beacon::request::GENOMIC_QUERY_NEEDED).into());
    };
    let wanted_assembly = request
        .assembly_id()
        .map(|text| {
            text.parse::<Assembly>()
                .map_err(|error| BeaconError::bad_request(format!("`assemblyId`: {error}")))
        })
        .transpose()?;
    let reference_name = request.reference_name();
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
    for seen in visible {
        if !on_assembly(&seen.dataset) {
            continue;
        }
        let contig = match reference_name {
            Some(reference_name) => match seen.dataset.assembly.contig(reference_name) {
                Some(contig) => Some(contig.name()),
                None => continue,
            },
            None => None,
        };
        let search = left_aligned(state, seen.dataset.assembly, search_for(query, contig)?).await?;
        targets.push(Target {
            visible: seen,
            search: Some(search),
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
    let variant_types = query.stored_variant_types();
    Ok(match query {
        GenomicQuery::Gene {
            gene_id,
            amino_acid_change,
            min_length,
            max_length,
            ..
        } => VariantSearch::Gene {
            gene: gene_id.clone(),
            protein_change: amino_acid_change.clone(),
            variant_types,
            min_length: *min_length,
            max_length: *max_length,
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
            reference_bases,
            alternate_bases,
            min_length,
            max_length,
            ..
        } => VariantSearch::Range {
            contig: positional()?,
            start: *start,
            end: *end,
            variant_types,
            reference: reference_bases.clone(),
            alternate: alternate_bases.clone(),
            min_length: *min_length,
            max_length: *max_length,
        },
        GenomicQuery::Bracket {
            start_min,
            start_max,
            end_min,
            end_max,
            min_length,
            max_length,
            ..
        } => VariantSearch::Bracket {
            contig: positional()?,
            start_min: *start_min,
            start_max: *start_max,
            end_min: *end_min,
            end_max: *end_max,
            variant_types,
            min_length: *min_length,
            max_length: *max_length,
        },
        GenomicQuery::Edit {
            start, end, inserted, ..
        } => VariantSearch::Edit {
            contig: positional()?,
            start: *start,
            end: *end,
            inserted: inserted.clone(),
        },
        GenomicQuery::Duplication { start, end, .. } => VariantSearch::Duplication {
            contig: positional()?,
            start: *start,
            end: *end,
        },
    })
}

/// Records of a page of variants of one dataset, with `caseLevelData` where the caller may see
/// records of individuals (`carriers_shown`).
pub(crate) async fn records(
    state: &AppState,
    context: &RequestContext,
    seen: &Visible,
    variants: &[VariantMatch],
) -> Result<Vec<Value>, ApiError> {
    let mut carriers = match carriers_shown(state, context, seen) {
        Some(columns) => {
            let ids: Vec<i64> = variants.iter().map(|variant| variant.variant_id).collect();
            state.store().carriers(&seen.dataset.id, &ids, &columns).await?
        }
        None => HashMap::new(),
    };
    Ok(rendered(state, seen, variants, &mut carriers))
}

/// The columns whose carriers a record answer lists: the clinician's own patients in the care
/// space, research identifiers for a controlled grant, never for public or registered callers.
fn carriers_shown(state: &AppState, context: &RequestContext, seen: &Visible) -> Option<ColumnQuery> {
    let access = &seen.access;
    let individuals = entry_access(state, &context.caller, &seen.dataset, "individual");
    match access.tier {
        Tier::Care => access.care_centre.clone().map(|centre| ColumnQuery {
            care_centre: Some(centre),
            ..ColumnQuery::default()
        }),
        Tier::Controlled => Some(ColumnQuery {
            research_only: true,
            ..ColumnQuery::default()
        }),
        Tier::Public | Tier::Registered => None,
    }
    .filter(|_| individuals.rule.max == Granularity::Record)
}

/// The record documents of a page, each with its carriers taken from `carriers`.
fn rendered(
    state: &AppState,
    seen: &Visible,
    variants: &[VariantMatch],
    carriers: &mut HashMap<i64, Vec<Carrier>>,
) -> Vec<Value> {
    let dataset = &seen.dataset;
    let access = &seen.access;
    variants
        .iter()
        .filter_map(|variant| {
            let mut document = record(state, dataset, access, variant)?;
            let cases: Vec<Value> = carriers
                .remove(&variant.variant_id)
                .unwrap_or_default()
                .iter()
                .map(|carrier| case_level(state, access, &dataset.id, carrier))
                .collect();
            if !cases.is_empty() {
                document["caseLevelData"] = Value::Array(cases);
            }
            Some(document)
        })
        .collect()
}

/// One carrier of the allele: which sample, whose, and how (GENO zygosity terms).
fn case_level(state: &AppState, access: &Access, dataset_id: &str, carrier: &Carrier) -> Value {
    let (id, label) = match carrier.zygosity {
        Zygosity::Heterozygous => ("GENO:0000458", "simple heterozygous"),
        Zygosity::Homozygous => ("GENO:0000136", "homozygous"),
        Zygosity::Hemizygous => ("GENO:0000134", "hemizygous"),
    };
    let column = &carrier.column;
    json!({
        "biosampleId": biosample_id(state, access, dataset_id, &column.external_id),
        "individualId": individual_id(state, access, dataset_id, &column.pseudonym),
        "runId": column_id(state, access, dataset_id, Kind::Run, column),
        "analysisId": column_id(state, access, dataset_id, Kind::Analysis, column),
        "zygosity": { "id": id, "label": label },
    })
}

fn record(state: &AppState, dataset: &Dataset, access: &Access, variant: &VariantMatch) -> Option<Value> {
    let contig = dataset.assembly.contig(&variant.contig)?;
    let accession = contig.refseq_accession(dataset.assembly);
    let start = u64::try_from(variant.start).ok()?;
    let public_min_allele_number = state.access().public_min_allele_number;
    let rounded = |count: i64| {
        let disclosed = disclose(u64::try_from(count).unwrap_or(0), access.min_count);
        i64::try_from(disclosed.value).unwrap_or(i64::MAX)
    };
    let populations: Vec<PopulationCounts> = variant
        .strata
        .iter()
        // Open data: a frequency of a small population comes close to describing people
        // (unless the dataset was consented for open release: threshold 0).
        .filter(|counts| {
            access.tier != phare_access::Tier::Public
                || access.min_count == 0
                || u64::try_from(counts.allele_number).unwrap_or(0) >= public_min_allele_number
        })
        .map(|counts| PopulationCounts {
            population: counts.stratum.clone(),
            allele_count: rounded(counts.allele_count),
            allele_number: rounded(counts.allele_number),
            homozygous: counts.homozygous.map(rounded),
            heterozygous: counts.heterozygous.map(rounded),
            hemizygous: counts.hemizygous.map(rounded),
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
