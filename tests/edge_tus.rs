//! tus 1.0.0: the core protocol and its error statuses, creation (with
//! upload), termination, checksums, size limits, quotas, ownership and
//! tokens. Expiry and restarts are in `edge_tus_lifecycle.rs`.

mod common;

use base64::Engine;
use common::api::{header_u64, metadata, upload_id};
use common::media::video_bytes;
use common::{error_code, TestApp};
use reqwest::Method;
use sealcast::config::ServeArgs;
use sha1::Digest;

#[tokio::test]
async fn tus_options_advertise_the_protocol_without_auth() {
    let app = TestApp::in_process(ServeArgs::default()).await;
    let api = &app.api;
    let resp = api
        .send(
            api.http
                .request(Method::OPTIONS, api.url("/api/v1/uploads")),
        )
        .await;
    assert_eq!(resp.status(), 204);
    let h = resp.headers();
    assert_eq!(h["tus-resumable"], "1.0.0");
    assert_eq!(h["tus-version"], "1.0.0");
    let ext = h["tus-extension"].to_str().unwrap();
    for e in [
        "creation",
        "creation-with-upload",
        "termination",
        "expiration",
        "checksum",
    ] {
        assert!(ext.split(',').any(|x| x == e), "{ext}");
    }
    assert_eq!(h["tus-max-size"], (20u64 << 30).to_string().as_str());
    assert_eq!(h["tus-checksum-algorithm"], "sha1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_core_protocol_and_error_statuses() {
    let app = TestApp::init().no_workers().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 2, 300_000);
    let len = video.len() as u64;

    // 412 without or with a wrong Tus-Resumable, naming the version we speak.
    for version in [None, Some("0.2.2")] {
        let mut req = api
            .http
            .post(api.url("/api/v1/uploads"))
            .bearer_auth(&token)
            .header("upload-length", "10");
        if let Some(v) = version {
            req = req.header("tus-resumable", v);
        }
        let resp = api.send(req).await;
        assert_eq!(resp.status(), 412);
        assert_eq!(resp.headers()["tus-version"], "1.0.0");
        assert_eq!(error_code(resp).await, "unsupported_version");
    }
    // 401 without a token; 400 without Upload-Length or course.
    let resp = api
        .send(
            api.http
                .post(api.url("/api/v1/uploads"))
                .header("tus-resumable", "1.0.0")
                .header("upload-length", "10"),
        )
        .await;
    assert_eq!(resp.status(), 401);
    let resp = api
        .send(api.tus(Method::POST, "/api/v1/uploads", &token))
        .await;
    assert_eq!(resp.status(), 400);
    let resp = api
        .send(
            api.tus(Method::POST, "/api/v1/uploads", &token)
                .header("upload-length", "10")
                .header("upload-metadata", metadata(&[("filename", "a.mp4")])),
        )
        .await;
    assert_eq!(error_code(resp).await, "bad_metadata");
    let resp = api
        .send(
            api.tus(Method::POST, "/api/v1/uploads", &token)
                .header("upload-length", "10")
                .header("upload-metadata", "course_id !!notbase64"),
        )
        .await;
    assert_eq!(error_code(resp).await, "bad_metadata");

    // Creation.
    let resp = api.create_upload(&token, &course, len).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    assert!(resp.headers().contains_key("upload-expires"));
    let path = resp.headers()["location"].to_str().unwrap().to_string();
    let id = path.strip_prefix("/api/v1/uploads/").unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(app.video_status(&id, &token).await, "uploading");

    // HEAD: offset, length, metadata, no caching.
    let resp = api.send(api.tus(Method::HEAD, &path, &token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header_u64(&resp, "upload-offset"), 0);
    assert_eq!(header_u64(&resp, "upload-length"), len);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers()["upload-metadata"]
        .to_str()
        .unwrap()
        .contains("course_id"));

    // 415 on a wrong content type, 400 without Upload-Offset, 409 on a wrong offset.
    let resp = api
        .send(
            api.tus(Method::PATCH, &path, &token)
                .header("content-type", "application/octet-stream")
                .header("upload-offset", "0")
                .body(video[..10].to_vec()),
        )
        .await;
    assert_eq!(resp.status(), 415);
    let resp = api
        .send(
            api.tus(Method::PATCH, &path, &token)
                .header("content-type", "application/offset+octet-stream")
                .body(video[..10].to_vec()),
        )
        .await;
    assert_eq!(resp.status(), 400);
    let resp = api.patch(&path, &token, 5, video[..10].to_vec()).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "offset_mismatch");

    // First half; then a wrong sha1 is refused with 460 and nothing moves.
    let half = video.len() / 2;
    let resp = api.patch(&path, &token, 0, video[..half].to_vec()).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(header_u64(&resp, "upload-offset"), half as u64);
    let wrong = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(b"other"));
    let resp = api
        .send(
            api.tus(Method::PATCH, &path, &token)
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", half.to_string())
                .header("upload-checksum", format!("sha1 {wrong}"))
                .body(video[half..].to_vec()),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 460);
    assert_eq!(error_code(resp).await, "checksum_mismatch");
    assert_eq!(api.offset(&path, &token).await, half as u64);
    let resp = api
        .send(
            api.tus(Method::PATCH, &path, &token)
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", half.to_string())
                .header("upload-checksum", "md5 AAAA")
                .body(video[half..].to_vec()),
        )
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "unsupported_checksum_algorithm");

    // A body longer than what is left: 413, nothing stored.
    let mut too_long = video[half..].to_vec();
    too_long.extend_from_slice(b"extra");
    let resp = api.patch(&path, &token, half as u64, too_long).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(api.offset(&path, &token).await, half as u64);

    // The rest with a correct checksum completes the upload and queues it.
    let right =
        base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&video[half..]));
    let resp = api
        .send(
            api.tus(Method::PATCH, &path, &token)
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", half.to_string())
                .header("upload-checksum", format!("sha1 {right}"))
                .body(video[half..].to_vec()),
        )
        .await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    assert_eq!(header_u64(&resp, "upload-offset"), len);
    assert_eq!(app.video_status(&id, &token).await, "queued");
    // At rest: exactly the source object and one queued job.
    let at_rest = app.at_rest().await;
    let stored = at_rest.object_keys(&format!("uploads/{id}/")).await;
    assert_eq!(stored, vec![format!("uploads/{id}/source")]);
    let jobs = at_rest
        .count(
            "SELECT COUNT(*) FROM transcode_jobs WHERE video_id = $1",
            &id,
        )
        .await;
    assert_eq!(jobs, 1);
    // A GET on the upload URL returns no bytes.
    let resp = api
        .send(api.http.get(api.url(&path)).bearer_auth(&token))
        .await;
    assert_eq!(resp.status(), 405);
    assert!(resp.bytes().await.unwrap().len() < 512);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_creation_with_upload_and_non_video_is_refused() {
    let app = TestApp::init().no_workers().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 2, 200_000);
    let resp = api
        .send(
            api.tus(Method::POST, "/api/v1/uploads", &token)
                .header("upload-length", video.len().to_string())
                .header(
                    "upload-metadata",
                    metadata(&[("course_id", &course), ("title", "All at once")]),
                )
                .header("content-type", "application/offset+octet-stream")
                .body(video.clone()),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(header_u64(&resp, "upload-offset"), video.len() as u64);
    let id = upload_id(&common::api::location(&resp));
    assert_eq!(app.video_status(&id, &token).await, "queued");

    // Text with a video name: refused at the last byte, nothing kept.
    let text = b"this is not a video at all, just text\n".repeat(1000);
    let path = api.new_upload(&token, &course, text.len() as u64).await;
    let resp = api.patch(&path, &token, 0, text).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(error_code(resp).await, "not_a_video");
    let id = &upload_id(&path);
    let failed = api.video(id, &token).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap().starts_with("not a video"));
    assert!(app
        .at_rest()
        .await
        .object_keys(&format!("uploads/{id}/"))
        .await
        .is_empty());
}

