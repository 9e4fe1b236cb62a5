//! Beacon query requests, from GET query strings and POST `beaconRequestBody` alike, reduced
//! to one [`QueryRequest`]. Every parameter is either understood or refused with a 400 that
//! names it: nothing is silently ignored.

use std::collections::BTreeMap;

use phare_domain::Granularity;
use serde_json::{Map, Value, json};

use crate::error::BeaconError;

/// Page size when the caller gives none, and the largest one accepted.
pub const DEFAULT_LIMIT: u64 = 10;
pub const MAX_LIMIT: u64 = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeResultsets {
    All,
    Hit,
    Miss,
    None,
}

impl IncludeResultsets {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "ALL",
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::None => "NONE",
        }
    }

    /// Whether a result set that found (or did not find) something is shown.
    pub fn shows(self, exists: bool) -> bool {
        match self {
            Self::All => true,
            Self::Hit => exists,
            Self::Miss => !exists,
            Self::None => false,
        }
    }
}

/// A genomic query as the caller wrote it (coordinates 0-based, as Beacon v2 wants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GenomicQuery {
    /// `referenceName` + `start` + `alternateBases` (+ `referenceBases`): one allele.
    Sequence {
        reference_name: String,
        start: u64,
        reference_bases: Option<String>,
        alternate_bases: String,
        assembly_id: Option<String>,
    },
    /// `referenceName` + `start` + `end`: every allele overlapping [start, end).
    Range {
        reference_name: String,
        start: u64,
        end: u64,
        variant_type: Option<String>,
        reference_bases: Option<String>,
        alternate_bases: Option<String>,
        assembly_id: Option<String>,
    },
    /// `geneId` (+ `aminoacidChange`, one-letter form): alleles annotated on that gene.
    Gene {
        gene_id: String,
        amino_acid_change: Option<String>,
        variant_type: Option<String>,
        assembly_id: Option<String>,
    },
}

impl GenomicQuery {
    /// The chromosome asked for; a gene query names none.
    pub fn reference_name(&self) -> Option<&str> {
        match self {
            Self::Sequence { reference_name, .. } | Self::Range { reference_name, .. } => {
                Some(reference_name)
            }
            Self::Gene { .. } => None,
        }
    }

