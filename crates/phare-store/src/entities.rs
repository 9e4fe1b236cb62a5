//! Individuals as the Beacon `individuals` entry type reads them: filtered by ontology terms,
//! restricted to patients who did not object (research and open answers) and, for record-level
//! care answers, to one care centre.

use sqlx::Row;

use crate::{Store, StoreError};

/// A patient as stored from the manifests. `pseudonym` is the care pseudonym: only the care
/// space may show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndividualRecord {
    /// Row id: the key cross look-ups (carriers, cohorts) restrict queries with.
    pub id: i64,
    pub pseudonym: String,
    pub sex: String,
    pub country: Option<String>,
    pub region: Option<String>,
    pub indication: Option<String>,
    pub care_centre: Option<String>,
    pub phenotypes: Vec<String>,
    pub diseases: Vec<String>,
}

/// Which individuals of a dataset a query reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IndividualQuery {
    /// Leave out patients who objected to research use (research and open answers).
    pub research_only: bool,
    /// Each inner list is one filter: a patient matches it when one of the terms is among its
    /// phenotypes, diseases, indication or sex (NCIT). Every filter must match.
    pub term_filters: Vec<Vec<String>>,
    /// Only this care centre's patients (record-level care answers).
    pub care_centre: Option<String>,
    /// Only this care pseudonym (id look-ups).
    pub pseudonym: Option<String>,
    /// Only these individuals (row ids): the carriers of a variant, the owner of a biosample.
    pub ids: Option<Vec<i64>>,
    /// Age conditions, all of which must hold; a patient without a recorded age fails them.
    pub age_conditions: Vec<AgeCondition>,
}

/// `age <operator> days`, with the operators of Beacon alphanumeric filters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AgeCondition {
    /// `=`, `!`, `<`, `<=`, `>`, `>=`.
    pub operator: String,
    /// Whole days (ISO 8601 durations read with 1 Y = 365.25 d, 1 M = 30.4375 d); stored ages
    /// are rounded to whole days the same way (half away from zero, as Rust's `f64::round`; SQL's
    /// `round` on floats rounds half to even) before comparing, so `P10Y` equals `P10Y`.
    pub days: i64,
}

/// The query's filters, parsed once per statement: written inside `MATCHING`'s correlated
/// subqueries, the JSON was parsed again for every patient (60 ms for 2,000 patients, 1 ms
/// parsed once). Binds $3 term filters (jsonb array of arrays), $7 age conditions (jsonb array
/// of {operator, days}). Every statement using `MATCHING` starts with it.
const FILTERS: &str = "WITH term_filters AS MATERIALIZED (
        SELECT ARRAY(SELECT jsonb_array_elements_text(f.terms)) AS terms
        FROM jsonb_array_elements($3::jsonb) AS f(terms)
    ),
    age_filters AS MATERIALIZED (
        SELECT c.condition->>'operator' AS operator, (c.condition->>'days')::float8 AS days
        FROM jsonb_array_elements($7::jsonb) AS c(condition)
    )";

/// The conditions shared by the count and the page, on `individuals i`, after `FILTERS`.
/// Binds: $1 dataset, $2 research only, $4 care centre, $5 pseudonym, $6 row ids.
const MATCHING: &str = "
    i.dataset_id = $1
    AND (NOT $2 OR i.research_consent)
    AND ($4::text IS NULL OR i.care_centre = $4)
    AND ($5::text IS NULL OR i.pseudonym = $5)
    AND ($6::bigint[] IS NULL OR i.id IN (SELECT unnest($6::bigint[])))
    AND NOT EXISTS (
        SELECT 1 FROM age_filters c
        WHERE NOT COALESCE(CASE c.operator
            WHEN '=' THEN floor(i.age_days + 0.5) = c.days
            WHEN '!' THEN floor(i.age_days + 0.5) <> c.days
            WHEN '<' THEN floor(i.age_days + 0.5) < c.days
            WHEN '<=' THEN floor(i.age_days + 0.5) <= c.days
            WHEN '>' THEN floor(i.age_days + 0.5) > c.days
            WHEN '>=' THEN floor(i.age_days + 0.5) >= c.days
        END, false)
    )
    AND NOT EXISTS (
        SELECT 1 FROM term_filters f
        -- COALESCE: a NULL indication must fail the filter, not make it unknown (NOT NULL
        -- would let the patient through).
        WHERE NOT COALESCE(
            i.phenotypes && f.terms
            OR i.diseases && f.terms
            OR i.indication = ANY(f.terms)
            OR (CASE i.sex WHEN 'female' THEN 'NCIT:C16576' WHEN 'male' THEN 'NCIT:C20197'
                ELSE 'NCIT:C17998' END) = ANY(f.terms),
            false
        )
    )";

