use phare_domain::{Assembly, Granularity};
use sqlx::Row;

use crate::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDataset {
    pub id: String,
    pub name: String,
    pub assembly: Assembly,
    /// The most an anonymous caller may see of this dataset.
    pub anonymous_max: Granularity,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    pub id: String,
    pub name: String,
    pub assembly: Assembly,
    pub anonymous_max: Granularity,
    pub created_at: String,
    /// Non-zero counts below this never leave the node in research or open answers.
    pub min_count: u32,
    /// DUO data-use conditions as stored (`{"permission", "disease", "modifiers"}`), if any.
    pub data_use: Option<serde_json::Value>,
    /// The operator's policy rows; tiers and entry types without a row use the defaults.
    pub policies: Vec<PolicyRow>,
    /// Synthetic data: what `testMode=true` answers from.
    pub synthetic: bool,
}

/// What the operator sets beside a dataset's identity when creating it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetSettings {
    pub min_count: u32,
    pub data_use: Option<serde_json::Value>,
}

impl Default for DatasetSettings {
    fn default() -> Self {
        Self {
            min_count: DEFAULT_MIN_COUNT,
            data_use: None,
        }
    }
}

/// The small-count threshold of a dataset created without one.
pub const DEFAULT_MIN_COUNT: u32 = 5;

/// One row of `dataset_policies`: the most a tier may see of an entry type (`*` for all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRow {
    pub tier: String,
    pub entry_type: String,
    pub max_granularity: Granularity,
    pub id_lookups: bool,
    pub unfiltered_queries: bool,
}

const ID_RULE: &str = "1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit";

fn check_id(id: &str) -> Result<(), StoreError> {
    let mut characters = id.chars();
    let first_ok = characters
        .next()
        .is_some_and(|first| first.is_ascii_alphanumeric());
    let rest_ok = characters.all(|other| other.is_ascii_alphanumeric() || matches!(other, '.' | '_' | '-'));
    if first_ok && rest_ok && id.len() <= 64 {
        Ok(())
    } else {
        Err(StoreError::InvalidDataset(format!(
            "id `{id}` is not valid: {ID_RULE}"
        )))
    }
}

impl Store {
    pub async fn create_dataset(&self, dataset: &NewDataset) -> Result<(), StoreError> {
        self.create_dataset_with(dataset, &DatasetSettings::default())
            .await
    }

    pub async fn create_dataset_with(
        &self,
        dataset: &NewDataset,
        settings: &DatasetSettings,
    ) -> Result<(), StoreError> {
        check_id(&dataset.id)?;
        let min_count = i32::try_from(settings.min_count).map_err(|_| {
            StoreError::InvalidDataset(format!("min count {} is too large", settings.min_count))
        })?;
        let inserted = sqlx::query(
            "INSERT INTO datasets (id, name, assembly, anonymous_max, min_count, data_use)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&dataset.id)
        .bind(&dataset.name)
        .bind(dataset.assembly.as_str())
        .bind(dataset.anonymous_max.as_str())
        .bind(min_count)
        .bind(&settings.data_use)
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::DatasetExists(dataset.id.clone()));
        }
        Ok(())
    }

    pub async fn datasets(&self) -> Result<Vec<Dataset>, StoreError> {
        let policy_rows = sqlx::query(
            "SELECT dataset_id, tier, entry_type, max_granularity, id_lookups, unfiltered_queries
             FROM dataset_policies ORDER BY dataset_id, tier, entry_type",
        )
        .fetch_all(self.pool())
        .await?;
        let mut policies: std::collections::HashMap<String, Vec<PolicyRow>> =
            std::collections::HashMap::new();
        for row in &policy_rows {
            let granularity: String = row.try_get("max_granularity")?;
            policies
                .entry(row.try_get("dataset_id")?)
                .or_default()
                .push(PolicyRow {
                    tier: row.try_get("tier")?,
                    entry_type: row.try_get("entry_type")?,
                    max_granularity: granularity
                        .parse()
                        .map_err(|error| StoreError::Internal(format!("{error}")))?,
                    id_lookups: row.try_get("id_lookups")?,
                    unfiltered_queries: row.try_get("unfiltered_queries")?,
                });
        }
        let rows = sqlx::query(
            "SELECT d.id, d.name, d.assembly, d.anonymous_max, d.min_count, d.data_use, d.synthetic,
                    to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at
             FROM datasets d ORDER BY d.id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let mut dataset = dataset_from_row(row)?;
                dataset.policies = policies.remove(&dataset.id).unwrap_or_default();
                Ok(dataset)
            })
            .collect()
    }

    /// A number that changes whenever a dataset or a policy row does (migration 0010): what
    /// `datasets()` returned stays valid while it stays the same.
    pub async fn catalog_generation(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT generation FROM catalog_generation")
            .fetch_one(self.pool())
            .await?)
    }

    /// Individuals and analyses per dataset, for `phare dataset list` (every query reads
    /// `datasets()`, which leaves these counts out).
    pub async fn dataset_sizes(&self) -> Result<std::collections::HashMap<String, (i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id,
                    (SELECT count(*) FROM individuals i WHERE i.dataset_id = d.id) AS individuals,
                    (SELECT count(*) FROM analyses a WHERE a.dataset_id = d.id) AS analyses
             FROM datasets d",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id")?,
                    (row.try_get("individuals")?, row.try_get("analyses")?),
                ))
            })
            .collect()
    }

    /// Marks a dataset as synthetic (answered to `testMode=true`) or not.
    pub async fn set_synthetic(&self, dataset_id: &str, synthetic: bool) -> Result<(), StoreError> {
        let updated = sqlx::query("UPDATE datasets SET synthetic = $2 WHERE id = $1")
            .bind(dataset_id)
            .bind(synthetic)
            .execute(self.pool())
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::UnknownDataset(dataset_id.to_owned()));
        }
        Ok(())
    }

    /// Sets (or replaces) what `tier` may see of `entry_type` (`*` for every entry type) in a
    /// dataset.
    pub async fn set_policy(&self, dataset_id: &str, policy: &PolicyRow) -> Result<(), StoreError> {
        self.dataset(dataset_id).await?;
        sqlx::query(
            "INSERT INTO dataset_policies
                (dataset_id, tier, entry_type, max_granularity, id_lookups, unfiltered_queries)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (dataset_id, tier, entry_type) DO UPDATE SET
                max_granularity = excluded.max_granularity, id_lookups = excluded.id_lookups,
                unfiltered_queries = excluded.unfiltered_queries",
        )
        .bind(dataset_id)
        .bind(&policy.tier)
        .bind(&policy.entry_type)
        .bind(policy.max_granularity.as_str())
        .bind(policy.id_lookups)
        .bind(policy.unfiltered_queries)
        .execute(self.pool())
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(database) if database.is_check_violation() => {
                StoreError::InvalidDataset(format!(
                    "policy for tier `{}` and entry type `{}` is not valid",
                    policy.tier, policy.entry_type
                ))
            }
            _ => StoreError::Database(error),
        })?;
        Ok(())
    }

    pub async fn dataset(&self, id: &str) -> Result<Dataset, StoreError> {
        self.datasets()
            .await?
            .into_iter()
            .find(|dataset| dataset.id == id)
            .ok_or_else(|| StoreError::UnknownDataset(id.to_owned()))
    }
}

