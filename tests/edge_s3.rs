//! Resumable uploads on both storage backends: one conformance suite for the
//! append/commit/rollback/finish/abort API on local disk and on a real Garage
//! S3, and the tus server on Garage (one multipart upload per upload,
//! resumed across a crash, checksum rollback, expiry aborting the multipart).

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use common::api::{header_u64, location, upload_id};
use common::media::{sha256_hex, video_bytes};
use common::{error_code, eventually, TestApp};
use reqwest::Method;
use sealcast::storage::{
    collect, ByteStream, Checkpoints, FsStore, ObjectKey, ObjectPrefix, ObjectStore, S3Credentials,
    S3Settings, S3Store, UploadProgress,
};
use sha1::Digest;

use common::Garage;

const MIB: usize = 1024 * 1024;

fn chunks(bytes: &[u8], chunk: usize) -> ByteStream {
    let parts: Vec<std::io::Result<Bytes>> = bytes
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(parts))
}

/// A body that delivers `good` bytes, then fails (a dropped connection).
fn broken(bytes: &[u8], good: usize) -> ByteStream {
    let mut parts: Vec<std::io::Result<Bytes>> = bytes[..good]
        .chunks(64 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    parts.push(Err(std::io::Error::other("connection reset")));
    Box::pin(futures::stream::iter(parts))
}

async fn read(store: &dyn ObjectStore, key: &ObjectKey) -> Vec<u8> {
    let body = store.get(key, None).await.unwrap();
    collect(body.stream, 64 << 20).await.unwrap()
}

async fn resumable_conformance(store: Arc<dyn ObjectStore>, part: usize) {
    let data: Vec<u8> = (0..(2 * part + part / 2 + 123))
        .map(|i| (i * 31 % 251) as u8)
        .collect();
    let key = ObjectKey::new("uploads/conf/source").unwrap();
    let p0 = store.begin_upload(&key, data.len() as u64).await.unwrap();
    assert_eq!(p0.offset, 0);

    // Less than a part, then a dropped connection that still counts.
    let a = store
        .append_upload(&key, &p0, chunks(&data[..1000], 300))
        .await
        .unwrap();
    assert!(a.body_error.is_none());
    assert_eq!(a.progress.offset, 1000);
    store.commit_append(&key, &p0, &a.progress).await;
    let p1 = a.progress;
    let b = store
        .append_upload(&key, &p1, broken(&data[1000..], part))
        .await
        .unwrap();
    assert!(b.body_error.is_some());
    assert_eq!(b.progress.offset, 1000 + part as u64);
    store.commit_append(&key, &p1, &b.progress).await;
    let p2 = b.progress;

    // A refused append (e.g. bad checksum) leaves everything as it was.
    let end = p2.offset as usize + part + 77;
    let c = store
        .append_upload(&key, &p2, chunks(&data[p2.offset as usize..end], 100_000))
        .await
        .unwrap();
    assert_eq!(c.progress.offset, end as u64);
    store.rollback_append(&key, &p2, &c.progress).await;

    // The rest, in odd chunks, from the state before the refused append.
    let d = store
        .append_upload(&key, &p2, chunks(&data[p2.offset as usize..], 70_001))
        .await
        .unwrap();
    assert!(d.progress.is_complete());
    store.commit_append(&key, &p2, &d.progress).await;
    assert!(
        store.head(&key).await.unwrap().is_none(),
        "not visible before finish"
    );
    store.finish_upload(&key, &d.progress).await.unwrap();
    assert_eq!(read(store.as_ref(), &key).await, data);
    // Only the object remains: no side objects.
    let left = store
        .list(&ObjectPrefix::new("uploads/conf/").unwrap())
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "{left:?}");

    // Abort throws an unfinished upload away.
    let key2 = ObjectKey::new("uploads/conf2/source").unwrap();
    let q0 = store.begin_upload(&key2, 10 * part as u64).await.unwrap();
    let e = store
        .append_upload(&key2, &q0, chunks(&data[..part + 10], 65536))
        .await
        .unwrap();
    store.commit_append(&key2, &q0, &e.progress).await;
    store.abort_upload(&key2, &e.progress).await.unwrap();
    assert!(store
        .list(&ObjectPrefix::new("uploads/conf2/").unwrap())
        .await
        .unwrap()
        .is_empty());

    // An empty upload finishes as an empty object.
    let key3 = ObjectKey::new("uploads/conf3/source").unwrap();
    let z = store.begin_upload(&key3, 0).await.unwrap();
    store.finish_upload(&key3, &z).await.unwrap();
    assert!(read(store.as_ref(), &key3).await.is_empty());
}

