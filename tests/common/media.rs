//! Source media for the tests, made by the ffmpeg CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the ffmpeg CLI; panics with its output on failure (never skips).
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI is required by the tests (`make test` installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A short test video with audio (H.264/AAC in MP4).
pub fn make_video(dir: &Path, name: &str, seconds: u32, size: &str) -> PathBuf {
    let path = dir.join(name);
    let secs = seconds.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={size}:rate=25"),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        &secs,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().unwrap(),
    ]);
    path
}

/// Files under `root` with the same bytes as `sha` (a copy of an upload).
pub fn copies_of(root: &Path, sha: &str) -> Vec<PathBuf> {
    super::procfs::files_under(root)
        .into_iter()
        .filter(|f| std::fs::read(f).is_ok_and(|b| sha256_hex(&b) == sha))
        .collect()
}

/// The ffmpeg CLI as an independent player: decodes every stream of the
/// (signed) HLS URL, sending `token` as a Bearer token on every request (keys
/// included). The number of decoded frames, audio and video; panics with
/// ffmpeg's errors if it fails.
pub fn ffmpeg_play(url: &str, token: &str) -> usize {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-xerror"])
        .args(["-headers", &format!("Authorization: Bearer {token}\r\n")])
        .args(["-i", url])
        .args(["-map", "0", "-f", "framemd5", "-"])
        .output()
        .expect("the ffmpeg CLI is required by the tests (`make test` installs it)");
    assert!(
        out.status.success(),
        "ffmpeg could not play {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A short real video (~`seconds` s, 240p) of at least `min_bytes`, as bytes:
/// high-bitrate x264 so tests get multi-part uploads from a tiny clip.
pub fn video_bytes(dir: &Path, seconds: u32, min_bytes: usize) -> Vec<u8> {
    let path = dir.join(format!("v{seconds}-{min_bytes}.mp4"));
    let rate = ((min_bytes as u64 * 8 * 13 / 10) / seconds.max(1) as u64).max(200_000);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=426x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=sample_rate=48000",
        "-t",
        &seconds.to_string(),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        &rate.to_string(),
        "-minrate",
        &rate.to_string(),
        "-maxrate",
        &rate.to_string(),
        "-bufsize",
        &(rate / 2).to_string(),
        "-x264-params",
        "nal-hrd=cbr:filler=1",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.len() >= min_bytes * 9 / 10,
        "clip is {} bytes, wanted {min_bytes}",
        bytes.len()
    );
    bytes
}
