//! Shared helpers for the integration tests. They drive the ffmpeg/ffprobe
//! CLIs as independent clients; if those are missing the tests FAIL (they
//! never skip silently).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sealcast_transcoder::{
    transcode, ContentKey, DirSink, OutputSink, Rung, SinkError, TranscodeError, TranscodeOptions,
    TranscodeReport,
};

fn run_tool(tool: &str, args: &[&str]) -> Output {
    Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!("`{tool}` CLI is required by these tests and could not be run: {e}")
    })
}

/// Run `ffmpeg -y -v error ARGS`, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let mut all = vec!["-y", "-nostdin", "-v", "error"];
    all.extend_from_slice(args);
    let out = run_tool("ffmpeg", &all);
    assert!(
        out.status.success(),
        "ffmpeg {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run ffmpeg and return (success, stderr) without asserting.
pub fn ffmpeg_try(args: &[&str]) -> (bool, String) {
    let mut all = vec!["-y", "-nostdin", "-v", "error"];
    all.extend_from_slice(args);
    let out = run_tool("ffmpeg", &all);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// ffprobe returning `key=value` lines of `-show_entries`.
pub fn ffprobe(path: &Path, entries: &str, extra: &[&str]) -> String {
    let p = path.to_str().unwrap();
    let mut args = vec!["-v", "error", "-allowed_extensions", "ALL"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "-show_entries",
        entries,
        "-of",
        "default=noprint_wrappers=1",
        p,
    ]);
    let out = run_tool("ffprobe", &args);
    assert!(
        out.status.success(),
        "ffprobe {p} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn value(probe: &str, key: &str) -> Option<String> {
    probe
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
}

/// A 320x240 25 fps testsrc2 + 440 Hz sine source, `secs` long.
pub fn make_source(dir: &Path, name: &str, secs: u32, extra_out: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let t = secs.to_string();
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
        &t,
    ];
    args.extend_from_slice(extra_out);
    if !extra_out.contains(&"-c:v") {
        args.extend_from_slice(&[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ]);
    }
    if !extra_out.contains(&"-c:a") && !extra_out.contains(&"-an") {
        args.extend_from_slice(&["-c:a", "aac"]);
    }
    args.push(out.to_str().unwrap());
    ffmpeg(&args);
    out
}

/// What [`small_opts`] makes of a 320x240 source such as [`make_source`]'s.
pub const SMALL_LADDER: [(u32, u32); 2] = [(320, 240), (192, 144)];

/// Small, fast options: rungs 240 and 144, 2 s segments, a key every 2.
pub fn small_opts() -> TranscodeOptions {
    TranscodeOptions {
        rungs: vec![Rung::for_height(240), Rung::for_height(144)],
        segment_seconds: 2.0,
        rotate_every: 2,
        preset: "ultrafast".into(),
        ..Default::default()
    }
}

/// Records every sink call (and writes through to a DirSink).
pub struct RecordingSink {
    pub dir: DirSink,
    pub calls: Vec<String>,
    pub aborted: u32,
}

impl RecordingSink {
    pub fn new(root: &Path) -> Self {
        RecordingSink {
            dir: DirSink::new(root).unwrap(),
            calls: Vec::new(),
            aborted: 0,
        }
    }
}

impl OutputSink for RecordingSink {
    fn content_key(&mut self, key: &ContentKey) -> Result<String, SinkError> {
        self.calls.push(format!("key:{}", key.id));
        self.dir.content_key(key)
    }
    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), SinkError> {
        self.calls.push(format!("put:{path}"));
        self.dir.put(path, bytes)
    }
    fn abort(&mut self) {
        self.aborted += 1;
        self.dir.abort();
    }
}

pub fn run_transcode(
    input: &Path,
    out: &Path,
    opts: &TranscodeOptions,
) -> (Result<TranscodeReport, TranscodeError>, RecordingSink) {
    let mut sink = RecordingSink::new(out);
    let mut last = 0.0f32;
    let res = transcode(input, opts, &mut sink, &mut |p| {
        assert!(
            (0.0..=1.0).contains(&p) && p >= last,
            "progress {p} after {last}"
        );
        last = p;
    });
    if res.is_ok() {
        assert_eq!(last, 1.0, "progress must end at 1.0");
    }
    (res, sink)
}

/// Decode one variant playlist with the ffmpeg CLI (an independent HLS
/// client), failing on any decode error; return (width, height, duration).
pub fn play_variant(playlist: &Path) -> (u32, u32, f64) {
    let p = playlist.to_str().unwrap();
    let (ok, err) = ffmpeg_try(&[
        "-xerror",
        "-allowed_extensions",
        "ALL",
        "-i",
        p,
        // Timestamps as they are (VFR), not resampled to a guessed rate.
        "-vsync",
        "passthrough",
        "-enc_time_base",
        "-1",
        "-f",
        "null",
        "-",
    ]);
    assert!(ok && err.trim().is_empty(), "decoding {p} failed: {err}");
    let probe = ffprobe(
        playlist,
        "stream=codec_type,width,height:format=duration",
        &["-select_streams", "v:0"],
    );
    let w = value(&probe, "width").unwrap().parse().unwrap();
    let h = value(&probe, "height").unwrap().parse().unwrap();
    let d = value(&probe, "duration").unwrap().parse().unwrap();
    (w, h, d)
}

