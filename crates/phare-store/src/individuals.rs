//! A patient's objection to research use, and its withdrawal: from then on the patient counts
//! in no research or open-data answer. Totals are recomputed from the carrier sets in the same
//! transaction; per-population counts follow by themselves (computed at query time).

use std::collections::BTreeMap;

use roaring::RoaringBitmap;
use sqlx::{PgConnection, Row};

use crate::contributions::{Columns, Direction, adjust_totals};
use crate::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentChange {
    pub individual: String,
    /// Datasets where the patient's consent changed.
    pub datasets: Vec<String>,
    pub analyses: usize,
    /// Alleles whose research totals were recomputed.
    pub alleles_updated: u64,
}

impl Store {
    /// Records that the patient with care pseudonym `pseudonym` objects (`consent` false) or no
    /// longer objects (`consent` true) to research use, in every dataset that holds them.
    pub async fn set_research_consent(
        &self,
        pseudonym: &str,
        consent: bool,
    ) -> Result<ConsentChange, StoreError> {
        let mut transaction = self.pool().begin().await?;
        let people = sqlx::query(
            "SELECT id, dataset_id, research_consent FROM individuals WHERE pseudonym = $1 ORDER BY dataset_id FOR UPDATE",
        )
        .bind(pseudonym)
        .fetch_all(&mut *transaction)
        .await?;
        if people.is_empty() {
            return Err(StoreError::UnknownIndividual(pseudonym.to_owned()));
        }
        let mut change = ConsentChange {
            individual: pseudonym.to_owned(),
            datasets: Vec::new(),
            analyses: 0,
            alleles_updated: 0,
        };
        for person in &people {
            let current: bool = person.try_get("research_consent")?;
            if current == consent {
                continue;
            }
            let individual_id: i64 = person.try_get("id")?;
            let dataset_id: String = person.try_get("dataset_id")?;
            // The same lock as ingestion: totals change under one writer at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('phare.ingest.' || $1))")
                .bind(&dataset_id)
                .execute(&mut *transaction)
                .await?;
            let (analyses, alleles) =
                apply_consent(&mut transaction, individual_id, &dataset_id, consent).await?;
            change.alleles_updated += alleles;
            change.analyses += analyses;
            change.datasets.push(dataset_id);
        }
        transaction.commit().await?;
        Ok(change)
    }
}

/// Sets one individual's research consent in one dataset and moves their contribution into
/// or out of the research totals of every analysis still counting them. Returns (analyses,
/// alleles updated). The caller holds the dataset's ingest lock.
pub(crate) async fn apply_consent(
    connection: &mut PgConnection,
    individual_id: i64,
    dataset_id: &str,
    consent: bool,
) -> Result<(usize, u64), StoreError> {
    sqlx::query("UPDATE individuals SET research_consent = $2 WHERE id = $1")
        .bind(individual_id)
        .bind(consent)
        .execute(&mut *connection)
        .await?;
    sqlx::query(
        "UPDATE analysis_samples s SET counted_in_research = $2 FROM biosamples b
         WHERE b.id = s.biosample_id AND b.individual_id = $1",
    )
    .bind(individual_id)
    .bind(consent)
    .execute(&mut *connection)
    .await?;
    let columns = sqlx::query(
        "SELECT s.analysis_id, s.sample_index FROM analysis_samples s
         JOIN biosamples b ON b.id = s.biosample_id
         WHERE b.individual_id = $1 AND s.superseded_by IS NULL",
    )
    .bind(individual_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut by_analysis: BTreeMap<i64, RoaringBitmap> = BTreeMap::new();
    for column in &columns {
        let analysis_id: i64 = column.try_get("analysis_id")?;
        let sample_index: i32 = column.try_get("sample_index")?;
        by_analysis
            .entry(analysis_id)
            .or_default()
            .insert(sample_index as u32);
    }
    let direction = if consent {
        Direction::Restore
    } else {
        Direction::Remove
    };
    let mut alleles = 0;
    for (analysis_id, samples) in &by_analysis {
        alleles += adjust_totals(
            connection,
            dataset_id,
            *analysis_id,
            samples,
            Columns {
                care: false,
                research: true,
            },
            direction,
        )
        .await?;
    }
    Ok((by_analysis.len(), alleles))
}
