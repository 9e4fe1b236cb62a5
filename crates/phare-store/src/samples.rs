//! Biosamples and the sample columns of ingested files, as the Beacon `biosamples`, `runs` and
//! `analyses` entry types read them. Phare holds no sequencing metadata: a run and an analysis
//! are both one column of one ingested file (docs/decisions/0023-entity-endpoints.md). Only
//! columns the manifest linked to a biosample are entries, and superseded columns never are.

use sqlx::Row;

use crate::{Store, StoreError};

/// A biosample as the manifest declared it. `external_id` and `pseudonym` belong to the care
/// space: research answers show keyed identifiers instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BiosampleRecord {
    pub id: i64,
    pub external_id: String,
    pub individual_id: i64,
    pub pseudonym: String,
    pub care_centre: Option<String>,
}

/// Which biosamples of a dataset a query reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BiosampleQuery {
    /// Leave out the biosamples of patients who objected to research use.
    pub research_only: bool,
    /// Only this care centre's patients (record-level care answers).
    pub care_centre: Option<String>,
    /// Only this external id (care id look-ups).
    pub external_id: Option<String>,
    /// Only these biosamples (row ids).
    pub ids: Option<Vec<i64>>,
    /// Only the biosamples of these individuals (row ids).
    pub individual_ids: Option<Vec<i64>>,
}

/// Binds: $1 dataset, $2 research only, $3 care centre, $4 external id, $5 ids, $6 individuals.
/// Id lists are joined as sets (`IN (SELECT unnest(…))`): once the statement's plan is generic,
/// `= ANY($n)` compares every row with every element (10 ms for 1,000 individuals, 1 ms joined).
const BIOSAMPLES: &str = "FROM biosamples b JOIN individuals i ON i.id = b.individual_id
    WHERE b.dataset_id = $1
    AND (NOT $2 OR i.research_consent)
    AND ($3::text IS NULL OR i.care_centre = $3)
    AND ($4::text IS NULL OR b.external_id = $4)
    AND ($5::bigint[] IS NULL OR b.id IN (SELECT unnest($5::bigint[])))
    AND ($6::bigint[] IS NULL OR b.individual_id IN (SELECT unnest($6::bigint[])))";

/// One sample column of one ingested file, linked to a biosample: a `run` and an `analysis`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnRecord {
    pub analysis_id: i64,
    pub sample_index: i32,
    /// The column's name in the file (care space only: platforms' names can identify).
    pub sample_name: String,
    pub biosample_id: i64,
    pub external_id: String,
    pub individual_id: i64,
    pub pseudonym: String,
    pub care_centre: Option<String>,
    pub file_name: String,
    pub file_format: String,
    /// Day the file was ingested (UTC, `YYYY-MM-DD`).
    pub created_on: String,
}

/// Which columns of a dataset a query reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnQuery {
    /// Leave out the columns of patients who objected and columns not counted in research.
    pub research_only: bool,
    /// Only this care centre's patients (record-level care answers).
    pub care_centre: Option<String>,
    /// Only these (analysis id, sample index) columns.
    pub columns: Option<Vec<(i64, i32)>>,
    /// Only the columns of these biosamples (row ids).
    pub biosample_ids: Option<Vec<i64>>,
}

/// What every column query joins and tests, after `FROM analysis_samples s` or its keys.
macro_rules! columns_joined_and_filtered {
    () => {
        "JOIN analyses a ON a.id = s.analysis_id
    JOIN biosamples b ON b.id = s.biosample_id
    JOIN individuals i ON i.id = b.individual_id
    WHERE a.dataset_id = $1 AND s.superseded_by IS NULL
    AND (NOT $2 OR (i.research_consent AND s.counted_in_research))
    AND ($3::text IS NULL OR i.care_centre = $3)
    AND ($6::bigint[] IS NULL OR s.biosample_id IN (SELECT unnest($6::bigint[])))"
    };
}

/// Binds: $1 dataset, $2 research only, $3 care centre, $4 analysis ids and $5 sample indices
/// (pairwise), $6 biosamples.
const COLUMNS: &str = concat!(
    "FROM analysis_samples s ",
    columns_joined_and_filtered!(),
    "
    AND ($4::bigint[] IS NULL OR (s.analysis_id, s.sample_index) IN
        (SELECT k.analysis_id, k.sample_index FROM unnest($4::bigint[], $5::int[]) AS k(analysis_id, sample_index)))"
);

/// [`COLUMNS`] for a query naming its columns ($4, $5): driven by those keys through the primary
/// key of `analysis_samples`, where `COLUMNS`' `IN` filter reads every sample row of the dataset
/// (a record answer names a handful of carriers among all of a dataset's samples).
const NAMED_COLUMNS: &str = concat!(
    "FROM (SELECT DISTINCT k.analysis_id, k.sample_index
          FROM unnest($4::bigint[], $5::int[]) AS k(analysis_id, sample_index)) AS k
    JOIN analysis_samples s ON s.analysis_id = k.analysis_id AND s.sample_index = k.sample_index ",
    columns_joined_and_filtered!()
);

