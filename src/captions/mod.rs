//! Captions: WebVTT tracks of a video, one per language, added to a ready
//! video without transcoding it again, and served with its HLS as a
//! `SUBTITLES` group.
//!
//! A track is checked whole before anything is stored ([`webvtt::parse`]),
//! stored as one normalized WebVTT object next to the video's HLS output
//! (never near the raw upload) and one row in `captions`; the segments a
//! player reads are cut from it on demand against the video's own segment
//! boundaries ([`segments::Timeline`]). No HTTP here: the edge asks who may
//! manage the video and translates.

pub mod language;
pub mod model;
pub mod segments;
pub mod webvtt;

use std::sync::{Arc, OnceLock};

use sealcast_keyserver::cache::BudgetCache;

use crate::app::App;
use crate::storage::{bytes_stream, collect, ObjectKey, StorageError};
use crate::videos::layout;

pub use model::Track;
pub use segments::{add_to_master, Timeline, TrackRef};
pub use webvtt::{Captions, CaptionsError, SourceFormat};

/// Largest caption file accepted (before conversion).
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Tracks per video: the master playlist names each.
pub const MAX_TRACKS: i64 = 32;
/// Bytes of parsed tracks kept per process; a track never changes under
/// its object key (a replacement gets a new one).
const CACHE_BUDGET: usize = 32 << 20;

/// Why a track was not stored; nothing of it was.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error(transparent)]
    Invalid(#[from] CaptionsError),
    #[error("{0}")]
    Language(String),
    #[error("{0}")]
    Label(String),
    #[error("a video holds at most {MAX_TRACKS} caption tracks")]
    TooMany,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a creator sends for one track.
#[derive(Debug)]
pub struct NewTrack<'a> {
    pub video_id: &'a str,
    /// As given; normalized here.
    pub lang: &'a str,
    /// Defaults to the normalized tag.
    pub label: Option<&'a str>,
    pub format: SourceFormat,
    pub bytes: &'a [u8],
}

/// Checks, converts and stores a track, replacing one of the same language;
/// the track, and whether it replaced one.
pub async fn put(app: &App, new: NewTrack<'_>) -> Result<(Track, bool), PutError> {
    let lang = language::normalize_tag(new.lang).map_err(PutError::Language)?;
    let label = language::check_label(new.label.unwrap_or(&lang)).map_err(PutError::Label)?;
    let captions = webvtt::parse(new.bytes, new.format)?;
    let previous = model::find(&app.db, new.video_id, &lang).await?;
    if previous.is_none() && model::count(&app.db, new.video_id).await? >= MAX_TRACKS {
        return Err(PutError::TooMany);
    }
    let text = captions.to_webvtt();
    let key = ObjectKey::new(layout::captions_key(
        new.video_id,
        &lang,
        &crate::db::new_id(),
    ))?;
    app.storage
        .put(&key, bytes_stream(text.clone().into_bytes()))
        .await?;
    let stored = model::upsert(
        &app.db,
        new.video_id,
        &lang,
        &label,
        key.as_str(),
        captions.cues.len(),
        text.len(),
    )
    .await;
    let track = match stored {
        Ok(track) => track,
        Err(err) => {
            // The row never pointed at it: take the object back.
            discard_object(app, key.as_str()).await;
            return Err(err.into());
        }
    };
    parsed_cache().insert(key.as_str().to_string(), Arc::new(captions), 2 * text.len());
    let replaced = previous.is_some();
    if let Some(old) = previous.filter(|p| p.object_key != track.object_key) {
        discard_object(app, &old.object_key).await;
    }
    Ok((track, replaced))
}

/// Removes a track; `false` if the video had none in that language.
pub async fn remove(app: &App, video_id: &str, lang: &str) -> Result<bool, PutError> {
    let lang = language::normalize_tag(lang).map_err(PutError::Language)?;
    let Some(track) = model::find(&app.db, video_id, &lang).await? else {
        return Ok(false);
    };
    let removed = model::delete(&app.db, video_id, &lang).await?;
    discard_object(app, &track.object_key).await;
    Ok(removed)
}

/// An object no row names any more; a leftover is swept with the video.
async fn discard_object(app: &App, key: &str) {
    let deleted = match ObjectKey::new(key) {
        Ok(key) => app.storage.delete(&key).await,
        Err(err) => Err(err),
    };
    if let Err(err) = deleted {
        tracing::warn!(error = %err, "caption object left behind");
    }
}

fn parsed_cache() -> &'static BudgetCache<String, Arc<Captions>> {
    static CACHE: OnceLock<BudgetCache<String, Arc<Captions>>> = OnceLock::new();
    CACHE.get_or_init(|| BudgetCache::new("parsed_captions", CACHE_BUDGET))
}

/// Why a stored track could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("stored captions unreadable: {0}")]
    Unreadable(#[from] CaptionsError),
}

/// A stored track, parsed (and kept for the next segment request).
pub async fn load(app: &App, track: &Track) -> Result<Arc<Captions>, LoadError> {
    if let Some(hit) = parsed_cache().get(&track.object_key, |_| true) {
        return Ok(hit);
    }
    let key = ObjectKey::new(track.object_key.clone())?;
    let body = app.storage.get(&key, None).await?;
    // Normalized on the way in, so never much past the upload limit.
    let bytes = collect(body.stream, 4 * MAX_BYTES).await?;
    let captions = Arc::new(webvtt::parse(&bytes, SourceFormat::WebVtt)?);
    parsed_cache().insert(track.object_key.clone(), captions.clone(), 2 * bytes.len());
    Ok(captions)
}

/// The tracks as the master playlist names them.
pub fn refs(tracks: &[Track]) -> Vec<TrackRef> {
    tracks
        .iter()
        .map(|t| TrackRef {
            lang: t.lang.clone(),
            label: t.label.clone(),
        })
        .collect()
}
