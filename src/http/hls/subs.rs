//! A session's caption tracks: the subtitle media playlist (its segment
//! names relative, like every other) and WebVTT segments cut on demand from
//! the stored track, aligned with the video's own segments.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use m3u8_rs::Playlist;

use super::{playlist_response, rewrite, AppState};
use crate::captions::{self, segments, Timeline};
use crate::error::ApiError;
use crate::storage::ObjectKey;
use crate::videos::layout;

/// The video's segment boundaries, from its first variant's playlist.
async fn timeline(app: &AppState, video_id: &str) -> Result<Timeline, ApiError> {
    let prefix = layout::hls_prefix(video_id);
    let master = rewrite::load(app, &ObjectKey::new(format!("{prefix}master.m3u8"))?).await?;
    let Playlist::MasterPlaylist(master) = &master.playlist else {
        return Err(ApiError::internal(
            "stored master playlist is of the wrong kind",
        ));
    };
    let variant = master
        .variants
        .iter()
        .find(|v| !v.is_i_frame)
        .ok_or_else(|| ApiError::internal("stored master playlist has no variant"))?;
    // A relative name the transcoder wrote; the key check refuses `..`.
    let key = ObjectKey::new(format!("{prefix}{}", variant.uri))?;
    match &rewrite::load(app, &key).await?.playlist {
        Playlist::MediaPlaylist(media) => Ok(Timeline::of(media)),
        Playlist::MasterPlaylist(_) => Err(ApiError::internal(
            "stored variant playlist is of the wrong kind",
        )),
    }
}

/// `index.m3u8` or `seg_NNNNN.vtt` of the track in `lang`, for a live session.
pub(super) async fn serve(
    app: &AppState,
    video_id: &str,
    lang: &str,
    file: &str,
) -> Result<Response, ApiError> {
    let track = captions::model::find(&app.db, video_id, lang)
        .await?
        .ok_or_else(|| ApiError::not_found("caption track"))?;
    let timeline = timeline(app, video_id).await?;
    if file == "index.m3u8" {
        // Checked by the same template as every video playlist; no keys.
        let body = rewrite::Template::of(&timeline.playlist())?.render("", "");
        return Ok(playlist_response(body));
    }
    let index = segments::segment_index(file).ok_or_else(|| ApiError::not_found("file"))?;
    let parsed = captions::load(app, &track)
        .await
        .map_err(|e| ApiError::internal(format_args!("captions of {video_id}: {e}")))?;
    let body = timeline
        .segment(&parsed, index)
        .ok_or_else(|| ApiError::not_found("file"))?;
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/vtt; charset=utf-8"),
            ),
            // A replaced track is served at the same URL.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}
