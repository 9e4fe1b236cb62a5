//! Variant look-ups for Beacon `g_variants` within one dataset: sequence, range, bracket, HGVS
//! edit and duplication, and gene queries, optionally narrowed by stored type and length.

use std::collections::{BTreeMap, HashMap};

use sqlx::Row;

use crate::carrier_sets::{CarrierRows, Presence, Source, carrier_rows};
use crate::labels::Wanted;
use crate::{Carrier, ColumnQuery, Store, StoreError};

/// What a genomic query asks for, in canonical form: contig names as stored (`1`, `X`),
/// 0-based half-open coordinates, normalised alleles.
///
/// `variant_types` lists the stored types accepted (`None`: any). `min_length` and
/// `max_length` bound an allele's length, inclusive: for a sequence allele, the longer of its
/// reference and alternate bases once the shared anchor base is left out (an SNV is 1, `GTC>G`
/// is 2, `T>TAA` is 2); for a symbolic `<DEL>`, `<DUP>`, `<INV>`, `<CNV>`, its span
/// `end − start`. A symbolic `<INS>` has no stored length and never meets a length bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VariantSearch {
    /// The allele starting exactly at `start`.
    Sequence {
        contig: String,
        start: u64,
        reference: Option<String>,
        alternate: String,
    },
    /// Every allele whose reference span overlaps [start, end).
    Range {
        contig: String,
        start: u64,
        end: u64,
        variant_types: Option<Vec<String>>,
        reference: Option<String>,
        alternate: Option<String>,
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
    /// Every allele whose start is in [start_min, start_max] and whose end is in
    /// [end_min, end_max], all four bounds inclusive.
    Bracket {
        contig: String,
        start_min: u64,
        start_max: u64,
        end_min: u64,
        end_max: u64,
        variant_types: Option<Vec<String>>,
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
    /// The alleles that, once the bases shared by reference and alternate are trimmed, delete
    /// exactly [start, end) and insert exactly `inserted` (an insertion has start = end, a
    /// deletion an empty `inserted`). A stored indel keeps one anchor base: `A+X > A` at `s`
    /// deletes [s+1, s+1+|X|), `A > A+Y` inserts Y at s+1. Both trimmings are tried: the
    /// shared first base only (as `genomicHGVSId` describes stored alleles) and then also a
    /// shared last base (`A > TA` inserts `T`). A symbolic `<DEL>` deletes its span.
    Edit {
        contig: String,
        start: u64,
        end: u64,
        inserted: String,
    },
    /// A copy of [start, end) inserted beside it: a symbolic `<DUP>` spanning exactly
    /// [start, end), or a sequence insertion of `end − start` bases right after the interval
    /// (HGVS's place) or right before it (where left-alignment puts a tandem copy). The
    /// inserted bases are not compared with the reference, which the store does not hold.
    Duplication { contig: String, start: u64, end: u64 },
    /// Every allele an annotator placed on `gene` (with that one-letter protein change).
    Gene {
        gene: String,
        protein_change: Option<String>,
        variant_types: Option<Vec<String>>,
        min_length: Option<u64>,
        max_length: Option<u64>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StratumCounts {
    pub stratum: String,
    pub allele_count: i64,
    pub allele_number: i64,
    /// Zygosity counts; `None` when an aggregate file does not state them.
    pub homozygous: Option<i64>,
    pub heterozygous: Option<i64>,
    pub hemizygous: Option<i64>,
}

/// How many alleles match, and the catalog generation (`catalog_generation`, the counter of
/// dataset and policy changes) read by the same statement, hence in the same snapshot: a
/// server that answered from a cached catalog learns at no extra round trip whether it was
/// still current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VariantCount {
    pub matches: i64,
    pub catalog_generation: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantMatch {
    pub variant_id: i64,
    pub contig: String,
    pub start: i64,
    pub end: i64,
    pub reference: String,
    pub alternate: String,
    pub variant_type: String,
    /// `Total` first, then the other strata in name order.
    pub strata: Vec<StratumCounts>,
    /// Genes, one-letter protein changes and effects annotators gave (sorted, distinct).
    pub genes: Vec<String>,
    pub protein_changes: Vec<String>,
    pub effects: Vec<String>,
}

/// How a search selects alleles, with the refinements every kind shares.
struct Matcher<'a> {
    selection: Selection<'a>,
    variant_types: Option<&'a [String]>,
    min_length: Option<i64>,
    max_length: Option<i64>,
}

/// Bind values of each kind of selection ($6 onwards in its clause).
enum Selection<'a> {
    /// Sequence, range and bracket searches: a start window and end bounds on one contig.
    Window {
        contig: &'a str,
        start_from: i64,
        start_before: i64,
        end_min: i64,
        end_max: i64,
        reference: Option<&'a str>,
        alternate: Option<&'a str>,
    },
    Edit {
        contig: &'a str,
        start: i64,
        end: i64,
        inserted: &'a str,
    },
    Duplication {
        contig: &'a str,
        start: i64,
        end: i64,
    },
    Gene {
        gene: &'a str,
        protein_change: Option<&'a str>,
    },
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The alleles of the dataset counted in the scope: $1 is the dataset, $2 the scope.
const COUNTED: &str = "FROM variants v
    JOIN variant_counts c ON c.variant_id = v.id AND c.dataset_id = $1
        AND (CASE WHEN $2 = 'research' THEN c.research_allele_count ELSE c.allele_count END) > 0";

/// Width of a `variant_bins` bin, in bases of start position (migration 0014).
const BIN_WIDTH: i64 = 1_000;

/// An allele's length as the length bounds read it (see [`VariantSearch`]). Stored sequence
/// alleles share at most their first base (the anchor), as normalisation trims the rest.
const LENGTH: &str = "(CASE WHEN v.alternate LIKE '<%'
        THEN CASE WHEN v.variant_type = 'INS' THEN NULL ELSE v.\"end\" - v.start END
        ELSE greatest(length(v.reference), length(v.alternate))
            - CASE WHEN left(v.reference, 1) = left(v.alternate, 1) THEN 1 ELSE 0 END
    END)";

/// Selection clauses; $3 to $5 are the refinements, added after each.
const WINDOW: &str = "WHERE v.contig = $6 AND v.start >= $7 AND v.start < $8
        AND v.\"end\" >= $9 AND v.\"end\" <= $10
        AND ($11::text IS NULL OR v.reference = $11)
        AND ($12::text IS NULL OR v.alternate = $12)";

/// $6 contig, $7 lowest stored start ($8 − 1: an anchor base may precede the edit), $8 start,
/// $9 end, $10 inserted bases.
const EDIT: &str = "CROSS JOIN LATERAL (
        SELECT CASE WHEN left(v.reference, 1) = left(v.alternate, 1) THEN 1 ELSE 0 END AS shared
    ) anchor
    WHERE v.contig = $6 AND v.start >= $7 AND v.start <= $8
        AND ((v.alternate NOT LIKE '<%' AND v.start + anchor.shared = $8
              AND ((v.\"end\" = $9 AND substr(v.alternate, anchor.shared + 1) = $10)
                   OR (length(v.reference) > anchor.shared AND length(v.alternate) > anchor.shared
                       AND right(v.reference, 1) = right(v.alternate, 1)
                       AND v.\"end\" - 1 = $9
                       AND substr(v.alternate, anchor.shared + 1, length(v.alternate) - anchor.shared - 1) = $10)))
             OR (v.alternate = '<DEL>' AND v.start = $8 AND v.\"end\" = $9 AND $10 = ''))";

/// $6 contig, $7 lowest and $8 highest stored start, $9 start and $10 end of the copied
/// interval. An insertion after its anchor base at `s` inserts at s + 1; one placed right after
/// the interval copies its last base, which is then the anchor.
const DUPLICATION: &str = "WHERE v.contig = $6 AND v.start >= $7 AND v.start <= $8
        AND ((v.alternate = '<DUP>' AND v.start = $9 AND v.\"end\" = $10)
             OR (v.alternate NOT LIKE '<%' AND length(v.reference) = 1
                 AND left(v.alternate, 1) = v.reference
                 AND length(v.alternate) - 1 = $10 - $9
                 AND (v.start + 1 = $9 OR (v.start + 1 = $10 AND right(v.alternate, 1) = v.reference))))";

const GENE: &str = "WHERE v.id IN (SELECT a.variant_id FROM variant_annotations a
                   WHERE upper(a.gene) = upper($6) AND ($7::text IS NULL OR a.protein_change = $7))";

impl<'a> Matcher<'a> {
    /// A search that takes no type or length refinement (it names one allele).
    fn unrefined(selection: Selection<'a>) -> Self {
        Self {
            selection,
            variant_types: None,
            min_length: None,
            max_length: None,
        }
    }

    fn refined(
        selection: Selection<'a>,
        variant_types: &'a Option<Vec<String>>,
        min_length: Option<u64>,
        max_length: Option<u64>,
    ) -> Self {
        Self {
            selection,
            variant_types: variant_types.as_deref(),
            min_length: min_length.map(to_i64),
            max_length: max_length.map(to_i64),
        }
    }

    /// FROM/WHERE clause of the search.
    fn clause(&self) -> String {
        let selection = match self.selection {
            Selection::Window { .. } => WINDOW,
            Selection::Edit { .. } => EDIT,
            Selection::Duplication { .. } => DUPLICATION,
            Selection::Gene { .. } => GENE,
        };
        format!(
            "{COUNTED} {selection}
        AND ($3::text[] IS NULL OR v.variant_type = ANY($3))
        AND ($4::bigint IS NULL OR {LENGTH} >= $4)
        AND ($5::bigint IS NULL OR {LENGTH} <= $5)"
        )
    }

    /// Genomic order: one contig for a positional search, any for a gene.
    fn order(&self) -> &'static str {
        match self.selection {
            Selection::Gene { .. } => "v.contig, v.start, v.reference, v.alternate",
            _ => "v.start, v.reference, v.alternate",
        }
    }

    /// The first free parameter number after the clause's own.
    fn next_parameter(&self) -> usize {
        match self.selection {
            Selection::Window { .. } => 13,
            Selection::Edit { .. } | Selection::Duplication { .. } => 11,
            Selection::Gene { .. } => 8,
        }
    }

    fn bind(&self, query: PgQuery<'a>, dataset_id: &'a str, scope: &'a str) -> PgQuery<'a> {
        let query = query
            .bind(dataset_id)
            .bind(scope)
            .bind(self.variant_types)
            .bind(self.min_length)
            .bind(self.max_length);
        match self.selection {
            Selection::Window {
                contig,
                start_from,
                start_before,
                end_min,
                end_max,
                reference,
                alternate,
            } => query
                .bind(contig)
                .bind(start_from)
                .bind(start_before)
                .bind(end_min)
                .bind(end_max)
                .bind(reference)
                .bind(alternate),
            Selection::Edit {
                contig,
                start,
                end,
                inserted,
            } => query
                .bind(contig)
                .bind(start.saturating_sub(1).max(0))
                .bind(start)
                .bind(end)
                .bind(inserted),
            Selection::Duplication { contig, start, end } => query
                .bind(contig)
                .bind(start.saturating_sub(1).max(0))
                .bind(end.saturating_sub(1).max(start))
                .bind(start)
                .bind(end),
            Selection::Gene { gene, protein_change } => query.bind(gene).bind(protein_change),
        }
    }
}

impl Store {
    /// The longest reference span stored on a contig: how far before a position an allele
    /// covering it may start.
    async fn longest_span(&self, contig: &str) -> Result<i64, StoreError> {
        let query = sqlx::query("SELECT max_length FROM contig_spans WHERE contig = $1").bind(contig);
        let row = self
            .read(async |connection| Ok(query.fetch_optional(connection).await?))
            .await?;
        let longest: Option<i64> = row.map(|row| row.try_get("max_length")).transpose()?;
        Ok(longest.unwrap_or(0))
    }

    async fn matcher<'a>(&self, search: &'a VariantSearch) -> Result<Matcher<'a>, StoreError> {
        Ok(match search {
            VariantSearch::Sequence {
                contig,
                start,
                reference,
                alternate,
            } => Matcher::unrefined(Selection::Window {
                contig,
                start_from: to_i64(*start),
                start_before: to_i64(*start).saturating_add(1),
                end_min: i64::MIN,
                end_max: i64::MAX,
                reference: reference.as_deref(),
                alternate: Some(alternate),
            }),
            VariantSearch::Range {
                contig,
                start,
                end,
                variant_types,
                reference,
                alternate,
                min_length,
                max_length,
            } => {
                // An allele starting up to the contig's longest span before `start` may overlap.
                let longest = self.longest_span(contig).await?;
                let selection = Selection::Window {
                    contig,
                    start_from: to_i64(*start).saturating_sub(longest).max(0),
                    start_before: to_i64(*end),
                    end_min: to_i64(*start).saturating_add(1),
                    end_max: i64::MAX,
                    reference: reference.as_deref(),
                    alternate: alternate.as_deref(),
                };
                Matcher::refined(selection, variant_types, *min_length, *max_length)
            }
            VariantSearch::Bracket {
                contig,
                start_min,
                start_max,
                end_min,
                end_max,
                variant_types,
                min_length,
                max_length,
            } => {
                // The start bracket bounds the index scan; an allele ending at `end_min` or
                // later starts at most the longest span before it, which may narrow it.
                let longest = self.longest_span(contig).await?;
                let selection = Selection::Window {
                    contig,
                    start_from: to_i64(*start_min).max(to_i64(*end_min).saturating_sub(longest)),
                    start_before: to_i64(*start_max).min(to_i64(*end_max)).saturating_add(1),
                    end_min: to_i64(*end_min),
                    end_max: to_i64(*end_max),
                    reference: None,
                    alternate: None,
                };
                Matcher::refined(selection, variant_types, *min_length, *max_length)
            }
            VariantSearch::Edit {
                contig,
                start,
                end,
                inserted,
            } => Matcher::unrefined(Selection::Edit {
                contig,
                start: to_i64(*start),
                end: to_i64(*end),
                inserted,
            }),
            VariantSearch::Duplication { contig, start, end } => Matcher::unrefined(Selection::Duplication {
                contig,
                start: to_i64(*start),
                end: to_i64(*end),
            }),
            VariantSearch::Gene {
                gene,
                protein_change,
                variant_types,
                min_length,
                max_length,
            } => Matcher::refined(
                Selection::Gene {
                    gene,
                    protein_change: protein_change.as_deref(),
                },
                variant_types,
                *min_length,
                *max_length,
            ),
        })
    }

    /// How many distinct alleles of the dataset match (AC > 0 in `scope`'s `Total`).
    pub async fn count_variants(
        &self,
        dataset_id: &str,
        scope: &str,
        search: &VariantSearch,
    ) -> Result<VariantCount, StoreError> {
        if let VariantSearch::Range {
            contig,
            start,
            end,
            variant_types: None,
            reference: None,
            alternate: None,
            min_length: None,
            max_length: None,
        } = search
            && let Some(count) = self
                .count_range_by_bins(dataset_id, scope, contig, to_i64(*start), to_i64(*end))
                .await?
        {
            return Ok(count);
        }
        let matcher = self.matcher(search).await?;
        let sql = format!("SELECT count(*) AS matches, {GENERATION} {}", matcher.clause());
        let query = matcher.bind(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, scope);
        let row = self
            .read(async |connection| Ok(query.fetch_one(connection).await?))
            .await?;
        counted(&row)
    }

    /// An unrefined range count read from the bins wholly inside the window (`variant_bins`,
    /// docs/decisions/0049), plus the alleles at its edges counted one by one: those starting
    /// before the first whole bin (back to the contig's longest span before `start`, as the
    /// overlap rule reads them) and after the last. `None` when no bin lies wholly inside.
    ///
    /// Every allele starting in a whole bin starts after `start`, so it overlaps the window
    /// whatever its end: the bins need only say how many alleles each scope counts there.
    async fn count_range_by_bins(
        &self,
        dataset_id: &str,
        scope: &str,
        contig: &str,
        start: i64,
        end: i64,
    ) -> Result<Option<VariantCount>, StoreError> {
        let first_bin = start.saturating_add(BIN_WIDTH) / BIN_WIDTH;
        let end_bin = end / BIN_WIDTH;
        if first_bin >= end_bin {
            return Ok(None);
        }
        let longest = self.longest_span(contig).await?;
        let query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT (SELECT count(*) {COUNTED} WHERE v.contig = $3 AND v.start >= $4 AND v.start < $5 AND v.\"end\" >= $8)
                  + (SELECT count(*) {COUNTED} WHERE v.contig = $3 AND v.start >= $6 AND v.start < $7 AND v.\"end\" >= $8)
                  + (SELECT coalesce(sum(CASE WHEN $2 = 'research' THEN b.research_alleles ELSE b.alleles END), 0)
                     FROM variant_bins b
                     WHERE b.dataset_id = $1 AND b.contig = $3 AND b.bin >= $9 AND b.bin < $10)::bigint
                  AS matches, {GENERATION}"
        )))
        .bind(dataset_id)
        .bind(scope)
        .bind(contig)
        .bind(start.saturating_sub(longest).max(0))
        .bind(first_bin * BIN_WIDTH)
        .bind(end_bin * BIN_WIDTH)
        .bind(end)
        .bind(start.saturating_add(1))
        .bind(first_bin)
        .bind(end_bin);
        let row = self
            .read(async |connection| Ok(query.fetch_one(connection).await?))
            .await?;
        Ok(Some(counted(&row)?))
    }

    /// One page of matching alleles, in genomic order, with their counts per stratum, and with
    /// `shown` the page's carriers among the columns it selects (as [`Store::carriers`]), from
    /// the same read of the carrier rows: a clinician's record page reads them once for its
    /// counts and its `caseLevelData`.
    pub async fn find_variants(
        &self,
        dataset_id: &str,
        scope: &str,
        search: &VariantSearch,
        skip: i64,
        limit: i64,
        shown: Option<&ColumnQuery>,
    ) -> Result<(Vec<VariantMatch>, HashMap<i64, Vec<Carrier>>), StoreError> {
        let matcher = self.matcher(search).await?;
        let page = matcher.next_parameter();
        let sql = format!(
            "SELECT v.id, v.contig, v.start, v.\"end\", v.reference, v.alternate, v.variant_type {}
             ORDER BY {} LIMIT ${page} OFFSET ${}",
            matcher.clause(),
            matcher.order(),
            page + 1
        );
        let query = matcher
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, scope)
            .bind(limit)
            .bind(skip);
        let rows = self
            .read(async |connection| Ok(query.fetch_all(connection).await?))
            .await?;
        let matches = rows.iter().map(variant_from_row).collect::<Result<Vec<_>, _>>()?;
        self.with_counts_annotations_and_carriers(dataset_id, scope, matches, shown)
            .await
    }

    /// The ids of the first `limit` matching alleles, in genomic order, without their counts:
    /// what a filtered query narrows further before it reads any carrier set.
    pub async fn find_variant_ids(
        &self,
        dataset_id: &str,
        scope: &str,
        search: &VariantSearch,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let matcher = self.matcher(search).await?;
        let page = matcher.next_parameter();
        let sql = format!(
            "SELECT v.id {} ORDER BY {} LIMIT ${page}",
            matcher.clause(),
            matcher.order()
        );
        let rows = matcher
            .bind(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, scope)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// Fills in the per-population counts (in `scope`) and the annotations of listed variants.
    pub(crate) async fn with_counts_and_annotations(
        &self,
        dataset_id: &str,
        scope: &str,
        matches: Vec<VariantMatch>,
    ) -> Result<Vec<VariantMatch>, StoreError> {
        let (matches, _) = self
            .with_counts_annotations_and_carriers(dataset_id, scope, matches, None)
            .await?;
        Ok(matches)
    }

    /// [`Store::with_counts_and_annotations`], and the carriers `shown` selects.
    async fn with_counts_annotations_and_carriers(
        &self,
        dataset_id: &str,
        scope: &str,
        mut matches: Vec<VariantMatch>,
        shown: Option<&ColumnQuery>,
    ) -> Result<(Vec<VariantMatch>, HashMap<i64, Vec<Carrier>>), StoreError> {
        let ids: Vec<i64> = matches.iter().map(|found| found.variant_id).collect();
        // Independent reads on separate connections: the answer waits for the longest, not
        // the sum.
        let annotations_query = sqlx::query(
            "SELECT variant_id, gene, protein_change, effect FROM variant_annotations
             WHERE variant_id = ANY($1) ORDER BY variant_id, gene, protein_change, effect",
        )
        .bind(&ids);
        let annotations = self.read(async |connection| Ok(annotations_query.fetch_all(connection).await?));
        let counts_and_carriers = async {
            let carriers = self
                .read(async |connection| carrier_rows(connection, dataset_id, &ids).await)
                .await?;
            let shown_carriers = async {
                match shown {
                    Some(columns) => self.carriers_in(dataset_id, &carriers.rows, columns).await,
                    None => Ok(HashMap::new()),
                }
            };
            futures::try_join!(self.tallies(scope, &carriers), shown_carriers)
        };
        let ((tallies, carriers), stated, annotations) = futures::try_join!(
            counts_and_carriers,
            self.stated_counts(dataset_id, &ids),
            annotations
        )?;
        let mut populations = populations_in_order(tallies, stated);
        for found in &mut matches {
            found.strata = populations.remove(&found.variant_id).unwrap_or_default();
        }
        for row in &annotations {
            let variant_id: i64 = row.try_get("variant_id")?;
            let Some(found) = matches.iter_mut().find(|found| found.variant_id == variant_id) else {
                continue;
            };
            for (column, list) in [
                ("gene", &mut found.genes),
                ("protein_change", &mut found.protein_changes),
                ("effect", &mut found.effects),
            ] {
                let value: String = row.try_get(column)?;
                if !value.is_empty() && !list.contains(&value) {
                    list.push(value);
                }
            }
        }
        Ok((matches, carriers))
    }
}

