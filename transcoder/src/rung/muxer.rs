//! The rung's single MPEG-TS muxer, writing into memory.
//!
//! One muxer for the whole rung keeps the TS continuity counters running
//! across segment boundaries (players that read segments back to back, like
//! ffmpeg's HLS demuxer, would otherwise see a discontinuity and flag the
//! last packet of every segment corrupt). A segment is cut by taking the
//! bytes written so far just before the keyframe that starts the next one;
//! mpegts writes PAT/PMT before every keyframe, so each segment is
//! independently decodable.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ff::{Packet, Rational};
use ffmpeg_next as ff;

use crate::error::{encoder_error, TranscodeError};

/// Added to every output timestamp (90 kHz) so that B-frame DTS and AAC
/// priming are never negative in any segment; same value as ffmpeg's muxers.
const PREROLL_90K: i64 = crate::TS_PREROLL_90K;

/// The output timeline: MPEG-TS's 90 kHz clock.
pub(super) const TS_TB: Rational = Rational(1, 90_000);

/// Move a packet onto the output timeline (preroll included).
pub(super) fn to_output_timeline(p: &mut Packet, from: Rational) {
    p.rescale_ts(from, TS_TB);
    p.set_pts(p.pts().map(|t| t + PREROLL_90K));
    p.set_dts(p.dts().map(|t| t + PREROLL_90K));
    p.set_position(-1);
}

/// `Write` into a shared in-memory buffer (the muxer owns the writer, we keep
/// a handle to take the bytes once the segment is closed).
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Stream 0 is the video, stream 1 (if any) the audio.
pub(super) struct Muxer {
    octx: ff::format::context::Output,
    buf: Arc<Mutex<Vec<u8>>>,
    video_tb: Rational,
    audio_tb: Rational,
}

fn add_stream(
    octx: &mut ff::format::context::Output,
    par: &ff::codec::Parameters,
) -> Result<(), ff::Error> {
    let mut st = octx.add_stream(ff::encoder::find(ff::codec::Id::None))?;
    st.set_parameters(par.clone());
    st.set_time_base(TS_TB);
    Ok(())
}

impl Muxer {
    pub(super) fn open(
        video: &ff::codec::Parameters,
        audio: Option<&ff::codec::Parameters>,
    ) -> Result<Muxer, TranscodeError> {
        let e = encoder_error("mpegts muxer");
        let buf = Arc::new(Mutex::new(Vec::with_capacity(1 << 20)));
        let io = ff::format::context::StreamIo::from_write(SharedBuf(buf.clone())).map_err(&e)?;
        let mut octx = ff::format::output_to_stream(io, None, Some("mpegts")).map_err(&e)?;
        add_stream(&mut octx, video).map_err(&e)?;
        if let Some(apar) = audio {
            add_stream(&mut octx, apar).map_err(&e)?;
        }
        let mut o = ff::Dictionary::new();
        // Every packet reaches `buf` as soon as it is written (no AVIO or
        // audio PES buffering), so a cut between two packets is exact.
        o.set("flush_packets", "1");
        o.set("pes_payload_size", "0");
        octx.write_header_with(o).map_err(&e)?;
        let video_tb = octx.stream(0).map(|s| s.time_base()).unwrap_or(TS_TB);
        let audio_tb = octx.stream(1).map(|s| s.time_base()).unwrap_or(TS_TB);
        Ok(Muxer {
            octx,
            buf,
            video_tb,
            audio_tb,
        })
    }

    /// Everything written since the last call: the segment just finished.
    pub(super) fn take_written(&self) -> Vec<u8> {
        std::mem::take(&mut *self.buf.lock().expect("not poisoned"))
    }

    /// Write an audio packet that is on the output timeline.
    pub(super) fn write_audio(&mut self, mut p: Packet) -> Result<(), TranscodeError> {
        p.rescale_ts(TS_TB, self.audio_tb);
        p.write(&mut self.octx)
            .map_err(encoder_error("mux audio"))?;
        Ok(())
    }

    /// Write a video packet that is on the output timeline.
    pub(super) fn write_video(&mut self, mut p: Packet) -> Result<(), TranscodeError> {
        p.rescale_ts(TS_TB, self.video_tb);
        p.write(&mut self.octx)
            .map_err(encoder_error("mux video"))?;
        Ok(())
    }

    /// Close the stream; returns the last segment's bytes.
    pub(super) fn finish(self) -> Result<Vec<u8>, TranscodeError> {
        let Muxer { mut octx, buf, .. } = self;
        octx.write_trailer()
            .map_err(encoder_error("mpegts trailer"))?;
        drop(octx);
        let bytes = std::mem::take(&mut *buf.lock().expect("not poisoned"));
        Ok(bytes)
    }
}
