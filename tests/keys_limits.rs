//! Key request limits against the real server: pacing (distinct keys no
//! faster than playback needs them) and a per-session request rate.

mod common;

use common::{assert_error, TestApp};
use reqwest::header::CACHE_CONTROL;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_pacing_answers_429_with_retry_after_and_flags_the_audit() {
    let app = TestApp::init()
        .flag("--transcode-rungs", 144)
        .flag("--segment-seconds", 10)
        .flag("--rotate-every", 1)
        .flag("--x264-preset", "ultrafast")
        .flag("--key-pacing-allowance-secs", 15)
        .flag("--key-pacing-speedup", 2)
        .app()
        .await;
    let api = &app.api;
    let c = app.cast().await;
    // 30 s, 3 keys: a 10 s crypto period; 15 s of media up front is two keys,
    // then the allowance grows by 2 s of media per second.
    let video = app.ready_video_of(&c.creator, &c.course, 30).await.id;
    let playback = app.playback(&c.learner, &video).await;
    let keys = common::hls::key_ids(&app.segments(&playback).await);
    assert_eq!(keys.len(), 3, "{keys:?}");
    let duration = api.video(&video, &c.learner.token).await["duration_seconds"]
        .as_f64()
        .unwrap();
    let refill_secs = (duration / 3.0 / 2.0).ceil() as u64;
    let url = |i: usize| app.key_url(&playback.session_id, &keys[i]);
    assert_eq!(api.key(&url(0), Some(&c.learner.token)).await.status(), 200);
    assert_eq!(api.key(&url(1), Some(&c.learner.token)).await.status(), 200);
    let resp = api.key(&url(2), Some(&c.learner.token)).await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // 20 s taken, 15 s allowed: about 3 s away, at most half a period.
    assert!(
        (1..=refill_secs).contains(&retry),
        "{retry} vs {refill_secs}"
    );
    assert_error(resp, 429, "key_pacing").await;
    // Keys already granted stay available (players re-fetch them).
    assert_eq!(api.key(&url(0), Some(&c.learner.token)).await.status(), 200);
    let audit = api.audit(&c.admin.token, 10).await;
    let paced = audit.iter().find(|e| e["reason"] == "key_pacing").unwrap();
    assert_eq!(
        (paced["pacing"].as_bool(), paced["outcome"].as_str()),
        (Some(true), Some("denied"))
    );
    // The three grants (two keys, one re-fetch) are not pacing denials.
    let grants: Vec<_> = audit
        .iter()
        .filter(|e| e["action"] == "key" && e["outcome"] == "granted")
        .collect();
    assert_eq!(grants.len(), 3, "{audit:?}");
    assert!(grants.iter().all(|e| e["pacing"] == false), "{grants:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_sessions_bring_no_fresh_keys_and_session_starts_are_limited() {
    let app = TestApp::init()
        .flag("--transcode-rungs", 144)
        .flag("--segment-seconds", 10)
        .flag("--rotate-every", 1)
        .flag("--x264-preset", "ultrafast")
        .flag("--key-pacing-allowance-secs", 15)
        .flag("--playback-starts-per-minute", 3)
        .app()
        .await;
    let api = &app.api;
    let c = app.cast().await;
    let video = app.ready_video_of(&c.creator, &c.course, 30).await.id;
    let first = app.playback(&c.learner, &video).await;
    let keys = common::hls::key_ids(&app.segments(&first).await);
    assert_eq!(keys.len(), 3, "{keys:?}");
    let token = c.learner.token.clone();
    let key = |session: &str, i: usize| {
        let (url, token) = (app.key_url(session, &keys[i]), token.clone());
        async move { api.key(&url, Some(&token)).await }
    };
    assert_eq!(key(&first.session_id, 0).await.status(), 200);
    assert_eq!(key(&first.session_id, 1).await.status(), 200);
    assert_error(key(&first.session_id, 2).await, 429, "key_pacing").await;
    // A new session of the same user for the same video starts where the old
    // one stood: what it had is a repeat, what it was refused still is.
    let second = app.playback(&c.learner, &video).await;
    assert_eq!(key(&second.session_id, 0).await.status(), 200);
    let resp = key(&second.session_id, 2).await;
    assert!(resp.headers().contains_key("retry-after"));
    assert_error(resp, 429, "key_pacing").await;

    // Three starts a minute: the fourth is refused with a code and a wait.
    app.playback(&c.learner, &video).await;
    let path = format!("/api/v1/videos/{video}/playback");
    let resp = api
        .post(&path, &c.learner.token, serde_json::json!({}))
        .await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "Retry-After {retry}");
    assert_error(resp, 429, "too_many_sessions").await;
    // Per user: the creator still starts one.
    app.playback(&c.creator, &video).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_requests_are_rate_limited_per_session() {
    let app = TestApp::init()
        .fast_transcodes()
        .flag("--key-requests-per-second", 1)
        .app()
        .await;
    let api = &app.api;
    let c = app.cast().await;
    let video = app.ready_video(&c.creator, &c.course).await.id;
    let playback = app.playback(&c.learner, &video).await;
    let session = playback.session_id.clone();
    let other = app.playback(&c.learner, &video).await.session_id;
    let keys = common::hls::key_ids(&app.segments(&playback).await);
    let url = app.key_url(&session, &keys[0]);
    // Unsigned requests naming the session do not drain its bucket.
    let unsigned = format!("/keys/{session}/{}", keys[0]);
    for _ in 0..6 {
        assert_error(
            api.key(&unsigned, Some(&c.learner.token)).await,
            403,
            "bad_signature",
        )
        .await;
    }
    // Burst of 4 (1/s × 4), then 429 with Retry-After.
    for _ in 0..4 {
        assert_eq!(api.key(&url, Some(&c.learner.token)).await.status(), 200);
    }
    let resp = api.key(&url, Some(&c.learner.token)).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    assert_error(resp, 429, "rate_limited").await;
    // Other sessions are not affected.
    let other_url = app.key_url(&other, &keys[0]);
    assert_eq!(
        api.key(&other_url, Some(&c.learner.token)).await.status(),
        200
    );
    let audit = api.audit(&c.admin.token, 5).await;
    assert!(audit
        .iter()
        .any(|e| e["reason"] == "rate_limited" && e["session_id"] == session.as_str()));
}
