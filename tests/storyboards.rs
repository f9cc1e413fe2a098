//! Seek-preview storyboards against the real server: a transcode makes one,
//! the playback response signs it under the session, every cue's sprite
//! fetches a JPEG its tiles fit exactly (read back with ffprobe), nothing is
//! served without the session's signature, and the backfill command
//! recreates a storyboard that is gone (and keeps nothing when it cannot).

mod common;

use std::collections::BTreeMap;
use std::process::Output;

use common::hls::{resolve, split_token};
use common::{assert_error, Cast, TestApp};
use sealcast::storage::{bytes_stream, ObjectKey, ObjectPrefix, ObjectStore};
use serde_json::{json, Value};

/// One cue: start and end in seconds, the sprite URL, and x, y, w, h.
#[derive(Debug)]
struct Cue {
    start: f64,
    end: f64,
    url: String,
    xywh: [u32; 4],
}

fn seconds(ts: &str) -> f64 {
    let parts: Vec<f64> = ts.split(':').map(|p| p.parse().unwrap()).collect();
    assert_eq!(parts.len(), 3, "{ts}");
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

/// A WebVTT thumbnails track as a player reads it.
fn parse_vtt(text: &str) -> Vec<Cue> {
    assert!(text.starts_with("WEBVTT\n"), "{text}");
    text.split("\n\n")
        .skip(1)
        .map(|block| {
            let (timing, payload) = block.trim().split_once('\n').expect(block);
            let (start, end) = timing.split_once(" --> ").expect(timing);
            let (url, xywh) = payload.split_once("#xywh=").expect(payload);
            let n: Vec<u32> = xywh.split(',').map(|v| v.parse().unwrap()).collect();
            Cue {
                start: seconds(start),
                end: seconds(end),
                url: url.to_string(),
                xywh: n.try_into().unwrap(),
            }
        })
        .collect()
}

/// Width and height of a JPEG, by ffprobe.
fn jpeg_size(bytes: &[u8]) -> (u32, u32) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.jpg");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {text}"))
            .to_string()
    };
    assert_eq!(field("codec_name"), "mjpeg", "{text}");
    (
        field("width").parse().unwrap(),
        field("height").parse().unwrap(),
    )
}

