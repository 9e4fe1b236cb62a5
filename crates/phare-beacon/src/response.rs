//! Response envelopes for boolean, count and record answers, and genomic variation records.

use phare_domain::{Allele, Granularity};
use serde_json::{Value, json};

use crate::documents::BeaconIdentity;
use crate::request::QueryRequest;

/// One dataset's answer to a query.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetAnswer {
    pub dataset_id: String,
    pub count: u64,
    /// When the count was rounded to protect small counts: the interval the true count lies in
    /// (Beacon v2.2 `countPrecision` / `countAdjustedTo`). `None` for an exact count.
    pub count_range: Option<(u64, u64)>,
    /// Records of the requested page (record granularity only).
    pub records: Vec<Value>,
}

/// The envelope for `returned` granularity.
pub fn query_response(
    identity: &BeaconIdentity,
    request: &QueryRequest,
    returned: Granularity,
    answers: &[DatasetAnswer],
    entry_type: &str,
) -> Value {
    let total: u64 = answers.iter().map(|answer| answer.count).sum();
    let exists = total > 0;
    let rounded = answers.iter().any(|answer| answer.count_range.is_some());
    let (lowest, highest) = answers.iter().fold((0u64, 0u64), |(lowest, highest), answer| {
        let (low, high) = answer.count_range.unwrap_or((answer.count, answer.count));
        (lowest.saturating_add(low), highest.saturating_add(high))
    });
    let mut counted_summary = json!({ "exists": exists, "numTotalResults": total });
    if rounded {
        counted_summary["countPrecision"] = json!("rounded");
        counted_summary["countAdjustedTo"] = json!([format!("{lowest}-{highest}")]);
    }
    let meta = identity.response_meta(
        returned,
        request.summary.clone(),
        &[BeaconIdentity::returned_schema(entry_type)],
        request.test_mode,
    );
    match returned {
        Granularity::None | Granularity::Boolean => json!({
            "meta": meta,
            "responseSummary": { "exists": exists },
        }),
        Granularity::Count => json!({
            "meta": meta,
            "responseSummary": counted_summary,
        }),
        Granularity::Record => {
            let result_sets: Vec<Value> = answers
                .iter()
                .filter(|answer| request.include_resultsets.shows(answer.count > 0))
                .map(|answer| {
                    let mut result_set = json!({
                        "id": answer.dataset_id,
                        "setType": "dataset",
                        "exists": answer.count > 0,
                        "resultsCount": answer.count,
                        "results": answer.records,
                    });
                    if let Some((low, high)) = answer.count_range {
                        result_set["countPrecision"] = json!("rounded");
                        result_set["countAdjustedTo"] = json!([format!("{low}-{high}")]);
                    }
                    result_set
                })
                .collect();
            json!({
                "meta": meta,
                "responseSummary": counted_summary,
                "response": { "resultSets": result_sets },
            })
        }
    }
}

/// A collections answer (`/datasets`): every collection the caller may see, one page of them.
pub fn collections_response(
    identity: &BeaconIdentity,
    summary: Value,
    entry_type: &str,
    total: usize,
    collections: Vec<Value>,
) -> Value {
    let test_mode = summary["testMode"].as_bool().unwrap_or(false);
    json!({
        "meta": identity.response_meta(
            Granularity::Record,
            summary,
            &[BeaconIdentity::returned_schema(entry_type)],
            test_mode,
        ),
        "responseSummary": { "exists": total > 0, "numTotalResults": total },
        "response": { "collections": collections },
    })
}

/// Allele counts of one population (stratum) of one dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PopulationCounts {
    pub population: String,
    pub allele_count: i64,
    pub allele_number: i64,
    /// `None` when the source does not state it: the field is then omitted, never 0.
    pub homozygous: Option<i64>,
    pub heterozygous: Option<i64>,
    pub hemizygous: Option<i64>,
}

/// Where a record's counts come from, for `frequencyInPopulations`.
#[derive(Clone, Copy, Debug)]
pub struct CountSource<'a> {
    pub dataset_id: &'a str,
    pub url: &'a str,
}

/// A `genomicVariation` record: VRS allele, HGVS id and the 1+MG allele-frequency profile.
pub fn variant_record(
    allele: &Allele,
    refseq_accession: &str,
    variant_type: &str,
    source: CountSource<'_>,
    populations: &[PopulationCounts],
) -> Value {
    let (start, end, state) = allele.vrs_trimmed();
    let record = json!({
        "variantInternalId": format!("{refseq_accession}:{}:{}:{}", allele.start, allele.reference, allele.alternate),
        "variation": {
            "type": "Allele",
            "location": sequence_location(refseq_accession, start, end),
            "state": { "type": "LiteralSequenceExpression", "sequence": state },
        },
        "identifiers": { "genomicHGVSId": allele.hgvs(refseq_accession) },
        "info": {
            "vcfStyle": {
                "start": allele.start,
                "end": allele.end(),
                "referenceBases": allele.reference,
                "alternateBases": allele.alternate,
                "variantType": variant_type,
            }
        },
    });
    with_frequencies(record, source, populations)
}