    pub fn assembly_id(&self) -> Option<&str> {
        match self {
            Self::Sequence { assembly_id, .. }
            | Self::Range { assembly_id, .. }
            | Self::Gene { assembly_id, .. } => assembly_id.as_deref(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueryRequest {
    pub query: GenomicQuery,
    pub requested_granularity: Granularity,
    pub dataset_ids: Option<Vec<String>>,
    pub include_resultsets: IncludeResultsets,
    /// Pages to skip, as the specification defines `skip`.
    pub skip: u64,
    pub limit: u64,
    /// The understood request, echoed as `meta.receivedRequestSummary`.
    pub summary: Value,
}

/// `variantType` values of the alleles this node stores (sequence alleles, and the symbolic
/// structural types `DEL`, `DUP`, `INS`, `INV`, `CNV`); any other term would always miss, so it
/// is refused rather than ignored.
const VARIANT_TYPES: &[&str] = &["SNP", "MNP", "INS", "DEL", "INDEL", "DUP", "INV", "CNV"];

/// Genomic parameters this node understands.
const SUPPORTED: &[&str] = &[
    "referenceName",
    "start",
    "end",
    "referenceBases",
    "alternateBases",
    "variantType",
    "assemblyId",
    "geneId",
    "geneid",
    "aminoacidChange",
];
/// Parameters of the specification this node does not answer yet: refused explicitly.
const NOT_YET: &[&str] = &[
    "genomicAlleleShortForm",
    "allele",
    "variantMinLength",
    "variantMaxLength",
    "mateName",
];
/// Framework parameters of a GET query string.
const FRAMEWORK: &[&str] = &[
    "requestedGranularity",
    "datasetIds",
    "includeResultsetResponses",
    "skip",
    "limit",
    "testMode",
    "filters",
];

impl QueryRequest {
    /// From the pairs of a GET query string (`start=100&end=200`, lists comma-separated).
    pub fn from_query_pairs(pairs: &[(String, String)]) -> Result<Self, BeaconError> {
        let mut framework = Map::new();
        let mut genomic = Map::new();
        for (name, value) in pairs {
            let target = if FRAMEWORK.contains(&name.as_str()) {
                &mut framework
            } else {
                &mut genomic
            };
            if target
                .insert(name.clone(), Value::String(value.clone()))
                .is_some()
            {
                return Err(BeaconError::bad_request(format!(
                    "parameter `{name}` is given more than once"
                )));
            }
        }
        let settings = Settings {
            requested_granularity: framework.get("requestedGranularity"),
            dataset_ids: framework.get("datasetIds"),
            include_resultsets: framework.get("includeResultsetResponses"),
            skip: framework.get("skip"),
            limit: framework.get("limit"),
            test_mode: framework.get("testMode"),
            filters: framework.get("filters"),
        };
        Self::build(&genomic, &settings)
    }

    /// From a POST `beaconRequestBody`; `requestParameters` may be flat or under `g_variant`.
    pub fn from_body(body: &Value) -> Result<Self, BeaconError> {
        let query = body_query(
            body,
            &[
                "requestParameters",
                "filters",
                "includeResultsetResponses",
                "pagination",
                "requestedGranularity",
                "testMode",
                "datasetIds",
            ],
            "query",
        )?;
        let get = |name: &str| query.and_then(|query| query.get(name));
        let mut genomic = match get("requestParameters") {
            None => Map::new(),
            Some(Value::Object(parameters)) => match parameters.get("g_variant") {
                Some(Value::Object(scoped)) if parameters.len() == 1 => scoped.clone(),
                Some(_) if parameters.len() == 1 => {
                    return Err(BeaconError::bad_request(
                        "`requestParameters.g_variant` must be an object",
                    ));
                }
                _ => parameters.clone(),
            },
            Some(_) => return Err(BeaconError::bad_request("`requestParameters` must be an object")),
        };
        let pagination = pagination(query)?;
        // `datasetIds` may come with the query or among the parameters; the query's wins.
        let listed_in_parameters = genomic.remove("datasetIds");
        let dataset_ids = get("datasetIds").cloned().or(listed_in_parameters);
        let settings = Settings {
            requested_granularity: get("requestedGranularity"),
            dataset_ids: dataset_ids.as_ref(),
            include_resultsets: get("includeResultsetResponses"),
            skip: pagination.and_then(|pagination| pagination.get("skip")),
            limit: pagination.and_then(|pagination| pagination.get("limit")),
            test_mode: get("testMode"),
            filters: get("filters"),
        };
        Self::build(&genomic, &settings)
    }

    fn build(genomic: &Map<String, Value>, settings: &Settings<'_>) -> Result<Self, BeaconError> {
        for name in genomic.keys() {
            if NOT_YET.contains(&name.as_str()) {
                return Err(BeaconError::bad_request(format!(
                    "`{name}` queries are not supported by this node yet: use referenceName with start (and end or alternateBases), or geneId"
                )));
            }
            if !SUPPORTED.contains(&name.as_str()) {
                return Err(BeaconError::bad_request(format!(
                    "unknown request parameter `{name}`"
                )));
            }
        }
        let requested_granularity = match settings.requested_granularity {
            None => Granularity::Boolean,
            Some(value) => {
                let text = as_text(value, "requestedGranularity")?;
                match text.parse::<Granularity>() {
                    Ok(Granularity::None) | Err(_) => {
                        return Err(BeaconError::bad_request(format!(
                            "`requestedGranularity` must be boolean, count or record, not `{text}`"
                        )));
                    }
                    Ok(granularity) => granularity,
                }
            }
        };
        let include_resultsets = match settings.include_resultsets {
            None => IncludeResultsets::Hit,
            Some(value) => match as_text(value, "includeResultsetResponses")?
                .to_ascii_uppercase()
                .as_str()
            {
                "ALL" => IncludeResultsets::All,
                "HIT" => IncludeResultsets::Hit,
                "MISS" => IncludeResultsets::Miss,
                "NONE" => IncludeResultsets::None,
                other => {
                    return Err(BeaconError::bad_request(format!(
                        "`includeResultsetResponses` must be ALL, HIT, MISS or NONE, not `{other}`"
                    )));
                }
            },
        };
        let skip = settings
            .skip
            .map(|value| as_integer(value, "skip"))
            .transpose()?
            .unwrap_or(0);
        // The specification reads `limit` 0 as "all results, or the maximum allowed".
        let limit = page_limit(settings.limit)?;
        if let Some(value) = settings.test_mode
            && as_bool(value, "testMode")?
        {
            return Err(BeaconError::bad_request(
                "`testMode` is not supported by this node yet: it holds no synthetic test dataset",
            ));
        }
        if let Some(filters) = settings.filters
            && !is_empty_filters(filters)
        {
            return Err(BeaconError::bad_request(
                "`filters` are not supported by this node yet",
            ));
        }
        let dataset_ids = settings
            .dataset_ids
            .map(|value| as_list(value, "datasetIds"))
            .transpose()?;
        let query = genomic_query(genomic)?;
        let summary = json!({
            "apiVersion": crate::API_VERSION,
            "requestedSchemas": [],
            "pagination": { "skip": skip, "limit": limit },
            "requestedGranularity": requested_granularity.as_str(),
            "includeResultsetResponses": include_resultsets.as_str(),
            "requestParameters": { "g_variant": summary_parameters(&query, dataset_ids.as_deref()) },
            "filters": [],
            "testMode": false,
        });
        Ok(Self {
            query,
            requested_granularity,
            dataset_ids,
            include_resultsets,
            skip,
            limit,
            summary,
        })
    }
}

struct Settings<'a> {
    requested_granularity: Option<&'a Value>,
    dataset_ids: Option<&'a Value>,
    include_resultsets: Option<&'a Value>,
    skip: Option<&'a Value>,
    limit: Option<&'a Value>,
    test_mode: Option<&'a Value>,
    filters: Option<&'a Value>,
}

/// The `query` object of a `beaconRequestBody` (None when absent), holding only `known` fields.
fn body_query<'a>(
    body: &'a Value,
    known: &[&str],
    place: &str,
) -> Result<Option<&'a Map<String, Value>>, BeaconError> {
    let Some(body) = body.as_object() else {
        return Err(BeaconError::bad_request(
            "request body must be a JSON object (beaconRequestBody)",
        ));
    };
    reject_unknown(body.keys(), &["$schema", "meta", "query"], "request body")?;
    match body.get("query") {
        None => Ok(None),
        Some(Value::Object(query)) => {
            reject_unknown(query.keys(), known, place)?;
            Ok(Some(query))
        }
        Some(_) => Err(BeaconError::bad_request("`query` must be an object")),
    }
}

/// `query.pagination`, holding only `skip` and `limit`.
fn pagination(query: Option<&Map<String, Value>>) -> Result<Option<&Map<String, Value>>, BeaconError> {
    match query.and_then(|query| query.get("pagination")) {
        None => Ok(None),
        Some(Value::Object(pagination)) => {
            reject_unknown(pagination.keys(), &["skip", "limit"], "pagination")?;
            Ok(Some(pagination))
        }
        Some(_) => Err(BeaconError::bad_request("`pagination` must be an object")),
    }
}

fn reject_unknown<'a>(
    keys: impl Iterator<Item = &'a String>,
    known: &[&str],
    place: &str,
) -> Result<(), BeaconError> {
    for key in keys {
        if !known.contains(&key.as_str()) {
            return Err(BeaconError::bad_request(format!(
                "unknown field `{key}` in {place}"
            )));
        }
    }
    Ok(())
}

