//! tus uploads over time against the real server: an expired upload is
//! refused and then swept, and an upload resumes after a server crash.

mod common;

use std::time::Duration;

use common::api::{header_u64, metadata, upload_id};
use common::media::{sha256_hex, video_bytes};
use common::{error_code, eventually, TestApp};
use reqwest::Method;

/// A server whose uploads expire after 1 s and whose sweeper runs only as
/// it starts (then a day later): nothing sweeps behind the test's back, and
/// a restart is the sweep.
fn sweeps_only_at_start() -> common::ServerBuilder {
    TestApp::init()
        .no_workers()
        .flag("--upload-expiry-secs", 1)
        .flag("--upload-sweep-secs", 86_400)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_expired_uploads_answer_410_and_are_swept() {
    let app = sweeps_only_at_start().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    // Created holding its first 50 bytes in one request, so no PATCH races the expiry.
    let resp = api
        .send(
            api.tus(Method::POST, "/api/v1/uploads", &token)
                .header("upload-length", "100")
                .header("upload-metadata", metadata(&[("course_id", &course)]))
                .header("content-type", "application/offset+octet-stream")
                .body(vec![7; 50]),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(header_u64(&resp, "upload-offset"), 50);
    let expires = resp.headers()["upload-expires"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(expires.ends_with("GMT"), "{expires}");
    let path = common::api::location(&resp);
    let id = upload_id(&path);
    let partial = app.at_rest().await.partial_upload(&id);
    assert!(partial.exists());

    // Expired: HEAD says so once the second is up, and a PATCH is refused at once.
    eventually(Duration::from_secs(30), "the upload expires", || async {
        (api.head_status(&path, &token).await == 410).then_some(())
    })
    .await;
    let resp = api.patch(&path, &token, 50, vec![7; 50]).await;
    assert_eq!(resp.status(), 410);
    assert_eq!(error_code(resp).await, "upload_expired");
    assert!(partial.exists(), "not swept before the next sweep");

    // The next start sweeps it: bytes and video row.
    let dir = app.into_server().crash();
    let app = sweeps_only_at_start().data_dir(dir).start();
    let api = common::Api::new(&app);
    eventually(Duration::from_secs(30), "the upload is swept", || async {
        (api.head_status(&path, &token).await == 404).then_some(())
    })
    .await;
    let resp = api.get(&format!("/api/v1/videos/{id}"), &token).await;
    assert_eq!(resp.status(), 404);
    // The sweep logs once it is done, which may be just after the 404.
    eventually(Duration::from_secs(30), "the sweep is logged", || async {
        app.log().contains("swept expired uploads").then_some(())
    })
    .await;
    assert!(!partial.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_upload_resumes_after_a_server_crash() {
    let app = TestApp::init().no_workers().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 2, 400_000);
    let path = api.new_upload(&token, &course, video.len() as u64).await;
    let third = video.len() / 3;
    assert_eq!(
        api.patch(&path, &token, 0, video[..third].to_vec())
            .await
            .status(),
        204
    );

    let dir = app.into_server().crash();
    let app = TestApp::init().no_workers().data_dir(dir).start();
    let api = common::Api::new(&app);
    assert_eq!(api.offset(&path, &token).await, third as u64);
    let resp = api
        .patch(&path, &token, third as u64, video[third..].to_vec())
        .await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    let id = upload_id(&path);
    assert_eq!(api.video(&id, &token).await["status"], "queued");
    // The stored source is byte for byte the upload.
    let stored = common::AtRest::of(&app)
        .await
        .object(&format!("uploads/{id}/source"))
        .await;
    assert_eq!(sha256_hex(&stored), sha256_hex(&video));
}

type BodyChunks = futures::channel::mpsc::UnboundedSender<Result<Vec<u8>, std::io::Error>>;

/// A PATCH at `offset` that sends `bytes` (in 1000-byte chunks) and then
/// waits for more, until the returned sender is dropped.
fn hanging_patch(
    api: &common::Api,
    path: &str,
    token: &str,
    offset: usize,
    bytes: &[u8],
) -> (
    BodyChunks,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (tx, rx) = futures::channel::mpsc::unbounded();
    for chunk in bytes.chunks(1000) {
        tx.unbounded_send(Ok(chunk.to_vec())).unwrap();
    }
    let request = api
        .tus(Method::PATCH, path, token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .body(reqwest::Body::wrap_stream(rx))
        .send();
    (tx, tokio::spawn(request))
}

/// A server killed in the middle of a PATCH: after the restart, the node
/// takes back the lease of its earlier life at once (no `423` while it runs
/// out), and the upload resumes from what had been stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_patch_leaves_no_lease_behind() {
    let app = TestApp::init().no_workers().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 2, 400_000);
    let path = api.new_upload(&token, &course, video.len() as u64).await;
    let id = upload_id(&path);
    let half = video.len() / 2;
    assert_eq!(
        api.patch(&path, &token, 0, video[..half].to_vec())
            .await
            .status(),
        204
    );

    // A second PATCH that sends a little and then hangs, holding the lease.
    let (tx, hanging) = hanging_patch(api, &path, &token, half, &video[half..half + 1000]);
    let at_rest = common::AtRest::of(app.server()).await;
    eventually(
        Duration::from_secs(30),
        "the hanging PATCH holds the lease",
        || async {
            let owner: Option<String> =
                sqlx::query_scalar("SELECT lock_owner FROM uploads WHERE video_id = $1")
                    .bind(&id)
                    .fetch_one(&at_rest.db.pool)
                    .await
                    .unwrap();
            owner.map(|_| ())
        },
    )
    .await;

    let dir = app.into_server().crash();
    drop(tx);
    let _ = hanging.await;
    let app = TestApp::init().no_workers().data_dir(dir).start();
    let api = common::Api::new(&app);
    assert_eq!(api.offset(&path, &token).await, half as u64);
    // The very first PATCH after the restart is taken, not told 423.
    let resp = api
        .patch(&path, &token, half as u64, video[half..].to_vec())
        .await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    let stored = common::AtRest::of(&app)
        .await
        .object(&format!("uploads/{id}/source"))
        .await;
    assert_eq!(sha256_hex(&stored), sha256_hex(&video));
}

/// A server killed in the middle of one long PATCH keeps what had reached
/// storage: the PATCH records its offset every few bytes (4 KiB here, MiB
/// by default), so the upload resumes from the last checkpoint instead of
/// starting that request over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_long_patch_keeps_the_checkpointed_bytes() {
    const EVERY: u64 = 4096;
    let checkpointing = || {
        TestApp::init()
            .no_workers()
            .flag("--upload-checkpoint-bytes", EVERY)
    };
    let app = checkpointing().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 2, 400_000);
    let path = api.new_upload(&token, &course, video.len() as u64).await;
    let id = upload_id(&path);
    // One PATCH for the whole file that sends three quarters and then hangs.
    let sent = video.len() * 3 / 4;
    let (tx, hanging) = hanging_patch(api, &path, &token, 0, &video[..sent]);
    // While it runs, the recorded offset climbs to the last checkpoint.
    let last_checkpoint = sent as u64 - EVERY;
    let seen = eventually(
        Duration::from_secs(30),
        "the PATCH records its progress",
        || async {
            let offset = api.offset(&path, &token).await;
            (offset >= last_checkpoint).then_some(offset)
        },
    )
    .await;

    let dir = app.into_server().crash();
    drop(tx);
    let _ = hanging.await;
    let app = checkpointing().data_dir(dir).start();
    let api = common::Api::new(&app);
    let kept = api.offset(&path, &token).await;
    assert!(
        (seen..=sent as u64).contains(&kept),
        "kept {kept}, had seen {seen} of {sent} sent"
    );
    let resp = api
        .patch(&path, &token, kept, video[kept as usize..].to_vec())
        .await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    assert_eq!(api.video(&id, &token).await["status"], "queued");
    let stored = common::AtRest::of(&app)
        .await
        .object(&format!("uploads/{id}/source"))
        .await;
    assert_eq!(sha256_hex(&stored), sha256_hex(&video));
}
