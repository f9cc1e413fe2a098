//! The copy path: no decoding or encoding, the source's packets are cut at
//! the keyframes the driver chose (the encoded rungs force their IDRs at the
//! same PTS) and re-muxed. The mpegts muxer converts AVCC to Annex B and
//! repeats SPS/PPS before keyframes by itself (h264_mp4toannexb).

use std::sync::mpsc::{Receiver, Sender};

use ffmpeg_next as ff;

use super::segmenter::Segmenter;
use super::{Event, Job, RungSpec};
use crate::error::TranscodeError;

/// Returns the codec string and the number of segments cut.
pub(super) fn run(
    spec: RungSpec,
    par: ff::codec::Parameters,
    codecs: String,
    rx: Receiver<Job>,
    tx: &Sender<Event>,
) -> Result<(String, usize), TranscodeError> {
    let mut seg = Segmenter::new(&spec, par, Some(codecs), tx);
    for job in rx {
        match job {
            Job::Audio(p) => seg.audio_packet(&p),
            Job::Copy { packet, cut } => {
                if cut {
                    seg.cut_at(packet.pts().unwrap_or(0));
                }
                seg.video_packet(&packet)?;
            }
            Job::Video { .. } => {}
        }
    }
    seg.finish()
}
