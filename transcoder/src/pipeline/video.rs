//! The video side of the decode loop. Each decoded frame gets a clean
//! timestamp and the one decision whether it starts a segment (the same
//! for every rung), then goes to the rungs; the poster, the storyboard's
//! thumbnails and the progress reports come from here too.

use std::sync::Arc;

use ff::{codec, frame, Packet, Rational};
use ffmpeg_next as ff;

use super::copy_top::CopyCuts;
use super::decoder;
use super::plan::Plan;
use super::poster::PosterPicker;
use super::rungs::Rungs;
use super::sealer::Sealer;
use crate::cuts::Boundaries;
use crate::error::TranscodeError;
use crate::probe::Limits;
use crate::rung::Job;
use crate::storyboard::Storyboard;

/// What decoding leaves for the playlists.
pub(super) struct Decoded {
    /// PTS of every segment's first frame (video time base, from the start).
    pub segment_starts: Vec<i64>,
    /// End of the last frame.
    pub end_pts: i64,
    pub poster: Option<Vec<u8>>,
    /// Every sheet but the last is already stored.
    pub storyboard: Storyboard,
}

pub(super) struct VideoDecode<'a> {
    dec: codec::decoder::Video,
    plan: &'a Plan,
    limits: Limits,
    progress: &'a mut dyn FnMut(f32),
    last_progress: f32,
    clock: FrameClock,
    segment_starts: Vec<i64>,
    boundaries: Boundaries,
    /// Copy path only: the copied rung's cuts lead.
    copy: Option<CopyCuts>,
    poster: PosterPicker,
    storyboard: Storyboard,
}

impl<'a> VideoDecode<'a> {
    pub(super) fn new(
        dec: codec::decoder::Video,
        plan: &'a Plan,
        limits: Limits,
        progress: &'a mut dyn FnMut(f32),
    ) -> Self {
        VideoDecode {
            dec,
            plan,
            limits,
            progress,
            last_progress: 0.0,
            clock: FrameClock::new(plan.time_base),
            segment_starts: Vec::new(),
            boundaries: Boundaries::new(plan.segment_ticks),
            copy: plan
                .copy
                .is_some()
                .then(|| CopyCuts::new(plan.segment_ticks)),
            poster: PosterPicker::new(plan.duration_hint, plan.rotation, plan.display),
            storyboard: Storyboard::new(plan.duration_hint, plan.rotation, plan.display),
        }
    }

    /// One source video packet: as is to the copied rung, and decoded for
    /// the others.
    pub(super) fn packet(
        &mut self,
        pkt: &Packet,
        rungs: &Rungs<'_>,
        sealer: &mut Sealer<'_>,
    ) -> Result<(), TranscodeError> {
        if let Some(copy) = &mut self.copy {
            let nothing_decoded = self.segment_starts.is_empty();
            copy.packet(pkt, nothing_decoded, self.plan.origin_pts, rungs, sealer)?;
        }
        decoder::send_packet(&mut self.dec, pkt, "video decoding failed")?;
        self.drain(rungs, sealer)
    }

    /// End of input: the frames the decoder still holds.
    pub(super) fn flush(
        &mut self,
        rungs: &Rungs<'_>,
        sealer: &mut Sealer<'_>,
    ) -> Result<(), TranscodeError> {
        let _ = self.dec.send_eof();
        self.drain(rungs, sealer)
    }

    pub(super) fn finish(self) -> Result<Decoded, TranscodeError> {
        let Some(end_pts) = self.clock.end() else {
            return Err(TranscodeError::ZeroDuration(
                "the video stream contains no decodable frames".into(),
            ));
        };
        Ok(Decoded {
            segment_starts: self.segment_starts,
            end_pts,
            poster: self.poster.finish()?,
            storyboard: self.storyboard,
        })
    }

    fn drain(&mut self, rungs: &Rungs<'_>, sealer: &mut Sealer<'_>) -> Result<(), TranscodeError> {
        loop {
            let mut f = frame::Video::empty();
            if !decoder::receive_frame(&mut self.dec, &mut f, "video decoding failed")? {
                return Ok(());
            }
            self.frame(f, rungs, sealer)?;
        }
    }

