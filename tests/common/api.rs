//! A thin HTTP client bound to one server: JSON API calls with a Bearer
//! token, the tus wire format, key requests, and error-envelope checks.

use std::time::Duration;

use axum::Router;
use base64::Engine;
use bytes::Bytes;
use reqwest::header::{HeaderMap, AUTHORIZATION, COOKIE, SET_COOKIE};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use super::server::TestServer;

/// The password every kit-made user has.
pub const PASSWORD: &str = "correct horse battery";

/// Talks to a server process over HTTP, or to an in-process router through
/// `tower::ServiceExt::oneshot`; tests read the same either way.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    /// Builds every request (and sends it, for a server process).
    pub http: reqwest::Client,
    router: Option<Router>,
}

/// What a login gave back.
#[derive(Debug, Clone)]
pub struct Login {
    pub token: String,
    pub user_id: String,
    pub email: String,
    /// `sealcast_refresh=…` (name=value only).
    pub refresh_cookie: String,
    pub set_cookie: String,
}

impl Api {
    pub fn new(server: &TestServer) -> Api {
        Api::at(&server.base_url)
    }

    pub fn at(base: &str) -> Api {
        Api {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            router: None,
        }
    }

    /// Requests go straight into `router`, from 127.0.0.1.
    pub fn in_process(router: Router) -> Api {
        Api {
            router: Some(router),
            ..Api::at("http://in-process.test")
        }
    }

    /// Sends a request built with `self.http` and reads the whole answer.
    pub async fn send(&self, request: RequestBuilder) -> Response {
        let request = request.build().unwrap();
        match &self.router {
            None => {
                let resp = self.http.execute(request).await.unwrap();
                Response {
                    status: resp.status(),
                    headers: resp.headers().clone(),
                    body: resp.bytes().await.unwrap(),
                }
            }
            Some(router) => super::in_process::oneshot(router, request).await,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn anonymous_get(&self, path: &str) -> Response {
        self.send(self.http.get(self.url(path))).await
    }

    /// `sealcast_revocation_epoch` as this node's `/metrics` shows it: the
    /// newest revocation it has heard of (0 before any).
    pub async fn revocation_epoch(&self) -> i64 {
        let text = self.anonymous_get("/metrics").await.text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("sealcast_revocation_epoch "))
            .map_or(0, |v| v.trim().parse::<f64>().unwrap() as i64)
    }

    /// Waits (up to 10 s) until this node has heard of revocation `epoch`.
    pub async fn heard_revocation(&self, epoch: i64) {
        super::eventually(
            std::time::Duration::from_secs(10),
            &format!("the node hears revocation epoch {epoch}"),
            || async { (self.revocation_epoch().await >= epoch).then_some(()) },
        )
        .await;
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(
            self.http
                .get(self.url(path))
                .header(AUTHORIZATION, format!("Bearer {token}")),
        )
        .await
    }

    /// A GET answered 200 with JSON.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let resp = self.get(path, token).await;
        assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
        resp.json().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.send(
            self.http
                .post(self.url(path))
                .header(AUTHORIZATION, format!("Bearer {token}"))
                .json(&body),
        )
        .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.send(
            self.http
                .delete(self.url(path))
                .header(AUTHORIZATION, format!("Bearer {token}")),
        )
        .await
    }

    pub async fn try_login(&self, email: &str, password: &str) -> Response {
        self.send(
            self.http
                .post(self.url("/api/v1/auth/login"))
                .json(&json!({ "email": email, "password": password })),
        )
        .await
    }

    pub async fn login(&self, email: &str) -> Login {
        let resp = self.try_login(email, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::OK, "login {email}");
        login_from(resp).await
    }

    pub async fn refresh(&self, cookie: &str) -> Response {
        self.send(
            self.http
                .post(self.url("/api/v1/auth/refresh"))
                .header(COOKIE, cookie),
        )
        .await
    }

