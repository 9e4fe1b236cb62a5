//! Beacon query requests, from GET query strings and POST `beaconRequestBody` alike, reduced
//! to one [`QueryRequest`]. Every parameter is either understood or refused with a 400 that
//! names it: nothing is silently ignored.

use std::collections::BTreeMap;

use phare_domain::{Assembly, Granularity, HgvsEdit, parse_genomic_hgvs};
use serde_json::{Map, Value, json};

use crate::error::BeaconError;
use crate::filters::{Filter, filters_summary, parse_filters};

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
///
/// `variant_type` holds the term as understood (`DEL`, `EFO:0030067`, `DUP` for `DUP:TANDEM`);
/// [`GenomicQuery::stored_variant_types`] gives the stored types it selects. `min_length` and
/// `max_length` (`variantMinLength`, `variantMaxLength`) bound an allele's length, as defined in
/// docs/decisions/0022-genomic-query-forms.md.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GenomicQuery {
    /// `referenceName` + `start` + `alternateBases` (+ `referenceBases`), or an HGVS
    /// substitution: one allele.
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
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
    /// `start=[start_min, start_max]` + `end=[end_min, end_max]`: every allele whose start is in
    /// [start_min, start_max] and whose (exclusive) end is in [end_min, end_max], both
    /// brackets inclusive.
    Bracket {
        reference_name: String,
        start_min: u64,
        start_max: u64,
        end_min: u64,
        end_max: u64,
        variant_type: Option<String>,
        assembly_id: Option<String>,
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
    /// An HGVS deletion, insertion or deletion-insertion (`genomicAlleleShortForm`): the allele
    /// that removes exactly [start, end) and puts exactly `inserted` there (an insertion has
    /// start = end, a deletion an empty `inserted`).
    Edit {
        reference_name: String,
        start: u64,
        end: u64,
        inserted: String,
        assembly_id: Option<String>,
    },
    /// An HGVS duplication (`g.100_102dup`): a copy of [start, end) inserted beside it.
    Duplication {
        reference_name: String,
        start: u64,
        end: u64,
        assembly_id: Option<String>,
    },
    /// `geneId` (+ `aminoacidChange`, one-letter form): alleles annotated on that gene.
    Gene {
        gene_id: String,
        amino_acid_change: Option<String>,
        variant_type: Option<String>,
        assembly_id: Option<String>,
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
}

impl GenomicQuery {
    /// The chromosome asked for; a gene query names none.
    pub fn reference_name(&self) -> Option<&str> {
        match self {
            Self::Sequence { reference_name, .. }
            | Self::Range { reference_name, .. }
            | Self::Bracket { reference_name, .. }
            | Self::Edit { reference_name, .. }
            | Self::Duplication { reference_name, .. } => Some(reference_name),
            Self::Gene { .. } => None,
        }
    }

    pub fn assembly_id(&self) -> Option<&str> {
        match self {
            Self::Sequence { assembly_id, .. }
            | Self::Range { assembly_id, .. }
            | Self::Bracket { assembly_id, .. }
            | Self::Edit { assembly_id, .. }
            | Self::Duplication { assembly_id, .. }
            | Self::Gene { assembly_id, .. } => assembly_id.as_deref(),
        }
    }

    /// The stored `variant_type` values the query's `variantType` selects; `None` for any type.
    pub fn stored_variant_types(&self) -> Option<Vec<String>> {
        let term = match self {
            Self::Range { variant_type, .. }
            | Self::Bracket { variant_type, .. }
            | Self::Gene { variant_type, .. } => variant_type.as_deref()?,
            Self::Sequence { .. } | Self::Edit { .. } | Self::Duplication { .. } => return None,
        };
        stored_variant_types(term).map(|types| types.iter().map(|name| (*name).to_owned()).collect())
    }
}

/// `variantType` terms this node answers, each with the stored types it selects. The stored
/// types are `SNP`, `MNP`, `INS`, `DEL`, `INDEL` (sequence alleles) and `DEL`, `DUP`, `INS`,
/// `INV`, `CNV` (symbolic structural alleles). The EFO copy-number terms follow the Beacon /
/// hCNV mapping (gains are `DUP`, losses `DEL`); the parent term, relative copy number
/// variation, takes its descendants too. Stored alleles carry no copy number, so the levels
/// (low-level, high-level, complete) cannot be told apart and select every loss or gain.
const VARIANT_TERMS: &[(&str, &[&str])] = &[
    ("SNP", &["SNP"]),
    ("MNP", &["MNP"]),
    ("INS", &["INS"]),
    ("DEL", &["DEL"]),
    ("INDEL", &["INDEL"]),
    ("DUP", &["DUP"]),
    ("INV", &["INV"]),
    ("CNV", &["CNV"]),
    ("SO:0001483", &["SNP"]),
    ("SO:0002007", &["MNP"]),
    ("SO:0000667", &["INS"]),
    ("SO:0000159", &["DEL"]),
    ("SO:1000032", &["INDEL"]),
    ("SO:1000035", &["DUP"]),
    ("SO:1000036", &["INV"]),
    ("EFO:0030066", &["CNV", "DEL", "DUP"]),
    ("SO:0001019", &["CNV", "DEL", "DUP"]),
    ("EFO:0030067", &["DEL"]),
    ("EFO:0030068", &["DEL"]),
    ("EFO:0020073", &["DEL"]),
    ("EFO:0030069", &["DEL"]),
    ("SO:0001743", &["DEL"]),
    ("EFO:0030070", &["DUP"]),
    ("EFO:0030071", &["DUP"]),
    ("EFO:0030072", &["DUP"]),
    ("EFO:0030073", &["DUP"]),
    ("SO:0001742", &["DUP"]),
];

/// The stored types a `variantType` term (as [`GenomicQuery`] holds it) selects.
pub fn stored_variant_types(term: &str) -> Option<&'static [&'static str]> {
    VARIANT_TERMS
        .iter()
        .find(|(known, _)| *known == term)
        .map(|(_, types)| *types)
}

