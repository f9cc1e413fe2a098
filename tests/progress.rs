//! Resume and server-verified progress against the real server: credit only
//! for segments the session was sent, refused reports store nothing, the
//! course report for its owner (JSON and CSV), and `progress.completed`
//! delivered once, verified with the `standardwebhooks` package.

mod common;

use std::time::Duration;

use common::webhooks::{install_verifier, verified, Receiver};
use common::{assert_error, eventually, Api, Login, Playback, TestApp};
use serde_json::{json, Value};

/// A 10 s clip: with fast transcodes, ten 1 s segments in one rendition.
const SECONDS: u32 = 10;

async fn app() -> TestApp {
    TestApp::init()
        .fast_transcodes()
        .arg("--webhook-allow-private")
        .flag("--webhook-retry-base-ms", 200)
        .app()
        .await
}

/// Fetches the first `n` segments of the session, as a player would.
async fn fetch_segments(app: &TestApp, session: &Playback, n: usize) -> usize {
    let segments = app.segments(session).await;
    for segment in segments.iter().take(n) {
        let resp = app.api.anonymous_get(&segment.segment_uri).await;
        assert_eq!(resp.status(), 200, "{}", segment.segment_uri);
    }
    segments.len()
}

async fn beat(
    api: &Api,
    who: &Login,
    session: &str,
    position: f64,
    playing: bool,
) -> common::Response {
    api.post(
        &format!("/api/v1/playback/{session}/progress"),
        &who.token,
        json!({ "position_seconds": position, "playing": playing }),
    )
    .await
}

