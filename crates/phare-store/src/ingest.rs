//! Atomic ingestion of one VCF/BCF file into a dataset.
//!
//! Everything happens in one transaction: the analysis row, its samples, the new variants,
//! the carrier sets and the count increments. A bad record half-way, a killed process or a lost
//! connection rolls all of it back. Records are read on a blocking thread into batches of
//! alleles; each batch's carrier sets are `COPY`ed once, straight into `analysis_variants`, and
//! its totals added to `variant_counts`, while the next batch is read (decision 0034).

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
    /// Alleles per batch ([`INGEST_BATCH_ALLELES`] unless a test wants its batch boundaries
    /// somewhere in a small file).
    pub batch_alleles: usize,
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
            batch_alleles: INGEST_BATCH_ALLELES,
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
        // The fingerprint is taken on a thread of its own while the dataset is looked up and the
        // file's header read, and checked before anything is written (decision 0054).
        let hashing = {
            let path = request.path.clone();
            let known = request.file_sha256;
            tokio::task::spawn_blocking(move || match known {
                Some(known) => Ok(known),
                None => sha256_of(&path),
            })
        };
        let dataset = self.dataset(&request.dataset_id).await?;
        let options = ReadOptions {
            assembly: dataset.assembly,
            pass_only: request.pass_only,
            limits: request.limits.clone(),
            reference_fasta: request.reference_fasta.clone(),
        };
        let path = request.path.clone();
        let opening = tokio::task::spawn_blocking(move || VariantReader::open(&path, options));
        let file_sha256 = hashing
            .await
            .map_err(|error| StoreError::Internal(error.to_string()))??;
        if let Some(analysis_id) = self.analysis_by_sha(&dataset.id, &file_sha256).await? {
            return Ok(IngestOutcome::AlreadyIngested {
                analysis_id,
                file_sha256: hex::encode(file_sha256),
            });
        }
        let mut reader = opening
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
        // The dataset's first analysis: it holds no counts yet (analyses are never deleted, and
        // only ingests, one at a time per dataset, add counts), so they are inserted, not
        // upserted (decision 0060).
        let first_analysis: bool = sqlx::query(
            "SELECT NOT EXISTS (SELECT 1 FROM analyses WHERE dataset_id = $1 AND id <> $2) AS first",
        )
        .bind(&dataset.id)
        .bind(analysis_id)
        .fetch_one(&mut *transaction)
        .await?
        .try_get("first")?;

        // The file is read from here on, on its own thread, while the sample rows are written:
        // its first batch is ready when they are (decision 0059).
        let copy_started = std::time::Instant::now();
        let reading = start_reading(
            reader,
            Reading {
                analysis_id,
                objectors,
                progress: request.progress.clone(),
                batch_alleles: request.batch_alleles.max(1),
                display_path: display_path.clone(),
            },
        );
        let superseded_samples =
            supersede_previous(&mut transaction, &dataset.id, analysis_id, &linked).await?;
        reconcile_consent(&mut transaction, &dataset.id, &linked).await?;
        store_samples(&mut transaction, &dataset.id, analysis_id, &sample_names, &linked).await?;

        // The annotations and population counts of the alleles that have some, merged at the end
        // of the file; carrier sets and totals are written batch by batch as the file is read.
        sqlx::query(
            "CREATE TEMPORARY TABLE staging (variant_id bigint, aggregates jsonb, annotations jsonb) ON COMMIT DROP",
        )
        .execute(&mut *transaction)
        .await?;
        let totals = if first_analysis {
            Totals::Insert
        } else {
            Totals::Add
        };
        let loaded = write_batches(&mut transaction, reading, &dataset.id, totals, &display_path).await?;

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
        let (span_contigs, span_lengths): (Vec<&str>, Vec<i64>) = loaded
            .spans
            .iter()
            .map(|(contig, length)| (*contig, *length))
            .unzip();
        sqlx::query(
            "INSERT INTO contig_spans (contig, max_length)
             SELECT * FROM unnest($1::text[], $2::bigint[])
             ON CONFLICT (contig) DO UPDATE SET max_length = GREATEST(contig_spans.max_length, excluded.max_length)",
        )
        .bind(&span_contigs)
        .bind(&span_lengths)
        .execute(&mut *transaction)
        .await?;
        sqlx::query(
            "INSERT INTO variant_annotations (variant_id, gene, protein_change, effect)
             SELECT DISTINCT s.variant_id, a.gene, coalesce(a.protein_change, ''), coalesce(a.effect, '')
             FROM staging s
             CROSS JOIN LATERAL jsonb_to_recordset(s.annotations) AS a(gene text, protein_change text, effect text)
             WHERE s.annotations IS NOT NULL
             ON CONFLICT DO NOTHING",
        )
        .execute(&mut *transaction)
        .await?;
        if aggregate {
            sqlx::query(
                "INSERT INTO aggregate_counts
                    (variant_id, dataset_id, population, allele_count, allele_number, homozygous, heterozygous, hemizygous)
                 SELECT s.variant_id, $1, a.population, a.allele_count, a.allele_number, a.homozygous, a.heterozygous, a.hemizygous
                 FROM staging s
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
            new_variants: loaded.new_variants,
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
    /// Alleles this file added to the dictionary.
    new_variants: u64,
    /// The longest reference span of the file's alleles on each contig.
    spans: BTreeMap<&'static str, i64>,
    skipped: SkipCounts,
}

/// What reading one file into batches needs besides its reader.
struct Reading {
    analysis_id: i64,
    objectors: RoaringBitmap,
    progress: Option<Arc<AtomicU64>>,
    batch_alleles: usize,
    display_path: String,
}

/// A file being read into batches on a blocking thread (see [`start_reading`]).
struct Batches {
    producer: tokio::task::JoinHandle<Result<Loaded, StoreError>>,
    receiver: mpsc::Receiver<Batch>,
    recycler: mpsc::Sender<Batch>,
}

/// How a batch's totals reach `variant_counts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Totals {
    /// The dataset has no counts yet: plain rows.
    Insert,
    /// Added to the dataset's counts, a row created for an allele it does not count yet.
    Add,
}

