//! End-to-end: real PostgreSQL, real VCF/BCF files ingested, the real server on a socket, real
//! HTTP. Every response is validated against the official Beacon v2 schemas, and counts are
//! checked against bcftools on the same files.
use std::path::Path;

use phare_domain::{Assembly, Granularity};
use phare_schema::Schema;
use serde_json::{Value, json};

use crate::support::{Dataset, Node, Who, bcftools, data, ingest_request, schemas};

// These tests check what is counted, so their datasets are published as open data
// (`Dataset::open`: small-count threshold 0, exact counts); suppression has its own tests
// (security.rs). Their nodes trust no issuer: every caller is anonymous.

impl Node {
    /// `numTotalResults` of a count query (`/g_variants?QUERY&requestedGranularity=count`),
    /// checked for status and schema.
    async fn count(&self, query: impl AsRef<str>) -> i64 {
        let text = query.as_ref();
        let (status, document) = self
            .status(
                Who::Anonymous,
                &format!("/g_variants?{text}&requestedGranularity=count"),
            )
            .await;
        assert_eq!(status, 200, "{text}: {document:#}");
        assert_valid_query("count", &document);
        document["responseSummary"]["numTotalResults"]
            .as_i64()
            .expect("count")
    }
}

fn assert_valid(schema: Schema, document: &Value) {
    if let Err(errors) = schemas().validate(schema, document) {
        panic!("{schema:?} invalid: {errors:#?}\n{document:#}");
    }
}

fn assert_valid_query(granularity: &str, document: &Value) {
    match granularity {
        "boolean" => assert_valid(Schema::BooleanResponse, document),
        "count" => assert_valid(Schema::CountResponse, document),
        "record" => {
            if let Err(errors) = schemas().validate_resultsets(document, Schema::GenomicVariation) {
                panic!("record response invalid: {errors:#?}\n{document:#}");
            }
        }
        other => panic!("unexpected granularity {other}"),
    }
}

#[tokio::test]
async fn framework_endpoints_answer_schema_valid_documents() {
    let app = Node::builder().anonymous_only().spawn().await;
    for (path, schema) in [
        ("", Schema::InfoResponse),
        ("/info", Schema::InfoResponse),
        ("/service-info", Schema::ServiceInfo),
        ("/map", Schema::MapResponse),
        ("/configuration", Schema::ConfigurationResponse),
        ("/entry_types", Schema::EntryTypesResponse),
    ] {
        let (status, document) = app.status(Who::Anonymous, path).await;
        assert_eq!(status, 200, "{path}");
        assert_valid(schema, &document);
    }
    let (_, service) = app.status(Who::Anonymous, "/service-info").await;
    assert_eq!(
        service["type"],
        json!({"group": "org.ga4gh", "artifact": "beacon", "version": "v2.0.0"})
    );
    let (_, map) = app.status(Who::Anonymous, "/map").await;
    let root = map["response"]["endpointSets"]["genomicVariation"]["rootUrl"]
        .as_str()
        .expect("root url");
    assert_eq!(root, format!("{}/g_variants", app.api));
    let health = app
        .client
        .get(format!("{}/health", app.root))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status().as_u16(), 200);
}

/// (CHROM, POS, REF, ALT, AC, AN) per split PASS record, straight from bcftools.
fn bcftools_counts(file: &Path) -> Vec<(String, u64, String, String, i64, i64)> {
    let script = format!(
        "bcftools view -f PASS,. '{}' | bcftools norm -m- - 2>/dev/null | bcftools +fill-tags - -- -t AC,AN \
         | bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t%AC\\t%AN\\n'",
        file.display()
    );
    let text = bcftools(&script);
    let rows: Vec<_> = text
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (
                fields[0].to_owned(),
                fields[1].parse().expect("pos"),
                fields[2].to_owned(),
                fields[3].to_owned(),
                fields[4].parse().expect("ac"),
                fields[5].parse().expect("an"),
            )
        })
        .collect();
    assert!(rows.len() >= 10, "bcftools found too few records: {text}");
    rows
}

