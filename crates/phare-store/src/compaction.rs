//! Compaction (docs/decisions/0055): the carrier sets of small analyses merged into carrier
//! blocks, so that rows grow with distinct alleles × blocks instead of alleles × files.
//!
//! Size-tiered: `batch` pending analyses become a block; `fanout` blocks of one tier become
//! one block of the next, up to `max_columns` columns. Each block is built in one transaction
//! under the dataset's ingest lock; a crash leaves the source rows as they were.

use std::collections::BTreeMap;

use roaring::{RoaringBitmap, RoaringTreemap};
use sqlx::{PgConnection, Row};

use crate::carrier_sets::{CarrierRow, Presence, Source, carrier_row};
use crate::{Store, StoreError};

/// When compaction runs and how large blocks grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactionPolicy {
    /// Pending (uncompacted) analyses that make a first-tier block.
    pub batch: usize,
    /// Blocks of one tier merged into one of the next.
    pub fanout: usize,
    /// Largest block, in sample columns.
    pub max_columns: u32,
}

impl Default for CompactionPolicy {
    fn default() -> Self {
        Self {
            batch: 32,
            fanout: 8,
            max_columns: 65_536,
        }
    }
}

/// What one compaction run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Blocks built from pending analyses.
    pub blocks_built: u64,
    /// Blocks built by merging blocks.
    pub blocks_merged: u64,
    pub analyses_compacted: u64,
    /// Carrier rows read (per-analysis and per-block) and block rows written.
    pub rows_read: u64,
    pub rows_written: u64,
}

/// One source of a block being built, with the block column of its column 0.
#[derive(Clone, Copy, Debug)]
struct Placed {
    source: Source,
    base: u32,
    columns: u32,
}

impl Store {
    /// Compacts the dataset's carrier sets as the policy says is due. Files of more than half a
    /// block of samples are already compact (one row per allele for all their samples) and
    /// stay as they are. With `everything`,
    /// pending analyses are compacted even when fewer than a batch (tests, the end of a bulk
    /// load). Sites-only (aggregate) analyses have no samples and are left as they are.
    pub async fn compact(
        &self,
        dataset_id: &str,
        policy: CompactionPolicy,
        everything: bool,
    ) -> Result<CompactionReport, StoreError> {
        let mut report = CompactionReport::default();
        loop {
            let built = self
                .compact_pending(dataset_id, policy, everything, &mut report)
                .await?;
            let merged = self.merge_tier(dataset_id, policy, &mut report).await?;
            if !built && !merged {
                break;
            }
        }
        // The rows a compaction deleted become reusable, heap and index entries both, so that
        // the next files and merges fill that space instead of growing the tables and their
        // indexes (docs/decisions/0053). VACUUM runs outside any transaction; a table another
        // VACUUM (autovacuum included) holds is skipped, as that one does the same work.
        if report.blocks_built > 0 {
            sqlx::raw_sql("VACUUM (SKIP_LOCKED) analysis_variants")
                .execute(self.pool())
                .await?;
        }
        if report.blocks_merged > 0 {
            sqlx::raw_sql("VACUUM (SKIP_LOCKED) block_variants")
                .execute(self.pool())
                .await?;
        }
        Ok(report)
    }

    /// Builds one block from pending analyses, if due. Returns whether it did.
    async fn compact_pending(
        &self,
        dataset_id: &str,
        policy: CompactionPolicy,
        everything: bool,
        report: &mut CompactionReport,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        lock(&mut transaction, dataset_id).await?;
        let rows = sqlx::query(
            "SELECT id, sample_count FROM analyses
             WHERE dataset_id = $1 AND block_id IS NULL AND NOT aggregate
               AND sample_count > 0 AND sample_count <= $2 / 2
             ORDER BY id",
        )
        .bind(dataset_id)
        .bind(i64::from(policy.max_columns))
        .fetch_all(&mut *transaction)
        .await?;
        if rows.is_empty() || (!everything && rows.len() < policy.batch.max(1)) {
            return Ok(false);
        }
        let mut sources = Vec::new();
        let mut columns = 0u32;
        for row in &rows {
            let count: i32 = row.try_get("sample_count")?;
            let count = u32::try_from(count).unwrap_or(0);
            if columns + count > policy.max_columns || sources.len() >= policy.batch.max(1) {
                break;
            }
            sources.push(Placed {
                source: Source::Analysis(row.try_get("id")?),
                base: columns,
                columns: count,
            });
            columns += count;
        }
        if sources.is_empty() {
            return Ok(false);
        }
        build_block(&mut transaction, dataset_id, &sources, columns, report).await?;
        report.blocks_built += 1;
        report.analyses_compacted += sources.len() as u64;
        transaction.commit().await?;
        Ok(true)
    }