/// The catalog generation as a column of a count's statement.
const GENERATION: &str = "(SELECT generation FROM catalog_generation) AS catalog_generation";

fn counted(row: &sqlx::postgres::PgRow) -> Result<VariantCount, StoreError> {
    Ok(VariantCount {
        matches: row.try_get("matches")?,
        catalog_generation: row.try_get("catalog_generation")?,
    })
}

/// A variant row (id, contig, start, end, reference, alternate, variant_type), without counts or
/// annotations yet.
pub(crate) fn variant_from_row(row: &sqlx::postgres::PgRow) -> Result<VariantMatch, StoreError> {
    Ok(VariantMatch {
        variant_id: row.try_get("id")?,
        contig: row.try_get("contig")?,
        start: row.try_get("start")?,
        end: row.try_get("end")?,
        reference: row.try_get("reference")?,
        alternate: row.try_get("alternate")?,
        variant_type: row.try_get("variant_type")?,
        strata: Vec::new(),
        genes: Vec::new(),
        protein_changes: Vec::new(),
        effects: Vec::new(),
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// The dataset's most frequent allele (by AC in `scope`), e.g. for the demo's examples.
    pub async fn most_common_variant(
        &self,
        dataset_id: &str,
        scope: &str,
    ) -> Result<Option<VariantMatch>, StoreError> {
        let row = sqlx::query(
            "SELECT v.id, v.contig, v.start, v.\"end\", v.reference, v.alternate, v.variant_type
             FROM variant_counts c JOIN variants v ON v.id = c.variant_id
             WHERE c.dataset_id = $1 AND $2 IN ('all', 'research')
             ORDER BY CASE WHEN $2 = 'research' THEN c.research_allele_count ELSE c.allele_count END DESC, v.id
             LIMIT 1",
        )
        .bind(dataset_id)
        .bind(scope)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(variant_from_row).transpose()
    }
}

/// Counts per allele and population label.
type Tallies = HashMap<i64, BTreeMap<String, StratumCounts>>;

impl Store {
    /// Per-population counts of some alleles in a dataset, computed from the carrier sets: each
    /// label's sample set intersected with the allele's zygosity sets, summed over analyses.
    /// Computing them here rather than storing them keeps them right when consent changes.
    pub async fn population_counts(
        &self,
        dataset_id: &str,
        scope: &str,
        variant_ids: &[i64],
    ) -> Result<HashMap<i64, Vec<StratumCounts>>, StoreError> {
        let carriers = carrier_rows(self.pool(), dataset_id, variant_ids).await?;
        let (tallies, stated) = futures::try_join!(
            self.tallies(scope, &carriers),
            self.stated_counts(dataset_id, variant_ids)
        )?;
        Ok(populations_in_order(tallies, stated))
    }

    /// The counts of each population label in `scope` among the carrier rows' columns.
    async fn tallies(&self, scope: &str, carriers: &CarrierRows) -> Result<Tallies, StoreError> {
        let Some(generation) = carriers.cohort_generation else {
            return Ok(Tallies::new());
        };
        let mut wanted = Wanted::default();
        for row in &carriers.rows {
            match (row.source, &row.presence) {
                (Source::Analysis(analysis_id), _) => {
                    wanted.analyses.insert(analysis_id);
                }
                (Source::Block(block_id), Presence::Columns(present)) => {
                    wanted
                        .block_columns
                        .extend(present.iter().map(|column| (block_id, column)));
                }
                (Source::Block(_), Presence::AllColumns) => {}
            }
        }
        let labels = self.labels.labels(self.pool(), generation, &wanted).await?;
        let mut tallies = Tallies::new();
        for row in &carriers.rows {
            let Some(label_sets) = labels.get(&row.source).map(|labels| labels.in_scope(scope)) else {
                continue;
            };
            let per_label = tallies.entry(row.variant_id).or_default();
            for (label, samples) in label_sets {
                let allele_number = row.allele_number_of(samples);
                let homozygous = row.homozygous.intersection_len(samples) as i64;
                let heterozygous = row.heterozygous.intersection_len(samples) as i64;
                let hemizygous = row.hemizygous.intersection_len(samples) as i64;
                let counts = per_label.entry(label.clone()).or_insert_with(|| StratumCounts {
                    stratum: label.clone(),
                    allele_count: 0,
                    allele_number: 0,
                    homozygous: Some(0),
                    heterozygous: Some(0),
                    hemizygous: Some(0),
                });
                counts.allele_count += 2 * homozygous + heterozygous + hemizygous;
                counts.allele_number += allele_number as i64;
                counts.homozygous = counts.homozygous.map(|sum| sum + homozygous);
                counts.heterozygous = counts.heterozygous.map(|sum| sum + heterozygous);
                counts.hemizygous = counts.hemizygous.map(|sum| sum + hemizygous);
            }
        }
        Ok(tallies)
    }

    /// The counts aggregate files state for their populations, per allele: read beside the
    /// carrier rows, since they depend on nothing else.
    async fn stated_counts(
        &self,
        dataset_id: &str,
        variant_ids: &[i64],
    ) -> Result<Vec<(i64, StratumCounts)>, StoreError> {
        let query = sqlx::query(
            "SELECT variant_id, population, allele_count, allele_number, homozygous, heterozygous, hemizygous
             FROM aggregate_counts
             WHERE dataset_id = $1 AND variant_id = ANY($2)
               AND allele_count IS NOT NULL AND allele_number IS NOT NULL",
        )
        .bind(dataset_id)
        .bind(variant_ids);
        let rows = self
            .read(async |connection| Ok(query.fetch_all(connection).await?))
            .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("variant_id")?,
                    StratumCounts {
                        stratum: row.try_get("population")?,
                        allele_count: row.try_get("allele_count")?,
                        allele_number: row.try_get("allele_number")?,
                        homozygous: row.try_get("homozygous")?,
                        heterozygous: row.try_get("heterozygous")?,
                        hemizygous: row.try_get("hemizygous")?,
                    },
                ))
            })
            .collect()
    }
}

