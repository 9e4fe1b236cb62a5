//! Pooling by the 1+MG allele-frequency profile: counts summed, booleans OR-ed, frequencies
//! pooled as ΣAC/ΣAN per population label (never averaged), and small-count suppression
//! applied to what leaves the pool.

use std::collections::{BTreeMap, BTreeSet};

use phare_access::suppression::{CountPrecision, disclose};
use serde_json::{Map, Value, json};

use crate::answer::Figure;

/// `figure` as it may be shown under threshold `min_count`: the shown value coarsened, the
/// interval widened to cover what the coarsened value stands for. Applied to every partner
/// figure before it is relayed and to every pooled sum, so that no combination of shown
/// figures pins a count below the threshold.
pub fn coarsened(figure: Figure, min_count: u32) -> Figure {
    let disclosed = disclose(figure.value, min_count);
    if disclosed.precision == CountPrecision::Exact {
        return figure;
    }
    Figure {
        value: disclosed.value,
        rounded: true,
        range: figure
            .range
            .map(|(low, high)| (low.min(disclosed.lowest), high.max(disclosed.highest))),
    }
}

const COUNT_FIELDS: [&str; 5] = [
    "alleleCount",
    "alleleNumber",
    "alleleCountHomozygous",
    "alleleCountHeterozygous",
    "alleleCountHemizygous",
];

/// A partner's record as it may be relayed, rebuilt from the fields Phare reads — the allele,
/// its identifiers and annotations, `info.vcfStyle`, and population frequencies — so nothing
/// unread passes (no `caseLevelData`, no extension a partner made up). Every allele count is
/// coarsened and the frequency recomputed from the shown counts; a frequency without its
/// counts cannot be coarsened and is left out.
pub fn relayed_record(record: &Value, min_count: u32) -> Value {
    let mut relayed = Map::new();
    for field in [
        "variantInternalId",
        "variation",
        "identifiers",
        "molecularAttributes",
    ] {
        if let Some(value) = record.get(field) {
            relayed.insert(field.into(), value.clone());
        }
    }
    if let Some(vcf_style) = record.get("info").and_then(|info| info.get("vcfStyle")) {
        relayed.insert("info".into(), json!({ "vcfStyle": vcf_style }));
    }
    let sources: Vec<Value> = record
        .get("frequencyInPopulations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|source| relayed_source(source, min_count))
        .collect();
    if !sources.is_empty() {
        relayed.insert("frequencyInPopulations".into(), Value::Array(sources));
    }
    Value::Object(relayed)
}

fn relayed_source(source: &Value, min_count: u32) -> Option<Value> {
    let frequencies: Vec<Value> = source
        .get("frequencies")?
        .as_array()?
        .iter()
        .filter_map(|frequency| {
            let population = frequency.get("population")?.as_str()?;
            let shown = |field: &str| {
                frequency
                    .get(field)
                    .and_then(Value::as_u64)
                    .map(|count| disclose(count, min_count).value)
            };
            let allele_count = shown("alleleCount")?;
            let allele_number = shown("alleleNumber").filter(|number| *number > 0)?;
            let mut relayed = Map::new();
            relayed.insert("population".into(), json!(population));
            relayed.insert(
                "alleleFrequency".into(),
                json!(allele_count as f64 / allele_number as f64),
            );
            relayed.insert("alleleCount".into(), json!(allele_count));
            relayed.insert("alleleNumber".into(), json!(allele_number));
            for field in &COUNT_FIELDS[2..] {
                if let Some(count) = shown(field) {
                    relayed.insert((*field).into(), json!(count));
                }
            }
            Some(Value::Object(relayed))
        })
        .collect();
    if frequencies.is_empty() {
        return None;
    }
    let mut relayed = Map::new();
    for field in ["source", "sourceReference", "version"] {
        if let Some(text) = source.get(field).and_then(Value::as_str) {
            relayed.insert(field.into(), json!(text));
        }
    }
    relayed.insert("frequencies".into(), Value::Array(frequencies));
    Some(Value::Object(relayed))
}

/// The same allele, whoever reports it: the VRS allele (sequence, interval, state) when the
/// record has one, else the legacy span and type, else the genomic HGVS id.
pub fn variant_key(record: &Value) -> Option<String> {
    let variation = record.get("variation")?;
    let location = variation.get("location");
    let sequence = location
        .and_then(|location| location.get("sequence_id").or_else(|| location.get("sequenceId")))
        .and_then(Value::as_str);
    let interval = location.and_then(|location| location.get("interval"));
    let bound = |name: &str| {
        let value = interval?.get(name)?;
        value.get("value").unwrap_or(value).as_u64()
    };
    if let (Some(sequence), Some(start), Some(end)) = (sequence, bound("start"), bound("end")) {
        if let Some(state) = variation
            .get("state")
            .and_then(|state| state.get("sequence"))
            .and_then(Value::as_str)
        {
            return Some(format!("{sequence}:{start}:{end}:{state}"));
        }
        if let Some(kind) = variation.get("variantType").and_then(Value::as_str) {
            let alternate = variation
                .get("alternateBases")
                .and_then(Value::as_str)
                .unwrap_or("");
            return Some(format!("{sequence}:{start}:{end}:<{kind}>{alternate}"));
        }
    }
    record
        .get("identifiers")
        .and_then(|identifiers| identifiers.get("genomicHGVSId"))
        .and_then(Value::as_str)
        .map(|hgvs| format!("hgvs:{hgvs}"))
}

/// Allele counts of one population summed over nodes; a zygosity count only while every
/// contributor gave it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PopulationSums {
    allele_count: u64,
    allele_number: u64,
    zygosity: [Option<u64>; 3],
    contributions: usize,
}