/// Total frequency entry of the dataset's single record in a record response.
fn total_counts(document: &Value, dataset: &str) -> Option<(i64, i64)> {
    let sets = document["response"]["resultSets"].as_array()?;
    let set = sets.iter().find(|set| set["id"] == dataset)?;
    let results = set["results"].as_array()?;
    if results.is_empty() {
        assert_eq!(set["exists"], false);
        return None;
    }
    assert_eq!(results.len(), 1, "one allele expected: {document:#}");
    let frequencies = results[0]["frequencyInPopulations"][0]["frequencies"].as_array()?;
    let total = frequencies
        .iter()
        .find(|frequency| frequency["population"] == "Total")?;
    Some((total["alleleCount"].as_i64()?, total["alleleNumber"].as_i64()?))
}

#[tokio::test]
async fn every_variant_answers_the_allele_counts_bcftools_computes_from_vcf_bgzf_and_bcf() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("plain", "small.vcf", Granularity::Record))
        .dataset(Dataset::open("bgzf", "small.vcf.gz", Granularity::Record))
        .dataset(Dataset::open("bcf", "small.bcf", Granularity::Record))
        .spawn()
        .await;
    for (chromosome, position, reference, alternate, allele_count, allele_number) in
        bcftools_counts(&data("small.vcf"))
    {
        // The query uses the file's own VCF-style alleles: the node must normalise them as it
        // normalised the stored ones.
        let query = format!(
            "/g_variants?referenceName={chromosome}&start={}&referenceBases={reference}&alternateBases={alternate}&requestedGranularity=record&includeResultsetResponses=ALL",
            position - 1
        );
        let (status, document) = app.status(Who::Anonymous, &query).await;
        assert_eq!(status, 200, "{query}: {document:#}");
        assert_valid_query("record", &document);
        for dataset in ["plain", "bgzf", "bcf"] {
            if allele_count == 0 {
                // A site where nobody carries the allele: not observed, so not found.
                assert_eq!(total_counts(&document, dataset), None, "{query}");
                continue;
            }
            assert_eq!(
                total_counts(&document, dataset),
                Some((allele_count, allele_number)),
                "{dataset}: {chromosome}:{position} {reference}>{alternate}"
            );
        }
    }
}

#[tokio::test]
async fn get_and_post_agree_at_every_granularity_and_validate() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("plain", "small.vcf", Granularity::Record))
        .spawn()
        .await;
    // Chromosome 1, [999, 6002): by hand from small.tsv, the alleles with AC > 0 starting in it
    // or overlapping it: 999 A>G, 1999 C>A, 1999 C>T, 2999 GTC>G, 3999 T>TAA, 5000 C>T,
    // 5999 ATG>A, 5999 A>ATG — 8 (7999 T>C has AC 0).
    for granularity in ["boolean", "count", "record"] {
        let (status, get) = app
            .status(
                Who::Anonymous,
                &format!(
                    "/g_variants?referenceName=chr1&start=999&end=6002&requestedGranularity={granularity}"
                ),
            )
            .await;
        assert_eq!(status, 200);
        assert_valid_query(granularity, &get);
        let body = json!({
            "meta": {"apiVersion": "v2.0"},
            "query": {
                "requestParameters": {"g_variant": {"referenceName": "1", "start": [999], "end": [6002]}},
                "requestedGranularity": granularity,
            }
        });
        let (status, post) = app.post_status(Who::Anonymous, "/g_variants", &body).await;
        assert_eq!(status, 200);
        assert_valid_query(granularity, &post);
        assert_eq!(get["responseSummary"], post["responseSummary"], "{granularity}");
        assert_eq!(get["meta"]["returnedGranularity"], granularity);
        assert_eq!(get["responseSummary"]["exists"], true);
        if granularity != "boolean" {
            assert_eq!(get["responseSummary"]["numTotalResults"], 8, "{get:#}");
        }
    }
}

