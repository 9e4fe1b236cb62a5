//! Atomic ingestion of one VCF/BCF file into a dataset.
//!
//! Everything happens in one transaction: the analysis row, its samples, the new variants,
//! the carrier sets and the count increments. A bad record half-way, a killed process or a lost
//! connection rolls all of it back. Records are streamed (one in memory at a time) from a
//! blocking thread into `COPY … FROM STDIN` on a staging table, then merged with set-based SQL.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use phare_domain::{Manifest, ManifestSample, Sex};
use phare_vcf::{Limits, ReadOptions, Site, SkipCounts, VariantReader};
use roaring::RoaringBitmap;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Row};
use tokio::sync::mpsc;

use crate::contributions::{Columns, Direction, adjust_totals};
use crate::copy_binary::{self, RowWriter};
use crate::individuals::apply_consent;
use crate::{Store, StoreError};

/// Bytes of COPY data sent to PostgreSQL at a time.
const COPY_CHUNK_BYTES: usize = 1 << 20;

#[derive(Debug)]
pub struct IngestRequest {
    pub dataset_id: String,
    pub path: PathBuf,
    pub manifest: Option<Manifest>,
    /// Keep only records whose FILTER is PASS or missing.
    pub pass_only: bool,
    /// Set to the bytes of the file read so far, for a progress bar.
    pub progress: Option<Arc<AtomicU64>>,
    pub limits: Limits,
    /// The dataset assembly's sequence (FASTA + `.fai`): indels are left-aligned against it.
    pub reference_fasta: Option<PathBuf>,
    /// The name errors and the analysis give the file, when `path` is not it (a pushed file
    /// is stored under its submission id).
    pub file_name: Option<String>,
    /// The file's SHA-256, when the caller has already computed and checked it: the file is
    /// then not read once more to fingerprint it.
    pub file_sha256: Option<[u8; 32]>,
}

