//! Playback sessions against the real server: who may start one on which
//! video, what a session records, the per-user limit, and ending one.

mod common;

use common::api::upload_id;
use common::{assert_error, Cast, TestApp};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_needs_a_ready_video_and_entitlement_and_is_limited_per_user() {
    let app = TestApp::init().fast_transcodes().app().await;
    let api = &app.api;
    let Cast {
        admin,
        creator,
        learner,
        stranger,
        course,
    } = app.cast().await;
    let video = app.ready_video(&creator, &course).await.id;
    let path = format!("/api/v1/videos/{video}/playback");

    assert_error(
        api.post(&path, &stranger.token, json!({})).await,
        403,
        "not_entitled",
    )
    .await;
    assert_error(
        api.post("/api/v1/videos/nope/playback", &learner.token, json!({}))
            .await,
        404,
        "not_found",
    )
    .await;
    // A video still uploading is not ready.
    let unfinished = api.new_upload(&creator.token, &course, 1000).await;
    assert_error(
        api.post(
            &format!("/api/v1/videos/{}/playback", upload_id(&unfinished)),
            &learner.token,
            json!({}),
        )
        .await,
        409,
        "video_not_ready",
    )
    .await;

    let resp = api
        .send(
            api.http
                .post(api.url(&path))
                .bearer_auth(&learner.token)
                .header("user-agent", "sealcast-test/1.0"),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    // One cookie per key path: `/hls/{session}/` (the playlists' key URIs)
    // and `/keys/{session}/`.
    let cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    let body: Value = resp.json().await.unwrap();
    let first = body["session_id"].as_str().unwrap().to_string();
    for (cookie, root) in cookies.iter().zip(["hls", "keys"]) {
        for attr in [
            format!("sealcast_ks_{first}="),
            "HttpOnly".into(),
            "SameSite=Strict".into(),
            format!("Path=/{root}/{first}/"),
        ] {
            assert!(cookie.contains(&attr), "{cookie}");
        }
    }
    let master = body["master_url"].as_str().unwrap();
    let (base, token) = common::hls::split_token(master);
    assert_eq!(master, format!("{base}master.m3u8"));
    assert_eq!(base, format!("/hls/{first}/{token}/"));
    assert!(
        sealcast_keyserver::SignedQuery::from_path_token(&token).is_some(),
        "{master}"
    );
    let now = sealcast::db::now_ms() / 1000;
    let expires = body["expires_at"].as_i64().unwrap();
    // 3 s of video + the default 30 min slack.
    assert!(
        (now + 1800..=now + 1805).contains(&expires),
        "{expires} vs {now}"
    );
    let owner = api.playback(&creator.token, &video).await;
    assert!(owner.cookie.starts_with("sealcast_ks_"));
    api.playback(&admin.token, &video).await;

    // The session records who, what, where from.
    let sessions: Value = api
        .get("/api/v1/admin/sessions", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let s = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == first.as_str())
        .unwrap()
        .clone();
    assert_eq!(s["user_id"], learner.user_id.as_str());
    assert_eq!(s["video_id"], video.as_str());
    assert_eq!(s["ip"], "127.0.0.1");
    assert_eq!(s["user_agent"], "sealcast-test/1.0");
    assert_eq!(s["video_title"], "Lecture 1");
    assert_error(
        api.get("/api/v1/admin/sessions", &learner.token).await,
        403,
        "forbidden",
    )
    .await;

    // Three live sessions per user: the fourth ends the oldest.
    // The first session's key URL, taken while it is live.
    let first_key = {
        let session = common::Playback {
            session_id: first.clone(),
            master_url: master.to_string(),
            cookie: String::new(),
        };
        app.segments(&session).await[0].key_uri.clone()
    };
    let mut ids = vec![first.clone()];
    for _ in 0..3 {
        ids.push(api.playback(&learner.token, &video).await.session_id);
    }
    let sessions: Value = api
        .get("/api/v1/admin/sessions", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let mine: Vec<&str> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["user_id"] == learner.user_id.as_str())
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(mine.len(), 3, "{mine:?}");
    assert!(!mine.contains(&first.as_str()));
    // Replaced is ended (not revoked): its key URL says so.
    assert_error(
        api.key(&first_key, Some(&learner.token)).await,
        403,
        "session_ended",
    )
    .await;

    // Ending a session: only its user; to anyone else it does not exist.
    let last = ids.last().unwrap();
    assert_error(
        api.delete(&format!("/api/v1/playback/{last}"), &stranger.token)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        api.delete(&format!("/api/v1/playback/{last}"), &learner.token)
            .await
            .status(),
        204
    );
    assert_error(
        api.delete("/api/v1/playback/nope", &learner.token).await,
        404,
        "not_found",
    )
    .await;
}
