//! Error types.
//!
//! Every failure has a stable, machine-readable [`ErrorKind`] (for the server's
//! job table and metrics) and a one-line human message (for the uploader).
//! [`TranscodeError::is_bad_media`] tells the caller whether retrying can ever
//! help: bad media never gets better, sink and I/O errors might.

use std::fmt;

use ffmpeg_next as ff;

/// Error returned by an [`OutputSink`](crate::OutputSink) implementation.
///
/// Kept deliberately simple (a message plus an optional source) because sinks
/// are implemented by other crates (object storage, local disk, tests).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl SinkError {
    /// A sink error with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        SinkError {
            message: one_line(message.into()),
            source: None,
        }
    }

    /// A sink error wrapping an underlying cause.
    pub fn with_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        SinkError {
            message: one_line(message.into()),
            source: Some(Box::new(source)),
        }
    }
}

impl From<std::io::Error> for SinkError {
    fn from(e: std::io::Error) -> Self {
        SinkError::new(e.to_string())
    }
}

/// Stable machine-readable error kind (store it, match on it, graph it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file has no video stream (audio-only, subtitles, image-less).
    NotAVideo,
    /// Not a media container FFmpeg can open (empty, random, PDF, no moov).
    Unreadable,
    /// Video smaller than the minimum size on a side.
    TooSmall,
    /// Video larger than the maximum size (checked before decoding).
    TooLarge,
    /// The video has no duration / no decodable frames.
    ZeroDuration,
    /// Decode errors in the middle of the stream.
    Corrupt,
    /// A codec FFmpeg cannot decode in this build.
    Unsupported,
    /// The caller passed invalid [`TranscodeOptions`](crate::TranscodeOptions).
    InvalidOptions,
    /// Local I/O failure (input file missing, permission, disk full).
    Io,
    /// The output sink failed.
    Sink,
    /// The encoder or muxer failed (internal, possibly transient).
    Encoder,
}

impl ErrorKind {
    /// Snake-case identifier, stable across releases.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotAVideo => "not_a_video",
            ErrorKind::Unreadable => "unreadable",
            ErrorKind::TooSmall => "too_small",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::ZeroDuration => "zero_duration",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::InvalidOptions => "invalid_options",
            ErrorKind::Io => "io",
            ErrorKind::Sink => "sink",
            ErrorKind::Encoder => "encoder",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transcode (or probe) failed. `Display` is always a single line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TranscodeError {
    /// See [`ErrorKind::NotAVideo`].
    #[error("not a video: {0}")]
    NotAVideo(String),
    /// See [`ErrorKind::Unreadable`].
    #[error("unreadable file: {0}")]
    Unreadable(String),
    /// See [`ErrorKind::TooSmall`].
    #[error("video too small: {width}x{height}, each side must be at least {min} px")]
    TooSmall {
        /// Coded width.
        width: u32,
        /// Coded height.
        height: u32,
        /// Minimum accepted side.
        min: u32,
    },
    /// See [`ErrorKind::TooLarge`].
    #[error("video too large: {width}x{height}, the limit is {max_side} px per side and {max_pixels} pixels")]
    TooLarge {
        /// Coded width.
        width: u32,
        /// Coded height.
        height: u32,
        /// Maximum accepted side.
        max_side: u32,
        /// Maximum accepted pixel count.
        max_pixels: u64,
    },
    /// See [`ErrorKind::ZeroDuration`].
    #[error("video has zero duration: {0}")]
    ZeroDuration(String),
    /// See [`ErrorKind::Corrupt`].
    #[error("corrupt video: {0}")]
    Corrupt(String),
    /// See [`ErrorKind::Unsupported`].
    #[error("unsupported media: {0}")]
    Unsupported(String),
    /// See [`ErrorKind::InvalidOptions`].
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// See [`ErrorKind::Io`].
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// See [`ErrorKind::Sink`].
    #[error("output sink failed: {0}")]
    Sink(#[from] SinkError),
    /// See [`ErrorKind::Encoder`].
    #[error("encoder failed: {0}")]
    Encoder(String),
}

impl TranscodeError {
    /// The stable kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TranscodeError::NotAVideo(_) => ErrorKind::NotAVideo,
            TranscodeError::Unreadable(_) => ErrorKind::Unreadable,
            TranscodeError::TooSmall { .. } => ErrorKind::TooSmall,
            TranscodeError::TooLarge { .. } => ErrorKind::TooLarge,
            TranscodeError::ZeroDuration(_) => ErrorKind::ZeroDuration,
            TranscodeError::Corrupt(_) => ErrorKind::Corrupt,
            TranscodeError::Unsupported(_) => ErrorKind::Unsupported,
            TranscodeError::InvalidOptions(_) => ErrorKind::InvalidOptions,
            TranscodeError::Io(_) => ErrorKind::Io,
            TranscodeError::Sink(_) => ErrorKind::Sink,
            TranscodeError::Encoder(_) => ErrorKind::Encoder,
        }
    }

    /// True when the input itself is at fault: retrying the same bytes can
    /// never succeed, so the server should mark the upload failed and tell the
    /// user (the message is written for them).
    pub fn is_bad_media(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::NotAVideo
                | ErrorKind::Unreadable
                | ErrorKind::TooSmall
                | ErrorKind::TooLarge
                | ErrorKind::ZeroDuration
                | ErrorKind::Corrupt
                | ErrorKind::Unsupported
        )
    }

    /// True when a retry might succeed (I/O, sink or encoder trouble).
    /// Invalid options are neither bad media nor retryable: fix the caller.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Io | ErrorKind::Sink | ErrorKind::Encoder
        )
    }
}

/// Collapse FFmpeg / OS messages to one line so CLI and logs stay tidy.
pub(crate) fn one_line(s: String) -> String {
    if s.contains(['\n', '\r']) {
        s.split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        s
    }
}

/// FFmpeg's message for `e`, on one line like every message we report.
pub(crate) fn ff_msg(e: ff::Error) -> String {
    one_line(e.to_string())
}

/// The input broke while `what` was reading it: bad media, never retried.
pub(crate) fn corrupt(what: &str) -> impl Fn(ff::Error) -> TranscodeError + '_ {
    move |e| TranscodeError::Corrupt(format!("{what}: {}", ff_msg(e)))
}

/// Our own encoding or muxing step `what` failed: possibly transient.
pub(crate) fn encoder_error(what: &str) -> impl Fn(ff::Error) -> TranscodeError + '_ {
    move |e| TranscodeError::Encoder(format!("{what}: {}", ff_msg(e)))
}
