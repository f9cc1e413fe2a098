//! Signing in against the real server: the `admin create-user` CLI, login,
//! refresh rotation and reuse detection, logout, brute-force limits, and
//! learners of an external issuer.

mod common;

use common::api::{login_from, set_cookie};
use common::{assert_error, Api, TestApp, TestServer, PASSWORD};
use reqwest::header::COOKIE;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refresh_rotation_reuse_and_logout() {
    let server = TestApp::init().start();
    let api = Api::new(&server);

    // The first admin comes from the CLI, against the running server's data dir.
    let (code, admin_id) = server.create_user_cli("Root@Example.test", "admin", PASSWORD);
    assert_eq!(code, 0);
    assert_eq!(admin_id.len(), 32);
    // Same email again: refused with status 2, nothing printed on stdout.
    let (code, stdout) = server.create_user_cli("root@example.test", "admin", PASSWORD);
    assert_eq!((code, stdout.as_str()), (2, ""));

    let resp = api.try_login("root@example.test", PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let cookie = set_cookie(&resp);
    for attr in [
        "sealcast_refresh=",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/v1/auth",
    ] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "no Secure without TLS: {cookie}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["id"], admin_id.as_str());
    assert_eq!(body["user"]["role"], "admin");
    let token = body["access_token"].as_str().unwrap().to_string();
    let refresh1 = cookie.split(';').next().unwrap().to_string();

    let me: Value = api.get("/api/v1/me", &token).await.json().await.unwrap();
    assert_eq!(
        me,
        json!({"id": admin_id, "email": "root@example.test", "role": "admin"})
    );

    // The token's kid is in the JWKS.
    let header = jsonwebtoken::decode_header(&token).unwrap();
    let jwks: Value = api
        .anonymous_get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == header.kid.clone().unwrap().as_str() && k["alg"] == "EdDSA"));

    let wrong = api.try_login("root@example.test", "wrong password!").await;
    assert_error(wrong, 401, "invalid_credentials").await;
    let nobody = api.try_login("nobody@example.test", PASSWORD).await;
    assert_error(nobody, 401, "invalid_credentials").await;

    // Rotation: the refresh cookie buys a new token and a new cookie.
    let refresh = |cookie: String| {
        let api = api.clone();
        async move { api.refresh(&cookie).await }
    };
    let resp = refresh(refresh1.clone()).await;
    assert_eq!(resp.status(), 200);
    let second = login_from(resp).await;
    assert_ne!(second.refresh_cookie, refresh1);
    assert_eq!(api.get("/api/v1/me", &second.token).await.status(), 200);
    // Reusing the spent cookie revokes the whole family, the new cookie too.
    assert_error(refresh(refresh1.clone()).await, 401, "refresh_reused").await;
    assert_error(
        refresh(second.refresh_cookie.clone()).await,
        401,
        "refresh_reused",
    )
    .await;
    assert_error(
        refresh("sealcast_refresh=made-up".into()).await,
        401,
        "invalid_refresh",
    )
    .await;
    let audit = api.audit(&token, 50).await;
    assert!(audit
        .iter()
        .any(|e| e["action"] == "refresh" && e["reason"] == "refresh_reused"));

    // Logout revokes the family and clears the cookie.
    let third = api.login("root@example.test").await;
    let resp = api
        .send(
            api.http
                .post(api.url("/api/v1/auth/logout"))
                .header(COOKIE, &third.refresh_cookie),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert!(set_cookie(&resp).contains("Max-Age=0"));
    assert_error(refresh(third.refresh_cookie).await, 401, "refresh_reused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_login_is_rate_limited_and_audited() {
    let app = TestApp::init()
        .flag("--login-attempts-per-email", 3)
        .app()
        .await;
    let (api, admin) = (&app.api, &app.admin);
    let victim = app.user("learner").await;
    let email: String = api
        .get("/api/v1/me", &victim.token)
        .await
        .json::<Value>()
        .await
        .unwrap()["email"]
        .as_str()
        .unwrap()
        .into();
    for _ in 0..2 {
        let r = api.try_login(&email, "guess-guess").await;
        assert_error(r, 401, "invalid_credentials").await;
    }
    let r = api.try_login(&email, "guess-guess").await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_error(r, 429, "rate_limited").await;
    // Even the right password waits: the account's bucket is empty.
    assert_error(api.try_login(&email, PASSWORD).await, 429, "rate_limited").await;
    let audit = api.audit(&admin.token, 20).await;
    let denied: Vec<&Value> = audit.iter().filter(|e| e["action"] == "login").collect();
    assert!(denied.iter().any(|e| e["reason"] == "rate_limited"));
    assert!(denied.iter().any(|e| e["reason"] == "invalid_credentials"));
    assert!(
        app.server().log().find(PASSWORD).is_none(),
        "no password in logs"
    );
}

/// Two nodes on one database grant one login budget, not two: attempts
/// alternate between them and the one over the limit is refused, though
/// each node saw only half of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_budget_is_shared_by_every_node() {
    let app = TestApp::init()
        .flag("--login-attempts-per-email", 4)
        .app()
        .await;
    let other = TestServer::builder()
        .shared_data(app.data_path())
        .roles("edge")
        .flag("--login-attempts-per-email", 4)
        .start();
    let nodes = [&app.api, &Api::new(&other)];
    let victim = app.user("learner").await; // one attempt, on the first node
    for node in [1, 0, 1] {
        let r = nodes[node].try_login(&victim.email, "guess-guess").await;
        assert_error(r, 401, "invalid_credentials").await;
    }
    // Each node has seen two attempts; together they have seen four.
    let r = nodes[1].try_login(&victim.email, PASSWORD).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 429, "rate_limited").await;
    assert_error(
        nodes[0].try_login(&victim.email, PASSWORD).await,
        429,
        "rate_limited",
    )
    .await;
}

