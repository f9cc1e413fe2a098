//! The copy path on the decoding side (see [`CopyTop`]):
//! whether the top rung may be re-muxed from the source, and where it cuts.
//! The copied rung can only cut at the source's own keyframes, so its cuts
//! lead and the encoded rungs force their IDRs at the same PTS.

use std::sync::Arc;

use ff::{codec, Packet};
use ffmpeg_next as ff;

use super::rungs::Rungs;
use super::sealer::Sealer;
use crate::codecs::avc1_codecs_from_extradata;
use crate::cuts::{Boundaries, PlannedCuts};
use crate::error::TranscodeError;
use crate::ladder::Rendition;
use crate::probe::Source;
use crate::rung::Job;
use crate::{CopyTop, TranscodeOptions};

/// Whether (and with which parameters) the top rung can be re-muxed from
/// the source instead of encoded: H.264 8-bit 4:2:0, square pixels, no
/// rotation, AAC or no audio, and exactly the top rung's size. `Auto` also
/// requires the source bitrate to fit the rung (at most 1.5x its budget),
/// so a 50 Mb/s camera file is not served as the "5 Mb/s" rung; `Always`
/// skips that check.
pub(super) fn decide(
    source: &Source,
    renditions: &[Rendition],
    opts: &TranscodeOptions,
) -> Option<(codec::Parameters, String)> {
    if opts.copy_top == CopyTop::Never {
        return None;
    }
    let info = &source.info;
    let top = renditions.first()?;
    let eligible = info.video_codec == "h264"
        && info.pixel_format == "yuv420p"
        && info.rotation == 0
        && info.sample_aspect_ratio.0 == info.sample_aspect_ratio.1
        && (!info.has_audio || info.audio_codec.as_deref() == Some("aac"))
        && (top.width, top.height) == (info.coded_width, info.coded_height);
    if !eligible {
        return None;
    }
    let par = source.ictx.stream(source.video_index)?.parameters();
    if opts.copy_top == CopyTop::Auto {
        let mut bitrate = par.bit_rate().max(0) as u64;
        if bitrate == 0 && info.duration_seconds > 0.0 {
            bitrate = (source.ictx.bit_rate().max(0) as f64 * 0.9) as u64;
        }
        if bitrate == 0 || bitrate > top.video_bitrate * 3 / 2 {
            return None;
        }
    }
    let codecs = avc1_codecs_from_extradata(&crate::rawpar::extradata(&par))?;
    Some((par, codecs))
}

/// Where the copied rung cuts: the first source keyframe at or after each
/// multiple of the segment duration.
pub(super) struct CopyCuts {
    /// Chosen cuts not yet matched with a decoded frame.
    planned: PlannedCuts,
    boundaries: Boundaries,
}

impl CopyCuts {
    pub(super) fn new(segment_ticks: f64) -> Self {
        CopyCuts {
            planned: PlannedCuts::default(),
            boundaries: Boundaries::new(segment_ticks),
        }
    }

    /// Forward one source video packet to the copied rung, deciding whether
    /// it starts a segment. `nothing_decoded` while no frame has started a
    /// segment on the decoding side.
    pub(super) fn packet(
        &mut self,
        pkt: &Packet,
        nothing_decoded: bool,
        origin_pts: i64,
        rungs: &Rungs<'_>,
        sealer: &mut Sealer<'_>,
    ) -> Result<(), TranscodeError> {
        let first = self.planned.is_empty() && nothing_decoded && self.boundaries.at_start();
        let mut cp = pkt.clone();
        cp.set_pts(
            pkt.pts()
                .map(|t| (t - origin_pts).max(if first { 0 } else { i64::MIN })),
        );
        cp.set_dts(pkt.dts().map(|t| t - origin_pts));
        let rel = cp.pts().unwrap_or(0);
        let cut = pkt.is_key() && (first || self.boundaries.reached(rel));
        if cut {
            self.planned.push(rel);
            self.boundaries.pass(rel);
        }
        let packet = Arc::new(cp);
        rungs.send_copy(
            || Job::Copy {
                packet: packet.clone(),
                cut,
            },
            sealer,
        )
    }

    /// Whether the decoded frame at `pts` is where the copied rung cuts.
    pub(super) fn take(&mut self, pts: i64) -> bool {
        self.planned.take(pts, true)
    }
}
