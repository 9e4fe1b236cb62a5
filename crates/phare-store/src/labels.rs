//! The population labels of sample columns (`Total`, sex, country, country_sex) in each scope,
//! read from the samples' patients and cached between queries behind the store's cohort
//! generation (migration 0016, docs/decisions/0058): a record answer otherwise reads every
//! sample row of the allele's analyses, 2,000 for a 2,000-sample cohort, per request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use phare_domain::{Sex, population_labels};
use roaring::RoaringBitmap;
use sqlx::{PgPool, Row};

use crate::StoreError;
use crate::carrier_sets::{Source, column_arrays};

/// Population label → columns of one source.
pub(crate) type LabelSets = BTreeMap<String, RoaringBitmap>;

/// Columns held in the cache at most; past it the cache starts again empty. Each column costs
/// a few bytes per label, so this bounds it to tens of megabytes.
const MAX_CACHED_COLUMNS: u64 = 4_000_000;

/// The labels of a source's columns, in both scopes.
#[derive(Clone, Debug, Default)]
pub(crate) struct SourceLabels {
    /// Columns whose labels were read (whether or not they count in a scope).
    read: RoaringBitmap,
    /// Every label of the columns that count in the `all` scope (not superseded).
    all: LabelSets,
    /// The same, restricted to the columns that count in the research scope.
    research: LabelSets,
}

impl SourceLabels {
    pub(crate) fn in_scope(&self, scope: &str) -> &LabelSets {
        if scope == "research" {
            &self.research
        } else {
            &self.all
        }
    }

    /// Adds what `other` read (the same source, other columns).
    fn absorb(&mut self, other: SourceLabels) {
        self.read |= other.read;
        merge(&mut self.all, other.all);
        merge(&mut self.research, other.research);
    }

    fn add(&mut self, column: u32, research: bool, labels: &[String]) {
        for label in labels {
            self.all.entry(label.clone()).or_default().insert(column);
            if research {
                self.research.entry(label.clone()).or_default().insert(column);
            }
        }
    }
}

/// What a query needs: every column of some analyses, some columns of some blocks.
#[derive(Clone, Debug, Default)]
pub(crate) struct Wanted {
    pub analyses: BTreeSet<i64>,
    pub block_columns: BTreeSet<(i64, u32)>,
}

#[derive(Debug, Default)]
struct Held {
    generation: i64,
    sources: HashMap<Source, Arc<SourceLabels>>,
    columns: u64,
}

/// Labels per source, valid for one cohort generation (`cohort_generation`, migration 0016).
#[derive(Debug, Default)]
pub(crate) struct LabelCache {
    held: Mutex<Held>,
}

impl LabelCache {
    /// The labels of the wanted sources, as of `generation`, the cohort generation the caller
    /// read just before (with the carrier rows, `carrier_sets.rs`): read before the samples, a
    /// change landing in between leaves newer labels under an older number, which the next
    /// query then drops; never the other way round.
    pub(crate) async fn labels(
        &self,
        pool: &PgPool,
        generation: i64,
        wanted: &Wanted,
    ) -> Result<HashMap<Source, Arc<SourceLabels>>, StoreError> {
        let (mut found, missing) = self.held(generation, wanted);
        let mut fetched: HashMap<Source, SourceLabels> = HashMap::new();
        if !missing.analyses.is_empty() {
            let analysis_ids: Vec<i64> = missing.analyses.iter().copied().collect();
            fetched.extend(analysis_labels(pool, &analysis_ids).await?);
        }
        if !missing.block_columns.is_empty() {
            for (source, labels) in block_labels(pool, &missing.block_columns).await? {
                fetched.entry(source).or_default().absorb(labels);
            }
        }
        if fetched.is_empty() {
            return Ok(found);
        }
        let mut held = self.held.lock().map_err(|_| poisoned())?;
        let current = held.generation == generation;
        for (source, labels) in fetched {
            let combined = match found.remove(&source) {
                // A block read before and now read further: what was held plus the new columns.
                Some(before) => {
                    let mut combined = SourceLabels::clone(&before);
                    combined.absorb(labels);
                    Arc::new(combined)
                }
                None => Arc::new(labels),
            };
            if current {
                if held.columns > MAX_CACHED_COLUMNS {
                    held.sources.clear();
                    held.columns = 0;
                }
                held.columns += combined.read.len();
                held.sources.insert(source, combined.clone());
            }
            found.insert(source, combined);
        }
        Ok(found)
    }