/// Play every variant in OUT/master.m3u8; check count, sizes and durations.
pub fn check_playable(out: &Path, expect: &[(u32, u32)], duration: f64) {
    let master = std::fs::read(out.join("master.m3u8")).unwrap();
    let m3u8_rs::Playlist::MasterPlaylist(m) = m3u8_rs::parse_playlist_res(&master).unwrap() else {
        panic!("master.m3u8 is not a master playlist");
    };
    assert_eq!(m.variants.len(), expect.len(), "variants: {:?}", m.variants);
    for (v, &(w, h)) in m.variants.iter().zip(expect) {
        let (pw, ph, d) = play_variant(&out.join(&v.uri));
        assert_eq!((pw, ph), (w, h), "{}", v.uri);
        let res = v.resolution.unwrap();
        assert_eq!((res.width, res.height), (u64::from(w), u64::from(h)));
        assert!(
            (d - duration).abs() <= 0.5,
            "{}: duration {d} vs {duration}",
            v.uri
        );
    }
}

/// Mean absolute difference between two gray8 frames grabbed at `t` seconds.
pub fn gray_frame(input: &Path, t: &str, w: u32, h: u32, extra_in: &[&str]) -> Vec<u8> {
    let out = tempfile::NamedTempFile::new().unwrap();
    let size = format!("scale={w}:{h}:flags=bilinear,format=gray");
    let mut args: Vec<&str> = extra_in.to_vec();
    args.extend_from_slice(&[
        "-ss",
        t,
        "-i",
        input.to_str().unwrap(),
        "-frames:v",
        "1",
        "-vf",
        &size,
        "-f",
        "rawvideo",
    ]);
    args.push(out.path().to_str().unwrap());
    ffmpeg(&args);
    std::fs::read(out.path()).unwrap()
}

pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.len() as f64
}

/// Number of video frames the ffmpeg CLI manages to decode from `input`
/// (errors tolerated: used to show that undecryptable segments are lost).
pub fn decoded_video_frames(input: &Path) -> usize {
    let out = run_tool(
        "ffmpeg",
        &[
            "-nostdin",
            "-v",
            "quiet",
            "-allowed_extensions",
            "ALL",
            "-i",
            input.to_str().unwrap(),
            "-vsync",
            "passthrough",
            "-enc_time_base",
            "-1",
            "-map",
            "0:v:0",
            "-f",
            "framemd5",
            "-",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .count()
}

/// One segment's `#EXT-X-KEY` as a player reads it from a variant playlist.
pub struct SegmentKeyTag {
    /// The variant playlist's URI in the master, e.g. `240p/index.m3u8`.
    pub variant: String,
    /// Position of the segment in its playlist.
    pub index: usize,
    /// The encrypted segment file.
    pub segment: PathBuf,
    pub key_uri: String,
    /// The key file's bytes (what the URI resolves to).
    pub key: [u8; 16],
    /// The explicit `IV=` attribute, as written.
    pub iv: Option<String>,
}

impl SegmentKeyTag {
    /// The explicit IV as bytes; panics when it is missing or malformed.
    pub fn iv_bytes(&self) -> [u8; 16] {
        let iv = self
            .iv
            .as_deref()
            .unwrap_or_else(|| panic!("{} segment {}: no explicit IV", self.variant, self.index));
        let digits = iv
            .strip_prefix("0x")
            .or_else(|| iv.strip_prefix("0X"))
            .filter(|d| d.len() == 32)
            .unwrap_or_else(|| panic!("IV {iv} is not 0x + 32 hex digits"));
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16)
                .unwrap_or_else(|_| panic!("IV {iv} is not hex"));
        }
        out
    }
}

/// Every segment's key tag of every variant in OUT/master.m3u8, parsed with
/// m3u8-rs; panics on a segment without a key tag or with another method.
pub fn segment_key_tags(out: &Path) -> Vec<SegmentKeyTag> {
    let master = std::fs::read(out.join("master.m3u8")).unwrap();
    let m3u8_rs::Playlist::MasterPlaylist(m) = m3u8_rs::parse_playlist_res(&master).unwrap() else {
        panic!("master.m3u8 is not a master playlist");
    };
    let mut tags = Vec::new();
    for v in &m.variants {
        let path = out.join(&v.uri);
        let dir = path.parent().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let m3u8_rs::Playlist::MediaPlaylist(pl) = m3u8_rs::parse_playlist_res(&bytes).unwrap()
        else {
            panic!("{} is not a media playlist", v.uri);
        };
        for (index, seg) in pl.segments.iter().enumerate() {
            let key = seg
                .key
                .as_ref()
                .unwrap_or_else(|| panic!("{} segment {index}: no EXT-X-KEY", v.uri));
            assert_eq!(key.method, m3u8_rs::KeyMethod::AES128, "{}", v.uri);
            let key_uri = key.uri.clone().expect("key URI");
            tags.push(SegmentKeyTag {
                variant: v.uri.clone(),
                index,
                segment: dir.join(&seg.uri),
                key: std::fs::read(dir.join(&key_uri))
                    .unwrap()
                    .try_into()
                    .expect("a 16-byte key"),
                key_uri,
                iv: key.iv.clone(),
            });
        }
    }
    tags
}

/// No two segments of the ladder, on any rung, are encrypted under the same
/// (key, IV) pair, and every segment states its IV explicitly.
pub fn assert_key_iv_pairs_unique(out: &Path) {
    let tags = segment_key_tags(out);
    assert!(!tags.is_empty());
    let mut seen = std::collections::HashMap::new();
    for t in &tags {
        let pair = (t.key, t.iv_bytes());
        if let Some((variant, index)) = seen.insert(pair, (&t.variant, t.index)) {
            panic!(
                "{} segment {} reuses the key {} and IV {} of {variant} segment {index}",
                t.variant,
                t.index,
                t.key_uri,
                t.iv.as_deref().unwrap()
            );
        }
    }
}