/// Rows of a binary `COPY` without their first field, the variant id, which only the
/// dictionary gives: the rows are encoded while the file is read, the ids spliced in after.
#[derive(Default)]
struct Tails {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Tails {
    fn finish_row(&mut self) {
        self.ends.push(self.bytes.len());
    }
}

/// A batch of alleles: their dictionary keys, their `analysis_variants` rows, their
/// `variant_counts` totals, and the `staging` rows of those with annotations or population
/// counts.
#[derive(Default)]
struct Batch {
    contigs: Vec<&'static str>,
    starts: Vec<i64>,
    ends: Vec<i64>,
    references: Vec<String>,
    alternates: Vec<String>,
    variant_types: Vec<&'static str>,
    carriers: Tails,
    /// `variant_counts`' ten count columns, in table order, per allele.
    totals: Vec<[i64; 10]>,
    staged: Tails,
    /// The batch position of each `staged` row.
    staged_positions: Vec<usize>,
}

impl Batch {
    /// Empties the batch, keeping its buffers for the next one.
    fn clear(&mut self) {
        self.contigs.clear();
        self.starts.clear();
        self.ends.clear();
        self.references.clear();
        self.alternates.clear();
        self.variant_types.clear();
        self.carriers.bytes.clear();
        self.carriers.ends.clear();
        self.totals.clear();
        self.staged.bytes.clear();
        self.staged.ends.clear();
        self.staged_positions.clear();
    }

    fn len(&self) -> usize {
        self.contigs.len()
    }

    fn bytes(&self) -> usize {
        self.carriers.bytes.len() + self.staged.bytes.len()
    }

