//! `Idempotency-Key` on the API's POST routes, so a course platform can
//! retry a write (create a user, a course, an enrollment, a playback
//! session, a revocation) without doing it twice.
//!
//! The same key with the same request (method, path, body) returns the first
//! answer, marked `Idempotent-Replayed: true`; with a different request,
//! `422 idempotency_key_reused`; while the first is still running, `409
//! idempotency_key_in_use` with `Retry-After`. Keys are scoped to the caller
//! (the token's subject), kept 24 h in the database and so shared by every
//! node. Server errors and `429`s are not kept: a retry runs again. The
//! login and refresh routes are left out on purpose: their answers are
//! credentials, which must never be stored. An answer that carries a secret
//! shown once (a webhook's signing secret) is marked [`SealAnswer`] and kept
//! sealed under the keyring's key, so a replay can still show it but the
//! database alone cannot.

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::auth::bearer_token;
use super::AppState;
use crate::db::idempotency::{self, Claim, StoredAnswer};
use crate::error::{ApiError, ErrorCode};

pub static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// JSON bodies of these routes are small; the identity routes cap them too.
const BODY_LIMIT: usize = 64 * 1024;
/// Answers longer than this are passed on but not kept.
const ANSWER_LIMIT: usize = 256 * 1024;

/// A key: 1 to 255 visible ASCII characters (what Stripe and the IETF draft
/// allow in practice).
fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

fn request_hash(method: &Method, path: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str());
    h.update([0]);
    h.update(path);
    h.update([0]);
    h.update(body);
    hex::encode(h.finalize())
}

/// A response extension: keep this answer sealed, it holds a secret.
#[derive(Debug, Clone, Copy)]
pub struct SealAnswer;

/// Marks a sealed body in the `body` column.
const SEALED: &str = "sealed:";

fn seal_label(scope: &str, key: &str) -> String {
    format!("idempotent-answer:{scope}:{key}")
}

fn replay(app: &AppState, scope: &str, key: &str, answer: StoredAnswer) -> Response {
    let body = match answer.body.strip_prefix(SEALED) {
        None => answer.body,
        Some(sealed) => match app.keyring.seal().open(&seal_label(scope, key), sealed) {
            Ok(raw) => String::from_utf8_lossy(&raw).into_owned(),
            Err(_) => return ApiError::internal("a kept answer cannot be opened").into_response(),
        },
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let headers = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, answer.content_type),
        (header::LOCATION, answer.location),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    resp
}

/// The middleware, as a `route_layer` over the API routes.
pub async fn layer(State(app): State<AppState>, request: Request, next: Next) -> Response {
    let Some(key) = request.headers().get(&IDEMPOTENCY_KEY) else {
        return next.run(request).await;
    };
    if request.method() != Method::POST || request.uri().path().starts_with("/api/v1/auth/") {
        return next.run(request).await;
    }
    let Some(key) = key
        .to_str()
        .ok()
        .filter(|k| valid_key(k))
        .map(str::to_string)
    else {
        return ApiError::new(
            ErrorCode::InvalidIdempotencyKey,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
        .into_response();
    };
    // Keys are the caller's own; without a valid token the route answers 401.
    let (parts, body) = request.into_parts();
    let scope = match bearer_token(&parts).map(|t| app.verifier.verify(&t)) {
        Some(Ok(identity)) => format!("{:?}:{}", identity.issuer, identity.user_id),
        _ => return next.run(Request::from_parts(parts, body)).await,
    };
    let Ok(body) = to_bytes(body, BODY_LIMIT).await else {
        return ApiError::new(ErrorCode::PayloadTooLarge, "request body too large").into_response();
    };
    let hash = request_hash(&parts.method, parts.uri.path(), &body);
    match idempotency::claim(&app.db, &scope, &key, &hash).await {
        Err(err) => return ApiError::from(err).into_response(),
        Ok(Claim::Replay(answer)) => return replay(&app, &scope, &key, answer),
        Ok(Claim::Mismatch) => {
            return ApiError::new(
                ErrorCode::IdempotencyKeyReused,
                "this Idempotency-Key was used with a different request",
            )
            .into_response()
        }
        Ok(Claim::InFlight) => {
            return ApiError::new(
                ErrorCode::IdempotencyKeyInUse,
                "a request with this Idempotency-Key is still running",
            )
            .with_retry_after(1)
            .into_response()
        }
        Ok(Claim::Fresh) => {}
    }
    let resp = next.run(Request::from_parts(parts, Body::from(body))).await;
    let status = resp.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        let _ = idempotency::release(&app.db, &scope, &key).await;
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let (content_type, location) = (header(header::CONTENT_TYPE), header(header::LOCATION));
    let sealed = parts.extensions.get::<SealAnswer>().is_some();
    let kept = match to_bytes(body, ANSWER_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let _ = idempotency::release(&app.db, &scope, &key).await;
            return ApiError::internal("answer too large to keep").into_response();
        }
    };
    let answer = StoredAnswer {
        status: status.as_u16(),
        content_type,
        location,
        body: if sealed {
            let label = seal_label(&scope, &key);
            format!("{SEALED}{}", app.keyring.seal().seal(&label, &kept))
        } else {
            String::from_utf8_lossy(&kept).into_owned()
        },
    };
    if let Err(err) = idempotency::complete(&app.db, &scope, &key, &answer).await {
        tracing::warn!(error = %err, "idempotency answer not kept");
        let _ = idempotency::release(&app.db, &scope, &key).await;
    }
    parts.headers.remove(&REPLAYED);
    Response::from_parts(parts, Body::from(kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(valid_key("8e03978e-40d5-43e8-bc93-6894a57f9324"));
        assert!(!valid_key(""));
        assert!(!valid_key("has space"));
        assert!(!valid_key(&"k".repeat(256)));
        assert!(!valid_key("é"));
    }

    #[test]
    fn the_hash_tells_method_path_and_body_apart() {
        let a = request_hash(&Method::POST, "/api/v1/courses", b"{}");
        assert_ne!(a, request_hash(&Method::POST, "/api/v1/users", b"{}"));
        assert_ne!(a, request_hash(&Method::POST, "/api/v1/courses", b"{ }"));
        assert_ne!(
            request_hash(&Method::POST, "/a", b"b/c"),
            request_hash(&Method::POST, "/ab", b"/c")
        );
    }
}