impl IngestRequest {
    /// `path` into `dataset_id` as `phare ingest` does by default: no manifest, PASS records
    /// only, default limits, no reference genome.
    pub fn new(dataset_id: &str, path: PathBuf) -> Self {
        Self {
            dataset_id: dataset_id.to_owned(),
            path,
            manifest: None,
            pass_only: true,
            progress: None,
            limits: Limits::default(),
            reference_fasta: None,
            file_name: None,
            file_sha256: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestSummary {
    pub analysis_id: i64,
    pub file_sha256: String,
    pub samples: usize,
    pub records_read: u64,
    pub alleles_stored: u64,
    pub new_variants: u64,
    pub genotypes: u64,
    pub skipped: SkipCounts,
    /// Samples of earlier analyses of the same biosamples that this one replaced in every count.
    pub superseded_samples: u64,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestOutcome {
    Ingested(IngestSummary),
    /// The same file (by SHA-256) is already stored in this dataset; nothing was changed.
    AlreadyIngested {
        analysis_id: i64,
        file_sha256: String,
    },
}

impl Store {
    pub async fn ingest(&self, request: IngestRequest) -> Result<IngestOutcome, StoreError> {
        let dataset = self.dataset(&request.dataset_id).await?;
        let file_sha256 = match request.file_sha256 {
            Some(known) => known,
            None => {
                let path = request.path.clone();
                tokio::task::spawn_blocking(move || sha256_of(&path))
                    .await
                    .map_err(|error| StoreError::Internal(error.to_string()))??
            }
        };
        if let Some(analysis_id) = self.analysis_by_sha(&dataset.id, &file_sha256).await? {
            return Ok(IngestOutcome::AlreadyIngested {
                analysis_id,
                file_sha256: hex::encode(file_sha256),
            });
        }

        let options = ReadOptions {
            assembly: dataset.assembly,
            pass_only: request.pass_only,
            limits: request.limits.clone(),
            reference_fasta: request.reference_fasta.clone(),
        };
        let path = request.path.clone();
        let mut reader = tokio::task::spawn_blocking(move || VariantReader::open(&path, options))
            .await
            .map_err(|error| StoreError::Internal(error.to_string()))??;
        let sample_names = reader.sample_names();
        let display_path = request
            .file_name
            .clone()
            .unwrap_or_else(|| request.path.display().to_string());
        let (linked, warnings) = link_samples(&display_path, &sample_names, request.manifest.as_ref())?;
        // Patients who objected: left out of the research scope's counts.
        let objectors: RoaringBitmap = linked
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.is_some_and(|entry| !entry.research_consent))
            .map(|(index, _)| index as u32)
            .collect();
        let males = linked
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.is_some_and(|entry| entry.sex == Sex::Male))
            .map(|(index, _)| index as u32)
            .collect();
        reader.set_male_samples(males);

        let mut transaction = self.pool().begin().await?;
        // One ingest per dataset at a time: concurrent ingests then give the same counts as
        // sequential ones, and the SHA-256 check below cannot race.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('phare.ingest.' || $1))")
            .bind(&dataset.id)
            .execute(&mut *transaction)
            .await?;
        if let Some(analysis_id) = analysis_by_sha(&mut transaction, &dataset.id, &file_sha256).await? {
            return Ok(IngestOutcome::AlreadyIngested {
                analysis_id,
                file_sha256: hex::encode(file_sha256),
            });
        }
        let file_name = match &request.file_name {
            Some(name) => name.clone(),
            None => request
                .path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| display_path.clone()),
        };
        let analysis_id: i64 = sqlx::query(
            "INSERT INTO analyses (dataset_id, file_name, file_sha256, file_format, sample_count, record_count, allele_count)
             VALUES ($1, $2, $3, $4, $5, 0, 0) RETURNING id",
        )
        .bind(&dataset.id)
        .bind(&file_name)
        .bind(file_sha256.as_slice())
        .bind(format!("{:?}", reader.format()))
        .bind(sample_names.len() as i32)
        .fetch_one(&mut *transaction)
        .await?
        .try_get("id")?;
        let superseded_samples =
            supersede_previous(&mut transaction, &dataset.id, analysis_id, &linked).await?;
        reconcile_consent(&mut transaction, &dataset.id, &linked).await?;
        store_samples(&mut transaction, &dataset.id, analysis_id, &sample_names, &linked).await?;

        sqlx::query(
            "CREATE TEMPORARY TABLE staging (
                contig text, start bigint, \"end\" bigint, reference text, alternate text, variant_type text,
                allele_count bigint, allele_number bigint,
                homozygous bytea, heterozygous bytea, hemizygous bytea, one_called bytea, none_called bytea,
                hom_count bigint, het_count bigint, hemi_count bigint,
                research_ac bigint, research_an bigint, research_hom bigint, research_het bigint, research_hemi bigint,
                aggregates jsonb, annotations jsonb
             ) ON COMMIT DROP",
        )
        .execute(&mut *transaction)
        .await?;
        // Carrier sets are sorted sample indices, which pglz does not shrink (not one of the
        // coalescent cohort's was stored compressed): staging skips the attempt.
        sqlx::query(
            "ALTER TABLE staging
                ALTER COLUMN homozygous SET STORAGE EXTERNAL, ALTER COLUMN heterozygous SET STORAGE EXTERNAL,
                ALTER COLUMN hemizygous SET STORAGE EXTERNAL, ALTER COLUMN one_called SET STORAGE EXTERNAL,
                ALTER COLUMN none_called SET STORAGE EXTERNAL",
        )
        .execute(&mut *transaction)
        .await?;
        let progress = request.progress.clone();
        let copy_started = std::time::Instant::now();
        let loaded = copy_sites(&mut transaction, reader, objectors, progress).await?;

        let merge_started = std::time::Instant::now();
        let aggregate = loaded.aggregate_alleles > 0;
        let other_kind: bool = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM analyses WHERE dataset_id = $1 AND id <> $2 AND aggregate <> $3) AS mixed",
        )
        .bind(&dataset.id)
        .bind(analysis_id)
        .bind(aggregate)
        .fetch_one(&mut *transaction)
        .await?
        .try_get("mixed")?;
        if other_kind {
            let (this, that) = if aggregate {
                ("aggregate counts", "genotypes")
            } else {
                ("genotypes", "aggregate counts")
            };
            return Err(StoreError::Input {
                path: display_path,
                message: format!(
                    "this file carries {this} but dataset {} holds files with {that}: put them in separate datasets",
                    dataset.id
                ),
            });
        }
        let new_variants = sqlx::query(
            "INSERT INTO variants (contig, start, \"end\", reference, alternate, variant_type)
             SELECT DISTINCT contig, start, \"end\", reference, alternate, variant_type FROM staging
             ORDER BY contig, start, \"end\", reference, alternate
             ON CONFLICT (contig, start, \"end\", reference, alternate) DO NOTHING",
        )
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        sqlx::query(
            "INSERT INTO contig_spans (contig, max_length)
             SELECT contig, max(\"end\" - start) FROM staging GROUP BY contig
             ON CONFLICT (contig) DO UPDATE SET max_length = GREATEST(contig_spans.max_length, excluded.max_length)",
        )
        .execute(&mut *transaction)
        .await?;
        sqlx::query(
            "INSERT INTO variant_annotations (variant_id, gene, protein_change, effect)
             SELECT DISTINCT v.id, a.gene, coalesce(a.protein_change, ''), coalesce(a.effect, '')
             FROM staging s
             JOIN variants v USING (contig, start, \"end\", reference, alternate)
             CROSS JOIN LATERAL jsonb_to_recordset(s.annotations) AS a(gene text, protein_change text, effect text)
             WHERE s.annotations IS NOT NULL
             ON CONFLICT DO NOTHING",
        )
        .execute(&mut *transaction)
        .await?;
        // Carrier sets and totals from one join of staging with the dictionary.
        let merged = sqlx::query(
            "WITH joined AS MATERIALIZED (
                 SELECT v.id AS variant_id, s.*
                 FROM staging s JOIN variants v USING (contig, start, \"end\", reference, alternate)
             ), carriers AS (
                 INSERT INTO analysis_variants
                     (variant_id, analysis_id, allele_count, allele_number, homozygous, heterozygous, hemizygous,
                      one_called, none_called)
                 SELECT variant_id, $2, allele_count, allele_number, homozygous, heterozygous, hemizygous,
                        one_called, none_called
                 FROM joined
             )
             INSERT INTO variant_counts
                (variant_id, dataset_id, allele_count, allele_number, homozygous, heterozygous, hemizygous,
                 research_allele_count, research_allele_number, research_homozygous, research_heterozygous,
                 research_hemizygous)
             SELECT variant_id, $1, allele_count, allele_number, hom_count, het_count, hemi_count,
                    research_ac, research_an, research_hom, research_het, research_hemi
             FROM joined
             ON CONFLICT (variant_id, dataset_id) DO UPDATE SET
                allele_count = variant_counts.allele_count + excluded.allele_count,
                allele_number = variant_counts.allele_number + excluded.allele_number,
                homozygous = variant_counts.homozygous + excluded.homozygous,
                heterozygous = variant_counts.heterozygous + excluded.heterozygous,
                hemizygous = variant_counts.hemizygous + excluded.hemizygous,
                research_allele_count = variant_counts.research_allele_count + excluded.research_allele_count,
                research_allele_number = variant_counts.research_allele_number + excluded.research_allele_number,
                research_homozygous = variant_counts.research_homozygous + excluded.research_homozygous,
                research_heterozygous = variant_counts.research_heterozygous + excluded.research_heterozygous,
                research_hemizygous = variant_counts.research_hemizygous + excluded.research_hemizygous",
        )
        .bind(&dataset.id)
        .bind(analysis_id)
        .execute(&mut *transaction)
        .await;
        // The same normalised allele twice in one file breaks analysis_variants' key, or makes
        // the counts upsert touch one row twice (SQLSTATE 21000).
        if let Err(sqlx::Error::Database(database_error)) = &merged
            && (database_error.is_unique_violation() || database_error.code().as_deref() == Some("21000"))
        {
            return Err(StoreError::Input {
                path: display_path,
                message: "the file holds the same normalised allele in two records; normalise and deduplicate it (bcftools norm -m- -d exact) before ingesting".into(),
            });
        }
        merged?;
        if aggregate {
            sqlx::query(
                "INSERT INTO aggregate_counts
                    (variant_id, dataset_id, population, allele_count, allele_number, homozygous, heterozygous, hemizygous)
                 SELECT v.id, $1, a.population, a.allele_count, a.allele_number, a.homozygous, a.heterozygous, a.hemizygous
                 FROM staging s
                 JOIN variants v USING (contig, start, \"end\", reference, alternate)
                 CROSS JOIN LATERAL jsonb_to_recordset(s.aggregates) AS a(population text, allele_count bigint,
                     allele_number bigint, homozygous bigint, heterozygous bigint, hemizygous bigint)
                 WHERE s.aggregates IS NOT NULL
                 ON CONFLICT (variant_id, dataset_id, population) DO UPDATE SET
                    allele_count = aggregate_counts.allele_count + excluded.allele_count,
                    allele_number = aggregate_counts.allele_number + excluded.allele_number,
                    homozygous = aggregate_counts.homozygous + excluded.homozygous,
                    heterozygous = aggregate_counts.heterozygous + excluded.heterozygous,
                    hemizygous = aggregate_counts.hemizygous + excluded.hemizygous",
            )
            .bind(&dataset.id)
            .execute(&mut *transaction)
            .await?;
        }
        sqlx::query("UPDATE analyses SET record_count = $2, allele_count = $3, aggregate = $4 WHERE id = $1")
            .bind(analysis_id)
            .bind(loaded.records_read as i64)
            .bind(loaded.alleles as i64)
            .bind(aggregate)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        tracing::info!(
            analysis_id,
            dataset = %dataset.id,
            alleles = loaded.alleles,
            read_and_copy_ms = (merge_started - copy_started).as_millis() as u64,
            merge_and_commit_ms = merge_started.elapsed().as_millis() as u64,
            "ingest committed"
        );

        Ok(IngestOutcome::Ingested(IngestSummary {
            analysis_id,
            file_sha256: hex::encode(file_sha256),
            samples: sample_names.len(),
            records_read: loaded.records_read,
            alleles_stored: loaded.alleles,
            new_variants,
            genotypes: loaded.records_read.saturating_mul(sample_names.len() as u64),
            skipped: loaded.skipped,
            superseded_samples,
            warnings,
        }))
    }

    async fn analysis_by_sha(&self, dataset_id: &str, sha: &[u8; 32]) -> Result<Option<i64>, StoreError> {
        let mut connection = self.pool().acquire().await?;
        analysis_by_sha(&mut connection, dataset_id, sha).await
    }
}

async fn analysis_by_sha(
    connection: &mut PgConnection,
    dataset_id: &str,
    sha: &[u8; 32],
) -> Result<Option<i64>, StoreError> {
    let row = sqlx::query("SELECT id FROM analyses WHERE dataset_id = $1 AND file_sha256 = $2")
        .bind(dataset_id)
        .bind(sha.as_slice())
        .fetch_optional(&mut *connection)
        .await?;
    Ok(row.map(|row| row.try_get("id")).transpose()?)
}

/// The SHA-256 of a file, read in 1 MiB blocks (blocking: call it from a blocking thread).
pub fn sha256_of(path: &Path) -> Result<[u8; 32], StoreError> {
    let input_error = |error: std::io::Error| StoreError::Input {
        path: path.display().to_string(),
        message: error.to_string(),
    };
    let mut file = std::fs::File::open(path).map_err(input_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(input_error)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().into())
}

/// Each file column with its manifest entry, if a manifest was given.
type LinkedSamples<'m> = Vec<Option<&'m ManifestSample>>;

/// Every VCF sample must be described by the manifest (its consent decides what research may
/// see); manifest entries absent from the file are only worth a warning.
fn link_samples<'m>(
    path: &str,
    sample_names: &[String],
    manifest: Option<&'m Manifest>,
) -> Result<(LinkedSamples<'m>, Vec<String>), StoreError> {
    let Some(manifest) = manifest else {
        return Ok((vec![None; sample_names.len()], Vec::new()));
    };
    let by_name: HashMap<&str, &ManifestSample> = manifest
        .samples
        .iter()
        .map(|entry| (entry.sample.as_str(), entry))
        .collect();
    let missing: Vec<&str> = sample_names
        .iter()
        .map(String::as_str)
        .filter(|name| !by_name.contains_key(name))
        .collect();
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(10).copied().collect();
        return Err(StoreError::Input {
            path: path.to_owned(),
            message: format!(
                "{} sample(s) of the file are not in the manifest: {}{}",
                missing.len(),
                shown.join(", "),
                if missing.len() > shown.len() { ", …" } else { "" }
            ),
        });
    }
    for (index, entry) in manifest.samples.iter().enumerate() {
        if let Some(age) = &entry.age
            && let Err(error) = phare_ontology::parse_iso8601_age(age)
        {
            return Err(StoreError::Input {
                path: path.to_owned(),
                message: format!("manifest entry {index}: `age`: {error}"),
            });
        }
    }
    let in_file: std::collections::HashSet<&str> = sample_names.iter().map(String::as_str).collect();
    let warnings = manifest
        .samples
        .iter()
        .filter(|entry| !in_file.contains(entry.sample.as_str()))
        .map(|entry| format!("manifest sample `{}` is not in the file", entry.sample))
        .collect();
    let linked = sample_names
        .iter()
        .map(|name| by_name.get(name.as_str()).copied())
        .collect();
    Ok((linked, warnings))
}

