//! Taking some samples' contribution out of (or back into) the per-dataset totals, from the
//! carrier sets: for a patient who objects (or withdraws the objection), and for a biosample
//! whose new analysis supersedes the old one. Set-based, in bounded memory: the analysis'
//! carrier rows are read in pages and each page's deltas applied in one statement.

use roaring::RoaringBitmap;
use sqlx::PgConnection;

use crate::StoreError;
use crate::carrier_sets::{CarrierRow, Source, analysis_alleles, locate, source_page, source_rows};

/// Carrier rows read per page.
const PAGE: i64 = 20_000;

/// Which totals to change, and in which direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Columns {
    /// The care-space totals (every sample).
    pub care: bool,
    /// The research totals (patients who did not object).
    pub research: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Remove,
    Restore,
}

/// Adds or subtracts what `samples` (file columns of `analysis_id`) contribute to every allele
/// of that analysis, in `dataset_id`'s totals, wherever its carrier sets are (its own rows or
/// its carrier block). Returns the number of alleles changed.
pub(crate) async fn adjust_totals(
    connection: &mut PgConnection,
    dataset_id: &str,
    analysis_id: i64,
    samples: &RoaringBitmap,
    columns: Columns,
    direction: Direction,
) -> Result<u64, StoreError> {
    if samples.is_empty() || !(columns.care || columns.research) {
        return Ok(0);
    }
    let sign: i64 = match direction {
        Direction::Remove => -1,
        Direction::Restore => 1,
    };
    // A compacted analysis' columns are a contiguous run of its block's columns.
    let (source, base) = locate(connection, analysis_id).await?;
    let columns_in_source: RoaringBitmap = samples.iter().map(|sample| sample + base).collect();
    let mut changed = 0u64;
    if let Source::Block(_) = source
        && let Some(variant_ids) = analysis_alleles(connection, analysis_id).await?
    {
        // Only the analysis' own alleles: the cost follows its calls, not the block.
        for chunk in variant_ids.chunks(PAGE as usize) {
            let rows = source_rows(connection, &[source], chunk).await?;
            let deltas = Deltas::of(&rows, &columns_in_source, sign);
            changed += deltas.apply(connection, dataset_id, columns).await?;
        }
        return Ok(changed);
    }
    let mut after = i64::MIN;
    loop {
        let rows = source_page(connection, source, after, PAGE).await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.variant_id;
        let deltas = Deltas::of(&rows, &columns_in_source, sign);
        changed += deltas.apply(connection, dataset_id, columns).await?;
    }
    Ok(changed)
}

#[derive(Default)]
struct Deltas {
    variant_ids: Vec<i64>,
    allele_counts: Vec<i64>,
    allele_numbers: Vec<i64>,
    homozygous: Vec<i64>,
    heterozygous: Vec<i64>,
    hemizygous: Vec<i64>,
}

impl Deltas {
    /// What the columns `samples` contribute to each row's allele, signed.
    fn of(rows: &[CarrierRow], samples: &RoaringBitmap, sign: i64) -> Self {
        let mut deltas = Self::default();
        for row in rows {
            let homozygous = row.homozygous.intersection_len(samples) as i64;
            let heterozygous = row.heterozygous.intersection_len(samples) as i64;
            let hemizygous = row.hemizygous.intersection_len(samples) as i64;
            let allele_number = row.allele_number_of(samples) as i64;
            let allele_count = 2 * homozygous + heterozygous + hemizygous;
            if allele_number == 0 && allele_count == 0 {
                continue;
            }
            deltas.push(
                row.variant_id,
                [allele_count, allele_number, homozygous, heterozygous, hemizygous],
                sign,
            );
        }
        deltas
    }

    fn push(&mut self, variant_id: i64, values: [i64; 5], sign: i64) {
        self.variant_ids.push(variant_id);
        self.allele_counts.push(sign * values[0]);
        self.allele_numbers.push(sign * values[1]);
        self.homozygous.push(sign * values[2]);
        self.heterozygous.push(sign * values[3]);
        self.hemizygous.push(sign * values[4]);
    }

    async fn apply(
        &self,
        connection: &mut PgConnection,
        dataset_id: &str,
        columns: Columns,
    ) -> Result<u64, StoreError> {
        if self.variant_ids.is_empty() {
            return Ok(0);
        }
        let updated = sqlx::query(
            "UPDATE variant_counts c SET
                allele_count = c.allele_count + CASE WHEN $2 THEN d.ac ELSE 0 END,
                allele_number = c.allele_number + CASE WHEN $2 THEN d.an ELSE 0 END,
                homozygous = c.homozygous + CASE WHEN $2 THEN d.hom ELSE 0 END,
                heterozygous = c.heterozygous + CASE WHEN $2 THEN d.het ELSE 0 END,
                hemizygous = c.hemizygous + CASE WHEN $2 THEN d.hemi ELSE 0 END,
                research_allele_count = c.research_allele_count + CASE WHEN $3 THEN d.ac ELSE 0 END,
                research_allele_number = c.research_allele_number + CASE WHEN $3 THEN d.an ELSE 0 END,
                research_homozygous = c.research_homozygous + CASE WHEN $3 THEN d.hom ELSE 0 END,
                research_heterozygous = c.research_heterozygous + CASE WHEN $3 THEN d.het ELSE 0 END,
                research_hemizygous = c.research_hemizygous + CASE WHEN $3 THEN d.hemi ELSE 0 END
             FROM unnest($4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])
                 AS d(variant_id, ac, an, hom, het, hemi)
             WHERE c.variant_id = d.variant_id AND c.dataset_id = $1",
        )
        .bind(dataset_id)
        .bind(columns.care)
        .bind(columns.research)
        .bind(&self.variant_ids)
        .bind(&self.allele_counts)
        .bind(&self.allele_numbers)
        .bind(&self.homozygous)
        .bind(&self.heterozygous)
        .bind(&self.hemizygous)
        .execute(&mut *connection)
        .await?;
        Ok(updated.rows_affected())
    }
}
