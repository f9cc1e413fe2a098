//! Every way the key route can say no, as one enum with stable codes, and the one
//! JSON envelope the whole API answers errors with:
//! `{"error": {"code", "message", "request_id"}}`, never cached.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A key-route refusal. [`as_str`](Self::as_str) is the wire code clients branch on
/// and audit records carry: renaming one is a breaking API change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyErrorCode {
    /// URL signature missing, malformed or wrong.
    BadSignature,
    /// URL signature valid but expired.
    ExpiredSignature,
    /// No such playback session.
    SessionNotFound,
    /// The session ended or expired.
    SessionEnded,
    /// The session was ended by a revocation.
    SessionRevoked,
    /// Neither a Bearer token nor the session cookie was sent.
    MissingToken,
    /// The Bearer token or session cookie did not verify.
    InvalidToken,
    /// A valid token of another user.
    WrongUser,
    /// The session's user lost access to the video.
    Revoked,
    /// The session's user is not enrolled.
    NotEntitled,
    /// The session's user is disabled.
    UserDisabled,
    /// The video was deleted or unpublished.
    VideoGone,
    /// The session's video has no such key.
    KeyNotFound,
    /// Under a session's path token, a name that is not `{key_id}.key`: the
    /// edge's own `not_found`, as for any other file the session lacks.
    NotFound,
    /// Too many key requests for this session (any key, repeats included).
    RateLimited,
    /// New keys requested faster than playback.
    KeyPacing,
    /// The sealed key did not open (wrong master, mis-filed row).
    KeyUnavailable,
    /// The key store failed.
    StoreUnavailable,
    /// A grant could not be audited, so it was withheld.
    AuditUnavailable,
}

impl KeyErrorCode {
    /// The stable wire code.
    pub fn as_str(self) -> &'static str {
        self.describe().1
    }

    /// The HTTP status it is answered with.
    pub fn status(self) -> StatusCode {
        self.describe().0
    }

    /// A message safe to show the user.
    pub fn message(self) -> &'static str {
        self.describe().2
    }

    fn describe(self) -> (StatusCode, &'static str, &'static str) {
        use KeyErrorCode as C;
        use StatusCode as S;
        match self {
            C::BadSignature => (
                S::FORBIDDEN,
                "bad_signature",
                "missing or invalid URL signature",
            ),
            C::ExpiredSignature => (S::FORBIDDEN, "expired_signature", "URL signature expired"),
            C::SessionNotFound => (
                S::NOT_FOUND,
                "session_not_found",
                "no such playback session",
            ),
            C::SessionEnded => (
                S::FORBIDDEN,
                "session_ended",
                "playback session has ended or expired",
            ),
            C::SessionRevoked => (
                S::FORBIDDEN,
                "session_revoked",
                "playback session was revoked",
            ),
            C::MissingToken => (
                S::UNAUTHORIZED,
                "missing_token",
                "a bearer token or session cookie is required",
            ),
            C::InvalidToken => (
                S::UNAUTHORIZED,
                "invalid_token",
                "invalid bearer token or session cookie",
            ),
            C::WrongUser => (
                S::FORBIDDEN,
                "wrong_user",
                "token does not belong to this session's user",
            ),
            C::Revoked => (S::FORBIDDEN, "revoked", "access revoked"),
            C::NotEntitled => (S::FORBIDDEN, "not_entitled", "not entitled to this video"),
            C::UserDisabled => (S::FORBIDDEN, "user_disabled", "user account disabled"),
            C::VideoGone => (S::NOT_FOUND, "video_gone", "video no longer available"),
            C::KeyNotFound => (S::NOT_FOUND, "key_not_found", "no such key"),
            C::NotFound => (S::NOT_FOUND, "not_found", "no such file"),
            C::RateLimited => (
                S::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many key requests for this session",
            ),
            C::KeyPacing => (
                S::TOO_MANY_REQUESTS,
                "key_pacing",
                "keys requested faster than playback; retry later",
            ),
            C::KeyUnavailable => (
                S::INTERNAL_SERVER_ERROR,
                "key_unavailable",
                "key could not be opened",
            ),
            C::StoreUnavailable => (
                S::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "key store unavailable",
            ),
            C::AuditUnavailable => (
                S::SERVICE_UNAVAILABLE,
                "audit_unavailable",
                "audit log unavailable",
            ),
        }
    }
}

/// A refusal on its way out: the code and, for the 429s and 503s, when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Denial {
    pub(super) code: KeyErrorCode,
    pub(super) retry_after: Option<u64>,
}

impl Denial {
    pub(super) fn retry_after(code: KeyErrorCode, seconds: u64) -> Self {
        Self {
            code,
            retry_after: Some(seconds),
        }
    }
}

/// Seconds a player is told to wait when the store or the audit log is away
/// (a database failover or restart): short, the player retries on its own.
pub(super) const UNAVAILABLE_RETRY_SECS: u64 = 2;

impl From<KeyErrorCode> for Denial {
    fn from(code: KeyErrorCode) -> Self {
        // Every 503 is transient, so it says when to come back.
        let retry_after =
            (code.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(UNAVAILABLE_RETRY_SECS);
        Self { code, retry_after }
    }
}

/// The no-store headers every key response carries, grant or error.
pub(super) fn no_store(resp: &mut Response) {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The error envelope for `denial`.
pub(super) fn error_response(denial: Denial, request_id: &str) -> Response {
    let code = denial.code;
    let body = json!({"error": {
        "code": code.as_str(),
        "message": code.message(),
        "request_id": request_id,
    }});
    let mut resp = (code.status(), axum::Json(body)).into_response();
    no_store(&mut resp);
    if let Some(secs) = denial.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}