/// A long append checkpoints what it made durable (the local disk every
/// `part` bytes, S3 at each part); a crash right after the last checkpoint
/// resumes from it, and bytes written past it are written again.
async fn checkpoint_conformance(store: Arc<dyn ObjectStore>, part: usize) {
    let data: Vec<u8> = (0..(3 * part + 10)).map(|i| (i * 7 % 253) as u8).collect();
    let key = ObjectKey::new("uploads/ckpt/source").unwrap();
    let p0 = store.begin_upload(&key, data.len() as u64).await.unwrap();
    let (tx, rx) = tokio::sync::watch::channel(p0.clone());
    let sent = &data[..3 * part + 5];
    let a = store
        .append_checkpointed(
            &key,
            &p0,
            chunks(sent, 65536),
            Checkpoints::every(part as u64, tx),
        )
        .await
        .unwrap();
    assert_eq!(a.progress.offset, sent.len() as u64);
    // The crash: the append's end is never recorded, its last checkpoint is.
    let checkpoint = rx.borrow().clone();
    assert_eq!(checkpoint.offset, 3 * part as u64, "{checkpoint:?}");
    let b = store
        .append_upload(&key, &checkpoint, chunks(&data[3 * part..], 4))
        .await
        .unwrap();
    assert!(b.progress.is_complete());
    store.commit_append(&key, &checkpoint, &b.progress).await;
    store.finish_upload(&key, &b.progress).await.unwrap();
    assert_eq!(read(store.as_ref(), &key).await, data);
}

#[tokio::test]
async fn resumable_storage_conforms_on_local_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::open(tmp.path()).await.unwrap());
    resumable_conformance(store.clone(), 5 * MIB).await;
    checkpoint_conformance(store, 5 * MIB).await;
}

async fn garage_store(garage: &Garage, prefix: &str) -> S3Store {
    let settings = S3Settings {
        bucket: garage.bucket.clone(),
        prefix: prefix.into(),
        endpoint: Some(garage.endpoint.clone()),
        region: "garage".into(),
        part_size: 5 * MIB,
        part_concurrency: 2,
    };
    let creds = S3Credentials::new(&garage.access_key, &garage.secret_key, None, None, "test");
    S3Store::connect_with(settings, Some(creds)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_resumable_storage_conforms_on_garage() {
    let garage = tokio::task::spawn_blocking(Garage::start).await.unwrap();
    let store = Arc::new(garage_store(&garage, "resumable").await);
    resumable_conformance(store.clone(), 5 * MIB).await;
    checkpoint_conformance(store.clone(), 5 * MIB).await;
    assert_eq!(store.open_multipart_uploads("uploads/").await.unwrap(), 0);
    // Parts really are S3 parts: progress records them.
    let key = ObjectKey::new("uploads/p/source").unwrap();
    let data = vec![9u8; 11 * MIB];
    let p = store.begin_upload(&key, data.len() as u64).await.unwrap();
    let a = store
        .append_upload(&key, &p, chunks(&data, MIB))
        .await
        .unwrap();
    let sizes: Vec<u64> = a.progress.parts.iter().map(|x| x.size).collect();
    assert_eq!(sizes.len(), 3, "{sizes:?}");
    assert!(sizes[..2].iter().all(|s| *s >= 5 * MIB as u64));
    store.commit_append(&key, &p, &a.progress).await;
    store.finish_upload(&key, &a.progress).await.unwrap();
    assert_eq!(read(store.as_ref(), &key).await.len(), data.len());
    let _ = UploadProgress::default();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_tus_upload_resumes_across_a_crash_on_garage() {
    let garage = tokio::task::spawn_blocking(Garage::start).await.unwrap();
    let builder = || {
        TestApp::init()
            .garage(&garage)
            .no_workers()
            .flag("--s3-part-size-mib", 5)
    };
    let app = builder().app().await;
    let api = &app.api;
    let view = garage_store(&garage, "server-test").await;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 3, 12 * MIB);
    let path = api.new_upload(&token, &course, video.len() as u64).await;
    let id = upload_id(&path);
    assert_eq!(
        view.open_multipart_uploads(&format!("uploads/{id}/"))
            .await
            .unwrap(),
        1
    );

    // 3 MB: less than a part, kept in a side object.
    let first = 3_000_000;
    assert_eq!(
        api.patch(&path, &token, 0, video[..first].to_vec())
            .await
            .status(),
        204
    );
    let side = view
        .list(&ObjectPrefix::new(format!("uploads/{id}/")).unwrap())
        .await
        .unwrap();
    assert_eq!(side.len(), 1, "{side:?}");
    assert!(side[0].key.contains(".pending-0-3000000"), "{side:?}");

    // A wrong checksum on the next 5 MB: 460, offset unchanged.
    let second = first + 5_000_000;
    let wrong = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(b"x"));
    let resp = api
        .send(
            api.tus(Method::PATCH, &path, &token)
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", first.to_string())
                .header("upload-checksum", format!("sha1 {wrong}"))
                .body(video[first..second].to_vec()),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 460);
    assert_eq!(error_code(resp).await, "checksum_mismatch");
    assert_eq!(api.offset(&path, &token).await, first as u64);
    let resp = api
        .patch(&path, &token, first as u64, video[first..second].to_vec())
        .await;
    assert_eq!(header_u64(&resp, "upload-offset"), second as u64);

    // Crash; a new server process (as on another node) goes on.
    let dir = app.into_server().crash();
    let server = builder().data_dir(dir).start();
    let api = common::Api::new(&server);
    assert_eq!(api.offset(&path, &token).await, second as u64);
    let resp = api
        .patch(&path, &token, second as u64, video[second..].to_vec())
        .await;
    assert_eq!(resp.status(), 204, "{}", server.log());
    assert_eq!(api.video(&id, &token).await["status"], "queued");
    let key = ObjectKey::new(format!("uploads/{id}/source")).unwrap();
    assert_eq!(sha256_hex(&read(&view, &key).await), sha256_hex(&video));
    let left = view
        .list(&ObjectPrefix::new(format!("uploads/{id}/")).unwrap())
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "only the source: {left:?}");
    assert_eq!(view.open_multipart_uploads("uploads/").await.unwrap(), 0);
}

