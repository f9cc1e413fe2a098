//! The copy path: the top rung re-muxed from an H.264/AAC source, other
//! rungs encoded with IDRs at the same PTS as the copied rung's cuts.

mod common;

use std::path::Path;

use common::*;
use sealcast_transcoder::{decrypt_segment, CopyTop, SegmentIv, TranscodeOptions};

fn framemd5(input: &Path) -> Vec<String> {
    let hls: &[&str] = if input.extension().is_some_and(|e| e == "m3u8") {
        &["-allowed_extensions", "ALL"]
    } else {
        &[]
    };
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error"])
        .args(hls)
        .arg("-i")
        .arg(input)
        .args([
            "-map",
            "0:v:0",
            "-vsync",
            "passthrough",
            "-f",
            "framemd5",
            "-",
        ])
        .output()
        .expect("ffmpeg CLI is required");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        // Keep only the checksum: timestamps differ by the TS preroll.
        .map(|l| l.rsplit(',').next().unwrap().trim().to_string())
        .collect()
}

/// (pts_time of the first frame, is keyframe) of every decrypted segment.
fn segment_starts(out: &Path, rung: &str) -> Vec<(String, String)> {
    let pl = std::fs::read(out.join(rung).join("index.m3u8")).unwrap();
    let m3u8_rs::Playlist::MediaPlaylist(pl) = m3u8_rs::parse_playlist_res(&pl).unwrap() else {
        panic!()
    };
    let tmp = tempfile::tempdir().unwrap();
    pl.segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let tag = s.key.as_ref().unwrap();
            let uri = tag.uri.clone().unwrap();
            let iv = SegmentIv::from_attribute(tag.iv.as_deref().unwrap()).unwrap();
            let key: [u8; 16] = std::fs::read(out.join(rung).join(uri))
                .unwrap()
                .try_into()
                .unwrap();
            let enc = std::fs::read(out.join(rung).join(&s.uri)).unwrap();
            let plain = decrypt_segment(&key, &iv.0, &enc).unwrap();
            let f = tmp.path().join(format!("{i}.ts"));
            std::fs::write(&f, plain).unwrap();
            let p = ffprobe(
                &f,
                "frame=key_frame,pts_time",
                &["-select_streams", "v:0", "-read_intervals", "%+#1"],
            );
            (
                value(&p, "pts_time").unwrap(),
                value(&p, "key_frame").unwrap(),
            )
        })
        .collect()
}

fn copy_opts(copy_top: CopyTop) -> TranscodeOptions {
    TranscodeOptions {
        copy_top,
        ..small_opts()
    }
}

#[test]
fn top_rung_is_copied_and_aligned() {
    let tmp = tempfile::tempdir().unwrap();
    // Keyframes every 0.8 s, so cuts land near (not on) the 2 s boundaries.
    let src = make_source(
        tmp.path(),
        "h264.mp4",
        7,
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "20",
            "-b:v",
            "300k",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    let out = tmp.path().join("out");
    let (res, _) = run_transcode(&src, &out, &copy_opts(CopyTop::Auto));
    let r = res.unwrap();
    assert!(r.renditions[0].copied, "{r:?}");
    assert!(!r.renditions[1].copied);
    check_playable(&out, &SMALL_LADDER, 7.0);
    // The copied rung is sealed like any other: no (key, IV) pair twice.
    assert_key_iv_pairs_unique(&out);
    // The copied rung carries the source pictures bit for bit.
    let ours = framemd5(&out.join("240p/index.m3u8"));
    assert_eq!(ours.len(), 175);
    assert_eq!(ours, framemd5(&src));
    // Every segment of both rungs starts with a keyframe at the same PTS.
    let a = segment_starts(&out, "240p");
    let b = segment_starts(&out, "144p");
    assert_eq!(a, b);
    assert!(a.iter().all(|(_, k)| k == "1"), "{a:?}");
    assert_eq!(a.len(), r.segment_count);
    assert_eq!(a.len(), 4, "{a:?}"); // cuts at 0, 2.4, 4.0, 6.4 s
}

#[test]
fn copy_is_skipped_when_not_eligible() {
    let tmp = tempfile::tempdir().unwrap();
    // Bitrate far above the 240p budget: Auto encodes, Always copies.
    let src = make_source(
        tmp.path(),
        "fat.mp4",
        3,
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
            "-pix_fmt",
            "yuv420p",
        ],
    );
    for (mode, copied) in [
        (CopyTop::Auto, false),
        (CopyTop::Always, true),
        (CopyTop::Never, false),
    ] {
        let out = tmp.path().join(format!("out-{mode:?}"));
        let (res, _) = run_transcode(&src, &out, &copy_opts(mode));
        let r = res.unwrap();
        assert_eq!(r.renditions[0].copied, copied, "{mode:?}");
        check_playable(&out, &SMALL_LADDER, 3.0);
    }
    // HEVC source: never copied.
    let hevc = make_source(
        tmp.path(),
        "hevc.mp4",
        2,
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
        ],
    );
    let (res, _) = run_transcode(&hevc, &tmp.path().join("h"), &copy_opts(CopyTop::Always));
    assert!(!res.unwrap().renditions[0].copied);
}