#[derive(Debug)]
struct PooledVariant {
    /// The first record seen, for the variation and annotations.
    template: Value,
    populations: BTreeMap<String, PopulationSums>,
    nodes: BTreeSet<String>,
}

/// The result sets of every node, one variant per key.
#[derive(Debug, Default)]
pub struct Pool {
    variants: BTreeMap<String, PooledVariant>,
    /// Frequencies that could not be pooled: no allele count or number, or no key.
    pub unpooled: usize,
    pub rounded: bool,
}

impl Pool {
    /// Adds a node's records (as they are shown: partners' already coarsened). Only the
    /// frequencies of the node's own cohort are pooled — sources whose `sourceReference` is at
    /// `origin`, the node's address: a Beacon may also quote gnomAD or 1000 Genomes, which are
    /// nobody's cohort here.
    pub fn add(&mut self, node: &str, origin: &str, records: &[Value], rounded: bool) {
        self.rounded |= rounded;
        for record in records {
            let Some(key) = variant_key(record) else {
                self.unpooled += 1;
                continue;
            };
            let pooled = self.variants.entry(key).or_insert_with(|| PooledVariant {
                template: record.clone(),
                populations: BTreeMap::new(),
                nodes: BTreeSet::new(),
            });
            pooled.nodes.insert(node.to_owned());
            let sources = record
                .get("frequencyInPopulations")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for source in sources {
                let own = source
                    .get("sourceReference")
                    .and_then(Value::as_str)
                    .is_some_and(|reference| is_at(reference, origin));
                let frequencies = source
                    .get("frequencies")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if !own {
                    self.unpooled += frequencies.len();
                    continue;
                }
                self.unpooled += add_frequencies(pooled, frequencies);
            }
        }
    }
}

/// Adds one node's frequencies of one allele; returns how many could not be pooled.
fn add_frequencies(pooled: &mut PooledVariant, frequencies: &[Value]) -> usize {
    let mut unpooled = 0;
    for frequency in frequencies {
        let count = |field: &str| frequency.get(field).and_then(Value::as_u64);
        let (Some(population), Some(allele_count), Some(allele_number)) = (
            frequency.get("population").and_then(Value::as_str),
            count("alleleCount"),
            count("alleleNumber"),
        ) else {
            // A frequency alone cannot be pooled: averaging is what ΣAC/ΣAN avoids.
            unpooled += 1;
            continue;
        };
        let sums = pooled.populations.entry(population.to_owned()).or_default();
        let zygosity = [
            count("alleleCountHomozygous"),
            count("alleleCountHeterozygous"),
            count("alleleCountHemizygous"),
        ];
        for (total, part) in sums.zygosity.iter_mut().zip(zygosity) {
            *total = if sums.contributions == 0 {
                part
            } else {
                total.zip(part).map(|(total, part)| total.saturating_add(part))
            };
        }
        sums.allele_count = sums.allele_count.saturating_add(allele_count);
        sums.allele_number = sums.allele_number.saturating_add(allele_number);
        sums.contributions += 1;
    }
    unpooled
}

