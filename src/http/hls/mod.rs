//! Signed playback at `/hls/{session_id}/{token}/…`: per-session playlists,
//! encrypted segments and the seek-preview [`storyboard`].
//!
//! Every request proves itself with the path token, a signature over
//! `/hls/{session_id}/` until the session's expiry (no bearer token: players
//! fetch these URLs themselves), then the session must still be live. The
//! token sits in the path so that the relative names of stored playlists
//! inherit it: playlists go out the same for every session, written once
//! per process with relative key URIs ([`rewrite`]), which the key route
//! answers under the same token; segments stream from storage.
//! Nothing here can reach an upload: only `index.m3u8`, `master.m3u8`,
//! `.ts` files and the storyboard's VTT and sheets under a video's `hls/`
//! prefix are ever read, and caption tracks through their rows
//! (`…/subs/{lang}/…`, cut into WebVTT segments).

mod rewrite;
mod segment;
mod session;
mod storyboard;
mod subs;

use axum::extract::{Path, State};
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

pub use rewrite::{write_master, Template};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/hls/{session_id}/{token}/master.m3u8", get(master))
        .route(
            "/hls/{session_id}/{token}/{rung}/{file}",
            get(variant_or_segment),
        )
        .route(
            "/hls/{session_id}/{token}/subs/{lang}/{file}",
            get(subtitles),
        )
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

/// Signature, then session: returns the session's video id. `rest` is the
/// path after the token, which the signature's prefix must cover.
async fn authorize(
    app: &AppState,
    session_id: &str,
    token: &str,
    rest: &str,
) -> Result<String, ApiError> {
    let path = format!("{}{rest}", hls_prefix(session_id));
    signed::verify_token(app, &path, session_id, token).await?;
    session::live_video(app, session_id, now_ms()).await
}

#[utoipa::path(get, path = "/hls/{session_id}/{token}/master.m3u8", tag = "playback",
    params(("session_id" = String, Path), ("token" = String, Path, description = "the session's signature, `{exp}.{kv}.{sig}`")),
    responses((status = 200, description = "master playlist; variant and subtitle URIs are relative, under the same signed path", content_type = "application/vnd.apple.mpegurl"),
              (status = 403, description = "bad_signature, expired_signature or session_ended")))]
pub async fn master(
    State(app): State<AppState>,
    Path((session_id, token)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let video_id = authorize(&app, &session_id, &token, "master.m3u8").await?;
    let key = ObjectKey::new(format!("{}master.m3u8", layout::hls_prefix(&video_id)))?;
    let tracks = crate::captions::model::list(&app.db, &video_id).await?;
    let subtitles = crate::captions::refs(&tracks);
    let body = rewrite::master(&app, &key, &subtitles).await?;
    Ok(playlist_response(body))
}

#[utoipa::path(get, path = "/hls/{session_id}/{token}/{rung}/{file}", tag = "playback",
    params(("session_id" = String, Path), ("token" = String, Path, description = "the session's signature, `{exp}.{kv}.{sig}`"),
           ("rung" = String, Path, description = "a rendition, or `storyboard`"), ("file" = String, Path, description = "`index.m3u8` or a `.ts` segment; under `storyboard`, `storyboard.vtt` or a `sprite_NNN.jpg` sheet"),
           ("Range" = Option<String>, Header)),
    responses((status = 200, description = "variant playlist (segments relative, keys as `../{key_id}.key`, the key route under the same token), encrypted segment (video/mp2t), storyboard VTT (text/vtt, sprite names relative) or sheet (image/jpeg)"),
              (status = 206, description = "partial segment"),
              (status = 403, description = "bad_signature, expired_signature or session_ended"),
              (status = 404, description = "no such file")))]
