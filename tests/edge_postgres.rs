//! The edge on PostgreSQL: uploads (with a checksum, a lease and the quota
//! sum), the video API, signed playback, deletion and the expiry sweeper run
//! the same portable SQL as on SQLite.

mod common;

use std::time::Duration;

use base64::Engine;
use common::api::{metadata, upload_id};
use common::{eventually, Api, AtRest, Postgres, TestApp};
use reqwest::Method;
use sha1::Digest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_runs_on_postgres() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let app = TestApp::init()
        .postgres(&pg)
        .fast_transcodes()
        .flag("--creator-quota-bytes", 1_000_000_000u64)
        .app()
        .await;
    let api = &app.api;
    assert_eq!(
        AtRest::of(app.server()).await.db.dialect,
        sealcast::db::Dialect::Postgres
    );
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();

    // A checksummed append, then a whole upload to ready.
    let path = api.new_upload(&token, &course, 10).await;
    let sum = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(b"01234"));
    let resp = api
        .send(
            api.tus(Method::PATCH, &path, &token)
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", "0")
                .header("upload-checksum", format!("sha1 {sum}"))
                .body("01234"),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(api.offset(&path, &token).await, 5);
    let video = app.ready_video(&creator, &course).await.id;

    let learner = app.learner_in(&course).await;
    assert_eq!(api.video(&video, &learner.token).await["status"], "ready");
    let list = api
        .get_json(
            &format!("/api/v1/videos?course_id={course}"),
            &learner.token,
        )
        .await;
    // The ready video; the unfinished upload is the owner's alone.
    assert_eq!(list["videos"].as_array().unwrap().len(), 1);
    let master = app.playback(&learner, &video).await.master_url;
    assert_eq!(api.anonymous_get(&master).await.status(), 200);
    let resp = api.delete(&format!("/api/v1/videos/{video}"), &token).await;
    assert_eq!(resp.status(), 204);
}

/// The sweeper's SQL on PostgreSQL: uploads expire after 1 s and sweeps run
/// only as a server starts, so the restart below is the sweep and nothing
/// races the expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_uploads_are_swept_on_postgres() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let sweeps_only_at_start = || {
        TestApp::init()
            .postgres(&pg)
            .no_workers()
            .flag("--upload-expiry-secs", 1)
            .flag("--upload-sweep-secs", 86_400)
    };
    let app = sweeps_only_at_start().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    // Created holding its first bytes in one request: no PATCH races the expiry.
    let resp = api
        .send(
            api.tus(Method::POST, "/api/v1/uploads", &token)
                .header("upload-length", "10")
                .header("upload-metadata", metadata(&[("course_id", &course)]))
                .header("content-type", "application/offset+octet-stream")
                .body("01234"),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let path = common::api::location(&resp);
    eventually(Duration::from_secs(30), "the upload expires", || async {
        (api.head_status(&path, &token).await == 410).then_some(())
    })
    .await;

    let dir = app.into_server().crash();
    let server = sweeps_only_at_start().data_dir(dir).start();
    let api = Api::new(&server);
    eventually(Duration::from_secs(30), "the upload is swept", || async {
        (api.head_status(&path, &token).await == 404).then_some(())
    })
    .await;
    let id = upload_id(&path);
    let resp = api.get(&format!("/api/v1/videos/{id}"), &token).await;
    assert_eq!(resp.status(), 404);
    // The sweep logs once it is done, which may be just after the 404.
    eventually(Duration::from_secs(30), "the sweep is logged", || async {
        server.log().contains("swept expired uploads").then_some(())
    })
    .await;
}

/// Uploads racing for a creator's last free bytes on PostgreSQL, where
/// requests really run side by side: exactly one gets the space.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_holds_when_uploads_race_on_postgres() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let app = TestApp::init()
        .postgres(&pg)
        .flag("--creator-quota-bytes", 1500u64)
        .app()
        .await;
    let (creator, course) = app.creator_with_course().await;
    let attempts = (0..12).map(|_| app.api.create_upload(&creator.token, &course, 1000));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "one upload fits in the quota: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 413),
        "{statuses:?}"
    );
}
