//! Awkward but valid inputs: each must give playable, upright output with
//! the right dimensions and duration.

mod common;

use std::path::Path;

use common::*;
use sealcast_transcoder::TranscodeReport;

fn transcode_ok(src: &Path, out: &Path) -> TranscodeReport {
    let (res, sink) = run_transcode(src, out, &small_opts());
    let r = res.unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    assert_eq!(sink.aborted, 0);
    r
}

/// Transcode a 320x240 source and play the whole ladder back.
fn transcode_playable(src: &Path, out: &Path, secs: f64) -> TranscodeReport {
    let r = transcode_ok(src, out);
    check_playable(out, &SMALL_LADDER, secs);
    r
}

/// A static picture with a white box in the top-left corner: any wrong
/// rotation or flip moves the box to another corner.
fn corner_source(dir: &Path, rotate: u32) -> std::path::PathBuf {
    let plain = dir.join(format!("corner_plain_{rotate}.mp4"));
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=gray:size=320x240:rate=25,drawbox=x=0:y=0:w=120:h=80:color=white:t=fill",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        plain.to_str().unwrap(),
    ]);
    let rotated = dir.join(format!("corner_rot_{rotate}.mp4"));
    let meta = format!("rotate={rotate}");
    ffmpeg(&[
        "-i",
        plain.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v",
        &meta,
        rotated.to_str().unwrap(),
    ]);
    rotated
}

#[test]
fn rotation_metadata_is_applied() {
    let tmp = tempfile::tempdir().unwrap();
    for rot in [90u32, 180, 270] {
        let src = corner_source(tmp.path(), rot);
        let info = sealcast_transcoder::probe(&src).unwrap();
        // FFmpeg 5.1's `-metadata:s:v rotate=R` stores a display matrix that
        // ffprobe reports as "rotation=R", i.e. counter-clockwise: the
        // clockwise correction (what MediaInfo reports) is 360 - R.
        assert_eq!(info.rotation, (360 - rot) % 360, "probe rotation");
        let out = tmp.path().join(format!("out{rot}"));
        let r = transcode_ok(&src, &out);
        let expect: Vec<(u32, u32)> = if rot == 180 {
            SMALL_LADDER.to_vec()
        } else {
            vec![(180, 240), (108, 144)]
        };
        let dims: Vec<_> = r.renditions.iter().map(|v| (v.width, v.height)).collect();
        assert_eq!(dims, expect, "rotation {rot}");
        check_playable(&out, &expect, 3.0);
        // Compare with the ffmpeg CLI's own autorotation of the source.
        let (w, h) = expect[0];
        let ours = gray_frame(
            &out.join("240p/index.m3u8"),
            "1",
            w,
            h,
            &["-allowed_extensions", "ALL"],
        );
        let reference = gray_frame(&src, "1", w, h, &[]);
        let unrotated = gray_frame(&src, "1", w, h, &["-noautorotate"]);
        let d_ref = mean_abs_diff(&ours, &reference);
        let d_bad = mean_abs_diff(&ours, &unrotated);
        assert!(
            d_ref < 4.0,
            "rotation {rot}: differs from upright reference by {d_ref}"
        );
        assert!(
            d_bad > 20.0,
            "rotation {rot}: test not discriminative ({d_bad})"
        );
        // Poster is upright-sized too.
        let pp = ffprobe(&out.join("poster.jpg"), "stream=width,height", &[]);
        assert_eq!(
            value(&pp, "width").unwrap().parse::<u32>().unwrap(),
            if rot == 180 { 320 } else { 240 }
        );
    }
}

#[test]
fn odd_dimensions() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("odd.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=321x241:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv444p",
        "-c:a",
        "aac",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    transcode_playable(&src, &out, 3.0);
}

