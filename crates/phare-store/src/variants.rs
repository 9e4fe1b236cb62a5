//! Variant look-ups for Beacon `g_variants`: sequence and range queries within one dataset.

use sqlx::Row;

use crate::{Store, StoreError};

/// What a genomic query asks for, in canonical form: contig names as stored (`1`, `X`),
/// 0-based half-open coordinates, normalised alleles.
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
        variant_type: Option<String>,
        reference: Option<String>,
        alternate: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StratumCounts {
    pub stratum: String,
    pub allele_count: i64,
    pub allele_number: i64,
    pub homozygous: i64,
    pub heterozygous: i64,
    pub hemizygous: i64,
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
}

/// Bind values of the one matching query both sequence and range searches use.
struct Window<'a> {
    contig: &'a str,
    start_from: i64,
    start_before: i64,
    end_after: i64,
    reference: Option<&'a str>,
    alternate: Option<&'a str>,
    variant_type: Option<&'a str>,
}

const MATCHING: &str = "FROM variants v
    JOIN variant_counts c ON c.variant_id = v.id AND c.dataset_id = $1 AND c.scope = $2
        AND c.stratum = 'Total' AND c.allele_count > 0
    WHERE v.contig = $3 AND v.start >= $4 AND v.start < $5 AND v.\"end\" > $6
        AND ($7::text IS NULL OR v.reference = $7)
        AND ($8::text IS NULL OR v.alternate = $8)
        AND ($9::text IS NULL OR v.variant_type = $9)";

impl Store {
    async fn window<'a>(&self, search: &'a VariantSearch) -> Result<Window<'a>, StoreError> {
        Ok(match search {
            VariantSearch::Sequence {
                contig,
                start,
                reference,
                alternate,
            } => Window {
                contig,
                start_from: to_i64(*start),
                start_before: to_i64(*start).saturating_add(1),
                end_after: i64::MIN,
                reference: reference.as_deref(),
                alternate: Some(alternate),
                variant_type: None,
            },
            VariantSearch::Range {
                contig,
                start,
                end,
                variant_type,
                reference,
                alternate,
            } => {
                // An allele starting up to the contig's longest span before `start` may overlap.
                let longest: Option<i64> =
                    sqlx::query("SELECT max_length FROM contig_spans WHERE contig = $1")
                        .bind(contig)
                        .fetch_optional(self.pool())
                        .await?
                        .map(|row| row.try_get("max_length"))
                        .transpose()?;
                Window {
                    contig,
                    start_from: to_i64(*start).saturating_sub(longest.unwrap_or(0)).max(0),
                    start_before: to_i64(*end),
                    end_after: to_i64(*start),
                    reference: reference.as_deref(),
                    alternate: alternate.as_deref(),
                    variant_type: variant_type.as_deref(),
                }
            }
        })
    }

    /// How many distinct alleles of the dataset match (AC > 0 in `scope`'s `Total`).
    pub async fn count_variants(
        &self,
        dataset_id: &str,
        scope: &str,
        search: &VariantSearch,
    ) -> Result<i64, StoreError> {
        let window = self.window(search).await?;
        let sql = format!("SELECT count(*) AS matches {MATCHING}");
        let row = bind_window(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, scope, &window)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("matches")?)
    }

    /// One page of matching alleles, in genomic order, with their counts per stratum.
    pub async fn find_variants(
        &self,
        dataset_id: &str,
        scope: &str,
        search: &VariantSearch,
        skip: i64,
        limit: i64,
    ) -> Result<Vec<VariantMatch>, StoreError> {
        let window = self.window(search).await?;
        let sql = format!(
            "SELECT v.id, v.contig, v.start, v.\"end\", v.reference, v.alternate, v.variant_type {MATCHING}
             ORDER BY v.start, v.reference, v.alternate LIMIT $10 OFFSET $11"
        );
        let rows = bind_window(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, scope, &window)
            .bind(limit)
            .bind(skip)
            .fetch_all(self.pool())
            .await?;
        let mut matches = Vec::with_capacity(rows.len());
        for row in &rows {
            matches.push(VariantMatch {
                variant_id: row.try_get("id")?,
                contig: row.try_get("contig")?,
                start: row.try_get("start")?,
                end: row.try_get("end")?,
                reference: row.try_get("reference")?,
                alternate: row.try_get("alternate")?,
                variant_type: row.try_get("variant_type")?,
                strata: Vec::new(),
            });
        }
        let ids: Vec<i64> = matches.iter().map(|found| found.variant_id).collect();
        let strata = sqlx::query(
            "SELECT variant_id, stratum, allele_count, allele_number, homozygous, heterozygous, hemizygous
             FROM variant_counts WHERE dataset_id = $1 AND scope = $2 AND variant_id = ANY($3)
             ORDER BY variant_id, stratum <> 'Total', stratum",
        )
        .bind(dataset_id)
        .bind(scope)
        .bind(&ids)
        .fetch_all(self.pool())
        .await?;
        for row in &strata {
            let variant_id: i64 = row.try_get("variant_id")?;
            let Some(found) = matches.iter_mut().find(|found| found.variant_id == variant_id) else {
                continue;
            };
            found.strata.push(StratumCounts {
                stratum: row.try_get("stratum")?,
                allele_count: row.try_get("allele_count")?,
                allele_number: row.try_get("allele_number")?,
                homozygous: row.try_get("homozygous")?,
                heterozygous: row.try_get("heterozygous")?,
                hemizygous: row.try_get("hemizygous")?,
            });
        }
        Ok(matches)
    }
}

fn bind_window<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    dataset_id: &'q str,
    scope: &'q str,
    window: &Window<'q>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(dataset_id)
        .bind(scope)
        .bind(window.contig)
        .bind(window.start_from)
        .bind(window.start_before)
        .bind(window.end_after)
        .bind(window.reference)
        .bind(window.alternate)
        .bind(window.variant_type)
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
             WHERE c.dataset_id = $1 AND c.scope = $2 AND c.stratum = 'Total'
             ORDER BY c.allele_count DESC, v.id LIMIT 1",
        )
        .bind(dataset_id)
        .bind(scope)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok(VariantMatch {
                variant_id: row.try_get("id")?,
                contig: row.try_get("contig")?,
                start: row.try_get("start")?,
                end: row.try_get("end")?,
                reference: row.try_get("reference")?,
                alternate: row.try_get("alternate")?,
                variant_type: row.try_get("variant_type")?,
                strata: Vec::new(),
            })
        })
        .transpose()
    }
}
