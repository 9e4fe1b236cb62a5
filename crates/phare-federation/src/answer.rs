//! A node's Beacon v2 answer, read by the fields the official schemas require and allow:
//! required ones must be there with their type (or the answer is refused, naming the field),
//! optional ones are used when present and never assumed when absent.

use phare_domain::Granularity;
use serde_json::{Map, Value};

/// A count as a node reported it, with where the true value lies when that is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figure {
    pub value: u64,
    /// The node said the count is not exact (`countPrecision` other than `exact`).
    pub rounded: bool,
    /// Smallest and largest true value; `None` when a rounded count came without an interval.
    pub range: Option<(u64, u64)>,
}

impl Figure {
    pub fn exact(value: u64) -> Self {
        Self {
            value,
            rounded: false,
            range: Some((value, value)),
        }
    }

    /// The sum of several figures: rounded if any is, an interval only if every one has one.
    pub fn sum(figures: impl IntoIterator<Item = Self>) -> Self {
        figures.into_iter().fold(Self::exact(0), |total, figure| Self {
            value: total.value.saturating_add(figure.value),
            rounded: total.rounded || figure.rounded,
            range: total
                .range
                .zip(figure.range)
                .map(|((low, high), (other_low, other_high))| {
                    (low.saturating_add(other_low), high.saturating_add(other_high))
                }),
        })
    }

    /// `countAdjustedTo` (Beacon v2.2) for a rounded figure with a known interval.
    pub fn adjusted_to(&self) -> Option<String> {
        match (self.rounded, self.range) {
            (true, Some((low, high))) => Some(format!("{low}-{high}")),
            _ => None,
        }
    }
}

/// One result set of an answer.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultSet {
    pub id: String,
    pub set_type: String,
    pub exists: bool,
    pub count: Figure,
    /// The records, as the node sent them (genomic variations, each checked for the fields
    /// the model requires).
    pub records: Vec<Value>,
}

/// Counts above this are not counts of people or alleles: refused rather than summed.
const MAX_COUNT: u64 = 1_000_000_000_000;

/// Records one answer may hold: far more than any page, far less than what would make the
/// node's memory grow past the answer's byte limit many times over.
const MAX_RECORDS: usize = 10_000;

/// What one node answered.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeAnswer {
    pub exists: bool,
    pub granularity: Granularity,
    /// `numTotalResults`, when the node gave one.
    pub count: Option<Figure>,
    pub result_sets: Vec<ResultSet>,
}

/// Reads a Beacon v2 `g_variants` answer (boolean, count or result sets). The error names the
/// first field that breaks the schema.
pub fn parse_answer(body: &[u8]) -> Result<NodeAnswer, String> {
    let document: Value = serde_json::from_slice(body).map_err(|error| format!("not JSON: {error}"))?;
    parse_document(&document)
}

/// [`parse_answer`] of a document already parsed.
pub fn parse_document(document: &Value) -> Result<NodeAnswer, String> {
    let root = document.as_object().ok_or("the answer is not a JSON object")?;
    if root.contains_key("error") {
        return Err("the answer is an error envelope".to_owned());
    }
    let meta = object(root, "meta", "meta")?;
    let summary = object(root, "responseSummary", "responseSummary")?;
    let exists = summary
        .get("exists")
        .ok_or("responseSummary.exists is missing")?
        .as_bool()
        .ok_or("responseSummary.exists: expected a boolean")?;
    let summary_rounded = precision_rounded(summary, "responseSummary")?;
    let count = match summary.get("numTotalResults") {
        None => None,
        Some(value) => Some(figure(
            value,
            summary_rounded,
            summary,
            "responseSummary.numTotalResults",
        )?),
    };
    let result_sets = match root.get("response") {
        None => Vec::new(),
        Some(response) => {
            let response = response.as_object().ok_or("response: expected an object")?;
            match response.get("resultSets") {
                None => Vec::new(),
                Some(sets) => sets
                    .as_array()
                    .ok_or("response.resultSets: expected an array")?
                    .iter()
                    .enumerate()
                    .map(|(index, set)| result_set(set, index, summary_rounded))
                    .collect::<Result<Vec<_>, _>>()?,
            }
        }
    };
    let records: usize = result_sets.iter().map(|set: &ResultSet| set.records.len()).sum();
    if records > MAX_RECORDS {
        return Err(format!(
            "{records} records: more than {MAX_RECORDS} in one answer"
        ));
    }
    let granularity = match meta.get("returnedGranularity") {
        Some(value) => value
            .as_str()
            .and_then(|text| text.parse::<Granularity>().ok())
            .ok_or("meta.returnedGranularity: expected boolean, count or record")?,
        None if !result_sets.is_empty() => Granularity::Record,
        None if count.is_some() => Granularity::Count,
        None => Granularity::Boolean,
    };
    if granularity >= Granularity::Count && count.is_none() {
        return Err(format!(
            "responseSummary.numTotalResults is missing from a {} answer",
            granularity.as_str()
        ));
    }
    Ok(NodeAnswer {
        exists,
        granularity,
        count,
        result_sets,
    })
}

