//! After the last rung is done: check that every rung cut the same
//! segments, then store the poster, the storyboard's last sheet and its
//! VTT, the media playlists and, last, the master playlist (its presence means the set is complete), and report.

use ff::Rational;
use ffmpeg_next as ff;

use super::plan::Plan;
use super::sealer::Sealer;
use super::video::Decoded;
use crate::error::TranscodeError;
use crate::ladder::Rendition;
use crate::playlist::{master_playlist, media_playlist, media_playlist_path, Variant};
use crate::probe::MediaInfo;
use crate::{RenditionReport, TranscodeReport};

pub(super) fn publish(
    plan: &Plan,
    decoded: Decoded,
    sealer: &mut Sealer<'_>,
    has_audio: bool,
    source: MediaInfo,
    rotate_every: u32,
    progress: &mut dyn FnMut(f32),
) -> Result<TranscodeReport, TranscodeError> {
    let n = decoded.segment_starts.len();
    sealer.check_complete(n)?;
    let (durations, total) =
        segment_durations(&decoded.segment_starts, decoded.end_pts, plan.time_base);
    if total <= 0.0 {
        return Err(TranscodeError::ZeroDuration(
            "the video has no duration".into(),
        ));
    }

    if let Some(jpeg) = &decoded.poster {
        sealer.sink().put("poster.jpg", jpeg)?;
    }
    let storyboard = decoded.storyboard.finish(total, sealer.sink())?;
    // Every rung has the same segments and keys but IVs of its own.
    let key_uris = sealer.key_uris();
    let mut reports = Vec::new();
    for (i, r) in plan.renditions.iter().enumerate() {
        let ivs = sealer.segment_ivs(i, n)?;
        let playlist = media_playlist(&durations, &key_uris, rotate_every, &ivs);
        sealer
            .sink()
            .put(&media_playlist_path(&r.name), &playlist)?;
        let video_codec = sealer.video_codec(i);
        let codecs = if has_audio {
            format!("{video_codec},mp4a.40.2")
        } else {
            video_codec
        };
        let copied = i == 0 && plan.copy.is_some();
        let sizes = sealer.segment_sizes(i);
        reports.push(rendition_report(
            r, &sizes, &durations, total, codecs, copied,
        ));
    }
    let variants: Vec<Variant> = reports
        .iter()
        .map(|r| variant(r, plan.frame_rate))
        .collect();
    sealer
        .sink()
        .put("master.m3u8", &master_playlist(&variants))?;
    progress(1.0);
    Ok(TranscodeReport {
        duration_seconds: total,
        renditions: reports,
        segment_count: n,
        key_count: sealer.key_count(),
        storyboard,
        source,
    })
}

/// Each segment's duration in seconds, from its start to the next one's
/// (the last one's to `end_pts`), and the total.
fn segment_durations(starts: &[i64], end_pts: i64, time_base: Rational) -> (Vec<f64>, f64) {
    let tb = f64::from(time_base);
    let ends = starts.iter().skip(1).copied().chain([end_pts]);
    let durations = starts
        .iter()
        .zip(ends)
        .map(|(&start, end)| (end - start) as f64 * tb)
        .collect();
    let total = (end_pts - starts[0]) as f64 * tb;
    (durations, total)
}

/// Peak and average bitrate (bits/s) of the encrypted segments, which is
/// what a player downloads. A segment counts as at least half a second
/// long, so a short last segment does not inflate the peak.
fn bitrates(sizes: &[usize], durations: &[f64], total: f64) -> (u64, u64) {
    let peak = sizes
        .iter()
        .zip(durations)
        .map(|(&b, &d)| (b as f64 * 8.0 / d.max(0.5)) as u64)
        .max()
        .unwrap_or(0);
    let total_bytes: usize = sizes.iter().sum();
    let average = (total_bytes as f64 * 8.0 / total) as u64;
    (peak, average)
}

fn rendition_report(
    r: &Rendition,
    sizes: &[usize],
    durations: &[f64],
    total: f64,
    codecs: String,
    copied: bool,
) -> RenditionReport {
    let (peak, average) = bitrates(sizes, durations, total);
    RenditionReport {
        name: r.name.clone(),
        width: r.width,
        height: r.height,
        // BANDWIDTH must never be below AVERAGE-BANDWIDTH.
        bandwidth: peak.max(average),
        average_bandwidth: average,
        codecs,
        copied,
    }
}

fn variant(r: &RenditionReport, frame_rate: Rational) -> Variant {
    Variant {
        uri: media_playlist_path(&r.name),
        bandwidth: r.bandwidth,
        average_bandwidth: r.average_bandwidth,
        codecs: r.codecs.clone(),
        width: r.width,
        height: r.height,
        frame_rate: Some(f64::from(frame_rate)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_run_from_start_to_start_and_the_last_to_the_end() {
        let (d, total) = segment_durations(&[0, 20, 50], 60, Rational(1, 10));
        assert_eq!(d, vec![2.0, 3.0, 1.0]);
        assert_eq!(total, 6.0);
    }

    #[test]
    fn short_last_segment_does_not_set_the_peak() {
        // 1000 bytes in 2 s, then 200 bytes in 0.1 s (counted as 0.5 s).
        let (peak, average) = bitrates(&[1000, 200], &[2.0, 0.1], 2.1);
        assert_eq!(peak, 4000);
        assert_eq!(average, (1200.0 * 8.0 / 2.1) as u64);
    }
}
