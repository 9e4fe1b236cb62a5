//! Variant searches against a real PostgreSQL: bracket queries, HGVS edits and duplications,
//! length bounds and sets of stored types. Expected values are worked by hand from the
//! fixtures (tests/data/README.md lists every stored allele of small.vcf and sv.vcf).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use phare_domain::{Assembly, Granularity, HgvsEdit, Manifest, parse_genomic_hgvs};
use phare_store::testing::fresh_database;
use phare_store::{IngestRequest, NewDataset, Store, VariantSearch};
use sqlx::Row;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

async fn ingest(store: &Store, dataset_id: &str, path: PathBuf) {
    store
        .ingest(IngestRequest::new(dataset_id, path))
        .await
        .expect("ingest");
}

async fn dataset(store: &Store, id: &str) {
    store
        .create_dataset(&NewDataset {
            id: id.into(),
            name: id.into(),
            assembly: Assembly::Grch38,
            anonymous_max: Granularity::Record,
        })
        .await
        .expect("create dataset");
}

/// small.vcf and sv.vcf in one dataset. Stored on chromosome 1 with AC > 0 (0-based start, end):
/// 999 A>G (1000), 1999 C>A and C>T (2000), 2999 GTC>G (3002), 3999 T>TAA (4000), 5000 C>T
/// (5001), 5999 ATG>A (6002), 5999 A>ATG (6000); DEL [10000, 15000), DUP [20000, 23000),
/// INS [29999, 30000), INV [40000, 41000). 7999 T>C is stored with AC 0 and never matches.
async fn small_and_sv(store: &Store) {
    dataset(store, "ds").await;
    ingest(store, "ds", data("small.vcf")).await;
    ingest(store, "ds", data("sv.vcf")).await;
}

async fn count(store: &Store, dataset_id: &str, search: &VariantSearch) -> i64 {
    store
        .count_variants(dataset_id, "all", search)
        .await
        .expect("count")
        .matches
}

/// (start, reference, alternate) of every match, in the order pages give them.
async fn found(store: &Store, dataset_id: &str, search: &VariantSearch) -> Vec<(i64, String, String)> {
    store
        .find_variants(dataset_id, "all", search, 0, 100, None)
        .await
        .expect("find")
        .0
        .into_iter()
        .map(|found| (found.start, found.reference, found.alternate))
        .collect()
}

fn types(names: &[&str]) -> Option<Vec<String>> {
    Some(names.iter().map(|name| (*name).to_owned()).collect())
}

fn bracket(start: (u64, u64), end: (u64, u64), variant_types: Option<Vec<String>>) -> VariantSearch {
    VariantSearch::Bracket {
        contig: "1".into(),
        start_min: start.0,
        start_max: start.1,
        end_min: end.0,
        end_max: end.1,
        variant_types,
        min_length: None,
        max_length: None,
    }
}

fn range(length: (Option<u64>, Option<u64>), variant_types: Option<Vec<String>>) -> VariantSearch {
    VariantSearch::Range {
        contig: "1".into(),
        start: 0,
        end: 50_000,
        variant_types,
        reference: None,
        alternate: None,
        min_length: length.0,
        max_length: length.1,
    }
}

/// The search an HGVS description on chromosome 1 asks for, as the server maps it.
fn hgvs(text: &str) -> VariantSearch {
    let parsed = parse_genomic_hgvs(text).expect(text);
    let contig = parsed.contig.name().to_owned();
    match parsed.edit {
        HgvsEdit::Substitution {
            start,
            reference,
            alternate,
        } => VariantSearch::Sequence {
            contig,
            start,
            reference: Some(reference),
            alternate,
        },
        HgvsEdit::Deletion { start, end } => VariantSearch::Edit {
            contig,
            start,
            end,
            inserted: String::new(),
        },
        HgvsEdit::Insertion { at, inserted } => VariantSearch::Edit {
            contig,
            start: at,
            end: at,
            inserted,
        },
        HgvsEdit::DeletionInsertion { start, end, inserted } => VariantSearch::Edit {
            contig,
            start,
            end,
            inserted,
        },
        HgvsEdit::Duplication { start, end } => VariantSearch::Duplication { contig, start, end },
    }
}