/// A record for a symbolic structural allele (`<DEL>`, `<DUP>`, …): no sequence to state, so
/// the specification's legacy form (variant type and span) rather than a VRS allele.
pub fn structural_variant_record(
    refseq_accession: &str,
    start: u64,
    end: u64,
    variant_type: &str,
    source: CountSource<'_>,
    populations: &[PopulationCounts],
) -> Value {
    let record = json!({
        "variantInternalId": format!("{refseq_accession}:{start}-{end}:<{variant_type}>"),
        "variation": {
            "variantType": variant_type,
            "alternateBases": "",
            "location": sequence_location(refseq_accession, start, end),
        },
    });
    with_frequencies(record, source, populations)
}

fn sequence_location(refseq_accession: &str, start: u64, end: u64) -> Value {
    json!({
        "type": "SequenceLocation",
        "sequence_id": format!("refseq:{refseq_accession}"),
        "interval": {
            "type": "SequenceInterval",
            "start": { "type": "Number", "value": start },
            "end": { "type": "Number", "value": end },
        },
    })
}

/// Adds `frequencyInPopulations` (1+MG profile): one entry per population with an allele number.
fn with_frequencies(mut record: Value, source: CountSource<'_>, populations: &[PopulationCounts]) -> Value {
    let frequencies: Vec<Value> = populations
        .iter()
        .filter(|counts| counts.allele_number > 0)
        .map(|counts| {
            let mut frequency = json!({
                "population": counts.population,
                "alleleFrequency": counts.allele_count as f64 / counts.allele_number as f64,
                "alleleCount": counts.allele_count,
                "alleleNumber": counts.allele_number,
            });
            for (key, value) in [
                ("alleleCountHomozygous", counts.homozygous),
                ("alleleCountHeterozygous", counts.heterozygous),
                ("alleleCountHemizygous", counts.hemizygous),
            ] {
                if let (Some(value), Some(object)) = (value, frequency.as_object_mut()) {
                    object.insert(key.into(), json!(value));
                }
            }
            frequency
        })
        .collect();
    if !frequencies.is_empty()
        && let Some(object) = record.as_object_mut()
    {
        object.insert(
            "frequencyInPopulations".into(),
            json!([{
                "source": format!("Phare dataset {}", source.dataset_id),
                "sourceReference": source.url,
                "frequencies": frequencies,
            }]),
        );
    }
    record
}

/// Sequence Ontology terms of the effects annotators write: (term as written, SO id, SO label).
/// SnpEff and VEP write SO term names; bcftools csq its own short names. An effect not listed
/// here is left out of `molecularEffects`.
const SEQUENCE_ONTOLOGY: &[(&str, &str, &str)] = &[
    ("missense_variant", "SO:0001583", "missense variant"),
    ("missense", "SO:0001583", "missense variant"),
    ("synonymous_variant", "SO:0001819", "synonymous variant"),
    ("synonymous", "SO:0001819", "synonymous variant"),
    ("stop_gained", "SO:0001587", "stop gained"),
    ("stop_lost", "SO:0001578", "stop lost"),
    ("start_lost", "SO:0002012", "start lost"),
    ("frameshift_variant", "SO:0001589", "frameshift variant"),
    ("frameshift", "SO:0001589", "frameshift variant"),
    ("inframe_insertion", "SO:0001821", "inframe insertion"),
    ("inframe_deletion", "SO:0001822", "inframe deletion"),
    ("splice_acceptor_variant", "SO:0001574", "splice acceptor variant"),
    ("splice_donor_variant", "SO:0001575", "splice donor variant"),
    ("splice_region_variant", "SO:0001630", "splice region variant"),
    ("intron_variant", "SO:0001627", "intron variant"),
    ("5_prime_UTR_variant", "SO:0001623", "5 prime UTR variant"),
    ("3_prime_UTR_variant", "SO:0001624", "3 prime UTR variant"),
    ("upstream_gene_variant", "SO:0001631", "upstream gene variant"),
    ("downstream_gene_variant", "SO:0001632", "downstream gene variant"),
    ("intergenic_variant", "SO:0001628", "intergenic variant"),
    (
        "non_coding_transcript_exon_variant",
        "SO:0001792",
        "non coding transcript exon variant",
    ),
];

/// Adds `molecularAttributes` (genes, one-letter protein changes, SO effects) when annotators
/// said anything of the variant.
pub fn with_molecular_attributes(
    mut record: Value,
    genes: &[String],
    protein_changes: &[String],
    effects: &[String],
) -> Value {
    if genes.is_empty() && protein_changes.is_empty() {
        return record;
    }
    let mut attributes = json!({ "geneIds": genes, "aminoacidChanges": protein_changes });
    let mut molecular_effects: Vec<Value> = Vec::new();
    for effect in effects {
        if let Some((_, id, label)) = SEQUENCE_ONTOLOGY.iter().find(|(written, _, _)| written == effect) {
            let term = json!({ "id": id, "label": label });
            if !molecular_effects.contains(&term) {
                molecular_effects.push(term);
            }
        }
    }
    if !molecular_effects.is_empty()
        && let Some(object) = attributes.as_object_mut()
    {
        object.insert("molecularEffects".into(), Value::Array(molecular_effects));
    }
    if let Some(object) = record.as_object_mut() {
        object.insert("molecularAttributes".into(), attributes);
    }
    record
}
