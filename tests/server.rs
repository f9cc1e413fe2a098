//! Health, readiness, metrics, the error envelope, security headers and
//! CORS (in process: no process boundary is under test), and on the real
//! binary: configuration errors, secrets on disk, storage at start and
//! graceful shutdown.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{sealcast_command, Api, Garage, Response, TestServer};
use sealcast::config::ServeArgs;
use serde_json::Value;

async fn json(resp: Response) -> Value {
    resp.json().await.unwrap()
}

/// The app in this process, for pure HTTP checks.
async fn in_process(args: ServeArgs) -> (Api, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = common::in_process::build(args, &dir.path().join("data")).await;
    (Api::in_process(sealcast::http::router(app)), dir)
}

#[tokio::test]
async fn invented_methods_do_not_become_metric_labels() {
    let (c, _dir) = in_process(ServeArgs::default()).await;
    for name in ["XYZZY", "PLUGH"] {
        let method = reqwest::Method::from_bytes(name.as_bytes()).unwrap();
        let resp = c.send(c.http.request(method, c.url("/healthz"))).await;
        assert_eq!(resp.status(), 405);
    }
    let metrics = c.anonymous_get("/metrics").await.text().await.unwrap();
    assert!(
        !metrics.contains("XYZZY") && !metrics.contains("PLUGH"),
        "{metrics}"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
}

#[tokio::test]
async fn health_ready_and_metrics_answer() {
    let (c, _dir) = in_process(ServeArgs::default()).await;

    let resp = c.anonymous_get("/healthz").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.headers()["x-frame-options"], "DENY");
    assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
    assert!(
        !resp.headers().contains_key("strict-transport-security"),
        "no HSTS without TLS"
    );
    assert!(!resp.headers().contains_key("access-control-allow-origin"));
    assert_eq!(json(resp).await["status"], "ok");

    let resp = c.anonymous_get("/readyz").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["status"], "ready");

    let resp = c.anonymous_get("/").await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("sealcast"));

    let metrics = c.anonymous_get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("sealcast_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/healthz\""), "{metrics}");
    assert!(
        metrics.contains("sealcast_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_the_envelope() {
    let (c, _dir) = in_process(ServeArgs::default()).await;

    let resp = c.anonymous_get("/no/such/route").await;
    assert_eq!(resp.status(), 404);
    let request_id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = json(resp).await;
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["request_id"], request_id.as_str());
    assert!(!request_id.is_empty());

    let resp = c.send(c.http.post(c.url("/healthz")).body("x")).await;
    assert_eq!(resp.status(), 405);
    assert!(resp.headers().contains_key("allow"));
    let body = json(resp).await;
    assert_eq!(body["error"]["code"], "method_not_allowed");

    // Hostile paths don't reach the file system or crash anything.
    for path in [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/objects/..%2fsecrets",
    ] {
        let resp = c.anonymous_get(path).await;
        assert_eq!(resp.status(), 404, "{path}");
    }
    assert_eq!(c.anonymous_get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn sigterm_exits_zero() {
    let mut server = TestServer::start();
    assert_eq!(
        Api::new(&server).anonymous_get("/healthz").await.status(),
        200
    );
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.log());
    assert!(server.log().contains("shut down cleanly"));
}

#[tokio::test]
async fn secrets_are_generated_private_and_never_logged() {
    let server = TestServer::start();
    let secrets = server.data_path().join("secrets");
    assert_eq!(
        std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for name in ["url-signing.key", "master.key"] {
        let path = secrets.join(name);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{name}"
        );
        let value = std::fs::read_to_string(&path).unwrap();
        assert!(
            !server.log().contains(value.trim()),
            "{name} appears in the log"
        );
    }
    let keys: Vec<_> = std::fs::read_dir(secrets.join("signing-keys"))
        .unwrap()
        .collect();
    assert_eq!(keys.len(), 1);
}

fn run_expecting_exit(args: &[&str], envs: &[(&str, &str)]) -> (i32, String) {
    let out = sealcast_command()
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn malformed_configuration_exits_2_naming_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("d");
    let data = data.to_str().unwrap();
    let bad_toml = tmp.path().join("bad.toml");
    std::fs::write(&bad_toml, "listen = 42\n").unwrap();
    let unknown_key = tmp.path().join("unknown.toml");
    std::fs::write(&unknown_key, "lisen = \"127.0.0.1:1\"\n").unwrap();

    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["serve", "--data-dir", data, "--log-format", "xml"],
            vec![],
            "log_format",
        ),
        (
            vec!["serve", "--data-dir", data],
            vec![("SEALCAST_STORAGE", "ftp://x")],
            "storage",
        ),
        (
            vec!["serve", "--data-dir", data, "--listen", "not-an-address"],
            vec![],
            "--listen",
        ),
        (
            vec!["serve", "--data-dir", data],
            vec![("SEALCAST_LISTEN", "nope")],
            "--listen",
        ),
        (
            vec![
                "serve",
                "--data-dir",
                data,
                "--config",
                bad_toml.to_str().unwrap(),
            ],
            vec![],
            "listen",
        ),
        (
            vec![
                "serve",
                "--data-dir",
                data,
                "--config",
                unknown_key.to_str().unwrap(),
            ],
            vec![],
            "lisen",
        ),
        (
            vec!["serve", "--data-dir", data, "--cors-origins", "*"],
            vec![],
            "cors_origins",
        ),
        (
            vec!["serve", "--data-dir", data, "--tls-cert", "/x.pem"],
            vec![],
            "tls_key",
        ),
    ];
    for (args, envs, needle) in cases {
        let (code, stderr) = run_expecting_exit(&args, &envs);
        assert_eq!(code, 2, "{args:?} {envs:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: `{needle}` not in {stderr}"
        );
        let lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(lines.len(), 1, "one error line: {stderr}");
    }
}

