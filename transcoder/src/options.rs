//! How a transcode is configured, and the checks that keep a bad
//! configuration from reaching FFmpeg.

use crate::error::TranscodeError;
use crate::ladder::Rung;
use crate::probe::Limits;

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
    /// Requested ladder; filtered by [`plan_ladder`](crate::plan_ladder) against the source.
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
    /// Check the options; [`transcode`](crate::transcode) calls this first.
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