    /// Merges `fanout` blocks of the lowest full tier into one, if any. Returns whether it did.
    async fn merge_tier(
        &self,
        dataset_id: &str,
        policy: CompactionPolicy,
        report: &mut CompactionReport,
    ) -> Result<bool, StoreError> {
        let mut transaction = self.pool().begin().await?;
        lock(&mut transaction, dataset_id).await?;
        let rows = sqlx::query(
            "SELECT id, column_count FROM carrier_blocks
             WHERE dataset_id = $1 AND merged_into IS NULL AND column_count <= $2 / 2
             ORDER BY id",
        )
        .bind(dataset_id)
        .bind(i64::from(policy.max_columns))
        .fetch_all(&mut *transaction)
        .await?;
        let mut tiers: BTreeMap<u32, Vec<(i64, u32)>> = BTreeMap::new();
        for row in &rows {
            let count: i32 = row.try_get("column_count")?;
            let count = u32::try_from(count).unwrap_or(0);
            tiers
                .entry(tier(count, policy))
                .or_default()
                .push((row.try_get("id")?, count));
        }
        let fanout = policy.fanout.max(2);
        let Some(chosen) = tiers.values().find(|blocks| blocks.len() >= fanout) else {
            return Ok(false);
        };
        let mut sources = Vec::new();
        let mut columns = 0u32;
        for (block_id, count) in chosen.iter().take(fanout) {
            if columns + count > policy.max_columns {
                break;
            }
            sources.push(Placed {
                source: Source::Block(*block_id),
                base: columns,
                columns: *count,
            });
            columns += count;
        }
        if sources.len() < 2 {
            return Ok(false);
        }
        build_block(&mut transaction, dataset_id, &sources, columns, report).await?;
        report.blocks_merged += 1;
        transaction.commit().await?;
        Ok(true)
    }
}

/// The tier of a block: 0 below `batch × fanout` columns, then one per factor `fanout`.
fn tier(columns: u32, policy: CompactionPolicy) -> u32 {
    let fanout = u64::try_from(policy.fanout.max(2)).unwrap_or(2);
    let mut bound = u64::try_from(policy.batch.max(1)).unwrap_or(1) * fanout;
    let mut level = 0;
    while u64::from(columns) >= bound {
        bound *= fanout;
        level += 1;
    }
    level
}

