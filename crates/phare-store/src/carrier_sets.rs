//! Reading carrier sets wherever they are: per analysis (`analysis_variants`, until compacted)
//! or per carrier block (`block_variants`, docs/decisions/0055). Every reader goes through
//! here, so the two layouts give the same answers.

use std::collections::{BTreeSet, HashMap};

use roaring::{RoaringBitmap, RoaringTreemap};
use sqlx::{PgConnection, PgExecutor, Row};

use crate::StoreError;

/// Where a carrier row's column numbers come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Source {
    /// A file's own sample indices.
    Analysis(i64),
    /// A block's column numbers (`block_columns`).
    Block(i64),
}

/// Which columns a row states something about (what AN counts).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Presence {
    /// Every column of the analysis (a genotyped record of a file).
    AllColumns,
    Columns(RoaringBitmap),
}

/// The carrier sets of one allele in one source.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CarrierRow {
    pub variant_id: i64,
    pub source: Source,
    pub homozygous: RoaringBitmap,
    pub heterozygous: RoaringBitmap,
    pub hemizygous: RoaringBitmap,
    pub one_called: RoaringBitmap,
    pub none_called: RoaringBitmap,
    pub presence: Presence,
}

impl CarrierRow {
    /// AN of the columns `samples`: two per column the row states something about, less one
    /// per half-missing call and two per missing call.
    pub fn allele_number_of(&self, samples: &RoaringBitmap) -> u64 {
        let present = match &self.presence {
            Presence::AllColumns => samples.len(),
            Presence::Columns(columns) => columns.intersection_len(samples),
        };
        (2 * present)
            .saturating_sub(self.one_called.intersection_len(samples))
            .saturating_sub(2 * self.none_called.intersection_len(samples))
    }

    /// Whether any of `samples` carries the allele (non-reference call).
    pub fn carried_by_any(&self, samples: &RoaringBitmap) -> bool {
        !(self.homozygous.is_disjoint(samples)
            && self.heterozygous.is_disjoint(samples)
            && self.hemizygous.is_disjoint(samples))
    }
}

/// The columns of one query: both layouts, one statement, so that a concurrent compaction is
/// seen entirely or not at all; and the cohort generation its population labels are to be read
/// at (`labels.rs`), from the same snapshot rather than one more round trip.
const UNION: &str = "SELECT u.*, (SELECT generation FROM cohort_generation) AS cohort_generation FROM (
     SELECT av.variant_id, false AS compacted, av.analysis_id AS source_id, av.allele_number,
            av.homozygous, av.heterozygous, av.hemizygous, av.one_called, av.none_called,
            NULL::bytea AS called_other
     FROM analysis_variants av JOIN analyses a ON a.id = av.analysis_id
     WHERE a.dataset_id = $1 AND av.variant_id = ANY($2)
     UNION ALL
     SELECT bv.variant_id, true, bv.block_id, 0,
            bv.homozygous, bv.heterozygous, bv.hemizygous, bv.one_called, bv.none_called, bv.called_other
     FROM block_variants bv JOIN carrier_blocks b ON b.id = bv.block_id
     WHERE b.dataset_id = $1 AND bv.variant_id = ANY($2)) AS u";

fn bitmap(row: &sqlx::postgres::PgRow, column: &str) -> Result<RoaringBitmap, StoreError> {
    let bytes: Option<Vec<u8>> = row.try_get(column)?;
    match bytes {
        None => Ok(RoaringBitmap::new()),
        Some(bytes) => RoaringBitmap::deserialize_from(bytes.as_slice())
            .map_err(|error| StoreError::Internal(format!("corrupt carrier set: {error}"))),
    }
}

