//! Platforms push files over HTTPS (issue #9). A submission is created with its manifest
//! (`POST /api/submissions`, JSON), its file is uploaded with the tus 1.0 core protocol and the
//! checksum extension at the URL the creation answers in `Location` (`HEAD` gives the offset to
//! resume from, `PATCH` appends), and a background worker (`worker.rs`) ingests it once
//! complete. These routes have a gate of their own: uploads stream to disk, so the body is never
//! buffered as the Beacon gate does, and only declared platforms pass.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, head};
use base64::Engine as _;
use futures::StreamExt as _;
use phare_access::Caller;
use phare_beacon::BeaconError;
use phare_domain::{Assembly, Manifest};
use phare_store::{
    AuditDecision, AuditEntry, Limits, NewSubmission, Platform, Submission, SubmissionCreated,
    SubmissionFilter, SubmissionState,
};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
use tokio::sync::Notify;

use crate::request_log::{CallerTier, RequestId};
use crate::{ApiError, AppState};

pub(crate) const TUS_VERSION: &str = "1.0.0";
const TUS_EXTENSIONS: &str = "checksum";
const CHECKSUM_ALGORITHMS: &str = "sha256";
const OFFSET_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// A creation request carries the manifest: a few megabytes for thousands of samples.
const MAX_CREATION_BYTES: usize = 32 << 20;
/// tus 1.0 checksum extension: the chunk's checksum did not match.
const CHECKSUM_MISMATCH: u16 = 460;

/// How platforms may push: where uploads go, the default quotas, what ingest applies.
#[derive(Clone, Debug)]
pub struct SubmissionSettings {
    /// Partial and received files, one per submission, named by its id.
    pub upload_dir: PathBuf,
    /// Largest file a platform may push, unless its registry entry says otherwise.
    pub max_upload_bytes: u64,
    /// Uploads a platform may have under way at once, unless its registry entry says otherwise.
    pub max_concurrent_uploads: u32,
    /// An upload that receives nothing for this long expires and its bytes are removed.
    pub upload_expiry: Duration,
    pub limits: Limits,
    /// Reference genomes per assembly (left-alignment at ingest).
    pub references: Vec<(Assembly, PathBuf)>,
}

/// The node's submission machinery: settings, and what uploads hand over to the worker.
#[derive(Debug)]
pub(crate) struct Submissions {
    pub(crate) settings: SubmissionSettings,
    /// Running SHA-256 of uploads in progress, by id, with the offset it has reached: the whole
    /// file is then verified without reading it again. Lost on restart (the worker re-reads).
    running: Mutex<HashMap<String, (u64, Sha256)>>,
    /// Whole-file SHA-256 of completed uploads, checked against the declared one.
    verified: Mutex<HashMap<String, [u8; 32]>>,
    /// Uploads with a PATCH in progress: a second one at the same time is refused.
    busy: Mutex<HashSet<String>>,
    pub(crate) wakeup: Notify,
}

impl Submissions {
    pub(crate) fn new(settings: SubmissionSettings) -> Self {
        Self {
            settings,
            running: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
            busy: Mutex::new(HashSet::new()),
            wakeup: Notify::new(),
        }
    }

    pub(crate) fn upload_path(&self, id: &str) -> PathBuf {
        self.settings.upload_dir.join(id)
    }

    /// The verified SHA-256 of a completed upload, if this process saw all of it.
    pub(crate) fn take_verified(&self, id: &str) -> Option<[u8; 32]> {
        self.verified.lock().ok()?.remove(id)
    }

    /// Drops what this process remembers of an upload (it failed, expired, or is over).
    pub(crate) fn forget(&self, id: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(id);
        }
        if let Ok(mut verified) = self.verified.lock() {
            verified.remove(id);
        }
    }
}

/// Holds an upload's place in `busy` for one PATCH.
struct BusyUpload<'a> {
    submissions: &'a Submissions,
    id: String,
}