/// The ingest lock: compaction, ingestion, supersession and opposition of a dataset take
/// turns, so totals adjustments always find the carrier sets where they look.
async fn lock(connection: &mut PgConnection, dataset_id: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('phare.ingest.' || $1))")
        .bind(dataset_id)
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// Builds one block from `sources` inside the caller's transaction: the block, its column
/// map, its rows (sources read through a cursor in variant order, merged one allele at a
/// time), then the sources retired and their rows deleted.
async fn build_block(
    connection: &mut PgConnection,
    dataset_id: &str,
    sources: &[Placed],
    columns: u32,
    report: &mut CompactionReport,
) -> Result<(), StoreError> {
    let block_id: i64 =
        sqlx::query("INSERT INTO carrier_blocks (dataset_id, column_count) VALUES ($1, $2) RETURNING id")
            .bind(dataset_id)
            .bind(i32::try_from(columns).unwrap_or(i32::MAX))
            .fetch_one(&mut *connection)
            .await?
            .try_get("id")?;
    let (analysis_ids, analysis_bases): (Vec<i64>, Vec<i32>) = sources
        .iter()
        .filter_map(|placed| match placed.source {
            Source::Analysis(id) => Some((id, placed.base as i32)),
            Source::Block(_) => None,
        })
        .unzip();
    let (block_ids, block_bases): (Vec<i64>, Vec<i32>) = sources
        .iter()
        .filter_map(|placed| match placed.source {
            Source::Block(id) => Some((id, placed.base as i32)),
            Source::Analysis(_) => None,
        })
        .unzip();
    sqlx::query(
        "INSERT INTO block_columns (block_id, column_index, analysis_id, sample_index)
         SELECT $1, q.base + s.sample_index, s.analysis_id, s.sample_index
         FROM unnest($2::bigint[], $3::integer[]) AS q(analysis_id, base)
         JOIN analysis_samples s ON s.analysis_id = q.analysis_id
         UNION ALL
         SELECT $1, q.base + c.column_index, c.analysis_id, c.sample_index
         FROM unnest($4::bigint[], $5::integer[]) AS q(block_id, base)
         JOIN block_columns c ON c.block_id = q.block_id",
    )
    .bind(block_id)
    .bind(&analysis_ids)
    .bind(&analysis_bases)
    .bind(&block_ids)
    .bind(&block_bases)
    .execute(&mut *connection)
    .await?;

    sqlx::query(
        "DECLARE compaction_sources NO SCROLL CURSOR FOR
         SELECT variant_id, false AS compacted, analysis_id AS source_id, allele_number,
                homozygous, heterozygous, hemizygous, one_called, none_called, NULL::bytea AS called_other
         FROM analysis_variants WHERE analysis_id = ANY($1)
         UNION ALL
         SELECT variant_id, true, block_id, 0,
                homozygous, heterozygous, hemizygous, one_called, none_called, called_other
         FROM block_variants WHERE block_id = ANY($2)
         ORDER BY variant_id",
    )
    .bind(&analysis_ids)
    .bind(&block_ids)
    .execute(&mut *connection)
    .await?;
    let placement: BTreeMap<Source, Placed> = sources.iter().map(|placed| (placed.source, *placed)).collect();
    let mut merged: Option<Merged> = None;
    let mut out = Output::default();
    // Each compacted file's alleles, for opposition and supersession (migration 0012).
    let mut alleles: BTreeMap<i64, RoaringTreemap> = BTreeMap::new();
    loop {
        // FETCH takes its count as a literal, never as a parameter.
        let rows = sqlx::query("FETCH 20000 FROM compaction_sources")
            .fetch_all(&mut *connection)
            .await?;
        if rows.is_empty() {
            break;
        }
        report.rows_read += rows.len() as u64;
        for row in &rows {
            let row = carrier_row(row)?;
            let Some(placed) = placement.get(&row.source) else {
                continue;
            };
            if let Source::Analysis(analysis_id) = row.source
                && let Ok(variant_id) = u64::try_from(row.variant_id)
            {
                alleles.entry(analysis_id).or_default().insert(variant_id);
            }
            match &mut merged {
                Some(current) if current.variant_id == row.variant_id => current.add(&row, placed),
                _ => {
                    if let Some(done) = merged.take() {
                        out.push(done);
                    }
                    let mut fresh = Merged::new(row.variant_id);
                    fresh.add(&row, placed);
                    merged = Some(fresh);
                }
            }
        }
        report.rows_written += out.flush(connection, block_id).await?;
    }
    if let Some(done) = merged.take() {
        out.push(done);
    }
    report.rows_written += out.flush(connection, block_id).await?;
    sqlx::query("CLOSE compaction_sources")
        .execute(&mut *connection)
        .await?;

    let mut allele_analyses = Vec::with_capacity(alleles.len());
    let mut allele_sets = Vec::with_capacity(alleles.len());
    for (analysis_id, set) in &alleles {
        let mut bytes = Vec::with_capacity(set.serialized_size());
        set.serialize_into(&mut bytes)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        allele_analyses.push(*analysis_id);
        allele_sets.push(bytes);
    }
    sqlx::query(
        "INSERT INTO analysis_alleles (analysis_id, variant_ids)
         SELECT * FROM unnest($1::bigint[], $2::bytea[])",
    )
    .bind(&allele_analyses)
    .bind(&allele_sets)
    .execute(&mut *connection)
    .await?;
    sqlx::query("UPDATE analyses SET block_id = $1 WHERE id = ANY($2) OR block_id = ANY($3)")
        .bind(block_id)
        .bind(&analysis_ids)
        .bind(&block_ids)
        .execute(&mut *connection)
        .await?;
    sqlx::query("DELETE FROM analysis_variants WHERE analysis_id = ANY($1)")
        .bind(&analysis_ids)
        .execute(&mut *connection)
        .await?;
    sqlx::query("DELETE FROM block_variants WHERE block_id = ANY($1)")
        .bind(&block_ids)
        .execute(&mut *connection)
        .await?;
    sqlx::query("UPDATE carrier_blocks SET merged_into = $1 WHERE id = ANY($2)")
        .bind(block_id)
        .bind(&block_ids)
        .execute(&mut *connection)
        .await?;
    tracing::info!(
        dataset = dataset_id,
        block_id,
        sources = sources.len(),
        columns,
        "carrier block built"
    );
    Ok(())
}