async fn start(app: &TestApp, token: &str, video: &str) -> Value {
    let resp = app
        .api
        .post(
            &format!("/api/v1/videos/{video}/playback"),
            token,
            json!({}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

/// Fetches a session's storyboard and checks it whole: cues from 0 to the
/// video's duration without gaps, every sprite a relative name that
/// resolves under the session's signed path and a JPEG exactly the bounding
/// box of the tiles placed on it. Returns the cues, their URLs resolved.
async fn check_storyboard(app: &TestApp, session: &Value, duration: f64) -> Vec<Cue> {
    let sid = session["session_id"].as_str().unwrap();
    let url = session["storyboard_url"]
        .as_str()
        .expect("a storyboard_url");
    let (base, _) = split_token(url);
    assert!(base.starts_with(&format!("/hls/{sid}/")), "{url}");
    assert_eq!(url, format!("{base}storyboard/storyboard.vtt"));
    let resp = app.api.anonymous_get(url).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/vtt");
    let mut cues = parse_vtt(&resp.text().await.unwrap());
    for cue in &mut cues {
        assert!(cue.url.starts_with("sprite_"), "{cue:?}");
        cue.url = resolve(url, &cue.url);
    }
    assert!(!cues.is_empty());
    assert_eq!(cues[0].start, 0.0);
    for pair in cues.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "{pair:?}");
    }
    let end = cues.last().unwrap().end;
    assert!(
        (end - duration).abs() < 0.2,
        "cues end at {end}, video lasts {duration}"
    );

    let mut sheets: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for cue in &cues {
        assert!(
            cue.url.starts_with(&format!("{base}storyboard/sprite_")),
            "{cue:?}"
        );
        let [x, y, w, h] = cue.xywh;
        assert_eq!(w, 160, "{cue:?}");
        let bbox = sheets.entry(cue.url.as_str()).or_default();
        *bbox = (bbox.0.max(x + w), bbox.1.max(y + h));
    }
    for (url, bbox) in sheets {
        let resp = app.api.anonymous_get(url).await;
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.headers()["content-type"], "image/jpeg");
        assert_eq!(jpeg_size(resp.body_bytes()), bbox, "{url}");
    }
    cues
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transcoded_video_has_a_storyboard_signed_under_its_session() {
    let app = TestApp::init().fast_transcodes().app().await;
    let Cast {
        creator,
        learner,
        course,
        ..
    } = app.cast().await;
    let video = app.ready_video_of(&creator, &course, 7).await.id;
    let duration = app.api.video(&video, &creator.token).await["duration_seconds"]
        .as_f64()
        .unwrap();

    let mine = start(&app, &learner.token, &video).await;
    let cues = check_storyboard(&app, &mine, duration).await;
    // 7 s at one thumbnail every 2 s: 0, 2, 4 and 6 s.
    assert_eq!(cues.len(), 4, "{cues:?}");
    let sid = mine["session_id"].as_str().unwrap();
    let vtt_url = mine["storyboard_url"].as_str().unwrap();
    let (base, _) = split_token(vtt_url);
    let files: Vec<String> = [vtt_url, cues[0].url.as_str()]
        .iter()
        .map(|u| u.strip_prefix(&base).unwrap().to_string())
        .collect();

    // Without a token, a forged one, or another session's: refused.
    let theirs = start(&app, &creator.token, &video).await;
    let (_, their_token) = split_token(theirs["storyboard_url"].as_str().unwrap());
    for file in &files {
        let missing = format!("/hls/{sid}/{file}");
        assert_eq!(
            app.api.anonymous_get(&missing).await.status(),
            404,
            "{missing}"
        );
        for token in ["1.0.x", their_token.as_str()] {
            let forged = format!("/hls/{sid}/{token}/{file}");
            assert_error(app.api.anonymous_get(&forged).await, 403, "bad_signature").await;
        }
    }
    // Under the session, only the storyboard's own files exist.
    for name in ["poster.jpg", "index.m3u8", "sprite_x.jpg", "sprite_999.jpg"] {
        let url = format!("{base}storyboard/{name}");
        assert_error(app.api.anonymous_get(&url).await, 404, "not_found").await;
    }
    // Read and checked once per process: with the stored VTT gone, the
    // session is still sent the same bytes.
    let served = app.api.anonymous_get(vtt_url).await.bytes().await.unwrap();
    let stored = ObjectKey::new(format!("videos/{video}/hls/storyboard/storyboard.vtt")).unwrap();
    app.at_rest().await.store.delete(&stored).await.unwrap();
    let again = app.api.anonymous_get(vtt_url).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.bytes().await.unwrap(), served);
    // An ended session serves nothing, its storyboard included.
    let stop = app
        .api
        .delete(&format!("/api/v1/playback/{sid}"), &learner.token)
        .await;
    assert_eq!(stop.status(), 204);
    for url in [vtt_url, &cues[0].url] {
        assert_error(app.api.anonymous_get(url).await, 403, "session_ended").await;
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backfill_recreates_a_missing_storyboard_and_is_idempotent() {
    let app = TestApp::init().fast_transcodes().app().await;
    let Cast {
        creator,
        learner,
        course,
        ..
    } = app.cast().await;
    let video = app.ready_video_of(&creator, &course, 5).await.id;
    let duration = app.api.video(&video, &creator.token).await["duration_seconds"]
        .as_f64()
        .unwrap();
    // A video transcoded before storyboards: none in storage.
    let at_rest = app.at_rest().await;
    let prefix = format!("videos/{video}/hls/storyboard/");
    let removed = at_rest
        .store
        .delete_prefix(&ObjectPrefix::new(prefix.clone()).unwrap())
        .await
        .unwrap();
    assert!(removed >= 2, "a sheet and the VTT, got {removed}");
    let before = start(&app, &learner.token, &video).await;
    assert_eq!(before["storyboard_url"], Value::Null, "{before}");
    let segments_before = at_rest.object_keys(&format!("videos/{video}/hls/")).await;

    let backfill = |args: &[&str]| {
        let mut all = vec!["backfill-storyboards"];
        all.extend_from_slice(args);
        app.server().admin_command(&all).output().unwrap()
    };
    // A segment that does not decrypt: a clear failure, and nothing kept.
    let segment = segments_before
        .iter()
        .find(|k| k.ends_with(".ts"))
        .unwrap()
        .clone();
    let good = at_rest.object(&segment).await;
    let put = |bytes: Vec<u8>| {
        let key = ObjectKey::new(segment.clone()).unwrap();
        let store = &at_rest.store;
        async move { store.put(&key, bytes_stream(bytes)).await.unwrap() }
    };
    // Not a whole number of AES blocks: it cannot decrypt.
    put(vec![7u8; 1000]).await;
    let broken = backfill(&[]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stdout(&broken).contains(&format!("{video} failed: "))
            && stdout(&broken).contains("does not decrypt"),
        "{}",
        stdout(&broken)
    );
    assert!(at_rest.object_keys(&prefix).await.is_empty());
    put(good).await;

    let out = backfill(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains(&format!("{video} made from 144p")),
        "{}",
        stdout(&out)
    );
    let after = start(&app, &learner.token, &video).await;
    let cues = check_storyboard(&app, &after, duration).await;
    assert_eq!(cues.len(), 3, "{cues:?}");
    // Only the storyboard was added; nothing else of the video changed.
    let mut added = at_rest.object_keys(&format!("videos/{video}/hls/")).await;
    added.retain(|k| !segments_before.contains(k));
    assert!(added.iter().all(|k| k.starts_with(&prefix)), "{added:?}");
    assert!(
        added.contains(&format!("{prefix}storyboard.vtt")),
        "{added:?}"
    );

    // Again: nothing to do. For one video, by id, too.
    let again = backfill(&["--video", &video]);
    assert!(again.status.success());
    assert_eq!(stdout(&again).trim(), format!("{video} already had one"));

    // A video that is not there, or not ready, is a clear error.
    let missing = backfill(&["--video", "nope"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no video nope"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    let unfinished = app.api.new_upload(&creator.token, &course, 1000).await;
    let id = common::api::upload_id(&unfinished);
    let not_ready = backfill(&["--video", &id]);
    assert_eq!(not_ready.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&not_ready.stderr).contains("not ready"),
        "{}",
        String::from_utf8_lossy(&not_ready.stderr)
    );
}