/// A `variantType` as given, upper-cased; a legacy subtype (`DUP:TANDEM`, `DEL:ME:ALU`) folds
/// to its type, as ingestion stores it.
fn variant_type_term(text: &str) -> Result<String, BeaconError> {
    let upper = text.trim().to_ascii_uppercase();
    if stored_variant_types(&upper).is_some() {
        return Ok(upper);
    }
    if let Some((base, _)) = upper.split_once(':')
        && !base.is_empty()
        && stored_variant_types(base).is_some()
    {
        return Ok(base.to_owned());
    }
    Err(BeaconError::bad_request(format!(
        "`variantType` `{text}` is not one this node answers: use SNP, MNP, INS, DEL, INDEL, DUP, INV, CNV, \
         an EFO copy-number term (EFO:0030066 to EFO:0030073, EFO:0020073) or the SO term of one of these"
    )))
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueryRequest {
    /// `None` for a query made of filters alone.
    pub query: Option<GenomicQuery>,
    pub filters: Vec<Filter>,
    pub test_mode: bool,
    pub requested_granularity: Granularity,
    pub dataset_ids: Option<Vec<String>>,
    pub include_resultsets: IncludeResultsets,
    /// Pages to skip, as the specification defines `skip`.
    pub skip: u64,
    pub limit: u64,
    /// The understood request, echoed as `meta.receivedRequestSummary`.
    pub summary: Value,
}

/// Genomic parameters this node understands; the pairs are two spellings of one parameter.
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
    "aminoAcidChange",
    "genomicAlleleShortForm",
    "allele",
    "variantMinLength",
    "variantMaxLength",
];
/// Parameters of the specification this node does not answer yet: refused explicitly.
const NOT_YET: &[&str] = &["mateName"];
/// Framework parameters of a GET query string.
const FRAMEWORK: &[&str] = &[
    "requestedSchema",
    "requestedGranularity",
    "datasetIds",
    "includeResultsetResponses",
    "skip",
    "limit",
    "testMode",
    "filters",
];
/// What `/g_variants` says when a request has no genomic part.
pub const GENOMIC_QUERY_NEEDED: &str = "a genomic query needs `referenceName` and `start` (with `alternateBases` for a sequence query, or `end` for a range query), `genomicAlleleShortForm`, or `geneId`";