const EXT_ISS: &str = "https://lms.example.test";
const EXT_AUD: &str = "sealcast-from-lms";

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("keyserver/src/testdata")
        .join(name)
}

/// An RS256 token as the course platform would mint it.
fn lms_token(sub: &str, role: &str, aud: &str, kid: Option<&str>) -> String {
    let now = sealcast::db::now_ms() / 1000;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(String::from);
    let claims =
        json!({"sub": sub, "role": role, "iss": EXT_ISS, "aud": aud, "exp": now + 300, "nbf": now});
    let pem = std::fs::read(testdata("ext_rsa_private.pem")).unwrap();
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap()
}

/// Serves one file over HTTP on loopback (the issuer's JWKS endpoint).
async fn serve_once_forever(body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}/jwks.json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_issuers_learners_can_watch() {
    let jwks_url =
        serve_once_forever(std::fs::read_to_string(testdata("ext_jwks.json")).unwrap()).await;
    let issuer = || {
        TestApp::init()
            .fast_transcodes()
            .flag("--external-issuer", EXT_ISS)
            .flag("--external-audience", EXT_AUD)
    };
    let pem_server = issuer()
        .flag(
            "--external-key-file",
            testdata("ext_rsa_public.pem").display(),
        )
        .app()
        .await;
    let url_server = issuer().flag("--external-jwks-url", jwks_url).app().await;
    for (app, kid) in [(&pem_server, None), (&url_server, Some("ext-rsa-1"))] {
        let api = &app.api;
        let (creator, course) = app.creator_with_course().await;
        let token = lms_token("lms-learner-42", "learner", EXT_AUD, kid);
        // First request provisions the account with the token's role.
        let me: Value = api.get("/api/v1/me", &token).await.json().await.unwrap();
        let learner_id = sealcast_keyserver::external_user_id(EXT_ISS, "lms-learner-42");
        assert_eq!(me["id"], learner_id.as_str());
        assert_eq!(me["role"], "learner");
        assert_error(
            api.post("/api/v1/courses", &token, json!({"title": "x"}))
                .await,
            403,
            "forbidden",
        )
        .await;
        // Enrolled by the course owner, the learner plays and gets keys.
        api.enroll(&creator.token, &course, &learner_id).await;
        let video = app.ready_video(&creator, &course).await;
        let session = api.playback(&token, &video.id).await;
        let first = &app.segments(&session).await[0];
        let resp = api.key(&first.key_uri, Some(&token)).await;
        assert_eq!(resp.status(), 200);
        let key = resp.bytes().await.unwrap();
        // The same content key the course owner gets for that segment.
        let owners = app.playback(&creator, &video.id).await;
        let owners_first = &app.segments(&owners).await[0];
        let resp = api.key(&owners_first.key_uri, Some(&creator.token)).await;
        assert_eq!((key.len(), resp.bytes().await.unwrap()), (16, key.clone()));
        // Wrong audience, and a local-looking token signed by the platform, are refused.
        let wrong = lms_token("lms-learner-42", "learner", "someone-else", kid);
        assert_error(api.get("/api/v1/me", &wrong).await, 401, "invalid_token").await;
        // A password login for the provisioned account never works.
        assert_error(
            api.try_login(&format!("{learner_id}@external.invalid"), PASSWORD)
                .await,
            401,
            "invalid_credentials",
        )
        .await;
    }
}