fn object<'a>(
    parent: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Map<String, Value>, String> {
    parent
        .get(key)
        .ok_or_else(|| format!("{path} is missing"))?
        .as_object()
        .ok_or_else(|| format!("{path}: expected an object"))
}

/// `countPrecision`: anything but `exact` is treated as rounded (Beacon v2.2 also has
/// `imprecise`); absent means exact, as the specification says.
fn precision_rounded(parent: &Map<String, Value>, path: &str) -> Result<bool, String> {
    match parent.get("countPrecision") {
        None => Ok(false),
        Some(Value::String(text)) => Ok(text != "exact"),
        Some(_) => Err(format!("{path}.countPrecision: expected a string")),
    }
}

fn figure(value: &Value, rounded: bool, parent: &Map<String, Value>, path: &str) -> Result<Figure, String> {
    let value = count_value(value, path)?;
    if !rounded {
        return Ok(Figure::exact(value));
    }
    // `countAdjustedTo: ["10-14"]` gives the interval; anything else leaves it unknown.
    let range = parent
        .get("countAdjustedTo")
        .and_then(Value::as_array)
        .filter(|ranges| ranges.len() == 1)
        .and_then(|ranges| ranges[0].as_str())
        .and_then(|text| text.split_once('-'))
        .and_then(|(low, high)| Some((low.trim().parse().ok()?, high.trim().parse().ok()?)))
        .filter(|(low, high)| low <= high);
    Ok(Figure {
        value,
        rounded: true,
        range,
    })
}

fn count_value(value: &Value, path: &str) -> Result<u64, String> {
    let count = value
        .as_u64()
        .ok_or_else(|| format!("{path}: expected a non-negative integer"))?;
    if count > MAX_COUNT {
        return Err(format!("{path}: {count} is not a plausible count"));
    }
    Ok(count)
}

fn result_set(set: &Value, index: usize, summary_rounded: bool) -> Result<ResultSet, String> {
    let path = format!("response.resultSets[{index}]");
    let set = set
        .as_object()
        .ok_or_else(|| format!("{path}: expected an object"))?;
    let text = |key: &str| {
        set.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("{path}.{key}: expected a string"))
    };
    let id = text("id")?;
    let set_type = text("setType")?;
    let exists = set
        .get("exists")
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("{path}.exists: expected a boolean"))?;
    let rounded = summary_rounded || precision_rounded(set, &path)?;
    let count = figure(
        set.get("resultsCount")
            .ok_or_else(|| format!("{path}.resultsCount is missing"))?,
        rounded,
        set,
        &format!("{path}.resultsCount"),
    )?;
    let records = set
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{path}.results: expected an array"))?;
    for (position, record) in records.iter().enumerate() {
        check_variation(record).map_err(|error| format!("{path}.results[{position}]{error}"))?;
    }
    Ok(ResultSet {
        id,
        set_type,
        exists,
        count,
        records: records.clone(),
    })
}