    /// What is held for the wanted sources at `generation`, and what is still to be read.
    fn held(&self, generation: i64, wanted: &Wanted) -> (HashMap<Source, Arc<SourceLabels>>, Wanted) {
        let mut found = HashMap::new();
        let mut missing = Wanted::default();
        let Ok(mut held) = self.held.lock() else {
            return (found, wanted.clone());
        };
        if held.generation != generation {
            if held.generation > generation {
                // Another query already read a newer generation: read this one's uncached.
                return (found, wanted.clone());
            }
            *held = Held {
                generation,
                ..Held::default()
            };
        }
        for analysis_id in &wanted.analyses {
            match held.sources.get(&Source::Analysis(*analysis_id)) {
                Some(labels) => {
                    found.insert(Source::Analysis(*analysis_id), labels.clone());
                }
                None => {
                    missing.analyses.insert(*analysis_id);
                }
            }
        }
        for (block_id, column) in &wanted.block_columns {
            let source = Source::Block(*block_id);
            match held.sources.get(&source) {
                Some(labels) => {
                    if !labels.read.contains(*column) {
                        missing.block_columns.insert((*block_id, *column));
                    }
                    found.entry(source).or_insert_with(|| labels.clone());
                }
                None => {
                    missing.block_columns.insert((*block_id, *column));
                }
            }
        }
        (found, missing)
    }
}

fn poisoned() -> StoreError {
    StoreError::Internal("label cache lock poisoned".to_owned())
}

fn merge(into: &mut LabelSets, from: LabelSets) {
    for (label, columns) in from {
        *into.entry(label).or_default() |= columns;
    }
}

/// Whether a sample row counts in the research scope, and its labels.
fn sample_labels(row: &sqlx::postgres::PgRow) -> Result<(bool, Vec<String>), StoreError> {
    let research: bool = row.try_get("research")?;
    let sex: Option<String> = row.try_get("sex")?;
    let country: Option<String> = row.try_get("country")?;
    let sex: Sex = sex
        .as_deref()
        .and_then(|sex| sex.parse().ok())
        .unwrap_or_default();
    Ok((research, population_labels(sex, country.as_deref())))
}

/// Every sample of some analyses. In the research scope a linked sample counts only while its
/// patient's consent stands; an unlinked one (file ingested without a manifest) as the operator
/// decided at ingest. Superseded samples count in no scope.
async fn analysis_labels(
    pool: &PgPool,
    analysis_ids: &[i64],
) -> Result<HashMap<Source, SourceLabels>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.analysis_id, s.sample_index, s.superseded_by IS NOT NULL AS superseded,
                CASE WHEN s.biosample_id IS NULL THEN s.counted_in_research ELSE i.research_consent END AS research,
                i.sex, i.country
         FROM analysis_samples s
         LEFT JOIN biosamples b ON b.id = s.biosample_id
         LEFT JOIN individuals i ON i.id = b.individual_id
         WHERE s.analysis_id = ANY($1)",
    )
    .bind(analysis_ids)
    .fetch_all(pool)
    .await?;
    // An analysis without sample rows (sites only) is read too: nothing to read again.
    let mut labels: HashMap<Source, SourceLabels> = analysis_ids
        .iter()
        .map(|analysis_id| (Source::Analysis(*analysis_id), SourceLabels::default()))
        .collect();
    for row in &rows {
        let analysis_id: i64 = row.try_get("analysis_id")?;
        let sample_index: i32 = row.try_get("sample_index")?;
        let Ok(column) = u32::try_from(sample_index) else {
            continue;
        };
        let entry = labels.entry(Source::Analysis(analysis_id)).or_default();
        entry.read.insert(column);
        if row.try_get::<bool, _>("superseded")? {
            continue;
        }
        let (research, row_labels) = sample_labels(row)?;
        entry.add(column, research, &row_labels);
    }
    Ok(labels)
}

