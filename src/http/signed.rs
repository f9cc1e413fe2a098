//! The edge's one check of a signed URL (HMAC over a path prefix): from the
//! query (`?exp=&sig=[&kv=]`, posters) or from a path token (`{exp}.{kv}.{sig}`,
//! a playback session's `/hls/{session}/{token}/…`). The key route checks its
//! own in the key server, with the same signer.

use sealcast_keyserver::{SignatureError, SignedQuery};

use super::AppState;
use crate::db::now_ms;
use crate::error::{ApiError, ErrorCode};

fn bad() -> ApiError {
    ApiError::new(ErrorCode::BadSignature, "bad signature")
}

/// Parses and checks `exp`/`sig`/`kv` of `path` for `scope` (a session or
/// video id); returns the verified query. 403 `bad_signature` or
/// `expired_signature`.
pub async fn verify(
    app: &AppState,
    path: &str,
    scope: &str,
    query: Option<&str>,
) -> Result<SignedQuery, ApiError> {
    let signed = query.and_then(SignedQuery::parse).ok_or_else(bad)?;
    check(app, path, scope, signed).await
}

/// As [`verify`], with the signature read from a path token; `path` is the
/// request's path with the token segment taken out.
pub async fn verify_token(
    app: &AppState,
    path: &str,
    scope: &str,
    token: &str,
) -> Result<SignedQuery, ApiError> {
    let signed = SignedQuery::from_path_token(token).ok_or_else(bad)?;
    check(app, path, scope, signed).await
}

async fn check(
    app: &AppState,
    path: &str,
    scope: &str,
    signed: SignedQuery,
) -> Result<SignedQuery, ApiError> {
    if !app.url_signer.knows_version(signed.kv) {
        // Perhaps rotated since this node's last reload.
        app.keyring.reload_for_unknown().await;
    }
    let now = (now_ms() / 1000) as u64;
    match app.url_signer.verify_query(path, scope, &signed, now) {
        Ok(()) => Ok(signed),
        Err(SignatureError::Expired) => Err(ApiError::new(
            ErrorCode::ExpiredSignature,
            "this link has expired",
        )),
        Err(SignatureError::Bad) => Err(bad()),
    }
}
