//! A storyboard on its own, for videos transcoded before storyboards
//! existed: decode only the video stream of a file (the server hands it a
//! video's own smallest rendition, decrypted) and feed every frame to the
//! same [`Storyboard`] the transcode uses.

use std::path::Path;

use ff::{frame, Packet};
use ffmpeg_next as ff;

use super::decoder;
use crate::error::{corrupt, TranscodeError};
use crate::probe::{self, Limits};
use crate::sink::OutputSink;
use crate::storyboard::{Storyboard, StoryboardSummary};

/// Make the storyboard of `input` (`storyboard/sprite_NNN.jpg` sheets, then
/// `storyboard/storyboard.vtt`, to `sink`). `duration_hint` (seconds; 0:
/// the container's) chooses the interval only, so pass the catalogue's
/// duration to get the tiles a transcode would have made; the cues end
/// where the decoded frames do. On error, calls
/// [`OutputSink::abort`] once, as [`transcode`](crate::transcode) does.
pub fn storyboard(
    input: &Path,
    limits: &Limits,
    duration_hint: f64,
    sink: &mut dyn OutputSink,
) -> Result<StoryboardSummary, TranscodeError> {
    let result = run(input, limits, duration_hint, sink);
    if result.is_err() {
        sink.abort();
    }
    result
}

fn run(
    input: &Path,
    limits: &Limits,
    duration_hint: f64,
    sink: &mut dyn OutputSink,
) -> Result<StoryboardSummary, TranscodeError> {
    let mut source = probe::open(input, limits)?;
    let info = &source.info;
    let hint = if duration_hint > 0.0 {
        duration_hint
    } else {
        info.duration_seconds
    };
    let mut board = Storyboard::new(hint, info.rotation, (info.width, info.height));
    let stream = source.ictx.stream(source.video_index).expect("validated");
    let tb = f64::from(stream.time_base());
    let mut dec = decoder::open_video(&stream)?;
    let video_index = source.video_index;
    // Seconds from the first frame; the last frame lasts as long as the
    // one before it.
    let mut origin: Option<i64> = None;
    let (mut last, mut step) = (0.0f64, 0.0f64);
    let mut offer = |f: &frame::Video, sink: &mut dyn OutputSink| {
        let Some(ts) = f.timestamp() else {
            return Ok(());
        };
        let t = (ts - *origin.get_or_insert(ts)) as f64 * tb;
        if t > last {
            (step, last) = (t - last, t);
        }
        board.offer(f, t, sink)
    };
    let mut pkt = Packet::empty();
    let mut f = frame::Video::empty();
    loop {
        match pkt.read(&mut source.ictx) {
            Ok(()) => {}
            Err(ff::Error::Eof) => break,
            Err(e) if decoder::is_again(&e) => continue,
            Err(e) => return Err(corrupt("reading the file failed")(e)),
        }
        if pkt.stream() != video_index {
            continue;
        }
        decoder::send_packet(&mut dec, &pkt, "video decoding failed")?;
        while decoder::receive_frame(&mut dec, &mut f, "video decoding failed")? {
            offer(&f, &mut *sink)?;
        }
    }
    let _ = dec.send_eof();
    while decoder::receive_frame(&mut dec, &mut f, "video decoding failed")? {
        offer(&f, &mut *sink)?;
    }
    board.finish(last + step, sink)?.ok_or_else(|| {
        TranscodeError::ZeroDuration("the video stream contains no decodable frames".into())
    })
}
