//! A transcode job's process is a sandboxed, pure media transform, and no
//! copy of the raw upload outlives it: not even when its server is killed.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::media::{copies_of, make_video, sha256_hex};
use common::procfs::{self, sandboxed_job};
use common::{eventually, TestApp};

fn fast_server() -> common::ServerBuilder {
    TestApp::init()
        .flag("--transcode-rungs", "240,144")
        .flag("--segment-seconds", 2)
        .flag("--rotate-every", 2)
        .flag("--x264-preset", "ultrafast")
        .flag("--job-lease-secs", 3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_leaves_no_copy_of_the_upload_and_its_job_ran_sandboxed() {
    let first = fast_server().app().await;
    let source = make_video(first.scratch.path(), "long.mp4", 40, "320x240");
    let sha = sha256_hex(&std::fs::read(&source).unwrap());
    let (creator, course) = first.creator_with_course().await;
    let bytes = std::fs::read(&source).unwrap();
    let video = first
        .api
        .upload(&creator.token, &course, &bytes, 1 << 20)
        .await;
    let data = first.server().data_path();
    let server_pid = first.server().child.id();

    eventually(Duration::from_secs(60), "the job is processing", || async {
        (first.video_status(&video, &creator.token).await == "processing").then_some(())
    })
    .await;
    let (job, work_copy) = eventually(
        Duration::from_secs(60),
        "the sandboxed job process",
        || async { sandboxed_job(server_pid, &video) },
    )
    .await;

    // The job process: no privileges to gain, no server environment, and
    // nothing open of the data dir but its own copy of the upload.
    assert_eq!(
        procfs::status_field(job, "NoNewPrivs").as_deref(),
        Some("1")
    );
    let env = procfs::env_names(job);
    assert!(
        !env.iter()
            .any(|n| n.starts_with("SEALCAST_") || n.starts_with("AWS_")),
        "the job's environment: {env:?}"
    );
    let open = procfs::open_files(job);
    for file in &open {
        let name = file.to_string_lossy();
        assert!(!name.starts_with("socket:"), "a socket: {open:?}");
        assert!(
            !file.starts_with(&data) || file == &work_copy,
            "the job holds {file:?} of the data dir: {open:?}"
        );
    }
    assert!(work_copy.starts_with(data.join("work")), "{work_copy:?}");
    assert_eq!(copies_of(&data.join("work"), &sha), vec![work_copy.clone()]);

    // Kill the server: the job dies with it, its copy stays until a sweep.
    let data_dir = first.into_server().crash();
    eventually(
        Duration::from_secs(10),
        "the job process dies with its server",
        || async { procfs::is_dead(job).then_some(()) },
    )
    .await;
    assert!(work_copy.exists(), "nothing ran to remove it yet");

    // The restarted server sweeps the dead server's work dir at start, then
    // takes the job up again; it reaches `ready` under the sandbox.
    let second = TestApp::on(fast_server().data_dir(data_dir).start()).await;
    eventually(
        Duration::from_secs(30),
        "the stale copy is swept",
        || async { (!work_copy.exists()).then_some(()) },
    )
    .await;
    let settled = second.settled(&video, &creator.token).await;
    assert_eq!(
        settled["status"],
        "ready",
        "{settled}\n{}",
        second.server().log()
    );
    let data = second.server().data_path();
    assert_eq!(
        copies_of(&data, &sha),
        Vec::<PathBuf>::new(),
        "no copy of the upload anywhere under the data dir (the canonical upload is deleted once ready)"
    );
    let leftovers: Vec<_> = std::fs::read_dir(data.join("work"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "work/ is empty: {leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_the_probe_and_the_job_work_on_private_copies_and_reach_ready() {
    // On S3 the edge probes a sparse copy and the worker transcodes a full
    // copy, each in a work dir of its own; both go once they are done.
    let garage = tokio::task::spawn_blocking(common::Garage::start)
        .await
        .unwrap();
    let app = fast_server().garage(&garage).app().await;
    let source = make_video(app.scratch.path(), "src.mp4", 4, "320x240");
    let sha = sha256_hex(&std::fs::read(&source).unwrap());
    let (creator, course) = app.creator_with_course().await;
    let bytes = std::fs::read(&source).unwrap();
    let video = app
        .api
        .upload(&creator.token, &course, &bytes, 1 << 20)
        .await;
    let settled = app.settled(&video, &creator.token).await;
    assert_eq!(
        settled["status"],
        "ready",
        "{settled}\n{}",
        app.server().log()
    );
    let data = app.server().data_path();
    assert_eq!(copies_of(&data, &sha), Vec::<PathBuf>::new());
    let leftovers: Vec<_> = std::fs::read_dir(data.join("work"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "work/ is empty: {leftovers:?}");
    let log = app.server().log();
    assert!(
        !log.contains("SANDBOX DEGRADED") && !log.contains("probing the upload failed"),
        "the sandboxed probe ran: {log}"
    );
}

/// Uploads a 40 s video and waits for its sandboxed job process.
async fn running_job(app: &TestApp) -> (common::Login, String, u32, PathBuf) {
    let source = make_video(app.scratch.path(), "long.mp4", 40, "320x240");
    let (creator, course) = app.creator_with_course().await;
    let bytes = std::fs::read(&source).unwrap();
    let video = app
        .api
        .upload(&creator.token, &course, &bytes, 1 << 20)
        .await;
    let server_pid = app.server().child.id();
    let (job, copy) = eventually(
        Duration::from_secs(60),
        "the sandboxed job process",
        || async { sandboxed_job(server_pid, &video) },
    )
    .await;
    assert!(copy.exists());
    (creator, video, job, copy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_job_process_leaves_no_copy_and_its_job_is_retried() {
    let app = fast_server().app().await;
    let (creator, video, job, copy) = running_job(&app).await;
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &job.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    eventually(
        Duration::from_secs(10),
        "the worker removes the copy",
        || async { (!copy.exists()).then_some(()) },
    )
    .await;
    let settled = app.settled(&video, &creator.token).await;
    assert_eq!(
        settled["status"],
        "ready",
        "{settled}\n{}",
        app.server().log()
    );
    let work = app.server().data_path().join("work");
    assert_eq!(std::fs::read_dir(work).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_mid_job_removes_the_copy_before_it_exits() {
    let app = fast_server().app().await;
    let (_creator, _video, job, copy) = running_job(&app).await;
    let mut server = app.into_server();
    assert!(server.terminate().success(), "{}", server.log());
    assert!(procfs::is_dead(job), "the job process was stopped");
    assert!(!copy.exists(), "removed on the way out, with no sweep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_lease_was_lost_leaves_no_copy() {
    let app = fast_server().app().await;
    let (_creator, video, job, copy) = running_job(&app).await;
    // Another worker took the job over (what an expired lease lets happen).
    let at_rest = app.at_rest().await;
    sqlx::query("UPDATE transcode_jobs SET lease_owner = 'another-worker' WHERE video_id = $1")
        .bind(&video)
        .execute(&at_rest.db.pool)
        .await
        .unwrap();
    eventually(
        Duration::from_secs(10),
        "the worker stops its job",
        || async { (procfs::is_dead(job) && !copy.exists()).then_some(()) },
    )
    .await;
    assert!(
        app.server().log().contains("lease lost"),
        "{}",
        app.server().log()
    );
}
