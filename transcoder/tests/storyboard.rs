//! Storyboards: made during a transcode and on their own, checked with
//! ffprobe as an independent reader of the sheets.

mod common;

use std::path::Path;

use common::*;
use sealcast_transcoder::{storyboard, Limits, STORYBOARD_VTT};

/// (start, end, sheet name, x, y, w, h) of every cue.
type Cue = (f64, f64, String, u32, u32, u32, u32);

fn seconds(ts: &str) -> f64 {
    let parts: Vec<f64> = ts.split(':').map(|p| p.parse().unwrap()).collect();
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

fn cues(vtt: &str) -> Vec<Cue> {
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
    vtt.split("\n\n")
        .skip(1)
        .map(|block| {
            let (times, payload) = block.trim().split_once('\n').unwrap();
            let (start, end) = times.split_once(" --> ").unwrap();
            let (sheet, xywh) = payload.split_once("#xywh=").unwrap();
            let n: Vec<u32> = xywh.split(',').map(|v| v.parse().unwrap()).collect();
            (
                seconds(start),
                seconds(end),
                sheet.to_string(),
                n[0],
                n[1],
                n[2],
                n[3],
            )
        })
        .collect()
}

fn jpeg_size(path: &Path) -> (u32, u32) {
    let p = ffprobe(path, "stream=codec_name,width,height", &[]);
    assert_eq!(value(&p, "codec_name").as_deref(), Some("mjpeg"), "{p}");
    (
        value(&p, "width").unwrap().parse().unwrap(),
        value(&p, "height").unwrap().parse().unwrap(),
    )
}

/// Cues run from 0 to `duration` without gaps, and every sheet is exactly
/// the bounding box of the tiles the cues place on it.
fn check(dir: &Path, cues: &[Cue], duration: f64) {
    assert_eq!(cues[0].0, 0.0);
    for pair in cues.windows(2) {
        assert_eq!(pair[0].1, pair[1].0, "{pair:?}");
    }
    assert!((cues.last().unwrap().1 - duration).abs() < 0.1, "{cues:?}");
    let mut sheets: Vec<&str> = cues.iter().map(|c| c.2.as_str()).collect();
    sheets.dedup();
    for sheet in sheets {
        let mine = cues.iter().filter(|c| c.2 == sheet);
        let w = mine.clone().map(|c| c.3 + c.5).max().unwrap();
        let h = mine.map(|c| c.4 + c.6).max().unwrap();
        assert_eq!(jpeg_size(&dir.join("storyboard").join(sheet)), (w, h));
    }
}

#[test]
fn a_transcode_writes_a_storyboard_before_the_playlists() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(tmp.path(), "src.mp4", 5, &[]);
    let out = tmp.path().join("out");
    let (res, sink) = run_transcode(&src, &out, &small_opts());
    let report = res.unwrap();
    let board = report.storyboard.expect("a storyboard");
    assert_eq!(board.thumbnails, 3); // 0, 2 and 4 s
    assert_eq!(board.sheets, 1);
    assert_eq!((board.tile_width, board.tile_height), (160, 120));

    let vtt_at = |name: &str| sink.calls.iter().position(|c| c == name).unwrap();
    let vtt = vtt_at(&format!("put:{STORYBOARD_VTT}"));
    assert!(vtt_at("put:storyboard/sprite_000.jpg") < vtt);
    assert!(vtt < vtt_at("put:master.m3u8"));

    let text = std::fs::read_to_string(out.join(STORYBOARD_VTT)).unwrap();
    let cues = cues(&text);
    assert_eq!(cues.len(), 3);
    assert_eq!((cues[2].3, cues[2].4), (320, 0));
    check(&out, &cues, report.duration_seconds);
}

#[test]
fn a_storyboard_alone_fills_a_second_sheet_past_a_hundred_tiles() {
    let tmp = tempfile::tempdir().unwrap();
    // 210 s at 5 fps, tiny: quick to make, 105 thumbnails at 2 s.
    let src = tmp.path().join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=64x48:rate=5",
        "-t",
        "210",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    let mut sink = RecordingSink::new(&out);
    // The hint picks the interval (2 s below two minutes).
    let board = storyboard(&src, &Limits::default(), 100.0, &mut sink).unwrap();
    assert_eq!(sink.aborted, 0);
    assert_eq!((board.thumbnails, board.sheets), (105, 2));
    assert_eq!(
        sink.calls,
        [
            "put:storyboard/sprite_000.jpg",
            "put:storyboard/sprite_001.jpg",
            &format!("put:{STORYBOARD_VTT}")
        ]
    );
    let text = std::fs::read_to_string(out.join(STORYBOARD_VTT)).unwrap();
    let cues = cues(&text);
    assert_eq!(cues.len(), 105);
    assert_eq!(cues[100].2, "sprite_001.jpg");
    assert_eq!(
        jpeg_size(&out.join("storyboard/sprite_000.jpg")),
        (1600, 1200)
    );
    assert_eq!(
        jpeg_size(&out.join("storyboard/sprite_001.jpg")),
        (800, 120)
    );
    check(&out, &cues, 210.0);
}

#[test]
fn a_file_that_is_no_video_makes_no_storyboard() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("junk.mp4");
    std::fs::write(&src, vec![0x42u8; 4096]).unwrap();
    let mut sink = RecordingSink::new(&tmp.path().join("out"));
    let err = storyboard(&src, &Limits::default(), 0.0, &mut sink).unwrap_err();
    assert!(err.is_bad_media(), "{err}");
    assert!(sink.calls.is_empty());
    assert_eq!(sink.aborted, 1);
}