    /// The keys at `positions`, in that order.
    fn keys_at(&self, positions: &[usize]) -> Batch {
        let mut keys = Batch::default();
        for &position in positions {
            keys.contigs.push(self.contigs[position]);
            keys.starts.push(self.starts[position]);
            keys.ends.push(self.ends[position]);
            keys.references.push(self.references[position].clone());
            keys.alternates.push(self.alternates[position].clone());
            keys.variant_types.push(self.variant_types[position]);
        }
        keys
    }
}

/// Alleles per batch by default: each batch costs a few statements and two `COPY`s.
pub const INGEST_BATCH_ALLELES: usize = 10_000;

/// A batch is sent before it has its alleles once its rows reach this size, so that wide
/// cohorts (large carrier sets) keep the client's memory bounded.
const BATCH_BYTES: usize = 4 << 20;

/// Fields of an `analysis_variants` row, the variant id included.
const CARRIER_FIELDS: i16 = 9;

/// Fields of a `staging` row, the variant id included.
const STAGING_FIELDS: i16 = 3;

/// Starts reading the file into batches. The reader runs on a blocking thread and hands
/// batches over a channel of one, so that it decodes the next batch while [`write_batches`]
/// writes the last one, and memory stays at a few batches whatever the file size. Dropping the
/// result stops the reader at its next batch.
fn start_reading(mut reader: VariantReader, reading: Reading) -> Batches {
    let (sender, receiver) = mpsc::channel::<Batch>(1);
    // Written batches come back emptied, so that their buffers are allocated once per ingest
    // rather than grown anew for every batch.
    let (recycler, mut recycled) = mpsc::channel::<Batch>(2);
    let counter = reader.progress_counter();
    let Reading {
        analysis_id,
        objectors,
        progress,
        batch_alleles,
        display_path: reader_path,
    } = reading;
    let producer = tokio::task::spawn_blocking(move || -> Result<Loaded, StoreError> {
        let mut site = Site::default();
        let mut batch = Batch::default();
        let mut spans: BTreeMap<&'static str, i64> = BTreeMap::new();
        let mut alleles = 0u64;
        let mut aggregate_alleles = 0u64;
        'reading: while reader.next_site(&mut site)? {
            let objector_allele_number = site.allele_number_of(&objectors);
            for calls in &site.alleles {
                let key = encode_allele(
                    &mut batch,
                    analysis_id,
                    &site,
                    calls,
                    &objectors,
                    objector_allele_number,
                )
                .map_err(|message| StoreError::Input {
                    path: reader_path.clone(),
                    message: format!("{}:{}: {message}", key_contig(&site), site.position),
                })?;
                let span = spans.entry(key.contig).or_insert(key.span);
                *span = (*span).max(key.span);
                alleles += 1;
                if !calls.aggregates.is_empty() {
                    aggregate_alleles += 1;
                }
                if batch.len() >= batch_alleles || batch.bytes() >= BATCH_BYTES {
                    if let Some(progress) = &progress {
                        progress.store(counter.load(Ordering::Relaxed), Ordering::Relaxed);
                    }
                    // A closed channel means the database side failed; its error is the one reported.
                    let next = recycled.try_recv().unwrap_or_default();
                    if sender.blocking_send(std::mem::replace(&mut batch, next)).is_err() {
                        break 'reading;
                    }
                }
            }
        }
        if batch.len() > 0 {
            let _ignored = sender.blocking_send(batch);
        }
        if let Some(progress) = &progress {
            progress.store(counter.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        Ok(Loaded {
            records_read: reader.records_read(),
            alleles,
            aggregate_alleles,
            new_variants: 0,
            spans,
            skipped: reader.skipped().clone(),
        })
    });
    Batches {
        producer,
        receiver,
        recycler,
    }
}

/// Writes the batches of [`start_reading`] as they come, then returns what was read.
async fn write_batches(
    connection: &mut PgConnection,
    batches: Batches,
    dataset_id: &str,
    totals: Totals,
    display_path: &str,
) -> Result<Loaded, StoreError> {
    let Batches {
        producer,
        mut receiver,
        recycler,
    } = batches;
    let mut new_variants = 0u64;
    let mut write_error = None;
    while let Some(mut batch) = receiver.recv().await {
        match write_batch(connection, &batch, dataset_id, totals, display_path).await {
            Ok(added) => {
                new_variants += added;
                batch.clear();
                // Full when the reader has enough spare batches: this one is then dropped.
                let _spare = recycler.try_send(batch);
            }
            Err(error) => {
                write_error = Some(error);
                break;
            }
        }
    }
    drop(receiver);
    let produced = producer
        .await
        .map_err(|error| StoreError::Internal(error.to_string()))?;
    match (produced, write_error) {
        (Err(read_error), _) => Err(read_error),
        (Ok(_), Some(error)) => Err(error),
        (Ok(loaded), None) => Ok(Loaded {
            new_variants,
            ..loaded
        }),
    }
}

/// One batch into the dictionary, `analysis_variants`, `variant_counts` and `staging`; returns
/// how many of its alleles were new to the dictionary.
async fn write_batch(
    connection: &mut PgConnection,
    batch: &Batch,
    dataset_id: &str,
    totals: Totals,
    display_path: &str,
) -> Result<u64, StoreError> {
    let (ids, new_variants) = variant_ids(connection, batch).await?;
    let carriers = copy_spliced(
        connection,
        "COPY analysis_variants (variant_id, analysis_id, allele_count, allele_number, homozygous, heterozygous,
            hemizygous, one_called, none_called) FROM STDIN (FORMAT binary)",
        CARRIER_FIELDS,
        &ids,
        &batch.carriers,
    )
    .await;
    // The same normalised allele twice in one file, in one batch or two, breaks the key.
    if let Err(sqlx::Error::Database(database_error)) = &carriers
        && database_error.is_unique_violation()
    {
        return Err(StoreError::Input {
            path: display_path.to_owned(),
            message: "the file holds the same normalised allele in two records; normalise and deduplicate it (bcftools norm -m- -d exact) before ingesting".into(),
        });
    }
    carriers?;
    // After analysis_variants: an allele given twice has failed there, and cannot be counted twice.
    add_totals(connection, dataset_id, &ids, &batch.totals, totals).await?;
    if !batch.staged_positions.is_empty() {
        let staged_ids: Vec<i64> = batch
            .staged_positions
            .iter()
            .map(|&position| ids[position])
            .collect();
        copy_spliced(
            connection,
            "COPY staging (variant_id, aggregates, annotations) FROM STDIN (FORMAT binary)",
            STAGING_FIELDS,
            &staged_ids,
            &batch.staged,
        )
        .await?;
    }
    Ok(new_variants)
}

/// The dictionary ids of a batch's alleles, in the batch's order, adding the alleles it does
/// not hold yet; returns the ids and how many were added.
async fn variant_ids(connection: &mut PgConnection, batch: &Batch) -> Result<(Vec<i64>, u64), StoreError> {
    let mut ids: Vec<Option<i64>> = vec![None; batch.len()];
    for (position, id) in known_ids(connection, batch).await? {
        ids[position] = Some(id);
    }
    let missing: Vec<usize> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| id.is_none())
        .map(|(position, _)| position)
        .collect();
    let mut added = 0;
    if !missing.is_empty() {
        let keys = batch.keys_at(&missing);
        // New alleles lock their keys until commit, and two ingests adding overlapping keys in
        // different orders, batch after batch, would deadlock: they add them one at a time.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('phare.ingest.variants'))")
            .execute(&mut *connection)
            .await?;
        added = sqlx::query(
            "INSERT INTO variants (contig, start, \"end\", reference, alternate, variant_type)
             SELECT DISTINCT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[])
                 AS k(contig, start, \"end\", reference, alternate, variant_type)
             ORDER BY contig, start, \"end\", reference, alternate
             ON CONFLICT (contig, start, \"end\", reference, alternate) DO NOTHING",
        )
        .bind(&keys.contigs)
        .bind(&keys.starts)
        .bind(&keys.ends)
        .bind(&keys.references)
        .bind(&keys.alternates)
        .bind(&keys.variant_types)
        .execute(&mut *connection)
        .await?
        .rows_affected();
        for (position, id) in known_ids(connection, &keys).await? {
            ids[missing[position]] = Some(id);
        }
    }
    let ids = ids.into_iter().collect::<Option<Vec<i64>>>().ok_or_else(|| {
        StoreError::Internal("an allele added to the dictionary was not found in it".into())
    })?;
    Ok((ids, added))
}

/// Adds a batch's totals to the dataset's `variant_counts`, one array per column.
async fn add_totals(
    connection: &mut PgConnection,
    dataset_id: &str,
    ids: &[i64],
    totals: &[[i64; 10]],
    how: Totals,
) -> Result<(), StoreError> {
    let columns: Vec<Vec<i64>> = (0..10)
        .map(|column| totals.iter().map(|row| row[column]).collect())
        .collect();
    let statement = match how {
        Totals::Insert => INSERT_TOTALS,
        Totals::Add => ADD_TOTALS,
    };
    sqlx::query(statement)
        .bind(dataset_id)
        .bind(ids)
        .bind(&columns[0])
        .bind(&columns[1])
        .bind(&columns[2])
        .bind(&columns[3])
        .bind(&columns[4])
        .bind(&columns[5])
        .bind(&columns[6])
        .bind(&columns[7])
        .bind(&columns[8])
        .bind(&columns[9])
        .execute(&mut *connection)
        .await?;
    Ok(())
}

/// A batch's totals as rows of `variant_counts`, from one array per column.
macro_rules! insert_totals {
    () => {
        "INSERT INTO variant_counts
            (variant_id, dataset_id, allele_count, allele_number, homozygous, heterozygous, hemizygous,
             research_allele_count, research_allele_number, research_homozygous, research_heterozygous,
             research_hemizygous)
         SELECT t.variant_id, $1, t.allele_count, t.allele_number, t.homozygous, t.heterozygous, t.hemizygous,
                t.research_allele_count, t.research_allele_number, t.research_homozygous, t.research_heterozygous,
                t.research_hemizygous
         FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
                     $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])
             AS t(variant_id, allele_count, allele_number, homozygous, heterozygous, hemizygous,
                  research_allele_count, research_allele_number, research_homozygous, research_heterozygous,
                  research_hemizygous)"
    };
}

