//! The framework documents: `/info`, `/service-info`, `/map`, `/configuration`,
//! `/entry_types`, and the `meta` sections every response carries.

use phare_domain::Granularity;
use serde_json::{Value, json};

use crate::API_VERSION;

/// Who this node is, as configured by its operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconIdentity {
    /// Reverse domain name, e.g. `fr.pfmg.cad-idf.phare`.
    pub id: String,
    pub name: String,
    pub description: String,
    pub organization_id: String,
    pub organization_name: String,
    pub organization_url: String,
    /// `prod`, `test`, `dev` or `staging`.
    pub environment: String,
    /// Absolute URL of the Beacon root as clients reach it, without a trailing slash
    /// (e.g. `https://beacon.example.org/api`): `/map` lists absolute URLs built from it.
    pub base_url: String,
    pub software_version: String,
}

/// One entry type served, with the schema its records follow.
struct EntryType {
    id: &'static str,
    name: &'static str,
    path: &'static str,
    schema: &'static str,
    /// Folder of the default model holding the entry type's `defaultSchema.json`.
    model_folder: &'static str,
    ontology_id: &'static str,
    ontology_label: &'static str,
    /// The cross look-ups served under `/{path}/{id}/`: (name in `/map`, path after the id,
    /// entry type returned).
    lookups: &'static [(&'static str, &'static str, &'static str)],
}

const VARIANT_LOOKUP: (&str, &str, &str) = ("genomicVariantLookup", "g_variants", "genomicVariation");
const INDIVIDUAL_LOOKUP: (&str, &str, &str) = ("individualLookup", "individuals", "individual");
const BIOSAMPLE_LOOKUP: (&str, &str, &str) = ("biosampleLookup", "biosamples", "biosample");
const RUN_LOOKUP: (&str, &str, &str) = ("runLookup", "runs", "run");
const ANALYSIS_LOOKUP: (&str, &str, &str) = ("analysisLookup", "analyses", "analysis");

/// What this node serves: every entry type of the default model, each with `/{path}`,
/// `/{path}/{id}` and its cross look-ups. `/map` and `/configuration` are built from this one
/// list, so they never announce an endpoint that is not routed (the server's tests call every
/// URL `/map` lists).
const ENTRY_TYPES: &[EntryType] = &[
    EntryType {
        id: "genomicVariation",
        name: "Genomic variation",
        path: "g_variants",
        schema: "beacon-g_variant-v2.0.0",
        model_folder: "genomicVariations",
        ontology_id: "ENSGLOSSARY:0000092",
        ontology_label: "Variant",
        lookups: &[BIOSAMPLE_LOOKUP, INDIVIDUAL_LOOKUP],
    },
    EntryType {
        id: "individual",
        name: "Individual",
        path: "individuals",
        schema: "beacon-individual-v2.0.0",
        model_folder: "individuals",
        ontology_id: "NCIT:C25190",
        ontology_label: "Person",
        lookups: &[VARIANT_LOOKUP, BIOSAMPLE_LOOKUP],
    },
    EntryType {
        id: "biosample",
        name: "Biosample",
        path: "biosamples",
        schema: "beacon-biosample-v2.0.0",
        model_folder: "biosamples",
        ontology_id: "NCIT:C70699",
        ontology_label: "Biospecimen",
        lookups: &[VARIANT_LOOKUP, RUN_LOOKUP, ANALYSIS_LOOKUP],
    },
    EntryType {
        id: "run",
        name: "Sequencing run",
        path: "runs",
        schema: "beacon-run-v2.0.0",
        model_folder: "runs",
        ontology_id: "NCIT:C148088",
        ontology_label: "Sequencing run",
        lookups: &[VARIANT_LOOKUP, ANALYSIS_LOOKUP],
    },
    EntryType {
        id: "analysis",
        name: "Bioinformatics analysis",
        path: "analyses",
        schema: "beacon-analysis-v2.0.0",
        model_folder: "analyses",
        ontology_id: "edam:operation_2945",
        ontology_label: "Analysis",
        lookups: &[VARIANT_LOOKUP],
    },
    EntryType {
        id: "dataset",
        name: "Dataset",
        path: "datasets",
        schema: "beacon-dataset-v2.0.0",
        model_folder: "datasets",
        ontology_id: "NCIT:C47824",
        ontology_label: "Data set",
        lookups: &[VARIANT_LOOKUP, BIOSAMPLE_LOOKUP, INDIVIDUAL_LOOKUP],
    },
    EntryType {
        id: "cohort",
        name: "Cohort",
        path: "cohorts",
        schema: "beacon-cohort-v2.0.0",
        model_folder: "cohorts",
        ontology_id: "NCIT:C61512",
        ontology_label: "Cohort",
        lookups: &[INDIVIDUAL_LOOKUP],
    },
];

impl BeaconIdentity {
    pub fn returned_schema(entry_type: &str) -> Value {
        let schema = ENTRY_TYPES
            .iter()
            .find(|known| known.id == entry_type)
            .map(|known| known.schema)
            .unwrap_or("beacon-v2.0.0");
        json!({ "entityType": entry_type, "schema": schema })
    }

