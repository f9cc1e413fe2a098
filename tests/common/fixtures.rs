//! Test fixtures written straight into a server's database and storage, for
//! tests whose subject is downstream of the API that would create them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use sealcast::db::{new_id, now_ms, Db};
use sealcast::storage::{FsStore, ObjectKey, ObjectStore};
use sealcast_keyserver::MasterKeyPair;

/// The database and local storage of a server's data dir.
pub struct DataDir {
    pub root: PathBuf,
    pub db: Db,
    pub store: FsStore,
}

impl DataDir {
    pub async fn open(root: &Path) -> DataDir {
        Self::open_with(
            root,
            &format!("sqlite://{}", root.join("sealcast.db").display()),
        )
        .await
    }

    /// A data dir whose server uses another database (PostgreSQL).
    pub async fn open_with(root: &Path, database_url: &str) -> DataDir {
        let db = Db::connect(database_url).await.unwrap();
        let store = FsStore::open(&root.join("objects")).await.unwrap();
        DataDir {
            root: root.to_path_buf(),
            db,
            store,
        }
    }

    /// A creator with a course; returns (user id, course id).
    pub async fn creator_with_course(&self) -> (String, String) {
        let (user, course) = (new_id(), new_id());
        sqlx::query("INSERT INTO users (id, email, password_hash, role, created_at) VALUES ($1, $2, 'x', 'creator', $3)")
            .bind(&user)
            .bind(format!("{user}@example.test"))
            .bind(now_ms())
            .execute(&self.db.pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO courses (id, title, owner_id, created_at) VALUES ($1, 'Course', $2, $3)",
        )
        .bind(&course)
        .bind(&user)
        .bind(now_ms())
        .execute(&self.db.pool)
        .await
        .unwrap();
        (user, course)
    }

    /// A video whose upload is complete (stored at `uploads/{id}/source`) and queued.
    pub async fn queued_video(&self, owner: &str, course: &str, source: &Path) -> String {
        let id = new_id();
        sqlx::query(
            "INSERT INTO videos (id, course_id, owner_id, title, status, created_at, updated_at) \
             VALUES ($1, $2, $3, 'Video', 'uploading', $4, $4)",
        )
        .bind(&id)
        .bind(course)
        .bind(owner)
        .bind(now_ms())
        .execute(&self.db.pool)
        .await
        .unwrap();
        let file = tokio::fs::File::open(source).await.unwrap();
        let stream = tokio_util::io::ReaderStream::new(file);
        self.store
            .put(
                &ObjectKey::new(format!("uploads/{id}/source")).unwrap(),
                Box::pin(stream),
            )
            .await
            .unwrap();
        sealcast::jobs::queue::enqueue(&self.db, &id).await.unwrap();
        id
    }

    pub async fn video_status(&self, id: &str) -> (String, i64, Option<String>) {
        sqlx::query_as("SELECT status, progress, error FROM videos WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Polls until the video is ready or failed.
    pub async fn wait_settled(&self, id: &str, timeout_secs: u64) -> (String, i64, Option<String>) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_secs);
        loop {
            let status = self.video_status(id).await;
            if status.0 == "ready" || status.0 == "failed" {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "video {id} still {status:?} after {timeout_secs} s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// The custody master key pair (only tests and the key server read it).
    pub fn master(&self) -> MasterKeyPair {
        let text = std::fs::read_to_string(self.root.join("secrets/master.key")).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .unwrap();
        MasterKeyPair::from_slice(&raw).unwrap()
    }

    pub async fn object_keys(&self, prefix: &str) -> Vec<String> {
        self.store
            .list(&sealcast::storage::ObjectPrefix::new(prefix).unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect()
    }
}

/// Runs the ffmpeg CLI; panics with its output on failure (never skips).
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI is required by the tests (`make test` installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A short test video with audio (H.264/AAC in MP4).
pub fn make_video(dir: &Path, name: &str, seconds: u32, size: &str) -> PathBuf {
    let path = dir.join(name);
    let secs = seconds.to_string();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={size}:rate=25"),
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        &secs,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().unwrap(),
    ]);
    path
}