#[tokio::test]
async fn bracket_bounds_are_inclusive_on_both_sides() {
    let database = fresh_database().await;
    let store = &database.store;
    small_and_sv(store).await;
    // Only the <DEL> [10000, 15000) starts in [9000, 10500] and ends in [14000, 16000].
    let deletion = bracket((9_000, 10_500), (14_000, 16_000), None);
    assert_eq!(count(store, "ds", &deletion).await, 1);
    assert_eq!(
        found(store, "ds", &deletion).await,
        vec![(10_000, "N".to_owned(), "<DEL>".to_owned())]
    );
    // A precise bracket: both bounds equal to the deletion's start and end.
    assert_eq!(
        count(store, "ds", &bracket((10_000, 10_000), (15_000, 15_000), None)).await,
        1
    );
    assert_eq!(
        count(store, "ds", &bracket((10_001, 10_001), (15_000, 15_000), None)).await,
        0
    );
    assert_eq!(
        count(store, "ds", &bracket((10_000, 10_000), (14_999, 14_999), None)).await,
        0
    );
    // Both SNVs at 1999 end at 2000.
    assert_eq!(
        count(store, "ds", &bracket((1_999, 1_999), (2_000, 2_000), None)).await,
        2
    );
    // Every allele of chromosome 1 with AC > 0: 8 from small.vcf, 4 from sv.vcf.
    assert_eq!(
        count(store, "ds", &bracket((0, 50_000), (0, 50_000), None)).await,
        12
    );
    // A wide start bracket with a narrow end bracket: only the <DUP> [20000, 23000) ends in
    // [22000, 24000]. The scan starts at 22000 − 5000 (the <DEL>, longest span), still before it.
    let duplication = bracket((0, 30_000), (22_000, 24_000), None);
    assert_eq!(
        found(store, "ds", &duplication).await,
        vec![(20_000, "N".to_owned(), "<DUP>".to_owned())]
    );
    // Starts in [2999, 5999], ends in [3002, 6002]: GTC>G (2999–3002), T>TAA (3999–4000),
    // C>T (5000–5001), A>ATG (5999–6000) and ATG>A (5999–6002), in start, ref, alt order.
    assert_eq!(
        found(store, "ds", &bracket((2_999, 5_999), (3_002, 6_002), None))
            .await
            .iter()
            .map(|(start, reference, alternate)| format!("{start}:{reference}>{alternate}"))
            .collect::<Vec<_>>(),
        ["2999:GTC>G", "3999:T>TAA", "5000:C>T", "5999:A>ATG", "5999:ATG>A"]
    );
}

#[tokio::test]
async fn copy_number_terms_select_their_stored_types() {
    let database = fresh_database().await;
    let store = &database.store;
    small_and_sv(store).await;
    let everywhere = |variant_types| bracket((0, 50_000), (0, 50_000), variant_types);
    // Loss (EFO:0030067 and its descendants → DEL): GTC>G, ATG>A and the <DEL>.
    assert_eq!(count(store, "ds", &everywhere(types(&["DEL"]))).await, 3);
    // Gain (EFO:0030070 and its descendants → DUP): the <DUP>.
    assert_eq!(count(store, "ds", &everywhere(types(&["DUP"]))).await, 1);
    // Copy number variation (EFO:0030066, SO:0001019 → CNV, DEL, DUP): no <CNV> stored.
    assert_eq!(
        count(store, "ds", &everywhere(types(&["CNV", "DEL", "DUP"]))).await,
        4
    );
    assert_eq!(count(store, "ds", &everywhere(types(&["CNV"]))).await, 0);
    // A range query takes the same sets: the <DUP:TANDEM> of sv.vcf is stored as DUP.
    assert_eq!(count(store, "ds", &range((None, None), types(&["DUP"]))).await, 1);
    assert_eq!(
        count(store, "ds", &range((None, None), types(&["INS", "INV"]))).await,
        // T>TAA, A>ATG, <INS>, <INV>.
        4
    );
    // Losses of at least 100 bases: only the structural deletion.
    let large_losses = VariantSearch::Bracket {
        contig: "1".into(),
        start_min: 0,
        start_max: 50_000,
        end_min: 0,
        end_max: 50_000,
        variant_types: types(&["DEL"]),
        min_length: Some(100),
        max_length: None,
    };
    assert_eq!(
        found(store, "ds", &large_losses).await,
        vec![(10_000, "N".to_owned(), "<DEL>".to_owned())]
    );
}