/// The genomicVariation model requires `variantInternalId` and `variation`; frequencies, when
/// given, require `source`, `sourceReference` and `frequencies` with `population` and
/// `alleleFrequency` each.
fn check_variation(record: &Value) -> Result<(), String> {
    let record = record.as_object().ok_or(": expected an object")?;
    if !record.get("variantInternalId").is_some_and(Value::is_string) {
        return Err(".variantInternalId: expected a string".to_owned());
    }
    if !record.get("variation").is_some_and(Value::is_object) {
        return Err(".variation: expected an object".to_owned());
    }
    let Some(sources) = record.get("frequencyInPopulations") else {
        return Ok(());
    };
    let sources = sources
        .as_array()
        .ok_or(".frequencyInPopulations: expected an array")?;
    for (index, source) in sources.iter().enumerate() {
        let path = format!(".frequencyInPopulations[{index}]");
        for key in ["source", "sourceReference"] {
            if !source.get(key).is_some_and(Value::is_string) {
                return Err(format!("{path}.{key}: expected a string"));
            }
        }
        let frequencies = source
            .get("frequencies")
            .and_then(Value::as_array)
            .filter(|frequencies| !frequencies.is_empty())
            .ok_or_else(|| format!("{path}.frequencies: expected a non-empty array"))?;
        for (position, frequency) in frequencies.iter().enumerate() {
            if !frequency.get("population").is_some_and(Value::is_string) {
                return Err(format!(
                    "{path}.frequencies[{position}].population: expected a string"
                ));
            }
            if !frequency.get("alleleFrequency").is_some_and(Value::is_number) {
                return Err(format!(
                    "{path}.frequencies[{position}].alleleFrequency: expected a number"
                ));
            }
            // Counts are coarsened before anything is shown: one that is not a plain count
            // (1.0, "1") could not be, so the answer is refused rather than relayed raw.
            for field in [
                "alleleCount",
                "alleleNumber",
                "alleleCountHomozygous",
                "alleleCountHeterozygous",
                "alleleCountHemizygous",
            ] {
                if let Some(value) = frequency.get(field) {
                    count_value(value, &format!("{path}.frequencies[{position}].{field}"))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    #[test]
    fn boolean_count_and_record_answers_are_read() {
        let boolean =
            parse_answer(br#"{"meta":{"apiVersion":"v2.0"},"responseSummary":{"exists":true}}"#).unwrap();
        assert_eq!(boolean.granularity, Granularity::Boolean);
        assert!(boolean.exists && boolean.count.is_none());

        let count = parse_answer(
            br#"{"meta":{"returnedGranularity":"count"},"responseSummary":{"exists":true,"numTotalResults":10,"countPrecision":"rounded","countAdjustedTo":["10-14"]}}"#,
        )
        .unwrap();
        assert_eq!(
            count.count,
            Some(Figure {
                value: 10,
                rounded: true,
                range: Some((10, 14))
            })
        );

        let record = json!({
            "meta": {"returnedGranularity": "record"},
            "responseSummary": {"exists": true, "numTotalResults": 1},
            "response": {"resultSets": [{
                "id": "rare", "setType": "dataset", "exists": true, "resultsCount": 1,
                "results": [{"variantInternalId": "v1", "variation": {"type": "Allele"}}]
            }]}
        });
        let answer = parse_answer(record.to_string().as_bytes()).unwrap();
        assert_eq!(answer.result_sets.len(), 1);
        assert_eq!(answer.result_sets[0].count, Figure::exact(1));
    }

    #[test]
    fn a_rounded_count_without_an_interval_is_never_taken_as_exact() {
        let answer = parse_answer(
            br#"{"meta":{},"responseSummary":{"exists":true,"numTotalResults":20,"countPrecision":"imprecise"}}"#,
        )
        .unwrap();
        let figure = answer.count.unwrap();
        assert!(figure.rounded);
        assert_eq!(figure.range, None);
        assert_eq!(figure.adjusted_to(), None);
    }

    #[test]
    fn answers_that_break_the_schema_are_refused_naming_the_field() {
        for (body, expected) in [
            (&b"<html>oops</html>"[..], "not JSON"),
            (br#"[1,2]"#, "not a JSON object"),
            (br#"{"responseSummary":{"exists":true}}"#, "meta is missing"),
            (br#"{"meta":{},"responseSummary":{}}"#, "responseSummary.exists is missing"),
            (br#"{"meta":{},"responseSummary":{"exists":"yes"}}"#, "responseSummary.exists: expected a boolean"),
            (br#"{"meta":{},"responseSummary":{"exists":true,"numTotalResults":-3}}"#, "numTotalResults: expected a non-negative integer"),
            (br#"{"meta":{"returnedGranularity":"count"},"responseSummary":{"exists":true}}"#, "numTotalResults is missing"),
            (br#"{"meta":{},"responseSummary":{"exists":true,"numTotalResults":1},"response":{"resultSets":[{"id":"a","setType":"dataset","exists":true,"resultsCount":1,"results":[{"variation":{}}]}]}}"#, "results[0].variantInternalId"),
            (br#"{"meta":{},"responseSummary":{"exists":true,"numTotalResults":1},"response":{"resultSets":[{"id":"a","setType":"dataset","exists":true,"results":[]}]}}"#, "resultSets[0].resultsCount is missing"),
            (br#"{"meta":{},"error":{"errorCode":500},"responseSummary":{"exists":false}}"#, "error envelope"),
            (br#"{"meta":{},"responseSummary":{"exists":true,"numTotalResults":18446744073709551615}}"#, "not a plausible count"),
            (br#"{"meta":{},"responseSummary":{"exists":true,"numTotalResults":1},"response":{"resultSets":[{"id":"a","setType":"dataset","exists":true,"resultsCount":1,"results":[{"variantInternalId":"v","variation":{},"frequencyInPopulations":[{"source":"s","sourceReference":"r","frequencies":[{"population":"T","alleleFrequency":0.1,"alleleCount":1.0,"alleleNumber":10}]}]}]}]}}"#, "alleleCount: expected a non-negative integer"),
        ] {
            let error = parse_answer(body).unwrap_err();
            assert!(error.contains(expected), "{error} (expected {expected})");
        }
    }

    #[test]
    fn the_specifications_own_example_answers_are_read() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../spec/beacon-v2/framework/json/responses/examples-fullDocuments");
        let mut read = 0;
        for name in [
            "beaconBooleanResponse-example.json",
            "beaconCountResponse-example.json",
            "beaconResultsetResponse-MIN-example.json",
        ] {
            let path = root.join(name);
            let body = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            parse_answer(&body).unwrap_or_else(|error| panic!("{name}: {error}"));
            read += 1;
        }
        assert_eq!(
            read,
            3,
            "the specification's examples were not all found under {}",
            root.display()
        );
    }
}