impl<'a> BusyUpload<'a> {
    fn take(submissions: &'a Submissions, id: &str) -> Result<Self, ApiError> {
        let mut busy = submissions
            .busy
            .lock()
            .map_err(|_| ApiError::from(BeaconError::internal()))?;
        if !busy.insert(id.to_owned()) {
            return Err(beacon_error(409, "another PATCH of this upload is in progress"));
        }
        Ok(Self {
            submissions,
            id: id.to_owned(),
        })
    }
}

impl Drop for BusyUpload<'_> {
    fn drop(&mut self) {
        if let Ok(mut busy) = self.submissions.busy.lock() {
            busy.remove(&self.id);
        }
    }
}

/// The platform a request comes from, set by [`platform_gate`].
#[derive(Clone, Debug)]
struct PlatformContext {
    platform: Platform,
}

pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/submissions", get(list).post(create).options(discover))
        .route("/api/submissions/{id}", get(show))
        .route(
            "/api/submissions/{id}/file",
            head(offset).patch(append).options(discover),
        )
        .layer(axum::middleware::from_fn_with_state(state, platform_gate))
}

fn beacon_error(status: u16, message: impl Into<String>) -> ApiError {
    ApiError::from(BeaconError {
        status,
        message: message.into(),
    })
}

/// Authenticates from the headers alone (the body may be gigabytes), lets only declared
/// platforms through, and audits every request, allowed or refused.
async fn platform_gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let request_id = request.extensions().get::<RequestId>().map_or_else(
        || uuid::Uuid::new_v4().simple().to_string(),
        |RequestId(id)| id.clone(),
    );
    // The route template: the path holds the submission id, which the resource names anyway.
    let action = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or("(unrouted)", |matched| matched.as_str())
    );
    let resource = request.uri().path().to_owned();
    let authorization = match request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::to_str)
    {
        Some(Err(_)) => Err("credentials header is not visible ascii".to_owned()),
        Some(Ok(value)) => Ok(Some(value.to_owned())),
        None => Ok(None),
    };
    let authenticated = match authorization {
        Err(reason) => Err(reason),
        Ok(authorization) => state
            .access()
            .authenticator
            .authenticate(authorization.as_deref(), None)
            .await
            .map_err(|error| error.reason),
    };
    let (caller, mut response) = match authenticated {
        Err(reason) => (
            None,
            beacon_error(401, format!("invalid credentials: {reason}")).into_response(),
        ),
        Ok(caller) => match admitted_platform(&state, &caller).await {
            Err(refusal) => (Some(caller), refusal.into_response()),
            Ok(platform) => {
                request.extensions_mut().insert(PlatformContext { platform });
                (Some(caller), next.run(request).await)
            }
        },
    };
    let status = response.status();
    let reason = crate::guard::audit_reason(&response);
    let entry = AuditEntry {
        subject: caller
            .as_ref()
            .map_or_else(|| "unauthenticated".to_owned(), Caller::audit_subject),
        tier: "platform".to_owned(),
        action,
        resource,
        decision: AuditDecision::of_success(status.is_success()),
        reason,
        status: status.as_u16(),
        request_id: request_id.clone(),
    };
    if let Err(error) = state.audit_writer().append(state.store(), entry).await {
        tracing::error!(%error, %request_id, "cannot write the audit row: answer withheld");
        response =
            beacon_error(503, "the node cannot account for this request now; retry later").into_response();
    }
    add_tus_headers(response.headers_mut());
    response.extensions_mut().insert(CallerTier(if caller.is_some() {
        "platform"
    } else {
        "unauthenticated"
    }));
    response
}

async fn admitted_platform(state: &AppState, caller: &Caller) -> Result<Platform, ApiError> {
    if state.submissions().is_none() {
        return Err(beacon_error(404, "this node does not take submissions"));
    }
    if caller.subject.is_none() {
        return Err(beacon_error(401, "submissions need a platform's bearer token"));
    }
    let Some(platform_id) = &caller.roles.platform else {
        return Err(beacon_error(
            403,
            "only sequencing platforms submit files (a token with the platform role)",
        ));
    };
    match state.store().platform(platform_id).await? {
        Some(platform) => Ok(platform),
        None => Err(beacon_error(
            403,
            format!("platform `{platform_id}` is not declared on this node (phare platform add)"),
        )),
    }
}