#[tokio::test]
async fn range_queries_find_overlapping_alleles_by_hand_worked_bounds() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("plain", "small.vcf", Granularity::Count))
        .spawn()
        .await;
    let count = |start: u64, end: u64| app.count(format!("referenceName=1&start={start}&end={end}"));
    // The deletion GTC>G spans [2999, 3002): a query on its last base [3001, 3002) overlaps it.
    assert_eq!(count(3001, 3002).await, 1);
    // [3002, 3999) touches nothing: the deletion ends at 3002, the insertion starts at 3999.
    assert_eq!(count(3002, 3999).await, 0);
    // [998, 999) ends where the SNV at 999 starts: half-open, no overlap.
    assert_eq!(count(998, 999).await, 0);
    assert_eq!(count(999, 1000).await, 1);
    // 1 never matches 19, 17 never matches 1.
    let (_, nineteen) = app
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=19&start=0&end=10000&requestedGranularity=count",
        )
        .await;
    assert_eq!(nineteen["responseSummary"]["numTotalResults"], 0);
    // The chrX multi-allelic site: two alleles at 6999999, by hand.
    let (_, x) = app
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=X&start=6999999&end=7000000&requestedGranularity=count",
        )
        .await;
    assert_eq!(x["responseSummary"]["numTotalResults"], 2);
    // variantType narrows a range to deletions: 2999 GTC>G and 5999 ATG>A on chromosome 1.
    let (_, deletions) = app
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=1&start=0&end=10000&variantType=DEL&requestedGranularity=count",
        )
        .await;
    assert_eq!(deletions["responseSummary"]["numTotalResults"], 2);
}

#[tokio::test]
async fn granularity_is_capped_by_the_dataset_and_reported() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("open", "small.vcf", Granularity::Record))
        .dataset(Dataset::open("closed", "chr_prefixed.vcf", Granularity::Boolean))
        .dataset(Dataset::open("hidden", "small.vcf.gz", Granularity::None))
        .spawn()
        .await;
    let (_, both) = app
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=1&start=999&alternateBases=G&requestedGranularity=record",
        )
        .await;
    assert_eq!(both["meta"]["returnedGranularity"], "boolean");
    assert_valid_query("boolean", &both);
    let (_, open) = app
        .status(Who::Anonymous, "/g_variants?referenceName=1&start=999&alternateBases=G&requestedGranularity=record&datasetIds=open")
        .await;
    assert_eq!(open["meta"]["returnedGranularity"], "record");
    assert_valid_query("record", &open);
    // A hidden dataset is indistinguishable from a missing one.
    let (hidden_status, hidden) = app
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=1&start=999&alternateBases=G&datasetIds=hidden",
        )
        .await;
    let (missing_status, missing) = app
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=1&start=999&alternateBases=G&datasetIds=nosuch",
        )
        .await;
    assert_eq!((hidden_status, missing_status), (404, 404));
    assert_valid(Schema::ErrorResponse, &hidden);
    assert_eq!(
        hidden["error"]["errorMessage"]
            .as_str()
            .map(|text| text.replace("hidden", "X")),
        missing["error"]["errorMessage"]
            .as_str()
            .map(|text| text.replace("nosuch", "X"))
    );
}

