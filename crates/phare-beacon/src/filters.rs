//! Beacon `filters`, from a GET query string (comma-separated ids) or a POST body (an array of
//! ids or filter objects), classified as the specification's three kinds: ontology terms,
//! alphanumeric comparisons and custom terms. Reading them is all this module does: which
//! filters a node can apply is decided where they are executed.

use serde_json::{Map, Value, json};

use crate::error::BeaconError;

/// One filter of a request; several filters are combined with AND.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub id: String,
    pub kind: FilterKind,
    /// The entry type the filter applies to, as its entry-type id (`individual`, `biosample`, …).
    pub scope: Option<String>,
    /// `includeDescendantTerms` (default true): whether an ontology term also selects its
    /// descendants. Meaningful for ontology filters only.
    pub include_descendants: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterKind {
    /// A term in CURIE form (`HP:0002664`, `NCIT:C3778`).
    Ontology,
    /// A field compared with a value (`ageOfOnset` `>` `P70Y`); `%` in the value is a wildcard.
    Alphanumeric { operator: Operator, value: String },
    /// Any other id: a term of this node's own vocabulary.
    Custom,
}

/// The comparison operators of `AlphanumericFilter` in `filteringTerms.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "=" => Self::Eq,
            "!" => Self::Ne,
            "<" => Self::Lt,
            "<=" => Self::Le,
            ">" => Self::Gt,
            ">=" => Self::Ge,
            _ => return None,
        })
    }
}

/// Entry-type ids a `scope` may name, each with the plural the specification's examples also
/// use (`individuals`).
const SCOPES: &[(&str, &str)] = &[
    ("individual", "individuals"),
    ("biosample", "biosamples"),
    ("genomicVariation", "genomicVariations"),
    ("run", "runs"),
    ("analysis", "analyses"),
    ("dataset", "datasets"),
    ("cohort", "cohorts"),
];

const FILTER_FIELDS: &[&str] = &[
    "id",
    "operator",
    "value",
    "includeDescendantTerms",
    "similarity",
    "scope",
];

/// `filters` as given: a string of comma-separated ids (GET), or an array of ids and filter
/// objects (POST). An empty string or array is no filter.
pub fn parse_filters(value: &Value) -> Result<Vec<Filter>, BeaconError> {
    match value {
        Value::String(text) if text.trim().is_empty() => Ok(Vec::new()),
        Value::String(text) => text.split(',').map(|id| term_filter(id.trim())).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(id) => term_filter(id.trim()),
                Value::Object(fields) => object_filter(fields),
                other => Err(BeaconError::bad_request(format!(
                    "`filters` items must be strings or filter objects, not {other}"
                ))),
            })
            .collect(),
        other => Err(BeaconError::bad_request(format!(
            "`filters` must be a list of filters, not {other}"
        ))),
    }
}

/// The filters as `receivedRequestSummary.filters` wants them: their ids.
pub fn filters_summary(filters: &[Filter]) -> Value {
    json!(
        filters
            .iter()
            .map(|filter| filter.id.as_str())
            .collect::<Vec<_>>()
    )
}

/// A bare id: an ontology term when it reads as a CURIE, a custom term otherwise.
fn term_filter(id: &str) -> Result<Filter, BeaconError> {
    if id.is_empty() {
        return Err(BeaconError::bad_request("`filters` holds an empty id"));
    }
    Ok(Filter {
        id: id.to_owned(),
        kind: if is_curie(id) {
            FilterKind::Ontology
        } else {
            FilterKind::Custom
        },
        scope: None,
        include_descendants: true,
    })
}

