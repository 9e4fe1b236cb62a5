//! The OpenAPI 3.1 description of everything the node serves, and the human-readable API page
//! built from the same table. The table is the node's own list of endpoints: the server's tests
//! call every path of it, so it cannot drift from the router.

use serde_json::{Map, Value, json};

use crate::API_VERSION;
use crate::documents::BeaconIdentity;

/// What an endpoint answers, which decides its parameters and responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointKind {
    /// `/info`, `/map`, …: an informational document.
    Framework,
    /// An entry-type query (`/individuals`, `/g_variants`, cross look-ups): boolean, count or
    /// result sets.
    Query,
    /// A collection (`/datasets`, `/cohorts`): collections response.
    Collection,
    /// `/filtering_terms` and its scoped forms.
    FilteringTerms,
}

/// One path of the API (relative to the Beacon root `/api`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub path: &'static str,
    pub post: bool,
    pub kind: EndpointKind,
    pub summary: &'static str,
}

const fn framework(path: &'static str, summary: &'static str) -> Endpoint {
    Endpoint {
        path,
        post: false,
        kind: EndpointKind::Framework,
        summary,
    }
}

const fn query(path: &'static str, summary: &'static str) -> Endpoint {
    Endpoint {
        path,
        post: true,
        kind: EndpointKind::Query,
        summary,
    }
}

const fn collection(path: &'static str, summary: &'static str) -> Endpoint {
    Endpoint {
        path,
        post: true,
        kind: EndpointKind::Collection,
        summary,
    }
}

const fn terms(path: &'static str, summary: &'static str) -> Endpoint {
    Endpoint {
        path,
        post: false,
        kind: EndpointKind::FilteringTerms,
        summary,
    }
}

/// Every endpoint of the node under `/api`.
pub const ENDPOINTS: &[Endpoint] = &[
    framework("", "Beacon information (same as /info)"),
    framework("/info", "Beacon information"),
    framework("/service-info", "GA4GH service-info 1.0"),
    framework("/map", "Every endpoint served, with absolute URLs"),
    framework("/configuration", "Entry types, security levels, maturity"),
    framework("/entry_types", "The entry types served"),
    terms(
        "/filtering_terms",
        "Filtering terms used in the datasets the caller sees",
    ),
    query(
        "/g_variants",
        "Genomic variants: sequence, range, bracket, gene, HGVS queries",
    ),
    query(
        "/federated/g_variants",
        "Genomic variants here and at every partner node, pooled (1+MG allele-frequency profile)",
    ),
    framework("/federation", "The partner nodes this node federates with"),
    query(
        "/g_variants/{id}",
        "One genomic variant by id (variantInternalId)",
    ),
    query("/g_variants/{id}/biosamples", "Biosamples carrying the variant"),
    query("/g_variants/{id}/individuals", "Individuals carrying the variant"),
    query(
        "/individuals",
        "Individuals, filtered by ontology terms, custom terms and age",
    ),
    query("/individuals/{id}", "One individual"),
    query(
        "/individuals/{id}/g_variants",
        "Variants carried by the individual",
    ),
    query("/individuals/{id}/biosamples", "Biosamples of the individual"),
    terms("/individuals/filtering_terms", "Filtering terms of individuals"),
    query("/biosamples", "Biosamples"),
    query("/biosamples/{id}", "One biosample"),
    query("/biosamples/{id}/g_variants", "Variants called in the biosample"),
    query("/biosamples/{id}/runs", "Runs of the biosample"),
    query("/biosamples/{id}/analyses", "Analyses of the biosample"),
    terms("/biosamples/filtering_terms", "Filtering terms of biosamples"),
    query("/runs", "Runs (one sample column of one ingested file)"),
    query("/runs/{id}", "One run"),
    query("/runs/{id}/g_variants", "Variants called in the run"),
    query("/runs/{id}/analyses", "Analyses of the run"),
    terms("/runs/filtering_terms", "Filtering terms of runs"),
    query("/analyses", "Analyses"),
    query("/analyses/{id}", "One analysis"),
    query("/analyses/{id}/g_variants", "Variants called in the analysis"),
    terms("/analyses/filtering_terms", "Filtering terms of analyses"),
    collection("/datasets", "Datasets the caller may see"),
    collection("/datasets/{id}", "One dataset"),
    query("/datasets/{id}/g_variants", "Variants of the dataset"),
    query("/datasets/{id}/biosamples", "Biosamples of the dataset"),
    query("/datasets/{id}/individuals", "Individuals of the dataset"),
    terms("/datasets/{id}/filtering_terms", "Filtering terms of the dataset"),
    terms("/datasets/filtering_terms", "Filtering terms of datasets"),
    collection("/cohorts", "Cohorts defined by the operator"),
    collection("/cohorts/{id}", "One cohort"),
    query("/cohorts/{id}/individuals", "Individuals of the cohort"),
    terms("/cohorts/{id}/filtering_terms", "Filtering terms of the cohort"),
    terms("/cohorts/filtering_terms", "Filtering terms of cohorts"),
    terms(
        "/g_variants/filtering_terms",
        "Filtering terms of genomic variants",
    ),
    framework("/openapi.json", "This OpenAPI description"),
    framework("/docs", "The human-readable API page"),
];