/// A batch's totals as new rows of `variant_counts`. The speculative insertion of `ON CONFLICT`
/// cost a third of the statement (decision 0060).
const INSERT_TOTALS: &str = insert_totals!();

/// A batch's totals added to the dataset's counts.
const ADD_TOTALS: &str = concat!(
    insert_totals!(),
    "
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
            research_hemizygous = variant_counts.research_hemizygous + excluded.research_hemizygous"
);

/// (position in the batch, id) of the batch's alleles the dictionary holds.
async fn known_ids(connection: &mut PgConnection, batch: &Batch) -> Result<Vec<(usize, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT k.position, v.id
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[])
             WITH ORDINALITY AS k(contig, start, \"end\", reference, alternate, position)
         JOIN variants v ON v.contig = k.contig AND v.start = k.start AND v.\"end\" = k.\"end\"
             AND v.reference = k.reference AND v.alternate = k.alternate",
    )
    .bind(&batch.contigs)
    .bind(&batch.starts)
    .bind(&batch.ends)
    .bind(&batch.references)
    .bind(&batch.alternates)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            let ordinal: i64 = row.try_get("position")?;
            let position = usize::try_from(ordinal - 1)
                .map_err(|_| StoreError::Internal(format!("batch position {ordinal} out of range")))?;
            Ok((position, row.try_get("id")?))
        })
        .collect()
}