fn object_filter(fields: &Map<String, Value>) -> Result<Filter, BeaconError> {
    let id = match fields.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_owned(),
        Some(Value::String(_)) => return Err(BeaconError::bad_request("`filters` holds an empty id")),
        Some(_) => return Err(BeaconError::bad_request("filter `id` must be a string")),
        None => return Err(BeaconError::bad_request("a filter object needs an `id`")),
    };
    if let Some(unknown) = fields.keys().find(|key| !FILTER_FIELDS.contains(&key.as_str())) {
        return Err(BeaconError::bad_request(format!(
            "unknown field `{unknown}` in filter `{id}`"
        )));
    }
    let include_descendants = match fields.get("includeDescendantTerms") {
        None => true,
        Some(Value::Bool(flag)) => *flag,
        Some(other) => {
            return Err(BeaconError::bad_request(format!(
                "`includeDescendantTerms` of filter `{id}` must be true or false, not {other}"
            )));
        }
    };
    match fields.get("similarity") {
        None => {}
        Some(Value::String(similarity)) if similarity == "exact" => {}
        // Semantic similarity needs a model of the ontology this node does not have.
        Some(Value::String(similarity)) if matches!(similarity.as_str(), "high" | "medium" | "low") => {
            return Err(BeaconError::bad_request(format!(
                "`similarity` `{similarity}` of filter `{id}` is not supported by this node: only exact"
            )));
        }
        Some(other) => {
            return Err(BeaconError::bad_request(format!(
                "`similarity` of filter `{id}` must be exact, high, medium or low, not {other}"
            )));
        }
    }
    let scope = fields
        .get("scope")
        .map(|value| entry_type_scope(value, &id))
        .transpose()?;
    let operator = fields.get("operator");
    let value = fields.get("value");
    let kind = if operator.is_some() || value.is_some() {
        let Some(operator) = operator else {
            return Err(BeaconError::bad_request(format!(
                "filter `{id}` has a `value` but no `operator` (one of =, !, <, <=, >, >=)"
            )));
        };
        let operator = operator.as_str().and_then(Operator::parse).ok_or_else(|| {
            BeaconError::bad_request(format!(
                "`operator` {operator} of filter `{id}` must be one of =, !, <, <=, >, >="
            ))
        })?;
        let value = match value {
            Some(Value::String(text)) if !text.trim().is_empty() => text.trim().to_owned(),
            Some(Value::Number(number)) => number.to_string(),
            Some(_) | None => {
                return Err(BeaconError::bad_request(format!(
                    "filter `{id}` has an `operator` but no `value` to compare with"
                )));
            }
        };
        FilterKind::Alphanumeric { operator, value }
    } else if is_curie(&id) {
        FilterKind::Ontology
    } else {
        FilterKind::Custom
    };
    Ok(Filter {
        id,
        kind,
        scope,
        include_descendants,
    })
}

fn entry_type_scope(value: &Value, id: &str) -> Result<String, BeaconError> {
    let text = value.as_str().unwrap_or_default();
    SCOPES
        .iter()
        .find(|(singular, plural)| text == *singular || text == *plural)
        .map(|(singular, _)| (*singular).to_owned())
        .ok_or_else(|| {
            let names: Vec<&str> = SCOPES.iter().map(|(singular, _)| *singular).collect();
            BeaconError::bad_request(format!(
                "`scope` {value} of filter `{id}` is not an entry type: use one of {}",
                names.join(", ")
            ))
        })
}