#[tokio::test]
async fn tus_ownership_is_checked_on_every_request() {
    let app = TestApp::in_process(ServeArgs::default()).await;
    let api = &app.api;
    let (owner, course) = app.creator_with_course().await;
    let token = owner.token.clone();
    let (other, other_course) = app.creator_with_course().await;
    let other = other.token;
    let learner = app.learner_in(&course).await.token;
    let admin = app.admin.token.clone();

    // Creating in someone else's course: 403; a learner: 403; unknown course: 404.
    assert_eq!(api.create_upload(&other, &course, 100).await.status(), 403);
    assert_eq!(
        api.create_upload(&learner, &course, 100).await.status(),
        403
    );
    assert_eq!(
        api.create_upload(&token, "0".repeat(32).as_str(), 100)
            .await
            .status(),
        404
    );
    assert_eq!(
        api.create_upload(&admin, &other_course, 100).await.status(),
        201
    );

    let path = api.new_upload(&token, &course, 100).await;
    // Another creator and a learner see nothing of it.
    for t in [&other, &learner] {
        assert_eq!(api.head_status(&path, t).await, 404);
        assert_eq!(api.patch(&path, t, 0, vec![0; 10]).await.status(), 404);
        assert_eq!(
            api.send(api.tus(Method::DELETE, &path, t)).await.status(),
            404
        );
    }
    assert_eq!(api.offset(&path, &token).await, 0);
    // A new token of the same user (after a refresh) continues the upload;
    // an admin may look too.
    assert_eq!(api.patch(&path, &token, 0, vec![1; 40]).await.status(), 204);
    let refreshed = api.refresh(&owner.refresh_cookie).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed = common::api::login_from(refreshed).await.token;
    assert_ne!(refreshed, token);
    assert_eq!(
        api.patch(&path, &refreshed, 40, vec![2; 30]).await.status(),
        204
    );
    assert_eq!(api.offset(&path, &admin).await, 70);

    // Termination by the owner removes the upload, its bytes and its video.
    let id = upload_id(&path);
    let partial = app.at_rest().await.partial_upload(&id);
    assert!(partial.exists());
    let resp = api.send(api.tus(Method::DELETE, &path, &refreshed)).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(api.head_status(&path, &token).await, 404);
    assert_eq!(
        api.get(&format!("/api/v1/videos/{id}"), &token)
            .await
            .status(),
        404
    );
    assert!(!partial.exists());
}

