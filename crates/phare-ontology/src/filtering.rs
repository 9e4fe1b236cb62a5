//! The `response` section of `/filtering_terms` (`beaconFilteringTermsResults.json`): the
//! terms a node accepts as filters and, for ontology terms, the resources they come from.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// A filtering term as `/filtering_terms` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilteringTerm {
    pub id: String,
    pub label: Option<String>,
    pub kind: FilteringTermKind,
    /// Entry-type ids the filter applies to (`individual`, `biosample`, …); empty leaves
    /// `scopes` out.
    pub scopes: Vec<&'static str>,
}

/// The specification's three kinds of filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilteringTermKind {
    /// A CURIE from an ontology; listed with the ontology's name as its `type`.
    OntologyTerm,
    /// A field compared with a value (`ageOfOnset`).
    Alphanumeric,
    /// A term of the node's own vocabulary (the `PFMG:NN` pre-indications).
    Custom,
}

/// What `/filtering_terms` says about an ontology Phare knows by prefix.
struct Resource {
    prefix: &'static str,
    id: &'static str,
    name: &'static str,
    url: &'static str,
    iri_prefix: &'static str,
}

/// The ontologies Phare's filters draw on. Ontology terms with another prefix still get a
/// resource, with its id and prefix only.
const RESOURCES: &[Resource] = &[
    Resource {
        prefix: "HP",
        id: "hp",
        name: "Human Phenotype Ontology",
        url: "http://purl.obolibrary.org/obo/hp.owl",
        iri_prefix: "http://purl.obolibrary.org/obo/HP_",
    },
    Resource {
        prefix: "MONDO",
        id: "mondo",
        name: "Mondo Disease Ontology",
        url: "http://purl.obolibrary.org/obo/mondo.owl",
        iri_prefix: "http://purl.obolibrary.org/obo/MONDO_",
    },
    Resource {
        prefix: "ORPHA",
        id: "ordo",
        name: "Orphanet Rare Disease Ontology",
        url: "https://www.orphadata.com/ordo/",
        iri_prefix: "http://www.orpha.net/ORDO/Orphanet_",
    },
    Resource {
        prefix: "NCIT",
        id: "ncit",
        name: "NCI Thesaurus OBO Edition",
        url: "http://purl.obolibrary.org/obo/ncit.owl",
        iri_prefix: "http://purl.obolibrary.org/obo/NCIT_",
    },
];

/// The `response` section of a `beaconFilteringTermsResponse`: `filteringTerms` in the given
/// order, and `resources`, one per prefix of the ontology terms, sorted by prefix. Resources
/// carry no `version` here: [`crate::Ontology::filtering_terms_document`] adds the versions of
/// the loaded files.
pub fn filtering_terms_document(terms: &[FilteringTerm]) -> Value {
    document(terms, |_| None)
}

pub(crate) fn document<'a>(terms: &[FilteringTerm], version: impl Fn(&str) -> Option<&'a str>) -> Value {
    let filtering_terms: Vec<Value> = terms.iter().map(filtering_term).collect();
    let prefixes: BTreeSet<&str> = terms
        .iter()
        .filter(|term| term.kind == FilteringTermKind::OntologyTerm)
        .filter_map(|term| term.id.split_once(':').map(|(prefix, _)| prefix))
        .collect();
    let resources: Vec<Value> = prefixes
        .into_iter()
        .map(|prefix| resource(prefix, version(prefix)))
        .collect();
    json!({ "filteringTerms": filtering_terms, "resources": resources })
}

fn filtering_term(term: &FilteringTerm) -> Value {
    let kind = match term.kind {
        // The schema asks for the ontology's full name; an unknown ontology has none to give.
        FilteringTermKind::OntologyTerm => term
            .id
            .split_once(':')
            .and_then(|(prefix, _)| known_resource(prefix))
            .map_or("ontologyTerm", |resource| resource.name),
        FilteringTermKind::Alphanumeric => "alphanumeric",
        FilteringTermKind::Custom => "custom",
    };
    let mut object = Map::new();
    object.insert("id".to_owned(), json!(term.id));
    object.insert("type".to_owned(), json!(kind));
    if let Some(label) = &term.label {
        object.insert("label".to_owned(), json!(label));
    }
    if !term.scopes.is_empty() {
        object.insert("scopes".to_owned(), json!(term.scopes));
    }
    Value::Object(object)
}