/// A biosample analysed again: its earlier analysis stops counting, in care and research totals
/// alike (research only if the patient's contribution was there), and is marked superseded by
/// this one but kept for audit. Runs before the manifest updates consent, so the totals are
/// adjusted from the state they were built in.
async fn supersede_previous(
    connection: &mut PgConnection,
    dataset_id: &str,
    analysis_id: i64,
    linked: &[Option<&ManifestSample>],
) -> Result<u64, StoreError> {
    let biosamples: Vec<&str> = linked
        .iter()
        .flatten()
        .map(|entry| entry.biosample_id.as_str())
        .collect();
    if biosamples.is_empty() {
        return Ok(0);
    }
    let earlier = sqlx::query(
        "SELECT s.analysis_id, s.sample_index, i.research_consent
         FROM analysis_samples s
         JOIN biosamples b ON b.id = s.biosample_id
         JOIN individuals i ON i.id = b.individual_id
         WHERE b.dataset_id = $1 AND b.external_id = ANY($2) AND s.superseded_by IS NULL",
    )
    .bind(dataset_id)
    .bind(&biosamples)
    .fetch_all(&mut *connection)
    .await?;
    let mut by_analysis: BTreeMap<i64, (RoaringBitmap, RoaringBitmap)> = BTreeMap::new();
    for row in &earlier {
        let earlier_analysis: i64 = row.try_get("analysis_id")?;
        let sample_index: i32 = row.try_get("sample_index")?;
        let research: bool = row.try_get("research_consent")?;
        let (care, counted_in_research) = by_analysis.entry(earlier_analysis).or_default();
        care.insert(sample_index as u32);
        if research {
            counted_in_research.insert(sample_index as u32);
        }
    }
    for (earlier_analysis, (care, research)) in &by_analysis {
        adjust_totals(
            connection,
            dataset_id,
            *earlier_analysis,
            care,
            Columns {
                care: true,
                research: false,
            },
            Direction::Remove,
        )
        .await?;
        adjust_totals(
            connection,
            dataset_id,
            *earlier_analysis,
            research,
            Columns {
                care: false,
                research: true,
            },
            Direction::Remove,
        )
        .await?;
        let indices: Vec<i32> = care.iter().map(|sample| sample as i32).collect();
        sqlx::query(
            "UPDATE analysis_samples SET superseded_by = $1 WHERE analysis_id = $2 AND sample_index = ANY($3)",
        )
        .bind(analysis_id)
        .bind(earlier_analysis)
        .bind(&indices)
        .execute(&mut *connection)
        .await?;
    }
    Ok(earlier.len() as u64)
}

