//! tus 1.0.0 at `/api/v1/uploads`: creation, creation-with-upload, HEAD,
//! PATCH, termination, expiration and sha1 checksums.
//!
//! Unlike a stock tus server, every request is authenticated and checked
//! against the upload's owner (a user id, so a refreshed token goes on with
//! the same upload), and only a course's owner or an admin may create one.
//! PATCH bodies stream straight into storage under the upload's lease; the
//! database offset moves only once the bytes are stored. No route ever
//! returns upload bytes: there is no GET here.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use sealcast_keyserver::Role;

use super::auth::AuthUser;
use super::tus::{self, BodyReport};
use super::{videos, AppState};
use crate::db::{new_id, now_ms};
use crate::error::ApiError;
use crate::storage::{ObjectKey, ObjectPrefix, UploadProgress};
use crate::uploads::probe::{probe_object, ProbeError};
use crate::uploads::state::{self, NewUpload, UploadRecord};
use crate::uploads::{metadata, source_key, upload_prefix};

/// How long a PATCH may go without sending a byte before it is cut off.
const BODY_IDLE: Duration = Duration::from_secs(60);
/// The write lease, renewed every third of it while a PATCH streams: a
/// writer that died (a crashed node) blocks its upload for at most this long.
const LEASE: Duration = Duration::from_secs(20);
const TITLE_MAX: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/uploads", post(create).options(options))
        .route(
            "/api/v1/uploads/{id}",
            axum::routing::head(status)
                .patch(append)
                .delete(terminate)
                .options(options),
        )
        .layer(axum::middleware::from_fn(tus::protocol))
        // Bodies are streamed and capped by Upload-Length, not buffered.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// Server capabilities; no authentication, as tus clients probe it first.
#[utoipa::path(options, path = "/api/v1/uploads", tag = "uploads",
    responses((status = 204, description = "tus capabilities in Tus-* headers")))]
pub async fn options(State(app): State<AppState>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        tus::TUS_VERSION_H.clone(),
        HeaderValue::from_static(tus::TUS_VERSION),
    );
    headers.insert(
        tus::TUS_EXTENSION.clone(),
        HeaderValue::from_static(tus::TUS_EXTENSIONS),
    );
    headers.insert(
        tus::TUS_MAX_SIZE.clone(),
        HeaderValue::from(app.config.uploads.max_size),
    );
    headers.insert(
        tus::TUS_CHECKSUM_ALGORITHM.clone(),
        HeaderValue::from_static("sha1"),
    );
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// Creates an upload (and its video), optionally with the first bytes.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "uploads",
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "total size in bytes"),
        ("Upload-Metadata" = String, Header, description = "filename, course_id (required), title; base64 values"),
    ),
    responses(
        (status = 201, description = "created; Location names the upload (= video id)"),
        (status = 400, description = "bad headers or metadata"),
        (status = 403, description = "not the course's owner"),
        (status = 412, description = "unsupported tus version"),
        (status = 413, description = "upload_too_large or quota_exceeded"),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(app): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    user.require(&[Role::Creator, Role::Admin])?;
    if headers.contains_key(&tus::UPLOAD_DEFER_LENGTH) {
        return Err(ApiError::bad_request(
            "Upload-Defer-Length is not supported; send Upload-Length",
        ));
    }
    let length = tus::u64_header(&headers, &tus::UPLOAD_LENGTH)?
        .ok_or_else(|| ApiError::bad_request("Upload-Length is required"))?;
    let limits = &app.config.uploads;
    if length > limits.max_size {
        return Err(too_large(format!(
            "uploads are limited to {} bytes",
            limits.max_size
        )));
    }
    let raw_metadata = headers
        .get(&tus::UPLOAD_METADATA)
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::bad_request("Upload-Metadata is not text"))?;
    let meta = metadata::parse(raw_metadata.as_deref().unwrap_or(""))
        .map_err(|m| ApiError::custom(StatusCode::BAD_REQUEST, "bad_metadata", m))?;
    let course_id = meta
        .get("course_id")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ApiError::custom(
                StatusCode::BAD_REQUEST,
                "bad_metadata",
                "Upload-Metadata must name the course_id",
            )
        })?;
    let owner: Option<String> = sqlx::query_scalar("SELECT owner_id FROM courses WHERE id = $1")
        .bind(course_id)
        .fetch_optional(&app.db.pool)
        .await?;
    match owner {
        None => return Err(ApiError::not_found("course")),
        Some(owner) if owner != user.id && !user.is_admin() => {
            return Err(ApiError::custom(
                StatusCode::FORBIDDEN,
                "forbidden",
                "only the course's owner or an admin may upload to it",
            ))
        }
        Some(_) => {}
    }
    if limits.creator_quota > 0 {
        let used = state::bytes_used(&app.db, &user.id).await?;
        if used.saturating_add(length) > limits.creator_quota {
            return Err(ApiError::custom(
                StatusCode::PAYLOAD_TOO_LARGE,
                "quota_exceeded",
                format!(
                    "this upload would exceed your storage quota ({used} of {} bytes used)",
                    limits.creator_quota
                ),
            ));
        }
    }
    let title: String = meta
        .get("title")
        .or_else(|| meta.get("filename"))
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .unwrap_or("Untitled")
        .chars()
        .take(TITLE_MAX)
        .collect();

    let video_id = new_id();
    let key = ObjectKey::new(source_key(&video_id))?;
    let progress = app.storage.begin_upload(&key, length).await?;
    let expires_at = now_ms() + limits.expiry.as_millis() as i64;
    let new = NewUpload {
        video_id: &video_id,
        course_id,
        owner_id: &user.id,
        title: &title,
        storage_key: key.as_str(),
        metadata: raw_metadata.as_deref(),
        expires_at,
    };
    if let Err(err) = state::create(&app.db, &new, &progress).await {
        let _ = app.storage.abort_upload(&key, &progress).await;
        return Err(err.into());
    }
    tracing::info!(video_id = %video_id, length, "upload created");

    let location = format!("/api/v1/uploads/{video_id}");
    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("ids are header-safe"),
    );
    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    let (offset, expires_at) = if has_body && tus::is_offset_stream(&headers) {
        let record = state::load(&app.db, &video_id)
            .await?
            .ok_or_else(|| ApiError::internal("upload vanished after creation"))?;
        let written = write_under_lease(&app, &record, 0, &headers, body).await?;
        (written.progress.offset, written.expires_at)
    } else {
        (0, expires_at)
    };
    response_headers.insert(tus::UPLOAD_OFFSET.clone(), HeaderValue::from(offset));
    response_headers.insert(tus::UPLOAD_EXPIRES.clone(), tus::expires_value(expires_at));
    Ok((StatusCode::CREATED, response_headers).into_response())
}

