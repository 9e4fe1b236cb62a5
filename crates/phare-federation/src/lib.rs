//! Federation without I/O: what each partner node's answer says ([`answer`]), how answers pool
//! ([`pool`]), and the one federated answer built from the local answer and every partner's
//! outcome ([`federated_response`]). The fan-out itself (HTTP, deadlines, signed tokens) is the
//! server's; everything here is pure and tested without a network
//! (docs/decisions/0046-federated-queries.md).

pub mod answer;
pub mod pool;

use phare_domain::Granularity;
use serde_json::{Value, json};

pub use answer::{Figure, NodeAnswer, ResultSet, parse_answer, parse_document};
use pool::{Pool, coarsened, relayed_record};

/// What became of one partner's part of a federated query. Only `Answered` carries figures:
/// a partner that did not answer is never reported as "not found" or as zero.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Answered(NodeAnswer),
    /// No complete answer before the partner's deadline.
    TimedOut {
        after_ms: u64,
    },
    /// The connection could not be made or broke.
    Unavailable {
        reason: String,
    },
    /// The partner refused us: 401, 403 or 429.
    Refused {
        status: u16,
        reason: String,
    },
    /// Any other non-2xx status.
    Error {
        status: u16,
        reason: String,
    },
    /// A 2xx whose body is too large, not JSON, or not a Beacon v2 answer.
    BadAnswer {
        reason: String,
    },
}

impl Outcome {
    pub fn status(&self) -> &'static str {
        match self {
            Self::Answered(_) => "answered",
            Self::TimedOut { .. } => "timedOut",
            Self::Unavailable { .. } => "unavailable",
            Self::Refused { .. } => "refused",
            Self::Error { .. } => "error",
            Self::BadAnswer { .. } => "badAnswer",
        }
    }
}

/// One partner's part: who, what happened, how long it took.
#[derive(Clone, Debug, PartialEq)]
pub struct PartnerReport {
    pub id: String,
    pub name: String,
    /// The partner's API root: frequencies whose `sourceReference` is at its origin are its
    /// own cohort's, the only ones pooled.
    pub url: String,
    pub outcome: Outcome,
    pub latency_ms: u64,
}

/// Everything a federated answer is made of.
#[derive(Debug)]
pub struct Federated<'a> {
    /// This node's id in the federation, naming the local part.
    pub local_id: &'a str,
    /// The local answer, exactly as this node gives it to this caller.
    pub local: &'a Value,
    pub partners: Vec<PartnerReport>,
    /// Small-count threshold for partners' figures and for every pooled figure.
    pub min_count: u32,
    /// This node's API URL, the `sourceReference` of pooled frequencies.
    pub source_reference: &'a str,
}