/// A manifest may change a known patient's consent: their other analyses' research totals
/// follow, exactly as `phare individual oppose` would do it.
async fn reconcile_consent(
    connection: &mut PgConnection,
    dataset_id: &str,
    linked: &[Option<&ManifestSample>],
) -> Result<(), StoreError> {
    let pseudonyms: Vec<&str> = linked
        .iter()
        .flatten()
        .map(|entry| entry.individual_id.as_str())
        .collect();
    let known = sqlx::query(
        "SELECT id, pseudonym, research_consent FROM individuals WHERE dataset_id = $1 AND pseudonym = ANY($2)",
    )
    .bind(dataset_id)
    .bind(&pseudonyms)
    .fetch_all(&mut *connection)
    .await?;
    // A manifest's entries of one patient agree on consent (Manifest::from_json checks it).
    let by_pseudonym: HashMap<&str, &ManifestSample> = linked
        .iter()
        .flatten()
        .map(|entry| (entry.individual_id.as_str(), *entry))
        .collect();
    for row in &known {
        let pseudonym: String = row.try_get("pseudonym")?;
        let consent: bool = row.try_get("research_consent")?;
        let wanted = by_pseudonym.get(pseudonym.as_str());
        if let Some(entry) = wanted
            && entry.research_consent != consent
        {
            apply_consent(connection, row.try_get("id")?, dataset_id, entry.research_consent).await?;
        }
    }
    Ok(())
}