/// `COPY`s a batch's rows, each its variant id then its encoded tail, in chunks.
async fn copy_spliced(
    connection: &mut PgConnection,
    statement: &str,
    fields: i16,
    ids: &[i64],
    tails: &Tails,
) -> Result<(), sqlx::Error> {
    let mut copy = connection.copy_in_raw(statement).await?;
    let mut chunk = Vec::with_capacity(COPY_CHUNK_BYTES + 4096);
    chunk.extend_from_slice(copy_binary::HEADER);
    let mut start = 0;
    for (id, &end) in ids.iter().zip(&tails.ends) {
        copy_binary::splice_row(&mut chunk, fields, *id, &tails.bytes[start..end]);
        start = end;
        if chunk.len() >= COPY_CHUNK_BYTES {
            copy.send(std::mem::replace(
                &mut chunk,
                Vec::with_capacity(COPY_CHUNK_BYTES + 4096),
            ))
            .await?;
        }
    }
    chunk.extend_from_slice(&copy_binary::TRAILER);
    copy.send(chunk).await?;
    copy.finish().await?;
    Ok(())
}

fn key_contig(site: &Site) -> &'static str {
    site.contig.map(|contig| contig.name()).unwrap_or_default()
}

/// An allele's contig and reference span, for `contig_spans`.
struct Key {
    contig: &'static str,
    span: i64,
}