/// The populations of each allele: the carrier sets' tallies, and the aggregate files' stated
/// counts in place of a tally of the same name; `Total` first, then the other labels in name
/// order, none with AN 0.
fn populations_in_order(
    mut tallies: Tallies,
    stated: Vec<(i64, StratumCounts)>,
) -> HashMap<i64, Vec<StratumCounts>> {
    for (variant_id, counts) in stated {
        tallies
            .entry(variant_id)
            .or_default()
            .insert(counts.stratum.clone(), counts);
    }
    tallies
        .into_iter()
        .map(|(variant_id, per_label)| {
            let mut ordered: Vec<StratumCounts> = per_label
                .into_values()
                .filter(|counts| counts.allele_number > 0)
                .collect();
            ordered.sort_by_key(|counts| counts.stratum != "Total");
            (variant_id, ordered)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(stratum: &str, allele_count: i64, allele_number: i64) -> StratumCounts {
        StratumCounts {
            stratum: stratum.to_owned(),
            allele_count,
            allele_number,
            homozygous: None,
            heterozygous: None,
            hemizygous: None,
        }
    }

    #[test]
    fn stated_counts_replace_the_tally_of_their_name_and_total_comes_first() {
        let mut tallies = Tallies::new();
        tallies.entry(7).or_default().extend([
            ("FR".to_owned(), counts("FR", 1, 40)),
            ("Total".to_owned(), counts("Total", 3, 100)),
            ("BE".to_owned(), counts("BE", 0, 0)),
        ]);
        let stated = vec![(7, counts("FR", 9, 900)), (8, counts("gnomAD", 2, 50))];
        let ordered = populations_in_order(tallies, stated);
        // Allele 7: Total first, then FR as the file stated it; BE (AN 0) left out.
        assert_eq!(ordered[&7], vec![counts("Total", 3, 100), counts("FR", 9, 900)]);
        // Allele 8 has no carrier rows, only what the file states.
        assert_eq!(ordered[&8], vec![counts("gnomAD", 2, 50)]);
        assert_eq!(ordered.len(), 2);
    }
}
