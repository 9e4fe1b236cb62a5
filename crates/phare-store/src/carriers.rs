//! Cross look-ups between variants and samples, read from the carrier sets: who carries an
//! allele (`/g_variants/{id}/individuals`, `caseLevelData`), and which alleles a sample column
//! carries (`/biosamples/{id}/g_variants`, …). Only columns a manifest linked to a biosample
//! and no later analysis superseded take part.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use roaring::RoaringBitmap;
use sqlx::Row;

use crate::carrier_sets::{
    CarrierRow, Source, block_columns, carrier_rows, locate_all, source_page, source_rows,
};
use crate::samples::{ColumnQuery, ColumnRecord};
use crate::variants::variant_from_row;
use crate::{Store, StoreError, VariantMatch};

/// Carrier rows read per page when scanning an analysis.
const PAGE: i64 = 20_000;

/// How a sample carries an allele.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zygosity {
    Heterozygous,
    Homozygous,
    Hemizygous,
}

/// One sample column with a non-reference call of an allele.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Carrier {
    pub column: ColumnRecord,
    pub zygosity: Zygosity,
}

/// An allele as its `variantInternalId` names it, in stored coordinates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VariantKey {
    /// A sequence allele: 0-based start and the stored (normalised, anchored) bases.
    Sequence {
        contig: String,
        start: u64,
        reference: String,
        alternate: String,
    },
    /// A symbolic structural allele: its span and stored type (`DEL`, `DUP`, …).
    Structural {
        contig: String,
        start: u64,
        end: u64,
        variant_type: String,
    },
}

/// The alleles of the dataset counted in the scope ($1 dataset, $2 scope).
const COUNTED: &str = "FROM variants v
    JOIN variant_counts c ON c.variant_id = v.id AND c.dataset_id = $1
        AND (CASE WHEN $2 = 'research' THEN c.research_allele_count ELSE c.allele_count END) > 0";

