//! Scenarios built through the API, crates.io `TestApp` style: a server with
//! an admin made by the CLI, then users, courses, enrollments, uploaded ready
//! videos and playback sessions, each one builder call.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use sealcast::config::ServeArgs;
use sealcast::http::App;
use serde_json::Value;

use super::api::{unique, Api, Login, Playback, PASSWORD};
use super::at_rest::AtRest;
use super::hls::{self, SegmentKey};
use super::media;
use super::server::{sealcast_command, ServerBuilder, TestServer};
use super::{eventually, in_process};

/// A running server (a process, or the app in this process), a client for
/// it, and its first admin.
pub struct TestApp {
    process: Option<TestServer>,
    /// The app state of an in-process server.
    pub state: Option<Arc<App>>,
    pub api: Api,
    pub admin: Login,
    data_path: PathBuf,
    _in_process_data: Option<tempfile::TempDir>,
    /// The suite's PostgreSQL of an in-process app (`SEALCAST_TEST_DATABASE=postgres`).
    _in_process_pg: Option<super::Postgres>,
    /// Where the kit writes source videos.
    pub scratch: tempfile::TempDir,
}

/// Admin, a creator with a course, an enrolled learner and a stranger.
pub struct Cast {
    pub admin: Login,
    pub creator: Login,
    pub learner: Login,
    pub stranger: Login,
    pub course: String,
}

/// A video uploaded through tus and transcoded to `ready`.
#[derive(Debug, Clone)]
pub struct ReadyVideo {
    pub id: String,
    /// The uploaded bytes.
    pub source: Vec<u8>,
}

impl TestApp {
    /// The builder every scenario starts from: all roles, SQLite, local
    /// disk, login limits out of the way.
    pub fn init() -> ServerBuilder {
        TestServer::builder().lenient_login()
    }