/// `PREFIX:local`, the prefix a letter then letters, digits or `_` (so a dotted custom term
/// such as `demographic.ethnicity:asian` is not taken for an ontology term).
fn is_curie(id: &str) -> bool {
    let Some((prefix, local)) = id.split_once(':') else {
        return false;
    };
    let prefix_ok = prefix
        .chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && prefix
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_');
    let local_ok = !local.is_empty()
        && local
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || matches!(character, '_' | '.' | '-'));
    prefix_ok && local_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ontology(id: &str) -> Filter {
        Filter {
            id: id.into(),
            kind: FilterKind::Ontology,
            scope: None,
            include_descendants: true,
        }
    }

    #[test]
    fn get_ids_are_ontology_terms_or_custom_terms() {
        let filters = parse_filters(&json!(
            "HP:0002664, NCIT:C3778,demographic.ethnicity:asian,female"
        ))
        .expect("valid");
        assert_eq!(
            filters,
            vec![
                ontology("HP:0002664"),
                ontology("NCIT:C3778"),
                Filter {
                    id: "demographic.ethnicity:asian".into(),
                    kind: FilterKind::Custom,
                    scope: None,
                    include_descendants: true,
                },
                Filter {
                    id: "female".into(),
                    kind: FilterKind::Custom,
                    scope: None,
                    include_descendants: true,
                },
            ]
        );
        assert_eq!(parse_filters(&json!("")).expect("empty"), Vec::new());
        assert_eq!(parse_filters(&json!([])).expect("empty"), Vec::new());
    }

    #[test]
    fn post_objects_carry_operator_scope_and_descendants() {
        let filters = parse_filters(&json!([
            "EFO:0009655",
            {"id": "HP:0001250", "includeDescendantTerms": false, "scope": "individuals", "similarity": "exact"},
            {"id": "ageOfOnset", "operator": ">=", "value": "P70Y", "scope": "individual"},
            {"id": "NCIT:C25150", "operator": "<", "value": 45},
            {"id": "demographic.ethnicity:asian", "scope": "biosample"}
        ]))
        .expect("valid");
        assert_eq!(filters[0], ontology("EFO:0009655"));
        assert_eq!(
            filters[1],
            Filter {
                id: "HP:0001250".into(),
                kind: FilterKind::Ontology,
                scope: Some("individual".into()),
                include_descendants: false,
            }
        );
        assert_eq!(
            filters[2].kind,
            FilterKind::Alphanumeric {
                operator: Operator::Ge,
                value: "P70Y".into(),
            }
        );
        assert_eq!(filters[2].scope.as_deref(), Some("individual"));
        // An operator makes a filter alphanumeric even on a CURIE id.
        assert_eq!(
            filters[3].kind,
            FilterKind::Alphanumeric {
                operator: Operator::Lt,
                value: "45".into(),
            }
        );
        assert_eq!(filters[4].kind, FilterKind::Custom);
        assert_eq!(filters[4].scope.as_deref(), Some("biosample"));
        assert_eq!(
            filters_summary(&filters),
            json!([
                "EFO:0009655",
                "HP:0001250",
                "ageOfOnset",
                "NCIT:C25150",
                "demographic.ethnicity:asian"
            ])
        );
    }

    #[test]
    fn every_operator_of_the_specification_is_read() {
        for (text, operator) in [
            ("=", Operator::Eq),
            ("!", Operator::Ne),
            ("<", Operator::Lt),
            ("<=", Operator::Le),
            (">", Operator::Gt),
            (">=", Operator::Ge),
        ] {
            let filters =
                parse_filters(&json!([{"id": "age", "operator": text, "value": "P1Y"}])).expect(text);
            assert_eq!(
                filters[0].kind,
                FilterKind::Alphanumeric {
                    operator,
                    value: "P1Y".into(),
                }
            );
            assert_eq!(operator.as_str(), text);
        }
    }

    #[test]
    fn bad_filters_are_refused_naming_the_field() {
        let cases = [
            (json!("HP:1,,HP:2"), "empty id"),
            (json!([{"operator": "=", "value": "x"}]), "needs an `id`"),
            (json!([{"id": ""}]), "empty id"),
            (json!([{"id": 7}]), "`id` must be a string"),
            (
                json!([{"id": "age", "operator": "~", "value": "1"}]),
                "`operator`",
            ),
            (json!([{"id": "age", "value": "1"}]), "no `operator`"),
            (json!([{"id": "age", "operator": ">"}]), "no `value`"),
            (json!([{"id": "HP:1", "scope": "patients"}]), "`scope`"),
            (
                json!([{"id": "HP:1", "similarity": "high"}]),
                "`similarity` `high`",
            ),
            (json!([{"id": "HP:1", "similarity": "close"}]), "`similarity`"),
            (
                json!([{"id": "HP:1", "includeDescendantTerms": "yes"}]),
                "`includeDescendantTerms`",
            ),
            (json!([{"id": "HP:1", "colour": "red"}]), "`colour`"),
            (json!([3]), "`filters` items"),
            (json!({"id": "HP:1"}), "`filters` must be a list"),
        ];
        for (value, named) in cases {
            let error = parse_filters(&value).expect_err(&value.to_string());
            assert_eq!(error.status, 400, "{value}");
            assert!(error.message.contains(named), "{value}: {}", error.message);
        }
    }

    #[test]
    fn curies_need_a_plain_prefix_and_a_local_part() {
        for id in [
            "HP:0002664",
            "NCIT:C3778",
            "Orphanet:558",
            "ICD10CM:C50.9",
            "obo:HP_0001",
        ] {
            assert!(is_curie(id), "{id}");
        }
        for id in [
            "age",
            "HP:",
            ":0002664",
            "1HP:1",
            "demographic.ethnicity:asian",
            "HP:00 1",
        ] {
            assert!(!is_curie(id), "{id}");
        }
    }
}