/// Every listing of alleles is in this order (contig as text, as gene queries order).
const ORDER: &str = "ORDER BY v.contig, v.start, v.reference, v.alternate, v.\"end\"";

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// The stored allele a key names, if any (in any dataset).
    pub async fn variant_id(&self, key: &VariantKey) -> Result<Option<i64>, StoreError> {
        let row = match key {
            VariantKey::Sequence {
                contig,
                start,
                reference,
                alternate,
            } => {
                sqlx::query(
                    "SELECT id FROM variants
                     WHERE contig = $1 AND start = $2 AND reference = $3 AND alternate = $4
                       AND alternate NOT LIKE '<%'",
                )
                .bind(contig)
                .bind(to_i64(*start))
                .bind(reference)
                .bind(alternate)
                .fetch_optional(self.pool())
                .await?
            }
            VariantKey::Structural {
                contig,
                start,
                end,
                variant_type,
            } => {
                sqlx::query(
                    "SELECT id FROM variants
                     WHERE contig = $1 AND start = $2 AND \"end\" = $3 AND alternate LIKE '<%'
                       AND variant_type = $4
                     ORDER BY id LIMIT 1",
                )
                .bind(contig)
                .bind(to_i64(*start))
                .bind(to_i64(*end))
                .bind(variant_type)
                .fetch_optional(self.pool())
                .await?
            }
        };
        Ok(row.map(|row| row.try_get("id")).transpose()?)
    }

    /// The columns carrying each allele (non-reference call) in a dataset, among the columns
    /// `columns` selects (its `columns` and `biosample_ids` restrictions are ignored).
    pub async fn carriers(
        &self,
        dataset_id: &str,
        variant_ids: &[i64],
        columns: &ColumnQuery,
    ) -> Result<HashMap<i64, Vec<Carrier>>, StoreError> {
        let carriers = carrier_rows(self.pool(), dataset_id, variant_ids).await?;
        self.carriers_in(dataset_id, &carriers.rows, columns).await
    }

    /// [`Store::carriers`] from carrier rows already read.
    pub(crate) async fn carriers_in(
        &self,
        dataset_id: &str,
        rows: &[CarrierRow],
        columns: &ColumnQuery,
    ) -> Result<HashMap<i64, Vec<Carrier>>, StoreError> {
        let mut wanted_in_blocks: BTreeSet<(i64, u32)> = BTreeSet::new();
        for row in rows {
            if let Source::Block(block_id) = row.source {
                for set in [&row.heterozygous, &row.homozygous, &row.hemizygous] {
                    wanted_in_blocks.extend(set.iter().map(|column| (block_id, column)));
                }
            }
        }
        let in_blocks = if wanted_in_blocks.is_empty() {
            HashMap::new()
        } else {
            self.read(async |connection| block_columns(connection, &wanted_in_blocks).await)
                .await?
        };
        // Each carrier as (variant, analysis, sample index, zygosity), whatever the layout.
        let mut carried: Vec<(i64, (i64, i32), Zygosity)> = Vec::new();
        let mut wanted: BTreeSet<(i64, i32)> = BTreeSet::new();
        for row in rows {
            for (set, zygosity) in [
                (&row.heterozygous, Zygosity::Heterozygous),
                (&row.homozygous, Zygosity::Homozygous),
                (&row.hemizygous, Zygosity::Hemizygous),
            ] {
                for column in set {
                    let key = match row.source {
                        Source::Analysis(analysis_id) => {
                            Some((analysis_id, i32::try_from(column).unwrap_or(i32::MAX)))
                        }
                        Source::Block(block_id) => in_blocks.get(&(block_id, column)).copied(),
                    };
                    if let Some(key) = key {
                        wanted.insert(key);
                        carried.push((row.variant_id, key, zygosity));
                    }
                }
            }
        }
        let mut by_column: HashMap<(i64, i32), ColumnRecord> = HashMap::new();
        if !wanted.is_empty() {
            let query = ColumnQuery {
                columns: Some(wanted.into_iter().collect()),
                biosample_ids: None,
                ..columns.clone()
            };
            for column in self.find_columns(dataset_id, &query, 0, None).await? {
                by_column.insert((column.analysis_id, column.sample_index), column);
            }
        }
        let mut found: HashMap<i64, Vec<Carrier>> = HashMap::new();
        for row in rows {
            found.entry(row.variant_id).or_default();
        }
        for (variant_id, key, zygosity) in carried {
            let list = found.entry(variant_id).or_default();
            if let Some(column) = by_column.get(&key) {
                list.push(Carrier {
                    column: column.clone(),
                    zygosity,
                });
            }
        }
        for list in found.values_mut() {
            list.sort_by_key(|carrier| (carrier.column.analysis_id, carrier.column.sample_index));
        }
        Ok(found)
    }

    /// The alleles that some columns carry (non-reference call) and that count in `scope`, in
    /// listing order. Without `within`, each analysis concerned is read in pages: the cost
    /// follows its alleles. With `within` (the candidates of a genomic search, counted in
    /// `scope`), only the rows of those alleles in those analyses are read, and the carried
    /// candidates come back in the candidates' order.
    pub async fn column_variant_ids(
        &self,
        dataset_id: &str,
        scope: &str,
        columns: &[(i64, i32)],
        within: Option<&[i64]>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut by_analysis: BTreeMap<i64, RoaringBitmap> = BTreeMap::new();
        for (analysis_id, sample_index) in columns {
            if let Ok(index) = u32::try_from(*sample_index) {
                by_analysis.entry(*analysis_id).or_default().insert(index);
            }
        }
        // One snapshot for the whole scan: a compaction committing between two pages would
        // otherwise move the rest of an analysis' rows out of sight.
        let mut transaction = self.pool().begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *transaction)
            .await?;
        let analysis_ids: Vec<i64> = by_analysis.keys().copied().collect();
        let located = locate_all(&mut transaction, &analysis_ids).await?;
        let mut by_source: BTreeMap<Source, RoaringBitmap> = BTreeMap::new();
        for (analysis_id, samples) in &by_analysis {
            let (source, base) = located
                .get(analysis_id)
                .copied()
                .unwrap_or((Source::Analysis(*analysis_id), 0));
            by_source
                .entry(source)
                .or_default()
                .extend(samples.iter().map(|sample| sample + base));
        }
        let carries = |row: &CarrierRow| {
            by_source
                .get(&row.source)
                .is_some_and(|samples| row.carried_by_any(samples))
        };
        let mut carried: BTreeSet<i64> = BTreeSet::new();
        match within {
            Some(candidates) => {
                let sources: Vec<Source> = by_source.keys().copied().collect();
                for chunk in candidates.chunks(PAGE as usize) {
                    let rows = source_rows(&mut transaction, &sources, chunk).await?;
                    carried.extend(rows.iter().filter(|row| carries(row)).map(|row| row.variant_id));
                }
            }
            None => {
                for source in by_source.keys() {
                    let mut after = i64::MIN;
                    loop {
                        let rows = source_page(&mut transaction, *source, after, PAGE).await?;
                        let Some(last) = rows.last() else {
                            break;
                        };
                        after = last.variant_id;
                        carried.extend(rows.iter().filter(|row| carries(row)).map(|row| row.variant_id));
                    }
                }
            }
        }
        transaction.commit().await?;
        if let Some(candidates) = within {
            // The candidates already count in `scope` and come in their search's order.
            return Ok(candidates
                .iter()
                .copied()
                .filter(|id| carried.contains(id))
                .collect());
        }
        let ids: Vec<i64> = carried.into_iter().collect();
        let sql = format!("SELECT v.id {COUNTED} WHERE v.id = ANY($3) {ORDER}");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(dataset_id)
            .bind(scope)
            .bind(&ids)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// How many alleles count in `scope` in the dataset.
    pub async fn count_dataset_variants(&self, dataset_id: &str, scope: &str) -> Result<i64, StoreError> {
        let sql = format!("SELECT count(*) AS n {COUNTED}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(dataset_id)
            .bind(scope)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// One page of the dataset's alleles counted in `scope`, in listing order.
    pub async fn dataset_variant_ids(
        &self,
        dataset_id: &str,
        scope: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let sql = format!("SELECT v.id {COUNTED} {ORDER} OFFSET $3 LIMIT $4");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(dataset_id)
            .bind(scope)
            .bind(offset)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|row| Ok(row.try_get("id")?)).collect()
    }

    /// These alleles, those counted in `scope` in the dataset only, in listing order, with
    /// their per-population counts and annotations.
    pub async fn variants_by_ids(
        &self,
        dataset_id: &str,
        scope: &str,
        variant_ids: &[i64],
    ) -> Result<Vec<VariantMatch>, StoreError> {
        let sql = format!(
            "SELECT v.id, v.contig, v.start, v.\"end\", v.reference, v.alternate, v.variant_type
             {COUNTED} WHERE v.id = ANY($3) {ORDER}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(dataset_id)
            .bind(scope)
            .bind(variant_ids)
            .fetch_all(self.pool())
            .await?;
        let matches = rows.iter().map(variant_from_row).collect::<Result<Vec<_>, _>>()?;
        self.with_counts_and_annotations(dataset_id, scope, matches).await
    }
}

impl Store {
    /// Whether an allele counts in `scope` in the dataset (AC > 0 there).
    pub async fn variant_counted(
        &self,
        dataset_id: &str,
        scope: &str,
        variant_id: i64,
    ) -> Result<bool, StoreError> {
        let sql = format!("SELECT count(*) AS n {COUNTED} WHERE v.id = $3");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(dataset_id)
            .bind(scope)
            .bind(variant_id)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}
