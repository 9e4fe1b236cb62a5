//! Cohorts: named term lists an operator defines (one per PFMG pre-indication, say). Members are
//! the individuals matching every term, as `/individuals` filters match, so membership follows
//! the manifests and each patient's consent without anything stored per patient.

use sqlx::Row;

use crate::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cohort {
    pub id: String,
    pub name: String,
    /// The one dataset the cohort is drawn from; `None`: every dataset.
    pub dataset_id: Option<String>,
    pub terms: Vec<String>,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCohort {
    pub id: String,
    pub name: String,
    pub dataset_id: Option<String>,
    pub terms: Vec<String>,
}

fn input_error(id: &str, message: impl Into<String>) -> StoreError {
    StoreError::Input {
        path: format!("cohort `{id}`"),
        message: message.into(),
    }
}

impl Store {
    pub async fn create_cohort(&self, cohort: &NewCohort) -> Result<(), StoreError> {
        let mut characters = cohort.id.chars();
        let valid_id = characters
            .next()
            .is_some_and(|first| first.is_ascii_alphanumeric())
            && characters.all(|other| other.is_ascii_alphanumeric() || matches!(other, '.' | '_' | '-'))
            && cohort.id.len() <= 64;
        if !valid_id {
            return Err(input_error(
                &cohort.id,
                "the id must be 1 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
            ));
        }
        if cohort.terms.is_empty() || cohort.terms.iter().any(|term| term.trim().is_empty()) {
            return Err(input_error(
                &cohort.id,
                "a cohort needs at least one non-empty term",
            ));
        }
        if let Some(dataset_id) = &cohort.dataset_id {
            self.dataset(dataset_id).await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO cohorts (id, name, dataset_id, terms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&cohort.id)
        .bind(&cohort.name)
        .bind(cohort.dataset_id.as_deref())
        .bind(&cohort.terms)
        .execute(self.pool())
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(input_error(&cohort.id, "already exists"));
        }
        Ok(())
    }

    /// Every cohort, in id order.
    pub async fn cohorts(&self) -> Result<Vec<Cohort>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, dataset_id, terms,
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created_at
             FROM cohorts ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Cohort {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    dataset_id: row.try_get("dataset_id")?,
                    terms: row.try_get("terms")?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}
