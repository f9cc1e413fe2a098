//! Debian's nginx in front of a real sealcast node, with the very config in
//! `deploy/nginx/sealcast.conf` (only its three CHANGE lines replaced):
//! sealcast checks every segment request and hands the file to nginx with
//! `X-Accel-Redirect`; nginx sends exactly the stored bytes (whole and in
//! ranges) with sealcast's headers, never the redirect header itself, and
//! nothing under the internal prefix can be asked for from outside. The
//! ffmpeg CLI plays the whole session through nginx (keys included).

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use common::{Api, TestApp};

const PREFIX: &str = "/_sealcast_objects/";
const NGINX: &str = "/usr/sbin/nginx";

/// nginx in the foreground, stopped with the test.
struct Nginx {
    child: Child,
    base: String,
    log: std::path::PathBuf,
}

impl Nginx {
    /// Its error log, for a failing assertion's message.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `text` with `from` replaced, which must occur exactly once.
fn change(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "deploy/nginx/sealcast.conf has one `{from}`"
    );
    text.replacen(from, to, 1)
}

fn start_nginx(dir: &Path, upstream: &str, objects: &Path) -> Nginx {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/sealcast.conf"),
    )
    .unwrap();
    let site = change(
        &shipped,
        "server 127.0.0.1:8080;",
        &format!("server {upstream};"),
    );
    let site = change(&site, "listen 80;", &format!("listen 127.0.0.1:{port};"));
    let site = change(
        &site,
        "alias /var/lib/sealcast/objects/objects/;",
        &format!("alias {}/;", objects.display()),
    );
    std::fs::write(dir.join("sealcast.conf"), site).unwrap();
    // As the deploy file says: the workers run as the data dir's owner (the
    // objects folder is 0700). A non-root master cannot switch users anyway.
    let me = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let d = dir.display();
    let main = format!(
        "user {me};\ndaemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         include {d}/sealcast.conf;\n}}\n",
        me = me.trim()
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let child = Command::new(NGINX)
        .args(["-p", &d.to_string(), "-e", &format!("{d}/error.log")])
        .args(["-c", &format!("{d}/nginx.conf")])
        .spawn()
        .expect("Debian's nginx is required by the tests (`make test` installs nginx-light)");
    Nginx {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log: dir.join("error.log"),
    }
}

async fn get(api: &Api, path: &str, range: Option<&str>) -> common::api::Response {
    let mut req = api.http.get(api.url(path));
    if let Some(range) = range {
        req = req.header("range", range);
    }
    api.send(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_sends_checked_segments_from_disk_and_nothing_else() {
    let app = TestApp::init()
        .fast_transcodes()
        .flag("--segment-redirect-prefix", PREFIX)
        .app()
        .await;
    let direct = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let video = app.ready_video(&creator, &course).await.id;
    let learner = app.learner_in(&course).await;
    let session = app.playback(&learner, &video).await;

    let scratch = tempfile::tempdir().unwrap();
    let upstream = direct.url("").trim_start_matches("http://").to_string();
    let nginx = start_nginx(
        scratch.path(),
        &upstream,
        &app.data_path().join("objects/objects"),
    );
    let front = Api::at(&nginx.base);
    common::eventually(Duration::from_secs(10), "nginx answering", || async {
        let ok = front.http.get(front.url("/healthz")).send().await;
        ok.is_ok_and(|r| r.status() == 200).then_some(())
    })
    .await;

    // The playlists come through nginx as sealcast wrote them.
    let segments = common::hls::segments(&front, &session.master_url).await;
    let segment = segments[0].segment_uri.clone();
    let rest: Vec<&str> = segment.rsplitn(3, '/').collect();
    let object = format!("videos/{video}/hls/{}/{}", rest[1], rest[0]);
    let stored = app.at_rest().await.object(&object).await;
    assert!(stored.len() > 200, "a real segment: {} bytes", stored.len());

    // sealcast itself answers with the redirect and no bytes...
    let resp = get(direct, &segment, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["x-accel-redirect"],
        format!("{PREFIX}{object}").as_str()
    );
    assert!(
        resp.body_bytes().is_empty(),
        "sealcast sends no bytes itself"
    );

    // ...and nginx sends the stored file, with sealcast's headers and not its redirect.
    let resp = get(&front, &segment, None).await;
    assert_eq!(resp.status(), 200, "nginx's log: {}", nginx.log());
    assert!(
        resp.body_bytes() == stored.as_slice(),
        "nginx sends the bytes at rest"
    );
    assert_eq!(resp.headers()["content-type"], "video/mp2t");
    assert_eq!(resp.headers()["cache-control"], "private, max-age=3600");
    assert!(!resp.headers().contains_key("x-accel-redirect"));
    let resp = get(&front, &segment, Some("bytes=100-199")).await;
    assert_eq!(resp.status(), 206);
    assert!(resp.body_bytes() == &stored[100..200]);

    // Every check still runs first: a forged token, a segment that is not stored.
    let (base, token) = common::hls::split_token(&segment);
    let forged = segment.replace(&token, &format!("{}x", &token[..token.len() - 1]));
    assert_ne!(forged, segment);
    let resp = get(&front, &forged, None).await;
    assert_eq!(resp.status(), 403);
    assert!(resp.body_bytes() != stored.as_slice());
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "bad_signature"
    );
    let missing = format!("{base}{}/seg_99999.ts", rest[1]);
    let resp = get(&front, &missing, None).await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "not_found"
    );

    // The internal prefix cannot be asked for from outside.
    let resp = get(&front, &format!("{PREFIX}{object}"), None).await;
    assert_eq!(resp.status(), 404);
    assert!(resp.body_bytes() != stored.as_slice());

    // A whole playback through nginx: master, variants, keys and segments.
    let frames = common::media::ffmpeg_play(&front.url(&session.master_url), &learner.token);
    assert!(frames >= 70, "decoded {frames} frames");

    // Once the session ends, nginx is handed nothing more.
    let resp = front
        .send(
            front
                .http
                .delete(front.url(&format!("/api/v1/playback/{}", session.session_id)))
                .bearer_auth(&learner.token),
        )
        .await;
    assert_eq!(resp.status(), 204);
    common::eventually(
        Duration::from_secs(10),
        "the ended session's segment refused",
        || async { (get(&front, &segment, None).await.status() == 403).then_some(()) },
    )
    .await;
}
