//! The transcode driver. The calling thread reads and decodes the input
//! once and owns the sink; every rung encodes on its own thread.
//!
//! In data order: [`plan`] decides everything before the first packet;
//! [`demux`] reads the file and feeds [`video`], [`audio`] and, for the
//! copy path, [`copy_top`]; their output reaches the rung threads through
//! [`rungs`]; [`sealer`] encrypts and stores each segment that comes back;
//! [`publish`] writes the poster and playlists once every rung is done.

mod audio;
mod copy_top;
mod decoder;
mod demux;
mod plan;
mod poster;
mod publish;
mod rungs;
mod sealer;
mod storyboard_only;
mod video;

use std::path::Path;

pub use storyboard_only::storyboard;

use audio::AudioChain;
use plan::Plan;
use rungs::Rungs;
use sealer::Sealer;
use video::VideoDecode;

use crate::error::TranscodeError;
use crate::probe;
use crate::sink::OutputSink;
use crate::{TranscodeOptions, TranscodeReport};

/// Transcode `input` into an encrypted HLS ladder, delivering every output
/// to `sink` (see [`OutputSink`] for the order of calls) and reporting
/// progress in `0.0..=1.0` to `progress` (monotonic, ends with exactly 1.0).
///
/// Runs on the calling thread plus one thread per rung; blocks until done.
/// On error, calls [`OutputSink::abort`] once (so partial uploads can be
/// deleted) and returns the error; see [`TranscodeError::is_bad_media`].
pub fn transcode(
    input: &Path,
    opts: &TranscodeOptions,
    sink: &mut dyn OutputSink,
    progress: &mut dyn FnMut(f32),
) -> Result<TranscodeReport, TranscodeError> {
    opts.validate()?;
    let result = run(input, opts, sink, progress);
    if result.is_err() {
        sink.abort();
    }
    result
}

fn run(
    input: &Path,
    opts: &TranscodeOptions,
    sink: &mut dyn OutputSink,
    progress: &mut dyn FnMut(f32),
) -> Result<TranscodeReport, TranscodeError> {
    let mut source = probe::open(input, &opts.limits)?;
    if source.ictx.duration() == 0 {
        return Err(TranscodeError::ZeroDuration(
            "the container reports a duration of 0".into(),
        ));
    }
    let plan = Plan::new(&source, opts);
    let video_decoder =
        decoder::open_video(&source.ictx.stream(source.video_index).expect("validated"))?;
    let mut audio = match source.audio_index {
        Some(ai) => Some(AudioChain::new(
            &source.ictx.stream(ai).expect("validated"),
            opts.audio_bitrate,
            plan.origin_seconds(),
        )?),
        None => None,
    };
    let audio_params = audio.as_ref().map(AudioChain::parameters);
    let has_audio = audio_params.is_some();

    let mut sealer = Sealer::new(sink, &plan.renditions, opts.rotate_every);
    let video = VideoDecode::new(video_decoder, &plan, opts.limits, progress);
    let decoded = std::thread::scope(|scope| {
        let rungs = Rungs::spawn(scope, &plan, opts, audio_params)?;
        let decoded = demux::run(&mut source, video, audio.as_mut(), &rungs, &mut sealer);
        rungs.finish(&mut sealer, decoded)
    })?;
    publish::publish(
        &plan,
        decoded,
        &mut sealer,
        has_audio,
        source.info,
        opts.rotate_every,
        progress,
    )
}
