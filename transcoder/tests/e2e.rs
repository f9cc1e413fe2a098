//! End to end: transcode, then play the encrypted HLS with ffmpeg/ffprobe as
//! an independent client and inspect playlists, keys and segments.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;
use m3u8_rs::{KeyMethod, MediaPlaylist, MediaPlaylistType, Playlist};
use sealcast_transcoder::{decrypt_segment, DirSink, OutputSink, SegmentIv};

fn media_playlist(path: &Path) -> MediaPlaylist {
    let bytes = std::fs::read(path).unwrap();
    match m3u8_rs::parse_playlist_res(&bytes).unwrap() {
        Playlist::MediaPlaylist(m) => m,
        _ => panic!("{} is not a media playlist", path.display()),
    }
}

fn looks_like_plain_ts(b: &[u8]) -> bool {
    b.len() >= 188 * 3 && (0..3).all(|i| b[i * 188] == 0x47)
}

#[test]
fn end_to_end_encrypted_ladder() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(tmp.path(), "src.mp4", 5, &[]);
    let out = tmp.path().join("out");
    let (res, sink) = run_transcode(&src, &out, &small_opts());
    let report = res.unwrap();
    assert_eq!(sink.aborted, 0);

    // Report.
    assert!((report.duration_seconds - 5.0).abs() < 0.1, "{report:?}");
    assert_eq!(report.segment_count, 3); // 0-2, 2-4, 4-5
    assert_eq!(report.key_count, 2); // rotate_every = 2
    let dims: Vec<(u32, u32)> = report
        .renditions
        .iter()
        .map(|r| (r.width, r.height))
        .collect();
    assert_eq!(dims, SMALL_LADDER);
    for r in &report.renditions {
        assert!(
            r.codecs.starts_with("avc1.") && r.codecs.ends_with(",mp4a.40.2"),
            "{}",
            r.codecs
        );
        assert!(r.bandwidth >= r.average_bandwidth && r.average_bandwidth > 50_000);
        assert!(!r.copied);
    }

    // Sink call order: every key before the segments that use it, poster
    // before playlists, master last.
    let calls = &sink.calls;
    assert_eq!(calls.last().unwrap(), "put:master.m3u8");
    let first_key2 = calls
        .iter()
        .filter(|c| c.starts_with("key:"))
        .nth(1)
        .map(|k| calls.iter().position(|c| c == k).unwrap());
    let first_seg2 = calls
        .iter()
        .position(|c| c.ends_with("seg_00002.ts"))
        .unwrap();
    assert!(first_key2.unwrap() < first_seg2, "{calls:?}");
    let poster = calls.iter().position(|c| c == "put:poster.jpg").unwrap();
    let first_pl = calls
        .iter()
        .position(|c| c.ends_with("index.m3u8"))
        .unwrap();
    let last_seg = calls.iter().rposition(|c| c.ends_with(".ts")).unwrap();
    assert!(last_seg < poster && poster < first_pl);

    // Master playlist.
    let master = std::fs::read(out.join("master.m3u8")).unwrap();
    let Playlist::MasterPlaylist(m) = m3u8_rs::parse_playlist_res(&master).unwrap() else {
        panic!("not a master playlist")
    };
    assert_eq!(m.variants.len(), 2);
    for v in &m.variants {
        assert!(v.bandwidth > 0 && v.average_bandwidth.unwrap() > 0);
        assert!(v.codecs.as_deref().unwrap().starts_with("avc1."));
        assert_eq!(v.frame_rate, Some(25.0));
    }

    // Poster: a JPEG of the display size (<= 640 wide).
    let pp = ffprobe(
        &out.join("poster.jpg"),
        "stream=codec_name,width,height",
        &[],
    );
    assert_eq!(value(&pp, "codec_name").as_deref(), Some("mjpeg"));
    assert_eq!(value(&pp, "width").as_deref(), Some("320"));

    // Media playlists, keys, segments.
    let mut starts_per_rung = Vec::new();
    for v in &m.variants {
        let pl_path = out.join(&v.uri);
        let rung_dir = pl_path.parent().unwrap().to_path_buf();
        let pl = media_playlist(&pl_path);
        assert_eq!(pl.playlist_type, Some(MediaPlaylistType::Vod));
        assert!(pl.end_list);
        assert_eq!(pl.segments.len(), 3);
        let max = pl
            .segments
            .iter()
            .map(|s| s.duration)
            .fold(0.0f32, f32::max);
        assert_eq!(pl.target_duration, max.ceil() as u64);
        let mut key_uris = BTreeSet::new();
        let mut starts = Vec::new();
        for (i, seg) in pl.segments.iter().enumerate() {
            let key = seg.key.as_ref().expect("EXT-X-KEY before every segment");
            assert_eq!(key.method, KeyMethod::AES128);
            let iv = key.iv.as_deref().expect("explicit IV");
            let iv = SegmentIv::from_attribute(iv).unwrap_or_else(|| panic!("IV {iv}"));
            let uri = key.uri.clone().unwrap();
            assert!(
                uri.starts_with("../keys/") && uri.ends_with(".key"),
                "{uri}"
            );
            key_uris.insert(uri.clone());

            let enc = std::fs::read(rung_dir.join(&seg.uri)).unwrap();
            assert!(
                !looks_like_plain_ts(&enc),
                "segment {} is not encrypted",
                seg.uri
            );
            assert_eq!(enc.len() % 16, 0);
            let key_bytes: [u8; 16] = std::fs::read(rung_dir.join(&uri))
                .unwrap()
                .try_into()
                .unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(rung_dir.join(&uri))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600);
            }
            let plain = decrypt_segment(&key_bytes, &iv.0, &enc).expect("decrypts");
            assert!(looks_like_plain_ts(&plain));
            let seg_file = tmp
                .path()
                .join(format!("plain_{}_{i}.ts", v.uri.replace('/', "_")));
            std::fs::write(&seg_file, &plain).unwrap();
            // Each segment stands alone and starts with a keyframe.
            let f = ffprobe(
                &seg_file,
                "frame=key_frame,pict_type,pts_time",
                &["-select_streams", "v:0", "-read_intervals", "%+#1"],
            );
            assert_eq!(value(&f, "key_frame").as_deref(), Some("1"), "{f}");
            assert_eq!(value(&f, "pict_type").as_deref(), Some("I"));
            starts.push(value(&f, "pts_time").unwrap());
            let s = ffprobe(&seg_file, "stream=codec_name", &[]);
            assert!(
                s.contains("codec_name=h264") && s.contains("codec_name=aac"),
                "{s}"
            );
        }
        assert_eq!(key_uris.len(), 2, "distinct keys");
        starts_per_rung.push((
            starts,
            pl.segments.iter().map(|s| s.duration).collect::<Vec<_>>(),
        ));
    }
    // Keyframes line up across rungs: same segment start PTS and durations.
    assert_eq!(starts_per_rung[0], starts_per_rung[1]);

    // Independent client plays every rung with the right size and duration.
    check_playable(&out, &SMALL_LADDER, 5.0);
    let (ok, err) = ffmpeg_try(&[
        "-allowed_extensions",
        "ALL",
        "-i",
        out.join("master.m3u8").to_str().unwrap(),
        "-map",
        "0:p:1",
        "-f",
        "null",
        "-",
    ]);
    assert!(ok, "{err}");

    // Without the right key a segment is not decodable.
    let pl = media_playlist(&out.join("240p/index.m3u8"));
    let key_path = out
        .join("240p")
        .join(pl.segments[0].key.as_ref().unwrap().uri.as_ref().unwrap());
    let good = std::fs::read(&key_path).unwrap();
    // Segments 0 and 1 (4 s = 100 frames of 125) use the first key.
    let pl_240 = out.join("240p/index.m3u8");
    assert_eq!(decoded_video_frames(&pl_240), 125);
    std::fs::write(&key_path, [0x5au8; 16]).unwrap();
    let n = decoded_video_frames(&pl_240);
    assert!(n <= 25, "decoded {n} frames with a replaced key");
    std::fs::remove_file(&key_path).unwrap();
    let n = decoded_video_frames(&pl_240);
    assert!(n <= 25, "decoded {n} frames with a missing key");
    std::fs::write(&key_path, good).unwrap();
    check_playable(&out, &SMALL_LADDER, 5.0);
}

#[test]
fn dir_sink_abort_removes_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = DirSink::new(tmp.path().join("o")).unwrap();
    let k = sealcast_transcoder::ContentKey::generate();
    assert_eq!(s.content_key(&k).unwrap(), format!("../keys/{}.key", k.id));
    s.put("240p/seg_00000.ts", b"x").unwrap();
    assert!(s.put("../evil", b"x").is_err());
    assert!(s.put("/abs", b"x").is_err());
    s.abort();
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("o")).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn probe_reports_media_info() {
    let tmp = tempfile::tempdir().unwrap();
    let src = make_source(tmp.path(), "p.mp4", 2, &[]);
    let info = sealcast_transcoder::probe(&src).unwrap();
    assert_eq!((info.width, info.height, info.rotation), (320, 240, 0));
    assert_eq!(info.video_codec, "h264");
    assert!(info.has_audio);
    assert!((info.duration_seconds - 2.0).abs() < 0.1);
    assert_eq!(info.frame_rate, Some(25.0));
}