#[tokio::test]
async fn pagination_skips_whole_pages() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("plain", "small.vcf", Granularity::Record))
        .spawn()
        .await;
    let starts = |document: &Value| -> Vec<i64> {
        document["response"]["resultSets"][0]["results"]
            .as_array()
            .map(|results| {
                results
                    .iter()
                    .map(|record| {
                        record["variation"]["location"]["interval"]["start"]["value"]
                            .as_i64()
                            .expect("start")
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let page = |skip: u64| {
        format!(
            "/g_variants?referenceName=1&start=0&end=10000&requestedGranularity=record&limit=3&skip={skip}"
        )
    };
    // Chromosome 1 alleles with AC > 0, in order, VRS (fully trimmed) starts by hand:
    // 999, 1999, 1999, 3000 (GTC>G deletes TC at 3000), 4000 (T>TAA inserts after 3999), 5000,
    // 6000 (ATG>A), 6000 (A>ATG inserts after 5999).
    let (_, first) = app.status(Who::Anonymous, &page(0)).await;
    let (_, second) = app.status(Who::Anonymous, &page(1)).await;
    let (_, third) = app.status(Who::Anonymous, &page(2)).await;
    let (_, beyond) = app.status(Who::Anonymous, &page(3)).await;
    assert_eq!(starts(&first), vec![999, 1999, 1999]);
    assert_eq!(starts(&second), vec![3000, 4000, 5000]);
    assert_eq!(starts(&third), vec![6000, 6000]);
    assert_eq!(starts(&beyond), Vec::<i64>::new());
    assert_eq!(first["responseSummary"]["numTotalResults"], 8);
    assert_eq!(
        second["meta"]["receivedRequestSummary"]["pagination"],
        json!({"skip": 1, "limit": 3})
    );
    assert_valid_query("record", &beyond);
}

#[tokio::test]
async fn records_carry_vrs_hgvs_and_population_frequencies() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("plain", "small.vcf", Granularity::Record))
        .spawn()
        .await;
    // The chrX SNV at POS 5,000,000 (G>A): S1 0/1, S2 1 (haploid), S3 1/1, S4 0 by the fixture's
    // README: AC 4 = het 1 + 2·hom 1 + hemi 1, AN 6.
    let (_, document) =
        app.status(Who::Anonymous, "/g_variants?referenceName=X&start=4999999&referenceBases=G&alternateBases=A&requestedGranularity=record").await;
    assert_valid_query("record", &document);
    let record = &document["response"]["resultSets"][0]["results"][0];
    assert_eq!(
        record["identifiers"]["genomicHGVSId"],
        "NC_000023.11:g.5000000G>A"
    );
    assert_eq!(
        record["variation"]["location"]["sequence_id"],
        "refseq:NC_000023.11"
    );
    assert_eq!(
        record["variation"]["location"]["interval"]["start"]["value"],
        4_999_999
    );
    assert_eq!(
        record["variation"]["location"]["interval"]["end"]["value"],
        5_000_000
    );
    assert_eq!(record["variation"]["state"]["sequence"], "A");
    let total = &record["frequencyInPopulations"][0]["frequencies"][0];
    assert_eq!(total["population"], "Total");
    assert_eq!(total["alleleCount"], 4);
    assert_eq!(total["alleleNumber"], 6);
    assert_eq!(total["alleleCountHomozygous"], 1);
    assert_eq!(total["alleleCountHeterozygous"], 1);
    assert_eq!(total["alleleCountHemizygous"], 1);
    assert!((total["alleleFrequency"].as_f64().expect("af") - 4.0 / 6.0).abs() < 1e-12);
}

#[tokio::test]
async fn bad_requests_get_the_error_envelope_naming_the_problem() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("plain", "small.vcf", Granularity::Record))
        .spawn()
        .await;
    let cases = [
        ("/g_variants?referenceName=1&start=abc&end=10", 400, "`start`"),
        ("/g_variants?referenceName=chrQ&start=1&end=10", 400, "chrQ"),
        (
            "/g_variants?referenceName=1&start=1&end=10&bogus=1",
            400,
            "`bogus`",
        ),
        (
            "/g_variants?referenceName=1&start=1&end=10&assemblyId=hg17",
            400,
            "hg17",
        ),
        (
            "/g_variants?referenceName=1&start=1&end=10&requestedGranularity=everything",
            400,
            "requestedGranularity",
        ),
        ("/nowhere", 404, "no such endpoint"),
    ];
    for (path, expected_status, named) in cases {
        let (status, document) = app.status(Who::Anonymous, path).await;
        assert_eq!(status, expected_status, "{path}: {document:#}");
        assert_valid(Schema::ErrorResponse, &document);
        assert_eq!(document["error"]["errorCode"], expected_status);
        let message = document["error"]["errorMessage"].as_str().expect("message");
        assert!(message.contains(named), "{path}: {message}");
    }
    let g_variants = format!("{}/g_variants", app.api);
    let requests = [
        (
            app.client
                .post(&g_variants)
                .header("content-type", "application/json")
                .body("{\"query\": "),
            400,
        ),
        (app.client.post(&g_variants).body("referenceName=1"), 415),
        (app.client.delete(format!("{}/info", app.api)), 405),
        (
            app.client
                .post(&g_variants)
                .header("content-type", "application/json")
                .body(vec![b' '; 2 << 20]),
            413,
        ),
    ];
    for (request, expected_status) in requests {
        let response = request.send().await.expect("request");
        assert_eq!(response.status().as_u16(), expected_status);
        assert_valid(
            Schema::ErrorResponse,
            &response.json::<Value>().await.expect("json"),
        );
    }
    // Nothing of this reached the data.
    assert_eq!(app.store.datasets().await.expect("datasets").len(), 1);
}

