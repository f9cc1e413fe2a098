//! Revocation against the real server: ending a session, a video, an
//! enrollment or a user bites the very next key request on the node that
//! wrote it, and on every other node the next one after it heard the
//! revocation bus (key servers remember granting sessions under its epoch),
//! and on PostgreSQL too.

mod common;

use common::{assert_error, Api, AtRest, Login, Postgres, TestApp};
use serde_json::json;

/// After a revocation written through `writer`: once `node` has heard of it
/// (its revocation epoch reached the writer's), its very next key request is
/// denied with `code`. No grace period beyond hearing.
async fn next_key_request_denied(writer: &Api, node: &Api, url: &str, token: &str, code: &str) {
    node.heard_revocation(writer.revocation_epoch().await).await;
    assert_error(node.key(url, Some(token)).await, 403, code).await;
}

/// How many key requests `node` answered from its remembered sessions.
async fn session_cache_hits(node: &Api) -> u64 {
    let text = node.anonymous_get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix("sealcast_cache_requests_total{cache=\"key_sessions\",result=\"hit\"} ")
        })
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// A new session of `user` on `video`, and the signed URL of its `nth` key
/// as the session's playlist names it.
async fn session_key(app: &TestApp, user: &Login, video: &str, nth: usize) -> (String, String) {
    let playback = app.playback(user, video).await;
    let segments = app.segments(&playback).await;
    let key_id = &common::hls::key_ids(&segments)[nth];
    let url = segments
        .iter()
        .find(|s| &s.key_id == key_id)
        .unwrap()
        .key_uri
        .clone();
    (playback.session_id, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_bites_the_next_key_request_on_every_node() {
    let app = TestApp::init().fast_transcodes().app().await;
    // A second node: key server only, same secrets and database.
    let keys_node = TestApp::init()
        .shared_data(app.data_path())
        .roles("keyserver")
        .start();
    let api = &app.api;
    let node = Api::new(&keys_node);
    let c = app.cast().await;
    let video = app.ready_video(&c.creator, &c.course).await.id;
    let video2 = app.ready_video(&c.creator, &c.course).await.id;
    // The key-server-only node has no API, the edge has both.
    assert_eq!(node.get("/api/v1/me", &c.learner.token).await.status(), 404);

    // Session revoked (admin on node A, key requests on A and on node B).
    // Twice on each node first: the second grant may come from its cache.
    let (s1, u1) = session_key(&app, &c.learner, &video, 0).await;
    for _ in 0..2 {
        assert_eq!(node.key(&u1, Some(&c.learner.token)).await.status(), 200);
        assert_eq!(api.key(&u1, Some(&c.learner.token)).await.status(), 200);
    }
    assert!(
        session_cache_hits(&node).await >= 1,
        "node B answered a repeat from memory, so what follows tests its cache"
    );
    let r = api.revoke(&c.admin.token, json!({"session_id": s1})).await;
    assert_eq!(
        r,
        json!({"revoked": {"kind": "session", "id": s1}, "sessions_ended": 1})
    );
    // On the node that wrote it, the very next request, no waiting.
    assert_error(
        api.key(&u1, Some(&c.learner.token)).await,
        403,
        "session_revoked",
    )
    .await;
    next_key_request_denied(api, &node, &u1, &c.learner.token, "session_revoked").await;

    // Video revoked: every session of that video.
    let (_, u2) = session_key(&app, &c.learner, &video, 1).await;
    let (_, u2b) = session_key(&app, &c.creator, &video, 1).await;
    let (_, u3) = session_key(&app, &c.learner, &video2, 0).await;
    assert_eq!(node.key(&u2, Some(&c.learner.token)).await.status(), 200);
    let r = api.revoke(&c.admin.token, json!({"video_id": video})).await;
    assert_eq!(r["sessions_ended"], 2);
    next_key_request_denied(api, &node, &u2, &c.learner.token, "session_revoked").await;
    next_key_request_denied(api, &node, &u2b, &c.creator.token, "session_revoked").await;
    assert_eq!(
        node.key(&u3, Some(&c.learner.token)).await.status(),
        200,
        "other videos unaffected"
    );

    // Enrollment removed: the sessions on the course's videos end.
    let r = api
        .unenroll(&c.creator.token, &c.course, &c.learner.user_id)
        .await;
    assert_eq!(r.status(), 204);
    next_key_request_denied(api, &node, &u3, &c.learner.token, "session_revoked").await;
    // And no new session starts.
    assert_error(
        api.post(
            &format!("/api/v1/videos/{video2}/playback"),
            &c.learner.token,
            json!({}),
        )
        .await,
        403,
        "not_entitled",
    )
    .await;

    // User revoked: disabled, refresh tokens revoked, sessions ended.
    api.enroll(&c.creator.token, &c.course, &c.learner.user_id)
        .await;
    let (s4, u4) = session_key(&app, &c.learner, &video2, 1).await;
    assert_eq!(node.key(&u4, Some(&c.learner.token)).await.status(), 200);
    let r = api
        .revoke(&c.admin.token, json!({"user_id": c.learner.user_id}))
        .await;
    assert_eq!(r["revoked"]["kind"], "user");
    next_key_request_denied(api, &node, &u4, &c.learner.token, "session_revoked").await;
    let refresh = api.refresh(&c.learner.refresh_cookie).await;
    assert_eq!(refresh.status(), 401);

    // A disabled user whose session somehow stayed live is still refused.
    // No API reopens an ended session, so this one write forges that state
    // in the database to reach the key server's second line of defence.
    let at_rest = AtRest::of(app.server()).await;
    sqlx::query("UPDATE playback_sessions SET ended_at = NULL, end_reason = NULL WHERE id = $1")
        .bind(&s4)
        .execute(&at_rest.db.pool)
        .await
        .unwrap();
    assert_error(
        node.key(&u4, Some(&c.learner.token)).await,
        403,
        "user_disabled",
    )
    .await;
    // Bad revocation requests.
    assert_error(
        api.revoke_raw(&c.admin.token, json!({"user_id": "nope"}))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        api.revoke_raw(&c.admin.token, json!({"user_id": "a", "video_id": "b"}))
            .await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        api.revoke_raw(&c.stranger.token, json!({"video_id": video}))
            .await,
        403,
        "forbidden",
    )
    .await;
    let audit = api.audit(&c.admin.token, 200).await;
    for action in [
        "revoke.session",
        "revoke.video",
        "revoke.user",
        "enrollment.remove",
    ] {
        assert!(audit.iter().any(|e| e["action"] == action), "{action}");
    }
    assert!(audit
        .iter()
        .any(|e| e["action"] == "key" && e["reason"] == "session_revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_revocation_on_postgres() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let app = TestApp::init().postgres(&pg).fast_transcodes().app().await;
    let api = &app.api;
    let c = app.cast().await;
    let video = app.ready_video(&c.creator, &c.course).await.id;
    let (_, url) = session_key(&app, &c.learner, &video, 1).await;
    let resp = api.key(&url, Some(&c.learner.token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), 16);
    let resp = api
        .unenroll(&c.admin.token, &c.course, &c.learner.user_id)
        .await;
    assert_eq!(resp.status(), 204);
    assert_error(
        api.key(&url, Some(&c.learner.token)).await,
        403,
        "session_revoked",
    )
    .await;
    let audit = api.audit(&c.admin.token, 3).await;
    assert_eq!(audit.len(), 3);
    assert_eq!(
        (&audit[0]["action"], &audit[0]["reason"]),
        (&json!("key"), &json!("session_revoked")),
        "newest first: {audit:?}"
    );
}