/// One row of either layout (columns of `UNION`).
pub(crate) fn carrier_row(row: &sqlx::postgres::PgRow) -> Result<CarrierRow, StoreError> {
    let compacted: bool = row.try_get("compacted")?;
    let source_id: i64 = row.try_get("source_id")?;
    let homozygous = bitmap(row, "homozygous")?;
    let heterozygous = bitmap(row, "heterozygous")?;
    let hemizygous = bitmap(row, "hemizygous")?;
    let one_called = bitmap(row, "one_called")?;
    let none_called = bitmap(row, "none_called")?;
    let (source, presence) = if compacted {
        let present = bitmap(row, "called_other")?
            | &homozygous
            | &heterozygous
            | &hemizygous
            | &one_called
            | &none_called;
        (Source::Block(source_id), Presence::Columns(present))
    } else {
        let allele_number: i32 = row.try_get("allele_number")?;
        // A sites-only record has no calls at all: it says nothing about the samples.
        let genotyped = allele_number > 0 || !none_called.is_empty();
        let presence = if genotyped {
            Presence::AllColumns
        } else {
            Presence::Columns(RoaringBitmap::new())
        };
        (Source::Analysis(source_id), presence)
    };
    Ok(CarrierRow {
        variant_id: row.try_get("variant_id")?,
        source,
        homozygous,
        heterozygous,
        hemizygous,
        one_called,
        none_called,
        presence,
    })
}

/// The carrier rows of some alleles, and the cohort generation read with them.
#[derive(Debug)]
pub(crate) struct CarrierRows {
    pub rows: Vec<CarrierRow>,
    /// `None` when there is no row (and so no label to read).
    pub cohort_generation: Option<i64>,
}

/// Every carrier row of these alleles in the dataset, in both layouts.
pub(crate) async fn carrier_rows<'e, E: PgExecutor<'e>>(
    executor: E,
    dataset_id: &str,
    variant_ids: &[i64],
) -> Result<CarrierRows, StoreError> {
    let rows = sqlx::query(UNION)
        .bind(dataset_id)
        .bind(variant_ids)
        .fetch_all(executor)
        .await?;
    let cohort_generation = match rows.first() {
        Some(row) => Some(row.try_get("cohort_generation")?),
        None => None,
    };
    Ok(CarrierRows {
        rows: rows.iter().map(carrier_row).collect::<Result<_, _>>()?,
        cohort_generation,
    })
}

/// Where an analysis' carrier sets are, and the offset of its sample indices there.
pub(crate) async fn locate(
    connection: &mut PgConnection,
    analysis_id: i64,
) -> Result<(Source, u32), StoreError> {
    let located = locate_all(connection, &[analysis_id]).await?;
    Ok(located
        .get(&analysis_id)
        .copied()
        .unwrap_or((Source::Analysis(analysis_id), 0)))
}

/// `locate` for many analyses in one round trip; an unknown analysis is left out.
pub(crate) async fn locate_all(
    connection: &mut PgConnection,
    analysis_ids: &[i64],
) -> Result<HashMap<i64, (Source, u32)>, StoreError> {
    let rows = sqlx::query(
        "SELECT a.id, a.block_id,
                (SELECT min(c.column_index - c.sample_index) FROM block_columns c
                 WHERE c.block_id = a.block_id AND c.analysis_id = a.id) AS base
         FROM analyses a WHERE a.id = ANY($1)",
    )
    .bind(analysis_ids)
    .fetch_all(&mut *connection)
    .await?;
    let mut located = HashMap::with_capacity(rows.len());
    for row in &rows {
        let analysis_id: i64 = row.try_get("id")?;
        let block_id: Option<i64> = row.try_get("block_id")?;
        let base: Option<i32> = row.try_get("base")?;
        let place = match (block_id, base) {
            (Some(block_id), Some(base)) => (Source::Block(block_id), u32::try_from(base).unwrap_or(0)),
            _ => (Source::Analysis(analysis_id), 0),
        };
        located.insert(analysis_id, place);
    }
    Ok(located)
}

/// One page of a source's rows in variant order, after `after`.
pub(crate) async fn source_page(
    connection: &mut PgConnection,
    source: Source,
    after: i64,
    limit: i64,
) -> Result<Vec<CarrierRow>, StoreError> {
    let rows = match source {
        Source::Analysis(analysis_id) => {
            sqlx::query(
                "SELECT variant_id, false AS compacted, analysis_id AS source_id, allele_number,
                        homozygous, heterozygous, hemizygous, one_called, none_called, NULL::bytea AS called_other
                 FROM analysis_variants WHERE analysis_id = $1 AND variant_id > $2
                 ORDER BY variant_id LIMIT $3",
            )
            .bind(analysis_id)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *connection)
            .await?
        }
        Source::Block(block_id) => {
            sqlx::query(
                "SELECT variant_id, true AS compacted, block_id AS source_id, 0 AS allele_number,
                        homozygous, heterozygous, hemizygous, one_called, none_called, called_other
                 FROM block_variants WHERE block_id = $1 AND variant_id > $2
                 ORDER BY variant_id LIMIT $3",
            )
            .bind(block_id)
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *connection)
            .await?
        }
    };
    rows.iter().map(carrier_row).collect()
}

