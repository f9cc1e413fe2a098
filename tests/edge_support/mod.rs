//! Shared setup for the edge tests: a real server, users and courses in its
//! database, access tokens minted with the server's own signing key, and a
//! small tus client on reqwest.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use reqwest::{Method, Response};
use sealcast::db::{new_id, now_ms};
use sealcast_keyserver::{Role, SigningKeyring, TokenIssuer, UrlSigner};

use crate::common::fixtures::DataDir;
use crate::common::{ServerBuilder, TestServer};

pub struct Edge {
    pub server: TestServer,
    pub data: DataDir,
    pub http: reqwest::Client,
}

/// Small and fast transcodes for tests that need ready videos.
pub fn fast(builder: ServerBuilder) -> ServerBuilder {
    builder
        .arg("--transcode-rungs")
        .arg("240")
        .arg("--segment-seconds")
        .arg("1")
        .arg("--rotate-every")
        .arg("2")
        .arg("--x264-preset")
        .arg("ultrafast")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

impl Edge {
    pub async fn start(builder: ServerBuilder) -> Edge {
        let server = builder.start();
        let data = DataDir::open(&server.data_path()).await;
        Edge {
            server,
            data,
            http: client(),
        }
    }

    /// A server on another database (PostgreSQL).
    pub async fn start_with_db(builder: ServerBuilder, database_url: &str) -> Edge {
        let server = builder.arg("--database-url").arg(database_url).start();
        let data = DataDir::open_with(&server.data_path(), database_url).await;
        Edge {
            server,
            data,
            http: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// A fresh access token for `user`, signed like the server's own.
    pub fn token(&self, user: &str, role: Role) -> String {
        issue_token(&self.server.data_path(), user, role)
    }

    pub async fn user(&self, role: &str) -> String {
        let id = new_id();
        sqlx::query("INSERT INTO users (id, email, password_hash, role, created_at) VALUES ($1, $2, 'x', $3, $4)")
            .bind(&id)
            .bind(format!("{id}@example.test"))
            .bind(role)
            .bind(now_ms())
            .execute(&self.data.db.pool)
            .await
            .unwrap();
        id
    }

    /// A creator with a course and a token: (user, course, token).
    pub async fn creator(&self) -> (String, String, String) {
        let (user, course) = self.data.creator_with_course().await;
        let token = self.token(&user, Role::Creator);
        (user, course, token)
    }

    /// A learner enrolled in `course`: (user, token).
    pub async fn learner_in(&self, course: &str) -> (String, String) {
        let user = self.user("learner").await;
        sqlx::query("INSERT INTO enrollments (course_id, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(course)
            .bind(&user)
            .bind(now_ms())
            .execute(&self.data.db.pool)
            .await
            .unwrap();
        let token = self.token(&user, Role::Learner);
        (user, token)
    }

    pub fn tus(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("tus-resumable", "1.0.0")
            .bearer_auth(token)
    }

    /// POST /api/v1/uploads; returns the response.
    pub async fn create_upload(&self, token: &str, course: &str, length: u64) -> Response {
        self.tus(Method::POST, "/api/v1/uploads", token)
            .header("upload-length", length.to_string())
            .header(
                "upload-metadata",
                metadata(&[
                    ("filename", "lecture.mp4"),
                    ("course_id", course),
                    ("title", "Lecture 1"),
                ]),
            )
            .send()
            .await
            .unwrap()
    }

    /// Creates an upload and returns its path (`/api/v1/uploads/{id}`).
    pub async fn new_upload(&self, token: &str, course: &str, length: u64) -> String {
        let resp = self.create_upload(token, course, length).await;
        assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
        resp.headers()["location"].to_str().unwrap().to_string()
    }

    pub async fn patch(&self, path: &str, token: &str, offset: u64, bytes: Vec<u8>) -> Response {
        self.tus(Method::PATCH, path, token)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    pub async fn offset(&self, path: &str, token: &str) -> u64 {
        let resp = self.tus(Method::HEAD, path, token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        header_u64(&resp, "upload-offset")
    }

    /// Uploads `bytes` in `chunk`-sized PATCHes; returns the video id.
    pub async fn upload(&self, token: &str, course: &str, bytes: &[u8], chunk: usize) -> String {
        let path = self.new_upload(token, course, bytes.len() as u64).await;
        let mut offset = 0;
        for part in bytes.chunks(chunk) {
            let resp = self.patch(&path, token, offset, part.to_vec()).await;
            assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
            offset += part.len() as u64;
            assert_eq!(header_u64(&resp, "upload-offset"), offset);
        }
        path.rsplit('/').next().unwrap().to_string()
    }

    /// A playback session row for `user` on `video`, and its signed master
    /// URL (what POST /api/v1/videos/{id}/playback hands out).
    pub async fn playback_session(
        &self,
        user: &str,
        video: &str,
        ttl_secs: i64,
    ) -> (String, String) {
        let sid = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO playback_sessions (id, user_id, video_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&sid)
        .bind(user)
        .bind(video)
        .bind(now)
        .bind(now + ttl_secs * 1000)
        .execute(&self.data.db.pool)
        .await
        .unwrap();
        let exp = (now / 1000 + ttl_secs) as u64;
        let url = sealcast::playback::master_url(&self.signer(), &sid, exp).unwrap();
        (sid, url)
    }

    pub fn signer(&self) -> UrlSigner {
        let text = std::fs::read_to_string(self.server.data_path().join("secrets/url-signing.key"))
            .unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .unwrap();
        UrlSigner::new(&raw).unwrap()
    }

    pub async fn video_json(&self, id: &str, token: &str) -> serde_json::Value {
        let resp = self
            .http
            .get(self.url(&format!("/api/v1/videos/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }
}

pub fn issue_token(data_dir: &Path, user: &str, role: Role) -> String {
    let dir = data_dir.join("secrets/signing-keys");
    let mut pems: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();
    pems.sort();
    let texts: Vec<String> = pems
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let keyring = SigningKeyring::from_pems(texts.iter().map(String::as_str)).unwrap();
    TokenIssuer::new(keyring, "sealcast", "sealcast-api")
        .issue(user, role, None)
        .unwrap()
        .0
}

pub fn metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k} {}",
                base64::engine::general_purpose::STANDARD.encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn header_u64(resp: &Response, name: &str) -> u64 {
    resp.headers()[name].to_str().unwrap().parse().unwrap()
}

pub async fn error_code(resp: Response) -> String {
    let body: serde_json::Value = resp.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A short real video (~`seconds` s, 240p) of at least `min_bytes`, as bytes:
/// high-bitrate x264 so tests get multi-part uploads from a tiny clip.
pub fn video_bytes(dir: &Path, seconds: u32, min_bytes: usize) -> Vec<u8> {
    let path = dir.join(format!("v{seconds}-{min_bytes}.mp4"));
    let rate = ((min_bytes as u64 * 8 * 13 / 10) / seconds.max(1) as u64).max(200_000);
    crate::common::fixtures::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=426x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=sample_rate=48000",
        "-t",
        &seconds.to_string(),
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-b:v",
        &rate.to_string(),
        "-minrate",
        &rate.to_string(),
        "-maxrate",
        &rate.to_string(),
        "-bufsize",
        &(rate / 2).to_string(),
        "-x264-params",
        "nal-hrd=cbr:filler=1",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.len() >= min_bytes * 9 / 10,
        "clip is {} bytes, wanted {min_bytes}",
        bytes.len()
    );
    bytes
}

/// Uploads a short real video and waits until it is ready: (video id, bytes).
pub async fn ready_video(edge: &Edge, token: &str, course: &str, dir: &Path) -> (String, Vec<u8>) {
    let bytes = video_bytes(dir, 3, 300_000);
    let id = edge.upload(token, course, &bytes, 256 * 1024).await;
    let (status, _, error) = edge.data.wait_settled(&id, 180).await;
    assert_eq!(status, "ready", "{error:?}\n{}", edge.server.log());
    (id, bytes)
}

/// `(path, query)` of a signed URL.
pub fn split_url(url: &str) -> (String, String) {
    let (p, q) = url.split_once('?').unwrap();
    (p.to_string(), q.to_string())
}
