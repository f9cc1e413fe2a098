//! Where each segment sits in media time, read from the stored variant
//! playlists: `#EXTINF` durations summed in order give every segment its
//! `[start, end)`. Stored playlists never change once a video is ready, so
//! timelines are cached per process under a byte budget.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use m3u8_rs::MediaPlaylist;
use sealcast_keyserver::cache::BudgetCache;

use super::ranges::Ranges;
use crate::storage::{collect, ObjectKey, ObjectStore, StorageError};
use crate::videos::layout;

/// Stored playlists are small; anything larger is not ours.
const MAX_PLAYLIST: usize = 16 * 1024 * 1024;
/// Bytes of timelines kept per process.
const CACHE_BUDGET: usize = 16 << 20;

/// One rendition's segments: file name → `[start_ms, end_ms)`.
pub type Timeline = HashMap<String, (i64, i64)>;

fn cache() -> &'static BudgetCache<String, Arc<Timeline>> {
    static CACHE: OnceLock<BudgetCache<String, Arc<Timeline>>> = OnceLock::new();
    CACHE.get_or_init(|| BudgetCache::new("segment_timelines", CACHE_BUDGET))
}

/// The segments of a media playlist in media time.
pub fn timeline_of(playlist: &MediaPlaylist) -> Timeline {
    let mut at = 0f64;
    let mut out = HashMap::with_capacity(playlist.segments.len());
    for segment in &playlist.segments {
        let start = at;
        at += f64::from(segment.duration);
        out.insert(
            segment.uri.clone(),
            (
                (start * 1000.0).round() as i64,
                (at * 1000.0).round() as i64,
            ),
        );
    }
    out
}

/// The timeline of one rendition of a video; `None` if it has no such
/// rendition (a name a client made up).
pub async fn load(
    storage: &dyn ObjectStore,
    video_id: &str,
    rung: &str,
) -> Result<Option<Arc<Timeline>>, StorageError> {
    let name = format!("{}{rung}/index.m3u8", layout::hls_prefix(video_id));
    if let Some(hit) = cache().get(&name, |_| true) {
        return Ok(Some(hit));
    }
    let key = ObjectKey::new(name.clone())?;
    let body = match storage.get(&key, None).await {
        Ok(body) => body,
        Err(StorageError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let bytes = collect(body.stream, MAX_PLAYLIST).await?;
    let Ok(playlist) = m3u8_rs::parse_media_playlist_res(&bytes) else {
        tracing::warn!(playlist = %name, "stored variant playlist unreadable; no credit from it");
        return Ok(None);
    };
    let timeline = Arc::new(timeline_of(&playlist));
    let size: usize = timeline.keys().map(|k| k.len() + 40).sum();
    cache().insert(name, timeline.clone(), size);
    Ok(Some(timeline))
}

/// The media time covered by `delivered` `(rung, segment)` pairs.
pub async fn covered(
    storage: &dyn ObjectStore,
    video_id: &str,
    delivered: &[(String, String)],
) -> Result<Ranges, StorageError> {
    let mut by_rung: HashMap<&str, Vec<&str>> = HashMap::new();
    for (rung, segment) in delivered {
        by_rung
            .entry(rung.as_str())
            .or_default()
            .push(segment.as_str());
    }
    let mut intervals = Vec::with_capacity(delivered.len());
    for (rung, segments) in by_rung {
        let Some(timeline) = load(storage, video_id, rung).await? else {
            continue;
        };
        intervals.extend(segments.iter().filter_map(|s| timeline.get(*s).copied()));
    }
    Ok(Ranges::from_intervals(intervals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extinf_durations_place_segments_in_order() {
        let text = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg_00000.ts\n\
#EXTINF:4.0,\nseg_00001.ts\n#EXTINF:2.5,\nseg_00002.ts\n#EXT-X-ENDLIST\n";
        let playlist = m3u8_rs::parse_media_playlist_res(text).unwrap();
        let t = timeline_of(&playlist);
        assert_eq!(t["seg_00000.ts"], (0, 4000));
        assert_eq!(t["seg_00001.ts"], (4000, 8000));
        assert_eq!(t["seg_00002.ts"], (8000, 10_500));
    }
}
