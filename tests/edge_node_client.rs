//! The official tus-js-client, run by Node, against the real server: it is
//! killed mid-upload, a new client process (with a fresh access token)
//! resumes, and the stored object is byte-identical (SHA-256), on local disk
//! and on Garage S3. `scripts/setup.sh --test` installs the client (`npm ci`
//! in tests/node).

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::api::{login_from, upload_id};
use common::media::{sha256_hex, video_bytes};
use common::{AtRest, Garage, TestApp};
use sealcast::storage::{collect, ObjectKey, ObjectStore, S3Credentials, S3Settings, S3Store};

fn node_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
    assert!(
        dir.join("node_modules/tus-js-client").is_dir(),
        "tus-js-client is not installed: run `scripts/setup.sh --test` (npm ci in tests/node)"
    );
    dir
}

struct Run {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

fn run_client(
    app: &TestApp,
    file: &Path,
    store: &Path,
    token: &str,
    course: &str,
    kill_at: Option<u64>,
) -> Run {
    let dir = node_dir();
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir)
        .arg("upload.mjs")
        .args(["--endpoint", &app.url("/api/v1/uploads")])
        .args(["--file", file.to_str().unwrap()])
        .args(["--token", token])
        .args(["--course", course])
        .args(["--store", store.to_str().unwrap()]);
    if let Some(n) = kill_at {
        // 1 MiB PATCHes, so the kill lands with most of the file unsent
        // (one big PATCH on loopback is all in the socket buffers at once).
        cmd.args([
            "--kill-at",
            &n.to_string(),
            "--chunk",
            &(1 << 20).to_string(),
        ]);
    }
    let out = cmd.output().expect("node is required by the tests");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Kills a client mid-way, resumes with another process; returns the video id.
async fn kill_and_resume(app: &TestApp, video: &[u8], dir: &Path) -> String {
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let file = dir.join("lecture.mp4");
    std::fs::write(&file, video).unwrap();
    let state = dir.join("tus-state.json");

    let first = run_client(
        app,
        &file,
        &state,
        &token,
        &course,
        Some(video.len() as u64 * 2 / 5),
    );
    assert_eq!(
        first.status.signal(),
        Some(9),
        "killed mid-way: {}\n{}",
        first.stdout,
        first.stderr
    );
    let url = first
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("url "))
        .unwrap_or_else(|| panic!("no upload url: {}", first.stdout))
        .to_string();
    let path = url.trim_start_matches(&app.server().base_url).to_string();
    let id = upload_id(&path);
    assert_eq!(app.video_status(&id, &token).await, "uploading");
    let offset = api.offset(&path, &token).await;
    assert!(
        offset > 0 && offset < video.len() as u64,
        "stopped at {offset}"
    );

    // A new process, a new token of the same user (after a refresh).
    let token2 = login_from(api.refresh(&creator.refresh_cookie).await)
        .await
        .token;
    assert_ne!(token2, token);
    let second = run_client(app, &file, &state, &token2, &course, None);
    assert!(
        second.status.success(),
        "{}\n{}\n{}",
        second.stdout,
        second.stderr,
        app.server().log()
    );
    assert!(
        second.stdout.contains(&format!("resuming {url}")),
        "{}",
        second.stdout
    );
    assert!(
        second.stdout.contains(&format!("done {url}")),
        "{}",
        second.stdout
    );
    // It really resumed: its first progress report starts past zero.
    let resumed_from: u64 = second
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("progress "))
        .and_then(|p| p.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(resumed_from > 0, "{}", second.stdout);
    assert_eq!(app.video_status(&id, &token2).await, "queued");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_tus_client_resumes_after_being_killed_on_local_disk() {
    let app = TestApp::init().no_workers().app().await;
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 3, 12 << 20);
    let id = kill_and_resume(&app, &video, tmp.path()).await;
    // Byte-identical at rest.
    let stored = AtRest::of(app.server())
        .await
        .object(&format!("uploads/{id}/source"))
        .await;
    assert_eq!(sha256_hex(&stored), sha256_hex(&video));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_tus_client_resumes_after_being_killed_on_garage_s3() {
    let garage = tokio::task::spawn_blocking(Garage::start).await.unwrap();
    let app = TestApp::init()
        .garage(&garage)
        .no_workers()
        .flag("--s3-part-size-mib", 5)
        .app()
        .await;
    let tmp = tempfile::tempdir().unwrap();
    let video = video_bytes(tmp.path(), 3, 12 << 20);
    let id = kill_and_resume(&app, &video, tmp.path()).await;
    let settings = S3Settings {
        bucket: garage.bucket.clone(),
        prefix: "server-test".into(),
        endpoint: Some(garage.endpoint.clone()),
        region: "garage".into(),
        part_size: 5 << 20,
        part_concurrency: 2,
    };
    let creds = S3Credentials::new(&garage.access_key, &garage.secret_key, None, None, "test");
    let view = S3Store::connect_with(settings, Some(creds)).await;
    let key = ObjectKey::new(format!("uploads/{id}/source")).unwrap();
    let body = view.get(&key, None).await.unwrap();
    let stored = collect(body.stream, 64 << 20).await.unwrap();
    assert_eq!(sha256_hex(&stored), sha256_hex(&video));
    assert_eq!(view.open_multipart_uploads("uploads/").await.unwrap(), 0);
}