fn add_tus_headers(headers: &mut HeaderMap) {
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
}

fn submissions_of(state: &AppState) -> Result<&Arc<Submissions>, ApiError> {
    state
        .submissions()
        .ok_or_else(|| beacon_error(404, "this node does not take submissions"))
}

/// tus discovery (`OPTIONS`): version, extensions, largest upload, checksum algorithms.
async fn discover(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let submissions = submissions_of(&state)?;
    let platform = platform_of(&request)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    headers.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    headers.insert(
        "tus-checksum-algorithm",
        HeaderValue::from_static(CHECKSUM_ALGORITHMS),
    );
    headers.insert(
        "tus-max-size",
        HeaderValue::from(max_upload_bytes(submissions, &platform)),
    );
    Ok(response)
}

fn platform_of(request: &Request) -> Result<Platform, ApiError> {
    request
        .extensions()
        .get::<PlatformContext>()
        .map(|context| context.platform.clone())
        .ok_or_else(|| ApiError::from(BeaconError::internal()))
}

fn max_upload_bytes(submissions: &Submissions, platform: &Platform) -> u64 {
    platform
        .max_upload_bytes
        .and_then(|bytes| u64::try_from(bytes).ok())
        .unwrap_or(submissions.settings.max_upload_bytes)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreationRequest {
    dataset: String,
    file_name: String,
    /// Bytes of the file (tus `Upload-Length`).
    length: u64,
    /// Hex SHA-256 of the whole file, checked once it is received.
    sha256: String,
    #[serde(default)]
    manifest: Option<serde_json::Value>,
    #[serde(default)]
    include_filtered: bool,
}

/// The creation request, its manifest checked.
fn parse_creation(headers: &HeaderMap, body: &[u8]) -> Result<CreationRequest, ApiError> {
    let value = crate::json_body(headers, body)?;
    let creation: CreationRequest = serde_json::from_value(value)
        .map_err(|error| beacon_error(400, format!("submission request: {error}")))?;
    if let Some(manifest) = &creation.manifest {
        Manifest::from_value(manifest.clone())
            .map_err(|error| beacon_error(400, format!("manifest: {error}")))?;
    }
    Ok(creation)
}

fn parse_sha256(text: &str) -> Result<[u8; 32], ApiError> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(text, &mut digest).map_err(|_| {
        beacon_error(
            400,
            "sha256: expected the file's SHA-256 as 64 hexadecimal digits",
        )
    })?;
    Ok(digest)
}

/// Only the last path component, without control characters: the name shows in listings and
/// errors, never as a path.
fn clean_file_name(name: &str) -> Result<String, ApiError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    if base.is_empty()
        || base.len() > 255
        || base.chars().any(char::is_control)
        || base == "."
        || base == ".."
    {
        return Err(beacon_error(
            400,
            "fileName: expected a file name of 1 to 255 characters, without control characters",
        ));
    }
    Ok(base.to_owned())
}

