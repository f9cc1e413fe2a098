//! Garage stopped in the middle of the work: an upload's PATCH is told 503
//! with `Retry-After` and resumes after, a transcode job retries and becomes
//! ready after; nothing half-made is ever visible in between.

mod common;

use std::time::Duration;

use common::api::upload_id;
use common::media::{ffmpeg_play, video_bytes};
use common::procfs::sandboxed_job;
use common::{error_code, eventually, Garage, TestApp};

const MIB: usize = 1024 * 1024;

/// Garage down in the middle of an upload: the PATCH that cannot reach it is
/// answered 503 with `Retry-After` (never a 500, never a lost byte), the
/// offset stays where storage last acknowledged it, and once Garage is back
/// the client resumes from that offset and the video becomes ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garage_outage_mid_upload_is_a_503_and_the_upload_resumes_after_it() {
    let mut garage = tokio::task::spawn_blocking(Garage::start).await.unwrap();
    let app = TestApp::init()
        .garage(&garage)
        .fast_transcodes()
        .flag("--s3-part-size-mib", 5)
        .app()
        .await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let video = video_bytes(app.scratch.path(), 3, 7 * MIB);
    let path = api.new_upload(&token, &course, video.len() as u64).await;
    let first = 6 * MIB;
    let resp = api.patch(&path, &token, 0, video[..first].to_vec()).await;
    assert_eq!(resp.status(), 204);

    garage.stop();
    let resp = api
        .patch(&path, &token, first as u64, video[first..].to_vec())
        .await;
    assert_eq!(resp.status(), 503, "{:?}", resp.text().await);
    assert_eq!(resp.headers()["retry-after"], "2");
    assert_eq!(error_code(resp).await, "unavailable");
    // What storage acknowledged is what the upload holds.
    let offset = api.offset(&path, &token).await;
    assert!(offset <= first as u64, "{offset}");
    assert!(!app.server().log().contains(&garage.secret_key));

    tokio::task::block_in_place(|| garage.start_again());
    let offset = api.offset(&path, &token).await;
    let resp = api
        .patch(&path, &token, offset, video[offset as usize..].to_vec())
        .await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    let settled = app.settled(&upload_id(&path), &token).await;
    assert_eq!(settled["status"], "ready", "{settled}");
}

/// Garage down while a transcode runs: the job has its copy of the upload
/// and its sandboxed child is encoding when Garage goes, so storing the
/// segments fails. The job goes back to the queue with a retry (the video
/// never shows as ready with half its segments, and a playback session is
/// refused); once Garage is back the retry publishes the whole video, which
/// the ffmpeg CLI plays from its signed URLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garage_outage_mid_transcode_is_retried_and_the_video_becomes_ready_after_it() {
    let mut garage = tokio::task::spawn_blocking(Garage::start).await.unwrap();
    let app = TestApp::init()
        .garage(&garage)
        .fast_transcodes()
        .app()
        .await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let video = video_bytes(app.scratch.path(), 6, 2 * MIB);
    let id = api.upload(&token, &course, &video, 4 * MIB).await;

    // The child exists only once the job's copy is whole, so every segment
    // it produces is stored after this stop.
    let server = app.server().child.id();
    eventually(Duration::from_secs(60), "the job's child runs", || async {
        sandboxed_job(server, &id).map(|_| ())
    })
    .await;
    garage.stop();
    let db = &app.at_rest().await.db;
    let job = || async {
        sqlx::query_as::<_, (String, i64, Option<String>)>(
            "SELECT status, attempts, error FROM transcode_jobs WHERE video_id = $1",
        )
        .bind(&id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    eventually(
        Duration::from_secs(60),
        "the job is put back to retry",
        || async {
            let (status, attempts, error) = job().await;
            (status == "queued" && attempts == 1 && error.is_some()).then_some(())
        },
    )
    .await;
    assert_ne!(app.video_status(&id, &token).await, "ready");
    let resp = api
        .post(
            &format!("/api/v1/videos/{id}/playback"),
            &token,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(resp.status(), 409, "not ready, not playable");
    assert_eq!(error_code(resp).await, "video_not_ready");
    assert!(!app.server().log().contains(&garage.secret_key));

    tokio::task::block_in_place(|| garage.start_again());
    let settled = app.settled(&id, &token).await;
    assert_eq!(settled["status"], "ready", "{settled}");
    assert_eq!(job().await.0, "done");
    assert!(job().await.1 >= 2, "retried");
    let playback = api.playback(&token, &id).await;
    let frames = ffmpeg_play(&api.url(&playback.master_url), &token);
    assert!(frames >= 150, "6 s at 25 fps: {frames} frames");
}
