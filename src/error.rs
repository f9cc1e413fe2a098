//! The one error type of the HTTP API.
//!
//! Every failure leaves the server as `{"error":{"code","message","request_id"}}`
//! with a stable snake_case `code` that clients may branch on. Internal details
//! (SQL, storage paths, secrets) never reach the body; they go to the log with
//! the same request id so an operator can find them.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

tokio::task_local! {
    /// The id of the request being served, so errors built deep in a handler
    /// can carry it without threading it through every call.
    pub static REQUEST_ID: String;
}

/// The request id of the current task, or an empty string outside a request.
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

/// tus's checksum extension answers a mismatch with this non-standard status.
const CHECKSUM_MISMATCH: StatusCode = match StatusCode::from_u16(460) {
    Ok(status) => status,
    Err(_) => StatusCode::BAD_REQUEST,
};

/// Stable, machine-readable error codes: every code the API answers with is
/// one of these. Renaming one is a breaking API change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RangeNotSatisfiable,
    RateLimited,
    TooManySessions,
    Internal,
    Unavailable,
    GatewayTimeout,
    InsufficientStorage,
    MissingToken,
    InvalidToken,
    TokenExpired,
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyKeyInUse,
    InvalidTicket,
    TokenInUrl,
    InvalidCredentials,
    InvalidRefresh,
    RefreshReused,
    UserDisabled,
    EmailTaken,
    AlreadyEnrolled,
    InvalidEmail,
    InvalidRole,
    InvalidTitle,
    InvalidPlaybackRate,
    WeakPassword,
    NotEntitled,
    VideoNotReady,
    SessionEnded,
    BadSignature,
    ExpiredSignature,
    BadMetadata,
    UploadTooLarge,
    QuotaExceeded,
    UploadLocked,
    UploadExpired,
    OffsetMismatch,
    ChecksumMismatch,
    UnsupportedChecksumAlgorithm,
    UnsupportedVersion,
    NotAVideo,
    WebhookUrlRefused,
    InvalidCaptions,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManySessions => "too_many_sessions",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::GatewayTimeout => "gateway_timeout",
            ErrorCode::InsufficientStorage => "insufficient_storage",
            ErrorCode::MissingToken => "missing_token",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::InvalidIdempotencyKey => "invalid_idempotency_key",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::IdempotencyKeyInUse => "idempotency_key_in_use",
            ErrorCode::InvalidTicket => "invalid_ticket",
            ErrorCode::TokenInUrl => "token_in_url",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::InvalidRefresh => "invalid_refresh",
            ErrorCode::RefreshReused => "refresh_reused",
            ErrorCode::UserDisabled => "user_disabled",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::AlreadyEnrolled => "already_enrolled",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidRole => "invalid_role",
            ErrorCode::InvalidTitle => "invalid_title",
            ErrorCode::InvalidPlaybackRate => "invalid_playback_rate",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::NotEntitled => "not_entitled",
            ErrorCode::VideoNotReady => "video_not_ready",
            ErrorCode::SessionEnded => "session_ended",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::ExpiredSignature => "expired_signature",
            ErrorCode::BadMetadata => "bad_metadata",
            ErrorCode::UploadTooLarge => "upload_too_large",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::UploadLocked => "upload_locked",
            ErrorCode::UploadExpired => "upload_expired",
            ErrorCode::OffsetMismatch => "offset_mismatch",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::UnsupportedChecksumAlgorithm => "unsupported_checksum_algorithm",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NotAVideo => "not_a_video",
            ErrorCode::WebhookUrlRefused => "webhook_url_refused",
            ErrorCode::InvalidCaptions => "invalid_captions",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidJson => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManySessions => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            ErrorCode::MissingToken => StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::TokenExpired => StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidIdempotencyKey => StatusCode::BAD_REQUEST,
            ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::IdempotencyKeyInUse => StatusCode::CONFLICT,
            ErrorCode::InvalidTicket => StatusCode::UNAUTHORIZED,
            ErrorCode::TokenInUrl => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidRefresh => StatusCode::UNAUTHORIZED,
            ErrorCode::RefreshReused => StatusCode::UNAUTHORIZED,
            ErrorCode::UserDisabled => StatusCode::FORBIDDEN,
            ErrorCode::EmailTaken => StatusCode::CONFLICT,
            ErrorCode::AlreadyEnrolled => StatusCode::CONFLICT,
            ErrorCode::InvalidEmail => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRole => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidTitle => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidPlaybackRate => StatusCode::BAD_REQUEST,
            ErrorCode::WeakPassword => StatusCode::BAD_REQUEST,
            ErrorCode::NotEntitled => StatusCode::FORBIDDEN,
            ErrorCode::VideoNotReady => StatusCode::CONFLICT,
            ErrorCode::SessionEnded => StatusCode::FORBIDDEN,
            ErrorCode::BadSignature => StatusCode::FORBIDDEN,
            ErrorCode::ExpiredSignature => StatusCode::FORBIDDEN,
            ErrorCode::BadMetadata => StatusCode::BAD_REQUEST,
            ErrorCode::UploadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::QuotaExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UploadLocked => StatusCode::LOCKED,
            ErrorCode::UploadExpired => StatusCode::GONE,
            ErrorCode::OffsetMismatch => StatusCode::CONFLICT,
            ErrorCode::ChecksumMismatch => CHECKSUM_MISMATCH,
            ErrorCode::UnsupportedChecksumAlgorithm => StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedVersion => StatusCode::PRECONDITION_FAILED,
            ErrorCode::NotAVideo => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::WebhookUrlRefused => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidCaptions => StatusCode::BAD_REQUEST,
        }
    }

    /// The code used when a layer (body limit, timeout, router) answered with
    /// a bare status and no envelope of its own.
    pub fn for_status(status: StatusCode) -> ErrorCode {
        match status.as_u16() {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            408 => ErrorCode::RequestTimeout,
            409 => ErrorCode::Conflict,
            413 => ErrorCode::PayloadTooLarge,
            415 => ErrorCode::UnsupportedMediaType,
            416 => ErrorCode::RangeNotSatisfiable,
            429 => ErrorCode::RateLimited,
            503 => ErrorCode::Unavailable,
            504 => ErrorCode::GatewayTimeout,
            507 => ErrorCode::InsufficientStorage,
            s if s < 500 => ErrorCode::BadRequest,
            _ => ErrorCode::Internal,
        }
    }
}