/// Some columns of some blocks (those a carrier row states something about): the cost follows
/// the carriers, not the block's size.
async fn block_labels(
    pool: &PgPool,
    wanted: &BTreeSet<(i64, u32)>,
) -> Result<HashMap<Source, SourceLabels>, StoreError> {
    let mut labels: HashMap<Source, SourceLabels> = HashMap::new();
    for (block_id, column) in wanted {
        labels
            .entry(Source::Block(*block_id))
            .or_default()
            .read
            .insert(*column);
    }
    let (block_ids, column_indices) = column_arrays(wanted);
    let rows = sqlx::query(
        "SELECT c.block_id, c.column_index,
                CASE WHEN s.biosample_id IS NULL THEN s.counted_in_research ELSE i.research_consent END AS research,
                i.sex, i.country
         FROM unnest($1::bigint[], $2::integer[]) AS q(block_id, column_index)
         JOIN block_columns c ON c.block_id = q.block_id AND c.column_index = q.column_index
         JOIN analysis_samples s ON s.analysis_id = c.analysis_id AND s.sample_index = c.sample_index
         LEFT JOIN biosamples b ON b.id = s.biosample_id
         LEFT JOIN individuals i ON i.id = b.individual_id
         WHERE s.superseded_by IS NULL",
    )
    .bind(&block_ids)
    .bind(&column_indices)
    .fetch_all(pool)
    .await?;
    for row in &rows {
        let block_id: i64 = row.try_get("block_id")?;
        let column_index: i32 = row.try_get("column_index")?;
        let Ok(column) = u32::try_from(column_index) else {
            continue;
        };
        let (research, row_labels) = sample_labels(row)?;
        labels
            .entry(Source::Block(block_id))
            .or_default()
            .add(column, research, &row_labels);
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn research_labels_are_the_consenting_columns_only() {
        let mut labels = SourceLabels::default();
        labels.add(0, true, &["Total".to_owned(), "F".to_owned()]);
        labels.add(1, false, &["Total".to_owned(), "M".to_owned()]);
        assert_eq!(labels.in_scope("all")["Total"].iter().collect::<Vec<_>>(), [0, 1]);
        assert_eq!(
            labels.in_scope("research")["Total"].iter().collect::<Vec<_>>(),
            [0]
        );
        assert!(!labels.in_scope("research").contains_key("M"));
        assert_eq!(labels.in_scope("all")["M"].iter().collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn a_newer_generation_empties_the_cache_and_an_older_one_leaves_it() {
        let cache = LabelCache::default();
        let wanted = Wanted {
            analyses: BTreeSet::from([7]),
            block_columns: BTreeSet::from([(3, 5)]),
        };
        if let Ok(mut held) = cache.held.lock() {
            held.generation = 2;
            held.sources
                .insert(Source::Analysis(7), Arc::new(SourceLabels::default()));
            let mut block = SourceLabels::default();
            block.read.insert(5);
            held.sources.insert(Source::Block(3), Arc::new(block));
        }
        let (found, missing) = cache.held(2, &wanted);
        assert_eq!(found.len(), 2);
        assert!(missing.analyses.is_empty() && missing.block_columns.is_empty());

        let (found, missing) = cache.held(1, &wanted);
        assert!(found.is_empty());
        assert_eq!(missing.analyses, wanted.analyses);
        assert_eq!(cache.held.lock().map(|held| held.sources.len()).ok(), Some(2));

        let (found, missing) = cache.held(3, &wanted);
        assert!(found.is_empty());
        assert_eq!(missing.block_columns, wanted.block_columns);
        assert_eq!(cache.held.lock().map(|held| held.sources.len()).ok(), Some(0));
    }

    #[test]
    fn a_block_column_not_read_yet_is_missing() {
        let cache = LabelCache::default();
        if let Ok(mut held) = cache.held.lock() {
            let mut block = SourceLabels::default();
            block.read.insert(5);
            held.sources.insert(Source::Block(3), Arc::new(block));
        }
        let wanted = Wanted {
            analyses: BTreeSet::new(),
            block_columns: BTreeSet::from([(3, 5), (3, 6)]),
        };
        let (found, missing) = cache.held(0, &wanted);
        assert!(found.contains_key(&Source::Block(3)));
        assert_eq!(missing.block_columns, BTreeSet::from([(3, 6)]));
    }
}