/// The federated answer: the local answer's envelope, pooled in `responseSummary`, the local
/// result sets, each partner's result sets (ids `partner:dataset`) and a `pooled` result set
/// at record granularity, and every node's status in `info.federation`. Each node counts at the
/// granularity it answered: one node answering less takes nothing from the others.
pub fn federated_response(federated: Federated<'_>) -> Result<Value, String> {
    let local = parse_document(federated.local).map_err(|error| format!("local answer: {error}"))?;
    let mut answered: Vec<(String, String, NodeAnswer)> = Vec::new();
    let mut statuses = vec![json!({
        "id": federated.local_id,
        "status": "answered",
        "local": true,
        "summary": summary(&local),
    })];
    for report in federated.partners {
        let mut status = json!({
            "id": report.id,
            "name": report.name,
            "status": report.outcome.status(),
            "latencyMs": report.latency_ms,
        });
        match report.outcome {
            Outcome::Answered(answer) => {
                let shown = protect(answer, federated.min_count);
                status["summary"] = summary(&shown);
                answered.push((report.id, report.url, shown));
            }
            Outcome::TimedOut { after_ms } => {
                status["error"] = json!(format!("no complete answer within {after_ms} ms"));
            }
            Outcome::Unavailable { reason } | Outcome::BadAnswer { reason } => {
                status["error"] = json!(reason);
            }
            Outcome::Refused { status: code, reason } | Outcome::Error { status: code, reason } => {
                status["httpStatus"] = json!(code);
                status["error"] = json!(reason);
            }
        }
        statuses.push(status);
    }
    let complete = statuses.iter().all(|status| status["status"] == "answered");
    // Only partners' data is coarsened again: with no partner answering, the pool is the
    // local answer, already disclosed as this caller may see it.
    let min_count = if answered.is_empty() {
        0
    } else {
        federated.min_count
    };
    let nodes: Vec<(&str, &str, &NodeAnswer)> =
        std::iter::once((federated.local_id, federated.source_reference, &local))
            .chain(
                answered
                    .iter()
                    .map(|(id, url, answer)| (id.as_str(), url.as_str(), answer)),
            )
            .collect();

    let granularity = nodes
        .iter()
        .map(|(_, _, answer)| answer.granularity)
        .max()
        .unwrap_or(Granularity::Boolean);
    let exists = nodes.iter().any(|(_, _, answer)| answer.exists);
    let mut response_summary = json!({ "exists": exists });
    if granularity >= Granularity::Count {
        let mut pooled = coarsened(
            Figure::sum(nodes.iter().filter_map(|(_, _, answer)| answer.count)),
            min_count,
        );
        if nodes.iter().any(|(_, _, answer)| answer.count.is_none()) {
            // A node that answered only whether: the sum is a lower bound, not a count.
            pooled.rounded = true;
            pooled.range = None;
        }
        response_summary["numTotalResults"] = json!(pooled.value);
        if pooled.rounded {
            response_summary["countPrecision"] = json!("rounded");
            if let Some(range) = pooled.adjusted_to() {
                response_summary["countAdjustedTo"] = json!([range]);
            }
        }
    }

    let mut document = federated.local.clone();
    let Some(object) = document.as_object_mut() else {
        return Err("local answer: not a JSON object".to_owned());
    };
    if let Some(meta) = object.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert("returnedGranularity".into(), json!(granularity.as_str()));
    }
    object.insert("responseSummary".into(), response_summary);
    object.remove("response");
    if granularity == Granularity::Record {
        let mut result_sets: Vec<Value> = Vec::new();
        let mut pool = Pool::default();
        let mut pooled_from = Vec::new();
        for (index, (node, url, answer)) in nodes.iter().enumerate() {
            if answer.granularity < Granularity::Record {
                continue;
            }
            pooled_from.push(node.to_string());
            for set in &answer.result_sets {
                pool.add(node, &origin(url), &set.records, set.count.rounded);
                let mut shown = result_set_document(set);
                if index > 0 {
                    shown["id"] = json!(format!("{node}:{}", set.id));
                    shown["info"] = json!({ "node": node });
                }
                result_sets.push(shown);
            }
        }
        let pooled_records = pool.records(min_count, federated.source_reference);
        let mut pooled = json!({
            "id": "pooled",
            "setType": "genomicVariation",
            "exists": !pooled_records.is_empty(),
            "resultsCount": pooled_records.len(),
            "results": pooled_records,
            "info": {
                "nodes": pooled_from,
                "unpooledFrequencies": pool.unpooled,
            },
        });
        if pool.rounded || min_count > 1 {
            pooled["countPrecision"] = json!("rounded");
        }
        result_sets.push(pooled);
        object.insert("response".into(), json!({ "resultSets": result_sets }));
    }
    let info = object.entry("info").or_insert_with(|| json!({}));
    if let Some(info) = info.as_object_mut() {
        info.insert(
            "federation".into(),
            json!({ "complete": complete, "nodes": statuses }),
        );
    }
    Ok(document)
}

/// `scheme://host[:port]` of a URL: where a node's own frequency sources point.
fn origin(url: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |index| after_scheme + index);
    url[..end].to_owned()
}

/// A partner's answer as it may reach this caller: every figure coarsened under `min_count`,
/// records rebuilt from the fields Phare knows (no case data, nothing unread passes).
fn protect(mut answer: NodeAnswer, min_count: u32) -> NodeAnswer {
    answer.count = answer.count.map(|count| coarsened(count, min_count));
    for set in &mut answer.result_sets {
        set.count = coarsened(set.count, min_count);
        set.records = set
            .records
            .iter()
            .map(|record| relayed_record(record, min_count))
            .collect();
    }
    answer
}

fn summary(answer: &NodeAnswer) -> Value {
    let mut summary = json!({
        "exists": answer.exists,
        "returnedGranularity": answer.granularity.as_str(),
    });
    if let Some(count) = answer.count {
        summary["numTotalResults"] = json!(count.value);
        if count.rounded {
            summary["countPrecision"] = json!("rounded");
            if let Some(range) = count.adjusted_to() {
                summary["countAdjustedTo"] = json!([range]);
            }
        }
    }
    summary
}

