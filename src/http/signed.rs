//! The edge's one check of a signed URL (`?exp=&sig=`, HMAC over a path
//! prefix), for playlists, segments and posters. The key route checks its
//! own in the key server, with the same signer.

use sealcast_keyserver::{SignatureError, SignedQuery};

use super::AppState;
use crate::db::now_ms;
use crate::error::{ApiError, ErrorCode};

/// Parses and checks `exp`/`sig` of `path` for `scope` (a session or video
/// id); returns the verified query. 403 `bad_signature` or `expired_signature`.
pub fn verify(
    app: &AppState,
    path: &str,
    scope: &str,
    query: Option<&str>,
) -> Result<SignedQuery, ApiError> {
    let bad = || ApiError::new(ErrorCode::BadSignature, "bad signature");
    let signed = query.and_then(SignedQuery::parse).ok_or_else(bad)?;
    let now = (now_ms() / 1000) as u64;
    match app
        .url_signer
        .verify(path, scope, signed.exp, &signed.sig, now)
    {
        Ok(()) => Ok(signed),
        Err(SignatureError::Expired) => Err(ApiError::new(
            ErrorCode::ExpiredSignature,
            "this link has expired",
        )),
        Err(SignatureError::Bad) => Err(bad()),
    }
}
