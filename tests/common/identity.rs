//! Helpers for identity, playback and key tests: an HTTP client for the API,
//! users made through the library, ready videos with real sealed keys, and
//! key URLs signed the way the edge signs them.
#![allow(dead_code)]

use std::time::Duration;

use base64::Engine;
use reqwest::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use sealcast::db::{new_id, now_ms};
use sealcast::identity::{create_user, Role};
use sealcast_keyserver::{seal, KeyContext, UrlSigner};

use super::fixtures::DataDir;
use super::{ServerBuilder, TestServer};

pub const PASSWORD: &str = "correct horse battery";

/// A server whose login limits do not get in the way of ordinary tests
/// (set through the environment, so a test's flag still wins).
pub fn identity_server() -> ServerBuilder {
    TestServer::builder()
        .env("SEALCAST_LOGIN_ATTEMPTS_PER_IP", "100000")
        .env("SEALCAST_LOGIN_ATTEMPTS_PER_EMAIL", "1000")
}

/// A thin JSON client bound to one server.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

/// What a login gave back.
#[derive(Debug, Clone)]
pub struct Login {
    pub token: String,
    pub user_id: String,
    /// `sealcast_refresh=…` (name=value only).
    pub refresh_cookie: String,
    pub set_cookie: String,
}

impl Api {
    pub fn new(server: &TestServer) -> Api {
        Api {
            base: server.base_url.clone(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.http
            .post(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.http
            .delete(self.url(path))
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .send()
            .await
            .unwrap()
    }

    pub async fn try_login(&self, email: &str, password: &str) -> Response {
        self.http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, email: &str) -> Login {
        let resp = self.try_login(email, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::OK, "login {email}");
        login_from(resp).await
    }

    /// Creates a user through the API as `admin` and logs them in.
    pub async fn user(&self, admin: &str, role: &str) -> Login {
        let email = format!("{}@example.test", &new_id()[..12]);
        let resp = self
            .post(
                "/api/v1/users",
                admin,
                json!({ "email": email, "password": PASSWORD, "role": role }),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        self.login(&email).await
    }

    pub async fn course(&self, creator: &str) -> String {
        let resp = self
            .post("/api/v1/courses", creator, json!({ "title": "Course" }))
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn enroll(&self, manager: &str, course: &str, user_id: &str) {
        let resp = self
            .post(
                &format!("/api/v1/courses/{course}/enrollments"),
                manager,
                json!({ "user_id": user_id }),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
    }

    /// Starts a playback session; returns (session id, key cookie `name=value`).
    pub async fn playback(&self, token: &str, video: &str) -> (String, String) {
        let resp = self
            .post(
                &format!("/api/v1/videos/{video}/playback"),
                token,
                json!({}),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        let cookie = set_cookie(&resp).split(';').next().unwrap().to_string();
        let body: Value = resp.json().await.unwrap();
        (body["session_id"].as_str().unwrap().to_string(), cookie)
    }

    /// A key request with a Bearer token (or none).
    pub async fn key(&self, url: &str, token: Option<&str>) -> Response {
        let mut req = self.http.get(self.url(url));
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        req.send().await.unwrap()
    }

    pub async fn key_with_cookie(&self, url: &str, cookie: &str) -> Response {
        self.http
            .get(self.url(url))
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap()
    }

    pub async fn revoke_raw(&self, admin: &str, body: Value) -> Response {
        self.post("/api/v1/admin/revocations", admin, body).await
    }

    pub async fn revoke(&self, admin: &str, body: Value) -> Value {
        let resp = self.revoke_raw(admin, body).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    /// The newest audit entries (admin).
    pub async fn audit(&self, admin: &str, limit: u32) -> Vec<Value> {
        let resp = self
            .get(&format!("/api/v1/admin/audit?limit={limit}"), admin)
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        body["entries"].as_array().unwrap().clone()
    }
}

pub fn set_cookie(resp: &Response) -> String {
    resp.headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

pub async fn login_from(resp: Response) -> Login {
    let set_cookie = set_cookie(&resp);
    let refresh_cookie = set_cookie.split(';').next().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    Login {
        token: body["access_token"].as_str().unwrap().to_string(),
        user_id: body["user"]["id"].as_str().unwrap().to_string(),
        refresh_cookie,
        set_cookie,
    }
}

/// Asserts an error envelope with `status` and `code`.
pub async fn assert_error(resp: Response, status: u16, code: &str) -> Value {
    let got = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (status, Some(code)),
        "{body}"
    );
    body
}

/// An admin made through the library (as `serve --demo` and the CLI do).
pub async fn admin(api: &Api, data: &DataDir) -> Login {
    let email = format!("admin-{}@example.test", &new_id()[..8]);
    create_user(&data.db, &email, PASSWORD, Role::Admin)
        .await
        .unwrap();
    api.login(&email).await
}

/// A ready video with `keys` content keys sealed to the server's master key
/// (as a transcode would leave it). Returns the video id and the clear keys.
pub async fn ready_video(
    data: &DataDir,
    owner: &str,
    course: &str,
    keys: usize,
    duration_ms: i64,
) -> (String, Vec<(String, [u8; 16])>) {
    let id = new_id();
    sqlx::query(
        "INSERT INTO videos (id, course_id, owner_id, title, status, progress, duration_ms, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Video', 'ready', 100, $4, $5, $5)",
    )
    .bind(&id)
    .bind(course)
    .bind(owner)
    .bind(duration_ms)
    .bind(now_ms())
    .execute(&data.db.pool)
    .await
    .unwrap();
    let public = master_public(data);
    let mut out = Vec::new();
    for i in 0..keys {
        // Key ids are unique across videos, like the transcoder's.
        let key_id = format!("{}-{i}", &id[..8]);
        let mut key = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let ctx = KeyContext {
            video_id: &id,
            key_id: &key_id,
        };
        let sealed = seal(&public, &ctx, &key).unwrap();
        sqlx::query(
            "INSERT INTO content_keys (video_id, key_id, sealed, master_fingerprint, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&key_id)
        .bind(sealed.to_base64())
        .bind(sealed.recipient_fingerprint().to_hex())
        .bind(now_ms())
        .execute(&data.db.pool)
        .await
        .unwrap();
        out.push((key_id, key));
    }
    (id, out)
}

/// The published custody public key (`secrets/master.pub`).
pub fn master_public(data: &DataDir) -> sealcast_keyserver::MasterPublicKey {
    let text = std::fs::read_to_string(data.root.join("secrets/master.pub")).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap();
    sealcast_keyserver::public_key_from_slice(&raw).unwrap()
}

/// The server's URL signer (the edge signs key URIs with it).
pub fn url_signer(data: &DataDir) -> UrlSigner {
    let text = std::fs::read_to_string(data.root.join("secrets/url-signing.key")).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap();
    UrlSigner::new(&raw).unwrap()
}

/// `/keys/{sid}/{kid}?exp&sig` as the edge writes it into playlists.
pub fn key_url(data: &DataDir, session: &str, key_id: &str) -> String {
    let exp = (now_ms() / 1000) as u64 + 600;
    sealcast::playback::key_url(&url_signer(data), session, key_id, exp).unwrap()
}
