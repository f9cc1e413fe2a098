//! Cutting a rung's packets into segments: a new segment starts at each
//! keyframe the driver planned, audio is interleaved by timestamp, and each
//! finished segment goes back to the driver thread as one buffer.

use std::collections::VecDeque;
use std::sync::mpsc::Sender;

use ff::{Packet, Rational};
use ffmpeg_next as ff;

use super::muxer::{to_output_timeline, Muxer};
use super::{Event, RungSpec};
use crate::codecs::avc1_codecs_from_annexb;
use crate::cuts::PlannedCuts;
use crate::error::TranscodeError;

/// Reported when no SPS was ever seen (x264's High profile, level 3.1).
const FALLBACK_CODECS: &str = "avc1.64001f";

pub(super) struct Segmenter<'a> {
    rung: usize,
    video_par: ff::codec::Parameters,
    video_tb: Rational,
    audio: Option<(ff::codec::Parameters, Rational)>,
    /// Opened with the first video packet.
    mux: Option<Muxer>,
    /// Index of the segment currently being written, if any.
    current: Option<usize>,
    /// AAC packets already converted to the 90 kHz output timeline.
    audio_queue: VecDeque<Packet>,
    /// PTS (video time base) of the keyframes that start segments.
    cuts: PlannedCuts,
    next_index: usize,
    codecs: Option<String>,
    tx: &'a Sender<Event>,
}

impl<'a> Segmenter<'a> {
    /// `codecs` when already known (copy path); else read from the first
    /// keyframe's SPS.
    pub(super) fn new(
        spec: &RungSpec,
        video_par: ff::codec::Parameters,
        codecs: Option<String>,
        tx: &'a Sender<Event>,
    ) -> Self {
        Segmenter {
            rung: spec.index,
            video_par,
            video_tb: spec.time_base,
            audio: spec.audio.clone(),
            mux: None,
            current: None,
            audio_queue: VecDeque::new(),
            cuts: PlannedCuts::default(),
            next_index: 0,
            codecs,
            tx,
        }
    }

    /// The video packet with this PTS (video time base) starts a segment,
    /// if it is a keyframe.
    pub(super) fn cut_at(&mut self, pts: i64) {
        self.cuts.push(pts);
    }

    pub(super) fn audio_packet(&mut self, p: &Packet) {
        if let Some((_, tb)) = &self.audio {
            let mut p = p.clone();
            to_output_timeline(&mut p, *tb);
            p.set_stream(1);
            self.audio_queue.push_back(p);
        }
    }

    pub(super) fn video_packet(&mut self, pkt: &Packet) -> Result<(), TranscodeError> {
        let cut = self.cuts.take(pkt.pts().unwrap_or(0), pkt.is_key());
        if self.codecs.is_none() && pkt.is_key() {
            self.codecs = pkt.data().and_then(avc1_codecs_from_annexb);
        }
        let mut p = pkt.clone();
        to_output_timeline(&mut p, self.video_tb);
        p.set_stream(0);
        if self.mux.is_none() {
            let audio = self.audio.as_ref().map(|(par, _)| par);
            self.mux = Some(Muxer::open(&self.video_par, audio)?);
        }
        if cut || self.current.is_none() {
            self.start_segment(p.pts().unwrap_or(0))?;
        }
        let dts = p.dts().or(p.pts()).unwrap_or(0);
        self.flush_audio_before(dts + 1)?;
        self.mux.as_mut().expect("opened above").write_video(p)
    }

    /// Flush everything; returns the codec string and the segment count.
    pub(super) fn finish(mut self) -> Result<(String, usize), TranscodeError> {
        self.flush_audio_before(i64::MAX)?;
        if let Some(mux) = self.mux.take() {
            let bytes = mux.finish()?;
            self.emit(bytes);
        }
        let codecs = self.codecs.take();
        Ok((
            codecs.unwrap_or_else(|| FALLBACK_CODECS.into()),
            self.next_index,
        ))
    }

    /// Close the current segment just before the keyframe at `cut_pts`
    /// (output timeline), taking the audio that plays before it along.
    fn start_segment(&mut self, cut_pts: i64) -> Result<(), TranscodeError> {
        self.flush_audio_before(cut_pts)?;
        let bytes = self.mux.as_ref().expect("opened").take_written();
        self.emit(bytes);
        self.current = Some(self.next_index);
        self.next_index += 1;
        Ok(())
    }

    /// Write queued audio with pts < `limit` (90 kHz output timeline).
    fn flush_audio_before(&mut self, limit: i64) -> Result<(), TranscodeError> {
        let Some(mux) = self.mux.as_mut() else {
            return Ok(());
        };
        while self
            .audio_queue
            .front()
            .is_some_and(|p| p.pts().unwrap_or(i64::MIN) < limit)
        {
            mux.write_audio(self.audio_queue.pop_front().expect("checked"))?;
        }
        Ok(())
    }

    /// Hand the bytes of the current segment to the driver thread.
    fn emit(&mut self, bytes: Vec<u8>) {
        if let Some(index) = self.current.take() {
            // The receiver only goes away when the job is being torn down.
            let _ = self.tx.send(Event::Segment {
                rung: self.rung,
                index,
                bytes,
            });
        }
    }
}
