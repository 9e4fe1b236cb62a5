//! The platform side of pushes (`phare submit`): each file becomes a submission, uploaded with
//! tus in checksummed chunks that resume from the node's offset after any failure, then watched
//! until the node has committed or rejected it. Also the operator's verbs: `phare platform` and
//! `phare submission`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use phare_store::{Platform, Store, SubmissionFilter, SubmissionState};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use crate::ConfigArg;

const TUS_VERSION: &str = "1.0.0";

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The node's base URL (https://…; the API is under /api)
    #[arg(long)]
    pub node: String,
    /// Dataset to submit to (the operator declared it for this platform)
    #[arg(long)]
    pub dataset: String,
    /// Sample manifest (JSON, docs/manifest.md)
    #[arg(long, value_name = "FILE.json")]
    pub manifest: Option<PathBuf>,
    /// Bearer token of the platform (role `platform`)
    #[arg(long, env = "PHARE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Also ingest records whose FILTER is not PASS
    #[arg(long)]
    pub include_filtered: bool,
    /// PEM certificate(s) to trust besides the system's (a private CA, a test proxy)
    #[arg(long, value_name = "FILE.pem")]
    pub ca_cert: Option<PathBuf>,
    /// Size of one uploaded chunk, in MiB
    #[arg(long, default_value_t = 8)]
    pub chunk_mib: u64,
    /// Failed requests in a row before giving up
    #[arg(long, default_value_t = 8)]
    pub retries: u32,
    /// Return once uploaded, without waiting for the ingest
    #[arg(long)]
    pub no_wait: bool,
    /// VCF (plain, gzip, BGZF) or BCF files
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum PlatformCommand {
    /// Declare a sequencing platform, or add datasets and set quotas of a declared one
    Add {
        /// The platform id its tokens name in `phare_platform`
        id: String,
        /// Dataset the platform may submit to (repeatable)
        #[arg(long = "dataset", required = true)]
        datasets: Vec<String>,
        #[arg(long)]
        name: Option<String>,
        /// Largest file it may push (default: [submissions] max_upload_bytes)
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
        max_upload_bytes: Option<i64>,
        /// Uploads (and received files waiting for ingest) it may have at once (default:
        /// [submissions] max_concurrent_uploads)
        #[arg(long, value_parser = clap::value_parser!(i32).range(1..))]
        max_concurrent_uploads: Option<i32>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List declared platforms
    List(ConfigArg),
}

#[derive(Subcommand, Debug)]
pub enum SubmissionCommand {
    /// List submissions, newest first
    List {
        #[arg(long)]
        platform: Option<String>,
        #[arg(long)]
        dataset: Option<String>,
        /// receiving, received, validating, ingesting, committed, rejected or expired
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// One submission in full
    Show {
        id: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

impl PlatformCommand {
    pub fn config(&self) -> &ConfigArg {
        match self {
            Self::Add { config, .. } | Self::List(config) => config,
        }
    }
}

impl SubmissionCommand {
    pub fn config(&self) -> &ConfigArg {
        match self {
            Self::List { config, .. } | Self::Show { config, .. } => config,
        }
    }
}

pub async fn platform(store: &Store, command: PlatformCommand) -> Result<()> {
    match command {
        PlatformCommand::Add {
            id,
            datasets,
            name,
            max_upload_bytes,
            max_concurrent_uploads,
            config: _,
        } => {
            let platform = Platform {
                name: name.unwrap_or_else(|| id.clone()),
                id: id.clone(),
                datasets: datasets.clone(),
                max_upload_bytes,
                max_concurrent_uploads,
            };
            let outcome = store.add_platform(&platform).await.map_err(anyhow::Error::from);
            let resource = format!("platform:{id} datasets:{}", datasets.join(","));
            crate::access::record_admin_action(store, "platform add", &resource, &outcome).await?;
            outcome?;
            println!("platform {id} may submit to {}", datasets.join(", "));
        }
        PlatformCommand::List(_) => {
            println!(
                "{:<20} {:<16} {:<16} {:<30} name",
                "id", "max upload", "max uploads", "datasets"
            );
            for platform in store.platforms().await? {
                let quota = |value: Option<String>| value.unwrap_or_else(|| "default".into());
                println!(
                    "{:<20} {:<16} {:<16} {:<30} {}",
                    platform.id,
                    quota(platform.max_upload_bytes.map(|bytes| bytes.to_string())),
                    quota(platform.max_concurrent_uploads.map(|count| count.to_string())),
                    platform.datasets.join(","),
                    platform.name
                );
            }
        }
    }
    Ok(())
}

pub async fn submission(store: &Store, command: SubmissionCommand) -> Result<()> {
    match command {
        SubmissionCommand::List {
            platform,
            dataset,
            state,
            limit,
            config: _,
        } => {
            let state = state
                .map(|text| text.parse::<SubmissionState>())
                .transpose()
                .map_err(|error| anyhow!("--state: {error}"))?;
            let filter = SubmissionFilter {
                platform_id: platform,
                dataset_id: dataset,
                state,
                limit,
            };
            println!(
                "{:<32} {:<12} {:<16} {:<11} {:>14} {:>9}  {:<20}  file",
                "id", "platform", "dataset", "state", "bytes", "analysis", "created"
            );
            for submission in store.submissions(&filter).await? {
                let state = submission.reported_state();
                println!(
                    "{:<32} {:<12} {:<16} {:<11} {:>14} {:>9}  {:<20}  {}",
                    submission.id,
                    submission.platform_id,
                    submission.dataset_id,
                    state,
                    format!("{}/{}", submission.upload_offset, submission.upload_length),
                    submission
                        .analysis_id
                        .map_or_else(|| "-".to_owned(), |id| id.to_string()),
                    submission.created_at,
                    submission.file_name
                );
            }
        }
        SubmissionCommand::Show { id, config: _ } => {
            let Some(submission) = store.submission(&id).await? else {
                bail!("no submission {id}");
            };
            println!("id:          {}", submission.id);
            println!("platform:    {}", submission.platform_id);
            println!("dataset:     {}", submission.dataset_id);
            println!(
                "file:        {} (sha256 {})",
                submission.file_name, submission.file_sha256
            );
            println!("state:       {}", submission.reported_state());
            println!(
                "uploaded:    {} of {} bytes",
                submission.upload_offset, submission.upload_length
            );
            println!(
                "ingested:    {} bytes read, {} records",
                submission.bytes_read, submission.records_read
            );
            if let Some(analysis) = submission.analysis_id {
                println!("analysis:    {analysis}");
            }
            if let Some(error) = &submission.error {
                println!("error:       {error}");
            }
            println!("created:     {}", submission.created_at);
            println!("updated:     {}", submission.updated_at);
        }
    }
    Ok(())
}

/// One node as the client sees it.
struct Node {
    client: reqwest::Client,
    base: String,
    token: String,
}

/// A failed request: worth retrying (the network, the node busy or restarting) or not.
enum Failure {
    Transient(String),
    Final(String),
}

impl Node {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("tus-resumable", TUS_VERSION)
    }
}

/// The message of a Beacon error envelope, or the status.
async fn error_message(response: reqwest::Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match body.pointer("/error/errorMessage").and_then(Value::as_str) {
        Some(message) => format!("{status}: {message}"),
        None => status.to_string(),
    }
}

/// Whether a failed call is worth repeating. A 409 is for an upload (the offset moved, another
/// PATCH runs: ask the offset again); for anything else it is final (the file is another
/// platform's).
fn classify(status: StatusCode, message: String) -> Failure {
    let transient = status.is_server_error()
        || matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT
        );
    if transient {
        Failure::Transient(message)
    } else {
        Failure::Final(message)
    }
}

fn classify_upload(status: StatusCode, message: String) -> Failure {
    let transient = status == StatusCode::CONFLICT || status.as_u16() == 460;
    if transient {
        Failure::Transient(message)
    } else {
        classify(status, message)
    }
}

fn client(args: &SubmitArgs) -> Result<reqwest::Client> {
    // reqwest is built without a default crypto provider; ring is the workspace's.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(Duration::from_secs(120));
    if let Some(path) = &args.ca_cert {
        let pem = std::fs::read(path).with_context(|| format!("--ca-cert {}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("--ca-cert {}: not PEM certificates", path.display()))?;
        builder = builder.tls_certs_merge(certificates);
    }
    Ok(builder.build()?)
}

pub async fn run(args: &SubmitArgs) -> Result<()> {
    if args.chunk_mib == 0 || args.chunk_mib > 1024 {
        bail!("--chunk-mib: 1 to 1024");
    }
    let manifest: Option<Value> = match &args.manifest {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?)
        }
        None => None,
    };
    let node = Node {
        client: client(args)?,
        base: args.node.trim_end_matches('/').to_owned(),
        token: args.token.clone(),
    };
    let mut failed = Vec::new();
    for file in &args.files {
        if let Err(error) = submit_file(&node, args, file, manifest.as_ref()).await {
            eprintln!("error: {}: {error:#}", file.display());
            failed.push(file.display().to_string());
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} files not committed: {}",
            failed.len(),
            args.files.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

async fn submit_file(node: &Node, args: &SubmitArgs, file: &Path, manifest: Option<&Value>) -> Result<()> {
    let length = tokio::fs::metadata(file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    let path = file.to_path_buf();
    let digest = tokio::task::spawn_blocking(move || phare_store::sha256_of(&path)).await??;
    let file_name = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    let creation = json!({
        "dataset": args.dataset,
        "fileName": file_name,
        "length": length,
        "sha256": hex::encode(digest),
        "manifest": manifest,
        "includeFiltered": args.include_filtered,
    });
    let mut status = json_call(args.retries, || {
        node.request(reqwest::Method::POST, "/api/submissions")
            .json(&creation)
    })
    .await?;
    let id = text(&status, "id")?;
    if text(&status, "state")? == "receiving" {
        upload(node, args, file, &id, length).await?;
    }
    if args.no_wait {
        println!("{}: uploaded as submission {id}", file.display());
        return Ok(());
    }
    loop {
        let state = text(&status, "state")?;
        match state.as_str() {
            "committed" | "superseded" => {
                println!(
                    "{}: {state} into {} as analysis {} (submission {id})",
                    file.display(),
                    args.dataset,
                    status.get("analysisId").unwrap_or(&Value::Null)
                );
                return Ok(());
            }
            "rejected" | "expired" => {
                let error = status
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given");
                bail!("submission {id} {state}: {error}");
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        status = json_call(args.retries, || {
            node.request(reqwest::Method::GET, &format!("/api/submissions/{id}"))
        })
        .await?;
    }
}

fn text(document: &Value, field: &str) -> Result<String> {
    document
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the node's answer has no `{field}`"))
}

/// Sends the request `make` builds and reads its JSON answer, retrying as [`retrying`] does.
async fn json_call(retries: u32, make: impl Fn() -> reqwest::RequestBuilder) -> Result<Value> {
    retrying(retries, || async {
        let response = make()
            .send()
            .await
            .map_err(|error| Failure::Transient(error.to_string()))?;
        if response.status().is_success() {
            return response
                .json::<Value>()
                .await
                .map_err(|error| Failure::Transient(error.to_string()));
        }
        let code = response.status();
        Err(classify(code, error_message(response).await))
    })
    .await
}

/// Runs `call` until it succeeds, fails for good, or fails `retries` times in a row, waiting
/// longer after each failure (0.5 s doubling, at most 30 s).
async fn retrying<T, F, Fut>(retries: u32, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, Failure>>,
{
    let mut wait = Duration::from_millis(500);
    let mut failures = 0;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(Failure::Final(message)) => bail!("{message}"),
            Err(Failure::Transient(message)) => {
                failures += 1;
                if failures > retries {
                    bail!("{message} (gave up after {retries} retries)");
                }
                tracing::warn!(error = %message, retry_in_ms = wait.as_millis() as u64, "request failed: retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Uploads from the node's offset to the end, one checksummed chunk per PATCH. After any failure
/// the offset is asked again (HEAD), so a chunk the node did not keep is sent again and one it
/// kept is not.
async fn upload(node: &Node, args: &SubmitArgs, file: &Path, id: &str, length: u64) -> Result<()> {
    let upload_path = format!("/api/submissions/{id}/file");
    let chunk_bytes = args.chunk_mib << 20;
    let bar = progress_bar(file, length);
    let mut source = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut buffer = Vec::with_capacity(usize::try_from(chunk_bytes.min(length))?);
    let mut offset = None;
    let mut failures = 0u32;
    let mut wait = Duration::from_millis(500);
    loop {
        let result: std::result::Result<Option<u64>, Failure> = async {
            let start = match offset {
                Some(known) => known,
                None => node_offset(node, &upload_path).await?,
            };
            if start >= length {
                return Ok(None);
            }
            let size = chunk_bytes.min(length - start);
            buffer.clear();
            source
                .seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|error| Failure::Final(error.to_string()))?;
            (&mut source)
                .take(size)
                .read_to_end(&mut buffer)
                .await
                .map_err(|error| Failure::Final(error.to_string()))?;
            if buffer.len() as u64 != size {
                return Err(Failure::Final("the file changed while it was uploaded".into()));
            }
            let checksum = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&buffer));
            let response = node
                .request(reqwest::Method::PATCH, &upload_path)
                .header("upload-offset", start)
                .header("upload-checksum", format!("sha256 {checksum}"))
                .header(reqwest::header::CONTENT_TYPE, "application/offset+octet-stream")
                .body(buffer.clone())
                .send()
                .await
                .map_err(|error| Failure::Transient(error.to_string()))?;
            if response.status() != StatusCode::NO_CONTENT {
                let code = response.status();
                return Err(classify_upload(code, error_message(response).await));
            }
            let reached = response
                .headers()
                .get("upload-offset")
                .and_then(|value| value.to_str().ok())
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(|| Failure::Transient("no Upload-Offset in the answer".into()))?;
            Ok(Some(reached))
        }
        .await;
        match result {
            Ok(None) => break,
            Ok(Some(reached)) => {
                offset = Some(reached);
                failures = 0;
                wait = Duration::from_millis(500);
                if let Some(bar) = &bar {
                    bar.set_position(reached);
                }
                if reached >= length {
                    break;
                }
            }
            Err(Failure::Final(message)) => bail!("upload refused: {message}"),
            Err(Failure::Transient(message)) => {
                failures += 1;
                if failures > args.retries {
                    bail!(
                        "upload failed: {message} (gave up after {} retries)",
                        args.retries
                    );
                }
                tracing::warn!(error = %message, retry_in_ms = wait.as_millis() as u64, "upload interrupted: resuming");
                offset = None;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(())
}

async fn node_offset(node: &Node, upload_path: &str) -> std::result::Result<u64, Failure> {
    let response = node
        .request(reqwest::Method::HEAD, upload_path)
        .send()
        .await
        .map_err(|error| Failure::Transient(error.to_string()))?;
    if !response.status().is_success() {
        let code = response.status();
        return Err(classify_upload(code, format!("HEAD {upload_path}: {code}")));
    }
    response
        .headers()
        .get("upload-offset")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| Failure::Transient("no Upload-Offset in the answer".into()))
}

fn progress_bar(file: &Path, length: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(length);
    let style =
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
            .map(|style| style.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(file.display().to_string());
    Some(bar)
}
