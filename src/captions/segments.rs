//! A caption track as HLS wants it: a subtitle media playlist whose WebVTT
//! segments line up with the video's segments, and the master playlist's
//! `SUBTITLES` group that names each track.
//!
//! Every segment starts with `X-TIMESTAMP-MAP=MPEGTS:<pts>,LOCAL:00:00:00.000`:
//! the transcoder starts the video's MPEG-TS timeline at
//! [`sealcast_transcoder::TS_PREROLL_90K`] (media time zero), so cue times,
//! which are media times, map onto the video's PTS exactly. A cue spanning
//! a boundary is written into every segment it overlaps, as players expect.
//! URIs written here are relative names; the session's rewrite signs them.

use m3u8_rs::{
    AlternativeMedia, AlternativeMediaType, MasterPlaylist, MediaPlaylist, MediaSegment,
};

use super::webvtt::{Captions, Cue};

/// The one subtitle group every variant names.
pub const GROUP_ID: &str = "subs";

/// The header line every WebVTT segment carries.
pub fn timestamp_map() -> String {
    format!(
        "X-TIMESTAMP-MAP=MPEGTS:{},LOCAL:00:00:00.000",
        sealcast_transcoder::TS_PREROLL_90K
    )
}

/// Where a track's playlist sits, relative to the master.
pub fn playlist_uri(lang: &str) -> String {
    format!("subs/{lang}/index.m3u8")
}

/// Segment `index`'s file name inside a track's folder.
pub fn segment_name(index: usize) -> String {
    format!("seg_{index:05}.vtt")
}

/// The index in a segment file name written by [`segment_name`].
pub fn segment_index(name: &str) -> Option<usize> {
    let digits = name.strip_prefix("seg_")?.strip_suffix(".vtt")?;
    if digits.len() != 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A track as the master playlist names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRef {
    pub lang: String,
    pub label: String,
}

/// Adds one `EXT-X-MEDIA:TYPE=SUBTITLES` per track and makes every variant
/// name the group; with no tracks the master is left as it was.
pub fn add_to_master(master: &mut MasterPlaylist, tracks: &[TrackRef]) {
    if tracks.is_empty() {
        return;
    }
    for track in tracks {
        master.alternatives.push(AlternativeMedia {
            media_type: AlternativeMediaType::Subtitles,
            uri: Some(playlist_uri(&track.lang)),
            group_id: GROUP_ID.into(),
            language: Some(track.lang.clone()),
            // Checked on the way in; a quote here would end the attribute.
            name: track
                .label
                .replace(|c: char| c == '"' || c.is_control(), ""),
            default: false,
            autoselect: true,
            ..Default::default()
        });
    }
    for variant in &mut master.variants {
        variant.subtitles = Some(GROUP_ID.into());
    }
}

/// Where the video's segments start and end, in milliseconds, from one
/// variant's `#EXTINF` durations (every rung is cut at the same PTS).
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    durations: Vec<f64>,
    starts_ms: Vec<i64>,
    target_duration: u64,
}