    fn frame(
        &mut self,
        f: frame::Video,
        rungs: &Rungs<'_>,
        sealer: &mut Sealer<'_>,
    ) -> Result<(), TranscodeError> {
        if f.is_corrupt() || f.has_decode_errors() {
            return Err(TranscodeError::Corrupt(
                "a video frame failed to decode".into(),
            ));
        }
        // Mid-stream resolution changes must respect the limits too.
        self.limits.check(f.width(), f.height())?;
        let pts = self
            .clock
            .next(f.timestamp().map(|t| t - self.plan.origin_pts));
        let force_key = self.starts_segment(pts);
        if force_key {
            self.start_segment(pts, sealer)?;
        }
        let frame = Arc::new(f);
        let t = pts as f64 * f64::from(self.plan.time_base);
        self.poster.offer(&frame, t)?;
        self.storyboard.offer(&frame, t, sealer.sink())?;
        rungs.send_video(
            || Job::Video {
                frame: frame.clone(),
                pts,
                force_key,
            },
            sealer,
        )?;
        self.report_progress(t);
        Ok(())
    }

    fn starts_segment(&mut self, pts: i64) -> bool {
        match &mut self.copy {
            // Same PTS as the copied rung's cuts (source keyframes).
            Some(copy) => copy.take(pts) || self.segment_starts.is_empty(),
            None => self.segment_starts.is_empty() || self.boundaries.reached(pts),
        }
    }

    fn start_segment(&mut self, pts: i64, sealer: &mut Sealer<'_>) -> Result<(), TranscodeError> {
        let index = self.segment_starts.len();
        self.segment_starts.push(pts);
        self.boundaries.pass(pts);
        sealer.segment_started(index)
    }

    /// At most every 0.5%, and never 1.0: that is reported once all is out.
    fn report_progress(&mut self, t: f64) {
        let duration = self.plan.duration_hint;
        if duration > 0.0 {
            let frac = ((t / duration) as f32).clamp(0.0, 0.99);
            if frac - self.last_progress >= 0.005 {
                self.last_progress = frac;
                (self.progress)(frac);
            }
        }
    }
}

/// Output timestamps: relative to the stream start and strictly increasing
/// (x264 rejects duplicates; VFR gaps are kept). A frame without a usable
/// timestamp follows the previous one by the previous frame's duration.
struct FrameClock {
    last: Option<i64>,
    last_dur: i64,
    /// Assumed duration of the first frame: 1/30 s.
    first_dur: i64,
}

impl FrameClock {
    fn new(time_base: Rational) -> Self {
        FrameClock {
            last: None,
            last_dur: 0,
            first_dur: (f64::from(Rational(1, 30)) / f64::from(time_base))
                .round()
                .max(1.0) as i64,
        }
    }

    /// The timestamp for a frame whose own (relative) one is `raw`.
    fn next(&mut self, raw: Option<i64>) -> i64 {
        let pts = match (raw, self.last) {
            (Some(t), Some(l)) if t > l => t,
            (Some(t), None) => t.max(0),
            (_, Some(l)) => l + self.last_dur.max(1),
            (None, None) => 0,
        };
        self.last_dur = match self.last {
            Some(l) => pts - l,
            None => self.first_dur,
        };
        self.last = Some(pts);
        pts
    }

    /// End of the last frame, which lasts as long as the one before it.
    fn end(&self) -> Option<i64> {
        self.last.map(|l| l + self.last_dur.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_keeps_timestamps_increasing() {
        let mut c = FrameClock::new(Rational(1, 90_000));
        assert_eq!(c.end(), None);
        assert_eq!(c.next(Some(-5)), 0);
        assert_eq!(c.end(), Some(3000));
        assert_eq!(c.next(Some(3600)), 3600);
        // A duplicate and a missing timestamp follow at the last spacing.
        assert_eq!(c.next(Some(3600)), 7200);
        assert_eq!(c.next(None), 10_800);
        // A VFR gap is kept.
        assert_eq!(c.next(Some(20_000)), 20_000);
        assert_eq!(c.end(), Some(29_200));
    }
}
