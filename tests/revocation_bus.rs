//! The revocation bus on PostgreSQL, between real server processes: a node
//! caches "is this session live" for segments only until it hears of a
//! revocation, and a node that cannot hear the database stops trusting its
//! caches (503, never a cached 200) and recovers on its own.

mod common;

use std::time::Duration;

use common::{assert_error, eventually, Api, Postgres, TestApp};
use serde_json::json;

/// The first segment URL of a session, as its playlists name it.
async fn first_segment(api: &Api, master_url: &str) -> String {
    common::hls::segments(api, master_url).await[0]
        .segment_uri
        .clone()
}

/// A node that only listens (no poll behind it) hears another node's
/// announcement: the notification path works on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_reaches_a_listening_node_without_any_poll() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let a = sealcast::db::Db::connect(&pg.url).await.unwrap();
    let b = sealcast::db::Db::connect(&pg.url).await.unwrap();
    let mut changes = b.bus.subscribe();
    let listener = b.bus.spawn_listener(pg.url.clone());
    // LISTEN is in force once the listener has connected: announce until
    // one arrives (those sent before that are not delivered, by design).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (sent, heard) = loop {
        let sent = a.announce_revocation().await.unwrap();
        if let Ok(Ok(heard)) =
            tokio::time::timeout(Duration::from_millis(300), changes.recv()).await
        {
            break (sent, heard);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no NOTIFY reached b in 20 s"
        );
    };
    assert!(heard > 0 && heard <= sent, "{heard} of {sent}");
    // Every later announcement arrives too, so b ends at the newest epoch.
    eventually(
        Duration::from_secs(10),
        "b hears the newest epoch",
        || async { (b.bus.epoch() == sent).then_some(()) },
    )
    .await;
    assert!(
        b.bus.is_fresh(),
        "a notification counts as hearing the database"
    );
    listener.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_node_stops_segments_on_another_once_it_hears() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let app = TestApp::init().postgres(&pg).fast_transcodes().app().await;
    let node_b = TestApp::init()
        .postgres(&pg)
        .shared_data(app.data_path())
        .roles("edge")
        .start();
    let b = Api::new(&node_b);
    let c = app.cast().await;
    let video = app.ready_video(&c.creator, &c.course).await.id;
    let playback = app.playback(&c.learner, &video).await;
    let segment = first_segment(&b, &playback.master_url).await;
    // Twice: the second answer may come from B's cache.
    for _ in 0..2 {
        assert_eq!(b.anonymous_get(&segment).await.status(), 200);
    }

    app.api
        .revoke(&c.admin.token, json!({"session_id": playback.session_id}))
        .await;
    let announced = app.api.revocation_epoch().await;
    assert!(announced > 0, "the revocation was announced");
    b.heard_revocation(announced).await;
    // Once heard, B's very next segment request is refused.
    assert_error(b.anonymous_get(&segment).await, 403, "session_ended").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_postgres_a_node_answers_503_with_retry_after_and_recovers() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let app = TestApp::init().postgres(&pg).fast_transcodes().app().await;
    let api = &app.api;
    let c = app.cast().await;
    let video = app.ready_video(&c.creator, &c.course).await.id;
    let playback = app.playback(&c.learner, &video).await;
    let segments = app.segments(&playback).await;
    let (segment, key) = (&segments[0].segment_uri, &segments[0].key_uri);
    assert_eq!(api.anonymous_get(segment).await.status(), 200);
    assert_eq!(api.key(key, Some(&c.learner.token)).await.status(), 200);

    pg.stop();
    // Segments: the cached "live" answer stops counting once the node has
    // not heard the database for a second; then 503, never a stale 200.
    let refused = eventually(
        Duration::from_secs(60),
        "segments refused while the database is away",
        || async {
            let resp = api.anonymous_get(segment).await;
            (resp.status() != 200).then_some(resp)
        },
    )
    .await;
    assert_eq!(refused.headers()["retry-after"], "2");
    assert_error(refused, 503, "unavailable").await;
    let resp = api.key(key, Some(&c.learner.token)).await;
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_error(resp, 503, "store_unavailable").await;
    let resp = api.get("/api/v1/me", &c.learner.token).await;
    assert_eq!(resp.status(), 503, "the API too");
    assert_eq!(api.anonymous_get("/readyz").await.status(), 503);
    assert_eq!(api.anonymous_get("/healthz").await.status(), 200);

    // Back: the same process serves again without a restart.
    pg.start_again();
    eventually(Duration::from_secs(60), "ready again", || async {
        (api.anonymous_get("/readyz").await.status() == 200).then_some(())
    })
    .await;
    assert_eq!(api.anonymous_get(segment).await.status(), 200);
    assert_eq!(api.key(key, Some(&c.learner.token)).await.status(), 200);
    assert_eq!(api.get("/api/v1/me", &c.learner.token).await.status(), 200);
}
