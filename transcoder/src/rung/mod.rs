//! One rung of the ladder, running on its own thread: scale (+ rotate),
//! encode with libx264 ([`encode`]) or re-mux the source ([`copy`]), and cut
//! MPEG-TS segments at the keyframes the decoding thread chose
//! ([`segmenter`], writing through one in-memory [`muxer`]).
//!
//! Timestamps are the source's, so consecutive segments are continuous.

mod copy;
mod encode;
mod muxer;
mod segmenter;

use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::Arc;

use ff::{frame, Packet, Rational};
use ffmpeg_next as ff;

use crate::error::TranscodeError;
use crate::ladder::Rendition;

/// Work sent from the decoding thread to every rung.
pub(crate) enum Job {
    /// A decoded picture (shared, read-only) with its sanitized timestamp in
    /// the video stream time base, relative to the start of the video.
    Video {
        frame: Arc<frame::Video>,
        pts: i64,
        force_key: bool,
    },
    /// An encoded AAC packet (pts in the audio encoder time base).
    Audio(Arc<Packet>),
    /// Copy path only: a source video packet (timestamps already relative
    /// to the video start, video stream time base); `cut` marks the source
    /// keyframe that starts a new segment.
    Copy { packet: Arc<Packet>, cut: bool },
}

/// Results sent back to the decoding thread (which owns the sink).
pub(crate) enum Event {
    Segment {
        rung: usize,
        index: usize,
        bytes: Vec<u8>,
    },
    Done {
        rung: usize,
        codecs: String,
        segments: usize,
    },
    Failed {
        error: TranscodeError,
    },
}

pub(crate) struct RungSpec {
    pub index: usize,
    pub rendition: Rendition,
    pub rotation: u32,
    pub time_base: Rational,
    pub frame_rate: Rational,
    pub preset: String,
    pub keyint: u32,
    pub audio: Option<(ff::codec::Parameters, Rational)>,
    /// Copy path: re-mux the source's H.264 packets (these parameters)
    /// instead of encoding; the string is the RFC 6381 codec of the source.
    pub copy: Option<(ff::codec::Parameters, String)>,
    /// Where to forward our scaled (pre-rotation) pictures, if a smaller
    /// rung scales from them.
    pub child: Option<SyncSender<Job>>,
}

/// The rung thread's body: runs until the decoding thread closes `rx`, then
/// reports `Done` (or `Failed`, which the driver turns into the job's error).
pub(crate) fn run(spec: RungSpec, rx: Receiver<Job>, tx: Sender<Event>) {
    let rung = spec.index;
    let result = match spec.copy.clone() {
        Some((par, codecs)) => copy::run(spec, par, codecs, rx, &tx),
        None => encode::run(spec, rx, &tx),
    };
    let _ = match result {
        Ok((codecs, segments)) => tx.send(Event::Done {
            rung,
            codecs,
            segments,
        }),
        Err(error) => tx.send(Event::Failed { error }),
    };
}