fn result_set_document(set: &ResultSet) -> Value {
    let mut document = json!({
        "id": set.id,
        "setType": set.set_type,
        "exists": set.exists,
        "resultsCount": set.count.value,
        "results": set.records,
    });
    if set.count.rounded {
        document["countPrecision"] = json!("rounded");
        if let Some(range) = set.count.adjusted_to() {
            document["countAdjustedTo"] = json!([range]);
        }
    }
    document
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn count_answer(exists: bool, count: u64, rounded: bool) -> Value {
        let mut summary = json!({"exists": exists, "numTotalResults": count});
        if rounded {
            summary["countPrecision"] = json!("rounded");
            summary["countAdjustedTo"] = json!([format!("{count}-{}", count + 4)]);
        }
        json!({"meta": {"apiVersion": "v2.0", "returnedGranularity": "count"}, "responseSummary": summary})
    }

    fn partner(id: &str, outcome: Outcome) -> PartnerReport {
        PartnerReport {
            id: id.into(),
            name: id.to_uppercase(),
            url: format!("https://{id}.example/api"),
            outcome,
            latency_ms: 3,
        }
    }

    fn answered(document: Value) -> Outcome {
        Outcome::Answered(parse_document(&document).unwrap())
    }

    #[test]
    fn failed_partners_are_reported_by_status_and_never_as_zero_or_not_found() {
        let local = count_answer(false, 0, false);
        let document = federated_response(Federated {
            local_id: "paris",
            local: &local,
            partners: vec![
                partner("lyon", answered(count_answer(true, 10, true))),
                partner("helsinki", Outcome::TimedOut { after_ms: 500 }),
                partner(
                    "madrid",
                    Outcome::Unavailable {
                        reason: "connection refused".into(),
                    },
                ),
                partner(
                    "rome",
                    Outcome::BadAnswer {
                        reason: "not JSON".into(),
                    },
                ),
                partner(
                    "oslo",
                    Outcome::Refused {
                        status: 401,
                        reason: "invalid credentials".into(),
                    },
                ),
            ],
            min_count: 5,
            source_reference: "https://paris.example/api",
        })
        .unwrap();
        assert_eq!(document["responseSummary"]["exists"], true);
        assert_eq!(document["responseSummary"]["numTotalResults"], 10);
        assert_eq!(document["responseSummary"]["countAdjustedTo"], json!(["10-14"]));
        let nodes = document["info"]["federation"]["nodes"].as_array().unwrap();
        assert_eq!(document["info"]["federation"]["complete"], false);
        let status_of = |id: &str| nodes.iter().find(|node| node["id"] == id).unwrap();
        assert_eq!(status_of("helsinki")["status"], "timedOut");
        assert_eq!(status_of("madrid")["status"], "unavailable");
        assert_eq!(status_of("rome")["status"], "badAnswer");
        assert_eq!(status_of("oslo")["httpStatus"], 401);
        for failed in ["helsinki", "madrid", "rome", "oslo"] {
            assert!(status_of(failed).get("summary").is_none(), "{failed} has figures");
        }
    }

    #[test]
    fn without_partners_the_answer_is_the_local_one_unrounded() {
        // A clinician's exact local count stays exact when no partner data enters the pool.
        let local = count_answer(true, 3, false);
        let document = federated_response(Federated {
            local_id: "paris",
            local: &local,
            partners: vec![partner("lyon", Outcome::TimedOut { after_ms: 100 })],
            min_count: 5,
            source_reference: "r",
        })
        .unwrap();
        assert_eq!(
            document["responseSummary"],
            json!({"exists": true, "numTotalResults": 3})
        );
    }

    #[test]
    fn a_partner_answering_less_takes_nothing_from_the_others() {
        // The local part is boolean only; a partner counts: the count is a lower bound.
        let local = json!({"meta": {"returnedGranularity": "boolean"}, "responseSummary": {"exists": false}});
        let document = federated_response(Federated {
            local_id: "paris",
            local: &local,
            partners: vec![partner("lyon", answered(count_answer(true, 20, false)))],
            min_count: 5,
            source_reference: "r",
        })
        .unwrap();
        assert_eq!(document["meta"]["returnedGranularity"], "count");
        assert_eq!(document["responseSummary"]["exists"], true);
        assert_eq!(document["responseSummary"]["numTotalResults"], 20);
        assert_eq!(document["responseSummary"]["countPrecision"], "rounded");
        assert!(document["responseSummary"].get("countAdjustedTo").is_none());
    }

    fn record_answer(node_url: &str, allele_count: u64, allele_number: u64) -> Value {
        json!({
            "meta": {"returnedGranularity": "record"},
            "responseSummary": {"exists": true, "numTotalResults": 1},
            "response": {"resultSets": [{
                "id": "cohort", "setType": "dataset", "exists": true, "resultsCount": 1,
                "results": [{
                    "variantInternalId": "NC_000001.11:99:A:G",
                    "variation": {"type": "Allele",
                        "location": {"type": "SequenceLocation", "sequence_id": "refseq:NC_000001.11",
                            "interval": {"type": "SequenceInterval", "start": {"type": "Number", "value": 99}, "end": {"type": "Number", "value": 100}}},
                        "state": {"type": "LiteralSequenceExpression", "sequence": "G"}},
                    "caseLevelData": [{"individualId": "PAT-1"}],
                    "variantLevelData": {"anything": "a partner made up"},
                    "frequencyInPopulations": [
                        {"source": "own", "sourceReference": node_url, "frequencies": [
                            {"population": "Total", "alleleFrequency": 0.5, "alleleCount": allele_count, "alleleNumber": allele_number},
                            {"population": "FR", "alleleFrequency": 0.25, "alleleNumber": 40}]},
                        {"source": "gnomAD", "sourceReference": "https://gnomad.example/", "frequencies": [
                            {"population": "Total", "alleleFrequency": 0.01, "alleleCount": 1000, "alleleNumber": 100000}]}
                    ]
                }]
            }]}
        })
    }

    #[test]
    fn pooled_records_sum_each_nodes_own_cohort_and_relay_only_known_fields() {
        let local = record_answer("https://paris.example/api", 12, 60);
        let document = federated_response(Federated {
            local_id: "paris",
            local: &local,
            // Lyon's 3 of 50 shown as 0 or 5: coarsened to 5 of 50 before pooling.
            partners: vec![partner(
                "lyon",
                answered(record_answer("https://lyon.example/api", 3, 50)),
            )],
            min_count: 5,
            source_reference: "https://paris.example/api",
        })
        .unwrap();
        let sets = document["response"]["resultSets"].as_array().unwrap();
        let set = |id: &str| sets.iter().find(|set| set["id"] == id).unwrap();
        let relayed = &set("lyon:cohort")["results"][0];
        assert!(relayed.get("caseLevelData").is_none());
        assert!(relayed.get("variantLevelData").is_none());
        let lyon_total = &relayed["frequencyInPopulations"][0]["frequencies"][0];
        assert_eq!(lyon_total["alleleCount"], 5);
        assert_eq!(lyon_total["alleleFrequency"], 0.1);
        // A frequency without its allele count cannot be coarsened: not relayed.
        assert_eq!(
            relayed["frequencyInPopulations"][0]["frequencies"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let pooled = &set("pooled")["results"][0];
        let total = &pooled["frequencyInPopulations"][0]["frequencies"][0];
        // (12 + 5) / (60 + 50), rounded after pooling: 15 / 110; gnomAD is not anyone's cohort.
        assert_eq!(total["population"], "Total");
        assert_eq!(total["alleleCount"], 15);
        assert_eq!(total["alleleNumber"], 110);
        assert!((total["alleleFrequency"].as_f64().unwrap() - 15.0 / 110.0).abs() < 1e-12);
        assert_eq!(
            pooled["frequencyInPopulations"][0]["source"],
            "pooled over lyon, paris"
        );
        assert!(pooled.get("caseLevelData").is_none());
        assert_eq!(set("pooled")["countPrecision"], "rounded");
        assert_eq!(set("pooled")["info"]["unpooledFrequencies"], 3);
    }

    #[test]
    fn exact_small_partner_counts_are_coarsened_before_they_are_relayed_or_pooled() {
        let local = count_answer(true, 10, true);
        let document = federated_response(Federated {
            local_id: "paris",
            local: &local,
            partners: vec![partner("other-beacon", answered(count_answer(true, 2, false)))],
            min_count: 5,
            source_reference: "r",
        })
        .unwrap();
        let relayed = &document["info"]["federation"]["nodes"][1]["summary"];
        assert_eq!(relayed["numTotalResults"], 5);
        assert_eq!(relayed["countAdjustedTo"], json!(["1-9"]));
        // 10 (10-14) + 5 (1-9) = 15, true value in 11-23.
        assert_eq!(document["responseSummary"]["numTotalResults"], 15);
        assert_eq!(document["responseSummary"]["countAdjustedTo"], json!(["11-23"]));
    }
}
