//! # sealcast-transcoder
//!
//! Media only: one uploaded file in, an AES-128 encrypted HLS ladder out.
//! No HTTP, no database, no async runtime — the server calls [`transcode`]
//! on a blocking thread and hands it an [`OutputSink`] that uploads each
//! finished output as soon as it exists.
//!
//! Pipeline (all in process, through ffmpeg-next; the ffmpeg CLI is never
//! run): probe and validate headers ([`probe`]) → decode video and audio once
//! on the calling thread → every rung scales and encodes (libx264) on its
//! own thread, fed through bounded channels (a rung at most 2/3 the height
//! of the next larger one scales from that rung's picture) → MPEG-TS
//! segments cut at
//! keyframes forced at the same source PTS on every rung → each segment
//! encrypted whole (AES-128-CBC, PKCS#7, IV = media sequence number) →
//! playlists (m3u8-rs) and a poster JPEG. See [`CopyTop`] for the copy path.
//!
//! Timestamps: output PTS are the source's (relative to the first video
//! frame) plus a constant 1.4 s preroll, so segments are continuous and no
//! DTS is negative. Poster: the frame at 10% of the duration (at least half
//! of the first 2 s; the first frame if the video is shorter).

#![warn(missing_docs)]

mod crypto;
mod error;
mod frames;
mod ladder;
mod pipeline;
mod playlist;
mod probe;
mod rawpar;
mod rung;
mod sample;
mod sink;

pub use crypto::{decrypt_segment, encrypt_segment, iv_attribute, segment_iv, ContentKey, KeyId};
pub use error::{ErrorKind, SinkError, TranscodeError};
pub use ladder::{display_size, plan_ladder, Rendition, Rung};
pub use pipeline::transcode;
pub use probe::{probe, Limits, MediaInfo};
pub use sample::{generate_sample, SampleSpec};
pub use sink::{DirSink, OutputSink};

/// x264 presets accepted in [`TranscodeOptions::preset`].
pub const X264_PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// Whether the top rung may be re-muxed from the source instead of encoded
/// (the "copy path"): saves the most expensive encode and keeps the
/// source's quality for the top rung.
///
/// A source qualifies when its video is H.264 8-bit 4:2:0 with square
/// pixels and no rotation, its audio is AAC (or absent), and its size is
/// exactly the top planned rendition. The copied rung is cut at the source's
/// own keyframes (the first at or after each segment boundary) and the
/// encoded rungs force their IDRs at those same PTS, so the ladder stays
/// aligned. Audio is still the shared AAC re-encode, identical in every rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CopyTop {
    /// Copy when the source qualifies *and* its video bitrate is at most
    /// 1.5x the top rung's budget (a 50 Mb/s camera file is not served as
    /// the "5 Mb/s" rung).
    #[default]
    Auto,
    /// Copy whenever the source qualifies, whatever its bitrate
    /// (`--copy-top`).
    Always,
    /// Always encode every rung.
    Never,
}

/// How to transcode. `Default` gives the production settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeOptions {
    /// Requested ladder; filtered by [`plan_ladder`] against the source.
    pub rungs: Vec<Rung>,
    /// Target segment duration in seconds (default 6). Segments start at the
    /// first frame at or after each multiple of this.
    pub segment_seconds: f64,
    /// A new content key every this many segments (default 10), limiting how
    /// much content one leaked key exposes.
    pub rotate_every: u32,
    /// x264 preset (default "veryfast"), one of [`X264_PRESETS`].
    pub preset: String,
    /// Copy path policy (see [`CopyTop`]).
    pub copy_top: CopyTop,
    /// AAC bitrate in bits/s (default 128 000), stereo 48 kHz.
    pub audio_bitrate: u64,
    /// Size limits checked before decoding.
    pub limits: Limits,
    /// Frames buffered between the decoder and each rung (default 8). Bounds
    /// memory; larger values smooth out encoder speed differences.
    pub queue_frames: usize,
}

impl Default for TranscodeOptions {
    fn default() -> Self {
        TranscodeOptions {
            rungs: Rung::default_ladder(),
            segment_seconds: 6.0,
            rotate_every: 10,
            preset: "veryfast".into(),
            copy_top: CopyTop::Auto,
            audio_bitrate: 128_000,
            limits: Limits::default(),
            queue_frames: 8,
        }
    }
}

impl TranscodeOptions {
    /// Check the options; [`transcode`] calls this first.
    pub fn validate(&self) -> Result<(), TranscodeError> {
        let bad = |m: String| Err(TranscodeError::InvalidOptions(m));
        if !(self.segment_seconds.is_finite()
            && self.segment_seconds >= 0.5
            && self.segment_seconds <= 60.0)
        {
            return bad(format!(
                "segment_seconds must be within 0.5..=60, got {}",
                self.segment_seconds
            ));
        }
        if self.rotate_every == 0 {
            return bad("rotate_every must be at least 1".into());
        }
        if !X264_PRESETS.contains(&self.preset.as_str()) {
            return bad(format!(
                "unknown x264 preset {:?} (expected one of {})",
                self.preset,
                X264_PRESETS.join(", ")
            ));
        }
        if self
            .rungs
            .iter()
            .any(|r| r.height < 2 || r.video_bitrate < 10_000)
        {
            return bad("every rung needs a height >= 2 and a bitrate >= 10 kb/s".into());
        }
        if !(32_000..=512_000).contains(&self.audio_bitrate) {
            return bad(format!(
                "audio_bitrate must be within 32k..=512k, got {}",
                self.audio_bitrate
            ));
        }
        if self.queue_frames == 0 {
            return bad("queue_frames must be at least 1".into());
        }
        Ok(())
    }
}

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

/// What [`transcode`] produced.
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
    /// What the input looked like.
    pub source: MediaInfo,
}