/// One allele's sets in the new block's columns.
struct Merged {
    variant_id: i64,
    homozygous: RoaringBitmap,
    heterozygous: RoaringBitmap,
    hemizygous: RoaringBitmap,
    one_called: RoaringBitmap,
    none_called: RoaringBitmap,
    present: RoaringBitmap,
}

fn shifted(set: &RoaringBitmap, base: u32) -> impl Iterator<Item = u32> + '_ {
    set.iter().map(move |column| column + base)
}

impl Merged {
    fn new(variant_id: i64) -> Self {
        Self {
            variant_id,
            homozygous: RoaringBitmap::new(),
            heterozygous: RoaringBitmap::new(),
            hemizygous: RoaringBitmap::new(),
            one_called: RoaringBitmap::new(),
            none_called: RoaringBitmap::new(),
            present: RoaringBitmap::new(),
        }
    }

    fn add(&mut self, row: &CarrierRow, placed: &Placed) {
        let base = placed.base;
        self.homozygous.extend(shifted(&row.homozygous, base));
        self.heterozygous.extend(shifted(&row.heterozygous, base));
        self.hemizygous.extend(shifted(&row.hemizygous, base));
        self.one_called.extend(shifted(&row.one_called, base));
        self.none_called.extend(shifted(&row.none_called, base));
        if let Presence::Columns(columns) = &row.presence {
            self.present.extend(shifted(columns, base));
        } else {
            self.present.insert_range(base..base + placed.columns);
        }
    }

    /// Columns stated about but in none of the other five sets.
    fn called_other(&self) -> RoaringBitmap {
        &self.present
            - &(&self.homozygous
                | &self.heterozygous
                | &self.hemizygous
                | &self.one_called
                | &self.none_called)
    }
}

/// Block rows waiting to be written, as column arrays for one `INSERT … unnest`.
#[derive(Default)]
struct Output {
    variant_ids: Vec<i64>,
    sets: [Vec<Option<Vec<u8>>>; 6],
}

fn encoded(set: &RoaringBitmap) -> Option<Vec<u8>> {
    if set.is_empty() {
        return None;
    }
    let mut bytes = Vec::with_capacity(set.serialized_size());
    // Writing into a Vec cannot fail.
    set.serialize_into(&mut bytes).ok()?;
    Some(bytes)
}

impl Output {
    fn push(&mut self, merged: Merged) {
        // A row about no column at all (a sites-only record) says nothing: dropped.
        if merged.present.is_empty() {
            return;
        }
        let called_other = merged.called_other();
        self.variant_ids.push(merged.variant_id);
        for (list, set) in self.sets.iter_mut().zip([
            &merged.homozygous,
            &merged.heterozygous,
            &merged.hemizygous,
            &merged.one_called,
            &merged.none_called,
            &called_other,
        ]) {
            list.push(encoded(set));
        }
    }

    async fn flush(&mut self, connection: &mut PgConnection, block_id: i64) -> Result<u64, StoreError> {
        if self.variant_ids.is_empty() {
            return Ok(0);
        }
        let [
            homozygous,
            heterozygous,
            hemizygous,
            one_called,
            none_called,
            called_other,
        ] = &self.sets;
        let written = sqlx::query(
            "INSERT INTO block_variants
                (variant_id, block_id, homozygous, heterozygous, hemizygous, one_called, none_called, called_other)
             SELECT d.variant_id, $1, d.hom, d.het, d.hemi, d.one, d.none, d.other
             FROM unnest($2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[], $8::bytea[])
                 AS d(variant_id, hom, het, hemi, one, none, other)",
        )
        .bind(block_id)
        .bind(&self.variant_ids)
        .bind(homozygous)
        .bind(heterozygous)
        .bind(hemizygous)
        .bind(one_called)
        .bind(none_called)
        .bind(called_other)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        *self = Self::default();
        Ok(written)
    }
}
