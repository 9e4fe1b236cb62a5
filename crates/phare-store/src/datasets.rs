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
    pub individual_count: i64,
    pub analysis_count: i64,
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
        check_id(&dataset.id)?;
        let inserted = sqlx::query(
            "INSERT INTO datasets (id, name, assembly, anonymous_max) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&dataset.id)
        .bind(&dataset.name)
        .bind(dataset.assembly.as_str())
        .bind(dataset.anonymous_max.as_str())
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::DatasetExists(dataset.id.clone()));
        }
        Ok(())
    }

    pub async fn datasets(&self) -> Result<Vec<Dataset>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.id, d.name, d.assembly, d.anonymous_max,
                    to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at,
                    (SELECT count(*) FROM individuals i WHERE i.dataset_id = d.id) AS individual_count,
                    (SELECT count(*) FROM analyses a WHERE a.dataset_id = d.id) AS analysis_count
             FROM datasets d ORDER BY d.id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(dataset_from_row).collect()
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
        individual_count: row.try_get("individual_count")?,
        analysis_count: row.try_get("analysis_count")?,
    })
}