    /// `beaconInformationalResponseMeta`.
    pub fn informational_meta(&self, returned_schemas: &[Value]) -> Value {
        json!({ "beaconId": self.id, "apiVersion": API_VERSION, "returnedSchemas": returned_schemas })
    }

    /// `beaconResponseMeta` of query and error responses.
    pub fn response_meta(
        &self,
        returned_granularity: Granularity,
        received_request_summary: Value,
        returned_schemas: &[Value],
        test_mode: bool,
    ) -> Value {
        json!({
            "beaconId": self.id,
            "apiVersion": API_VERSION,
            "returnedGranularity": returned_granularity.as_str(),
            "receivedRequestSummary": received_request_summary,
            "returnedSchemas": returned_schemas,
            "testMode": test_mode,
        })
    }

    fn info_results(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "apiVersion": API_VERSION,
            "environment": self.environment,
            "description": self.description,
            "version": self.software_version,
            "organization": { "id": self.organization_id, "name": self.organization_name },
        })
    }

    /// `GET /` and `/info`: `beaconInfoResponse`.
    pub fn info(&self) -> Value {
        json!({
            "meta": self.informational_meta(&[json!({"entityType": "info", "schema": "beacon-info-v2.0.0"})]),
            "response": self.info_results(),
        })
    }

    /// `/service-info`: GA4GH service-info 1.0 with type `org.ga4gh:beacon`.
    pub fn service_info(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "type": { "group": "org.ga4gh", "artifact": "beacon", "version": API_VERSION },
            "description": self.description,
            "organization": { "name": self.organization_name, "url": self.organization_url },
            "environment": self.environment,
            "version": self.software_version,
        })
    }

    /// `/map`: every endpoint served, with absolute URLs.
    pub fn map(&self) -> Value {
        let endpoint_sets: serde_json::Map<String, Value> = ENTRY_TYPES
            .iter()
            .map(|entry| {
                let root = format!("{}/{}", self.base_url, entry.path);
                let lookups: serde_json::Map<String, Value> = entry
                    .lookups
                    .iter()
                    .map(|(name, path, returned)| {
                        (
                            (*name).to_owned(),
                            json!({ "returnedEntryType": returned, "url": format!("{root}/{{id}}/{path}") }),
                        )
                    })
                    .collect();
                let endpoint = json!({
                    "entryType": entry.id,
                    "rootUrl": root,
                    "singleEntryUrl": format!("{root}/{{id}}"),
                    "filteringTermsUrl": format!("{root}/filtering_terms"),
                    "openAPIEndpointsDefinition": format!("{}/openapi.json", self.base_url),
                    "endpoints": lookups,
                });
                (entry.id.to_owned(), endpoint)
            })
            .collect();
        json!({
            "meta": self.informational_meta(&[json!({"entityType": "map", "schema": "beacon-map-v2.0.0"})]),
            "response": {
                "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/beaconMapSchema.json",
                "endpointSets": endpoint_sets,
            },
        })
    }

    fn entry_type_definitions(&self) -> Value {
        let definitions: serde_json::Map<String, Value> = ENTRY_TYPES
            .iter()
            .map(|entry| {
                let definition = json!({
                    "id": entry.id,
                    "name": entry.name,
                    "ontologyTermForThisType": { "id": entry.ontology_id, "label": entry.ontology_label },
                    "partOfSpecification": "Beacon v2.0.0",
                    "defaultSchema": {
                        "id": entry.schema,
                        "name": format!("Default schema for {}", entry.name.to_lowercase()),
                        "referenceToSchemaDefinition": format!(
                            "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/models/json/beacon-v2-default-model/{}/defaultSchema.json",
                            entry.model_folder
                        ),
                        "schemaVersion": API_VERSION,
                    },
                });
                (entry.id.to_owned(), definition)
            })
            .collect();
        Value::Object(definitions)
    }

    /// `/configuration`.
    pub fn configuration(&self) -> Value {
        let production_status = match self.environment.as_str() {
            "prod" => "PROD",
            "test" | "staging" => "TEST",
            _ => "DEV",
        };
        json!({
            "meta": self.informational_meta(&[json!({"entityType": "configuration", "schema": "beacon-configuration-v2.0.0"})]),
            "response": {
                "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json/configuration/beaconConfigurationSchema.json",
                "maturityAttributes": { "productionStatus": production_status },
                "securityAttributes": { "defaultGranularity": "boolean", "securityLevels": ["PUBLIC", "REGISTERED", "CONTROLLED"] },
                "entryTypes": self.entry_type_definitions(),
            },
        })
    }

    /// `/entry_types`.
    pub fn entry_types(&self) -> Value {
        json!({
            "meta": self.informational_meta(&[json!({"entityType": "entryType", "schema": "beacon-entry-types-v2.0.0"})]),
            "response": { "entryTypes": self.entry_type_definitions() },
        })
    }
}
