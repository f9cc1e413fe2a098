//! Seek previews: a video's storyboard (JPEG sprite sheets of thumbnails
//! and a WebVTT track naming a tile per interval), stored beside its HLS
//! output under `videos/{id}/hls/storyboard/` and served only under a
//! playback session's signature (`crate::http::hls`).
//!
//! New videos get one from their transcode. Videos transcoded before that
//! get one from [`backfill`]: the original upload is never kept, so it
//! decrypts the video's own smallest rendition ([`rendition`]) into a
//! private work dir and hands it to a sandboxed [`child`] that runs the
//! transcoder's storyboard code, as a transcode job would. The VTT is
//! written last, so its presence means the storyboard is whole; that is
//! what [`exists`] asks. No HTTP here.

pub mod backfill;
pub mod child;
mod rendition;

use crate::storage::{ObjectKey, ObjectStore, StorageError};
use crate::videos::layout;

/// Whether `video_id` has a whole storyboard in storage.
pub async fn exists(storage: &dyn ObjectStore, video_id: &str) -> Result<bool, StorageError> {
    let key = ObjectKey::new(layout::storyboard_vtt_key(video_id))?;
    Ok(storage.head(&key).await?.is_some())
}

/// A sheet's file name as the transcoder writes it: `sprite_` digits `.jpg`.
pub fn is_sheet_name(name: &str) -> bool {
    name.strip_prefix("sprite_")
        .and_then(|n| n.strip_suffix(".jpg"))
        .is_some_and(|d| !d.is_empty() && d.len() <= 6 && d.bytes().all(|b| b.is_ascii_digit()))
}