/// `POST /api/submissions`: a new submission waiting for its file, or the existing one for the
/// same file.
async fn create(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let submissions = submissions_of(&state)?;
    let platform = platform_of(&request)?;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_CREATION_BYTES)
        .await
        .map_err(|_| beacon_error(413, "creation request larger than 32 MiB"))?;
    // Megabytes of JSON and a manifest of many thousand entries: parsed off the async threads.
    let headers = parts.headers;
    let creation = tokio::task::spawn_blocking(move || parse_creation(&headers, &body))
        .await
        .map_err(|_| ApiError::from(BeaconError::internal()))??;
    if !platform.datasets.contains(&creation.dataset) {
        // The same answer whether or not the dataset exists: platforms learn nothing of others'.
        return Err(beacon_error(
            403,
            format!(
                "platform `{}` may not submit to dataset `{}`",
                platform.id, creation.dataset
            ),
        ));
    }
    let limit = max_upload_bytes(submissions, &platform);
    if creation.length == 0 {
        return Err(beacon_error(
            400,
            "length: an empty file is not a VCF or BCF file",
        ));
    }
    if creation.length > limit {
        return Err(beacon_error(
            413,
            format!(
                "length: {} bytes, more than the {limit} this platform may push in one file",
                creation.length
            ),
        ));
    }
    let file_sha256 = parse_sha256(&creation.sha256)?;
    let file_name = clean_file_name(&creation.file_name)?;
    let max_uploads = platform
        .max_concurrent_uploads
        .and_then(|count| u32::try_from(count).ok())
        .unwrap_or(submissions.settings.max_concurrent_uploads);
    let new = NewSubmission {
        id: uuid::Uuid::new_v4().simple().to_string(),
        platform_id: platform.id.clone(),
        dataset_id: creation.dataset,
        file_name,
        file_sha256,
        upload_length: creation.length,
        manifest: creation.manifest,
        include_filtered: creation.include_filtered,
    };
    let (status, submission) = match state.store().create_submission(&new, max_uploads).await? {
        SubmissionCreated::New(submission) => (StatusCode::CREATED, submission),
        SubmissionCreated::Existing(submission) if submission.platform_id == platform.id => {
            (StatusCode::OK, submission)
        }
        SubmissionCreated::Existing(_) => {
            return Err(beacon_error(
                409,
                "this file is already submitted to the dataset by another platform",
            ));
        }
        SubmissionCreated::TooManyUploads(count) => {
            return Err(beacon_error(
                429,
                format!(
                    "{count} uploads of this platform are already under way: finish or let one expire first"
                ),
            ));
        }
    };
    let mut response = (status, Json(status_document(&submission))).into_response();
    let location = format!("/api/submissions/{}/file", submission.id);
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert("upload-offset", HeaderValue::from(submission.upload_offset));
    Ok(response)
}

/// The submission, if it is the caller's: another platform's is as unknown as a missing one.
async fn own_submission(state: &AppState, platform: &Platform, id: &str) -> Result<Submission, ApiError> {
    let not_found = || beacon_error(404, "no such submission");
    if id.len() != 32 || !id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    match state.store().submission(id).await? {
        Some(submission) if submission.platform_id == platform.id => Ok(submission),
        _ => Err(not_found()),
    }
}

pub(crate) fn status_document(submission: &Submission) -> serde_json::Value {
    json!({
        "id": submission.id,
        "dataset": submission.dataset_id,
        "fileName": submission.file_name,
        "sha256": submission.file_sha256,
        "state": submission.reported_state(),
        "uploadLength": submission.upload_length,
        "uploadOffset": submission.upload_offset,
        "bytesRead": submission.bytes_read,
        "recordsRead": submission.records_read,
        "analysisId": submission.analysis_id,
        "error": submission.error,
        "createdAt": submission.created_at,
        "updatedAt": submission.updated_at,
        "upload": format!("/api/submissions/{}/file", submission.id),
    })
}

/// `GET /api/submissions/{id}`: state, progress, outcome.
async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let platform = platform_of(&request)?;
    let submission = own_submission(&state, &platform, &id).await?;
    Ok(Json(status_document(&submission)).into_response())
}

/// `GET /api/submissions`: the caller's submissions, newest first (`?state=`, `?dataset=`).
async fn list(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let platform = platform_of(&request)?;
    let mut filter = SubmissionFilter {
        platform_id: Some(platform.id.clone()),
        limit: 100,
        ..SubmissionFilter::default()
    };
    for (key, value) in crate::query_pairs(request.uri().query())? {
        match key.as_str() {
            "state" => {
                filter.state = Some(value.parse().map_err(|error: String| beacon_error(400, error))?);
            }
            "dataset" => filter.dataset_id = Some(value),
            "limit" => {
                filter.limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|limit| (1..=1000).contains(limit))
                    .ok_or_else(|| beacon_error(400, "limit: expected 1 to 1000"))?;
            }
            other => {
                return Err(beacon_error(
                    400,
                    format!("unknown parameter `{other}`: state, dataset, limit"),
                ));
            }
        }
    }
    let found = state.store().submissions(&filter).await?;
    let documents: Vec<serde_json::Value> = found.iter().map(status_document).collect();
    Ok(Json(json!({ "submissions": documents })).into_response())
}

