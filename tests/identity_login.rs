//! Identity against the real server: login, refresh rotation and reuse
//! detection, logout, roles and ownership, enrollments, playback sessions,
//! admin revocation and the audit log, and the `admin` CLI.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::fixtures::DataDir;
use common::identity::{
    admin, assert_error, identity_server, login_from, ready_video, set_cookie, Api, PASSWORD,
};
use common::sealcast_command;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_refresh_rotation_reuse_and_logout() {
    let server = identity_server().start();
    let api = Api::new(&server);

    // The first admin comes from the CLI, against the running server's data dir.
    let mut child = sealcast_command()
        .args(["admin", "create-user", "--email", "Root@Example.test"])
        .args(["--role", "admin", "--password-stdin", "--data-dir"])
        .arg(server.data_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin_id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(admin_id.len(), 32);
    // Same email again: refused with status 2, nothing printed on stdout.
    let mut child = sealcast_command()
        .args(["admin", "create-user", "--email", "root@example.test"])
        .args(["--role", "admin", "--password-stdin", "--data-dir"])
        .arg(server.data_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());

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
    let jwks: Value = reqwest::get(api.url("/.well-known/jwks.json"))
        .await
        .unwrap()
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
        async move {
            api.http
                .post(api.url("/api/v1/auth/refresh"))
                .header(COOKIE, cookie)
                .send()
                .await
                .unwrap()
        }
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
        .http
        .post(api.url("/api/v1/auth/logout"))
        .header(COOKIE, &third.refresh_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(set_cookie(&resp).contains("Max-Age=0"));
    assert_error(refresh(third.refresh_cookie).await, 401, "refresh_reused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brute_force_login_is_rate_limited_and_audited() {
    let server = identity_server()
        .arg("--login-attempts-per-email")
        .arg("3")
        .start();
    let api = Api::new(&server);
    let data = DataDir::open(&server.data_path()).await;
    let admin = admin(&api, &data).await;
    let victim = api.user(&admin.token, "learner").await;
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
    assert!(server.log().find(PASSWORD).is_none(), "no password in logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_ownership_and_enrollments() {
    let server = identity_server().start();
    let api = Api::new(&server);
    let data = DataDir::open(&server.data_path()).await;
    let admin = admin(&api, &data).await;
    let creator = api.user(&admin.token, "creator").await;
    let other_creator = api.user(&admin.token, "creator").await;
    let learner = api.user(&admin.token, "learner").await;

    // Users: admin only; email_taken; validation codes.
    let r = api
        .post(
            "/api/v1/users",
            &learner.token,
            json!({"email":"x@y.test","password":PASSWORD,"role":"admin"}),
        )
        .await;
    assert_error(r, 403, "forbidden").await;
    let me: Value = api
        .get("/api/v1/me", &learner.token)
        .await
        .json()
        .await
        .unwrap();
    let r = api
        .post(
            "/api/v1/users",
            &admin.token,
            json!({"email": me["email"], "password": PASSWORD, "role": "learner"}),
        )
        .await;
    assert_error(r, 409, "email_taken").await;
    for (body, code) in [
        (
            json!({"email":"not-an-email","password":PASSWORD,"role":"learner"}),
            "invalid_email",
        ),
        (
            json!({"email":"a@b.test","password":"short","role":"learner"}),
            "weak_password",
        ),
        (
            json!({"email":"a@b.test","password":PASSWORD,"role":"root"}),
            "invalid_role",
        ),
        (json!({"email":"a@b.test"}), "invalid_json"),
    ] {
        assert_error(
            api.post("/api/v1/users", &admin.token, body).await,
            400,
            code,
        )
        .await;
    }
    let users: Value = api
        .get("/api/v1/users", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["users"].as_array().unwrap().len(), 4);
    assert_error(
        api.get("/api/v1/users", &creator.token).await,
        403,
        "forbidden",
    )
    .await;

    // Malformed and oversized bodies answer 4xx with stable codes; the server stays up.
    let raw = |body: Vec<u8>, ctype: &str| {
        api.http
            .post(api.url("/api/v1/courses"))
            .bearer_auth(&creator.token)
            .header(CONTENT_TYPE, ctype.to_string())
            .body(body)
            .send()
    };
    assert_error(
        raw(b"{\"title\":".to_vec(), "application/json")
            .await
            .unwrap(),
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        raw(b"title=x".to_vec(), "text/plain").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let big = format!("{{\"title\":\"{}\"}}", "x".repeat(200_000)).into_bytes();
    assert_error(
        raw(big, "application/json").await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;

    // Courses: creators and admins create; learners do not.
    assert_error(
        api.post("/api/v1/courses", &learner.token, json!({"title":"Nope"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        api.post("/api/v1/courses", &creator.token, json!({"title":"  "}))
            .await,
        400,
        "invalid_title",
    )
    .await;
    let course = api.course(&creator.token).await;
    let c: Value = api
        .get(&format!("/api/v1/courses/{course}"), &creator.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["owner_id"], creator.user_id.as_str());
    assert_error(
        api.get(&format!("/api/v1/courses/{course}"), &learner.token)
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        api.get("/api/v1/courses/0000", &learner.token).await,
        404,
        "not_found",
    )
    .await;

    // Enrollments: owner or admin; by id or by email.
    let enroll_path = format!("/api/v1/courses/{course}/enrollments");
    assert_error(
        api.post(
            &enroll_path,
            &other_creator.token,
            json!({"user_id": learner.user_id}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_error(
        api.post(
            &enroll_path,
            &learner.token,
            json!({"user_id": learner.user_id}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let r = api
        .post(&enroll_path, &creator.token, json!({"email": me["email"]}))
        .await;
    assert_eq!(r.status(), 201);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (e["course_id"].as_str(), e["user_id"].as_str()),
        (Some(course.as_str()), Some(learner.user_id.as_str()))
    );
    assert_error(
        api.post(
            &enroll_path,
            &admin.token,
            json!({"user_id": learner.user_id}),
        )
        .await,
        409,
        "already_enrolled",
    )
    .await;
    assert_error(
        api.post(
            &enroll_path,
            &admin.token,
            json!({"email": "ghost@example.test"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        api.post(&enroll_path, &admin.token, json!({})).await,
        400,
        "bad_request",
    )
    .await;
    let list: Value = api
        .get(&enroll_path, &creator.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["enrollments"][0]["email"], me["email"]);
    assert_error(
        api.get(&enroll_path, &learner.token).await,
        403,
        "forbidden",
    )
    .await;

    // Who sees which courses.
    let other_course = api.course(&other_creator.token).await;
    let ids = |v: Value| -> Vec<String> {
        v["courses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect()
    };
    let seen = ids(api
        .get("/api/v1/courses", &learner.token)
        .await
        .json()
        .await
        .unwrap());
    assert_eq!(seen, vec![course.clone()]);
    let seen = ids(api
        .get("/api/v1/courses", &creator.token)
        .await
        .json()
        .await
        .unwrap());
    assert_eq!(seen, vec![course.clone()]);
    let seen = ids(api
        .get("/api/v1/courses", &admin.token)
        .await
        .json()
        .await
        .unwrap());
    assert!(seen.contains(&course) && seen.contains(&other_course));
    assert_eq!(
        api.get(&format!("/api/v1/courses/{course}"), &learner.token)
            .await
            .status(),
        200
    );

    // Removal.
    let path = format!("{enroll_path}/{}", learner.user_id);
    assert_error(
        api.delete(&path, &other_creator.token).await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(api.delete(&path, &creator.token).await.status(), 204);
    assert_error(api.delete(&path, &creator.token).await, 404, "not_found").await;
    assert_error(
        api.get(&format!("/api/v1/courses/{course}"), &learner.token)
            .await,
        403,
        "forbidden",
    )
    .await;

    // A disabled user's token stops working at the next request.
    api.revoke(&admin.token, json!({"user_id": learner.user_id}))
        .await;
    assert_error(
        api.get("/api/v1/me", &learner.token).await,
        403,
        "user_disabled",
    )
    .await;
    assert_error(
        api.try_login(me["email"].as_str().unwrap(), PASSWORD).await,
        403,
        "user_disabled",
    )
    .await;
    assert_error(
        api.get("/api/v1/me", "not.a.jwt").await,
        401,
        "invalid_token",
    )
    .await;
    let r = api.http.get(api.url("/api/v1/me")).send().await.unwrap();
    assert_error(r, 401, "missing_token").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playback_needs_a_ready_video_and_entitlement_and_is_limited_per_user() {
    let server = identity_server().start();
    let api = Api::new(&server);
    let data = DataDir::open(&server.data_path()).await;
    let admin = admin(&api, &data).await;
    let creator = api.user(&admin.token, "creator").await;
    let learner = api.user(&admin.token, "learner").await;
    let stranger = api.user(&admin.token, "learner").await;
    let course = api.course(&creator.token).await;
    api.enroll(&creator.token, &course, &learner.user_id).await;
    let (video, _) = ready_video(&data, &creator.user_id, &course, 2, 3000).await;
    let path = format!("/api/v1/videos/{video}/playback");

    assert_error(
        api.post(&path, &stranger.token, json!({})).await,
        403,
        "not_entitled",
    )
    .await;
    assert_error(
        api.post("/api/v1/videos/nope/playback", &learner.token, json!({}))
            .await,
        404,
        "not_found",
    )
    .await;
    sqlx::query("UPDATE videos SET status = 'processing' WHERE id = $1")
        .bind(&video)
        .execute(&data.db.pool)
        .await
        .unwrap();
    assert_error(
        api.post(&path, &learner.token, json!({})).await,
        409,
        "video_not_ready",
    )
    .await;
    sqlx::query("UPDATE videos SET status = 'ready' WHERE id = $1")
        .bind(&video)
        .execute(&data.db.pool)
        .await
        .unwrap();

    let resp = api
        .http
        .post(api.url(&path))
        .bearer_auth(&learner.token)
        .header("user-agent", "sealcast-test/1.0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let cookie = set_cookie(&resp);
    let body: Value = resp.json().await.unwrap();
    let first = body["session_id"].as_str().unwrap().to_string();
    for attr in [
        format!("sealcast_ks_{first}="),
        "HttpOnly".into(),
        "SameSite=Strict".into(),
        format!("Path=/keys/{first}/"),
    ] {
        assert!(cookie.contains(&attr), "{cookie}");
    }
    let master = body["master_url"].as_str().unwrap();
    assert!(
        master.starts_with(&format!("/hls/{first}/master.m3u8?exp=")),
        "{master}"
    );
    let now = sealcast::db::now_ms() / 1000;
    let expires = body["expires_at"].as_i64().unwrap();
    // 3 s of video + the default 30 min slack.
    assert!(
        (now + 1800..=now + 1805).contains(&expires),
        "{expires} vs {now}"
    );
    let (_, owner_cookie) = api.playback(&creator.token, &video).await;
    assert!(owner_cookie.starts_with("sealcast_ks_"));
    api.playback(&admin.token, &video).await;

    // The session records who, what, where from.
    let sessions: Value = api
        .get("/api/v1/admin/sessions", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let s = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == first.as_str())
        .unwrap()
        .clone();
    assert_eq!(s["user_id"], learner.user_id.as_str());
    assert_eq!(s["video_id"], video.as_str());
    assert_eq!(s["ip"], "127.0.0.1");
    assert_eq!(s["user_agent"], "sealcast-test/1.0");
    assert_eq!(s["video_title"], "Video");
    assert_error(
        api.get("/api/v1/admin/sessions", &learner.token).await,
        403,
        "forbidden",
    )
    .await;

    // Three live sessions per user: the fourth ends the oldest.
    let mut ids = vec![first.clone()];
    for _ in 0..3 {
        ids.push(api.playback(&learner.token, &video).await.0);
    }
    let sessions: Value = api
        .get("/api/v1/admin/sessions", &admin.token)
        .await
        .json()
        .await
        .unwrap();
    let mine: Vec<&str> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["user_id"] == learner.user_id.as_str())
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(mine.len(), 3, "{mine:?}");
    assert!(!mine.contains(&first.as_str()));
    let reason: Option<String> =
        sqlx::query_scalar("SELECT end_reason FROM playback_sessions WHERE id = $1")
            .bind(&first)
            .fetch_one(&data.db.pool)
            .await
            .unwrap();
    assert_eq!(reason.as_deref(), Some("replaced"));

    // Ending a session: only its user.
    let last = ids.last().unwrap();
    assert_error(
        api.delete(&format!("/api/v1/playback/{last}"), &stranger.token)
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(
        api.delete(&format!("/api/v1/playback/{last}"), &learner.token)
            .await
            .status(),
        204
    );
    assert_error(
        api.delete("/api/v1/playback/nope", &learner.token).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_log_pages_newest_first() {
    let server = identity_server().start();
    let api = Api::new(&server);
    let data = DataDir::open(&server.data_path()).await;
    let admin = admin(&api, &data).await;
    for _ in 0..7 {
        api.user(&admin.token, "learner").await;
    }
    // 1 admin login + 7 × (user.create + login) = 15 entries.
    let mut seen = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let q = match before {
            Some(b) => format!("/api/v1/admin/audit?limit=4&before={b}"),
            None => "/api/v1/admin/audit?limit=4".into(),
        };
        let page: Value = api.get(&q, &admin.token).await.json().await.unwrap();
        let entries = page["entries"].as_array().unwrap();
        assert!(entries.len() <= 4);
        seen.extend(entries.iter().map(|e| e["seq"].as_i64().unwrap()));
        match page["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(seen.len(), 15, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first"
    );
    assert_error(
        api.get("/api/v1/admin/audit?limit=0", &admin.token).await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        api.get("/api/v1/admin/audit?before=x", &admin.token).await,
        400,
        "bad_request",
    )
    .await;
    let learner = api.user(&admin.token, "learner").await;
    assert_error(
        api.get("/api/v1/admin/audit", &learner.token).await,
        403,
        "forbidden",
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
    let pem_server = identity_server()
        .arg("--external-issuer")
        .arg(EXT_ISS)
        .arg("--external-audience")
        .arg(EXT_AUD)
        .arg("--external-key-file")
        .arg(testdata("ext_rsa_public.pem").display().to_string())
        .start();
    let url_server = identity_server()
        .arg("--external-issuer")
        .arg(EXT_ISS)
        .arg("--external-audience")
        .arg(EXT_AUD)
        .arg("--external-jwks-url")
        .arg(jwks_url)
        .start();
    for (server, kid) in [(&pem_server, None), (&url_server, Some("ext-rsa-1"))] {
        let api = Api::new(server);
        let data = DataDir::open(&server.data_path()).await;
        let admin = admin(&api, &data).await;
        let creator = api.user(&admin.token, "creator").await;
        let course = api.course(&creator.token).await;
        let token = lms_token("lms-learner-42", "learner", EXT_AUD, kid);
        // First request provisions the account with the token's role.
        let me: Value = api.get("/api/v1/me", &token).await.json().await.unwrap();
        assert_eq!(me["id"], "lms-learner-42");
        assert_eq!(me["role"], "learner");
        assert_error(
            api.post("/api/v1/courses", &token, json!({"title": "x"}))
                .await,
            403,
            "forbidden",
        )
        .await;
        // Enrolled by the course owner, the learner plays and gets keys.
        api.enroll(&creator.token, &course, "lms-learner-42").await;
        let (video, keys) = ready_video(&data, &creator.user_id, &course, 1, 5000).await;
        let (session, _) = api.playback(&token, &video).await;
        let url = common::identity::key_url(&data, &session, &keys[0].0);
        let resp = api.key(&url, Some(&token)).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), keys[0].1);
        // Wrong audience, and a local-looking token signed by the platform, are refused.
        let wrong = lms_token("lms-learner-42", "learner", "someone-else", kid);
        assert_error(api.get("/api/v1/me", &wrong).await, 401, "invalid_token").await;
        // A password login for the provisioned account never works.
        assert_error(
            api.try_login("lms-learner-42@external.invalid", PASSWORD)
                .await,
            401,
            "invalid_credentials",
        )
        .await;
    }
}