/// Individuals, biosamples and the file's sample columns, in three set-based statements
/// whatever the number of samples (one round trip per sample made large cohorts slow).
async fn store_samples(
    connection: &mut PgConnection,
    dataset_id: &str,
    analysis_id: i64,
    sample_names: &[String],
    linked: &[Option<&ManifestSample>],
) -> Result<(), StoreError> {
    // One row per individual: a manifest may list two biosamples of one patient.
    let mut seen = std::collections::HashSet::new();
    let individuals: Vec<&ManifestSample> = linked
        .iter()
        .flatten()
        .copied()
        .filter(|entry| seen.insert(entry.individual_id.as_str()))
        .collect();
    let individual_rows: Vec<serde_json::Value> = individuals
        .iter()
        .map(|entry| {
            serde_json::json!({
                "pseudonym": entry.individual_id,
                "sex": entry.sex.as_str(),
                "country": entry.country,
                "region": entry.region,
                "indication": entry.indication,
                "care_centre": entry.care_centre,
                "age": entry.age,
                "age_days": entry.age.as_deref().and_then(|age| phare_ontology::parse_iso8601_age(age).ok()),
                "phenotypes": entry.phenotypes,
                "diseases": entry.diseases,
                "research_consent": entry.research_consent,
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO individuals
            (dataset_id, pseudonym, sex, country, region, indication, care_centre, age, age_days,
             phenotypes, diseases, research_consent)
         SELECT $1, r.pseudonym, r.sex, r.country, r.region, r.indication, r.care_centre, r.age, r.age_days,
                ARRAY(SELECT jsonb_array_elements_text(r.phenotypes)),
                ARRAY(SELECT jsonb_array_elements_text(r.diseases)),
                r.research_consent
         FROM jsonb_to_recordset($2::jsonb) AS r(pseudonym text, sex text, country text, region text,
              indication text, care_centre text, age text, age_days double precision, phenotypes jsonb,
              diseases jsonb, research_consent boolean)
         ON CONFLICT (dataset_id, pseudonym) DO UPDATE SET
            sex = excluded.sex, country = excluded.country, region = excluded.region,
            indication = excluded.indication, care_centre = excluded.care_centre,
            age = excluded.age, age_days = excluded.age_days,
            phenotypes = excluded.phenotypes,
            diseases = excluded.diseases, research_consent = excluded.research_consent",
    )
    .bind(dataset_id)
    .bind(serde_json::Value::Array(individual_rows))
    .execute(&mut *connection)
    .await?;
    let biosample_rows: Vec<serde_json::Value> = linked
        .iter()
        .flatten()
        .map(|entry| serde_json::json!({ "biosample": entry.biosample_id, "pseudonym": entry.individual_id }))
        .collect();
    sqlx::query(
        "INSERT INTO biosamples (dataset_id, external_id, individual_id)
         SELECT $1, r.biosample, i.id
         FROM jsonb_to_recordset($2::jsonb) AS r(biosample text, pseudonym text)
         JOIN individuals i ON i.dataset_id = $1 AND i.pseudonym = r.pseudonym
         ON CONFLICT (dataset_id, external_id) DO UPDATE SET individual_id = excluded.individual_id",
    )
    .bind(dataset_id)
    .bind(serde_json::Value::Array(biosample_rows))
    .execute(&mut *connection)
    .await?;
    let sample_rows: Vec<serde_json::Value> = sample_names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let entry = linked.get(index).copied().flatten();
            serde_json::json!({
                "sample_index": index,
                "sample_name": name,
                "biosample": entry.map(|entry| entry.biosample_id.as_str()),
                // Without a manifest the operator's publication of the file stands for consent.
                "research": entry.is_none_or(|entry| entry.research_consent),
            })
        })
        .collect();
    sqlx::query(
        "INSERT INTO analysis_samples (analysis_id, sample_index, sample_name, biosample_id, counted_in_research)
         SELECT $1, r.sample_index, r.sample_name, b.id, r.research
         FROM jsonb_to_recordset($3::jsonb) AS r(sample_index integer, sample_name text, biosample text, research boolean)
         LEFT JOIN biosamples b ON b.dataset_id = $2 AND b.external_id = r.biosample",
    )
    .bind(analysis_id)
    .bind(dataset_id)
    .bind(serde_json::Value::Array(sample_rows))
    .execute(&mut *connection)
    .await?;
    Ok(())
}

struct Loaded {
    records_read: u64,
    alleles: u64,
    /// Alleles whose counts came from INFO (an aggregate file).
    aggregate_alleles: u64,
    skipped: SkipCounts,
}

/// Streams the file into the staging table. The reader runs on a blocking thread and hands
/// binary COPY data over a bounded channel, so memory stays at a few chunks whatever the file size.
async fn copy_sites(
    connection: &mut PgConnection,
    mut reader: VariantReader,
    objectors: RoaringBitmap,
    progress: Option<Arc<AtomicU64>>,
) -> Result<Loaded, StoreError> {
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(4);
    let counter = reader.progress_counter();
    let producer = tokio::task::spawn_blocking(move || -> Result<Loaded, StoreError> {
        let mut site = Site::default();
        let mut chunk = Vec::with_capacity(COPY_CHUNK_BYTES + 4096);
        chunk.extend_from_slice(copy_binary::HEADER);
        let mut alleles = 0u64;
        let mut aggregate_alleles = 0u64;
        while reader.next_site(&mut site)? {
            let objector_allele_number = site.allele_number_of(&objectors);
            for calls in &site.alleles {
                encode_row(&mut chunk, &site, calls, &objectors, objector_allele_number)?;
                alleles += 1;
                if !calls.aggregates.is_empty() {
                    aggregate_alleles += 1;
                }
            }
            if chunk.len() >= COPY_CHUNK_BYTES {
                if let Some(progress) = &progress {
                    progress.store(counter.load(Ordering::Relaxed), Ordering::Relaxed);
                }
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(COPY_CHUNK_BYTES + 4096));
                if sender.blocking_send(full).is_err() {
                    break;
                }
            }
        }
        chunk.extend_from_slice(&copy_binary::TRAILER);
        // A closed channel means the database side failed; its error is the one reported.
        let _ignored = sender.blocking_send(chunk);
        if let Some(progress) = &progress {
            progress.store(counter.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        Ok(Loaded {
            records_read: reader.records_read(),
            alleles,
            aggregate_alleles,
            skipped: reader.skipped().clone(),
        })
    });

    let mut copy = connection
        .copy_in_raw(
            "COPY staging (contig, start, \"end\", reference, alternate, variant_type, allele_count, allele_number,
                homozygous, heterozygous, hemizygous, one_called, none_called, hom_count, het_count, hemi_count,
                research_ac, research_an, research_hom, research_het, research_hemi, aggregates, annotations)
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let mut send_error = None;
    while let Some(chunk) = receiver.recv().await {
        if let Err(error) = copy.send(chunk).await {
            send_error = Some(error);
            break;
        }
    }
    drop(receiver);
    let produced = producer
        .await
        .map_err(|error| StoreError::Internal(error.to_string()))?;
    match (produced, send_error) {
        (Err(read_error), _) => {
            copy.abort("input file rejected").await.ok();
            Err(read_error)
        }
        (Ok(_), Some(error)) => Err(error.into()),
        (Ok(loaded), None) => {
            copy.finish().await?;
            Ok(loaded)
        }
    }
}

/// The staging table's columns, in order.
const STAGING_COLUMNS: i16 = 23;

fn encode_row(
    chunk: &mut Vec<u8>,
    site: &Site,
    calls: &phare_vcf::AlleleCalls,
    objectors: &RoaringBitmap,
    objector_allele_number: u64,
) -> Result<(), StoreError> {
    let contig = site.contig.map(|contig| contig.name()).unwrap_or_default();
    let allele = &calls.allele;
    let aggregate_total = calls
        .aggregates
        .iter()
        .find(|aggregate| aggregate.population == "Total");
    let (allele_count, allele_number) = match aggregate_total {
        Some(total) => (total.allele_count.unwrap_or(0), total.allele_number.unwrap_or(0)),
        None => (i64::from(calls.allele_count), i64::from(site.allele_number)),
    };
    let (end, variant_type) = match calls.structural {
        Some(structural) => (structural.end, structural.kind),
        None => (allele.end(), allele.variant_type().beacon_term()),
    };
    let mut row = RowWriter::start(chunk, STAGING_COLUMNS);
    row.text(contig)?;
    row.count(allele.start)?;
    row.count(end)?;
    row.text(&allele.reference)?;
    row.text(&allele.alternate)?;
    row.text(variant_type)?;
    row.bigint(allele_count);
    row.bigint(allele_number);
    for bitmap in [
        &calls.homozygous,
        &calls.heterozygous,
        &calls.hemizygous,
        &site.one_called,
        &site.none_called,
    ] {
        row.bitmap(bitmap)?;
    }
    if let Some(total) = aggregate_total {
        // An aggregate file: its stated Total is both scopes' total (no individuals behind it).
        let homozygous = total.homozygous.unwrap_or(0);
        let heterozygous = total.heterozygous.unwrap_or(0);
        let hemizygous = total.hemizygous.unwrap_or(0);
        for value in [
            homozygous,
            heterozygous,
            hemizygous,
            allele_count,
            allele_number,
            homozygous,
            heterozygous,
            hemizygous,
        ] {
            row.bigint(value);
        }
        row.json(&calls.aggregates)?;
        return row.json(&calls.annotations);
    }
    let (homozygous, heterozygous, hemizygous) = (
        calls.homozygous.len(),
        calls.heterozygous.len(),
        calls.hemizygous.len(),
    );
    // The research scope is everything minus what the objecting patients contribute.
    let objector_homozygous = calls.homozygous.intersection_len(objectors);
    let objector_heterozygous = calls.heterozygous.intersection_len(objectors);
    let objector_hemizygous = calls.hemizygous.intersection_len(objectors);
    let objector_allele_count = 2 * objector_homozygous + objector_heterozygous + objector_hemizygous;
    for value in [
        homozygous,
        heterozygous,
        hemizygous,
        u64::from(calls.allele_count) - objector_allele_count,
        u64::from(site.allele_number) - objector_allele_number,
        homozygous - objector_homozygous,
        heterozygous - objector_heterozygous,
        hemizygous - objector_hemizygous,
    ] {
        row.count(value)?;
    }
    row.json(&calls.aggregates)?;
    row.json(&calls.annotations)
}