/// The rows of some alleles in some sources (both layouts, one statement).
pub(crate) async fn source_rows(
    connection: &mut PgConnection,
    sources: &[Source],
    variant_ids: &[i64],
) -> Result<Vec<CarrierRow>, StoreError> {
    let mut analysis_ids: Vec<i64> = Vec::new();
    let mut block_ids: Vec<i64> = Vec::new();
    for source in sources {
        match source {
            Source::Analysis(analysis_id) => analysis_ids.push(*analysis_id),
            Source::Block(block_id) => block_ids.push(*block_id),
        }
    }
    let rows = sqlx::query(
        "SELECT variant_id, false AS compacted, analysis_id AS source_id, allele_number,
                homozygous, heterozygous, hemizygous, one_called, none_called, NULL::bytea AS called_other
         FROM analysis_variants WHERE analysis_id = ANY($1) AND variant_id = ANY($3)
         UNION ALL
         SELECT variant_id, true, block_id, 0,
                homozygous, heterozygous, hemizygous, one_called, none_called, called_other
         FROM block_variants WHERE block_id = ANY($2) AND variant_id = ANY($3)",
    )
    .bind(&analysis_ids)
    .bind(&block_ids)
    .bind(variant_ids)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter().map(carrier_row).collect()
}

/// Block columns as the two parallel arrays the block queries `unnest`.
pub(crate) fn column_arrays(wanted: &BTreeSet<(i64, u32)>) -> (Vec<i64>, Vec<i32>) {
    wanted
        .iter()
        .map(|(block_id, column)| (*block_id, i32::try_from(*column).unwrap_or(i32::MAX)))
        .unzip()
}

/// The (analysis, sample index) of some block columns.
pub(crate) async fn block_columns<'e, E: PgExecutor<'e>>(
    executor: E,
    wanted: &BTreeSet<(i64, u32)>,
) -> Result<HashMap<(i64, u32), (i64, i32)>, StoreError> {
    let (block_ids, column_indices) = column_arrays(wanted);
    let rows = sqlx::query(
        "SELECT c.block_id, c.column_index, c.analysis_id, c.sample_index
         FROM unnest($1::bigint[], $2::integer[]) AS q(block_id, column_index)
         JOIN block_columns c ON c.block_id = q.block_id AND c.column_index = q.column_index",
    )
    .bind(&block_ids)
    .bind(&column_indices)
    .fetch_all(executor)
    .await?;
    let mut map = HashMap::with_capacity(rows.len());
    for row in &rows {
        let column_index: i32 = row.try_get("column_index")?;
        map.insert(
            (row.try_get("block_id")?, column_index as u32),
            (row.try_get("analysis_id")?, row.try_get("sample_index")?),
        );
    }
    Ok(map)
}

/// The alleles a compacted analysis had carrier rows for, in order, if recorded.
pub(crate) async fn analysis_alleles(
    connection: &mut PgConnection,
    analysis_id: i64,
) -> Result<Option<Vec<i64>>, StoreError> {
    let row = sqlx::query("SELECT variant_ids FROM analysis_alleles WHERE analysis_id = $1")
        .bind(analysis_id)
        .fetch_optional(&mut *connection)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let bytes: Vec<u8> = row.try_get("variant_ids")?;
    let set = RoaringTreemap::deserialize_from(bytes.as_slice())
        .map_err(|error| StoreError::Internal(format!("corrupt allele set: {error}")))?;
    Ok(Some(
        set.iter()
            .map(|id| i64::try_from(id).unwrap_or(i64::MAX))
            .collect(),
    ))
}