fn genomic_query(parameters: &Map<String, Value>) -> Result<GenomicQuery, BeaconError> {
    let text = |name: &str| parameters.get(name).map(|value| as_text(value, name)).transpose();
    let variant_type = text("variantType")?.map(|term| term.to_ascii_uppercase());
    if let Some(term) = &variant_type
        && !VARIANT_TYPES.contains(&term.as_str())
    {
        return Err(BeaconError::bad_request(format!(
            "`variantType` `{term}` is not one this node stores: use one of {}",
            VARIANT_TYPES.join(", ")
        )));
    }
    let assembly_id = text("assemblyId")?;
    let gene_id = match (text("geneId")?, text("geneid")?) {
        (Some(_), Some(_)) => {
            return Err(BeaconError::bad_request(
                "give `geneId` once (`geneid` is the same parameter)",
            ));
        }
        (gene, other) => gene.or(other),
    };
    let amino_acid_change = text("aminoacidChange")?;
    if let Some(gene_id) = gene_id {
        let positional = [
            "referenceName",
            "start",
            "end",
            "referenceBases",
            "alternateBases",
        ];
        if let Some(name) = positional.iter().find(|name| parameters.contains_key(**name)) {
            return Err(BeaconError::bad_request(format!(
                "`geneId` is a query of its own: give it without `{name}` (a gene query takes `aminoacidChange`, `variantType`, `assemblyId`)"
            )));
        }
        if gene_id.is_empty() {
            return Err(BeaconError::bad_request("`geneId` is empty"));
        }
        let amino_acid_change = match amino_acid_change {
            None => None,
            Some(change) => Some(phare_domain::normalise_protein_change(&change).ok_or_else(|| {
                BeaconError::bad_request(format!(
                    "`aminoacidChange` `{change}` is not a protein change such as V600E"
                ))
            })?),
        };
        return Ok(GenomicQuery::Gene {
            gene_id,
            amino_acid_change,
            variant_type,
            assembly_id,
        });
    }
    if amino_acid_change.is_some() {
        return Err(BeaconError::bad_request("`aminoacidChange` needs `geneId`"));
    }
    let Some(reference_name) = text("referenceName")? else {
        return Err(BeaconError::bad_request(
            "a genomic query needs `referenceName` and `start` (with `alternateBases` for a sequence query, or `end` for a range query)",
        ));
    };
    let Some(start_value) = parameters.get("start") else {
        return Err(BeaconError::bad_request(
            "`start` is missing: a genomic query needs a 0-based start",
        ));
    };
    let start = single_coordinate(start_value, "start")?;
    let end = parameters
        .get("end")
        .map(|value| single_coordinate(value, "end"))
        .transpose()?;
    let reference_bases = text("referenceBases")?
        .map(|bases| checked_bases(&bases, "referenceBases"))
        .transpose()?;
    let alternate_bases = text("alternateBases")?
        .map(|bases| checked_bases(&bases, "alternateBases"))
        .transpose()?;
    match (end, alternate_bases) {
        (Some(end), alternate_bases) => {
            if end <= start {
                return Err(BeaconError::bad_request(format!(
                    "`end` ({end}) must be greater than `start` ({start}): coordinates are 0-based, half-open"
                )));
            }
            Ok(GenomicQuery::Range {
                reference_name,
                start,
                end,
                variant_type,
                reference_bases,
                alternate_bases,
                assembly_id,
            })
        }
        (None, Some(alternate_bases)) => {
            if variant_type.is_some() {
                return Err(BeaconError::bad_request(
                    "`variantType` needs a range query (`start` and `end`)",
                ));
            }
            Ok(GenomicQuery::Sequence {
                reference_name,
                start,
                reference_bases,
                alternate_bases,
                assembly_id,
            })
        }
        (None, None) => Err(BeaconError::bad_request(
            "`alternateBases` or `end` is missing: give `alternateBases` for a sequence query or `end` for a range query",
        )),
    }
}