#[tokio::test]
async fn length_bounds_read_sequence_alleles_without_their_anchor_and_structural_ones_by_span() {
    let database = fresh_database().await;
    let store = &database.store;
    small_and_sv(store).await;
    // Lengths on chromosome 1: SNVs 999, 1999 ×2, 5000 are 1; GTC>G, T>TAA, ATG>A, A>ATG are
    // 2; <DEL> 5000, <DUP> 3000, <INV> 1000; the <INS> has none.
    assert_eq!(count(store, "ds", &range((None, Some(1)), None)).await, 4);
    assert_eq!(count(store, "ds", &range((Some(2), Some(2)), None)).await, 4);
    assert_eq!(count(store, "ds", &range((Some(2), None), None)).await, 7);
    // Both bounds inclusive: the <INV> (1000) and the <DUP> (3000).
    assert_eq!(
        found(store, "ds", &range((Some(1_000), Some(3_000)), None)).await,
        vec![
            (20_000, "N".to_owned(), "<DUP>".to_owned()),
            (40_000, "N".to_owned(), "<INV>".to_owned()),
        ]
    );
    // Any bound leaves out the <INS>, whose length is not stored: 12 alleles, 11 with a length.
    assert_eq!(count(store, "ds", &range((None, None), None)).await, 12);
    assert_eq!(count(store, "ds", &range((Some(0), None), None)).await, 11);

    // Gene queries take the bounds too. TP53 in annotated.vcf: C>T (1), CAG>C (2), C>CAG (2),
    // G>A (1).
    dataset(store, "annotated").await;
    ingest(store, "annotated", data("annotated.vcf")).await;
    let tp53 = |min_length, max_length| VariantSearch::Gene {
        gene: "TP53".into(),
        protein_change: None,
        variant_types: None,
        min_length,
        max_length,
    };
    assert_eq!(count(store, "annotated", &tp53(None, None)).await, 4);
    assert_eq!(count(store, "annotated", &tp53(Some(2), None)).await, 2);
    assert_eq!(count(store, "annotated", &tp53(None, Some(1))).await, 2);
    let tp53_deletions = VariantSearch::Gene {
        gene: "TP53".into(),
        protein_change: None,
        variant_types: types(&["DEL"]),
        min_length: None,
        max_length: None,
    };
    assert_eq!(
        found(store, "annotated", &tp53_deletions).await,
        vec![(7_675_087, "CAG".to_owned(), "C".to_owned())]
    );
}

#[tokio::test]
async fn hgvs_descriptions_find_the_stored_allele() {
    let database = fresh_database().await;
    let store = &database.store;
    small_and_sv(store).await;
    // (description, stored allele it names, worked from small.vcf and sv.vcf)
    let cases = [
        // Substitution: POS 1000 A>G.
        ("NC_000001.11:g.1000A>G", (999, "A", "G")),
        // Deletion of TC after the anchor G at 0-based 2999: bases 3001–3002 (1-based).
        ("NC_000001.11:g.3001_3002del", (2_999, "GTC", "G")),
        ("NC_000001.11:g.3001_3002delTC", (2_999, "GTC", "G")),
        // ATG>A at 5999 deletes 1-based 6001–6002.
        ("NC_000001.11:g.6001_6002del", (5_999, "ATG", "A")),
        // T>TAA at 3999 inserts AA between 1-based 4000 and 4001.
        ("NC_000001.11:g.4000_4001insAA", (3_999, "T", "TAA")),
        // A>ATG at 5999 inserts TG between 1-based 6000 and 6001.
        ("NC_000001.11:g.6000_6001insTG", (5_999, "A", "ATG")),
        // A one-base deletion-insertion is the SNV 1999 C>T.
        ("NC_000001.11:g.2000delinsT", (1_999, "C", "T")),
        // The symbolic <DEL> deletes 1-based 10001–15000.
        ("NC_000001.11:g.10001_15000del", (10_000, "N", "<DEL>")),
        // The symbolic <DUP> copies 1-based 20001–23000.
        ("NC_000001.11:g.20001_23000dup", (20_000, "N", "<DUP>")),
    ];
    for (text, (start, reference, alternate)) in cases {
        assert_eq!(
            found(store, "ds", &hgvs(text)).await,
            vec![(start, reference.to_owned(), alternate.to_owned())],
            "{text}"
        );
    }
    let misses = [
        // One base too many, or the wrong bases, or the wrong place.
        "NC_000001.11:g.3001_3003del",
        "NC_000001.11:g.3000_3002del",
        "NC_000001.11:g.4000_4001insAT",
        "NC_000001.11:g.4001_4002insAA",
        "NC_000001.11:g.2000delinsG",
        "NC_000001.11:g.10001_14999del",
        "NC_000001.11:g.20001_22999dup",
        // 8000 T>C is stored with AC 0: nobody carries it.
        "NC_000001.11:g.8000T>C",
    ];
    for text in misses {
        assert_eq!(count(store, "ds", &hgvs(text)).await, 0, "{text}");
    }
    // The <INV> and the <INS> are not deletions: nothing deletes 1-based 40001–41000.
    assert_eq!(
        count(store, "ds", &hgvs("NC_000001.11:g.40001_41000del")).await,
        0
    );
}