const SCHEMAS: &str = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/framework/json";

fn parameter(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn query_parameters(path: &str) -> Vec<Value> {
    let mut parameters = vec![
        parameter(
            "requestedGranularity",
            "boolean (default), count or record; answered at the lower of this and what the caller may see",
            json!({ "type": "string", "enum": ["boolean", "count", "record"] }),
        ),
        parameter(
            "skip",
            "pages to skip (default 0)",
            json!({ "type": "integer", "minimum": 0 }),
        ),
        parameter(
            "limit",
            "page size, 0–1000 (default 10; 0 = 1000)",
            json!({ "type": "integer", "minimum": 0, "maximum": 1000 }),
        ),
        parameter(
            "filters",
            "comma-separated filter ids (ontology terms, custom terms)",
            json!({ "type": "string" }),
        ),
        parameter(
            "datasetIds",
            "comma-separated dataset ids",
            json!({ "type": "string" }),
        ),
        parameter(
            "includeResultsetResponses",
            "HIT (default), ALL, MISS or NONE",
            json!({ "type": "string", "enum": ["ALL", "HIT", "MISS", "NONE"] }),
        ),
        parameter(
            "testMode",
            "true: answer from synthetic datasets only",
            json!({ "type": "boolean" }),
        ),
    ];
    if path == "/g_variants" {
        for (name, description) in [
            (
                "referenceName",
                "1–22, X, Y, MT, with or without chr, or a RefSeq accession",
            ),
            ("start", "0-based start; two comma-separated values for a bracket"),
            (
                "end",
                "0-based exclusive end; two comma-separated values for a bracket",
            ),
            ("referenceBases", "reference bases"),
            ("alternateBases", "alternate bases"),
            (
                "variantType",
                "SNP, MNP, INS, DEL, INDEL, DUP, INV, CNV, or an EFO/SO copy-number term",
            ),
            ("variantMinLength", "minimum length (bases changed)"),
            ("variantMaxLength", "maximum length (bases changed)"),
            ("assemblyId", "GRCh38, GRCh37, hg38, hg19, GCF_/GCA_ accessions"),
            ("geneId", "gene symbol (also geneid)"),
            ("aminoacidChange", "protein change, V600E or p.Val600Glu"),
            (
                "genomicAlleleShortForm",
                "genomic HGVS on a RefSeq accession (also allele)",
            ),
        ] {
            parameters.push(parameter(name, description, json!({ "type": "string" })));
        }
    }
    parameters
}

fn response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": format!("{SCHEMAS}/{schema}") } } }
    })
}

fn error_responses() -> Map<String, Value> {
    let error = |description: &str| response(description, "responses/beaconErrorResponse.json");
    let mut responses = Map::new();
    responses.insert(
        "400".into(),
        error("a bad or unsupported parameter, named in the message"),
    );
    responses.insert(
        "401".into(),
        error("credentials that do not verify (never downgraded to anonymous)"),
    );
    responses.insert("403".into(), error("valid credentials without the right"));
    responses.insert("404".into(), error("unknown (or hidden) id or dataset"));
    responses.insert("429".into(), error("query budget exhausted; see Retry-After"));
    responses
}

