//! Where a video's objects live in storage: the one convention every writer
//! and reader uses.
//!
//! ```text
//! uploads/{id}/source      the upload while and after it arrives (never served)
//! uploads/{id}/…           side objects of a resumable upload
//! originals/{id}           a kept original (never served)
//! videos/{id}/hls/…        playlists and encrypted segments
//! videos/{id}/hls/storyboard/  seek previews: sprite_NNN.jpg, storyboard.vtt
//! videos/{id}/poster.jpg   the poster
//! videos/{id}/captions/…   caption tracks (WebVTT), one object per revision
//! ```
//!
//! Ids have a fixed length, so a prefix such as `uploads/{id}` matches only
//! that video's objects.

/// Everything of a video that may be served once signed: HLS and poster.
pub fn video_prefix(video_id: &str) -> String {
    format!("videos/{video_id}/")
}

/// The HLS output (master and variant playlists, segments).
pub fn hls_prefix(video_id: &str) -> String {
    format!("videos/{video_id}/hls/")
}

/// The storyboard's sheets and VTT (written by the transcoder as
/// `storyboard/…` beside the rungs); the VTT is written last.
pub fn storyboard_prefix(video_id: &str) -> String {
    format!("{}storyboard/", hls_prefix(video_id))
}

/// The storyboard's WebVTT track: its presence means the storyboard is whole.
pub fn storyboard_vtt_key(video_id: &str) -> String {
    format!(
        "{}{}",
        hls_prefix(video_id),
        sealcast_transcoder::STORYBOARD_VTT
    )
}

/// One revision of a caption track: a new key per upload, so a replaced
/// track never reads half of the next one.
pub fn captions_key(video_id: &str, lang: &str, revision: &str) -> String {
    format!("videos/{video_id}/captions/{lang}/{revision}.vtt")
}

pub fn poster_key(video_id: &str) -> String {
    format!("videos/{video_id}/poster.jpg")
}

/// Where an upload's bytes become an object.
pub fn upload_source_key(video_id: &str) -> String {
    format!("uploads/{video_id}/source")
}

/// Everything an upload may have left in storage.
pub fn upload_prefix(video_id: &str) -> String {
    format!("uploads/{video_id}/")
}

/// The private place of a kept original; no route serves it.
pub fn original_key(video_id: &str) -> String {
    format!("originals/{video_id}")
}

/// Every prefix a video's objects may sit under, for removal (`uploads/{id}`
/// without the slash also covers uploads stored by older versions beside it).
pub fn all_prefixes(video_id: &str) -> [String; 3] {
    [
        video_prefix(video_id),
        format!("uploads/{video_id}"),
        original_key(video_id),
    ]
}