impl Timeline {
    pub fn of(variant: &MediaPlaylist) -> Timeline {
        let durations: Vec<f64> = variant
            .segments
            .iter()
            .map(|s| f64::from(s.duration))
            .collect();
        let mut starts_ms = Vec::with_capacity(durations.len());
        let mut at = 0.0;
        for d in &durations {
            starts_ms.push((at * 1000.0_f64).round() as i64);
            at += d;
        }
        Timeline {
            durations,
            starts_ms,
            target_duration: variant.target_duration.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.durations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.durations.is_empty()
    }

    /// `[start, end)` of segment `index`; the last one runs on for ever, so
    /// a cue past the video's end is still somewhere.
    fn span(&self, index: usize) -> (i64, i64) {
        let start = if index == 0 { 0 } else { self.starts_ms[index] };
        let end = self.starts_ms.get(index + 1).copied().unwrap_or(i64::MAX);
        (start, end)
    }

    /// The subtitle media playlist: one WebVTT segment per video segment.
    pub fn playlist(&self) -> MediaPlaylist {
        MediaPlaylist {
            version: Some(3),
            target_duration: self.target_duration,
            media_sequence: 0,
            segments: self
                .durations
                .iter()
                .enumerate()
                .map(|(i, &d)| MediaSegment {
                    uri: segment_name(i),
                    duration: d as f32,
                    ..Default::default()
                })
                .collect(),
            end_list: true,
            playlist_type: Some(m3u8_rs::MediaPlaylistType::Vod),
            ..Default::default()
        }
    }

    /// Segment `index` of `captions` as a WebVTT file; `None` past the end.
    pub fn segment(&self, captions: &Captions, index: usize) -> Option<String> {
        if index >= self.len() {
            return None;
        }
        let (start, end) = self.span(index);
        let cues = captions.cues.iter().filter(|c| overlaps(c, start, end));
        Some(captions.write(&[timestamp_map()], cues))
    }
}

/// Whether `cue` shows during `[start, end)`; a zero-length cue belongs to
/// the segment it starts in.
fn overlaps(cue: &Cue, start: i64, end: i64) -> bool {
    if cue.end_ms <= cue.start_ms {
        return cue.start_ms >= start && cue.start_ms < end;
    }
    cue.start_ms < end && cue.end_ms > start
}

#[cfg(test)]
mod tests {
    use super::super::webvtt::{parse, SourceFormat};
    use super::*;

    fn variant(durations: &[f32]) -> MediaPlaylist {
        MediaPlaylist {
            target_duration: 2,
            segments: durations
                .iter()
                .enumerate()
                .map(|(i, &d)| MediaSegment {
                    uri: format!("seg_{i:05}.ts"),
                    duration: d,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn cues_land_in_every_segment_they_overlap() {
        let captions = parse(
            b"WEBVTT\n\n00:00:00.500 --> 00:00:01.000\nfirst\n\n00:00:01.500 --> 00:00:04.500\nacross\n\n00:00:09.000 --> 00:00:12.000\nlate\n",
            SourceFormat::WebVtt,
        )
        .unwrap();
        let timeline = Timeline::of(&variant(&[2.0, 2.0, 2.0]));
        let seg = |i| timeline.segment(&captions, i).unwrap();
        let first = seg(0);
        assert!(
            first.starts_with(&format!("WEBVTT\n{}\n", timestamp_map())),
            "{first}"
        );
        assert!(
            first.contains("first") && first.contains("across"),
            "{first}"
        );
        assert!(seg(1).contains("across") && !seg(1).contains("first"));
        assert!(seg(2).contains("across") && seg(2).contains("late"));
        assert!(timeline.segment(&captions, 3).is_none());
        // Each segment is a WebVTT file of its own.
        for i in 0..3 {
            parse(seg(i).as_bytes(), SourceFormat::WebVtt).unwrap();
        }
        assert_eq!(
            timestamp_map(),
            "X-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000"
        );
    }

    #[test]
    fn the_playlist_mirrors_the_video_segments() {
        let timeline = Timeline::of(&variant(&[2.0, 2.0, 1.2]));
        let playlist = timeline.playlist();
        let names: Vec<_> = playlist.segments.iter().map(|s| s.uri.as_str()).collect();
        assert_eq!(names, ["seg_00000.vtt", "seg_00001.vtt", "seg_00002.vtt"]);
        assert!(playlist.end_list);
        assert_eq!(segment_index("seg_00002.vtt"), Some(2));
        for bad in [
            "seg_2.vtt",
            "seg_00002.ts",
            "../seg_00002.vtt",
            "seg_0000a.vtt",
        ] {
            assert_eq!(segment_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_master_names_the_group_on_every_variant() {
        let mut master = m3u8_rs::parse_master_playlist_res(
            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n240p/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2\n360p/index.m3u8\n",
        )
        .unwrap();
        add_to_master(
            &mut master,
            &[TrackRef {
                lang: "en".into(),
                label: "English".into(),
            }],
        );
        let mut out = Vec::new();
        master.write_to(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("#EXT-X-MEDIA:TYPE=SUBTITLES,URI=\"subs/en/index.m3u8\",GROUP-ID=\"subs\",LANGUAGE=\"en\",NAME=\"English\""),
            "{text}"
        );
        assert_eq!(text.matches("SUBTITLES=\"subs\"").count(), 2, "{text}");
    }
}
