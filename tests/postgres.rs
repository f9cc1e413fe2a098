//! The same server on PostgreSQL: migrations, the job queue and a whole
//! transcode, proving the SQL is portable.

mod common;

use common::fixtures::{make_video, DataDir};
use common::postgres::Postgres;
use common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_on_postgres() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let server = TestServer::builder()
        .arg("--database-url")
        .arg(pg.url.clone())
        .arg("--transcode-rungs")
        .arg("144")
        .arg("--segment-seconds")
        .arg("2")
        .arg("--x264-preset")
        .arg("ultrafast")
        .start();
    let ready = reqwest::get(server.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200, "{}", server.log());

    let data = DataDir::open_with(&server.data_path(), &pg.url).await;
    assert_eq!(data.db.dialect, sealcast::db::Dialect::Postgres);
    let tmp = tempfile::tempdir().unwrap();
    let source = make_video(tmp.path(), "src.mp4", 3, "192x144");
    let (user, course) = data.creator_with_course().await;
    let video = data.queued_video(&user, &course, &source).await;
    let (status, progress, error) = data.wait_settled(&video, 120).await;
    assert_eq!(
        (status.as_str(), progress, error),
        ("ready", 100, None),
        "{}",
        server.log()
    );
    assert!(!data
        .object_keys(&format!("videos/{video}/hls/"))
        .await
        .is_empty());
}
