//! tus 1.0.0 at `/api/v1/uploads`: creation, creation-with-upload, HEAD,
//! PATCH, termination, expiration and sha1 checksums.
//!
//! Only the wire format lives here: headers in, headers out, and the tus
//! verdict on a body (length, checksum). The upload's life (who may upload,
//! the lease, the quota, the last byte) is `uploads::workflow`. Every request
//! is authenticated and checked against the upload's owner (a user id, so a
//! refreshed token goes on with the same upload). No route ever returns
//! upload bytes: there is no GET here.

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
use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::uploads::workflow::{self, Announced, BodyCheck, Uploader};
use crate::uploads::UploadError;

/// How long a PATCH may go without sending a byte before it is cut off.
const BODY_IDLE: Duration = Duration::from_secs(60);

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
    let raw_metadata = headers
        .get(&tus::UPLOAD_METADATA)
        .map(|v| v.to_str().map(str::to_string))
        .transpose()
        .map_err(|_| ApiError::bad_request("Upload-Metadata is not text"))?;
    let announced = Announced {
        length,
        metadata: raw_metadata.as_deref(),
    };
    let (video_id, created) = workflow::create(&app, uploader(&user), announced).await?;

    let has_body = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    let written = if has_body && tus::is_offset_stream(&headers) {
        append_body(&app, &video_id, 0, &headers, body).await?
    } else {
        created
    };
    let mut out = progress_headers(written.progress.offset, Some(written.expires_at));
    let location = format!("/api/v1/uploads/{video_id}");
    out.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("ids are header-safe"),
    );
    Ok((StatusCode::CREATED, out).into_response())
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
    let record = workflow::owned(&app, uploader(&user), &id).await?;
    workflow::check_not_expired(&record)?;
    let unfinished = record.completed_at.is_none();
    let mut headers = progress_headers(
        record.progress.offset,
        unfinished.then_some(record.expires_at),
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
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "PATCH bodies must be application/offset+octet-stream",
        ));
    }
    let offset = tus::u64_header(&headers, &tus::UPLOAD_OFFSET)?
        .ok_or_else(|| ApiError::bad_request("Upload-Offset is required"))?;
    let record = workflow::owned(&app, uploader(&user), &id).await?;
    workflow::check_not_expired(&record)?;
    let written = append_body(&app, &record.video_id, offset, &headers, body).await?;
    let unfinished = !written.progress.is_complete();
    let out = progress_headers(
        written.progress.offset,
        unfinished.then_some(written.expires_at),
    );
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
    workflow::owned(&app, uploader(&user), &id).await?;
    workflow::terminate(&app, &id).await?;
    tracing::info!(video_id = %id, "upload terminated");
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn uploader(user: &AuthUser) -> Uploader<'_> {
    Uploader {
        user_id: &user.id,
        is_admin: user.is_admin(),
    }
}

/// `Upload-Offset`, and `Upload-Expires` when `expires_at` is given (an
/// upload that can still expire): what every tus answer about progress carries.
fn progress_headers(offset: u64, expires_at: Option<i64>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(tus::UPLOAD_OFFSET.clone(), HeaderValue::from(offset));
    if let Some(at) = expires_at {
        headers.insert(tus::UPLOAD_EXPIRES.clone(), tus::expires_value(at));
    }
    headers
}

/// Streams a tus body into the upload through the idle and length guard.
async fn append_body(
    app: &AppState,
    video_id: &str,
    offset: u64,
    headers: &HeaderMap,
    body: Body,
) -> Result<workflow::Written, ApiError> {
    let declared = tus::u64_header(headers, &header::CONTENT_LENGTH)?;
    let checksum = tus::expected_sha1(headers)?;
    let written = workflow::append(app, video_id, offset, declared, |room| {
        let report = BodyReport::new(checksum.is_some());
        let stream = tus::guarded_body(body, room, BODY_IDLE, report.clone());
        (
            stream,
            TusBodyCheck {
                report,
                checksum,
                room,
            },
        )
    })
    .await?;
    Ok(written)
}

/// The tus verdict on a body: not longer than the room, and matching its
/// `Upload-Checksum` if one was sent.
struct TusBodyCheck {
    report: std::sync::Arc<BodyReport>,
    checksum: Option<[u8; 20]>,
    room: u64,
}

impl BodyCheck for TusBodyCheck {
    fn judged_whole(&self) -> bool {
        self.checksum.is_some()
    }

    fn verdict(self, ended_early: bool) -> Result<(), UploadError> {
        if self.report.overflowed() {
            return Err(workflow::too_long(self.room));
        }
        match self.checksum {
            Some(_) if ended_early => Err(UploadError::BodyEndedEarly),
            Some(expected) if !self.report.sha1_matches(&expected) => {
                Err(UploadError::ChecksumMismatch)
            }
            _ => Ok(()),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(err: UploadError) -> Self {
        let code = match &err {
            UploadError::NotFound => return ApiError::not_found("upload"),
            UploadError::CourseNotFound => return ApiError::not_found("course"),
            UploadError::NotCourseOwner => ErrorCode::Forbidden,
            UploadError::BadMetadata(_) => ErrorCode::BadMetadata,
            UploadError::TooLarge(_) => ErrorCode::UploadTooLarge,
            UploadError::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
            UploadError::Expired => ErrorCode::UploadExpired,
            UploadError::Locked => ErrorCode::UploadLocked,
            UploadError::OffsetMismatch { .. } => ErrorCode::OffsetMismatch,
            UploadError::BodyEndedEarly => ErrorCode::BadRequest,
            UploadError::ChecksumMismatch => ErrorCode::ChecksumMismatch,
            UploadError::NotAVideo(_) => ErrorCode::NotAVideo,
            UploadError::Storage(_) | UploadError::Db(_) => ErrorCode::Internal,
        };
        match err {
            UploadError::Storage(e) => e.into(),
            UploadError::Db(e) => e.into(),
            other => ApiError::new(code, other.to_string()),
        }
    }
}
