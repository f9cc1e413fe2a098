//! The bad-input corpus: each file must be rejected with the right stable
//! kind, a readable one-line message, and no segments left in the sink.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use sealcast_transcoder::{ErrorKind, TranscodeError};

/// Deterministic pseudo-random bytes (xorshift64*).
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn expect_rejected(input: &Path, kind: ErrorKind) -> TranscodeError {
    let out = input.with_extension("out");
    let (res, sink) = run_transcode(input, &out, &small_opts());
    let err = res.expect_err("bad input must be rejected");
    let msg = err.to_string();
    assert_eq!(err.kind(), kind, "{}: {msg}", input.display());
    assert!(err.is_bad_media() && !err.is_retryable(), "{msg}");
    assert!(
        !msg.contains('\n') && msg.len() > 10 && msg.len() < 200,
        "{msg:?}"
    );
    // Either the sink never saw anything, or it was told to discard it all.
    if !sink.calls.is_empty() {
        assert_eq!(sink.aborted, 1, "{:?}", sink.calls);
    }
    assert!(sink.aborted <= 1);
    let leftovers: Vec<_> = walk(&out);
    assert!(leftovers.is_empty(), "files left behind: {leftovers:?}");
    // probe() agrees with transcode() on header-level problems.
    if !matches!(kind, ErrorKind::Corrupt | ErrorKind::ZeroDuration) {
        let p = sealcast_transcoder::probe(input).expect_err("probe must reject too");
        assert_eq!(p.kind(), kind, "probe: {p}");
    }
    err
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                v.extend(walk(&e.path()));
            } else {
                v.push(e.path());
            }
        }
    }
    v
}

#[test]
fn zero_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("empty.mp4");
    std::fs::write(&p, b"").unwrap();
    let e = expect_rejected(&p, ErrorKind::Unreadable);
    assert!(e.to_string().contains("empty"), "{e}");
}

#[test]
fn random_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("random.mp4");
    std::fs::write(&p, noise(42, 256 * 1024)).unwrap();
    expect_rejected(&p, ErrorKind::Unreadable);
}

#[test]
fn pdf_renamed_mp4() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("document.mp4");
    let mut pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n".to_vec();
    pdf.extend(std::iter::repeat_n(b"0000000000 65535 f \n".as_slice(), 200).flatten());
    pdf.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
    std::fs::write(&p, pdf).unwrap();
    expect_rejected(&p, ErrorKind::Unreadable);
}

#[test]
fn truncated_mp4_without_moov() {
    let tmp = tempfile::tempdir().unwrap();
    // Default mp4 muxing puts moov at the end: cutting the file loses it.
    let src = make_source(tmp.path(), "full.mp4", 4, &[]);
    let bytes = std::fs::read(&src).unwrap();
    let p = tmp.path().join("truncated.mp4");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    expect_rejected(&p, ErrorKind::Unreadable);
}

#[test]
fn audio_only() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("audio.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440",
        "-t",
        "2",
        "-c:a",
        "aac",
        p.to_str().unwrap(),
    ]);
    let e = expect_rejected(&p, ErrorKind::NotAVideo);
    assert!(e.to_string().starts_with("not a video"), "{e}");
}

#[test]
fn one_by_one_pixel_video() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("tiny.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=size=16x16:rate=25",
        "-t",
        "1",
        "-vf",
        "scale=1:1",
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "yuv444p",
        p.to_str().unwrap(),
    ]);
    let e = expect_rejected(&p, ErrorKind::TooSmall);
    assert!(e.to_string().contains("1x1"), "{e}");
}

#[test]
fn header_claiming_16384x16384() {
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=256x256:rate=25",
        "-t",
        "1",
        "-c:v",
        "ffv1",
        small.to_str().unwrap(),
    ]);
    // Patch Matroska PixelWidth (0xB0) / PixelHeight (0xBA) from 256 to 16384.
    let mut d = std::fs::read(&small).unwrap();
    let mut patched = 0;
    for id in [0xB0u8, 0xBA] {
        let pat = [id, 0x82, 0x01, 0x00];
        let pos = d.windows(4).position(|w| w == pat).expect("size element");
        d[pos + 2] = 0x40;
        patched += 1;
    }
    assert_eq!(patched, 2);
    let p = tmp.path().join("huge.mkv");
    std::fs::write(&p, d).unwrap();
    let e = expect_rejected(&p, ErrorKind::TooLarge);
    assert!(e.to_string().contains("16384x16384"), "{e}");
}

#[test]
fn zero_duration() {
    let tmp = tempfile::tempdir().unwrap();
    // A valid stream header with no frames at all.
    let p = tmp.path().join("zero.y4m");
    std::fs::write(&p, b"YUV4MPEG2 W320 H240 F25:1 Ip A1:1 C420jpeg\n").unwrap();
    expect_rejected(&p, ErrorKind::ZeroDuration);
}

#[test]
fn corrupted_packets_mid_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(tmp.path(), "good.mp4", 5, &["-movflags", "+faststart"]);
    let mut d = std::fs::read(&src).unwrap();
    let n = d.len();
    for (i, off) in [n / 3, n / 2, 2 * n / 3].into_iter().enumerate() {
        let junk = noise(7 + i as u64, 3000);
        d[off..off + junk.len()].copy_from_slice(&junk);
    }
    let p = tmp.path().join("corrupt.mp4");
    std::fs::write(&p, d).unwrap();
    expect_rejected(&p, ErrorKind::Corrupt);
}

#[test]
fn invalid_options_are_not_bad_media() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(tmp.path(), "ok.mp4", 1, &[]);
    for bad in [
        sealcast_transcoder::TranscodeOptions {
            preset: "warp9".into(),
            ..small_opts()
        },
        sealcast_transcoder::TranscodeOptions {
            rotate_every: 0,
            ..small_opts()
        },
        sealcast_transcoder::TranscodeOptions {
            segment_seconds: 0.0,
            ..small_opts()
        },
    ] {
        let mut sink = RecordingSink::new(&tmp.path().join("o"));
        let e = sealcast_transcoder::transcode(&src, &bad, &mut sink, &mut |_| {}).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidOptions, "{e}");
        assert!(!e.is_bad_media() && !e.is_retryable());
        assert!(sink.calls.is_empty());
    }
}

#[test]
fn missing_file_is_io_and_retryable() {
    let (res, _) = run_transcode(
        Path::new("/nonexistent/x.mp4"),
        Path::new("/tmp/sealcast-nonexistent-out"),
        &small_opts(),
    );
    let e = res.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.is_retryable() && !e.is_bad_media());
    let _ = std::fs::remove_dir_all("/tmp/sealcast-nonexistent-out");
}