/// The frequency entry of `population` in the single record of a record response.
fn frequency(document: &Value, population: &str) -> Option<Value> {
    let frequencies =
        document["response"]["resultSets"][0]["results"][0]["frequencyInPopulations"][0]["frequencies"]
            .as_array()?;
    frequencies
        .iter()
        .find(|entry| entry["population"] == population)
        .cloned()
}

#[tokio::test]
async fn aggregate_files_answer_the_counts_they_state_and_omit_what_they_do_not() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("summary", "aggregate.vcf", Granularity::Record))
        .spawn()
        .await;
    let record = |start: u64, alternate: &'static str| {
        let app = &app;
        async move {
            let (status, document) = app
                .status(Who::Anonymous, &format!(
                    "/g_variants?referenceName=1&start={start}&alternateBases={alternate}&requestedGranularity=record"
                ))
                .await;
            assert_eq!(status, 200, "{document:#}");
            assert_valid_query("record", &document);
            document
        }
    };
    // By hand from tests/data/aggregate.vcf (see tests/data/README.md).
    let first = record(999, "G").await;
    assert_eq!(
        frequency(&first, "Total"),
        Some(
            json!({"population": "Total", "alleleFrequency": 0.06, "alleleCount": 12, "alleleNumber": 200,
            "alleleCountHomozygous": 2, "alleleCountHeterozygous": 8, "alleleCountHemizygous": 0})
        )
    );
    assert_eq!(
        frequency(&first, "FR"),
        Some(json!({"population": "FR", "alleleFrequency": 0.0625, "alleleCount": 5, "alleleNumber": 80}))
    );
    let second_alt = record(1999, "T").await;
    assert_eq!(
        frequency(&second_alt, "Total"),
        Some(json!({"population": "Total", "alleleFrequency": 0.07, "alleleCount": 7, "alleleNumber": 100}))
    );
    assert_eq!(frequency(&second_alt, "FR"), None);
    let first_alt = record(1999, "A").await;
    assert_eq!(
        frequency(&first_alt, "FR").map(|entry| entry["alleleCount"].clone()),
        Some(json!(1))
    );
    let (_, count) = app
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=X&start=0&end=156040895&requestedGranularity=count",
        )
        .await;
    assert_eq!(count["responseSummary"]["numTotalResults"], 1);
}

#[tokio::test]
async fn a_dataset_holds_genotype_files_or_aggregate_files_not_both() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("mixed", "small.vcf", Granularity::Record))
        .spawn()
        .await;
    let error = app
        .store
        .ingest(ingest_request("mixed", data("aggregate.vcf")))
        .await
        .expect_err("mixing kinds");
    assert!(error.to_string().contains("separate datasets"), "{error}");
    assert_eq!(app.store.analyses("mixed").await.expect("analyses").len(), 1);
}