/// Reports 0, 2, 4, … up to `end` while playing, then a pause at `end`.
async fn play_through(api: &Api, who: &Login, session: &str, end: f64) -> Value {
    let mut at = 0.0;
    while at < end {
        let resp = beat(api, who, session, at, true).await;
        assert_eq!(resp.status(), 200);
        at += 2.0;
    }
    let resp = beat(api, who, session, end, false).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn progress(api: &Api, who: &Login, video: &str) -> Value {
    api.get_json(&format!("/api/v1/videos/{video}/progress"), &who.token)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_comes_only_from_segments_the_session_was_sent() {
    let app = app().await;
    let api = &app.api;
    let cast = app.cast().await;
    let video = app
        .ready_video_of(&cast.creator, &cast.course, SECONDS)
        .await
        .id;
    let duration = progress(api, &cast.learner, &video).await["duration_seconds"]
        .as_f64()
        .unwrap();
    assert!((9.5..=10.5).contains(&duration), "{duration}");

    // Before any report: nothing.
    let before = progress(api, &cast.learner, &video).await;
    assert_eq!(before["watched_seconds"], 0.0);
    assert_eq!(before["position_seconds"], 0.0);
    assert_eq!(before["completed"], false);
    assert!(before["last_watched_at"].is_null());

    // A learner who fetches every segment and reports while playing.
    let honest = app.playback(&cast.learner, &video).await;
    let count = fetch_segments(&app, &honest, usize::MAX).await;
    assert!(count >= 9, "{count} segments");
    let done = play_through(api, &cast.learner, &honest.session_id, duration).await;
    assert_eq!(done, progress(api, &cast.learner, &video).await);
    let watched = done["watched_seconds"].as_f64().unwrap();
    assert!(watched >= 0.9 * duration, "{done}");
    assert_eq!(done["completed"], true, "{done}");
    assert_eq!(done["position_seconds"].as_f64().unwrap(), duration);
    let ranges = done["watched_ranges"].as_array().unwrap();
    assert_eq!(ranges.len(), 1, "{done}");
    assert_eq!(ranges[0][0], 0.0);

    // A second learner claims the whole video without fetching a segment.
    let claimer = app.learner_in(&cast.course).await;
    let session = app.playback(&claimer, &video).await;
    let claimed = play_through(api, &claimer, &session.session_id, duration).await;
    assert_eq!(claimed["watched_seconds"], 0.0, "{claimed}");
    assert_eq!(claimed["completed"], false);
    assert!(claimed["watched_ranges"].as_array().unwrap().is_empty());
    // The resume position is kept even so.
    assert_eq!(claimed["position_seconds"].as_f64().unwrap(), duration);

    // A third fetches the first four segments and claims all ten seconds.
    let partial = app.learner_in(&cast.course).await;
    let session = app.playback(&partial, &video).await;
    fetch_segments(&app, &session, 4).await;
    let got = play_through(api, &partial, &session.session_id, duration).await;
    let watched = got["watched_seconds"].as_f64().unwrap();
    assert!((3.5..=4.5).contains(&watched), "{got}");
    assert_eq!(got["completed"], false);

    // Reports far apart: a forward step within the limit is a range, a
    // backwards one is a seek, and after a pause report nothing is credited.
    let jumper = app.learner_in(&cast.course).await;
    let session = app.playback(&jumper, &video).await;
    fetch_segments(&app, &session, usize::MAX).await;
    assert_eq!(
        beat(api, &jumper, &session.session_id, 0.0, true)
            .await
            .status(),
        200
    );
    let resp = beat(api, &jumper, &session.session_id, 9.0, true).await;
    let body: Value = resp.json().await.unwrap();
    assert!(body["watched_seconds"].as_f64().unwrap() >= 8.5, "{body}");
    let resp = beat(api, &jumper, &session.session_id, 1.0, false).await;
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["watched_seconds"], body["watched_seconds"]);
    let resp = beat(api, &jumper, &session.session_id, 3.0, true).await;
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["watched_seconds"], body["watched_seconds"]);
    assert_eq!(after["position_seconds"], 3.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_reports_store_nothing() {
    let app = app().await;
    let api = &app.api;
    let cast = app.cast().await;
    let video = app
        .ready_video_of(&cast.creator, &cast.course, SECONDS)
        .await
        .id;
    let other = app.learner_in(&cast.course).await;
    let theirs = app.playback(&other, &video).await;
    fetch_segments(&app, &theirs, usize::MAX).await;
    let untouched = progress(api, &other, &video).await;
    let duration = untouched["duration_seconds"].as_f64().unwrap();

    // Someone else's session: 403, nothing stored for its owner or the caller.
    let resp = beat(api, &cast.learner, &theirs.session_id, 2.0, true).await;
    assert_error(resp, 403, "forbidden").await;
    assert_eq!(progress(api, &other, &video).await, untouched);
    assert!(progress(api, &cast.learner, &video).await["last_watched_at"].is_null());
    // A session that does not exist.
    let resp = beat(
        api,
        &cast.learner,
        "0123456789abcdef0123456789abcdef",
        2.0,
        true,
    )
    .await;
    assert_error(resp, 404, "not_found").await;
    // No token.
    let resp = api
        .send(
            api.http
                .post(api.url(&format!("/api/v1/playback/{}/progress", theirs.session_id)))
                .json(&json!({ "position_seconds": 1.0, "playing": true })),
        )
        .await;
    assert_eq!(resp.status(), 401);

    let mine = app.playback(&cast.learner, &video).await;
    let path = format!("/api/v1/playback/{}/progress", mine.session_id);
    for bad in [
        json!({ "position_seconds": "3", "playing": true }),
        json!({ "position_seconds": 3.0 }),
        json!({ "position_seconds": 3.0, "playing": true, "watched_seconds": 10 }),
        json!([1, 2]),
    ] {
        assert_error(
            api.post(&path, &cast.learner.token, bad).await,
            400,
            "invalid_json",
        )
        .await;
    }
    let huge = api
        .send(
            api.http
                .post(api.url(&path))
                .bearer_auth(&cast.learner.token)
                .header("content-type", "application/json")
                .body(format!(
                    "{{\"position_seconds\":1,\"playing\":true,\"x\":\"{}\"}}",
                    "a".repeat(8192)
                )),
        )
        .await;
    assert_error(huge, 413, "payload_too_large").await;
    // Far beyond the duration, or negative: a clear error, nothing stored.
    for position in [1_000_000.0, duration + 1.5, -1.0] {
        let body = assert_error(
            beat(api, &cast.learner, &mine.session_id, position, true).await,
            400,
            "bad_request",
        )
        .await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("position_seconds"),
            "{body}"
        );
    }
    assert!(progress(api, &cast.learner, &video).await["last_watched_at"].is_null());

    // A little past the end (a player's rounding) is clamped to the end.
    let resp = beat(api, &cast.learner, &mine.session_id, duration + 0.5, false).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["position_seconds"].as_f64().unwrap(), duration);
    assert_eq!(body["watched_seconds"], 0.0);

    // Progress of a video the caller cannot see: 404.
    assert_error(
        api.get(
            &format!("/api/v1/videos/{video}/progress"),
            &cast.stranger.token,
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_course_report_is_for_its_owner_and_completion_is_announced_once() {
    install_verifier().await;
    let receiver = Receiver::start().await;
    let app = app().await;
    let (api, admin) = (&app.api, &app.admin);
    let resp = api
        .post(
            "/api/v1/admin/webhooks",
            &admin.token,
            json!({ "url": receiver.url("progress"), "events": ["progress.completed"] }),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let endpoint: Value = resp.json().await.unwrap();
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    let endpoint = endpoint["id"].as_str().unwrap().to_string();

    let cast = app.cast().await;
    let video = app
        .ready_video_of(&cast.creator, &cast.course, SECONDS)
        .await
        .id;
    let duration = progress(api, &cast.learner, &video).await["duration_seconds"]
        .as_f64()
        .unwrap();
    // Watched whole twice, in two sessions: completed once.
    for _ in 0..2 {
        let session = app.playback(&cast.learner, &video).await;
        fetch_segments(&app, &session, usize::MAX).await;
        let done = play_through(api, &cast.learner, &session.session_id, duration).await;
        assert_eq!(done["completed"], true);
    }
    let idle = app.learner_in(&cast.course).await;

    let deliveries_path = format!("/api/v1/admin/webhooks/{endpoint}/deliveries");
    let list = api.get_json(&deliveries_path, &admin.token).await;
    assert_eq!(list["deliveries"].as_array().unwrap().len(), 1, "{list}");
    eventually(
        Duration::from_secs(60),
        "progress.completed delivered",
        || async { (receiver.received("progress").len() == 1).then_some(()) },
    )
    .await;
    let got = receiver.received("progress");
    let payload = verified(&secret, &got[0]).await;
    assert_eq!(payload["type"], "progress.completed");
    assert_eq!(payload["data"]["user_id"], cast.learner.user_id.as_str());
    assert_eq!(payload["data"]["video_id"], video.as_str());
    assert_eq!(payload["data"]["course_id"], cast.course.as_str());

    // The report: owner and admin; learners 403; anyone else 404.
    let path = format!("/api/v1/courses/{}/progress", cast.course);
    for who in [&cast.creator, admin] {
        let report = api.get_json(&path, &who.token).await;
        assert_eq!(report["videos"][0]["id"], video.as_str());
        let learners = report["learners"].as_array().unwrap();
        assert_eq!(learners.len(), 2, "{report}");
        let watcher = learners
            .iter()
            .find(|l| l["user_id"] == cast.learner.user_id.as_str())
            .unwrap();
        assert_eq!(watcher["completed_videos"], 1);
        assert_eq!(watcher["completion"], 1.0);
        assert_eq!(watcher["videos"][0]["completed"], true);
        assert!(watcher["videos"][0]["last_watched_at"].is_i64());
        let other = learners
            .iter()
            .find(|l| l["user_id"] == idle.user_id.as_str())
            .unwrap();
        assert_eq!(other["completion"], 0.0);
        assert_eq!(other["videos"][0]["watched_seconds"], 0.0);
        assert!(other["videos"][0]["last_watched_at"].is_null());
    }
    assert_error(api.get(&path, &cast.learner.token).await, 403, "forbidden").await;
    assert_error(api.get(&path, &cast.stranger.token).await, 404, "not_found").await;
    assert_error(
        api.get(&format!("{path}?format=xml"), &cast.creator.token)
            .await,
        400,
        "bad_request",
    )
    .await;

    let resp = api
        .get(&format!("{path}?format=csv"), &cast.creator.token)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    let csv = resp.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "user_id,email,video_id,video_title,duration_seconds,watched_seconds,completed,last_watched_at"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    let row = lines
        .iter()
        .find(|l| l.starts_with(&cast.learner.user_id))
        .unwrap();
    let cells: Vec<&str> = row.split(',').collect();
    assert_eq!(cells[2], video);
    assert_eq!(cells[6], "true", "{row}");
    assert!(cells[7].ends_with('Z'), "{row}");
    assert_error(
        api.get(&format!("{path}?format=csv"), &cast.learner.token)
            .await,
        403,
        "forbidden",
    )
    .await;
}
