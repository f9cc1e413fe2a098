//! A disk that really fills: a tmpfs of a few MiB in the server's own user
//! and mount namespace (no root needed; see `ServerBuilder::small_disk`).
//!
//! An upload that hits the full object store answers 507
//! `insufficient_storage`, acknowledges nothing it did not store and
//! publishes nothing, while the server keeps serving what is ready; once the
//! failed upload is terminated its space is back and uploads work again, no
//! restart. A SQLite database on a full disk answers the same 507 (never a
//! 500 with SQLite's message) and writes again once space is freed.

mod common;

use std::io::Write;
use std::path::Path;

use common::api::upload_id;
use common::{assert_error, hls, Api, TestApp, PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

/// Bytes free on the filesystem holding `path` (`stat -f`, which follows a
/// `/proc/<pid>/root` path into the server's mount namespace).
fn free_bytes(path: &Path) -> u64 {
    let out = std::process::Command::new("stat")
        .args(["-f", "-c", "%a %S"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (blocks, size) = text.trim().split_once(' ').unwrap();
    blocks.parse::<u64>().unwrap() * size.parse::<u64>().unwrap()
}

/// What a learner's player fetched: the master, the first variant and its
/// first segment, each URL with the bytes it answered.
#[derive(Debug, PartialEq)]
struct Played(Vec<(String, Vec<u8>)>);

impl Played {
    async fn fetch(api: &Api, master_url: &str) -> Played {
        let get = |url: String| async move {
            let resp = api.anonymous_get(&url).await;
            assert_eq!(resp.status(), 200, "{url}");
            (url, resp.body_bytes().to_vec())
        };
        let master = get(master_url.to_string()).await;
        let variant_url = hls::resolve(
            master_url,
            &hls::master(std::str::from_utf8(&master.1).unwrap()).variants[0].uri,
        );
        let variant = get(variant_url.clone()).await;
        let segment_url = hls::resolve(
            &variant_url,
            &hls::media(std::str::from_utf8(&variant.1).unwrap()).segments[0].uri,
        );
        let segment = get(segment_url).await;
        assert!(!segment.1.is_empty());
        Played(vec![master, variant, segment])
    }
}

/// The error envelope of a full disk: 507, a request id, and nothing of the
/// server's paths or the OS's words.
async fn assert_insufficient_storage(resp: common::Response, data_dir: &Path) -> Value {
    assert!(resp.headers().get("retry-after").is_none());
    let body = assert_error(resp, 507, "insufficient_storage").await;
    assert!(
        !body["error"]["request_id"].as_str().unwrap().is_empty(),
        "{body}"
    );
    let text = body.to_string();
    for leak in [
        data_dir.to_str().unwrap(),
        "/tmp",
        "os error",
        "No space",
        "database or disk",
    ] {
        assert!(!text.contains(leak), "{leak:?} in {body}");
    }
    body
}

const MIB: u64 = 1 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_object_store_is_507_reads_go_on_and_space_comes_back() {
    // The local object store fills; the database (SQLite in the data dir,
    // or the suite's PostgreSQL) stays on a disk with room.
    let app = TestApp::init()
        .fast_transcodes()
        .small_disk("objects", 16)
        .app()
        .await;
    let api = &app.api;
    let cast = app.cast().await;
    let token = cast.creator.token.clone();
    let video = app.ready_video(&cast.creator, &cast.course).await;
    let session = app.playback(&cast.learner, &video.id).await;
    let before = Played::fetch(api, &session.master_url).await;

    // One PATCH longer than the room left on the disk.
    let disk = app.data_path().join("objects");
    let free = free_bytes(&disk);
    assert!(free > 8 * MIB && free < 16 * MIB, "{free} bytes free");
    let body_len = free + 4 * MIB;
    let path = api.new_upload(&token, &cast.course, body_len + MIB).await;
    let id = upload_id(&path);
    let resp = api
        .patch(&path, &token, 0, vec![0x5a; body_len as usize])
        .await;
    assert_insufficient_storage(resp, &app.data_path()).await;

    // The upload acknowledges no byte past what is on the disk, and nothing
    // was published: no source object, no video on its way to ready.
    let offset = api.offset(&path, &token).await;
    let partial = disk.join(format!("partial/uploads/{id}/source"));
    let on_disk = std::fs::metadata(&partial).map_or(0, |m| m.len());
    assert!(
        offset <= on_disk,
        "offset {offset}, {on_disk} bytes on disk"
    );
    assert!(offset < free, "offset {offset} with {free} bytes free");
    assert!(!disk.join(format!("objects/uploads/{id}/source")).exists());
    assert_eq!(app.video_status(&id, &token).await, "uploading");

    // Reads go on: the ready video plays byte for byte as before.
    assert_eq!(Played::fetch(api, &session.master_url).await, before);
    assert_eq!(api.anonymous_get("/healthz").await.status(), 200);
    assert_eq!(app.video_status(&video.id, &token).await, "ready");

    // Terminating the failed upload gives its space back; the next upload
    // goes all the way to ready and plays, without a restart.
    let resp = api.send(api.tus(Method::DELETE, &path, &token)).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(api.head_status(&path, &token).await, 404);
    assert!(!partial.exists());
    let free_again = free_bytes(&disk);
    assert!(
        free_again + MIB / 4 >= free,
        "{free_again} of {free} free again"
    );
    let again = app.ready_video(&cast.creator, &cast.course).await;
    let session = app.playback(&cast.learner, &again.id).await;
    Played::fetch(api, &session.master_url).await;
}

/// Fills the filesystem of `path` from outside the server, to the last block.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; MIB as usize];
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(err) if err.kind() == std::io::ErrorKind::StorageFull => break,
            Err(err) => panic!("filling {}: {err}", path.display()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_is_507_and_writes_again_once_space_is_freed() {
    // The subject is SQLite's own file on the full disk: SQLite on every run.
    let app = TestApp::init().sqlite().small_disk("", 8).app().await;
    let api = &app.api;
    let (creator, _course) = app.creator_with_course().await;
    let data = app.data_path();
    let filler = data.join("filler");
    fill(&filler);
    assert!(free_bytes(&data) < 4096, "{} bytes free", free_bytes(&data));

    // Writes that need room in the database are refused with the envelope.
    let resp = api
        .post(
            "/api/v1/courses",
            &creator.token,
            json!({ "title": "Full" }),
        )
        .await;
    assert_insufficient_storage(resp, &data).await;
    let resp = api.try_login(&creator.email, PASSWORD).await;
    assert_insufficient_storage(resp, &data).await;

    // Reads go on.
    assert_eq!(api.anonymous_get("/healthz").await.status(), 200);
    let courses = api.get("/api/v1/courses", &creator.token).await;
    assert_eq!(courses.status(), 200);

    // Space freed, the same server writes again.
    std::fs::remove_file(&filler).unwrap();
    let resp = api.try_login(&creator.email, PASSWORD).await;
    assert_eq!(resp.status(), 200);
    api.course(&creator.token).await;
    let log = app.server().log();
    assert!(!log.contains("panicked"), "{log}");
}