#[tokio::test]
async fn structural_variants_are_found_by_their_span_and_type() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("sv", "sv.vcf", Granularity::Record))
        .spawn()
        .await;
    let count = |query: &'static str| app.count(format!("referenceName=1&{query}"));
    // By hand (tests/data/README.md): DEL [10000, 15000), DUP [20000, 23000), INS [29999, 30000),
    // INV [40000, 41000); the breakend and <NON_REF> are not stored.
    assert_eq!(count("start=12000&end=12001").await, 1);
    assert_eq!(count("start=14999&end=15000").await, 1);
    assert_eq!(count("start=15000&end=15001").await, 0);
    assert_eq!(count("start=22999&end=23000&variantType=DUP").await, 1);
    assert_eq!(count("start=0&end=100000").await, 4);
    assert_eq!(count("start=0&end=100000&variantType=INV").await, 1);
    assert_eq!(count("start=49000&end=61000").await, 0);
    let (_, document) = app
        .status(
            Who::Anonymous,
            "/g_variants?referenceName=1&start=11000&end=11001&requestedGranularity=record",
        )
        .await;
    assert_valid_query("record", &document);
    let record = &document["response"]["resultSets"][0]["results"][0];
    assert_eq!(record["variation"]["variantType"], "DEL");
    assert_eq!(
        record["variation"]["location"]["interval"]["start"]["value"],
        10000
    );
    assert_eq!(record["variation"]["location"]["interval"]["end"]["value"], 15000);
    let total = &record["frequencyInPopulations"][0]["frequencies"][0];
    assert_eq!(
        (total["alleleCount"].clone(), total["alleleNumber"].clone()),
        (json!(1), json!(4))
    );
}

#[tokio::test]
async fn gene_and_amino_acid_queries_read_the_files_annotations() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("annotated", "annotated.vcf", Granularity::Record))
        .spawn()
        .await;
    let count = |query: &'static str| app.count(query);
    // By hand (tests/data/README.md, `annotated.vcf`).
    assert_eq!(count("geneId=BRAF").await, 1);
    assert_eq!(count("geneid=braf").await, 1);
    assert_eq!(count("geneId=TP53").await, 4);
    assert_eq!(count("geneId=TP53&aminoacidChange=R175H").await, 1);
    assert_eq!(count("geneId=TP53&aminoacidChange=p.Arg175His").await, 1);
    assert_eq!(count("geneId=TP53&aminoacidChange=R175C").await, 0);
    assert_eq!(count("geneId=TP53&aminoacidChange=P72R").await, 1);
    assert_eq!(count("geneId=TP53&aminoacidChange=L130Afs*5").await, 1);
    assert_eq!(count("geneId=TP53&variantType=DEL").await, 1);
    assert_eq!(count("geneId=KRAS").await, 0);
    let (_, document) = app
        .status(
            Who::Anonymous,
            "/g_variants?geneId=BRAF&aminoacidChange=V600E&requestedGranularity=record",
        )
        .await;
    assert_valid_query("record", &document);
    let record = &document["response"]["resultSets"][0]["results"][0];
    assert_eq!(
        record["molecularAttributes"],
        json!({"geneIds": ["BRAF"], "aminoacidChanges": ["V600E"],
               "molecularEffects": [{"id": "SO:0001583", "label": "missense variant"}]})
    );
    assert_eq!(
        record["identifiers"]["genomicHGVSId"],
        "NC_000007.14:g.140753336A>T"
    );
    let (status, _) = app
        .status(Who::Anonymous, "/g_variants?geneId=BRAF&referenceName=7&start=1")
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn with_a_reference_genome_an_indel_is_found_whichever_way_the_query_writes_it() {
    let directory = tempfile::tempdir().expect("tempdir");
    // MT (16,569 bases in both assemblies) with `TCACACACAG` at 0-based 100..110.
    let mut bases: Vec<u8> = b"AGT".iter().copied().cycle().take(16_569).collect();
    bases[100..110].copy_from_slice(b"TCACACACAG");
    let mut fasta = String::from(">MT\n");
    for line in bases.chunks(60) {
        fasta.push_str(std::str::from_utf8(line).expect("ascii"));
        fasta.push('\n');
    }
    let fasta_path = directory.path().join("mt.fa");
    std::fs::write(&fasta_path, fasta).expect("fasta");
    std::fs::write(directory.path().join("mt.fa.fai"), "MT\t16569\t4\t60\t61\n").expect("fai");
    let vcf = directory.path().join("mt.vcf");
    std::fs::write(
        &vcf,
        "##fileformat=VCFv4.2\n##contig=<ID=MT,length=16569>\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\nMT\t107\t.\tACA\tA\t.\tPASS\t.\tGT\t1\n",
    )
    .expect("vcf");
    let genome = phare_vcf::ReferenceGenome::open(&fasta_path, Assembly::Grch38).expect("genome");
    let app = Node::builder()
        .anonymous_only()
        .dataset(
            Dataset::at("mt", vcf)
                .anonymous_max(Granularity::Count)
                .min_count(0)
                .reference_fasta(fasta_path.clone()),
        )
        .reference(Assembly::Grch38, genome)
        .spawn()
        .await;
    // The CA deletion stored left-aligned (MT:100 TCA>T); asked at the right end of the repeat
    // (MT:106 ACA>A, as the file wrote it) and at the left end: both find it.
    for (start, reference, alternate) in [(106, "ACA", "A"), (100, "TCA", "T")] {
        let url = format!(
            "/g_variants?referenceName=MT&start={start}&referenceBases={reference}&alternateBases={alternate}&requestedGranularity=count"
        );
        let (_, document) = app.status(Who::Anonymous, &url).await;
        assert_eq!(
            document["responseSummary"]["numTotalResults"], 1,
            "{url}: {document:#}"
        );
    }
}

