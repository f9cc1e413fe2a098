//! What a transcode tells its caller: enough to fill a catalogue entry
//! without reading the playlists back.

use crate::probe::MediaInfo;
use crate::storyboard::StoryboardSummary;

/// One produced rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionReport {
    /// Folder name, e.g. "720p".
    pub name: String,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Peak segment bitrate (bits/s, encrypted bytes), as in `BANDWIDTH`.
    pub bandwidth: u64,
    /// Average bitrate (bits/s), as in `AVERAGE-BANDWIDTH`.
    pub average_bandwidth: u64,
    /// RFC 6381 codecs, e.g. "avc1.64001f,mp4a.40.2".
    pub codecs: String,
    /// True when this rung was re-muxed from the source, not encoded.
    pub copied: bool,
}

/// What [`transcode`](crate::transcode) produced.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeReport {
    /// Duration of the output in seconds.
    pub duration_seconds: f64,
    /// Renditions, tallest first (same order as in `master.m3u8`).
    pub renditions: Vec<RenditionReport>,
    /// Segments per rendition (identical on every rung).
    pub segment_count: usize,
    /// Number of distinct content keys used.
    pub key_count: usize,
    /// The seek-preview storyboard, if any frame was decoded.
    pub storyboard: Option<StoryboardSummary>,
    /// What the input looked like.
    pub source: MediaInfo,
}