fn operation(endpoint: &Endpoint, method: &str) -> Value {
    let mut responses = error_responses();
    let ok = match endpoint.kind {
        EndpointKind::Framework => {
            json!({ "description": "the document", "content": { "application/json": {} } })
        }
        EndpointKind::Query => json!({
            "description": "boolean, count or result-set response",
            "content": { "application/json": { "schema": { "oneOf": [
                { "$ref": format!("{SCHEMAS}/responses/beaconBooleanResponse.json") },
                { "$ref": format!("{SCHEMAS}/responses/beaconCountResponse.json") },
                { "$ref": format!("{SCHEMAS}/responses/beaconResultsetsResponse.json") },
            ] } } }
        }),
        EndpointKind::Collection => {
            response("collections response", "responses/beaconCollectionsResponse.json")
        }
        EndpointKind::FilteringTerms => response(
            "filtering terms response",
            "responses/beaconFilteringTermsResponse.json",
        ),
    };
    responses.insert("200".into(), ok);
    let mut document = json!({
        "summary": endpoint.summary,
        "responses": responses,
        "security": [{}, { "bearer": [] }],
    });
    let mut parameters: Vec<Value> = Vec::new();
    if endpoint.path.contains("{id}") {
        parameters
            .push(json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }));
    }
    if method == "get" && matches!(endpoint.kind, EndpointKind::Query | EndpointKind::Collection) {
        parameters.extend(query_parameters(endpoint.path));
    }
    if !parameters.is_empty() {
        document["parameters"] = Value::Array(parameters);
    }
    if method == "post" {
        document["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": {
                "$ref": format!("{SCHEMAS}/requests/beaconRequestBody.json")
            } } }
        });
    }
    document
}

impl BeaconIdentity {
    /// `/api/openapi.json`.
    pub fn openapi(&self) -> Value {
        let mut paths = Map::new();
        for endpoint in ENDPOINTS {
            let mut item = Map::new();
            item.insert("get".into(), operation(endpoint, "get"));
            if endpoint.post {
                item.insert("post".into(), operation(endpoint, "post"));
            }
            let path = if endpoint.path.is_empty() {
                "/"
            } else {
                endpoint.path
            };
            paths.insert(path.to_owned(), Value::Object(item));
        }
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": format!("{} — GA4GH Beacon {API_VERSION}", self.name),
                "version": self.software_version,
                "description": self.description,
            },
            "servers": [{ "url": self.base_url }],
            "components": { "securitySchemes": { "bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "RS256/ES256 access token of a trusted issuer; GA4GH passports may also come in the X-GA4GH-Passport header"
            } } },
            "paths": paths,
        })
    }

    /// `/api/docs`: the endpoints as a plain HTML page (no script, nothing fetched).
    pub fn api_page(&self) -> String {
        let mut rows = String::new();
        for endpoint in ENDPOINTS {
            let methods = if endpoint.post { "GET, POST" } else { "GET" };
            let url = format!("{}{}", self.base_url, endpoint.path);
            rows.push_str(&format!(
                "<tr><td>{methods}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                escape(&url),
                escape(endpoint.summary)
            ));
        }
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name} API</title>\n\
             <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}td{{padding:.2em .6em;border-bottom:1px solid #ddd}}</style>\n\
             </head><body>\n<h1>{name} — GA4GH Beacon {API_VERSION}</h1>\n<p>{description}</p>\n\
             <p>Machine-readable: <a href=\"{base}/openapi.json\">OpenAPI 3.1</a>. Without credentials a caller is anonymous; \
             a bearer token (RS256/ES256) from a trusted issuer raises what each dataset shows. Errors use the Beacon error \
             envelope (400, 401, 403, 404, 405, 413, 415, 429, 500, 503; see docs/api.md).</p>\n<table>\n<tr><th>method</th><th>URL</th><th>answers</th></tr>\n{rows}</table>\n</body></html>\n",
            name = escape(&self.name),
            description = escape(&self.description),
            base = escape(&self.base_url),
        )
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> BeaconIdentity {
        BeaconIdentity {
            id: "org.example.phare".into(),
            name: "Phare <test>".into(),
            description: "d".into(),
            organization_id: "org.example".into(),
            organization_name: "Example".into(),
            organization_url: "https://www.example.org".into(),
            environment: "test".into(),
            base_url: "https://phare.example/api".into(),
            software_version: "0.1.0".into(),
        }
    }

    #[test]
    fn every_endpoint_is_described_once_with_its_methods() {
        let document = identity().openapi();
        let paths = document["paths"].as_object().expect("paths");
        assert_eq!(paths.len(), ENDPOINTS.len());
        assert!(paths["/g_variants"]["post"]["requestBody"].is_object());
        assert!(paths["/info"].get("post").is_none());
        let parameters = paths["/g_variants/{id}"]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        assert_eq!(parameters[0]["in"], "path");
        assert!(
            paths["/g_variants"]["get"]["parameters"]
                .as_array()
                .expect("parameters")
                .iter()
                .any(|parameter| parameter["name"] == "genomicAlleleShortForm")
        );
        assert_eq!(document["servers"][0]["url"], "https://phare.example/api");
    }

    #[test]
    fn the_page_escapes_what_the_operator_configured() {
        let page = identity().api_page();
        assert!(page.contains("Phare &lt;test&gt;"));
        assert!(page.contains("https://phare.example/api/individuals/{id}/g_variants"));
        assert!(!page.contains("<script"));
    }
}