fn summary_parameters(query: &GenomicQuery, dataset_ids: Option<&[String]>) -> Value {
    let mut echoed = BTreeMap::new();
    let mut put = |name: &str, value: Value| {
        echoed.insert(name.to_owned(), value);
    };
    match query {
        GenomicQuery::Sequence {
            reference_name,
            start,
            reference_bases,
            alternate_bases,
            assembly_id,
        } => {
            put("referenceName", json!(reference_name));
            put("start", json!([start]));
            put("alternateBases", json!(alternate_bases));
            if let Some(bases) = reference_bases {
                put("referenceBases", json!(bases));
            }
            if let Some(assembly) = assembly_id {
                put("assemblyId", json!(assembly));
            }
        }
        GenomicQuery::Range {
            reference_name,
            start,
            end,
            variant_type,
            reference_bases,
            alternate_bases,
            assembly_id,
        } => {
            put("referenceName", json!(reference_name));
            put("start", json!([start]));
            put("end", json!([end]));
            for (name, value) in [
                ("variantType", variant_type),
                ("referenceBases", reference_bases),
                ("alternateBases", alternate_bases),
                ("assemblyId", assembly_id),
            ] {
                if let Some(value) = value {
                    put(name, json!(value));
                }
            }
        }
        GenomicQuery::Gene {
            gene_id,
            amino_acid_change,
            variant_type,
            assembly_id,
        } => {
            put("geneId", json!(gene_id));
            for (name, value) in [
                ("aminoacidChange", amino_acid_change),
                ("variantType", variant_type),
                ("assemblyId", assembly_id),
            ] {
                if let Some(value) = value {
                    put(name, json!(value));
                }
            }
        }
    }
    if let Some(ids) = dataset_ids {
        put("datasetIds", json!(ids));
    }
    json!(echoed)
}