    /// Creates a user through the API as `admin` and logs them in.
    pub async fn user(&self, admin: &str, role: &str) -> Login {
        let email = format!("{}@example.test", &unique()[..12]);
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

    pub async fn unenroll(&self, manager: &str, course: &str, user_id: &str) -> Response {
        self.delete(
            &format!("/api/v1/courses/{course}/enrollments/{user_id}"),
            manager,
        )
        .await
    }

    /// Starts a playback session.
    pub async fn playback(&self, token: &str, video: &str) -> Playback {
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
        Playback {
            session_id: body["session_id"].as_str().unwrap().to_string(),
            master_url: body["master_url"].as_str().unwrap().to_string(),
            cookie,
        }
    }

    /// A key request with a Bearer token (or none).
    pub async fn key(&self, url: &str, token: Option<&str>) -> Response {
        let mut req = self.http.get(self.url(url));
        if let Some(t) = token {
            req = req.header(AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req).await
    }

    pub async fn key_with_cookie(&self, url: &str, cookie: &str) -> Response {
        self.send(self.http.get(self.url(url)).header(COOKIE, cookie))
            .await
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
        let body = self
            .get_json(&format!("/api/v1/admin/audit?limit={limit}"), admin)
            .await;
        body["entries"].as_array().unwrap().clone()
    }

    /// `GET /api/v1/videos/{id}` (status, progress, error, …).
    pub async fn video(&self, id: &str, token: &str) -> Value {
        self.get_json(&format!("/api/v1/videos/{id}"), token).await
    }

    /// A tus request: `Tus-Resumable` and the Bearer token set.
    pub fn tus(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.http
            .request(method, self.url(path))
            .header("tus-resumable", "1.0.0")
            .bearer_auth(token)
    }

    /// POST /api/v1/uploads for `lecture.mp4` in `course`.
    pub async fn create_upload(&self, token: &str, course: &str, length: u64) -> Response {
        self.send(
            self.tus(Method::POST, "/api/v1/uploads", token)
                .header("upload-length", length.to_string())
                .header("upload-metadata", lecture_metadata(course)),
        )
        .await
    }

    /// Creates an upload; returns its path (`/api/v1/uploads/{id}`).
    pub async fn new_upload(&self, token: &str, course: &str, length: u64) -> String {
        let resp = self.create_upload(token, course, length).await;
        assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
        location(&resp)
    }

    /// Creation-with-upload: the upload is created holding `first` bytes.
    pub async fn new_upload_with(
        &self,
        token: &str,
        course: &str,
        length: u64,
        first: Vec<u8>,
    ) -> String {
        let resp = self
            .send(
                self.tus(Method::POST, "/api/v1/uploads", token)
                    .header("upload-length", length.to_string())
                    .header("upload-metadata", lecture_metadata(course))
                    .header("content-type", "application/offset+octet-stream")
                    .body(first),
            )
            .await;
        assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
        location(&resp)
    }

    pub async fn patch(&self, path: &str, token: &str, offset: u64, bytes: Vec<u8>) -> Response {
        self.send(
            self.tus(Method::PATCH, path, token)
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", offset.to_string())
                .body(bytes),
        )
        .await
    }

    pub async fn head_status(&self, path: &str, token: &str) -> u16 {
        let resp = self.send(self.tus(Method::HEAD, path, token)).await;
        resp.status().as_u16()
    }

    pub async fn offset(&self, path: &str, token: &str) -> u64 {
        let resp = self.send(self.tus(Method::HEAD, path, token)).await;
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
        upload_id(&path)
    }
}

/// A whole answer, from a server process or the in-process router; reads
/// like `reqwest::Response`.
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    pub fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response {
        Response {
            status,
            headers,
            body,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    pub async fn json<T: serde::de::DeserializeOwned>(self) -> serde_json::Result<T> {
        serde_json::from_slice(&self.body)
    }

    pub async fn text(self) -> Result<String, std::string::FromUtf8Error> {
        String::from_utf8(self.body.to_vec())
    }

    pub async fn bytes(self) -> Result<Bytes, std::convert::Infallible> {
        Ok(self.body)
    }
}

/// A playback session as `POST /api/v1/videos/{id}/playback` hands it out.
#[derive(Debug, Clone)]
pub struct Playback {
    pub session_id: String,
    pub master_url: String,
    /// The key cookie, `name=value`.
    pub cookie: String,
}

/// A fresh random hex id (emails, names).
pub fn unique() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    hex::encode(bytes)
}

fn lecture_metadata(course: &str) -> String {
    metadata(&[
        ("filename", "lecture.mp4"),
        ("course_id", course),
        ("title", "Lecture 1"),
    ])
}

pub fn location(resp: &Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// The upload (= video) id at the end of an upload path.
pub fn upload_id(path: &str) -> String {
    path.rsplit('/').next().unwrap().to_string()
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
        email: body["user"]["email"].as_str().unwrap().to_string(),
        refresh_cookie,
        set_cookie,
    }
}

/// The `error.code` of an error envelope.
pub async fn error_code(resp: Response) -> String {
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
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