/// Where an upload stands.
#[utoipa::path(head, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(("id" = String, Path, description = "upload id = video id"),
           ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses((status = 200, description = "Upload-Offset and Upload-Length headers"),
              (status = 404, description = "no such upload of yours"),
              (status = 410, description = "upload_expired")),
    security(("bearer" = [])))]
pub async fn status(
    State(app): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = owned_upload(&app, &user, &id).await?;
    check_not_expired(&record)?;
    let mut headers = HeaderMap::new();
    headers.insert(
        tus::UPLOAD_OFFSET.clone(),
        HeaderValue::from(record.progress.offset),
    );
    headers.insert(
        tus::UPLOAD_LENGTH.clone(),
        HeaderValue::from(record.progress.length),
    );
    if let Some(meta) = record
        .metadata
        .as_deref()
        .and_then(|m| HeaderValue::from_str(m).ok())
    {
        headers.insert(tus::UPLOAD_METADATA.clone(), meta);
    }
    if record.completed_at.is_none() {
        headers.insert(
            tus::UPLOAD_EXPIRES.clone(),
            tus::expires_value(record.expires_at),
        );
    }
    Ok((StatusCode::OK, headers).into_response())
}

/// Appends bytes at `Upload-Offset`.
#[utoipa::path(patch, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(("id" = String, Path, description = "upload id = video id"),
           ("Tus-Resumable" = String, Header, description = "1.0.0"),
           ("Upload-Offset" = u64, Header, description = "must equal the stored offset"),
           ("Upload-Checksum" = Option<String>, Header, description = "`sha1 <base64>` of this body")),
    request_body(content_type = "application/offset+octet-stream", description = "the next bytes"),
    responses((status = 204, description = "stored; Upload-Offset is the new offset"),
              (status = 409, description = "offset_mismatch"),
              (status = 410, description = "upload_expired"),
              (status = 413, description = "upload_too_large"),
              (status = 415, description = "wrong Content-Type"),
              (status = 422, description = "not_a_video (at the last byte)"),
              (status = 423, description = "upload_locked: another request is writing"),
              (status = 460, description = "checksum_mismatch")),
    security(("bearer" = [])))]