/// An API failure: a status, a stable code and a message safe to show a user.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// Logs the cause with the request id and answers a generic 500, so no
    /// internal detail leaks to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %current_request_id(), error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "internal server error")
    }

    /// A disk (the object store's or the database's) with no room left:
    /// nothing of the request was kept past what the answer says, and
    /// retrying only helps once space is freed, so no `Retry-After`.
    pub fn insufficient_storage() -> Self {
        Self::new(
            ErrorCode::InsufficientStorage,
            "the server is out of storage space; this request was not completed",
        )
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status,
            self.code.as_str(),
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

#[derive(Serialize)]
struct Envelope<'a> {
    error: EnvelopeBody<'a>,
}

#[derive(Serialize)]
struct EnvelopeBody<'a> {
    code: &'a str,
    message: &'a str,
    request_id: String,
}

/// Builds the JSON envelope; used by `ApiError` and by the middleware that
/// wraps bare error statuses from layers.
pub fn envelope_response(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = Envelope {
        error: EnvelopeBody {
            code: code.as_str(),
            message,
            request_id: current_request_id(),
        },
    };
    let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (status, json).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = envelope_response(self.status, self.code, &self.message);
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    /// A database that is away (restarting, failing over, out of connections)
    /// is a 503 with `Retry-After`, which clients retry; one whose disk is
    /// full is a 507 like a full object store; anything else is a 500.
    fn from(err: sqlx::Error) -> Self {
        if crate::db::is_full(&err) {
            tracing::error!(request_id = %current_request_id(), error = %err, "database disk full");
            return ApiError::insufficient_storage();
        }
        if crate::db::is_unavailable(&err) {
            tracing::warn!(request_id = %current_request_id(), error = %err, "database unavailable");
            return ApiError::new(ErrorCode::Unavailable, "database temporarily unavailable")
                .with_retry_after(DATABASE_RETRY_SECS);
        }
        ApiError::internal(format_args!("database: {err}"))
    }
}

/// Seconds a client is told to wait while the database or the object store is away.
pub const DATABASE_RETRY_SECS: u64 = 2;

impl From<crate::storage::StorageError> for ApiError {
    fn from(err: crate::storage::StorageError) -> Self {
        use crate::storage::StorageError as E;
        match err {
            E::NotFound => ApiError::not_found("object"),
            E::InvalidKey(reason) => ApiError::bad_request(format!("invalid object key: {reason}")),
            E::InvalidRange => ApiError::new(
                ErrorCode::RangeNotSatisfiable,
                "requested range not satisfiable",
            ),
            E::Unavailable(reason) => {
                tracing::warn!(request_id = %current_request_id(), %reason, "storage unavailable");
                ApiError::new(ErrorCode::Unavailable, "storage temporarily unavailable")
                    .with_retry_after(DATABASE_RETRY_SECS)
            }
            E::Full(err) => {
                tracing::error!(request_id = %current_request_id(), error = %err, "storage full");
                ApiError::insufficient_storage()
            }
            other => ApiError::internal(format_args!("storage: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;
    use crate::storage::StorageError;

    #[test]
    fn a_full_device_is_507_insufficient_storage_without_its_cause() {
        for err in [
            io::Error::from_raw_os_error(28),  // ENOSPC
            io::Error::from_raw_os_error(122), // EDQUOT
            io::Error::from(io::ErrorKind::StorageFull),
        ] {
            let storage = StorageError::from(err);
            assert!(matches!(storage, StorageError::Full(_)), "{storage:?}");
            let api = ApiError::from(storage);
            assert_eq!(api.status, StatusCode::INSUFFICIENT_STORAGE);
            assert_eq!(api.code.as_str(), "insufficient_storage");
            assert!(api.retry_after.is_none());
            assert!(!api.message.contains("os error"), "{}", api.message);
        }
        assert_eq!(
            ErrorCode::for_status(StatusCode::INSUFFICIENT_STORAGE),
            ErrorCode::InsufficientStorage
        );
    }

    #[test]
    fn other_io_errors_stay_internal() {
        let storage = StorageError::from(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(matches!(storage, StorageError::Io(_)), "{storage:?}");
        assert_eq!(
            ApiError::from(storage).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
