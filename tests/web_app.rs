//! The web app's folder served by the real binary: the shell with its
//! Content-Security-Policy, client-side routes falling back to the shell,
//! hashed assets cached for good, and API paths that stay JSON 404s.

mod common;

use std::time::Duration;

use common::TestServer;
use serde_json::Value;

const SHELL: &str = "<!doctype html><title>shell-marker-7f3a</title>\
                     <script type=\"module\" src=\"/assets/app-4f2c.js\"></script>";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A folder shaped like `player-demo/dist`.
fn built_app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), SHELL).unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("assets/app-4f2c.js"),
        "console.log('app');\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("favicon.svg"), "<svg/>").unwrap();
    dir
}

fn csp(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("content-security-policy")
        .expect("a Content-Security-Policy header")
        .to_str()
        .unwrap()
        .to_string()
}

async fn expect_json_404(c: &reqwest::Client, url: String) {
    let resp = c.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 404, "{url}");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{url}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found", "{url}");
}

#[tokio::test]
async fn serves_the_shell_with_a_strict_policy_and_falls_back_for_app_routes() {
    let web = built_app();
    let server = TestServer::builder()
        .arg("--web-dir")
        .arg(web.path().to_str().unwrap())
        .start();
    let c = client();

    for path in [
        "/",
        "/login",
        "/watch/0123abcd",
        "/studio/courses/42",
        "/admin",
    ] {
        let resp = c.get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let policy = csp(&resp);
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline"), "{policy}");
        assert!(!policy.contains('*'), "{policy}");
        assert_eq!(resp.headers()["cache-control"], "no-cache", "{path}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(resp.text().await.unwrap(), SHELL, "{path}");
    }

    let resp = c
        .get(server.url("/assets/app-4f2c.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    assert!(resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert!(csp(&resp).contains("default-src 'self'"));
    assert_eq!(resp.text().await.unwrap(), "console.log('app');\n");

    let resp = c.head(server.url("/favicon.svg")).send().await.unwrap();
    assert_eq!(resp.status(), 200);

    // Missing files and unknown paths are not papered over with the shell.
    for path in [
        "/assets/missing-1234.js",
        "/api/v1/no-such-endpoint",
        "/api/v1/videos/nope/also-nope",
        "/no/such/route",
        "/index.html/..%2f..%2fetc%2fpasswd",
    ] {
        expect_json_404(&c, server.url(path)).await;
    }

    // A traversal inside an app route gets the shell, never a file outside.
    let resp = c
        .get(server.url("/watch/..%2f..%2f..%2fdata%2fsecrets%2furl_signing.key"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), SHELL);

    // Writes never reach the folder.
    let resp = c
        .post(server.url("/studio"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_missing_build_gets_a_page_saying_how_to_build_it() {
    let empty = tempfile::tempdir().unwrap();
    let missing = empty.path().join("dist");
    let server = TestServer::builder()
        .arg("--web-dir")
        .arg(missing.to_str().unwrap())
        .start();
    let c = client();

    let resp = c.get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(csp(&resp).contains("default-src 'self'"));
    let page = resp.text().await.unwrap();
    assert!(page.contains("make web"), "{page}");
    assert!(page.contains("npm ci"), "{page}");
    assert!(page.contains(missing.to_str().unwrap()), "{page}");

    expect_json_404(&c, server.url("/api/v1/no-such-endpoint")).await;
    assert_eq!(
        c.get(server.url("/healthz")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn the_web_dir_setting_reads_its_environment_variable() {
    let web = built_app();
    let server = TestServer::builder()
        .env("SEALCAST_WEB_DIR", web.path().to_str().unwrap())
        .start();
    let resp = client().get(server.url("/courses")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), SHELL);
}