impl Store {
    pub async fn count_individuals(
        &self,
        dataset_id: &str,
        query: &IndividualQuery,
    ) -> Result<i64, StoreError> {
        let sql = format!("{FILTERS} SELECT count(*) AS n FROM individuals i WHERE {MATCHING}");
        let row = bind(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, query)
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// One page of matching individuals, in pseudonym order.
    pub async fn find_individuals(
        &self,
        dataset_id: &str,
        query: &IndividualQuery,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<IndividualRecord>, StoreError> {
        let sql = format!(
            "{FILTERS} SELECT i.id, i.pseudonym, i.sex, i.country, i.region, i.indication, i.care_centre, i.phenotypes, i.diseases
             FROM individuals i WHERE {MATCHING}
             ORDER BY i.pseudonym OFFSET $8 LIMIT $9"
        );
        let rows = bind(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, query)
            .bind(offset)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(IndividualRecord {
                    id: row.try_get("id")?,
                    pseudonym: row.try_get("pseudonym")?,
                    sex: row.try_get("sex")?,
                    country: row.try_get("country")?,
                    region: row.try_get("region")?,
                    indication: row.try_get("indication")?,
                    care_centre: row.try_get("care_centre")?,
                    phenotypes: row.try_get("phenotypes")?,
                    diseases: row.try_get("diseases")?,
                })
            })
            .collect()
    }

    /// (row id, care pseudonym) of a dataset's individuals matching the query, for resolving
    /// ids: research identifiers are keyed hashes of the pseudonyms.
    pub async fn individual_keys(
        &self,
        dataset_id: &str,
        query: &IndividualQuery,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let sql = format!(
            "{FILTERS} SELECT i.id, i.pseudonym FROM individuals i WHERE {MATCHING} ORDER BY i.pseudonym"
        );
        let rows = bind(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, query)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, row.try_get("pseudonym")?)))
            .collect()
    }

    /// The sample columns (analysis id, sample index) of the matching individuals'
    /// biosamples, not superseded, and in the research scope (`research_only`) only those
    /// counted in research: who a filtered variant query asks about, in one statement.
    ///
    /// Joined only from the patients through two indexes (migration 0017): a sample column
    /// links a biosample of its own analysis' dataset (ingest links within the dataset), and
    /// the generic plan PostgreSQL settles on after five runs estimates the patients at one
    /// row, so any further join (to `analyses`, for the dataset) turned into a cross product
    /// of every patient with every sample: 8 s at 20,000 analyses instead of 20 ms.
    pub async fn individual_columns(
        &self,
        dataset_id: &str,
        query: &IndividualQuery,
    ) -> Result<Vec<(i64, i32)>, StoreError> {
        let sql = format!(
            "{FILTERS} SELECT s.analysis_id, s.sample_index
             FROM individuals i
             JOIN biosamples b ON b.individual_id = i.id
             JOIN analysis_samples s ON s.biosample_id = b.id AND s.superseded_by IS NULL
             WHERE {MATCHING} AND (NOT $2 OR s.counted_in_research)
             ORDER BY s.analysis_id, s.sample_index"
        );
        let rows = bind(sqlx::query(sqlx::AssertSqlSafe(sql)), dataset_id, query)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("analysis_id")?, row.try_get("sample_index")?)))
            .collect()
    }
}

impl Store {
    /// Whether any patient of any dataset carries one of these spellings of a term as a
    /// phenotype, disease or indication.
    pub async fn term_in_use(&self, spellings: &[String]) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM individuals
                            WHERE phenotypes && $1 OR diseases && $1 OR indication = ANY($1))",
        )
        .bind(spellings)
        .fetch_one(self.pool())
        .await?)
    }

    /// The terms (phenotypes, diseases, indications) patients of these datasets carry, with how
    /// many patients carry each; research scope leaves out patients who objected.
    pub async fn used_terms(
        &self,
        dataset_ids: &[String],
        research_only: bool,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.term, count(DISTINCT i.id) AS patients
             FROM individuals i
             CROSS JOIN LATERAL (
                 SELECT unnest(i.phenotypes) UNION SELECT unnest(i.diseases)
                 UNION SELECT i.indication WHERE i.indication IS NOT NULL
             ) AS t(term)
             WHERE i.dataset_id = ANY($1) AND (NOT $2 OR i.research_consent)
             GROUP BY t.term ORDER BY t.term",
        )
        .bind(dataset_ids)
        .bind(research_only)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("term")?, row.try_get("patients")?)))
            .collect()
    }
}

fn bind<'q>(
    statement: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    dataset_id: &'q str,
    query: &'q IndividualQuery,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    statement
        .bind(dataset_id)
        .bind(query.research_only)
        .bind(serde_json::json!(query.term_filters))
        .bind(query.care_centre.as_deref())
        .bind(query.pseudonym.as_deref())
        .bind(query.ids.as_deref())
        .bind(serde_json::json!(query.age_conditions))
}
