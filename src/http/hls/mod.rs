//! Signed playback at `/hls/{session_id}/…`: per-session playlists and
//! encrypted segments.
//!
//! Every request proves itself with `exp`/`sig` over `/hls/{session_id}/`
//! (no bearer token: players fetch these URLs themselves), then the session
//! must still be live. Playlists are rewritten for the session so every URI
//! in them carries a signature; segments stream from storage. Nothing here
//! can reach an upload: only `index.m3u8`, `master.m3u8` and `.ts` files
//! under a video's `hls/` prefix are ever read, and caption tracks through
//! their rows (`/hls/{session_id}/subs/{lang}/…`, cut into WebVTT segments).

mod rewrite;
mod segment;
mod session;
mod subs;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::signed;
use super::AppState;
use crate::db::now_ms;
use crate::error::ApiError;
use crate::playback::hls_prefix;
use crate::storage::ObjectKey;
use crate::videos::layout;

pub use rewrite::{rewrite_master, rewrite_media};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hls/{session_id}/master.m3u8", get(master))
        .route("/hls/{session_id}/{rung}/{file}", get(variant_or_segment))
        .route("/hls/{session_id}/subs/{lang}/{file}", get(subtitles))
}

/// A path segment we are willing to turn into part of a storage key.
fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Signature, then session: returns the session's video id and the expiry
/// to carry into every URI of a rewritten playlist.
async fn authorize(
    app: &AppState,
    session_id: &str,
    path: &str,
    query: Option<&str>,
) -> Result<(String, u64), ApiError> {
    let exp = signed::verify(app, path, session_id, query).await?.exp;
    let video_id = session::live_video(app, session_id, now_ms()).await?;
    Ok((video_id, exp))
}

#[utoipa::path(get, path = "/hls/{session_id}/master.m3u8", tag = "playback",
    params(("session_id" = String, Path), ("exp" = u64, Query), ("sig" = String, Query), ("kv" = Option<u32>, Query)),
    responses((status = 200, description = "master playlist, every URI signed", content_type = "application/vnd.apple.mpegurl"),
              (status = 403, description = "bad_signature, expired_signature or session_ended")))]
pub async fn master(
    State(app): State<AppState>,
    Path(session_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let path = format!("{}master.m3u8", hls_prefix(&session_id));
    let (video_id, exp) = authorize(&app, &session_id, &path, query.as_deref()).await?;
    let key = ObjectKey::new(format!("{}master.m3u8", layout::hls_prefix(&video_id)))?;
    let tracks = crate::captions::model::list(&app.db, &video_id).await?;
    let subtitles = crate::captions::refs(&tracks);
    let body =
        rewrite::cached_rewrite(&app, &key, &session_id, "", exp, Some(subtitles.as_slice()))
            .await?;
    Ok(playlist_response(body))
}

#[utoipa::path(get, path = "/hls/{session_id}/{rung}/{file}", tag = "playback",
    params(("session_id" = String, Path), ("rung" = String, Path), ("file" = String, Path, description = "`index.m3u8` or a `.ts` segment"),
           ("exp" = u64, Query), ("sig" = String, Query), ("kv" = Option<u32>, Query), ("Range" = Option<String>, Header)),
    responses((status = 200, description = "variant playlist or encrypted segment (video/mp2t)"),
              (status = 206, description = "partial segment"),
              (status = 403, description = "bad_signature, expired_signature or session_ended"),
              (status = 404, description = "no such file")))]
pub async fn variant_or_segment(
    State(app): State<AppState>,
    Path((session_id, rung, file)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let path = format!("{}{rung}/{file}", hls_prefix(&session_id));
    let (video_id, exp) = authorize(&app, &session_id, &path, query.as_deref()).await?;
    if !is_safe_name(&rung) || !is_safe_name(&file) {
        return Err(ApiError::not_found("file"));
    }
    let key = ObjectKey::new(format!("{}{rung}/{file}", layout::hls_prefix(&video_id)))?;
    if file == "index.m3u8" {
        let dir = format!("{rung}/");
        let body = rewrite::cached_rewrite(&app, &key, &session_id, &dir, exp, None).await?;
        return Ok(playlist_response(body));
    }
    if !file.ends_with(".ts") {
        return Err(ApiError::not_found("file"));
    }
    segment::serve(&app, &key, &headers).await
}

#[utoipa::path(get, path = "/hls/{session_id}/subs/{lang}/{file}", tag = "playback",
    params(("session_id" = String, Path), ("lang" = String, Path), ("file" = String, Path, description = "`index.m3u8` or a `.vtt` segment"),
           ("exp" = u64, Query), ("sig" = String, Query), ("kv" = Option<u32>, Query)),
    responses((status = 200, description = "subtitle playlist, or a WebVTT segment aligned with the video's (text/vtt)"),
              (status = 403, description = "bad_signature, expired_signature or session_ended"),
              (status = 404, description = "no such track or segment")))]
pub async fn subtitles(
    State(app): State<AppState>,
    Path((session_id, lang, file)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let path = format!("{}subs/{lang}/{file}", hls_prefix(&session_id));
    let (video_id, exp) = authorize(&app, &session_id, &path, query.as_deref()).await?;
    if !is_safe_name(&lang) || !is_safe_name(&file) {
        return Err(ApiError::not_found("file"));
    }
    subs::serve(&app, &session_id, &video_id, &lang, &file, exp).await
}

fn playlist_response(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.apple.mpegurl"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
