//! One attack = one request and the exact answer it must get. A family is a
//! list of them; the suite runs every case and reports every miss at once.

use reqwest::RequestBuilder;
use serde_json::Value;

use super::common::{Cast, Playback, ReadyVideo, Response, ServerBuilder, TestApp};

/// A further check of an answer; `Err` says what is wrong.
pub type Check = fn(&Response) -> Result<(), String>;

/// What a case must be answered with.
pub struct Case {
    pub name: String,
    pub request: RequestBuilder,
    pub status: u16,
    /// The error code, or `None` for an answer that is not an error.
    pub code: Option<&'static str>,
    /// Anything else the answer must show.
    pub also: Option<Check>,
}

pub fn case(
    name: impl Into<String>,
    request: RequestBuilder,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name: name.into(),
        request,
        status,
        code: Some(code),
        also: None,
    }
}

impl Case {
    pub fn and(mut self, check: Check) -> Case {
        self.also = Some(check);
        self
    }

    pub fn not_an_error(mut self) -> Case {
        self.code = None;
        self
    }
}

/// A server, its cast, one ready video and a live session of the learner.
pub struct World {
    pub app: TestApp,
    pub cast: Cast,
    pub video: ReadyVideo,
    pub session: Playback,
}

impl World {
    /// With a ready video `seconds` long.
    pub async fn build(builder: ServerBuilder, seconds: u32) -> World {
        let app = builder.app().await;
        let cast = app.cast().await;
        let video = app
            .ready_video_of(&cast.creator, &cast.course, seconds)
            .await;
        let session = app.playback(&cast.learner, &video.id).await;
        World {
            app,
            cast,
            video,
            session,
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.app.api.http.get(self.app.api.url(path))
    }

    pub fn get_as(&self, path: &str, token: &str) -> RequestBuilder {
        self.get(path).bearer_auth(token)
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.app.api.http.request(method, self.app.api.url(path))
    }

    /// The session's signed base path (`/hls/{session}/{token}/`) and its token.
    pub fn master(&self) -> (String, String) {
        super::common::hls::split_token(&self.session.master_url)
    }
}

/// Misses across families.
#[derive(Default)]
pub struct Outcome {
    misses: Vec<String>,
    cases: usize,
}

impl Outcome {
    pub async fn family(&mut self, family: &str, cases: Vec<Case>) {
        assert!(!cases.is_empty(), "family {family} has no case");
        for case in cases {
            self.cases += 1;
            let name = format!("{family}/{}", case.name);
            let resp = match case.request.send().await {
                Ok(resp) => resp,
                Err(err) => {
                    self.misses.push(format!("{name}: no answer: {err}"));
                    continue;
                }
            };
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await.unwrap_or_default();
            let resp = Response::new(status, headers, body.clone());
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let code = json["error"]["code"].as_str();
            if status.as_u16() != case.status || code != case.code {
                self.misses.push(format!(
                    "{name}: got {} {code:?}, want {} {:?}: {}",
                    status.as_u16(),
                    case.status,
                    case.code,
                    String::from_utf8_lossy(&body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ));
                continue;
            }
            if code.is_some()
                && json["error"]["request_id"]
                    .as_str()
                    .is_none_or(str::is_empty)
            {
                self.misses
                    .push(format!("{name}: the error has no request_id"));
            }
            if let Some(check) = case.also {
                if let Err(why) = check(&resp) {
                    self.misses.push(format!("{name}: {why}"));
                }
            }
            let text = String::from_utf8_lossy(&body);
            if text.contains("/tmp/") || text.contains("sealcast-data") || text.contains("secrets/")
            {
                self.misses
                    .push(format!("{name}: the answer names an internal path: {text}"));
            }
        }
    }

    pub fn check(&mut self, family: &str, result: Result<usize, String>) {
        match result {
            Ok(n) => self.cases += n,
            Err(why) => self.misses.push(format!("{family}: {why}")),
        }
    }

    pub fn finish(self, world: &World) {
        eprintln!("{} attack cases", self.cases);
        let log = world.app.server().log();
        assert!(
            self.misses.is_empty(),
            "{} of {} cases missed:\n{}\n--- server log tail ---\n{}",
            self.misses.len(),
            self.cases,
            self.misses.join("\n"),
            log.lines().rev().take(30).collect::<Vec<_>>().join("\n")
        );
        let password = super::common::PASSWORD;
        assert!(!log.contains(password), "a password reached the log");
    }
}