/// Uploads on Garage expire after 1 s; the sweeper runs only as a server
/// starts (then a day later), so a restart is the sweep and nothing races it.
fn sweeps_only_at_start(garage: &Garage) -> common::ServerBuilder {
    TestApp::init()
        .garage(garage)
        .no_workers()
        .flag("--upload-expiry-secs", 1)
        .flag("--upload-sweep-secs", 86_400)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_expired_upload_is_swept_with_its_multipart_upload() {
    let garage = tokio::task::spawn_blocking(Garage::start).await.unwrap();
    let app = sweeps_only_at_start(&garage).app().await;
    let api = &app.api;
    let view = garage_store(&garage, "server-test").await;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    // Created holding one part and a bit in one request: no PATCH races the expiry.
    let resp = api
        .send(
            api.tus(Method::POST, "/api/v1/uploads", &token)
                .header("upload-length", "20000000")
                .header(
                    "upload-metadata",
                    common::api::metadata(&[("course_id", &course)]),
                )
                .header("content-type", "application/offset+octet-stream")
                .body(vec![5; 6 * MIB + 100]),
        )
        .await;
    assert_eq!(resp.status(), 201);
    assert_eq!(header_u64(&resp, "upload-offset"), (6 * MIB + 100) as u64);
    let path = location(&resp);
    let id = upload_id(&path);
    assert_eq!(view.open_multipart_uploads("uploads/").await.unwrap(), 1);
    assert!(!view
        .list(&ObjectPrefix::new(format!("uploads/{id}/")).unwrap())
        .await
        .unwrap()
        .is_empty());
    eventually(Duration::from_secs(30), "the upload expires", || async {
        (api.head_status(&path, &token).await == 410).then_some(())
    })
    .await;
    assert_eq!(
        view.open_multipart_uploads("uploads/").await.unwrap(),
        1,
        "nothing swept before the next start"
    );

    let dir = app.into_server().crash();
    let server = sweeps_only_at_start(&garage).data_dir(dir).start();
    let api = common::Api::new(&server);
    eventually(
        Duration::from_secs(30),
        "the multipart upload is aborted",
        || async { (view.open_multipart_uploads("uploads/").await.unwrap() == 0).then_some(()) },
    )
    .await;
    eventually(Duration::from_secs(30), "the upload is swept", || async {
        (api.head_status(&path, &token).await == 404).then_some(())
    })
    .await;
    assert!(view
        .list(&ObjectPrefix::new(format!("uploads/{id}/")).unwrap())
        .await
        .unwrap()
        .is_empty());
}