/// Whether a `sourceReference` points at a node's own address.
fn is_at(reference: &str, origin: &str) -> bool {
    reference == origin
        || reference
            .strip_prefix(origin)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl Pool {
    /// The pooled records, each count suppressed after pooling under `min_count`.
    pub fn records(&self, min_count: u32, source_reference: &str) -> Vec<Value> {
        self.variants
            .values()
            .map(|pooled| {
                let mut record = pooled.template.clone();
                let nodes: Vec<&String> = pooled.nodes.iter().collect();
                let frequencies: Vec<Value> = pooled
                    .populations
                    .iter()
                    .filter(|(_, sums)| sums.allele_number > 0)
                    .map(|(population, sums)| {
                        let shown = |count: u64| disclose(count, min_count).value;
                        let allele_count = shown(sums.allele_count);
                        let allele_number = shown(sums.allele_number);
                        let mut frequency = Map::new();
                        frequency.insert("population".into(), json!(population));
                        frequency.insert(
                            "alleleFrequency".into(),
                            json!(if allele_number == 0 { 0.0 } else { allele_count as f64 / allele_number as f64 }),
                        );
                        frequency.insert("alleleCount".into(), json!(allele_count));
                        frequency.insert("alleleNumber".into(), json!(allele_number));
                        for (field, value) in COUNT_FIELDS[2..].iter().zip(sums.zygosity) {
                            if let Some(value) = value {
                                frequency.insert((*field).into(), json!(shown(value)));
                            }
                        }
                        Value::Object(frequency)
                    })
                    .collect();
                if let Some(object) = record.as_object_mut() {
                    object.remove("caseLevelData");
                    object.remove("frequencyInPopulations");
                    if !frequencies.is_empty() {
                        object.insert(
                            "frequencyInPopulations".into(),
                            json!([{
                                "source": format!("pooled over {}", nodes.iter().map(|node| node.as_str()).collect::<Vec<_>>().join(", ")),
                                "sourceReference": source_reference,
                                "frequencies": frequencies,
                            }]),
                        );
                    }
                }
                record
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn record(start: u64, frequencies: Value) -> Value {
        json!({
            "variantInternalId": format!("v{start}"),
            "variation": {
                "type": "Allele",
                "location": {"type": "SequenceLocation", "sequence_id": "refseq:NC_000001.11",
                    "interval": {"type": "SequenceInterval", "start": {"type": "Number", "value": start}, "end": {"type": "Number", "value": start + 1}}},
                "state": {"type": "LiteralSequenceExpression", "sequence": "G"},
            },
            "frequencyInPopulations": [{"source": "x", "sourceReference": "https://node.example/api", "frequencies": frequencies}],
        })
    }

    #[test]
    fn frequencies_pool_as_sums_of_counts_never_as_an_average() {
        let mut pool = Pool::default();
        // 1/10 and 30/100: the average of frequencies would be 0.2, the pooled one is 31/110.
        pool.add(
            "a",
            "https://node.example",
            &[record(
                100,
                json!([{"population": "ALL", "alleleFrequency": 0.1, "alleleCount": 1, "alleleNumber": 10}]),
            )],
            false,
        );
        pool.add("b", "https://node.example", &[record(100, json!([{"population": "ALL", "alleleFrequency": 0.3, "alleleCount": 30, "alleleNumber": 100, "alleleCountHomozygous": 4}]))], false);
        let records = pool.records(0, "https://node.example/api");
        assert_eq!(records.len(), 1);
        let frequency = &records[0]["frequencyInPopulations"][0]["frequencies"][0];
        assert_eq!(frequency["alleleCount"], 31);
        assert_eq!(frequency["alleleNumber"], 110);
        assert!((frequency["alleleFrequency"].as_f64().unwrap() - 31.0 / 110.0).abs() < 1e-12);
        // Node a did not state homozygous counts: the pooled one is not stated either.
        assert!(frequency.get("alleleCountHomozygous").is_none());
        assert_eq!(
            records[0]["frequencyInPopulations"][0]["source"],
            "pooled over a, b"
        );
    }

    #[test]
    fn suppression_applies_after_pooling() {
        let mut pool = Pool::default();
        // Three nodes with two carriers each: 6 pooled, shown as 5 under k = 5.
        for node in ["a", "b", "c"] {
            pool.add(node, "https://node.example", &[record(7, json!([{"population": "ALL", "alleleFrequency": 0.1, "alleleCount": 2, "alleleNumber": 20}]))], false);
        }
        let frequency = &pool.records(5, "r")[0]["frequencyInPopulations"][0]["frequencies"][0];
        assert_eq!(frequency["alleleCount"], 5);
        assert_eq!(frequency["alleleNumber"], 60);
    }

    #[test]
    fn relayed_partner_records_lose_case_data_small_counts_and_unknown_fields() {
        let mut partner = record(
            9,
            json!([
                {"population": "FR", "alleleFrequency": 0.05, "alleleCount": 1, "alleleNumber": 20, "alleleCountHeterozygous": 1, "note": "x"},
                {"population": "BE", "alleleFrequency": 0.05, "alleleNumber": 20}
            ]),
        );
        partner["caseLevelData"] = json!([{"individualId": "PAT-1"}]);
        partner["info"] = json!({"vcfStyle": {"start": 8}, "internal": "secret"});
        let relayed = relayed_record(&partner, 5);
        assert!(relayed.get("caseLevelData").is_none());
        assert_eq!(relayed["info"], json!({"vcfStyle": {"start": 8}}));
        let frequencies = relayed["frequencyInPopulations"][0]["frequencies"]
            .as_array()
            .unwrap();
        // BE has no allele count: it cannot be coarsened, so it is not relayed.
        assert_eq!(frequencies.len(), 1);
        assert_eq!(
            frequencies[0],
            json!({"population": "FR", "alleleFrequency": 0.25, "alleleCount": 5, "alleleNumber": 20, "alleleCountHeterozygous": 5})
        );
    }

    #[test]
    fn only_a_nodes_own_sources_are_pooled() {
        let mut pool = Pool::default();
        let quoted = json!({
            "variantInternalId": "v", "variation": record(3, json!([]))["variation"],
            "frequencyInPopulations": [{"source": "gnomAD", "sourceReference": "https://gnomad.example/", "frequencies": [
                {"population": "Total", "alleleFrequency": 0.1, "alleleCount": 10, "alleleNumber": 100}]}]
        });
        pool.add("a", "https://node.example", &[quoted], false);
        assert_eq!(pool.unpooled, 1);
        assert!(pool.records(0, "r")[0].get("frequencyInPopulations").is_none());
        assert!(is_at("https://node.example/api", "https://node.example"));
        assert!(!is_at("https://node.example.evil/api", "https://node.example"));
    }

    #[test]
    fn coarsening_widens_the_interval_and_keeps_zero() {
        assert_eq!(coarsened(Figure::exact(0), 5), Figure::exact(0));
        assert_eq!(
            coarsened(Figure::exact(3), 5),
            Figure {
                value: 5,
                rounded: true,
                range: Some((1, 9))
            }
        );
        // A partner's 6 (rounded by its own k = 3: 6-8) shown under k = 5.
        let partner = Figure {
            value: 6,
            rounded: true,
            range: Some((6, 8)),
        };
        assert_eq!(
            coarsened(partner, 5),
            Figure {
                value: 5,
                rounded: true,
                range: Some((1, 9))
            }
        );
        let unknown = Figure {
            value: 20,
            rounded: true,
            range: None,
        };
        assert_eq!(
            coarsened(unknown, 5),
            Figure {
                value: 20,
                rounded: true,
                range: None
            }
        );
    }

    #[test]
    fn variants_are_matched_by_vrs_allele_span_or_hgvs() {
        let vrs = record(5, json!([]));
        assert_eq!(variant_key(&vrs).unwrap(), "refseq:NC_000001.11:5:6:G");
        let legacy = json!({"variation": {"variantType": "DEL", "alternateBases": "", "location": {"sequence_id": "refseq:NC_000001.11", "interval": {"start": 10, "end": 500}}}});
        assert_eq!(variant_key(&legacy).unwrap(), "refseq:NC_000001.11:10:500:<DEL>");
        let hgvs = json!({"variation": {}, "identifiers": {"genomicHGVSId": "NC_000001.11:g.6A>G"}});
        assert_eq!(variant_key(&hgvs).unwrap(), "hgvs:NC_000001.11:g.6A>G");
        assert_eq!(variant_key(&json!({"variation": {}})), None);
    }
}
