//! The committed OBO subsets (`tests/data/ontology/`) load, merge and expand as a node
//! configured with them would; `/filtering_terms` built from them passes the official schema.

// Helpers outside `#[test]` functions are test code too: a failed load should stop the test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use phare_ontology::{
    FilteringTerm, FilteringTermKind, Ontology, OntologyError, PRE_INDICATIONS, SEX_TERMS,
    filtering_terms_document,
};
use phare_schema::Schema;
use serde_json::{Value, json};

fn subset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/ontology")
        .join(name)
}

fn all_subsets() -> Ontology {
    let paths: Vec<PathBuf> = [
        "hp-subset.obo",
        "mondo-subset.obo",
        "orpha-subset.obo",
        "ncit-sex.obo",
    ]
    .into_iter()
    .map(subset)
    .collect();
    Ontology::load(&paths).unwrap()
}

#[test]
fn seizure_descendants_include_tonic_clonic_and_not_developmental_delay() {
    let ontology = all_subsets();
    let seizures = ontology.with_descendants("HP:0001250");
    assert!(seizures.contains(&"HP:0002069".to_owned()));
    assert!(!seizures.contains(&"HP:0001263".to_owned()));
    assert!(ontology.is_descendant("HP:0002069", "HP:0000118"));
    assert!(ontology.is_descendant("HP:0001644", "HP:0001627"));
    assert!(ontology.is_descendant("HP:0001166", "HP:0040064"));
    assert!(!ontology.is_descendant("HP:0001644", "HP:0000707"));
}

#[test]
fn intellectual_disability_has_two_parents_and_four_grades() {
    let ontology = all_subsets();
    assert_eq!(ontology.with_descendants("HP:0001249").len(), 5);
    assert!(ontology.is_descendant("HP:0010864", "HP:0100543"));
    assert!(ontology.is_descendant("HP:0010864", "HP:0012759"));
}

#[test]
fn files_merge_into_one_hierarchy() {
    let ontology = all_subsets();
    assert_eq!(ontology.len(), 59 + 25 + 21 + 3);
    assert_eq!(ontology.label("MONDO:0005021"), Some("dilated cardiomyopathy"));
    assert!(ontology.is_descendant("MONDO:0005021", "MONDO:0004994"));
    assert_eq!(ontology.label("orphanet:558"), Some("Marfan syndrome"));
    assert!(
        ontology
            .with_descendants("ORPHA:98053")
            .contains(&"ORPHA:558".to_owned())
    );
    assert_eq!(ontology.data_version("HP"), Some("phare-subset-1"));
    for (id, label) in SEX_TERMS {
        assert_eq!(ontology.label(id), Some(label));
    }
    let merged = Ontology::load(&[subset("hp-subset.obo")])
        .unwrap()
        .merge(Ontology::load(&[subset("mondo-subset.obo")]).unwrap());
    assert_eq!(merged.len(), 59 + 25);
}

#[test]
fn pre_indication_group_terms_are_in_the_subsets() {
    let ontology = all_subsets();
    for indication in PRE_INDICATIONS {
        if let Some(group) = indication.orpha {
            assert!(ontology.contains(group), "{} names {group}", indication.id);
        }
    }
}

#[test]
fn load_errors_name_the_file_and_line() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("broken.obo");
    std::fs::write(&path, "format-version: 1.2\n\n[Term]\nid: HP:0000001\nname All\n").unwrap();
    let error = Ontology::load(std::slice::from_ref(&path)).unwrap_err();
    assert!(matches!(error, OntologyError::Syntax { line: 5, .. }));
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("{}:5: expected `tag: value`", path.display())),
        "{message}"
    );

    let missing = directory.path().join("missing.obo");
    let error = Ontology::load(&[missing]).unwrap_err();
    assert!(error.to_string().starts_with("cannot read "), "{error}");

    let binary = directory.path().join("binary.obo");
    std::fs::write(&binary, b"[Term]\nid: X:1\nname: \xff\xfe\n").unwrap();
    let error = Ontology::load(&[binary]).unwrap_err();
    assert!(error.to_string().ends_with(":3: expected UTF-8 text"), "{error}");
}

#[test]
fn a_file_without_line_breaks_is_refused_at_the_line_limit() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("one-line.obo");
    std::fs::write(&path, vec![b'a'; phare_ontology::MAX_LINE_BYTES + 10]).unwrap();
    let error = Ontology::load(&[path]).unwrap_err();
    assert!(
        matches!(error, OntologyError::LineTooLong { line: 1, .. }),
        "{error}"
    );
}

#[test]
fn filtering_terms_document_passes_the_official_schema() {
    let ontology = all_subsets();
    let mut terms: Vec<FilteringTerm> = ["HP:0001250", "HP:0001644", "MONDO:0005021", "ORPHA:558"]
        .into_iter()
        .map(|id| FilteringTerm {
            id: id.to_owned(),
            label: ontology.label(id).map(str::to_owned),
            kind: FilteringTermKind::OntologyTerm,
            scopes: vec!["individual"],
        })
        .collect();
    terms.extend(SEX_TERMS.iter().map(|(id, label)| FilteringTerm {
        id: (*id).to_owned(),
        label: Some((*label).to_owned()),
        kind: FilteringTermKind::OntologyTerm,
        scopes: vec!["individual"],
    }));
    terms.extend(PRE_INDICATIONS.iter().map(|indication| FilteringTerm {
        id: indication.id.to_owned(),
        label: Some(indication.label.to_owned()),
        kind: FilteringTermKind::Custom,
        scopes: vec!["individual"],
    }));
    terms.push(FilteringTerm {
        id: "ageOfOnset".to_owned(),
        label: None,
        kind: FilteringTermKind::Alphanumeric,
        scopes: vec!["individual"],
    });

    let schemas = phare_schema::vendored_cached().unwrap();
    for response in [
        filtering_terms_document(&terms),
        ontology.filtering_terms_document(&terms),
    ] {
        let document = json!({
            "meta": {
                "beaconId": "org.example.phare",
                "apiVersion": "v2.0.0",
                "returnedSchemas": [{"entityType": "filteringTerm", "schema": "beacon-filtering-terms-v2.0.0"}],
            },
            "response": response,
        });
        schemas
            .validate(Schema::FilteringTermsResponse, &document)
            .unwrap();
        let resources: Vec<&str> = document["response"]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|resource| resource["id"].as_str())
            .collect();
        assert_eq!(resources, ["hp", "mondo", "ncit", "ordo"]);
        assert_eq!(
            document["response"]["filteringTerms"].as_array().map(Vec::len),
            Some(4 + 3 + 14 + 1)
        );
    }
    // The validator does bite: a term without its required `type` is refused.
    let broken = json!({
        "meta": {"beaconId": "org.example.phare", "apiVersion": "v2.0.0", "returnedSchemas": []},
        "response": {"filteringTerms": [{"id": "HP:0001250"}]},
    });
    assert!(schemas.validate(Schema::FilteringTermsResponse, &broken).is_err());
    let versioned = ontology.filtering_terms_document(&terms);
    assert_eq!(
        versioned["resources"][0]["version"],
        Value::from("phare-subset-1")
    );
}
