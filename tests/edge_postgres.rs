//! The edge on PostgreSQL: uploads (with a checksum, a lease and the quota
//! sum), the video API, signed playback, deletion and the expiry sweeper run
//! the same portable SQL as on SQLite.

mod common;
mod edge_support;

use std::time::Duration;

use base64::Engine;
use edge_support::{fast, ready_video, Edge};
use reqwest::Method;
use sha1::Digest;

use common::postgres::Postgres;
use common::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_runs_on_postgres() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let edge = Edge::start_with_db(
        fast(TestServer::builder())
            .arg("--creator-quota-bytes")
            .arg("1000000000")
            .arg("--upload-expiry-secs")
            .arg("1")
            .arg("--upload-sweep-secs")
            .arg("1"),
        &pg.url,
    )
    .await;
    assert_eq!(edge.data.db.dialect, sealcast::db::Dialect::Postgres);
    let (_, course, token) = edge.creator().await;
    let tmp = tempfile::tempdir().unwrap();

    // A checksummed append, then a whole upload to ready.
    let path = edge.new_upload(&token, &course, 10).await;
    let sum = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(b"01234"));
    let resp = edge
        .tus(Method::PATCH, &path, &token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .header("upload-checksum", format!("sha1 {sum}"))
        .body("01234")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (video, _) = ready_video(&edge, &token, &course, tmp.path()).await;

    let (learner, learner_token) = edge.learner_in(&course).await;
    assert_eq!(
        edge.video_json(&video, &learner_token).await["status"],
        "ready"
    );
    let list: serde_json::Value = edge
        .http
        .get(edge.url(&format!("/api/v1/videos?course_id={course}")))
        .bearer_auth(&learner_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["videos"].as_array().unwrap().len(), 1);
    let (_, master) = edge.playback_session(&learner, &video, 600).await;
    assert_eq!(
        edge.http
            .get(edge.url(&master))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The small upload above expired: swept.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while edge
        .tus(Method::HEAD, &path, &token)
        .send()
        .await
        .unwrap()
        .status()
        != 404
    {
        assert!(std::time::Instant::now() < deadline, "not swept");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let resp = edge
        .http
        .delete(edge.url(&format!("/api/v1/videos/{video}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}
