//! sealcast scaled out on loopback, as an operator runs it: one PostgreSQL,
//! one Garage bucket, one key server, two edges and two workers, each its
//! own process with its own data dir. Secrets reach the nodes as files
//! (`*_FILE`), and only the key server is given the master private key; the
//! edges forward `/keys/` to it (`--keyserver-url`, the documented default).
//!
//! One upload crosses edges, its transcode survives the SIGKILL of the worker
//! running it, the ffmpeg CLI plays it through the other edge, a revocation
//! on one edge bites the next key request on the other, and no edge or
//! worker ever held the master private key.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::media::{copies_of, ffmpeg_play, make_video, sha256_hex};
use common::procfs::{self, sandboxed_job};
use common::{assert_error, eventually, Api, Garage, Postgres, ServerBuilder, TestApp, TestServer};
use serde_json::json;

/// The secrets every edge and worker is handed, copied from the key server's
/// generated ones: the URL-signing secret, the token signing key and the
/// custody *public* key. Never the master private key.
struct SharedSecrets {
    dir: tempfile::TempDir,
}

impl SharedSecrets {
    fn from_keyserver(keyserver: &Path) -> SharedSecrets {
        let dir = tempfile::tempdir().unwrap();
        let secrets = keyserver.join("secrets");
        let signing_key = std::fs::read_dir(secrets.join("signing-keys"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "pem"))
            .expect("the key server generated a signing key");
        for (from, to) in [
            (secrets.join("url-signing.key"), "url-signing.key"),
            (signing_key, "signing.pem"),
            (secrets.join("master.pub"), "master.pub"),
        ] {
            // std::fs::copy keeps the 0600 mode the server requires.
            std::fs::copy(&from, dir.path().join(to)).unwrap();
        }
        SharedSecrets { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Every node: PostgreSQL, the Garage bucket, small fast transcodes, and
/// login limits out of the way (the test logs in many times from one address).
fn node(pg: &Postgres, garage: &Garage, roles: &str) -> ServerBuilder {
    TestApp::init()
        .postgres(pg)
        .garage(garage)
        .roles(roles)
        .flag("--transcode-rungs", "240,144")
        .flag("--segment-seconds", 2)
        .flag("--rotate-every", 2)
        .flag("--x264-preset", "ultrafast")
        .flag("--job-lease-secs", 3)
}

/// An edge or a worker: the shared secrets as files, no master key.
fn node_with(secrets: &SharedSecrets, builder: ServerBuilder) -> ServerBuilder {
    builder
        .env(
            "SEALCAST_URL_SIGNING_SECRET_FILE",
            secrets.path("url-signing.key").display().to_string(),
        )
        .env(
            "SEALCAST_SIGNING_KEY_FILE",
            secrets.path("signing.pem").display().to_string(),
        )
        .env(
            "SEALCAST_MASTER_PUBLIC_KEY_FILE",
            secrets.path("master.pub").display().to_string(),
        )
}

/// The job row of `video`: (status, attempts).
async fn job_of(pg: &Postgres, video: &str) -> (String, i64) {
    let db = sealcast::db::Db::connect(&pg.url).await.unwrap();
    sqlx::query_as("SELECT status, attempts FROM transcode_jobs WHERE video_id = $1")
        .bind(video)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// Neither `server`'s data dir, nor its environment, nor its arguments hold
/// the master private key (its base64 text or its path).
fn never_had_the_master_key(server: &TestServer, master_text: &str, master_path: &Path) {
    let pid = server.child.id();
    let data = server.data_path();
    for file in procfs::files_under(&data) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(master_text),
            "{} holds the master key",
            file.display()
        );
        assert_ne!(file.file_name().unwrap(), "master.key", "{file:?}");
    }
    let master_path = master_path.display().to_string();
    for entry in procfs::environ(pid).into_iter().chain(procfs::cmdline(pid)) {
        assert!(
            !entry.contains(master_text) && !entry.contains(&master_path),
            "process {pid} was given the master key: {entry}"
        );
        assert!(!entry.starts_with("SEALCAST_MASTER_KEY_FILE="), "{entry}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_of_edges_workers_and_a_key_server_shares_one_upload_job_and_revocation() {
    let pg = Postgres::start();
    let garage = Garage::start();
    // The key server first: it generates the secrets and publishes master.pub.
    let keyserver = node(&pg, &garage, "keyserver")
        .flag("--trusted-proxies", "127.0.0.1")
        .start();
    let ks_data = keyserver.data_path();
    let master_path = ks_data.join("secrets/master.key");
    let master_text = std::fs::read_to_string(&master_path).unwrap();
    let master_text = master_text.trim();
    let secrets = SharedSecrets::from_keyserver(&ks_data);
    let edge = || {
        let b = node(&pg, &garage, "edge").flag("--keyserver-url", &keyserver.base_url);
        node_with(&secrets, b).start()
    };
    let edge_a = TestApp::on(edge()).await;
    let edge_b = edge();
    let api_a = &edge_a.api;
    let api_b = Api::new(&edge_b);
    let workers: Vec<TestServer> = (0..2)
        .map(|_| node_with(&secrets, node(&pg, &garage, "worker")).start())
        .collect();

    // Users and a course through edge A; the learner logs in on edge B.
    let (creator, course) = edge_a.creator_with_course().await;
    let learner = edge_a.learner_in(&course).await;
    let learner_b = api_b.login(&learner.email).await;

    // One upload, half through each edge.
    let source = make_video(edge_a.scratch.path(), "long.mp4", 40, "320x240");
    let bytes = std::fs::read(&source).unwrap();
    let sha = sha256_hex(&bytes);
    let half = bytes.len() / 2;
    let path = api_a
        .new_upload(&creator.token, &course, bytes.len() as u64)
        .await;
    let first = api_a
        .patch(&path, &creator.token, 0, bytes[..half].to_vec())
        .await;
    assert_eq!(first.status(), 204);
    assert_eq!(api_b.offset(&path, &creator.token).await, half as u64);
    let rest = api_b
        .patch(&path, &creator.token, half as u64, bytes[half..].to_vec())
        .await;
    assert_eq!(rest.status(), 204);
    let video = common::api::upload_id(&path);

    // The worker that claimed the job runs it sandboxed on a copy of exactly
    // the uploaded bytes (so the object the edges assembled in S3 is whole).
    let (index, job_pid, copy) = eventually(
        Duration::from_secs(120),
        "a worker runs the job",
        || async {
            workers.iter().enumerate().find_map(|(i, w)| {
                sandboxed_job(w.child.id(), &video).map(|(pid, copy)| (i, pid, copy))
            })
        },
    )
    .await;
    let killed_data = workers[index].data_path();
    assert_eq!(copies_of(&killed_data, &sha), vec![copy.clone()]);

    // SIGKILL that worker mid-job: the other one finishes it once the lease runs out.
    let mut workers = workers;
    let killed = workers.remove(index);
    let killed_dir = killed.crash();
    assert_ne!(job_of(&pg, &video).await.0, "done", "killed mid-job");
    eventually(
        Duration::from_secs(10),
        "the job dies with its worker",
        || async { procfs::is_dead(job_pid).then_some(()) },
    )
    .await;
    let settled = edge_a.settled(&video, &creator.token).await;
    assert_eq!(settled["status"], "ready", "{settled}");
    assert_eq!(job_of(&pg, &video).await, ("done".to_string(), 2));
    // The killed worker's copy stays until it is swept: restarted on its
    // disk, the worker removes it at start.
    let restarted = node_with(&secrets, node(&pg, &garage, "worker"))
        .data_dir(killed_dir)
        .start();
    eventually(
        Duration::from_secs(30),
        "the stale copy is swept",
        || async {
            copies_of(&restarted.data_path(), &sha)
                .is_empty()
                .then_some(())
        },
    )
    .await;

    // Play through edge B: playlists and segments from B, keys forwarded by B
    // to the key server; the ffmpeg CLI decodes all of it.
    let playback = api_b.playback(&learner_b.token, &video).await;
    let frames = ffmpeg_play(&api_b.url(&playback.master_url), &learner_b.token);
    assert!(frames >= 900, "40 s at 25 fps plus audio: {frames} frames");

    // Revoke the session on edge A: the next key request through edge B is
    // denied. Twice first: the key server may answer the second from its cache.
    let segments = common::hls::segments(&api_b, &playback.master_url).await;
    let key_url = &segments[0].key_uri;
    for _ in 0..2 {
        assert_eq!(
            api_b.key(key_url, Some(&learner_b.token)).await.status(),
            200
        );
    }
    let revoked = api_a
        .revoke(
            &edge_a.admin.token,
            json!({"session_id": playback.session_id}),
        )
        .await;
    assert_eq!(revoked["sessions_ended"], 1);
    // Once the key server has heard of it (by NOTIFY), the very next request.
    Api::new(&keyserver)
        .heard_revocation(api_a.revocation_epoch().await)
        .await;
    assert_error(
        api_b.key(key_url, Some(&learner_b.token)).await,
        403,
        "session_revoked",
    )
    .await;

    // Only the key server ever had the master private key.
    for server in [edge_a.server(), &edge_b, &workers[0], &restarted] {
        never_had_the_master_key(server, master_text, &master_path);
    }

    // A second key server given the cluster's secrets but another master key
    // refuses to start, instead of failing every key it would be asked for.
    let stranger = tempfile::tempdir().unwrap();
    let mut second = common::sealcast_command()
        .env(
            "SEALCAST_URL_SIGNING_SECRET_FILE",
            secrets.path("url-signing.key"),
        )
        .args(["serve", "--listen", "127.0.0.1:0", "--roles", "keyserver"])
        .arg("--data-dir")
        .arg(stranger.path())
        .args(["--database-url", &pg.url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = common::server::wait_with_timeout(&mut second, Duration::from_secs(60));
    let _ = second.kill();
    let mut stderr = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        status.is_some_and(|s| !s.success()),
        "a key server with a foreign master key started: {status:?} {stderr}"
    );
    assert!(
        stderr.contains("opens none of the stored content keys"),
        "{stderr}"
    );
    assert!(!stderr.contains(master_text));
}