/// The `FROM … WHERE` of a column query, bound by [`bind_columns`].
fn columns_clause(query: &ColumnQuery) -> &'static str {
    if query.columns.is_some() {
        NAMED_COLUMNS
    } else {
        COLUMNS
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_biosamples<'q>(
    statement: PgQuery<'q>,
    dataset_id: &'q str,
    query: &'q BiosampleQuery,
) -> PgQuery<'q> {
    statement
        .bind(dataset_id)
        .bind(query.research_only)
        .bind(query.care_centre.as_deref())
        .bind(query.external_id.as_deref())
        .bind(query.ids.as_deref())
        .bind(query.individual_ids.as_deref())
}

fn bind_columns<'q>(statement: PgQuery<'q>, dataset_id: &'q str, query: &'q ColumnQuery) -> PgQuery<'q> {
    let (analyses, indices): (Option<Vec<i64>>, Option<Vec<i32>>) = match &query.columns {
        Some(columns) => {
            let (analyses, indices) = columns.iter().copied().unzip();
            (Some(analyses), Some(indices))
        }
        None => (None, None),
    };
    statement
        .bind(dataset_id)
        .bind(query.research_only)
        .bind(query.care_centre.as_deref())
        .bind(analyses)
        .bind(indices)
        .bind(query.biosample_ids.as_deref())
}

impl Store {
    pub async fn count_biosamples(
        &self,
        dataset_id: &str,
        query: &BiosampleQuery,
    ) -> Result<i64, StoreError> {
        let sql = format!("SELECT count(*) AS n {BIOSAMPLES}");
        let row = bind_biosamples(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, query)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// One page of matching biosamples, in external id order (`limit` `None`: all of them).
    pub async fn find_biosamples(
        &self,
        dataset_id: &str,
        query: &BiosampleQuery,
        offset: i64,
        limit: Option<i64>,
    ) -> Result<Vec<BiosampleRecord>, StoreError> {
        let sql = format!(
            "SELECT b.id, b.external_id, b.individual_id, i.pseudonym, i.care_centre {BIOSAMPLES}
             ORDER BY b.external_id OFFSET $7 LIMIT $8"
        );
        let rows = bind_biosamples(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, query)
            .bind(offset)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(BiosampleRecord {
                    id: row.try_get("id")?,
                    external_id: row.try_get("external_id")?,
                    individual_id: row.try_get("individual_id")?,
                    pseudonym: row.try_get("pseudonym")?,
                    care_centre: row.try_get("care_centre")?,
                })
            })
            .collect()
    }

    pub async fn count_columns(&self, dataset_id: &str, query: &ColumnQuery) -> Result<i64, StoreError> {
        let sql = format!("SELECT count(*) AS n {}", columns_clause(query));
        let row = bind_columns(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, query)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// One page of matching columns, in (analysis, column) order (`limit` `None`: all of them).
    pub async fn find_columns(
        &self,
        dataset_id: &str,
        query: &ColumnQuery,
        offset: i64,
        limit: Option<i64>,
    ) -> Result<Vec<ColumnRecord>, StoreError> {
        let sql = format!(
            "SELECT s.analysis_id, s.sample_index, s.sample_name, s.biosample_id, b.external_id,
                    b.individual_id, i.pseudonym, i.care_centre, a.file_name, a.file_format,
                    to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS created_on
             {}
             ORDER BY s.analysis_id, s.sample_index OFFSET $7 LIMIT $8",
            columns_clause(query)
        );
        let statement = bind_columns(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, query)
            .bind(offset)
            .bind(limit);
        // Named columns are a record answer's carriers, looked up by key: one of a query's hot
        // statements (`readers.rs`). A listing stays on the pool, where PostgreSQL plans it for
        // the filters it is given.
        let rows = if query.columns.is_some() {
            self.read(async |connection| Ok(statement.fetch_all(connection).await?))
                .await?
        } else {
            statement.fetch_all(self.pool()).await?
        };
        rows.iter()
            .map(|row| {
                Ok(ColumnRecord {
                    analysis_id: row.try_get("analysis_id")?,
                    sample_index: row.try_get("sample_index")?,
                    sample_name: row.try_get("sample_name")?,
                    biosample_id: row.try_get("biosample_id")?,
                    external_id: row.try_get("external_id")?,
                    individual_id: row.try_get("individual_id")?,
                    pseudonym: row.try_get("pseudonym")?,
                    care_centre: row.try_get("care_centre")?,
                    file_name: row.try_get("file_name")?,
                    file_format: row.try_get("file_format")?,
                    created_on: row.try_get("created_on")?,
                })
            })
            .collect()
    }
}