#[tokio::test]
async fn datasets_are_listed_as_collections_the_caller_may_see() {
    let app = Node::builder()
        .anonymous_only()
        .dataset(Dataset::open("open", "small.vcf", Granularity::Record))
        .dataset(Dataset::open("closed", "chr_prefixed.vcf", Granularity::Boolean))
        .dataset(Dataset::open("hidden", "small.vcf.gz", Granularity::None))
        .spawn()
        .await;
    let (status, list) = app.status(Who::Anonymous, "/datasets").await;
    assert_eq!(status, 200, "{list:#}");
    assert_valid(Schema::CollectionsResponse, &list);
    let ids: Vec<&str> = list["response"]["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .map(|dataset| {
            assert_valid(Schema::Dataset, dataset);
            dataset["id"].as_str().expect("id")
        })
        .collect();
    // Ordered by id; the dataset anonymous callers may not see is not listed.
    assert_eq!(ids, vec!["closed", "open"]);
    assert_eq!(list["responseSummary"]["numTotalResults"], 2);
    let (_, second_page) = app.status(Who::Anonymous, "/datasets?limit=1&skip=1").await;
    assert_eq!(second_page["response"]["collections"][0]["id"], "open");
    let body = json!({"query": {"pagination": {"skip": 0, "limit": 1}}});
    let (status, posted) = app.post_status(Who::Anonymous, "/datasets", &body).await;
    assert_eq!(status, 200);
    assert_eq!(posted["response"]["collections"][0]["id"], "closed");

    let (status, one) = app.status(Who::Anonymous, "/datasets/open").await;
    assert_eq!(status, 200);
    assert_valid(Schema::CollectionsResponse, &one);
    assert_eq!(one["response"]["collections"][0]["info"]["assemblyId"], "GRCh38");
    let (hidden_status, hidden) = app.status(Who::Anonymous, "/datasets/hidden").await;
    let (missing_status, missing) = app.status(Who::Anonymous, "/datasets/nosuch").await;
    assert_eq!((hidden_status, missing_status), (404, 404));
    assert_valid(Schema::ErrorResponse, &hidden);
    assert_eq!(
        hidden["error"]["errorMessage"]
            .as_str()
            .map(|text| text.replace("hidden", "X")),
        missing["error"]["errorMessage"]
            .as_str()
            .map(|text| text.replace("nosuch", "X"))
    );
    let (status, _) = app.status(Who::Anonymous, "/datasets?colour=red").await;
    assert_eq!(status, 400);
    let (_, map) = app.status(Who::Anonymous, "/map").await;
    assert_eq!(
        map["response"]["endpointSets"]["dataset"]["singleEntryUrl"],
        format!("{}/datasets/{{id}}", app.api)
    );
}