#[test]
fn group_readable_secret_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("url.key");
    std::fs::write(
        &secret,
        "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n",
    )
    .unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    let data = tmp.path().join("d");
    let (code, stderr) = run_expecting_exit(
        &[
            "serve",
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        &[("SEALCAST_URL_SIGNING_SECRET_FILE", secret.to_str().unwrap())],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("readable by group or others") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("c2VjcmV0"),
        "the secret itself is never printed"
    );
}

#[tokio::test]
async fn unreachable_s3_starts_but_is_not_ready() {
    let server = TestServer::builder()
        .arg("--storage")
        .arg("s3://missing-bucket/p")
        .arg("--s3-endpoint")
        .arg("http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-real-secret-value")
        .start();
    let c = Api::new(&server);
    assert_eq!(c.anonymous_get("/healthz").await.status(), 200);
    let resp = c.anonymous_get("/readyz").await;
    assert_eq!(resp.status(), 503);
    let body = json(resp).await;
    assert_eq!(body["error"]["code"], "unavailable");
    // Anyone may ask: the answer names the failing part, never its cause
    // (hosts, paths, driver errors); those go to the log.
    assert_eq!(body["error"]["message"], "not ready: storage", "{body}");
    let log = server.log();
    assert!(log.contains("storage not reachable at start"), "{log}");
    assert!(log.contains("readiness check failed"), "{log}");
    assert!(!log.contains("not-a-real-secret-value"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_on_garage_s3() {
    let garage = tokio::task::spawn_blocking(Garage::start).await.unwrap();
    let server = TestServer::builder().garage(&garage).start();
    let resp = Api::new(&server).anonymous_get("/readyz").await;
    assert_eq!(resp.status(), 200, "{}", server.log());
}

#[tokio::test]
async fn cors_only_for_configured_origins() {
    let mut args = ServeArgs::default();
    args.server.cors_origins = Some(vec!["https://courses.example".into()]);
    let (c, _dir) = in_process(args).await;
    let preflight = |origin: &'static str| {
        c.send(
            c.http
                .request(reqwest::Method::OPTIONS, c.url("/healthz"))
                .header("origin", origin)
                .header("access-control-request-method", "GET"),
        )
    };
    let ok = preflight("https://courses.example").await;
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://courses.example"
    );
    let other = preflight("https://evil.example").await;
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    // A cross-origin player may read Retry-After on a 429, to wait as told.
    let get = c
        .send(
            c.http
                .get(c.url("/healthz"))
                .header("origin", "https://courses.example"),
        )
        .await;
    let exposed = get.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.split(',').any(|h| h.trim() == "retry-after"),
        "{exposed}"
    );
}