#[tokio::test]
async fn edits_match_both_trimmings_and_duplications_by_place_and_length() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "edits").await;
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("edits.vcf");
    // Normalised (0-based): 99 A>TA (nothing to trim: ALT's last base is shared, its first is
    // not); 199 CT>G (CTT/GT lose the shared last T); 299 AC>GT (an MNV); 399 A>ACG, 499
    // G>GAG and 599 T>TAC (insertions of two bases after their anchor).
    let records = [
        "1\t100\t.\tA\tTA\t.\tPASS\t.\tGT\t0/1",
        "1\t200\t.\tCTT\tGT\t.\tPASS\t.\tGT\t0/1",
        "1\t300\t.\tAC\tGT\t.\tPASS\t.\tGT\t0/1",
        "1\t400\t.\tA\tACG\t.\tPASS\t.\tGT\t0/1",
        "1\t500\t.\tG\tGAG\t.\tPASS\t.\tGT\t0/1",
        "1\t600\t.\tT\tTAC\t.\tPASS\t.\tGT\t0/1",
    ];
    let text = format!(
        "##fileformat=VCFv4.2\n##contig=<ID=1,length=248956422>\n\
         ##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n\
         #CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n{}\n",
        records.join("\n")
    );
    std::fs::write(&path, text).expect("write vcf");
    ingest(store, "edits", path).await;
    let cases = [
        // 99 A>TA as Phare describes it (first base not shared: [99, 100) becomes TA) …
        ("NC_000001.11:g.100delinsTA", Some((99, "A", "TA"))),
        // … and fully trimmed (the shared last A too): T inserted between 1-based 99 and 100.
        ("NC_000001.11:g.99_100insT", Some((99, "A", "TA"))),
        // 199 CT>G replaces 1-based 200–201 with G.
        ("NC_000001.11:g.200_201delinsG", Some((199, "CT", "G"))),
        ("NC_000001.11:g.200_201delCTinsG", Some((199, "CT", "G"))),
        ("NC_000001.11:g.200_202delinsGT", None),
        // 299 AC>GT replaces 1-based 300–301.
        ("NC_000001.11:g.300_301delinsGT", Some((299, "AC", "GT"))),
        // 399 A>ACG puts CG right before 1-based 401–402: a tandem copy of them, left-aligned.
        ("NC_000001.11:g.401_402dup", Some((399, "A", "ACG"))),
        // 499 G>GAG puts AG right after 1-based 499–500, whose last base G is the anchor.
        ("NC_000001.11:g.499_500dup", Some((499, "G", "GAG"))),
        // 599 T>TAC puts AC right after 1-based 599–600, but a copy of them would end in the
        // anchor T, not C.
        ("NC_000001.11:g.599_600dup", None),
        // Two bases inserted, not three.
        ("NC_000001.11:g.400_402dup", None),
    ];
    for (text, expected) in cases {
        let expected: Vec<(i64, String, String)> = expected
            .into_iter()
            .map(|(start, reference, alternate): (i64, &str, &str)| {
                (start, reference.to_owned(), alternate.to_owned())
            })
            .collect();
        assert_eq!(found(store, "edits", &hgvs(text)).await, expected, "{text}");
    }
}

/// (bin, alleles counted in care, in research) of chromosome 1 in dataset `ds`.
async fn bins(store: &Store) -> Vec<(i64, i64, i64)> {
    sqlx::query(
        "SELECT bin, alleles, research_alleles FROM variant_bins
         WHERE dataset_id = 'ds' AND contig = '1' AND (alleles > 0 OR research_alleles > 0) ORDER BY bin",
    )
    .fetch_all(store.pool())
    .await
    .expect("bins")
    .iter()
    .map(|row| (row.get("bin"), row.get("alleles"), row.get("research_alleles")))
    .collect()
}