pub async fn variant_or_segment(
    State(app): State<AppState>,
    Path((session_id, token, rung, file)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let rest = format!("{rung}/{file}");
    let video_id = authorize(&app, &session_id, &token, &rest).await?;
    if !is_safe_name(&rung) || !is_safe_name(&file) {
        return Err(ApiError::not_found("file"));
    }
    if rung == storyboard::DIR {
        return storyboard::serve(&app, &video_id, &file).await;
    }
    let key = ObjectKey::new(format!("{}{rest}", layout::hls_prefix(&video_id)))?;
    if file == "index.m3u8" {
        return Ok(playlist_response(rewrite::media(&app, &key).await?));
    }
    if !file.ends_with(".ts") {
        return Err(ApiError::not_found("file"));
    }
    if let Some(prefix) = &app.config.segment_redirect {
        let response = segment::redirect(&app, prefix, &key).await?;
        // nginx sends the bytes, so a whole segment is credited as it is
        // handed over (a range is not, as below).
        if !headers.contains_key(header::RANGE) {
            app.deliveries.record(&session_id, &rung, &file);
        }
        return Ok(response);
    }
    let response = segment::serve(&app, &key, &headers).await?;
    if response.status() != StatusCode::OK {
        return Ok(response);
    }
    Ok(note_when_sent(
        response,
        app.deliveries.clone(),
        session_id,
        rung,
        file,
    ))
}

/// Progress credits only a segment whose last byte went out: the delivery
/// is noted (an in-memory insert, no I/O) as the body yields the chunk that
/// completes its `Content-Length`, so a client that aborts the download, or
/// a body that fails midway, gets nothing. Not at the stream's end: with a
/// known length hyper stops polling the body once the last byte is written.
fn note_when_sent(
    response: Response,
    deliveries: std::sync::Arc<crate::progress::DeliveryLog>,
    session_id: String,
    rung: String,
    file: String,
) -> Response {
    use futures::StreamExt;
    let (parts, body) = response.into_parts();
    let expected = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (mut sent, mut failed) = (0u64, false);
    let mut note = Some(move || deliveries.record(&session_id, &rung, &file));
    let data = body.into_data_stream().inspect(move |chunk| match chunk {
        Ok(bytes) => {
            sent += bytes.len() as u64;
            if !failed && expected == Some(sent) {
                if let Some(note) = note.take() {
                    note();
                }
            }
        }
        Err(_) => failed = true,
    });
    let body = axum::body::Body::from_stream(data);
    Response::from_parts(parts, body)
}

#[utoipa::path(get, path = "/hls/{session_id}/{token}/subs/{lang}/{file}", tag = "playback",
    params(("session_id" = String, Path), ("token" = String, Path, description = "the session's signature, `{exp}.{kv}.{sig}`"),
           ("lang" = String, Path), ("file" = String, Path, description = "`index.m3u8` or a `.vtt` segment")),
    responses((status = 200, description = "subtitle playlist (segments relative), or a WebVTT segment aligned with the video's (text/vtt)"),
              (status = 403, description = "bad_signature, expired_signature or session_ended"),
              (status = 404, description = "no such track or segment")))]
pub async fn subtitles(
    State(app): State<AppState>,
    Path((session_id, token, lang, file)): Path<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let rest = format!("subs/{lang}/{file}");
    let video_id = authorize(&app, &session_id, &token, &rest).await?;
    if !is_safe_name(&lang) || !is_safe_name(&file) {
        return Err(ApiError::not_found("file"));
    }
    subs::serve(&app, &video_id, &lang, &file).await
}

fn playlist_response(body: impl Into<axum::body::Body>) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.apple.mpegurl"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.into(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use bytes::Bytes;
    use futures::StreamExt;

    use super::*;
    use crate::progress::DeliveryLog;

    /// A 200 of `len` bytes whose body is `body`, as the segment route sends it.
    fn noted(body: Body, len: usize, log: &Arc<DeliveryLog>, segment: &str) -> Response {
        let mut resp = Response::new(body);
        resp.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        note_when_sent(resp, log.clone(), "s".into(), "240p".into(), segment.into())
    }

    async fn drain(resp: Response) {
        let mut data = resp.into_body().into_data_stream();
        while data.next().await.is_some() {}
    }

    #[tokio::test]
    async fn a_segment_is_noted_only_once_its_last_byte_is_sent() {
        let log = Arc::new(DeliveryLog::default());
        let whole = noted(Body::from("segment bytes"), 13, &log, "seg_00000.ts");
        assert_eq!(log.pending_len(), 0, "nothing before the body is sent");
        drain(whole).await;
        assert_eq!(log.pending_len(), 1, "the whole body went out");

        let chunks = || {
            futures::stream::iter([
                Ok::<_, std::io::Error>(Bytes::from_static(b"first half")),
                Ok(Bytes::from_static(b"second half")),
            ])
        };
        // The client went away after the first chunk.
        let mut half = noted(Body::from_stream(chunks()), 21, &log, "seg_00001.ts")
            .into_body()
            .into_data_stream();
        assert!(half.next().await.is_some());
        drop(half);
        assert_eq!(log.pending_len(), 1, "an aborted download is not noted");

        // Storage failed midway.
        let failing = futures::stream::iter([
            Ok(Bytes::from_static(b"half")),
            Err(std::io::Error::other("storage went away")),
        ]);
        drain(noted(Body::from_stream(failing), 8, &log, "seg_00002.ts")).await;
        assert_eq!(log.pending_len(), 1, "a failed body is not noted");

        drain(noted(Body::from_stream(chunks()), 21, &log, "seg_00003.ts")).await;
        assert_eq!(log.pending_len(), 2);
    }
}