fn dataset_from_row(row: &sqlx::postgres::PgRow) -> Result<Dataset, StoreError> {
    let assembly: String = row.try_get("assembly")?;
    let anonymous_max: String = row.try_get("anonymous_max")?;
    Ok(Dataset {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        assembly: assembly
            .parse()
            .map_err(|error| StoreError::Internal(format!("{error}")))?,
        anonymous_max: anonymous_max
            .parse()
            .map_err(|error| StoreError::Internal(format!("{error}")))?,
        created_at: row.try_get("created_at")?,
        min_count: u32::try_from(row.try_get::<i32, _>("min_count")?)
            .map_err(|error| StoreError::Internal(format!("{error}")))?,
        data_use: row.try_get("data_use")?,
        policies: Vec::new(),
        synthetic: row.try_get("synthetic")?,
    })
}

/// One ingested file of a dataset, with how many of its samples later analyses superseded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalysisInfo {
    pub id: i64,
    pub file_name: String,
    pub file_sha256: String,
    pub samples: i32,
    pub superseded_samples: i64,
    pub records: i64,
    pub alleles: i64,
    pub created_at: String,
}

impl Store {
    pub async fn analyses(&self, dataset_id: &str) -> Result<Vec<AnalysisInfo>, StoreError> {
        self.dataset(dataset_id).await?;
        let rows = sqlx::query(
            "SELECT a.id, a.file_name, a.file_sha256, a.sample_count, a.record_count, a.allele_count,
                    to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at,
                    (SELECT count(*) FROM analysis_samples s
                     WHERE s.analysis_id = a.id AND s.superseded_by IS NOT NULL) AS superseded
             FROM analyses a WHERE a.dataset_id = $1 ORDER BY a.id",
        )
        .bind(dataset_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let sha: Vec<u8> = row.try_get("file_sha256")?;
                Ok(AnalysisInfo {
                    id: row.try_get("id")?,
                    file_name: row.try_get("file_name")?,
                    file_sha256: hex::encode(sha),
                    samples: row.try_get("sample_count")?,
                    superseded_samples: row.try_get("superseded")?,
                    records: row.try_get("record_count")?,
                    alleles: row.try_get("allele_count")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}

/// On-disk size of one table, indexes and TOAST included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSize {
    pub table: String,
    pub rows: i64,
    pub bytes: i64,
}

impl Store {
    /// Sizes of Phare's tables, for capacity planning (docs/scale.md).
    pub async fn table_sizes(&self) -> Result<Vec<TableSize>, StoreError> {
        let tables = [
            "variants",
            "variant_counts",
            "analysis_variants",
            "block_variants",
            "block_columns",
            "carrier_blocks",
            "analysis_alleles",
            "aggregate_counts",
            "variant_annotations",
            "analysis_samples",
            "analyses",
            "individuals",
            "biosamples",
            "datasets",
            "contig_spans",
        ];
        let mut sizes = Vec::with_capacity(tables.len());
        for table in tables {
            // Table names come from the fixed list above, never from input.
            let sql =
                format!("SELECT count(*) AS rows, pg_total_relation_size('{table}') AS bytes FROM {table}");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(self.pool())
                .await?;
            sizes.push(TableSize {
                table: table.to_owned(),
                rows: row.try_get("rows")?,
                bytes: row.try_get("bytes")?,
            });
        }
        Ok(sizes)
    }
}
