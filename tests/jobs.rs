//! The transcode queue in the real server: uploads become encrypted HLS,
//! bad media fails cleanly without stopping the worker, and a job whose
//! worker died is taken up again.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::media::{ffmpeg, make_video};
use common::{eventually, AtRest, Login, TestApp};
use sealcast::storage::{ObjectKey, ObjectStore};
use sealcast_keyserver::{open, KeyContext, SealedKey};

/// Small, fast settings: two rungs, 2 s segments, a new key every 2 segments.
fn fast_server() -> common::ServerBuilder {
    TestApp::init()
        .flag("--transcode-rungs", "240,144")
        .flag("--segment-seconds", 2)
        .flag("--rotate-every", 2)
        .flag("--x264-preset", "ultrafast")
        .flag("--job-lease-secs", 3)
}

/// Uploads a file through tus (the edge probes it, then queues it).
async fn upload(app: &TestApp, creator: &Login, course: &str, source: &Path) -> String {
    let bytes = std::fs::read(source).unwrap();
    app.api
        .upload(&creator.token, course, &bytes, 1 << 20)
        .await
}

/// Puts a file in the queue the way a finished upload leaves it, without
/// the edge's probe: the bad-media corpus is refused by that probe at
/// upload time, and the worker's own defence is what is under test.
async fn queue_unprobed(at_rest: &AtRest, creator: &Login, course: &str, source: &Path) -> String {
    let id = sealcast::db::new_id();
    let now = sealcast::db::now_ms();
    sqlx::query(
        "INSERT INTO videos (id, course_id, owner_id, title, status, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Video', 'uploading', $4, $4)",
    )
    .bind(&id)
    .bind(course)
    .bind(&creator.user_id)
    .bind(now)
    .execute(&at_rest.db.pool)
    .await
    .unwrap();
    let file = tokio::fs::File::open(source).await.unwrap();
    at_rest
        .store
        .put(
            &ObjectKey::new(sealcast::videos::layout::upload_source_key(&id)).unwrap(),
            Box::pin(tokio_util::io::ReaderStream::new(file)),
        )
        .await
        .unwrap();
    sealcast::jobs::queue::enqueue(&at_rest.db, &id)
        .await
        .unwrap();
    id
}

/// How often a video's job was attempted (job state has no API).
async fn attempts(at_rest: &AtRest, video: &str) -> i64 {
    sqlx::query_scalar("SELECT attempts FROM transcode_jobs WHERE video_id = $1")
        .bind(video)
        .fetch_one(&at_rest.db.pool)
        .await
        .unwrap()
}

fn ffprobe(path: &Path) -> (u32, u32, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-allowed_extensions",
            "ALL",
            "-select_streams",
            "v:0",
        ])
        .args([
            "-show_entries",
            "stream=width,height:format=duration",
            "-of",
            "default=nw=1",
        ])
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| {
                panic!(
                    "{k} missing in ffprobe output: {text} {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
            .to_string()
    };
    (
        get("width").parse().unwrap(),
        get("height").parse().unwrap(),
        get("duration").parse().unwrap(),
    )
}

