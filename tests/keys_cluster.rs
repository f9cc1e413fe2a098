//! Signing keys across nodes: two servers on one PostgreSQL, each with its
//! own data dir, sharing only the secret files (`SEALCAST_*_FILE`) and the
//! database. `admin rotate-signing-key` and `admin rotate-url-key` run against
//! the database; both nodes take the new key without a restart, and tokens
//! and URLs signed with the old one keep working. Also the single-node path
//! on SQLite, and the operator's signing-key file, which refuses rotation.

mod common;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use base64::Engine;
use common::{eventually, Api, Postgres, ServerBuilder, TestApp, TestServer};
use rand::RngCore;
use serde_json::Value;

const WITHIN: Duration = Duration::from_secs(60);

/// The secret files an operator hands every node of a cluster, and the
/// object storage they share.
struct SharedSecrets {
    dir: tempfile::TempDir,
    storage: tempfile::TempDir,
}

impl SharedSecrets {
    fn new() -> Self {
        let secrets = SharedSecrets {
            dir: tempfile::tempdir().unwrap(),
            storage: tempfile::tempdir().unwrap(),
        };
        for name in ["url-signing.key", "master.key"] {
            let mut raw = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut raw);
            let text = base64::engine::general_purpose::STANDARD.encode(raw);
            write_private(&secrets.path(name), text.as_bytes());
        }
        secrets
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn env(&self) -> [(&'static str, PathBuf); 2] {
        [
            (
                "SEALCAST_URL_SIGNING_SECRET_FILE",
                self.path("url-signing.key"),
            ),
            ("SEALCAST_MASTER_KEY_FILE", self.path("master.key")),
        ]
    }

    fn node(&self, builder: ServerBuilder) -> ServerBuilder {
        let storage = format!("file://{}", self.storage.path().display());
        self.env()
            .into_iter()
            .fold(builder.flag("--storage", storage), |b, (k, v)| {
                b.env(k, v.display().to_string())
            })
    }
}

fn write_private(path: &Path, contents: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(contents).unwrap();
}

/// `sealcast admin CMD` against `server`'s database, with `env`; its output.
fn admin(server: &TestServer, cmd: &str, env: &[(&str, PathBuf)]) -> Output {
    server
        .admin_command(&[cmd])
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs a rotation that must succeed; what it printed (the new kid or version).
fn rotate(server: &TestServer, cmd: &str, env: &[(&str, PathBuf)]) -> String {
    let out = admin(server, cmd, env);
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn me_status(api: &Api, token: &str) -> u16 {
    api.get("/api/v1/me", token).await.status().as_u16()
}

/// Logs `email` in on `api` until the token is signed by `want`.
async fn token_signed_by(api: &Api, email: &str, want: &str) -> String {
    eventually(WITHIN, &format!("a login signed by {want}"), || async {
        let token = api.login(email).await.token;
        (kid(&token) == want).then_some(token)
    })
    .await
}

fn jwks_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_rotated_signing_and_url_keys_without_a_restart() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let secrets = SharedSecrets::new();
    let a = secrets
        .node(TestApp::init().postgres(&pg).fast_transcodes())
        .app()
        .await;
    let b = secrets
        .node(TestApp::init().postgres(&pg).no_workers())
        .start();
    assert_ne!(a.data_path(), b.data_path(), "separate data dirs");
    let (api_a, api_b) = (&a.api, &Api::new(&b));
    let c = a.cast().await;
    let video = a.ready_video(&c.creator, &c.course).await.id;

    // Before any rotation: a token from A works on B, a URL from A on B.
    let old_token = c.learner.token.clone();
    assert_eq!(me_status(api_b, &old_token).await, 200);
    let old_master = a.playback(&c.learner, &video).await.master_url;
    let (old_base, old_path_token) = common::hls::split_token(&old_master);
    assert!(old_path_token.contains(".0."), "version 0: {old_master}");
    assert_eq!(api_b.anonymous_get(&old_master).await.status(), 200);

    // Rotate the signing key against the database; no node restarts.
    let env = secrets.env();
    let new_kid = rotate(a.server(), "rotate-signing-key", &env);
    assert_ne!(new_kid, kid(&old_token));
    let fresh = token_signed_by(api_a, &c.learner.email, &new_kid).await;
    assert_eq!(
        me_status(api_b, &fresh).await,
        200,
        "B verifies A's new key"
    );
    let from_b = token_signed_by(api_b, &c.learner.email, &new_kid).await;
    assert_eq!(me_status(api_a, &from_b).await, 200);
    for api in [api_a, api_b] {
        assert_eq!(
            me_status(api, &old_token).await,
            200,
            "the old key verifies"
        );
        let kids = jwks_kids(
            &api.anonymous_get("/.well-known/jwks.json")
                .await
                .json()
                .await
                .unwrap(),
        );
        assert!(
            kids.contains(&new_kid) && kids.contains(&kid(&old_token)),
            "{kids:?}"
        );
    }

    // Rotate the URL key: the old session's URLs keep working on both
    // nodes, its keys too (under its version-0 token, with the new kid's
    // token), and sessions A starts from now on carry the new version, which
    // B checks on playlists and at the key route alike.
    assert_eq!(rotate(a.server(), "rotate-url-key", &env), "1");
    let old = common::hls::segments(api_a, &old_master).await;
    assert!(old[0].key_uri.starts_with(&old_base), "{}", old[0].key_uri);
    assert_eq!(api_b.anonymous_get(&old_master).await.status(), 200);
    assert_eq!(api_b.anonymous_get(&old[0].segment_uri).await.status(), 200);
    let resp = api_b.key(&old[0].key_uri, Some(&fresh)).await;
    assert_eq!(resp.status(), 200, "B's key route checks the new kid");
    // A's signed poster URLs tell when it signs with version 1.
    eventually(WITHIN, "A signs with kv=1", || async {
        let resp = api_a
            .get(&format!("/api/v1/videos/{video}"), &c.learner.token)
            .await;
        let body: Value = resp.json().await.unwrap();
        let poster = body["poster_url"].as_str().unwrap_or_default();
        poster.contains("kv=1").then_some(())
    })
    .await;
    let new_master = a.playback(&c.learner, &video).await.master_url;
    let (new_base, new_path_token) = common::hls::split_token(&new_master);
    assert_eq!(
        api_b.anonymous_get(&new_master).await.status(),
        200,
        "B checks kv=1"
    );
    let new = common::hls::segments(api_b, &new_master).await;
    assert_eq!(
        api_b.key(&new[0].key_uri, Some(&fresh)).await.status(),
        200,
        "B's key route checks kv=1 in the path token"
    );
    // A version nobody made is refused, and so is a version-1 claim on an old signature.
    let unknown = new_master.replace(&new_path_token, &new_path_token.replacen(".1.", ".9.", 1));
    assert_eq!(api_b.anonymous_get(&unknown).await.status(), 403);
    let claimed = old_master.replace(&old_path_token, &old_path_token.replacen(".0.", ".1.", 1));
    assert_eq!(api_b.anonymous_get(&claimed).await.status(), 403);
    assert!(new_base != old_base);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_sqlite_node_rotates_without_a_restart() {
    let app = TestApp::init().no_workers().app().await;
    let old = app.admin.token.clone();
    let new_kid = rotate(app.server(), "rotate-signing-key", &[]);
    let fresh = token_signed_by(&app.api, &app.admin.email, &new_kid).await;
    assert_eq!(me_status(&app.api, &fresh).await, 200);
    assert_eq!(me_status(&app.api, &old).await, 200, "the old key verifies");
    // The first key stays in the data dir, as a single node always kept it.
    assert_eq!(
        std::fs::read_dir(app.data_path().join("secrets/signing-keys"))
            .unwrap()
            .count(),
        1
    );
    assert_eq!(rotate(app.server(), "rotate-url-key", &[]), "1");
    assert_eq!(rotate(app.server(), "rotate-url-key", &[]), "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signing_key_file_is_a_keyring_of_one_that_rotation_refuses() {
    let secrets = tempfile::tempdir().unwrap();
    let ring = sealcast_keyserver::SigningKeyring::generate();
    let file = secrets.path().join("signing.pem");
    write_private(&file, ring.to_pems().unwrap()[0].as_bytes());
    let env = [("SEALCAST_SIGNING_KEY_FILE", file.clone())];
    let app = TestApp::init()
        .env("SEALCAST_SIGNING_KEY_FILE", file.display().to_string())
        .no_workers()
        .app()
        .await;
    assert_eq!(Some(kid(&app.admin.token).as_str()), ring.active_kid());
    let out = admin(app.server(), "rotate-signing-key", &env);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SEALCAST_SIGNING_KEY_FILE"), "{stderr}");
    // URL keys still rotate; the file's key still signs.
    assert_eq!(rotate(app.server(), "rotate-url-key", &env), "1");
    let again = app.api.login(&app.admin.email).await.token;
    assert_eq!(Some(kid(&again).as_str()), ring.active_kid());
}