fn as_text(value: &Value, name: &str) -> Result<String, BeaconError> {
    match value {
        Value::String(text) => Ok(text.trim().to_owned()),
        Value::Number(number) => Ok(number.to_string()),
        _ => Err(BeaconError::bad_request(format!("`{name}` must be a string"))),
    }
}

fn as_integer(value: &Value, name: &str) -> Result<u64, BeaconError> {
    let parsed = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        BeaconError::bad_request(format!("`{name}` must be a non-negative integer, not {value}"))
    })
}

fn as_bool(value: &Value, name: &str) -> Result<bool, BeaconError> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(BeaconError::bad_request(format!(
            "`{name}` must be true or false, not {value}"
        ))),
    }
}

fn as_list(value: &Value, name: &str) -> Result<Vec<String>, BeaconError> {
    let items: Vec<String> = match value {
        Value::String(text) => text.split(',').map(|item| item.trim().to_owned()).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| as_text(item, name))
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(BeaconError::bad_request(format!(
                "`{name}` must be a list of strings"
            )));
        }
    };
    if items.iter().any(String::is_empty) {
        return Err(BeaconError::bad_request(format!("`{name}` holds an empty value")));
    }
    Ok(items)
}

fn is_empty_filters(filters: &Value) -> bool {
    match filters {
        Value::Array(items) => items.is_empty(),
        Value::String(text) => text.trim().is_empty(),
        _ => false,
    }
}

