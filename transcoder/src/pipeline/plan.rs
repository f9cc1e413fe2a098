//! Everything decided before the first packet is read: the ladder, the
//! video timeline (time base, frame rate, origin), keyframe spacing and
//! whether the top rung is copied. Pure reading of headers and options.

use ff::{codec, Rational};
use ffmpeg_next as ff;

use super::copy_top;
use crate::ladder::{plan_ladder, Rendition};
use crate::probe::Source;
use crate::TranscodeOptions;

pub(super) struct Plan {
    /// Tallest first.
    pub renditions: Vec<Rendition>,
    /// The video stream's time base; every video PTS here is in it.
    pub time_base: Rational,
    /// A plausible frame rate for rate control and the playlists (the
    /// stream's own when sane, else 30).
    pub frame_rate: Rational,
    /// PTS of the stream start: output timestamps are relative to it.
    pub origin_pts: i64,
    /// x264's longest GOP: two segments, so only forced keyframes cut.
    pub keyint: u32,
    /// Segment length in time base ticks.
    pub segment_ticks: f64,
    /// Duration from the headers (0 if unknown), for progress and poster.
    pub duration_hint: f64,
    /// Clockwise turn that shows the picture upright.
    pub rotation: u32,
    /// Upright display size.
    pub display: (u32, u32),
    /// Copy path: the top rung's source parameters and codec string.
    pub copy: Option<(codec::Parameters, String)>,
}

impl Plan {
    pub(super) fn new(source: &Source, opts: &TranscodeOptions) -> Plan {
        let info = &source.info;
        let renditions = plan_ladder(info.width, info.height, &opts.rungs);
        let vst = source.ictx.stream(source.video_index).expect("validated");
        let time_base = vst.time_base();
        let frame_rate = [vst.avg_frame_rate(), vst.rate()]
            .into_iter()
            .find(|r| r.numerator() > 0 && r.denominator() > 0 && f64::from(*r) <= 240.0)
            .unwrap_or(Rational(30, 1));
        let origin_pts = if vst.start_time() != ff::ffi::AV_NOPTS_VALUE {
            vst.start_time()
        } else {
            0
        };
        let fps = f64::from(frame_rate).clamp(1.0, 240.0);
        let copy = copy_top::decide(source, &renditions, opts);
        Plan {
            renditions,
            time_base,
            frame_rate,
            origin_pts,
            keyint: ((opts.segment_seconds * fps * 2.0).ceil() as u32).max(2),
            segment_ticks: opts.segment_seconds / f64::from(time_base),
            duration_hint: info.duration_seconds,
            rotation: info.rotation,
            display: (info.width, info.height),
            copy,
        }
    }

    /// The video's start in seconds: audio is aligned to it.
    pub(super) fn origin_seconds(&self) -> f64 {
        self.origin_pts as f64 * f64::from(self.time_base)
    }
}