fn window(start: u64, end: u64) -> VariantSearch {
    VariantSearch::Range {
        contig: "1".into(),
        start,
        end,
        variant_types: None,
        reference: None,
        alternate: None,
        min_length: None,
        max_length: None,
    }
}

#[tokio::test]
async fn range_counts_add_whole_bins_to_the_alleles_at_their_edges() {
    let database = fresh_database().await;
    let store = &database.store;
    small_and_sv(store).await;
    // Bins are 1,000 bases of start position; the contig's longest span is the <DEL>'s 5,000.
    let cases = [
        // Every stored allele with AC > 0 on chromosome 1 (7999 T>C has AC 0): 999 A>G from
        // the left edge, the other eleven from bins 1-49.
        ((0, 50_000), 12),
        // Left edge [0, 2000) ending after 1000: 1999 C>A and C>T (999 A>G ends at 1000);
        // bins 2-5: 2999 GTC>G, 3999 T>TAA, 5000 C>T, 5999 ATG>A and A>ATG.
        ((1_000, 6_000), 7),
        // Left edge [0, 2000) ending after 1999: 1999 C>A, C>T; bins 2-4: 2999, 3999; right
        // edge [5000, 5500): 5000 C>T.
        ((1_999, 5_500), 5),
        // Left edge [7000, 13000) ending after 12000: the <DEL> [10000, 15000) only (7999 T>C
        // has AC 0); bins 13-29: <DUP> 20000, <INS> 29999; right edge [30000, 30500): none.
        ((12_000, 30_500), 3),
        // No whole bin inside: every allele counted one by one (2999 GTC>G).
        ((2_500, 3_500), 1),
    ];
    for ((start, end), expected) in cases {
        assert_eq!(
            count(store, "ds", &window(start, end)).await,
            expected,
            "[{start}, {end})"
        );
    }
}

#[tokio::test]
async fn range_counts_by_bins_follow_objections_and_their_withdrawal() {
    let database = fresh_database().await;
    let store = &database.store;
    dataset(store, "ds").await;
    let manifest = Manifest::from_json(&std::fs::read_to_string(data("small.manifest.json")).expect("read"))
        .expect("manifest");
    store
        .ingest(IngestRequest {
            manifest: Some(manifest),
            ..IngestRequest::new("ds", data("small.vcf"))
        })
        .await
        .expect("ingest");
    let scoped = |scope: &'static str, search: VariantSearch| async move {
        store
            .count_variants("ds", scope, &search)
            .await
            .expect("count")
            .matches
    };
    // Chromosome 1 alleles with AC > 0: 999, 1999 x2, 2999, 3999, 5000, 5999 x2 (S3's refusal
    // leaves each of them another carrier). [1999, 5500): 1999 x2 at the left edge, 2999 and
    // 3999 in bins 2-4, 5000 at the right edge.
    // Bins of 1,000 bases: 999 | 1999 x2 | 2999 | 3999 | 5000, 5999 x2 (7999 T>C has AC 0).
    assert_eq!(
        bins(store).await,
        [(0, 1, 1), (1, 2, 2), (2, 1, 1), (3, 1, 1), (5, 3, 3)]
    );
    for scope in ["all", "research"] {
        assert_eq!(scoped(scope, window(0, 10_000)).await, 8, "{scope}");
        assert_eq!(scoped(scope, window(1_999, 5_500)).await, 5, "{scope}");
    }
    // S1 objects: 1999 C>T (S1 1/2, S3 refused), 5000 C>T (S1 only) and 5999 A>ATG (S1, S3)
    // leave the research counts; care answers keep them.
    store.set_research_consent("IND-S1", false).await.expect("oppose");
    assert_eq!(
        bins(store).await,
        [(0, 1, 1), (1, 2, 1), (2, 1, 1), (3, 1, 1), (5, 3, 1)]
    );
    assert_eq!(scoped("all", window(0, 10_000)).await, 8);
    assert_eq!(scoped("research", window(0, 10_000)).await, 5);
    assert_eq!(scoped("all", window(1_999, 5_500)).await, 5);
    assert_eq!(scoped("research", window(1_999, 5_500)).await, 3);
    store
        .set_research_consent("IND-S1", true)
        .await
        .expect("withdraw");
    assert_eq!(
        bins(store).await,
        [(0, 1, 1), (1, 2, 2), (2, 1, 1), (3, 1, 1), (5, 3, 3)]
    );
    assert_eq!(scoped("research", window(0, 10_000)).await, 8);
    assert_eq!(scoped("research", window(1_999, 5_500)).await, 5);
}