/// `start`/`end` are arrays in POST bodies (two values make a bracket query) and may be
/// comma-separated in GET. Brackets are not answered yet and are refused explicitly.
fn single_coordinate(value: &Value, name: &str) -> Result<u64, BeaconError> {
    let values: Vec<Value> = match value {
        Value::Array(items) => items.clone(),
        Value::String(text) => text
            .split(',')
            .map(|item| Value::String(item.to_owned()))
            .collect(),
        other => vec![other.clone()],
    };
    match values.as_slice() {
        [single] => as_integer(single, name),
        [] => Err(BeaconError::bad_request(format!("`{name}` is empty"))),
        _ => Err(BeaconError::bad_request(format!(
            "`{name}` with two values (a bracket query) is not supported by this node yet"
        ))),
    }
}

fn checked_bases(bases: &str, name: &str) -> Result<String, BeaconError> {
    let upper = bases.to_ascii_uppercase();
    if upper.is_empty()
        || !upper
            .bytes()
            .all(|base| matches!(base, b'A' | b'C' | b'G' | b'T' | b'N'))
    {
        return Err(BeaconError::bad_request(format!(
            "`{name}` must be a sequence of A, C, G, T or N, not `{bases}`"
        )));
    }
    Ok(upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        text.split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    #[test]
    fn get_sequence_query_is_understood_with_defaults() {
        let request = QueryRequest::from_query_pairs(&pairs(
            "referenceName=17&start=7674219&referenceBases=G&alternateBases=a",
        ))
        .expect("valid");
        assert_eq!(
            request.query,
            GenomicQuery::Sequence {
                reference_name: "17".into(),
                start: 7_674_219,
                reference_bases: Some("G".into()),
                alternate_bases: "A".into(),
                assembly_id: None,
            }
        );
        assert_eq!(request.requested_granularity, Granularity::Boolean);
        assert_eq!(request.include_resultsets, IncludeResultsets::Hit);
        assert_eq!((request.skip, request.limit), (0, DEFAULT_LIMIT));
    }

    #[test]
    fn post_body_with_scoped_parameters_equals_the_flat_form() {
        let scoped = json!({"meta": {"apiVersion": "2.0"}, "query": {
            "requestParameters": {"g_variant": {"referenceName": "chr1", "start": [100], "end": [200]}},
            "requestedGranularity": "record", "pagination": {"skip": 1, "limit": 5}}});
        let flat = json!({"query": {
            "requestParameters": {"referenceName": "chr1", "start": [100], "end": [200]},
            "requestedGranularity": "record", "pagination": {"skip": 1, "limit": 5}}});
        let scoped = QueryRequest::from_body(&scoped).expect("scoped");
        let flat = QueryRequest::from_body(&flat).expect("flat");
        assert_eq!(scoped, flat);
        assert_eq!(scoped.requested_granularity, Granularity::Record);
        assert_eq!((scoped.skip, scoped.limit), (1, 5));
    }

    #[test]
    fn bad_and_unknown_parameters_are_named_in_the_error() {
        let cases = [
            ("referenceName=1&start=x&end=5", "`start`"),
            ("referenceName=1&start=10&end=5", "`end` (5)"),
            ("referenceName=1&start=10&end=20&colour=red", "`colour`"),
            ("referenceName=1&start=10&alternateBases=Z", "`alternateBases`"),
            ("referenceName=1&start=10", "`alternateBases` or `end`"),
            ("start=10&end=20", "`referenceName`"),
            (
                "referenceName=1&start=10&end=20&requestedGranularity=all",
                "`requestedGranularity`",
            ),
            ("referenceName=1&start=10&end=20&limit=1001", "`limit`"),
            ("referenceName=1&start=10&end=20&variantType=BND", "`variantType`"),
            (
                "genomicAlleleShortForm=NC_000017.11:g.7674220G>A",
                "`genomicAlleleShortForm`",
            ),
            ("geneId=BRAF&referenceName=7&start=1", "`geneId`"),
            ("geneId=BRAF&end=5", "`end`"),
            ("aminoacidChange=V600E", "`aminoacidChange` needs `geneId`"),
            ("geneId=BRAF&aminoacidChange=xyz", "`aminoacidChange`"),
            ("referenceName=1&start=10,20&end=30,40", "bracket"),
        ];
        for (query, named) in cases {
            let error = QueryRequest::from_query_pairs(&pairs(query)).expect_err(query);
            assert_eq!(error.status, 400, "{query}");
            assert!(error.message.contains(named), "{query}: {}", error.message);
        }
    }

    #[test]
    fn gene_queries_normalise_the_amino_acid_change() {
        let request =
            QueryRequest::from_query_pairs(&pairs("geneid=BRAF&aminoacidChange=p.Val600Glu")).expect("valid");
        assert_eq!(
            request.query,
            GenomicQuery::Gene {
                gene_id: "BRAF".into(),
                amino_acid_change: Some("V600E".into()),
                variant_type: None,
                assembly_id: None,
            }
        );
        assert_eq!(request.query.reference_name(), None);
    }

    #[test]
    fn limit_zero_asks_for_the_maximum_page() {
        let request =
            QueryRequest::from_query_pairs(&pairs("referenceName=1&start=10&end=20&limit=0")).expect("valid");
        assert_eq!(request.limit, MAX_LIMIT);
    }

    #[test]
    fn include_resultsets_decides_which_sets_show() {
        assert!(IncludeResultsets::Hit.shows(true) && !IncludeResultsets::Hit.shows(false));
        assert!(IncludeResultsets::Miss.shows(false) && !IncludeResultsets::Miss.shows(true));
        assert!(IncludeResultsets::All.shows(false) && !IncludeResultsets::None.shows(true));
    }
}

/// A request for collections (`/datasets`): only pagination applies.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectionRequest {
    pub skip: u64,
    pub limit: u64,
    pub summary: Value,
}

