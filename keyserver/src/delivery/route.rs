//! The axum handler: read the request once, run the checks, write the one audit
//! record, answer 16 key bytes or the error envelope. Both carry no-store.

use super::audit::{self, KeyAuditEvent};
use super::checks::serve_key;
use super::error::{error_response, no_store, KeyErrorCode};
use super::request::{request_id, KeyRequest, HLS_KEY_SUFFIX};
use super::KeyDelivery;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use zeroize::Zeroizing;

pub(super) async fn get_key(
    State(kd): State<KeyDelivery>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Response {
    // Drop the body up front: only the head is needed, and `Parts` is `Sync`.
    let (parts, _body) = req.into_parts();
    let request_id = request_id(&parts);
    let Ok(Path((session_id, key_id))) = path else {
        return error_response(KeyErrorCode::KeyNotFound.into(), &request_id);
    };
    let req = KeyRequest::parse(&parts, session_id, key_id);
    answer(&kd, &req, &request_id).await
}

/// `GET /hls/{session_id}/{token}/{key_id}.key`: the same key by the relative
/// URI a session's playlists name it with, so they go out as stored.
pub(super) async fn get_key_by_token(
    State(kd): State<KeyDelivery>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    req: Request,
) -> Response {
    let (parts, _body) = req.into_parts();
    let request_id = request_id(&parts);
    let Ok(Path((session_id, token, file))) = path else {
        return error_response(KeyErrorCode::NotFound.into(), &request_id);
    };
    // Only `{key_id}.key` is a key; the edge answers every other name.
    let Some(key_id) = file
        .strip_suffix(HLS_KEY_SUFFIX)
        .filter(|id| crate::signed_url::is_valid_id(id))
    else {
        return error_response(KeyErrorCode::NotFound.into(), &request_id);
    };
    let req = KeyRequest::parse_hls(&parts, session_id, &token, key_id.to_owned());
    answer(&kd, &req, &request_id).await
}

async fn answer(kd: &KeyDelivery, req: &KeyRequest, request_id: &str) -> Response {
    let inner = &kd.inner;
    let now = inner.clock.unix_seconds();
    let mut event = KeyAuditEvent::for_request(req, now);
    let outcome = serve_key(inner, req, now, &mut event).await;
    match audit::record(inner.store.as_ref(), event, outcome).await {
        Ok(key) => key_response(&key),
        Err(denial) => error_response(denial, request_id),
    }
}

fn key_response(key: &Zeroizing<[u8; 16]>) -> Response {
    let mut resp = Response::new(Body::from(key.to_vec()));
    no_store(&mut resp);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("16"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}
