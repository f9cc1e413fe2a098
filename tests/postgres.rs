//! The same server on PostgreSQL: migrations, the job queue and a whole
//! transcode, proving the SQL is portable.

mod common;

use common::media::make_video;
use common::{AtRest, Postgres, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_on_postgres() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let app = TestApp::init()
        .postgres(&pg)
        .flag("--transcode-rungs", 144)
        .flag("--segment-seconds", 2)
        .flag("--x264-preset", "ultrafast")
        .app()
        .await;
    let ready = app.api.anonymous_get("/readyz").await;
    assert_eq!(ready.status(), 200, "{}", app.server().log());

    let data = AtRest::of(app.server()).await;
    assert_eq!(data.db.dialect, sealcast::db::Dialect::Postgres);
    let source = make_video(app.scratch.path(), "src.mp4", 3, "192x144");
    let (creator, course) = app.creator_with_course().await;
    let bytes = std::fs::read(&source).unwrap();
    let video = app
        .api
        .upload(&creator.token, &course, &bytes, 1 << 20)
        .await;
    let settled = app.settled(&video, &creator.token).await;
    assert_eq!(
        (&settled["status"], &settled["progress"], &settled["error"]),
        (&"ready".into(), &100.into(), &serde_json::Value::Null),
        "{}",
        app.server().log()
    );
    // The renditions are in storage.
    assert!(!data
        .object_keys(&format!("videos/{video}/hls/"))
        .await
        .is_empty());
}