impl CollectionRequest {
    pub fn from_query_pairs(pairs: &[(String, String)]) -> Result<Self, BeaconError> {
        let mut skip = None;
        let mut limit = None;
        for (name, value) in pairs {
            let slot = match name.as_str() {
                "skip" => &mut skip,
                "limit" => &mut limit,
                other => {
                    return Err(BeaconError::bad_request(format!(
                        "unknown request parameter `{other}`: collections take `skip` and `limit`"
                    )));
                }
            };
            *slot = Some(Value::String(value.clone()));
        }
        Self::build(skip.as_ref(), limit.as_ref())
    }

    pub fn from_body(body: &Value) -> Result<Self, BeaconError> {
        let query = body_query(
            body,
            &["pagination"],
            "query (collections take only `pagination`)",
        )?;
        let pagination = pagination(query)?;
        Self::build(
            pagination.and_then(|pagination| pagination.get("skip")),
            pagination.and_then(|pagination| pagination.get("limit")),
        )
    }

    fn build(skip: Option<&Value>, limit: Option<&Value>) -> Result<Self, BeaconError> {
        let skip = skip
            .map(|value| as_integer(value, "skip"))
            .transpose()?
            .unwrap_or(0);
        let limit = page_limit(limit)?;
        let summary = json!({
            "apiVersion": crate::API_VERSION,
            "requestedSchemas": [],
            "pagination": { "skip": skip, "limit": limit },
            "requestedGranularity": "record",
        });
        Ok(Self { skip, limit, summary })
    }
}

/// `limit`: absent → the default page, 0 → the maximum (the specification's reading).
fn page_limit(limit: Option<&Value>) -> Result<u64, BeaconError> {
    match limit.map(|value| as_integer(value, "limit")).transpose()? {
        None => Ok(DEFAULT_LIMIT),
        Some(0) => Ok(MAX_LIMIT),
        Some(limit) if limit > MAX_LIMIT => Err(BeaconError::bad_request(format!(
            "`limit` must be at most {MAX_LIMIT}, not {limit} (0 asks for the maximum)"
        ))),
        Some(limit) => Ok(limit),
    }
}