/// tus `HEAD`: the offset to resume from.
async fn offset(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    if let Some(refusal) = unsupported_version(request.headers()) {
        return Ok(refusal);
    }
    let platform = platform_of(&request)?;
    let submission = own_submission(&state, &platform, &id).await?;
    if matches!(
        submission.state,
        SubmissionState::Expired | SubmissionState::Rejected
    ) {
        return Err(beacon_error(
            410,
            format!("this upload is {}", submission.state.as_str()),
        ));
    }
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    headers.insert("upload-offset", HeaderValue::from(submission.upload_offset));
    headers.insert("upload-length", HeaderValue::from(submission.upload_length));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// tus: every request but `OPTIONS` names the protocol version; another one is a 412.
fn unsupported_version(headers: &HeaderMap) -> Option<Response> {
    if header_str(headers, "tus-resumable") == Some(TUS_VERSION) {
        return None;
    }
    let mut response = beacon_error(412, "Tus-Resumable: this node speaks tus 1.0.0").into_response();
    response
        .headers_mut()
        .insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    Some(response)
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// `Upload-Checksum: sha256 <base64>`; other algorithms are refused (tus: 400).
fn declared_chunk_checksum(headers: &HeaderMap) -> Result<Option<[u8; 32]>, ApiError> {
    let Some(value) = headers.get("upload-checksum") else {
        return Ok(None);
    };
    let bad = || beacon_error(400, "Upload-Checksum: expected `sha256 <base64 digest>`");
    let text = value.to_str().map_err(|_| bad())?;
    let (algorithm, encoded) = text.split_once(' ').ok_or_else(bad)?;
    if algorithm != "sha256" {
        return Err(beacon_error(
            400,
            format!("Upload-Checksum: algorithm `{algorithm}` is not supported: use sha256"),
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let digest: [u8; 32] = decoded.try_into().map_err(|_| bad())?;
    Ok(Some(digest))
}

/// tus `PATCH`: appends the body at `Upload-Offset`. The bytes are written to disk as they
/// come, synced, and only then acknowledged; a chunk whose declared checksum does not match is
/// cut off again and refused (460), so the offset never covers bytes nobody verified.
async fn append(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let submissions = submissions_of(&state)?.clone();
    let platform = platform_of(&request)?;
    let (parts, body) = request.into_parts();
    if let Some(refusal) = unsupported_version(&parts.headers) {
        return Ok(refusal);
    }
    if header_str(&parts.headers, header::CONTENT_TYPE.as_str()) != Some(OFFSET_CONTENT_TYPE) {
        return Err(beacon_error(
            415,
            format!("Content-Type: a tus PATCH carries {OFFSET_CONTENT_TYPE}"),
        ));
    }
    let claimed_offset: u64 = header_str(&parts.headers, "upload-offset")
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            beacon_error(
                400,
                "Upload-Offset: expected the byte offset this chunk starts at",
            )
        })?;
    let chunk_checksum = declared_chunk_checksum(&parts.headers)?;
    own_submission(&state, &platform, &id).await?;
    // Held for the whole PATCH and taken before the offset is read: a PATCH that follows another
    // one reads the offset that one left, and never cuts off bytes it acknowledged.
    let _busy = BusyUpload::take(&submissions, &id)?;
    let submission = own_submission(&state, &platform, &id).await?;
    match submission.state {
        SubmissionState::Receiving => {}
        SubmissionState::Expired | SubmissionState::Rejected => {
            return Err(beacon_error(
                410,
                format!("this upload is {}", submission.state.as_str()),
            ));
        }
        _ => {
            return Err(beacon_error(
                409,
                format!(
                    "Upload-Offset: the upload is complete ({} bytes)",
                    submission.upload_length
                ),
            ));
        }
    }
    if claimed_offset != submission.upload_offset {
        return Err(beacon_error(
            409,
            format!(
                "Upload-Offset: the upload is at {}, not {claimed_offset}: resume from the offset HEAD gives",
                submission.upload_offset
            ),
        ));
    }
    let remaining = submission
        .upload_length
        .checked_sub(submission.upload_offset)
        .ok_or_else(|| ApiError::from(BeaconError::internal()))?;
    if let Some(length) =
        header_str(&parts.headers, header::CONTENT_LENGTH.as_str()).and_then(|text| text.parse::<u64>().ok())
        && length > remaining
    {
        return Err(beacon_error(
            413,
            format!("the chunk runs past Upload-Length: {remaining} bytes remain, the chunk has {length}"),
        ));
    }
    let start = submission.upload_offset;
    state.store().touch_upload(&id).await?;
    let running = submissions
        .running
        .lock()
        .ok()
        .and_then(|mut running| running.remove(&id))
        .filter(|(reached, _)| *reached == start)
        .map(|(_, hasher)| hasher)
        .or_else(|| (start == 0).then(Sha256::new));
    let (end, whole_file) =
        write_chunk(&submissions, &id, start, remaining, body, chunk_checksum, running).await?;
    let complete = end == submission.upload_length;
    let mut still_running = None;
    if let Some(hasher) = whole_file {
        if complete {
            // Judged before the offset moves: the worker never meets a received file whose
            // digest this process knows but has not yet handed over.
            let digest: [u8; 32] = hasher.finalize().into();
            if hex::encode(digest) != submission.file_sha256 {
                let message = sha256_mismatch(&submission, &digest);
                state.store().reject_submission(&id, &message).await?;
                remove_upload(&submissions, &id).await;
                return Err(beacon_error(400, message));
            }
            if let Ok(mut verified) = submissions.verified.lock() {
                verified.insert(id.clone(), digest);
            }
        } else {
            still_running = Some(hasher);
        }
    }
    if !state.store().advance_upload(&id, start, end).await? {
        truncate(&submissions, &id, start).await;
        submissions.forget(&id);
        return Err(beacon_error(
            409,
            "the upload changed while this chunk was written: resume from HEAD",
        ));
    }
    if complete {
        submissions.wakeup.notify_one();
    } else if let Some(hasher) = still_running
        && let Ok(mut running) = submissions.running.lock()
    {
        running.insert(id.clone(), (end, hasher));
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert("upload-offset", HeaderValue::from(end));
    Ok(response)
}

/// The rejection of a file whose bytes are not the ones declared.
pub(crate) fn sha256_mismatch(submission: &Submission, actual: &[u8; 32]) -> String {
    format!(
        "{}: the received file's sha256 is {}, not the declared {}: the upload is corrupt or the declaration wrong",
        submission.file_name,
        hex::encode(actual),
        submission.file_sha256
    )
}

/// Streams the body into the upload file at `start`. Returns the new end and the whole-file
/// hasher advanced over the chunk. On a checksum mismatch, or an interrupted chunk that declared
/// a checksum, the file is cut back to `start`.
async fn write_chunk(
    submissions: &Submissions,
    id: &str,
    start: u64,
    remaining: u64,
    body: Body,
    chunk_checksum: Option<[u8; 32]>,
    mut whole_file: Option<Sha256>,
) -> Result<(u64, Option<Sha256>), ApiError> {
    let internal = |error: std::io::Error| {
        tracing::error!(%error, submission = id, "cannot write an upload");
        beacon_error(507, "the node cannot store this upload now")
    };
    tokio::fs::create_dir_all(&submissions.settings.upload_dir)
        .await
        .map_err(internal)?;
    // Created by the first chunk only: a later chunk whose file is gone (swept) must not
    // recreate it as a sparse file.
    let opened = tokio::fs::OpenOptions::new()
        .create(start == 0)
        .truncate(false)
        .write(true)
        .open(submissions.upload_path(id))
        .await;
    let mut file = match opened {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(beacon_error(
                410,
                "the bytes of this upload are gone: push the file again",
            ));
        }
        Err(error) => return Err(internal(error)),
    };
    // Bytes past the acknowledged offset are from a chunk that was never acknowledged.
    file.set_len(start).await.map_err(internal)?;
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(internal)?;
    let mut chunk_hasher = Sha256::new();
    let mut received = 0u64;
    let mut stream = body.into_data_stream();
    let mut interrupted = false;
    while let Some(frame) = stream.next().await {
        let Ok(bytes) = frame else {
            interrupted = true;
            break;
        };
        received += bytes.len() as u64;
        if received > remaining {
            file.set_len(start).await.map_err(internal)?;
            return Err(beacon_error(
                413,
                format!("the chunk runs past Upload-Length: {remaining} bytes remained"),
            ));
        }
        file.write_all(&bytes).await.map_err(internal)?;
        chunk_hasher.update(&bytes);
        if let Some(hasher) = whole_file.as_mut() {
            hasher.update(&bytes);
        }
    }
    if let Some(declared) = chunk_checksum {
        if interrupted {
            file.set_len(start).await.map_err(internal)?;
            return Err(beacon_error(
                400,
                "the chunk was interrupted: nothing of it was kept",
            ));
        }
        let actual: [u8; 32] = chunk_hasher.finalize().into();
        if actual != declared {
            file.set_len(start).await.map_err(internal)?;
            return Err(beacon_error(
                CHECKSUM_MISMATCH,
                "Upload-Checksum: the chunk does not match its sha256: nothing of it was kept",
            ));
        }
    }
    file.flush().await.map_err(internal)?;
    file.sync_data().await.map_err(internal)?;
    Ok((start + received, whole_file))
}

async fn truncate(submissions: &Submissions, id: &str, length: u64) {
    let path = submissions.upload_path(id);
    let cut = async {
        let file = tokio::fs::OpenOptions::new().write(true).open(&path).await?;
        file.set_len(length).await
    };
    if let Err(error) = cut.await {
        tracing::warn!(%error, submission = id, "cannot cut an upload back");
    }
}

pub(crate) async fn remove_upload(submissions: &Submissions, id: &str) {
    match tokio::fs::remove_file(submissions.upload_path(id)).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(%error, submission = id, "cannot remove an upload"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_their_last_component_only() {
        assert_eq!(clean_file_name("run/a.vcf.gz").ok(), Some("a.vcf.gz".to_owned()));
        assert_eq!(clean_file_name("C:\\runs\\b.bcf").ok(), Some("b.bcf".to_owned()));
        assert!(clean_file_name("dir/").is_err());
        assert!(clean_file_name("..").is_err());
        assert!(clean_file_name("a\nb.vcf").is_err());
    }

    #[test]
    fn chunk_checksums_are_sha256_in_base64() {
        let mut headers = HeaderMap::new();
        assert_eq!(declared_chunk_checksum(&headers).ok(), Some(None));
        let digest: [u8; 32] = Sha256::digest(b"abc").into();
        let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
        headers.insert(
            "upload-checksum",
            HeaderValue::from_str(&format!("sha256 {encoded}")).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(declared_chunk_checksum(&headers).ok(), Some(Some(digest)));
        headers.insert(
            "upload-checksum",
            HeaderValue::from_static("md5 kAFQmDzST7DWlj99KOF/cg=="),
        );
        assert_eq!(
            declared_chunk_checksum(&headers)
                .map_err(|error| error.error.status)
                .err(),
            Some(400)
        );
        headers.insert("upload-checksum", HeaderValue::from_static("sha256 not-base64"));
        assert!(declared_chunk_checksum(&headers).is_err());
    }
}