fn resource(prefix: &str, version: Option<&str>) -> Value {
    let mut object = Map::new();
    // `nameSpacePrefix` is the schema's spelling (the specification's example writes
    // `namespacePrefix`, which the schema does not define).
    match known_resource(prefix) {
        Some(known) => {
            object.insert("id".to_owned(), json!(known.id));
            object.insert("name".to_owned(), json!(known.name));
            object.insert("url".to_owned(), json!(known.url));
            object.insert("nameSpacePrefix".to_owned(), json!(known.prefix));
            object.insert("iriPrefix".to_owned(), json!(known.iri_prefix));
        }
        None => {
            object.insert("id".to_owned(), json!(prefix.to_ascii_lowercase()));
            object.insert("nameSpacePrefix".to_owned(), json!(prefix));
        }
    }
    if let Some(version) = version {
        object.insert("version".to_owned(), json!(version));
    }
    Value::Object(object)
}

fn known_resource(prefix: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|resource| resource.prefix == prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ontology;

    fn term(id: &str, label: &str, kind: FilteringTermKind) -> FilteringTerm {
        FilteringTerm {
            id: id.to_owned(),
            label: Some(label.to_owned()),
            kind,
            scopes: vec!["individual"],
        }
    }

    #[test]
    fn one_resource_per_ontology_prefix() {
        let document = filtering_terms_document(&[
            term("HP:0001250", "Seizure", FilteringTermKind::OntologyTerm),
            term(
                "HP:0001263",
                "Global developmental delay",
                FilteringTermKind::OntologyTerm,
            ),
            term("NCIT:C16576", "Female", FilteringTermKind::OntologyTerm),
            term("XYZ:1", "Something", FilteringTermKind::OntologyTerm),
            term(
                "PFMG:08",
                "Cardiomyopathies dilatées familiales",
                FilteringTermKind::Custom,
            ),
        ]);
        let prefixes: Vec<&str> = document["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|resource| resource["nameSpacePrefix"].as_str().unwrap())
            .collect();
        assert_eq!(prefixes, ["HP", "NCIT", "XYZ"]);
        assert_eq!(
            document["resources"][2],
            json!({"id": "xyz", "nameSpacePrefix": "XYZ"})
        );
        assert_eq!(document["filteringTerms"][0]["type"], "Human Phenotype Ontology");
        assert_eq!(document["filteringTerms"][3]["type"], "ontologyTerm");
        assert_eq!(document["filteringTerms"][4]["type"], "custom");
        assert_eq!(document["filteringTerms"][4]["scopes"], json!(["individual"]));
    }

    #[test]
    fn omits_what_is_absent() {
        let document = filtering_terms_document(&[FilteringTerm {
            id: "ageOfOnset".to_owned(),
            label: None,
            kind: FilteringTermKind::Alphanumeric,
            scopes: vec![],
        }]);
        assert_eq!(
            document,
            json!({"filteringTerms": [{"id": "ageOfOnset", "type": "alphanumeric"}], "resources": []})
        );
    }

    #[test]
    fn versions_come_from_the_loaded_files() {
        let ontology = Ontology::from_obo_text(
            "hp.obo",
            "data-version: hp/releases/2025-01-01\n[Term]\nid: HP:0001250\nname: Seizure\n",
        )
        .unwrap();
        let document = ontology.filtering_terms_document(&[term(
            "HP:0001250",
            "Seizure",
            FilteringTermKind::OntologyTerm,
        )]);
        assert_eq!(document["resources"][0]["version"], "hp/releases/2025-01-01");
    }
}