pub async fn append(
    State(app): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if !tus::is_offset_stream(&headers) {
        return Err(ApiError::custom(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "PATCH bodies must be application/offset+octet-stream",
        ));
    }
    let offset = tus::u64_header(&headers, &tus::UPLOAD_OFFSET)?
        .ok_or_else(|| ApiError::bad_request("Upload-Offset is required"))?;
    let record = owned_upload(&app, &user, &id).await?;
    check_not_expired(&record)?;
    let written = write_under_lease(&app, &record, offset, &headers, body).await?;
    let mut out = HeaderMap::new();
    out.insert(
        tus::UPLOAD_OFFSET.clone(),
        HeaderValue::from(written.progress.offset),
    );
    if !written.progress.is_complete() {
        out.insert(
            tus::UPLOAD_EXPIRES.clone(),
            tus::expires_value(written.expires_at),
        );
    }
    Ok((StatusCode::NO_CONTENT, out).into_response())
}

/// Terminates an upload: its bytes and its video are removed.
#[utoipa::path(delete, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(("id" = String, Path, description = "upload id = video id"),
           ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses((status = 204, description = "terminated"),
              (status = 404, description = "no such upload of yours"),
              (status = 423, description = "upload_locked")),
    security(("bearer" = [])))]
pub async fn terminate(
    State(app): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = owned_upload(&app, &user, &id).await?;
    let holder = new_id();
    if !state::try_lock(&app.db, &id, &holder, LEASE).await? {
        return Err(locked());
    }
    if record.completed_at.is_none() {
        let key = ObjectKey::new(record.storage_key.clone())?;
        if let Err(err) = app.storage.abort_upload(&key, &record.progress).await {
            state::unlock(&app.db, &id, &holder).await;
            return Err(err.into());
        }
    }
    videos::remove_video(&app, &id).await?;
    tracing::info!(video_id = %id, "upload terminated");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn too_large(message: String) -> ApiError {
    ApiError::custom(StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large", message)
}

fn locked() -> ApiError {
    ApiError::custom(
        StatusCode::LOCKED,
        "upload_locked",
        "another request is writing this upload; retry shortly",
    )
}

/// The upload if the caller owns it (or is an admin); 404 otherwise, so
/// other users learn nothing about it.
async fn owned_upload(app: &AppState, user: &AuthUser, id: &str) -> Result<UploadRecord, ApiError> {
    match state::load(&app.db, id).await? {
        Some(record) if record.owner_id == user.id || user.is_admin() => Ok(record),
        _ => Err(ApiError::not_found("upload")),
    }
}

fn check_not_expired(record: &UploadRecord) -> Result<(), ApiError> {
    if record.completed_at.is_none() && record.expires_at < now_ms() {
        return Err(ApiError::custom(
            StatusCode::GONE,
            "upload_expired",
            "this upload expired; start a new one",
        ));
    }
    Ok(())
}

struct Written {
    progress: UploadProgress,
    expires_at: i64,
}

/// Takes the lease, appends, releases; the lease is renewed while it runs.
async fn write_under_lease(
    app: &AppState,
    record: &UploadRecord,
    offset: u64,
    headers: &HeaderMap,
    body: Body,
) -> Result<Written, ApiError> {
    let holder = new_id();
    if !state::try_lock(&app.db, &record.video_id, &holder, LEASE).await? {
        return Err(locked());
    }
    // Aborted on drop: a request cancelled mid-body must not keep renewing.
    let _renew = AbortOnDrop({
        let (db, id, holder) = (app.db.clone(), record.video_id.clone(), holder.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(LEASE / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                let _ = sqlx::query(
                    "UPDATE uploads SET lock_expires_at = $1 WHERE video_id = $2 AND lock_owner = $3",
                )
                .bind(now_ms() + LEASE.as_millis() as i64)
                .bind(&id)
                .bind(&holder)
                .execute(&db.pool)
                .await;
            }
        })
    });
    let result = write_locked(app, &record.video_id, &holder, offset, headers, body).await;
    state::unlock(&app.db, &record.video_id, &holder).await;
    result
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn write_locked(
    app: &AppState,
    video_id: &str,
    holder: &str,
    offset: u64,
    headers: &HeaderMap,
    body: Body,
) -> Result<Written, ApiError> {
    // Re-read under the lease: the offset may have moved since.
    let record = state::load(&app.db, video_id)
        .await?
        .ok_or_else(|| ApiError::not_found("upload"))?;
    let old = record.progress.clone();
    if offset != old.offset {
        return Err(ApiError::custom(
            StatusCode::CONFLICT,
            "offset_mismatch",
            format!(
                "Upload-Offset is {offset} but the upload is at {}",
                old.offset
            ),
        ));
    }
    let room = old.length - old.offset;
    if tus::u64_header(headers, &header::CONTENT_LENGTH)?.is_some_and(|n| n > room) {
        return Err(too_large(format!(
            "the body is longer than the {room} bytes left in this upload"
        )));
    }
    let checksum = tus::expected_sha1(headers)?;
    let key = ObjectKey::new(record.storage_key.clone())?;
    let expires_at = now_ms() + app.config.uploads.expiry.as_millis() as i64;

    let mut new = old.clone();
    if record.completed_at.is_none() && !old.is_complete() {
        let report = BodyReport::new(checksum.is_some());
        let stream = tus::guarded_body(body, room, BODY_IDLE, report.clone());
        let appended = app.storage.append_upload(&key, &old, stream).await?;
        new = appended.progress;
        let refused = if report.overflowed() {
            Some(too_large(format!(
                "the body is longer than the {room} bytes left in this upload"
            )))
        } else if let Some(expected) = checksum {
            if appended.body_error.is_some() {
                Some(ApiError::bad_request(
                    "the body ended early; its checksum cannot be verified",
                ))
            } else if !report.sha1_matches(&expected) {
                Some(ApiError::custom(
                    StatusCode::from_u16(460).expect("460 is a valid status"),
                    "checksum_mismatch",
                    "the body does not match Upload-Checksum; it was discarded",
                ))
            } else {
                None
            }
        } else {
            None
        };
        if let Some(err) = refused {
            app.storage.rollback_append(&key, &old, &new).await;
            return Err(err);
        }
        if !state::save_progress(&app.db, video_id, holder, &new, expires_at).await? {
            app.storage.rollback_append(&key, &old, &new).await;
            return Err(locked());
        }
        app.storage.commit_append(&key, &old, &new).await;
        metrics::counter!("sealcast_upload_bytes_total").increment(new.offset - old.offset);
        if let Some(err) = &appended.body_error {
            tracing::info!(video_id, offset = new.offset, error = %err, "upload body ended early; resumable");
        }
    }
    if new.is_complete() && record.completed_at.is_none() {
        complete(app, video_id, &key, &new).await?;
    }
    Ok(Written {
        progress: new,
        expires_at,
    })
}

/// The last byte is in: publish, probe, queue the transcode.
async fn complete(
    app: &AppState,
    video_id: &str,
    key: &ObjectKey,
    progress: &UploadProgress,
) -> Result<(), ApiError> {
    app.storage.finish_upload(key, progress).await?;
    state::mark_complete(&app.db, video_id).await?;
    let work_dir = app.config.data_dir.join("work");
    match probe_object(app.storage.as_ref(), key, progress.length, &work_dir).await {
        Ok(duration) => {
            sqlx::query("UPDATE videos SET duration_ms = $1 WHERE id = $2")
                .bind((duration * 1000.0).round() as i64)
                .bind(video_id)
                .execute(&app.db.pool)
                .await?;
        }
        Err(ProbeError::NotVideo(reason)) => {
            tracing::info!(video_id, %reason, "upload is not a video");
            if let Ok(prefix) = ObjectPrefix::new(upload_prefix(video_id)) {
                let _ = app.storage.delete_prefix(&prefix).await;
            }
            let message = format!("not a video: {reason}");
            sqlx::query(
                "UPDATE videos SET status = 'failed', error = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(&message)
            .bind(now_ms())
            .bind(video_id)
            .execute(&app.db.pool)
            .await?;
            metrics::counter!("sealcast_uploads_completed_total", "outcome" => "not_a_video")
                .increment(1);
            return Err(ApiError::custom(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_a_video",
                message,
            ));
        }
        // The transcoder checks the media again; a probe that could not run
        // must not lose an upload.
        Err(err) => {
            tracing::warn!(video_id, error = %err, "probing the upload failed; queueing anyway")
        }
    }
    crate::jobs::queue::enqueue(&app.db, video_id).await?;
    metrics::counter!("sealcast_uploads_completed_total", "outcome" => "queued").increment(1);
    tracing::info!(video_id, "upload complete; transcode queued");
    Ok(())
}
