//! tus 1.0.0 against the real server: the core protocol and its error
//! statuses, creation (with upload), termination, expiration, checksums,
//! size limits, quotas, ownership, tokens and restarts.

mod common;
mod edge_support;

use std::time::Duration;

use base64::Engine;
use edge_support::{error_code, header_u64, metadata, video_bytes, Edge};
use reqwest::Method;
use sealcast::storage::ObjectStore;
use sealcast_keyserver::Role;
use sha1::Digest;

use common::TestServer;

#[tokio::test]
async fn tus_options_advertise_the_protocol_without_auth() {
    let edge = Edge::start(TestServer::builder()).await;
    let resp = edge
        .http
        .request(Method::OPTIONS, edge.url("/api/v1/uploads"))
        .send()
        .await
        .unwrap();
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
    let edge = Edge::start(TestServer::builder().arg("--workers").arg("0")).await;
    let (_, course, token) = edge.creator().await;
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 2, 300_000);
    let len = video.len() as u64;

    // 412 without or with a wrong Tus-Resumable, naming the version we speak.
    for version in [None, Some("0.2.2")] {
        let mut req = edge
            .http
            .post(edge.url("/api/v1/uploads"))
            .bearer_auth(&token)
            .header("upload-length", "10");
        if let Some(v) = version {
            req = req.header("tus-resumable", v);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 412);
        assert_eq!(resp.headers()["tus-version"], "1.0.0");
        assert_eq!(error_code(resp).await, "unsupported_version");
    }
    // 401 without a token; 400 without Upload-Length or course.
    let resp = edge
        .http
        .post(edge.url("/api/v1/uploads"))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = edge
        .tus(Method::POST, "/api/v1/uploads", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = edge
        .tus(Method::POST, "/api/v1/uploads", &token)
        .header("upload-length", "10")
        .header("upload-metadata", metadata(&[("filename", "a.mp4")]))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "bad_metadata");
    let resp = edge
        .tus(Method::POST, "/api/v1/uploads", &token)
        .header("upload-length", "10")
        .header("upload-metadata", "course_id !!notbase64")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(resp).await, "bad_metadata");

    // Creation.
    let resp = edge.create_upload(&token, &course, len).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    assert!(resp.headers().contains_key("upload-expires"));
    let path = resp.headers()["location"].to_str().unwrap().to_string();
    let id = path.strip_prefix("/api/v1/uploads/").unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert_eq!(edge.data.video_status(&id).await.0, "uploading");

    // HEAD: offset, length, metadata, no caching.
    let resp = edge.tus(Method::HEAD, &path, &token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(header_u64(&resp, "upload-offset"), 0);
    assert_eq!(header_u64(&resp, "upload-length"), len);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert!(resp.headers()["upload-metadata"]
        .to_str()
        .unwrap()
        .contains("course_id"));

    // 415 on a wrong content type, 400 without Upload-Offset, 409 on a wrong offset.
    let resp = edge
        .tus(Method::PATCH, &path, &token)
        .header("content-type", "application/octet-stream")
        .header("upload-offset", "0")
        .body(video[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let resp = edge
        .tus(Method::PATCH, &path, &token)
        .header("content-type", "application/offset+octet-stream")
        .body(video[..10].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = edge.patch(&path, &token, 5, video[..10].to_vec()).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(error_code(resp).await, "offset_mismatch");

    // First half; then a wrong sha1 is refused with 460 and nothing moves.
    let half = video.len() / 2;
    let resp = edge.patch(&path, &token, 0, video[..half].to_vec()).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(header_u64(&resp, "upload-offset"), half as u64);
    let wrong = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(b"other"));
    let resp = edge
        .tus(Method::PATCH, &path, &token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", half.to_string())
        .header("upload-checksum", format!("sha1 {wrong}"))
        .body(video[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 460);
    assert_eq!(error_code(resp).await, "checksum_mismatch");
    assert_eq!(edge.offset(&path, &token).await, half as u64);
    let resp = edge
        .tus(Method::PATCH, &path, &token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", half.to_string())
        .header("upload-checksum", "md5 AAAA")
        .body(video[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "unsupported_checksum_algorithm");

    // A body longer than what is left: 413, nothing stored.
    let mut too_long = video[half..].to_vec();
    too_long.extend_from_slice(b"extra");
    let resp = edge.patch(&path, &token, half as u64, too_long).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(edge.offset(&path, &token).await, half as u64);

    // The rest with a correct checksum completes the upload and queues it.
    let right =
        base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&video[half..]));
    let resp = edge
        .tus(Method::PATCH, &path, &token)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", half.to_string())
        .header("upload-checksum", format!("sha1 {right}"))
        .body(video[half..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    assert_eq!(header_u64(&resp, "upload-offset"), len);
    assert_eq!(edge.data.video_status(&id).await.0, "queued");
    let stored = edge.data.object_keys(&format!("uploads/{id}/")).await;
    assert_eq!(stored, vec![format!("uploads/{id}/source")]);
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transcode_jobs WHERE video_id = $1")
        .bind(&id)
        .fetch_one(&edge.data.db.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
    // A GET on the upload URL returns no bytes.
    let resp = edge
        .http
        .get(edge.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert!(resp.bytes().await.unwrap().len() < 512);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_creation_with_upload_and_non_video_is_refused() {
    let edge = Edge::start(TestServer::builder().arg("--workers").arg("0")).await;
    let (_, course, token) = edge.creator().await;
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 2, 200_000);
    let resp = edge
        .tus(Method::POST, "/api/v1/uploads", &token)
        .header("upload-length", video.len().to_string())
        .header(
            "upload-metadata",
            metadata(&[("course_id", &course), ("title", "All at once")]),
        )
        .header("content-type", "application/offset+octet-stream")
        .body(video.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(header_u64(&resp, "upload-offset"), video.len() as u64);
    let id = resp.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(edge.data.video_status(&id).await.0, "queued");

    // Text with a video name: refused at the last byte, nothing kept.
    let text = b"this is not a video at all, just text\n".repeat(1000);
    let path = edge.new_upload(&token, &course, text.len() as u64).await;
    let resp = edge.patch(&path, &token, 0, text).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(error_code(resp).await, "not_a_video");
    let id = path.rsplit('/').next().unwrap();
    let (status, _, error) = edge.data.video_status(id).await;
    assert_eq!(status, "failed");
    assert!(error.unwrap().starts_with("not a video"));
    assert!(edge
        .data
        .object_keys(&format!("uploads/{id}/"))
        .await
        .is_empty());
}

#[tokio::test]
async fn tus_ownership_is_checked_on_every_request() {
    let edge = Edge::start(TestServer::builder().arg("--workers").arg("0")).await;
    let (owner, course, token) = edge.creator().await;
    let (_, other_course, other) = edge.creator().await;
    let (_, learner) = edge.learner_in(&course).await;
    let admin_id = edge.user("admin").await;
    let admin = edge.token(&admin_id, Role::Admin);

    // Creating in someone else's course: 403; a learner: 403; unknown course: 404.
    assert_eq!(edge.create_upload(&other, &course, 100).await.status(), 403);
    assert_eq!(
        edge.create_upload(&learner, &course, 100).await.status(),
        403
    );
    assert_eq!(
        edge.create_upload(&token, "0".repeat(32).as_str(), 100)
            .await
            .status(),
        404
    );
    assert_eq!(
        edge.create_upload(&admin, &other_course, 100)
            .await
            .status(),
        201
    );

    let path = edge.new_upload(&token, &course, 100).await;
    // Another creator and a learner see nothing of it.
    for t in [&other, &learner] {
        assert_eq!(
            edge.tus(Method::HEAD, &path, t)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        assert_eq!(edge.patch(&path, t, 0, vec![0; 10]).await.status(), 404);
        assert_eq!(
            edge.tus(Method::DELETE, &path, t)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
    assert_eq!(edge.offset(&path, &token).await, 0);
    // A new token of the same user (as after a refresh) continues the upload;
    // an admin may look too.
    assert_eq!(
        edge.patch(&path, &token, 0, vec![1; 40]).await.status(),
        204
    );
    let refreshed = edge.token(&owner, Role::Creator);
    assert_ne!(refreshed, token);
    assert_eq!(
        edge.patch(&path, &refreshed, 40, vec![2; 30])
            .await
            .status(),
        204
    );
    assert_eq!(edge.offset(&path, &admin).await, 70);

    // Termination by the owner removes the upload, its bytes and its video.
    let id = path.rsplit('/').next().unwrap().to_string();
    let partial = edge
        .server
        .data_path()
        .join(format!("objects/partial/uploads/{id}/source"));
    assert!(partial.exists());
    let resp = edge
        .tus(Method::DELETE, &path, &refreshed)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(
        edge.tus(Method::HEAD, &path, &token)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let videos: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM videos WHERE id = $1")
        .bind(&id)
        .fetch_one(&edge.data.db.pool)
        .await
        .unwrap();
    assert_eq!(videos, 0);
    assert!(!partial.exists());
}

#[tokio::test]
async fn tus_size_limit_and_quota() {
    let edge = Edge::start(
        TestServer::builder()
            .arg("--workers")
            .arg("0")
            .arg("--max-upload-bytes")
            .arg("1000")
            .arg("--creator-quota-bytes")
            .arg("1500"),
    )
    .await;
    let (_, course, token) = edge.creator().await;
    let resp = edge.create_upload(&token, &course, 1001).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(resp).await, "upload_too_large");
    assert_eq!(
        edge.create_upload(&token, &course, 1000).await.status(),
        201
    );
    let resp = edge.create_upload(&token, &course, 600).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(error_code(resp).await, "quota_exceeded");
    assert_eq!(edge.create_upload(&token, &course, 500).await.status(), 201);
    // Another creator has their own quota.
    let (_, course2, token2) = edge.creator().await;
    assert_eq!(
        edge.create_upload(&token2, &course2, 1000).await.status(),
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_expired_uploads_answer_410_and_are_swept() {
    let edge = Edge::start(
        TestServer::builder()
            .arg("--workers")
            .arg("0")
            .arg("--upload-expiry-secs")
            .arg("1")
            .arg("--upload-sweep-secs")
            .arg("4"),
    )
    .await;
    let (_, course, token) = edge.creator().await;
    let path = edge.new_upload(&token, &course, 100).await;
    let id = path.rsplit('/').next().unwrap().to_string();
    let resp = edge.patch(&path, &token, 0, vec![7; 50]).await;
    assert_eq!(resp.status(), 204);
    let expires = resp.headers()["upload-expires"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(expires.ends_with("GMT"), "{expires}");
    let partial = edge
        .server
        .data_path()
        .join(format!("objects/partial/uploads/{id}/source"));
    assert!(partial.exists());

    // Expired: refused at once, then swept (bytes and video row).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = edge.patch(&path, &token, 50, vec![7; 50]).await;
    assert_eq!(resp.status(), 410);
    assert_eq!(error_code(resp).await, "upload_expired");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM videos WHERE id = $1")
            .bind(&id)
            .fetch_one(&edge.data.db.pool)
            .await
            .unwrap();
        if rows == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not swept");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!partial.exists());
    assert_eq!(
        edge.tus(Method::HEAD, &path, &token)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert!(edge.server.log().contains("swept expired uploads"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tus_upload_resumes_after_a_server_crash() {
    let edge = Edge::start(TestServer::builder().arg("--workers").arg("0")).await;
    let (_, course, token) = edge.creator().await;
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 2, 400_000);
    let path = edge.new_upload(&token, &course, video.len() as u64).await;
    let third = video.len() / 3;
    assert_eq!(
        edge.patch(&path, &token, 0, video[..third].to_vec())
            .await
            .status(),
        204
    );

    let Edge { server, data, .. } = edge;
    drop(data);
    let dir = server.crash();
    let edge = Edge::start(
        TestServer::builder()
            .arg("--workers")
            .arg("0")
            .data_dir(dir),
    )
    .await;
    assert_eq!(edge.offset(&path, &token).await, third as u64);
    let resp = edge
        .patch(&path, &token, third as u64, video[third..].to_vec())
        .await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    let id = path.rsplit('/').next().unwrap();
    assert_eq!(edge.data.video_status(id).await.0, "queued");
    let key = sealcast::storage::ObjectKey::new(format!("uploads/{id}/source")).unwrap();
    let body = edge.data.store.get(&key, None).await.unwrap();
    let stored = sealcast::storage::collect(body.stream, 64 << 20)
        .await
        .unwrap();
    assert_eq!(
        edge_support::sha256_hex(&stored),
        edge_support::sha256_hex(&video)
    );
}
