//! Captions against the real server: adding WebVTT and SRT tracks to a
//! ready video, listing, replacing and deleting them, every bad input
//! refused with nothing stored, and a session's playlists carrying them as a
//! signed `SUBTITLES` group that the ffmpeg CLI reads.

mod common;

use std::process::Command;

use common::{assert_error, hls, AtRest, Cast, Login, Response, TestApp};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::Value;

const VTT: &str = "WEBVTT\n\nhello\n00:00:00.200 --> 00:00:00.800\nHello from sealcast\n\n\
00:00:00.500 --> 00:00:01.500 align:start\nAcross a boundary\n\n00:00:02.100 --> 00:00:02.900\nThe <i>end</i>\n";
const SRT: &str = "1\r\n00:00:00,300 --> 00:00:01,200\r\nOlá do sealcast\r\n\r\n2\r\n00:00:02,000 --> 00:00:02,500\r\nTchau\r\n";

async fn put(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Response {
    let mut request = app
        .api
        .http
        .put(app.url(path))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(body);
    if let Some(ct) = content_type {
        request = request.header(CONTENT_TYPE, ct);
    }
    app.api.send(request).await
}

async fn tracks(app: &TestApp, token: &str, video: &str) -> Vec<(String, String, i64)> {
    let list = app
        .api
        .get_json(&format!("/api/v1/videos/{video}/captions"), token)
        .await;
    list["captions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["lang"].as_str().unwrap().to_string(),
                t["label"].as_str().unwrap().to_string(),
                t["cue_count"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A refused PUT: who, path, content type, body, status, code, and what
/// the message names.
type Refused<'a> = (
    &'a Login,
    &'a str,
    Option<&'a str>,
    String,
    u16,
    &'a str,
    &'a str,
);

/// Objects under the video's captions prefix.
async fn stored(at_rest: &AtRest, video: &str) -> Vec<String> {
    at_rest
        .object_keys(&format!("videos/{video}/captions/"))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracks_are_added_listed_replaced_and_deleted_and_bad_input_stores_nothing() {
    let app = TestApp::init().fast_transcodes().app().await;
    let Cast {
        admin,
        creator,
        learner,
        stranger,
        course,
    } = app.cast().await;
    let video = app.ready_video(&creator, &course).await.id;
    let at_rest = app.at_rest().await;
    let en = format!("/api/v1/videos/{video}/captions/en?label=English");

    let resp = put(&app, &creator.token, &en, Some("text/vtt"), VTT).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        (body["lang"].as_str(), body["label"].as_str()),
        (Some("en"), Some("English"))
    );
    assert_eq!(body["cue_count"], 3);
    // SRT, converted; the tag comes back in its normalized case.
    let pt = format!("/api/v1/videos/{video}/captions/pt-br?label=Portugu%C3%AAs");
    let resp = put(
        &app,
        &admin.token,
        &pt,
        Some("application/x-subrip; charset=utf-8"),
        SRT,
    )
    .await;
    assert_eq!(resp.status(), 201);
    let expected = vec![
        ("en".to_string(), "English".to_string(), 3),
        ("pt-BR".to_string(), "Português".to_string(), 2),
    ];
    assert_eq!(tracks(&app, &creator.token, &video).await, expected);
    // Learners of the course may list them; nobody else learns of them.
    assert_eq!(tracks(&app, &learner.token, &video).await, expected);
    let list = format!("/api/v1/videos/{video}/captions");
    assert_error(app.api.get(&list, &stranger.token).await, 404, "not_found").await;
    let objects = stored(&at_rest, &video).await;
    assert_eq!(objects.len(), 2, "{objects:?}");
    let srt_object = objects.iter().find(|k| k.contains("/pt-BR/")).unwrap();
    let converted = String::from_utf8(at_rest.object(srt_object).await).unwrap();
    assert!(
        converted.starts_with("WEBVTT\n")
            && converted.contains("00:00:00.300 --> 00:00:01.200\nOlá do sealcast\n"),
        "{converted}"
    );

    // Every bad request is refused with its reason, and nothing changes.
    let mut huge = String::from("WEBVTT\n\n");
    while huge.len() <= 2 * 1024 * 1024 {
        huge.push_str("00:00:01.000 --> 00:00:02.000\nsome words to fill the file\n\n");
    }
    // Far more than the socket buffers hold: the 413 reaches a client that
    // is still writing (the server reads the rest before answering).
    let huger = huge.repeat(3);
    let (vtt, srt) = (Some("text/vtt"), Some("application/x-subrip"));
    let bad_tag = format!("/api/v1/videos/{video}/captions/en_US");
    let bad_label = format!("/api/v1/videos/{video}/captions/de?label=%22x%22");
    let unknown = "/api/v1/videos/0123456789abcdef0123456789abcdef/captions/en";
    let cases: Vec<Refused> = vec![
        (&creator, &en, vtt, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfine\n\n00:00:03.000 --> 00:00:0x.000\nbroken\n".into(), 400, "invalid_captions", "line 6"),
        (&creator, &en, srt, "1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:05,000 --> 00:00:04,000\nback\n".into(), 400, "invalid_captions", "line 6"),
        (&creator, &en, vtt, "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nok\n\nno timing here\nat all\n".into(), 400, "invalid_captions", "line 6"),
        (&creator, &en, vtt, "WEBVTT\n".into(), 400, "invalid_captions", "no cues"),
        (&creator, &en, vtt, huge, 413, "payload_too_large", "2 MiB"),
        (&creator, &en, vtt, huger, 413, "payload_too_large", "2 MiB"),
        (&creator, &en, Some("application/json"), VTT.into(), 415, "unsupported_media_type", "text/vtt"),
        (&creator, &en, Some("text/plain"), VTT.into(), 415, "unsupported_media_type", "text/vtt"),
        (&creator, &en, Some("text/vtt; charset=latin1"), VTT.into(), 415, "unsupported_media_type", "UTF-8"),
        (&creator, &en, None, VTT.into(), 415, "unsupported_media_type", "text/vtt"),
        (&creator, &bad_tag, vtt, VTT.into(), 400, "bad_request", "BCP 47"),
        (&creator, &bad_label, vtt, VTT.into(), 400, "bad_request", "quotes"),
        (&learner, &en, vtt, VTT.into(), 403, "forbidden", "owner"),
        (&stranger, &en, vtt, VTT.into(), 404, "not_found", "video"),
        (&creator, unknown, vtt, VTT.into(), 404, "not_found", "video"),
    ];
    for (who, path, content_type, body, status, code, names) in cases {
        let err = assert_error(
            put(&app, &who.token, path, content_type, body).await,
            status,
            code,
        )
        .await;
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(names),
            "{path} {content_type:?}: {message}"
        );
    }
    assert_error(
        app.api
            .delete(
                &format!("/api/v1/videos/{video}/captions/en"),
                &learner.token,
            )
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(tracks(&app, &creator.token, &video).await, expected);
    assert_eq!(
        stored(&at_rest, &video).await,
        objects,
        "nothing stored by a refused request"
    );

    // Replacing a track keeps one object, the new one.
    let replacement = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nReplaced\n";
    let resp = put(
        &app,
        &creator.token,
        &format!("/api/v1/videos/{video}/captions/EN?label=English"),
        Some("text/vtt"),
        replacement,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let now = tracks(&app, &creator.token, &video).await;
    assert_eq!(now[0], ("en".to_string(), "English".to_string(), 1));
    let objects = stored(&at_rest, &video).await;
    assert_eq!(objects.len(), 2, "the old revision is gone: {objects:?}");
    let en_object = objects.iter().find(|k| k.contains("/en/")).unwrap();
    assert!(String::from_utf8(at_rest.object(en_object).await)
        .unwrap()
        .contains("Replaced"));

    // Deleting one leaves the other; a second delete finds nothing.
    let del = format!("/api/v1/videos/{video}/captions/pt-BR");
    assert_eq!(app.api.delete(&del, &creator.token).await.status(), 204);
    assert_error(app.api.delete(&del, &creator.token).await, 404, "not_found").await;
    assert_eq!(tracks(&app, &creator.token, &video).await.len(), 1);
    assert_eq!(stored(&at_rest, &video).await.len(), 1);

    // Deleting the video takes its captions along.
    assert_eq!(
        app.api
            .delete(&format!("/api/v1/videos/{video}"), &creator.token)
            .await
            .status(),
        204
    );
    assert_eq!(
        at_rest
            .count("SELECT COUNT(*) FROM captions WHERE video_id = $1", &video)
            .await,
        0
    );
    assert!(stored(&at_rest, &video).await.is_empty());
}

/// Every URI of a playlist: URI lines and `URI="…"` values.
fn uris(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if !line.starts_with('#') {
            out.push(line.to_string());
        }
        for (at, _) in line.match_indices("URI=\"") {
            let rest = &line[at + 5..];
            out.push(rest[..rest.find('"').unwrap()].to_string());
        }
    }
    out
}

/// Every URI of a master or subtitle playlist is a relative name, which the
/// player resolves under the session's signed path.
fn assert_relative(text: &str) {
    assert!(!text.contains("://"), "{text}");
    for uri in uris(text) {
        let plain = !uri.starts_with('/') && !uri.contains("..") && !uri.contains('?');
        assert!(plain, "not a relative name: {uri}\n{text}");
    }
}

/// The first video stream's start (seconds) through the session's signed
/// variant URL, as ffprobe reads it.
fn first_video_pts_90k(url: &str, token: &str) -> i64 {
    let out = Command::new("ffprobe")
        .args(["-hide_banner", "-loglevel", "error"])
        .args(["-headers", &format!("Authorization: Bearer {token}\r\n")])
        .args([
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=start_time",
            "-of",
            "csv=p=0",
        ])
        .arg(url)
        .output()
        .expect("the ffprobe CLI is required by the tests");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // One line per program and per stream; the first names the stream's start.
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let seconds: f64 = first
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ffprobe said {text:?}"));
    (seconds * 90_000.0).round() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_serves_captions_as_signed_webvtt_segments_that_ffmpeg_reads() {
    let app = TestApp::init().fast_transcodes().app().await;
    let Cast {
        creator,
        learner,
        course,
        ..
    } = app.cast().await;
    // 1 s segments: a 3 s video has three.
    let video = app.ready_video(&creator, &course).await.id;
    let path = format!("/api/v1/videos/{video}/captions/en?label=English");
    assert_eq!(
        put(&app, &creator.token, &path, Some("text/vtt"), VTT)
            .await
            .status(),
        201
    );
    let srt = format!("/api/v1/videos/{video}/captions/pt-BR?label=Portugu%C3%AAs");
    assert_eq!(
        put(
            &app,
            &creator.token,
            &srt,
            Some("application/x-subrip"),
            SRT
        )
        .await
        .status(),
        201
    );
    let viewer = learner;
    let session = app.playback(&viewer, &video).await;

    let master_text = app
        .api
        .anonymous_get(&session.master_url)
        .await
        .text()
        .await
        .unwrap();
    assert_relative(&master_text);
    let master = hls::master(&master_text);
    let subs: Vec<_> = master
        .alternatives
        .iter()
        .filter(|m| m.media_type == m3u8_rs::AlternativeMediaType::Subtitles)
        .collect();
    let names: Vec<_> = subs
        .iter()
        .map(|m| {
            (
                m.language.clone().unwrap(),
                m.name.clone(),
                m.group_id.clone(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("en".to_string(), "English".to_string(), "subs".to_string()),
            (
                "pt-BR".to_string(),
                "Português".to_string(),
                "subs".to_string()
            )
        ]
    );
    assert!(
        master
            .variants
            .iter()
            .all(|v| v.subtitles.as_deref() == Some("subs")),
        "{master_text}"
    );

    // The subtitle playlist mirrors the video's segments, every URI relative.
    let variant_url = hls::resolve(&session.master_url, &master.variants[0].uri);
    let variant_text = app
        .api
        .anonymous_get(&variant_url)
        .await
        .text()
        .await
        .unwrap();
    let variant = hls::media(&variant_text);
    let subs_url = hls::resolve(&session.master_url, subs[0].uri.as_ref().unwrap());
    let resp = app.api.anonymous_get(&subs_url).await;
    assert_eq!(resp.status(), 200);
    let subs_text = resp.text().await.unwrap();
    assert_relative(&subs_text);
    let subs_playlist = hls::media(&subs_text);
    let durations =
        |p: &m3u8_rs::MediaPlaylist| p.segments.iter().map(|s| s.duration).collect::<Vec<_>>();
    assert_eq!(durations(&subs_playlist), durations(&variant));
    assert!(subs_playlist.segments.len() >= 3, "{subs_text}");

    // Each segment maps local time zero onto the video's first PTS.
    let video_pts = first_video_pts_90k(&app.url(&variant_url), &viewer.token);
    let mut texts = Vec::new();
    for segment in &subs_playlist.segments {
        let url = hls::resolve(&subs_url, &segment.uri);
        let resp = app.api.anonymous_get(&url).await;
        assert_eq!(resp.status(), 200, "{url}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/vtt"));
        let text = resp.text().await.unwrap();
        let map = text.lines().nth(1).unwrap();
        let pts: i64 = map
            .strip_prefix("X-TIMESTAMP-MAP=MPEGTS:")
            .and_then(|r| r.strip_suffix(",LOCAL:00:00:00.000"))
            .unwrap_or_else(|| panic!("{text}"))
            .parse()
            .unwrap();
        // Within one frame (25 fps) of what ffprobe reads from the video.
        assert!(
            (pts - video_pts).abs() < 3600,
            "map {pts} vs video {video_pts}"
        );
        texts.push(text);
    }
    assert!(texts[0].contains("Hello from sealcast") && !texts[1].contains("Hello from sealcast"));
    assert!(texts[0].contains("Across a boundary") && texts[1].contains("Across a boundary"));
    assert!(texts[2].contains("The <i>end</i>") && !texts[2].contains("Across a boundary"));

    // Outside a live session, or with a bad signature, nothing is served.
    let segment_url = hls::resolve(&subs_url, &subs_playlist.segments[0].uri);
    let (_, token) = hls::split_token(&segment_url);
    let flipped = if token.ends_with('A') { 'B' } else { 'A' };
    let forged = segment_url.replace(&token, &format!("{}{flipped}", &token[..token.len() - 1]));
    assert_error(app.api.anonymous_get(&forged).await, 403, "bad_signature").await;
    let missing = subs_url.replace("/subs/en/", "/subs/fr/");
    assert_eq!(app.api.anonymous_get(&missing).await.status(), 404);

    // The ffmpeg CLI, an independent player, reads the subtitle stream
    // from the signed master URL (its HLS demuxer reads subtitle renditions
    // only when told experimental features are fine).
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error"])
        .args([
            "-headers",
            &format!("Authorization: Bearer {}\r\n", viewer.token),
        ])
        .args(["-strict", "experimental"])
        .args(["-i", &app.url(&session.master_url)])
        .args(["-map", "0:s:0", "-f", "webvtt", "-"])
        .output()
        .expect("the ffmpeg CLI is required by the tests");
    let cues = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        cues.contains("Hello from sealcast") && cues.contains("The <i>end</i>"),
        "{cues}"
    );

    // A track added now shows in the next session's master, not re-transcoded.
    assert_eq!(
        app.api
            .delete(
                &format!("/api/v1/videos/{video}/captions/pt-BR"),
                &creator.token
            )
            .await
            .status(),
        204
    );
    let session = app.playback(&viewer, &video).await;
    let text = app
        .api
        .anonymous_get(&session.master_url)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text.matches("TYPE=SUBTITLES").count(), 1, "{text}");
    assert!(!text.contains("pt-BR"), "{text}");
}

#[tokio::test]
async fn the_openapi_document_lists_the_caption_routes() {
    let app = TestApp::in_process(sealcast::config::ServeArgs::default()).await;
    let doc: Value = app
        .api
        .anonymous_get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    for (path, method) in [
        ("/api/v1/videos/{id}/captions", "get"),
        ("/api/v1/videos/{id}/captions/{lang}", "put"),
        ("/api/v1/videos/{id}/captions/{lang}", "delete"),
        ("/hls/{session_id}/{token}/subs/{lang}/{file}", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["schemas"]["CaptionTrack"].is_object());
}