/// Copies a video's HLS out of storage, opening its sealed keys with the
/// master key, so the ffmpeg CLI can decode it as an independent client.
async fn export_playable(data: &AtRest, video: &str, dest: &Path) {
    let master = data.master();
    let prefix = format!("videos/{video}/hls/");
    for key in data.object_keys(&prefix).await {
        let rel = key.strip_prefix(&prefix).unwrap();
        let body = data
            .store
            .get(
                &sealcast::storage::ObjectKey::new(key.clone()).unwrap(),
                None,
            )
            .await
            .unwrap();
        let bytes = sealcast::storage::collect(body.stream, 64 << 20)
            .await
            .unwrap();
        let path = dest.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let rows = data.sealed_keys(video).await;
    std::fs::create_dir_all(dest.join("keys")).unwrap();
    for (key_id, sealed, _) in &rows {
        let sealed: SealedKey = SealedKey::from_base64(sealed).unwrap();
        let key = open(
            &master,
            &KeyContext {
                video_id: video,
                key_id,
            },
            &sealed,
        )
        .unwrap();
        std::fs::write(dest.join("keys").join(format!("{key_id}.key")), *key).unwrap();
    }
    for entry in std::fs::read_dir(dest).unwrap() {
        let dir = entry.unwrap().path();
        let playlist = dir.join("index.m3u8");
        if playlist.exists() {
            let text = std::fs::read_to_string(&playlist).unwrap();
            assert!(
                text.contains("sealcast-key://"),
                "stored playlists name keys by placeholder"
            );
            std::fs::write(
                &playlist,
                text.replace("sealcast-key://", "../keys/")
                    .replace("\",IV", ".key\",IV"),
            )
            .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_becomes_encrypted_hls_that_plays() {
    let app = fast_server().app().await;
    let source = make_video(app.scratch.path(), "src.mp4", 5, "320x240");
    let (creator, course) = app.creator_with_course().await;
    let video = upload(&app, &creator, &course, &source).await;

    let settled = app.settled(&video, &creator.token).await;
    assert_eq!(
        (&settled["status"], &settled["progress"], &settled["error"]),
        (&"ready".into(), &100.into(), &serde_json::Value::Null),
        "log:\n{}",
        app.server().log()
    );
    let duration = settled["duration_seconds"].as_f64().unwrap();
    assert!((4.5..=5.6).contains(&duration), "duration {duration}");
    let renditions: Vec<&str> = settled["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(
        renditions.contains(&"240p") && renditions.contains(&"144p"),
        "{renditions:?}"
    );

    // What is stored, and how, is this test's subject: read it at rest.
    let data = app.at_rest().await;
    let objects = data.object_keys("").await;
    assert!(
        objects.contains(&format!("videos/{video}/hls/master.m3u8")),
        "{objects:?}"
    );
    assert!(
        objects.contains(&format!("videos/{video}/poster.jpg")),
        "{objects:?}"
    );
    assert!(
        !objects.iter().any(|k| k.starts_with("uploads/")),
        "the original is deleted: {objects:?}"
    );
    assert!(
        !objects.iter().any(|k| k.contains("key")),
        "no key material in object storage: {objects:?}"
    );
    let keys = data.sealed_keys(&video).await.len();
    assert!(keys >= 2, "keys rotate every 2 segments: {keys}");

    let out = tempfile::tempdir().unwrap();
    export_playable(&data, &video, out.path()).await;
    for (rung, (w, h)) in [("240p", (320, 240)), ("144p", (192, 144))] {
        let (width, height, duration) = ffprobe(&out.path().join(rung).join("index.m3u8"));
        assert_eq!((width, height), (w, h), "{rung}");
        assert!((duration - 5.0).abs() < 0.6, "{rung} duration {duration}");
        ffmpeg(&[
            "-allowed_extensions",
            "ALL",
            "-i",
            out.path().join(rung).join("index.m3u8").to_str().unwrap(),
            "-f",
            "null",
            "-",
        ]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_media_fails_cleanly_and_the_worker_keeps_working() {
    let app = fast_server().app().await;
    let data = app.at_rest().await;
    let d = app.scratch.path();
    let (creator, course) = app.creator_with_course().await;

    let mut corpus: Vec<(&str, std::path::PathBuf, &str)> = Vec::new();
    let write = |name: &str, bytes: Vec<u8>| {
        let p = d.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    corpus.push(("zero bytes", write("zero.mp4", Vec::new()), "unreadable"));
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    corpus.push(("random bytes", write("random.mp4", noise), "unreadable"));
    corpus.push((
        "pdf",
        write(
            "doc.mp4",
            b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n".repeat(50),
        ),
        "unreadable",
    ));
    let good = make_video(d, "good.mp4", 3, "160x120");
    let bytes = std::fs::read(&good).unwrap();
    corpus.push((
        "truncated",
        write("trunc.mp4", bytes[..bytes.len() / 2].to_vec()),
        "unreadable",
    ));
    let audio = d.join("audio.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440",
        "-t",
        "2",
        "-c:a",
        "aac",
        audio.to_str().unwrap(),
    ]);
    corpus.push(("audio only", audio, "not a video"));
    let tiny = d.join("tiny.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=size=16x16:rate=25",
        "-t",
        "1",
        "-vf",
        "scale=1:1",
        "-c:v",
        "ffv1",
        "-pix_fmt",
        "yuv444p",
        tiny.to_str().unwrap(),
    ]);
    corpus.push(("1x1", tiny, "too small"));
    let small = d.join("small.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=256x256:rate=25",
        "-t",
        "1",
        "-c:v",
        "ffv1",
        small.to_str().unwrap(),
    ]);
    let mut huge = std::fs::read(&small).unwrap();
    for id in [0xB0u8, 0xBA] {
        let pos = huge
            .windows(4)
            .position(|w| w == [id, 0x82, 0x01, 0x00])
            .expect("matroska size element");
        huge[pos + 2] = 0x40;
    }
    corpus.push(("16384x16384 header", write("huge.mkv", huge), "too large"));
    corpus.push((
        "zero duration",
        write(
            "zero.y4m",
            b"YUV4MPEG2 W320 H240 F25:1 Ip A1:1 C420jpeg\n".to_vec(),
        ),
        "zero duration",
    ));
    let faststart = d.join("fs.mp4");
    ffmpeg(&[
        "-i",
        good.to_str().unwrap(),
        "-c",
        "copy",
        "-movflags",
        "+faststart",
        faststart.to_str().unwrap(),
    ]);
    let mut corrupt = std::fs::read(&faststart).unwrap();
    let n = corrupt.len();
    for (i, off) in [n / 3, n / 2, 2 * n / 3].into_iter().enumerate() {
        for (j, b) in corrupt[off..off + 3000].iter_mut().enumerate() {
            *b = ((i * 7919 + j * 104729) % 251) as u8;
        }
    }
    corpus.push((
        "corrupted packets",
        write("corrupt.mp4", corrupt),
        "corrupt",
    ));

    let mut ids = Vec::new();
    for (name, path, _) in &corpus {
        ids.push((*name, queue_unprobed(&data, &creator, &course, path).await));
    }
    let after = upload(&app, &creator, &course, &good).await;

    for ((name, id), (_, _, expected)) in ids.iter().zip(&corpus) {
        let settled = app.settled(id, &creator.token).await;
        let error = settled["error"].as_str().unwrap_or_default().to_string();
        assert_eq!(settled["status"], "failed", "{name}: {error}");
        assert!(
            error.to_lowercase().contains(expected),
            "{name}: `{error}` should mention `{expected}`"
        );
        assert!(!error.contains('\n'), "{name}: one readable line");
        assert!(
            data.object_keys(&format!("videos/{id}/")).await.is_empty(),
            "{name}: outputs left behind"
        );
        assert!(
            data.object_keys(&format!("uploads/{id}")).await.is_empty(),
            "{name}: upload left behind"
        );
        assert!(
            data.sealed_keys(id).await.is_empty(),
            "{name}: keys left behind"
        );
        assert_eq!(
            attempts(&data, id).await,
            1,
            "{name}: bad media is never retried"
        );
    }
    let settled = app.settled(&after, &creator.token).await;
    assert_eq!(
        settled["status"], "ready",
        "the worker kept working: {settled}"
    );
    assert_eq!(
        app.api.anonymous_get("/healthz").await.status(),
        200,
        "the server survived the corpus"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_server_died_is_taken_up_again() {
    let first = fast_server().app().await;
    let source = make_video(first.scratch.path(), "long.mp4", 40, "320x240");
    let (creator, course) = first.creator_with_course().await;
    let video = upload(&first, &creator, &course, &source).await;

    // Wait until the job is running, then kill the whole server.
    eventually(Duration::from_secs(60), "the job starts", || async {
        (first.video_status(&video, &creator.token).await == "processing").then_some(())
    })
    .await;
    let data_dir = first.into_server().crash();
    // The orphaned job process notices and exits.
    eventually(Duration::from_secs(10), "the job process exits", || async {
        let orphans = Command::new("pgrep")
            .args(["-f", &format!("transcode-job {video}")])
            .output()
            .unwrap();
        orphans.stdout.is_empty().then_some(())
    })
    .await;

    let second = TestApp::on(fast_server().data_dir(data_dir).start()).await;
    let settled = second.settled(&video, &creator.token).await;
    assert_eq!(
        settled["status"],
        "ready",
        "{settled}\n{}",
        second.server().log()
    );
    assert_eq!(
        attempts(&second.at_rest().await, &video).await,
        2,
        "taken up again after the lease expired"
    );
}