    /// Wraps a started server: its first admin comes from
    /// `sealcast admin create-user --password-stdin`.
    pub async fn on(server: TestServer) -> TestApp {
        let api = Api::new(&server);
        let admin = first_admin(&api, |email| {
            server.create_user_cli(email, "admin", PASSWORD).0
        })
        .await;
        TestApp {
            data_path: server.data_path(),
            process: Some(server),
            state: None,
            api,
            admin,
            _in_process_data: None,
            _in_process_pg: None,
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    /// The app in this process (`build_app` + `router`, requests by
    /// `oneshot`), with login limits out of the way unless `args` set them.
    pub async fn in_process(mut args: ServeArgs) -> TestApp {
        args.identity.login_attempts_per_ip.get_or_insert(100_000);
        args.identity.login_attempts_per_email.get_or_insert(1000);
        let dir = tempfile::tempdir().unwrap();
        let data_path = dir.path().join("data");
        let pg = if args.storage.database_url.is_none() && super::server::suite_on_postgres() {
            let pg = tokio::task::spawn_blocking(super::Postgres::start)
                .await
                .unwrap();
            args.storage.database_url = Some(pg.url.clone());
            Some(pg)
        } else {
            None
        };
        let database_url = args.storage.database_url.clone();
        let state = in_process::build(args, &data_path).await;
        let api = Api::in_process(sealcast::http::router(state.clone()));
        let admin = first_admin(&api, |email| {
            let mut child = sealcast_command()
                .args(["admin", "create-user", "--email", email, "--role", "admin"])
                .arg("--password-stdin")
                .arg("--data-dir")
                .arg(&data_path)
                .args(database_url.iter().flat_map(|url| ["--database-url", url]))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
            child.wait().unwrap().code().unwrap_or(-1)
        })
        .await;
        TestApp {
            process: None,
            state: Some(state),
            api,
            admin,
            data_path,
            _in_process_data: Some(dir),
            _in_process_pg: pg,
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    /// The server process (panics for an in-process app).
    pub fn server(&self) -> &TestServer {
        self.process.as_ref().expect("a server process")
    }

    /// Hands the server process back (to crash or restart it).
    pub fn into_server(self) -> TestServer {
        self.process.expect("a server process")
    }

    pub fn data_path(&self) -> PathBuf {
        self.data_path.clone()
    }

    pub fn url(&self, path: &str) -> String {
        self.api.url(path)
    }

    pub async fn user(&self, role: &str) -> Login {
        self.api.user(&self.admin.token, role).await
    }

    /// A creator and a course they own.
    pub async fn creator_with_course(&self) -> (Login, String) {
        let creator = self.user("creator").await;
        let course = self.api.course(&creator.token).await;
        (creator, course)
    }

    /// A learner enrolled (by the admin) in `course`.
    pub async fn learner_in(&self, course: &str) -> Login {
        let learner = self.user("learner").await;
        self.api
            .enroll(&self.admin.token, course, &learner.user_id)
            .await;
        learner
    }

    pub async fn cast(&self) -> Cast {
        let (creator, course) = self.creator_with_course().await;
        let learner = self.user("learner").await;
        self.api
            .enroll(&creator.token, &course, &learner.user_id)
            .await;
        let stranger = self.user("learner").await;
        Cast {
            admin: self.admin.clone(),
            creator,
            learner,
            stranger,
            course,
        }
    }

    /// Uploads a 3 s clip (~300 kB, in 256 KiB PATCHes) and waits until it is ready.
    pub async fn ready_video(&self, creator: &Login, course: &str) -> ReadyVideo {
        let source = media::video_bytes(self.scratch.path(), 3, 300_000);
        self.ready_video_from(creator, course, source).await
    }

    /// Uploads a `seconds`-long 256x144 clip and waits until it is ready.
    pub async fn ready_video_of(&self, creator: &Login, course: &str, seconds: u32) -> ReadyVideo {
        let name = format!("{}.mp4", unique());
        let path = media::make_video(self.scratch.path(), &name, seconds, "256x144");
        self.ready_video_from(creator, course, std::fs::read(path).unwrap())
            .await
    }

    pub async fn ready_video_from(
        &self,
        creator: &Login,
        course: &str,
        source: Vec<u8>,
    ) -> ReadyVideo {
        let id = self
            .api
            .upload(&creator.token, course, &source, 256 * 1024)
            .await;
        let video = self.settled(&id, &creator.token).await;
        assert_eq!(
            video["status"],
            "ready",
            "{video}\n{}",
            self.process
                .as_ref()
                .map(TestServer::log)
                .unwrap_or_default()
        );
        ReadyVideo { id, source }
    }

    /// Waits (up to 4 min) until the video is `ready` or `failed`; its JSON.
    pub async fn settled(&self, id: &str, token: &str) -> Value {
        eventually(Duration::from_secs(240), "video settles", || async {
            let video = self.api.video(id, token).await;
            matches!(video["status"].as_str(), Some("ready" | "failed")).then_some(video)
        })
        .await
    }

    /// A video's `status` through the API.
    pub async fn video_status(&self, id: &str, token: &str) -> String {
        self.api.video(id, token).await["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// This server's storage at rest (see [`AtRest`]: only for tests whose
    /// subject is what is stored).
    pub async fn at_rest(&self) -> AtRest {
        match &self.process {
            Some(server) => AtRest::of(server).await,
            None => {
                let url = match &self._in_process_pg {
                    Some(pg) => pg.url.clone(),
                    None => format!("sqlite://{}", self.data_path.join("sealcast.db").display()),
                };
                AtRest::open(&self.data_path, &url).await
            }
        }
    }

    /// Starts a playback session for `user`.
    pub async fn playback(&self, user: &Login, video: &str) -> Playback {
        self.api.playback(&user.token, video).await
    }

    /// Every segment of a session's first rendition with its signed key URL,
    /// read from the session's playlists.
    pub async fn segments(&self, session: &Playback) -> Vec<SegmentKey> {
        hls::segments(&self.api, &session.master_url).await
    }

    /// The server's URL signer, read from its data dir, for tests that forge
    /// or re-sign playback URLs the server itself would never hand out.
    pub fn url_signer(&self) -> sealcast_keyserver::UrlSigner {
        url_signer(&self.data_path)
    }

    /// A key URL signed like the edge signs it, valid for 10 minutes.
    pub fn key_url(&self, session: &str, key_id: &str) -> String {
        let exp = (sealcast::db::now_ms() / 1000) as u64 + 600;
        sealcast::playback::key_url(&self.url_signer(), session, key_id, exp).unwrap()
    }
}

impl ServerBuilder {
    /// Starts the server and makes its first admin.
    pub async fn app(self) -> TestApp {
        TestApp::on(self.start()).await
    }
}

/// Makes the first admin with `create_user` (the CLI) and logs them in.
async fn first_admin(api: &Api, create_user: impl FnOnce(&str) -> i32) -> Login {
    let email = format!("admin-{}@example.test", &unique()[..8]);
    assert_eq!(create_user(&email), 0, "create-user for the first admin");
    api.login(&email).await
}

/// The URL signer in a data dir's secrets.
pub fn url_signer(data_dir: &Path) -> sealcast_keyserver::UrlSigner {
    let text = std::fs::read_to_string(data_dir.join("secrets/url-signing.key")).unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap();
    sealcast_keyserver::UrlSigner::new(&raw).unwrap()
}