#[tokio::test]
async fn tus_size_limit_and_quota() {
    let mut args = ServeArgs::default();
    args.uploads.max_upload_bytes = Some(1000);
    args.uploads.creator_quota_bytes = Some(1500);
    let app = TestApp::in_process(args).await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token;
    let resp = api.create_upload(&token, &course, 1001).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(resp).await, "upload_too_large");
    assert_eq!(api.create_upload(&token, &course, 1000).await.status(), 201);
    let resp = api.create_upload(&token, &course, 600).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(resp).await, "quota_exceeded");
    assert_eq!(api.create_upload(&token, &course, 500).await.status(), 201);
    // Another creator has their own quota.
    let (other, course2) = app.creator_with_course().await;
    assert_eq!(
        api.create_upload(&other.token, &course2, 1000)
            .await
            .status(),
        201
    );
}

/// Uploads racing for a creator's last free bytes: the quota check and the
/// insert are one step, so exactly one of them gets the space.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quota_holds_when_uploads_race() {
    let mut args = ServeArgs::default();
    args.uploads.max_upload_bytes = Some(1000);
    args.uploads.creator_quota_bytes = Some(1500);
    let app = TestApp::in_process(args).await;
    let (creator, course) = app.creator_with_course().await;
    let attempts = (0..12).map(|_| app.api.create_upload(&creator.token, &course, 1000));
    let mut created = 0;
    for resp in futures::future::join_all(attempts).await {
        if resp.status() == 201 {
            created += 1;
        } else {
            assert_eq!(resp.status(), 413);
            assert_eq!(error_code(resp).await, "quota_exceeded");
        }
    }
    assert_eq!(created, 1, "one upload fits in the quota");
}