/// Parameters that place a query on a chromosome, refused beside a gene or HGVS query.
const POSITIONAL: &[&str] = &[
    "referenceName",
    "start",
    "end",
    "referenceBases",
    "alternateBases",
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
        let mut request = Self::build(&genomic, &settings)?;
        request.summary["requestedSchemas"] = requested_schemas(framework.get("requestedSchema"))?;
        Ok(request)
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

    /// The chromosome asked for, if the query names one.
    pub fn reference_name(&self) -> Option<&str> {
        self.query.as_ref().and_then(GenomicQuery::reference_name)
    }

    /// The assembly asked for (`assemblyId`, or the one an HGVS accession names), if any.
    pub fn assembly_id(&self) -> Option<&str> {
        self.query.as_ref().and_then(GenomicQuery::assembly_id)
    }

    fn build(genomic: &Map<String, Value>, settings: &Settings<'_>) -> Result<Self, BeaconError> {
        for name in genomic.keys() {
            if NOT_YET.contains(&name.as_str()) {
                return Err(BeaconError::bad_request(format!(
                    "`{name}` queries are not supported by this node yet: use referenceName with start (and end or alternateBases), genomicAlleleShortForm, or geneId"
                )));
            }
            if !SUPPORTED.contains(&name.as_str()) {
                return Err(BeaconError::bad_request(format!(
                    "unknown request parameter `{name}`"
                )));
            }
        }
        let requested_granularity =
            requested_granularity(settings.requested_granularity)?.unwrap_or(Granularity::Boolean);
        let include_resultsets =
            include_resultsets(settings.include_resultsets)?.unwrap_or(IncludeResultsets::Hit);
        let skip = settings
            .skip
            .map(|value| as_integer(value, "skip"))
            .transpose()?
            .unwrap_or(0);
        // The specification reads `limit` 0 as "all results, or the maximum allowed".
        let limit = page_limit(settings.limit)?;
        let test_mode = test_mode(settings.test_mode)?;
        let filters = settings
            .filters
            .map(parse_filters)
            .transpose()?
            .unwrap_or_default();
        let dataset_ids = settings
            .dataset_ids
            .map(|value| as_list(value, "datasetIds"))
            .transpose()?;
        // Without genomic parameters the query is made of filters alone (or of nothing, which
        // entry types other than genomic variations answer as "all"); `/g_variants` refuses it.
        let (query, short_form) = if genomic.is_empty() {
            (None, None)
        } else {
            let (query, short_form) = genomic_query(genomic)?;
            (Some(query), short_form)
        };
        let summary = json!({
            "apiVersion": crate::API_VERSION,
            "requestedSchemas": [],
            "pagination": { "skip": skip, "limit": limit },
            "requestedGranularity": requested_granularity.as_str(),
            "includeResultsetResponses": include_resultsets.as_str(),
            "requestParameters": {
                "g_variant": summary_parameters(query.as_ref(), short_form.as_deref(), dataset_ids.as_deref())
            },
            "filters": filters_summary(&filters),
            "testMode": test_mode,
        });
        Ok(Self {
            query,
            filters,
            test_mode,
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

/// The genomic part of a query, with the HGVS text when it was given as one (for the echo).
fn genomic_query(parameters: &Map<String, Value>) -> Result<(GenomicQuery, Option<String>), BeaconError> {
    let text = |name: &str| parameters.get(name).map(|value| as_text(value, name)).transpose();
    let assembly_id = text("assemblyId")?
        .map(|text| {
            text.parse::<Assembly>()
                .map(|assembly| assembly.as_str().to_owned())
                .map_err(|error| BeaconError::bad_request(format!("`assemblyId`: {error}")))
        })
        .transpose()?;
    if let Some((name, short_form)) = either(parameters, "genomicAlleleShortForm", "allele")? {
        let query = short_form_query(parameters, name, &short_form, assembly_id)?;
        return Ok((query, Some(short_form)));
    }
    let variant_type = text("variantType")?
        .map(|term| variant_type_term(&term))
        .transpose()?;
    let (min_length, max_length) = length_bounds(parameters)?;
    let gene_id = either(parameters, "geneId", "geneid")?;
    let amino_acid_change = either(parameters, "aminoacidChange", "aminoAcidChange")?;
    if let Some((gene_name, gene_id)) = gene_id {
        if let Some(name) = POSITIONAL.iter().find(|name| parameters.contains_key(**name)) {
            return Err(BeaconError::bad_request(format!(
                "`{gene_name}` is a query of its own: give it without `{name}` (a gene query takes `aminoacidChange`, `variantType`, `variantMinLength`, `variantMaxLength`, `assemblyId`)"
            )));
        }
        if gene_id.is_empty() {
            return Err(BeaconError::bad_request(format!("`{gene_name}` is empty")));
        }
        let amino_acid_change = match amino_acid_change {
            None => None,
            Some((name, change)) => {
                Some(phare_domain::normalise_protein_change(&change).ok_or_else(|| {
                    BeaconError::bad_request(format!(
                        "`{name}` `{change}` is not a protein change such as V600E"
                    ))
                })?)
            }
        };
        let query = GenomicQuery::Gene {
            gene_id,
            amino_acid_change,
            variant_type,
            assembly_id,
            min_length,
            max_length,
        };
        return Ok((query, None));
    }
    if let Some((name, _)) = amino_acid_change {
        return Err(BeaconError::bad_request(format!("`{name}` needs `geneId`")));
    }
    let Some(reference_name) = text("referenceName")? else {
        return Err(BeaconError::bad_request(GENOMIC_QUERY_NEEDED));
    };
    let Some(start_value) = parameters.get("start") else {
        return Err(BeaconError::bad_request(
            "`start` is missing: a genomic query needs a 0-based start",
        ));
    };
    let start = coordinates(start_value, "start")?;
    let end = parameters
        .get("end")
        .map(|value| coordinates(value, "end"))
        .transpose()?;
    let reference_bases = text("referenceBases")?
        .map(|bases| checked_bases(&bases, "referenceBases"))
        .transpose()?;
    let alternate_bases = text("alternateBases")?
        .map(|bases| checked_bases(&bases, "alternateBases"))
        .transpose()?;
    let query = match (start.as_slice(), end.as_deref()) {
        (&[start_min, start_max], Some(&[end_min, end_max])) => {
            if let Some(name) = ["referenceBases", "alternateBases"]
                .iter()
                .find(|name| parameters.contains_key(**name))
            {
                return Err(BeaconError::bad_request(format!(
                    "`{name}` cannot be combined with a bracket query (two values in `start` and `end`): narrow it with `variantType` or the length bounds"
                )));
            }
            if start_min > start_max {
                return Err(BeaconError::bad_request(format!(
                    "`start` bracket [{start_min}, {start_max}] must go from the lower to the higher position"
                )));
            }
            if end_min > end_max {
                return Err(BeaconError::bad_request(format!(
                    "`end` bracket [{end_min}, {end_max}] must go from the lower to the higher position"
                )));
            }
            if end_max <= start_min {
                return Err(BeaconError::bad_request(format!(
                    "`end` bracket [{end_min}, {end_max}] ends before the `start` bracket [{start_min}, {start_max}] begins: an allele ends after its start"
                )));
            }
            GenomicQuery::Bracket {
                reference_name,
                start_min,
                start_max,
                end_min,
                end_max,
                variant_type,
                assembly_id,
                min_length,
                max_length,
            }
        }
        (&[_, _], _) => {
            return Err(BeaconError::bad_request(
                "`end` needs two values too: a bracket query gives two values in both `start` and `end`",
            ));
        }
        (&[_], Some(&[_, _])) => {
            return Err(BeaconError::bad_request(
                "`start` needs two values too: a bracket query gives two values in both `start` and `end`",
            ));
        }
        (&[start], Some(&[end])) => {
            if end <= start {
                return Err(BeaconError::bad_request(format!(
                    "`end` ({end}) must be greater than `start` ({start}): coordinates are 0-based, half-open"
                )));
            }
            GenomicQuery::Range {
                reference_name,
                start,
                end,
                variant_type,
                reference_bases,
                alternate_bases,
                assembly_id,
                min_length,
                max_length,
            }
        }
        (&[start], None) => {
            let Some(alternate_bases) = alternate_bases else {
                return Err(BeaconError::bad_request(
                    "`alternateBases` or `end` is missing: give `alternateBases` for a sequence query or `end` for a range query",
                ));
            };
            if variant_type.is_some() {
                return Err(BeaconError::bad_request(
                    "`variantType` needs a range or bracket query (`start` and `end`)",
                ));
            }
            if let Some(name) = ["variantMinLength", "variantMaxLength"]
                .iter()
                .find(|name| parameters.contains_key(**name))
            {
                return Err(BeaconError::bad_request(format!(
                    "`{name}` needs a range, bracket or gene query: a sequence query names one allele"
                )));
            }
            GenomicQuery::Sequence {
                reference_name,
                start,
                reference_bases,
                alternate_bases,
                assembly_id,
            }
        }
        // `coordinates` gives one or two values.
        _ => {
            return Err(BeaconError::bad_request(
                "`start` and `end` take one value, or two for a bracket query",
            ));
        }
    };
    Ok((query, None))
}

/// `genomicAlleleShortForm` (or `allele`): an HGVS genomic description, a query of its own.
/// A substitution is a sequence query; the other forms name an interval and inserted bases.
fn short_form_query(
    parameters: &Map<String, Value>,
    name: &str,
    short_form: &str,
    assembly_id: Option<String>,
) -> Result<GenomicQuery, BeaconError> {
    if let Some(other) = parameters
        .keys()
        .find(|key| !matches!(key.as_str(), "genomicAlleleShortForm" | "allele" | "assemblyId"))
    {
        return Err(BeaconError::bad_request(format!(
            "`{name}` is a query of its own: give it without `{other}` (it takes only `assemblyId`)"
        )));
    }
    let parsed = parse_genomic_hgvs(short_form)
        .map_err(|error| BeaconError::bad_request(format!("`{name}`: {error}")))?;
    let assembly_id = match (assembly_id, parsed.assembly) {
        (Some(given), Some(named)) if given != named.as_str() => {
            return Err(BeaconError::bad_request(format!(
                "`assemblyId` {given} does not match `{name}`, whose accession {} is on {named}",
                parsed.accession
            )));
        }
        (given, named) => given.or_else(|| named.map(|assembly| assembly.as_str().to_owned())),
    };
    let reference_name = parsed.accession;
    Ok(match parsed.edit {
        HgvsEdit::Substitution {
            start,
            reference,
            alternate,
        } => GenomicQuery::Sequence {
            reference_name,
            start,
            reference_bases: Some(reference),
            alternate_bases: alternate,
            assembly_id,
        },
        HgvsEdit::Deletion { start, end } => GenomicQuery::Edit {
            reference_name,
            start,
            end,
            inserted: String::new(),
            assembly_id,
        },
        HgvsEdit::Insertion { at, inserted } => GenomicQuery::Edit {
            reference_name,
            start: at,
            end: at,
            inserted,
            assembly_id,
        },
        HgvsEdit::DeletionInsertion { start, end, inserted } => GenomicQuery::Edit {
            reference_name,
            start,
            end,
            inserted,
            assembly_id,
        },
        HgvsEdit::Duplication { start, end } => GenomicQuery::Duplication {
            reference_name,
            start,
            end,
            assembly_id,
        },
    })
}

/// A parameter with two accepted spellings, as (spelling used, value); both at once is a 400.
fn either<'a>(
    parameters: &Map<String, Value>,
    name: &'a str,
    alias: &'a str,
) -> Result<Option<(&'a str, String)>, BeaconError> {
    match (parameters.get(name), parameters.get(alias)) {
        (Some(_), Some(_)) => Err(BeaconError::bad_request(format!(
            "give `{name}` once (`{alias}` is the same parameter)"
        ))),
        (Some(value), None) => Ok(Some((name, as_text(value, name)?))),
        (None, Some(value)) => Ok(Some((alias, as_text(value, alias)?))),
        (None, None) => Ok(None),
    }
}

/// `variantMinLength` and `variantMaxLength`: non-negative, the minimum not above the maximum.
fn length_bounds(parameters: &Map<String, Value>) -> Result<(Option<u64>, Option<u64>), BeaconError> {
    let bound = |name: &str| {
        parameters
            .get(name)
            .map(|value| as_integer(value, name))
            .transpose()
    };
    let minimum = bound("variantMinLength")?;
    let maximum = bound("variantMaxLength")?;
    if let (Some(minimum), Some(maximum)) = (minimum, maximum)
        && minimum > maximum
    {
        return Err(BeaconError::bad_request(format!(
            "`variantMinLength` ({minimum}) must not exceed `variantMaxLength` ({maximum})"
        )));
    }
    Ok((minimum, maximum))
}

/// The genomic parameters as understood, for `receivedRequestSummary` (absent ones left out).
fn summary_parameters(
    query: Option<&GenomicQuery>,
    short_form: Option<&str>,
    dataset_ids: Option<&[String]>,
) -> Value {
    let mut echoed: BTreeMap<&str, Value> = BTreeMap::new();
    match (query, short_form) {
        (None, _) => {}
        // An HGVS query is echoed as it was asked, not as the coordinates it was read into.
        (Some(query), Some(short_form)) => {
            echoed.insert("genomicAlleleShortForm", json!(short_form));
            echoed.insert("assemblyId", json!(query.assembly_id()));
        }
        (
            Some(GenomicQuery::Sequence {
                reference_name,
                start,
                reference_bases,
                alternate_bases,
                assembly_id,
            }),
            None,
        ) => {
            echoed.insert("referenceName", json!(reference_name));
            echoed.insert("start", json!([start]));
            echoed.insert("alternateBases", json!(alternate_bases));
            echoed.insert("referenceBases", json!(reference_bases));
            echoed.insert("assemblyId", json!(assembly_id));
        }
        (
            Some(GenomicQuery::Range {
                reference_name,
                start,
                end,
                variant_type,
                reference_bases,
                alternate_bases,
                assembly_id,
                min_length,
                max_length,
            }),
            None,
        ) => {
            echoed.insert("referenceName", json!(reference_name));
            echoed.insert("start", json!([start]));
            echoed.insert("end", json!([end]));
            echoed.insert("variantType", json!(variant_type));
            echoed.insert("referenceBases", json!(reference_bases));
            echoed.insert("alternateBases", json!(alternate_bases));
            echoed.insert("assemblyId", json!(assembly_id));
            echoed.insert("variantMinLength", json!(min_length));
            echoed.insert("variantMaxLength", json!(max_length));
        }
        (
            Some(GenomicQuery::Bracket {
                reference_name,
                start_min,
                start_max,
                end_min,
                end_max,
                variant_type,
                assembly_id,
                min_length,
                max_length,
            }),
            None,
        ) => {
            echoed.insert("referenceName", json!(reference_name));
            echoed.insert("start", json!([start_min, start_max]));
            echoed.insert("end", json!([end_min, end_max]));
            echoed.insert("variantType", json!(variant_type));
            echoed.insert("assemblyId", json!(assembly_id));
            echoed.insert("variantMinLength", json!(min_length));
            echoed.insert("variantMaxLength", json!(max_length));
        }
        (
            Some(GenomicQuery::Gene {
                gene_id,
                amino_acid_change,
                variant_type,
                assembly_id,
                min_length,
                max_length,
            }),
            None,
        ) => {
            echoed.insert("geneId", json!(gene_id));
            echoed.insert("aminoacidChange", json!(amino_acid_change));
            echoed.insert("variantType", json!(variant_type));
            echoed.insert("assemblyId", json!(assembly_id));
            echoed.insert("variantMinLength", json!(min_length));
            echoed.insert("variantMaxLength", json!(max_length));
        }
        // Edits and duplications come only from an HGVS description, echoed above.
        (Some(GenomicQuery::Edit { .. } | GenomicQuery::Duplication { .. }), None) => {}
    }
    if let Some(ids) = dataset_ids {
        echoed.insert("datasetIds", json!(ids));
    }
    echoed.retain(|_, value| !value.is_null());
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

/// `testMode`, false when absent.
fn test_mode(value: Option<&Value>) -> Result<bool, BeaconError> {
    Ok(value
        .map(|value| as_bool(value, "testMode"))
        .transpose()?
        .unwrap_or(false))
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

/// `start`/`end`: arrays in POST bodies, comma-separated in GET (a single number is accepted
/// too); one value, or two for a bracket query.
fn coordinates(value: &Value, name: &str) -> Result<Vec<u64>, BeaconError> {
    let values: Vec<u64> = match value {
        Value::Array(items) => items
            .iter()
            .map(|item| as_integer(item, name))
            .collect::<Result<_, _>>()?,
        Value::String(text) => text
            .split(',')
            .map(|item| as_integer(&Value::String(item.to_owned()), name))
            .collect::<Result<_, _>>()?,
        other => vec![as_integer(other, name)?],
    };
    match values.len() {
        0 => Err(BeaconError::bad_request(format!("`{name}` is empty"))),
        1 | 2 => Ok(values),
        count => Err(BeaconError::bad_request(format!(
            "`{name}` takes one value, or two for a bracket query, not {count}"
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

/// A request for collections (`/datasets`): pagination, filters and `testMode` apply.
#[derive(Clone, Debug, PartialEq)]
pub struct CollectionRequest {
    pub skip: u64,
    pub limit: u64,
    pub filters: Vec<Filter>,
    pub test_mode: bool,
    pub summary: Value,
}

/// Parameters a collection (`/datasets`, `/cohorts`) takes. `requestedGranularity` and
/// `includeResultsetResponses` are read for the echo (and checked): a collections answer is
/// always the list itself.
const COLLECTION_PARAMETERS: &[&str] = &[
    "skip",
    "limit",
    "filters",
    "testMode",
    "requestedGranularity",
    "includeResultsetResponses",
    "requestedSchema",
];

impl CollectionRequest {
    pub fn from_query_pairs(pairs: &[(String, String)]) -> Result<Self, BeaconError> {
        let mut given = Map::new();
        for (name, value) in pairs {
            if !COLLECTION_PARAMETERS.contains(&name.as_str()) {
                return Err(BeaconError::bad_request(format!(
                    "unknown request parameter `{name}`: collections take {}",
                    COLLECTION_PARAMETERS.join(", ")
                )));
            }
            if given.insert(name.clone(), Value::String(value.clone())).is_some() {
                return Err(BeaconError::bad_request(format!(
                    "parameter `{name}` is given more than once"
                )));
            }
        }
        let mut request = Self::build(
            given.get("skip"),
            given.get("limit"),
            given.get("filters"),
            given.get("testMode"),
            given.get("requestedGranularity"),
            given.get("includeResultsetResponses"),
        )?;
        request.summary["requestedSchemas"] = requested_schemas(given.get("requestedSchema"))?;
        Ok(request)
    }

    pub fn from_body(body: &Value) -> Result<Self, BeaconError> {
        let query = body_query(
            body,
            &[
                "pagination",
                "filters",
                "testMode",
                "requestedGranularity",
                "includeResultsetResponses",
            ],
            "query (collections take `pagination`, `filters`, `testMode`, `requestedGranularity` and `includeResultsetResponses`)",
        )?;
        let pagination = pagination(query)?;
        Self::build(
            pagination.and_then(|pagination| pagination.get("skip")),
            pagination.and_then(|pagination| pagination.get("limit")),
            query.and_then(|query| query.get("filters")),
            query.and_then(|query| query.get("testMode")),
            query.and_then(|query| query.get("requestedGranularity")),
            query.and_then(|query| query.get("includeResultsetResponses")),
        )
    }

    fn build(
        skip: Option<&Value>,
        limit: Option<&Value>,
        filters: Option<&Value>,
        test_mode_value: Option<&Value>,
        granularity: Option<&Value>,
        include_resultsets_value: Option<&Value>,
    ) -> Result<Self, BeaconError> {
        let skip = skip
            .map(|value| as_integer(value, "skip"))
            .transpose()?
            .unwrap_or(0);
        let limit = page_limit(limit)?;
        let filters = filters.map(parse_filters).transpose()?.unwrap_or_default();
        let test_mode = test_mode(test_mode_value)?;
        // Checked like a query's, echoed; a collections answer is the list itself.
        let requested_granularity = requested_granularity(granularity)?.unwrap_or(Granularity::Record);
        include_resultsets(include_resultsets_value)?;
        let summary = json!({
            "apiVersion": crate::API_VERSION,
            "requestedSchemas": [],
            "pagination": { "skip": skip, "limit": limit },
            "requestedGranularity": requested_granularity.as_str(),
            "filters": filters_summary(&filters),
            "testMode": test_mode,
        });
        Ok(Self {
            skip,
            limit,
            filters,
            test_mode,
            summary,
        })
    }
}

/// `requestedSchema` of a GET query string, echoed as `requestedSchemas`. The answer is given in
/// the entry type's default schema whatever is asked, and `returnedSchemas` says which.
fn requested_schemas(value: Option<&Value>) -> Result<Value, BeaconError> {
    let Some(value) = value else {
        return Ok(json!([]));
    };
    let schema = as_text(value, "requestedSchema")?;
    if schema.trim().is_empty() {
        return Err(BeaconError::bad_request("`requestedSchema` is empty"));
    }
    Ok(json!([{ "schema": schema }]))
}

/// `requestedGranularity`: boolean, count or record (`none` is the policy's word, not a request).
fn requested_granularity(value: Option<&Value>) -> Result<Option<Granularity>, BeaconError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let text = as_text(value, "requestedGranularity")?;
    match text.parse::<Granularity>() {
        Ok(Granularity::None) | Err(_) => Err(BeaconError::bad_request(format!(
            "`requestedGranularity` must be boolean, count or record, not `{text}`"
        ))),
        Ok(granularity) => Ok(Some(granularity)),
    }
}

/// `includeResultsetResponses`: ALL, HIT, MISS or NONE, in any case.
fn include_resultsets(value: Option<&Value>) -> Result<Option<IncludeResultsets>, BeaconError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match as_text(value, "includeResultsetResponses")?
        .to_ascii_uppercase()
        .as_str()
    {
        "ALL" => Ok(Some(IncludeResultsets::All)),
        "HIT" => Ok(Some(IncludeResultsets::Hit)),
        "MISS" => Ok(Some(IncludeResultsets::Miss)),
        "NONE" => Ok(Some(IncludeResultsets::None)),
        other => Err(BeaconError::bad_request(format!(
            "`includeResultsetResponses` must be ALL, HIT, MISS or NONE, not `{other}`"
        ))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::FilterKind;

    fn pairs(text: &str) -> Vec<(String, String)> {
        text.split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    fn get(text: &str) -> QueryRequest {
        QueryRequest::from_query_pairs(&pairs(text)).expect(text)
    }

    fn query(text: &str) -> GenomicQuery {
        get(text).query.expect(text)
    }

    fn post(parameters: Value) -> QueryRequest {
        QueryRequest::from_body(&json!({"query": {"requestParameters": parameters}})).expect("valid body")
    }

    #[test]
    fn get_sequence_query_is_understood_with_defaults() {
        let request = get("referenceName=17&start=7674219&referenceBases=G&alternateBases=a");
        assert_eq!(
            request.query,
            Some(GenomicQuery::Sequence {
                reference_name: "17".into(),
                start: 7_674_219,
                reference_bases: Some("G".into()),
                alternate_bases: "A".into(),
                assembly_id: None,
            })
        );
        assert_eq!(request.requested_granularity, Granularity::Boolean);
        assert_eq!(request.include_resultsets, IncludeResultsets::Hit);
        assert_eq!((request.skip, request.limit), (0, DEFAULT_LIMIT));
        assert!(request.filters.is_empty() && !request.test_mode);
        assert_eq!(request.reference_name(), Some("17"));
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
    fn bracket_queries_from_get_and_post_alike() {
        let expected = GenomicQuery::Bracket {
            reference_name: "1".into(),
            start_min: 9_000,
            start_max: 10_500,
            end_min: 14_000,
            end_max: 16_000,
            variant_type: Some("DEL".into()),
            assembly_id: None,
            min_length: None,
            max_length: None,
        };
        assert_eq!(
            query("referenceName=1&start=9000,10500&end=14000,16000&variantType=DEL"),
            expected
        );
        let request = post(json!({
            "referenceName": "1", "start": [9000, 10500], "end": [14000, 16000], "variantType": "DEL"
        }));
        assert_eq!(request.query, Some(expected));
        let echoed = &request.summary["requestParameters"]["g_variant"];
        assert_eq!(echoed["start"], json!([9000, 10500]));
        assert_eq!(echoed["end"], json!([14000, 16000]));
        // A precise bracket: one position on each side.
        assert!(matches!(
            query("referenceName=1&start=10000,10000&end=15000,15000"),
            GenomicQuery::Bracket {
                start_min: 10_000,
                start_max: 10_000,
                end_min: 15_000,
                end_max: 15_000,
                ..
            }
        ));
    }

    #[test]
    fn hgvs_substitution_is_a_sequence_query_on_the_accession_assembly() {
        let request = get("genomicAlleleShortForm=NC_000017.11:g.7674220C>T");
        assert_eq!(
            request.query,
            Some(GenomicQuery::Sequence {
                reference_name: "NC_000017.11".into(),
                start: 7_674_219,
                reference_bases: Some("C".into()),
                alternate_bases: "T".into(),
                assembly_id: Some("GRCh38".into()),
            })
        );
        assert_eq!(
            request.summary["requestParameters"]["g_variant"],
            json!({"genomicAlleleShortForm": "NC_000017.11:g.7674220C>T", "assemblyId": "GRCh38"})
        );
        assert_eq!(request.assembly_id(), Some("GRCh38"));
        // `allele` is the same parameter, and an agreeing assemblyId is accepted.
        assert_eq!(
            query("allele=NC_000017.10:g.7577538C>T&assemblyId=hg19").assembly_id(),
            Some("GRCh37")
        );
    }

    #[test]
    fn hgvs_deletions_insertions_and_duplications_are_edits() {
        let edit = |start, end, inserted: &str| GenomicQuery::Edit {
            reference_name: "NC_000001.11".into(),
            start,
            end,
            inserted: inserted.into(),
            assembly_id: Some("GRCh38".into()),
        };
        let cases = [
            ("NC_000001.11:g.3001_3002del", edit(3000, 3002, "")),
            ("NC_000001.11:g.3001_3002delTC", edit(3000, 3002, "")),
            ("NC_000001.11:g.6000del", edit(5999, 6000, "")),
            ("NC_000001.11:g.4000_4001insAA", edit(4000, 4000, "AA")),
            ("NC_000001.11:g.5001_5002delinsGA", edit(5000, 5002, "GA")),
        ];
        for (text, expected) in cases {
            assert_eq!(
                query(&format!("genomicAlleleShortForm={text}")),
                expected,
                "{text}"
            );
        }
        assert_eq!(
            post(json!({"genomicAlleleShortForm": "NC_000001.11:g.20001_23000dup"})).query,
            Some(GenomicQuery::Duplication {
                reference_name: "NC_000001.11".into(),
                start: 20_000,
                end: 23_000,
                assembly_id: Some("GRCh38".into()),
            })
        );
    }

    #[test]
    fn length_bounds_apply_to_range_bracket_and_gene_queries() {
        assert!(matches!(
            query("referenceName=1&start=0&end=100000&variantMinLength=50&variantMaxLength=10000"),
            GenomicQuery::Range {
                min_length: Some(50),
                max_length: Some(10_000),
                ..
            }
        ));
        assert!(matches!(
            query("referenceName=1&start=0,100&end=200,300&variantMaxLength=0"),
            GenomicQuery::Bracket {
                min_length: None,
                max_length: Some(0),
                ..
            }
        ));
        assert!(matches!(
            query("geneId=TP53&variantMinLength=2"),
            GenomicQuery::Gene {
                min_length: Some(2),
                max_length: None,
                ..
            }
        ));
        let request = post(json!({"referenceName": "1", "start": [0], "end": [10], "variantMinLength": 3}));
        assert_eq!(
            request.summary["requestParameters"]["g_variant"]["variantMinLength"],
            json!(3)
        );
    }

    #[test]
    fn variant_types_accept_legacy_efo_and_so_terms() {
        let stored = |term: &str| {
            query(&format!("referenceName=1&start=0&end=10&variantType={term}")).stored_variant_types()
        };
        let types = |names: &[&str]| Some(names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>());
        assert_eq!(stored("del"), types(&["DEL"]));
        assert_eq!(stored("DUP:TANDEM"), types(&["DUP"]));
        assert_eq!(stored("DEL:ME:ALU"), types(&["DEL"]));
        assert_eq!(stored("INS:ME"), types(&["INS"]));
        assert_eq!(stored("CNV"), types(&["CNV"]));
        for loss in [
            "EFO:0030067",
            "EFO:0030068",
            "EFO:0030069",
            "EFO:0020073",
            "SO:0001743",
        ] {
            assert_eq!(stored(loss), types(&["DEL"]), "{loss}");
        }
        for gain in [
            "EFO:0030070",
            "efo:0030071",
            "EFO:0030072",
            "EFO:0030073",
            "SO:0001742",
        ] {
            assert_eq!(stored(gain), types(&["DUP"]), "{gain}");
        }
        for any_change in ["EFO:0030066", "SO:0001019"] {
            assert_eq!(stored(any_change), types(&["CNV", "DEL", "DUP"]), "{any_change}");
        }
        assert_eq!(stored("SO:0001483"), types(&["SNP"]));
        assert_eq!(
            query("referenceName=1&start=0&end=10").stored_variant_types(),
            None
        );
        assert!(matches!(
            query("referenceName=1&start=0&end=10&variantType=dup:tandem"),
            GenomicQuery::Range { variant_type: Some(term), .. } if term == "DUP"
        ));
    }

    #[test]
    fn get_spellings_of_one_parameter_are_read_alike() {
        assert_eq!(
            query("geneid=BRAF&aminoAcidChange=p.Val600Glu"),
            query("geneId=BRAF&aminoacidChange=V600E")
        );
        assert_eq!(
            query("allele=NC_000001.11:g.1000A>G"),
            query("genomicAlleleShortForm=NC_000001.11:g.1000A>G")
        );
        assert_eq!(
            get("referenceName=1&start=0&end=10&datasetIds=a, b").dataset_ids,
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
    }

    #[test]
    fn assembly_ids_are_read_in_every_usual_form() {
        for (given, canonical) in [
            ("GRCh38", "GRCh38"),
            ("hg38", "GRCh38"),
            ("GCF_000001405.40", "GRCh38"),
            ("grch38.p14", "GRCh38"),
            ("GRCh37", "GRCh37"),
            ("HG19", "GRCh37"),
            ("GCF_000001405.25", "GRCh37"),
        ] {
            let request = get(&format!("referenceName=1&start=0&end=10&assemblyId={given}"));
            assert_eq!(request.assembly_id(), Some(canonical), "{given}");
        }
    }

    #[test]
    fn filters_alone_make_a_query_and_are_echoed() {
        let request = get("filters=NCIT:C20197,HP:0001250&testMode=true");
        assert_eq!(request.query, None);
        assert_eq!(request.reference_name(), None);
        assert_eq!(request.assembly_id(), None);
        assert!(request.test_mode);
        assert_eq!(request.filters.len(), 2);
        assert_eq!(request.filters[0].kind, FilterKind::Ontology);
        assert_eq!(request.summary["filters"], json!(["NCIT:C20197", "HP:0001250"]));
        assert_eq!(request.summary["testMode"], json!(true));
        assert_eq!(request.summary["requestParameters"]["g_variant"], json!({}));
        let posted = QueryRequest::from_body(&json!({"query": {
            "filters": [{"id": "age", "operator": ">", "value": "P40Y"}], "testMode": true,
            "requestParameters": {"referenceName": "1", "start": [0], "end": [10]}}}))
        .expect("valid");
        assert!(posted.query.is_some() && posted.test_mode);
        assert!(matches!(posted.filters[0].kind, FilterKind::Alphanumeric { .. }));
        // Empty filters are no filters: an unfiltered query (which /g_variants refuses).
        let unfiltered = QueryRequest::from_query_pairs(&pairs("filters=")).expect("valid");
        assert_eq!(unfiltered.query, None);
        assert!(unfiltered.filters.is_empty());
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
                "referenceName=1&start=10&end=20&variantType=EFO:0000001",
                "`variantType`",
            ),
            (
                "referenceName=1&start=10&alternateBases=A&variantType=SNP",
                "`variantType`",
            ),
            ("referenceName=1&start=10&end=20&assemblyId=hg18", "`assemblyId`"),
            ("geneId=BRAF&referenceName=7&start=1", "`geneId`"),
            ("geneid=BRAF&end=5", "`geneid`"),
            ("geneId=BRAF&geneid=BRAF", "`geneId` once"),
            ("aminoacidChange=V600E", "`aminoacidChange` needs `geneId`"),
            ("aminoAcidChange=V600E", "`aminoAcidChange` needs `geneId`"),
            ("geneId=BRAF&aminoacidChange=xyz", "`aminoacidChange`"),
            (
                "geneId=BRAF&aminoacidChange=V600E&aminoAcidChange=V600E",
                "`aminoacidChange` once",
            ),
            ("referenceName=1&start=1&mateName=2", "`mateName`"),
            // Brackets.
            ("referenceName=1&start=20,10&end=30,40", "`start` bracket"),
            ("referenceName=1&start=10,20&end=40,30", "`end` bracket"),
            ("referenceName=1&start=100,200&end=50,100", "`end` bracket"),
            ("referenceName=1&start=10,20&end=30", "`end` needs two values"),
            (
                "referenceName=1&start=10,20&alternateBases=A",
                "`end` needs two values",
            ),
            ("referenceName=1&start=10&end=30,40", "`start` needs two values"),
            (
                "referenceName=1&start=10,20,30&end=30,40",
                "`start` takes one value",
            ),
            ("referenceName=1&start=10,&end=30,40", "`start`"),
            (
                "referenceName=1&start=10,20&end=30,40&alternateBases=A",
                "`alternateBases`",
            ),
            // Lengths.
            (
                "referenceName=1&start=10&end=20&variantMinLength=-1",
                "`variantMinLength`",
            ),
            (
                "referenceName=1&start=10&end=20&variantMaxLength=x",
                "`variantMaxLength`",
            ),
            (
                "referenceName=1&start=10&end=20&variantMinLength=9&variantMaxLength=3",
                "`variantMinLength` (9)",
            ),
            (
                "referenceName=1&start=10&alternateBases=A&variantMinLength=1",
                "`variantMinLength` needs",
            ),
            // HGVS.
            (
                "genomicAlleleShortForm=NM_004006.2:c.4375C>T",
                "`genomicAlleleShortForm`",
            ),
            ("allele=NC_000017.9:g.100A>G", "`allele`"),
            ("allele=NC_000017.11:g.100_102inv", "`allele`"),
            (
                "genomicAlleleShortForm=NC_000017.11:g.100A>G&referenceName=17",
                "`referenceName`",
            ),
            (
                "genomicAlleleShortForm=NC_000017.11:g.100A>G&variantType=SNP",
                "`variantType`",
            ),
            (
                "genomicAlleleShortForm=NC_000017.11:g.100A>G&allele=NC_000017.11:g.100A>G",
                "once",
            ),
            (
                "genomicAlleleShortForm=NC_000017.11:g.100A>G&assemblyId=GRCh37",
                "`assemblyId`",
            ),
            // Framework.
            ("referenceName=1&start=10&end=20&testMode=maybe", "`testMode`"),
            ("referenceName=1&start=10&end=20&filters=HP:1,,HP:2", "`filters`"),
        ];
        for (query, named) in cases {
            let error = QueryRequest::from_query_pairs(&pairs(query)).expect_err(query);
            assert_eq!(error.status, 400, "{query}");
            assert!(error.message.contains(named), "{query}: {}", error.message);
        }
    }

    #[test]
    fn bad_post_values_are_named_too() {
        let cases = [
            (
                json!({"referenceName": "1", "start": [10, 20, 30], "end": [40, 50]}),
                "`start`",
            ),
            (
                json!({"referenceName": "1", "start": [], "end": [40]}),
                "`start` is empty",
            ),
            (
                json!({"referenceName": "1", "start": ["a"], "end": [40]}),
                "`start`",
            ),
            (
                json!({"referenceName": "1", "start": [0], "end": [40], "variantMinLength": 1.5}),
                "`variantMinLength`",
            ),
            (json!({"genomicAlleleShortForm": 7}), "`genomicAlleleShortForm`"),
        ];
        for (parameters, named) in cases {
            let body = json!({"query": {"requestParameters": parameters}});
            let error = QueryRequest::from_body(&body).expect_err(&body.to_string());
            assert_eq!(error.status, 400, "{body}");
            assert!(error.message.contains(named), "{body}: {}", error.message);
        }
    }

    #[test]
    fn gene_queries_normalise_the_amino_acid_change() {
        let request = get("geneid=BRAF&aminoacidChange=p.Val600Glu");
        assert_eq!(
            request.query,
            Some(GenomicQuery::Gene {
                gene_id: "BRAF".into(),
                amino_acid_change: Some("V600E".into()),
                variant_type: None,
                assembly_id: None,
                min_length: None,
                max_length: None,
            })
        );
        assert_eq!(request.reference_name(), None);
    }

    #[test]
    fn limit_zero_asks_for_the_maximum_page() {
        let request = get("referenceName=1&start=10&end=20&limit=0");
        assert_eq!(request.limit, MAX_LIMIT);
    }

    #[test]
    fn include_resultsets_decides_which_sets_show() {
        assert!(IncludeResultsets::Hit.shows(true) && !IncludeResultsets::Hit.shows(false));
        assert!(IncludeResultsets::Miss.shows(false) && !IncludeResultsets::Miss.shows(true));
        assert!(IncludeResultsets::All.shows(false) && !IncludeResultsets::None.shows(true));
    }

    #[test]
    fn collections_take_filters_and_test_mode() {
        let request =
            CollectionRequest::from_query_pairs(&pairs("skip=1&limit=2&filters=HP:1&testMode=true"))
                .expect("valid");
        assert_eq!((request.skip, request.limit, request.test_mode), (1, 2, true));
        assert_eq!(request.filters.len(), 1);
        assert_eq!(request.summary["filters"], json!(["HP:1"]));
        let posted = CollectionRequest::from_body(&json!({"query": {
            "pagination": {"limit": 3}, "filters": ["EFO:0009655"], "testMode": false}}))
        .expect("valid");
        assert_eq!(
            (posted.limit, posted.test_mode, posted.filters.len()),
            (3, false, 1)
        );
        for (text, named) in [("colour=red", "`colour`"), ("skip=1&skip=2", "`skip`")] {
            let error = CollectionRequest::from_query_pairs(&pairs(text)).expect_err(text);
            assert!(error.message.contains(named), "{text}: {}", error.message);
        }
    }
}
