//! The storyboard of a session's video at `/hls/{session}/{token}/storyboard/…`:
//! the WebVTT thumbnails track, whose relative sprite names resolve under
//! the session's signed path, and the sprite sheets themselves.
//!
//! The invariant is the playlists': nothing a player is handed points
//! outside the session's signed path, and a stored VTT line that is not
//! exactly what the transcoder writes (`WEBVTT`, a blank, a cue timing,
//! `sprite_NNN.jpg#xywh=x,y,w,h`) is refused rather than passed on.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sealcast_keyserver::cache::BudgetCache;

use super::AppState;
use crate::error::ApiError;
use crate::storage::{collect, ObjectKey, StorageError};
use crate::storyboards::is_sheet_name;
use crate::videos::layout;

/// The folder name in URLs, as in storage.
pub const DIR: &str = "storyboard";
/// The VTT's file name.
const VTT_NAME: &str = "storyboard.vtt";
/// A 3-hour video has about 1,100 cues of 70 bytes; anything far larger is not ours.
const MAX_VTT: usize = 4 * 1024 * 1024;
/// Sheets are fetched once per hover session; they are one learner's.
const CACHE_CONTROL: &str = "private, max-age=3600";
/// Bytes of checked VTTs kept per process: about 200 three-hour videos.
const VTT_CACHE_BUDGET: usize = 16 << 20;

/// Checked VTTs by storage key. A stored VTT never changes (the backfill
/// leaves an existing one alone, and a video's id is never reused), and
/// every session of a video is sent the same bytes, so each is read and
/// checked once per process.
fn vtts() -> &'static BudgetCache<String, Bytes> {
    static CACHE: OnceLock<BudgetCache<String, Bytes>> = OnceLock::new();
    CACHE.get_or_init(|| BudgetCache::new("storyboard_vtts", VTT_CACHE_BUDGET))
}

/// The stored VTT at `key`, checked.
async fn vtt(app: &AppState, key: &ObjectKey) -> Result<Bytes, ApiError> {
    if let Some(hit) = vtts().get(key.as_str(), |_| true) {
        return Ok(hit);
    }
    let body = app.storage.get(key, None).await.map_err(not_found)?;
    let text = collect(body.stream, MAX_VTT).await?;
    check_vtt(
        std::str::from_utf8(&text)
            .map_err(|_| ApiError::internal("stored storyboard is not UTF-8"))?,
    )?;
    let text = Bytes::from(text);
    vtts().insert(key.as_str().to_string(), text.clone(), text.len());
    Ok(text)
}

/// `file` under the storyboard folder of the session's video.
pub async fn serve(app: &AppState, video_id: &str, file: &str) -> Result<Response, ApiError> {
    let key = ObjectKey::new(format!("{}{file}", layout::storyboard_prefix(video_id)))?;
    if file == VTT_NAME {
        let out = vtt(app, &key).await?;
        return Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/vtt")),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            out,
        )
            .into_response());
    }
    if !is_sheet_name(file) {
        return Err(ApiError::not_found("file"));
    }
    let body = app.storage.get(&key, None).await.map_err(not_found)?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_CONTROL),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(body.len())),
        ],
        Body::from_stream(body.stream),
    )
        .into_response())
}

fn not_found(err: StorageError) -> ApiError {
    match err {
        StorageError::NotFound => ApiError::not_found("file"),
        other => other.into(),
    }
}

/// A cue timing line: `HH:MM:SS.mmm --> HH:MM:SS.mmm`, nothing else.
fn is_timing(line: &str) -> bool {
    line.split_once(" --> ").is_some_and(|(a, b)| {
        [a, b].iter().all(|t| {
            !t.is_empty()
                && t.len() <= 16
                && t.bytes()
                    .all(|c| c.is_ascii_digit() || c == b':' || c == b'.')
        })
    })
}

/// The stored VTT is served as stored once every line is one the
/// transcoder writes: sprite names are relative, so they resolve under the
/// session's signed path, and nothing else may point anywhere.
pub fn check_vtt(text: &str) -> Result<(), ApiError> {
    let refuse = || ApiError::internal("stored storyboard has a line that is not ours");
    let mut lines = text.lines();
    if lines.next() != Some("WEBVTT") || text.contains('\r') {
        return Err(refuse());
    }
    for line in lines {
        if line.is_empty() || is_timing(line) {
            continue;
        }
        let (name, xywh) = line.split_once("#xywh=").ok_or_else(refuse)?;
        let numbers: Vec<&str> = xywh.split(',').collect();
        let plain = numbers.len() == 4
            && numbers
                .iter()
                .all(|n| !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()));
        if !is_sheet_name(name) || !plain {
            return Err(refuse());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_transcoder_writes_passes() {
        let stored = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsprite_000.jpg#xywh=0,0,160,90\n\n\
                      00:00:02.000 --> 00:00:03.500\nsprite_001.jpg#xywh=160,0,160,90\n";
        assert!(check_vtt(stored).is_ok());
    }

    #[test]
    fn anything_else_in_a_stored_vtt_is_refused() {
        for bad in [
            "WEBVTT X\n",
            "\nWEBVTT\n",
            "WEBVTT\n\nNOTE hello\n",
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.000 align:start\nsprite_000.jpg#xywh=0,0,1,1\n",
            "WEBVTT\n\nhttps://evil.example/a.jpg#xywh=0,0,1,1\n",
            "WEBVTT\n\n../poster.jpg#xywh=0,0,1,1\n",
            "WEBVTT\n\nsprite_000.jpg#xywh=0,0,1\n",
            "WEBVTT\n\nsprite_000.jpg#xywh=0,0,1,1&x\n",
            "WEBVTT\n\nsprite_000.jpg\n",
            "WEBVTT\r\n\nsprite_000.jpg#xywh=0,0,1,1\n",
            "WEBVTT\n\n/hls/x/sprite_000.jpg#xywh=0,0,1,1\n",
        ] {
            assert!(check_vtt(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sheet_names() {
        assert!(is_sheet_name("sprite_000.jpg"));
        assert!(is_sheet_name("sprite_1234.jpg"));
        for bad in [
            "sprite_.jpg",
            "sprite_00a.jpg",
            "poster.jpg",
            "sprite_000.jpeg",
            "storyboard.vtt",
        ] {
            assert!(!is_sheet_name(bad), "{bad}");
        }
    }
}