#[test]
fn variable_frame_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("vfr.mp4");
    // 50 frames at 25 fps (2 s) then 150 frames at 50 fps (3 s).
    ffmpeg(&[
        "-t",
        "4",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=50",
        "-vf",
        "setpts='if(lt(N,50),N/25,2+(N-50)/50)/TB'",
        "-vsync",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-an",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    let r = transcode_playable(&src, &out, 5.0);
    assert!(
        (r.duration_seconds - 5.0).abs() < 0.2,
        "{}",
        r.duration_seconds
    );
    assert_eq!(decoded_video_frames(&out.join("240p/index.m3u8")), 200);
}

#[test]
fn no_audio_gives_video_only_ladder() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(tmp.path(), "silent.mp4", 3, &["-an"]);
    let out = tmp.path().join("out");
    let r = transcode_playable(&src, &out, 3.0);
    for v in &r.renditions {
        assert!(!v.codecs.contains("mp4a"), "{}", v.codecs);
    }
    let s = ffprobe(&out.join("240p/index.m3u8"), "stream=codec_type", &[]);
    assert!(!s.contains("audio"), "{s}");
}

/// Whatever the source's depth and codec, the ladder is 8-bit 4:2:0.
fn assert_becomes_8bit_420(src: &Path, out: &Path) {
    transcode_playable(src, out, 3.0);
    let s = ffprobe(
        &out.join("240p/index.m3u8"),
        "stream=pix_fmt,profile",
        &["-select_streams", "v:0"],
    );
    assert_eq!(value(&s, "pix_fmt").as_deref(), Some("yuv420p"), "{s}");
}

#[test]
fn ten_bit_hdr_source_becomes_8bit() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(
        tmp.path(),
        "hdr10.mp4",
        3,
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p10le",
            "-color_primaries",
            "bt2020",
            "-color_trc",
            "smpte2084",
            "-colorspace",
            "bt2020nc",
        ],
    );
    assert_eq!(
        sealcast_transcoder::probe(&src).unwrap().pixel_format,
        "yuv420p10le"
    );
    assert_becomes_8bit_420(&src, &tmp.path().join("out"));
}

#[test]
fn hevc_source() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(
        tmp.path(),
        "hevc.mp4",
        3,
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
            "-pix_fmt",
            "yuv420p10le",
        ],
    );
    assert_eq!(
        sealcast_transcoder::probe(&src).unwrap().video_codec,
        "hevc"
    );
    assert_becomes_8bit_420(&src, &tmp.path().join("out"));
}

#[test]
fn vp9_webm_with_opus() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(
        tmp.path(),
        "vp9.webm",
        3,
        &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "300k",
            "-c:a",
            "libopus",
        ],
    );
    let info = sealcast_transcoder::probe(&src).unwrap();
    assert_eq!(
        (info.video_codec.as_str(), info.audio_codec.as_deref()),
        ("vp9", Some("opus"))
    );
    let out = tmp.path().join("out");
    transcode_playable(&src, &out, 3.0);
}

#[test]
fn surround_audio_is_downmixed_to_stereo_aac() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(
        tmp.path(),
        "surround.mp4",
        3,
        &[
            "-af",
            "aformat=channel_layouts=5.1",
            "-c:a",
            "aac",
            "-b:a",
            "256k",
        ],
    );
    assert_eq!(
        sealcast_transcoder::probe(&src).unwrap().audio_channels,
        Some(6)
    );
    let out = tmp.path().join("out");
    transcode_playable(&src, &out, 3.0);
    let a = ffprobe(
        &out.join("240p/index.m3u8"),
        "stream=codec_name,channels,sample_rate",
        &["-select_streams", "a:0"],
    );
    assert_eq!(value(&a, "codec_name").as_deref(), Some("aac"));
    assert_eq!(value(&a, "channels").as_deref(), Some("2"));
    assert_eq!(value(&a, "sample_rate").as_deref(), Some("48000"));
}

#[test]
fn source_smaller_than_every_rung_gets_one_rung() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("small.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=176x99:rate=25",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv444p",
        src.to_str().unwrap(),
    ]);
    let out = tmp.path().join("out");
    let r = transcode_ok(&src, &out);
    assert_eq!(r.renditions.len(), 1);
    check_playable(&out, &[(176, 98)], 2.0);
}
