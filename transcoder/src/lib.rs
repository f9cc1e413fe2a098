//! # sealcast-transcoder
//!
//! Media only: one uploaded file in, an AES-128 encrypted HLS ladder out.
//! No HTTP, no database, no async runtime — the server calls [`transcode`]
//! on a blocking thread and hands it an [`OutputSink`] that uploads each
//! finished output as soon as it exists.
//!
//! Pipeline (all in process, through ffmpeg-next; the ffmpeg CLI is never
//! run): probe and validate headers ([`probe()`]) → decode video and audio once
//! on the calling thread → every rung scales and encodes (libx264) on its
//! own thread, fed through bounded channels (a rung at most 2/3 the height
//! of the next larger one scales from that rung's picture) → MPEG-TS
//! segments cut at
//! keyframes forced at the same source PTS on every rung → each segment
//! encrypted whole (AES-128-CBC, PKCS#7, a random IV per rung and segment,
//! stated in the playlist; keys are shared by all rungs) →
//! playlists (m3u8-rs), a poster JPEG and a seek-preview storyboard (JPEG
//! sprite sheets and a WebVTT thumbnails track, see [`storyboard()`], which
//! also makes one on its own from any decodable video). See [`CopyTop`]
//! for the copy path.
//!
//! Timestamps: output PTS are the source's (relative to the first video
//! frame) plus a constant 1.4 s preroll, so segments are continuous and no
//! DTS is negative. Poster: the frame at 10% of the duration (at least half
//! of the first 2 s; the first frame if the video is shorter).

#![warn(missing_docs)]

mod codecs;
mod crypto;
mod cuts;
mod encoders;
mod error;
mod frames;
mod ladder;
mod options;
mod pipeline;
mod playlist;
mod probe;
mod rawpar;
mod report;
mod rung;
mod sample;
mod sink;
mod storyboard;

/// Added to every output PTS (90 kHz clock): media time zero is this PTS in
/// every segment, which subtitle segments' `X-TIMESTAMP-MAP` must name.
pub const TS_PREROLL_90K: i64 = 126_000;

pub use crypto::{decrypt_segment, encrypt_segment, ContentKey, KeyId, SegmentIv};
pub use error::{ErrorKind, SinkError, TranscodeError};
pub use ladder::{display_size, plan_ladder, Rendition, Rung};
pub use options::{CopyTop, TranscodeOptions, X264_PRESETS};
pub use pipeline::{storyboard, transcode};
pub use probe::{probe, Limits, MediaInfo};
pub use report::{RenditionReport, TranscodeReport};
pub use sample::{generate_sample, SampleSpec};
pub use sink::{DirSink, OutputSink};
pub use storyboard::{StoryboardSummary, VTT_PATH as STORYBOARD_VTT};