/// Appends one allele to the batch: its key, its `analysis_variants` row (without the variant
/// id), its totals, and its `staging` row if it has annotations or population counts. An error
/// is a message about the record.
fn encode_allele(
    batch: &mut Batch,
    analysis_id: i64,
    site: &Site,
    calls: &phare_vcf::AlleleCalls,
    objectors: &RoaringBitmap,
    objector_allele_number: u64,
) -> Result<Key, String> {
    let contig = key_contig(site);
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
    let start =
        i64::try_from(allele.start).map_err(|_| format!("position {} is out of range", allele.start))?;
    let end = i64::try_from(end).map_err(|_| format!("end {end} is out of range"))?;
    let stored_count = i32::try_from(allele_count)
        .map_err(|_| format!("allele count {allele_count} does not fit the store's 32-bit counts"))?;
    let stored_number = i32::try_from(allele_number)
        .map_err(|_| format!("allele number {allele_number} does not fit the store's 32-bit counts"))?;
    batch.contigs.push(contig);
    batch.starts.push(start);
    batch.ends.push(end);
    batch.references.push(allele.reference.clone());
    batch.alternates.push(allele.alternate.clone());
    batch.variant_types.push(variant_type);

    let internal = |error: StoreError| error.to_string();
    let mut carrier_row = RowWriter::tail(&mut batch.carriers.bytes);
    carrier_row.bigint(analysis_id);
    carrier_row.integer(stored_count);
    carrier_row.integer(stored_number);
    for bitmap in [
        &calls.homozygous,
        &calls.heterozygous,
        &calls.hemizygous,
        &site.one_called,
        &site.none_called,
    ] {
        carrier_row.bitmap(bitmap).map_err(internal)?;
    }
    batch.carriers.finish_row();

    let counts = match aggregate_total {
        // An aggregate file: its stated Total is both scopes' total (no individuals behind it).
        Some(total) => {
            let homozygous = total.homozygous.unwrap_or(0);
            let heterozygous = total.heterozygous.unwrap_or(0);
            let hemizygous = total.hemizygous.unwrap_or(0);
            [
                homozygous,
                heterozygous,
                hemizygous,
                allele_count,
                allele_number,
                homozygous,
                heterozygous,
                hemizygous,
            ]
        }
        None => research_counts(site, calls, objectors, objector_allele_number)?,
    };
    let mut totals = [allele_count, allele_number, 0, 0, 0, 0, 0, 0, 0, 0];
    totals[2..].copy_from_slice(&counts);
    batch.totals.push(totals);
    if !calls.aggregates.is_empty() || !calls.annotations.is_empty() {
        let mut staged_row = RowWriter::tail(&mut batch.staged.bytes);
        staged_row.json(&calls.aggregates).map_err(internal)?;
        staged_row.json(&calls.annotations).map_err(internal)?;
        batch.staged.finish_row();
        batch.staged_positions.push(batch.contigs.len() - 1);
    }
    Ok(Key {
        contig,
        span: end - start,
    })
}

/// Care-scope genotype counts, then the research scope's: everything minus what the objecting
/// patients contribute.
fn research_counts(
    site: &Site,
    calls: &phare_vcf::AlleleCalls,
    objectors: &RoaringBitmap,
    objector_allele_number: u64,
) -> Result<[i64; 8], String> {
    let (homozygous, heterozygous, hemizygous) = (
        calls.homozygous.len(),
        calls.heterozygous.len(),
        calls.hemizygous.len(),
    );
    let objector_homozygous = calls.homozygous.intersection_len(objectors);
    let objector_heterozygous = calls.heterozygous.intersection_len(objectors);
    let objector_hemizygous = calls.hemizygous.intersection_len(objectors);
    let objector_allele_count = 2 * objector_homozygous + objector_heterozygous + objector_hemizygous;
    let mut counts = [0i64; 8];
    for (slot, value) in counts.iter_mut().zip([
        homozygous,
        heterozygous,
        hemizygous,
        u64::from(calls.allele_count) - objector_allele_count,
        u64::from(site.allele_number) - objector_allele_number,
        homozygous - objector_homozygous,
        heterozygous - objector_heterozygous,
        hemizygous - objector_hemizygous,
    ]) {
        *slot = i64::try_from(value).map_err(|_| format!("count {value} is out of range"))?;
    }
    Ok(counts)
}
