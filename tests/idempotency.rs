//! `Idempotency-Key` on the API's POST routes: a retried write returns the
//! first answer instead of writing twice, on SQLite and on PostgreSQL.

mod common;

use common::{error_code, Api, Postgres, Response, TestApp};
use reqwest::StatusCode;
use sealcast::config::ServeArgs;
use serde_json::{json, Value};

async fn post_with_key(api: &Api, path: &str, token: &str, key: &str, body: Value) -> Response {
    api.send(
        api.http
            .post(api.url(path))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body),
    )
    .await
}

fn replayed(resp: &Response) -> bool {
    resp.headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

async fn courses_titled(api: &Api, token: &str, title: &str) -> usize {
    let list = api.get_json("/api/v1/courses", token).await;
    list["courses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["title"] == title)
        .count()
}

async fn retried_writes_happen_once(app: &TestApp) {
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = &creator.token;
    let body = json!({ "title": "Retried course" });

    let first = post_with_key(api, "/api/v1/courses", token, "k-1", body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(!replayed(&first));
    let again = post_with_key(api, "/api/v1/courses", token, "k-1", body.clone()).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(replayed(&again));
    let (a, b): (Value, Value) = (first.json().await.unwrap(), again.json().await.unwrap());
    assert_eq!(a["id"], b["id"], "the retry got the first answer");
    assert_eq!(courses_titled(api, token, "Retried course").await, 1);

    // The same key with another request: refused, nothing written.
    let other = post_with_key(
        api,
        "/api/v1/courses",
        token,
        "k-1",
        json!({ "title": "Other" }),
    )
    .await;
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_code(other).await, "idempotency_key_reused");
    let elsewhere = post_with_key(api, "/api/v1/users", token, "k-1", body.clone()).await;
    assert_eq!(error_code(elsewhere).await, "idempotency_key_reused");
    assert_eq!(courses_titled(api, token, "Other").await, 0);

    // Keys are per caller: another creator's "k-1" is their own.
    let (someone, _) = app.creator_with_course().await;
    let theirs = post_with_key(api, "/api/v1/courses", &someone.token, "k-1", body.clone()).await;
    assert_eq!(theirs.status(), StatusCode::CREATED);
    assert!(!replayed(&theirs));

    // An enrollment retried: the first 201 again, not 409 already_enrolled.
    let learner = app.user("learner").await;
    let path = format!("/api/v1/courses/{course}/enrollments");
    let enroll = json!({ "user_id": learner.user_id });
    let first = post_with_key(api, &path, token, "enroll-1", enroll.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = post_with_key(api, &path, token, "enroll-1", enroll.clone()).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert!(replayed(&again));
    let fresh = post_with_key(api, &path, token, "enroll-2", enroll).await;
    assert_eq!(error_code(fresh).await, "already_enrolled");

    // A refusal is an answer too, and is kept.
    let bad = json!({ "title": "" });
    let first = post_with_key(api, "/api/v1/courses", token, "bad-1", bad.clone()).await;
    assert_eq!(first.status(), StatusCode::BAD_REQUEST);
    let again = post_with_key(api, "/api/v1/courses", token, "bad-1", bad).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert!(replayed(&again));

    // Racing retries: one runs, the others get its answer or 409 + Retry-After.
    let race = json!({ "title": "Raced course" });
    let attempts =
        (0..8).map(|_| post_with_key(api, "/api/v1/courses", token, "race-1", race.clone()));
    for resp in futures::future::join_all(attempts).await {
        match resp.status() {
            StatusCode::CREATED => {}
            StatusCode::CONFLICT => {
                assert!(resp.headers().contains_key("retry-after"));
                assert_eq!(error_code(resp).await, "idempotency_key_in_use");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(courses_titled(api, token, "Raced course").await, 1);

    // Malformed keys.
    for key in ["", "has space", &"k".repeat(256)] {
        let resp = post_with_key(api, "/api/v1/courses", token, key, body.clone()).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{key:?}");
        assert_eq!(error_code(resp).await, "invalid_idempotency_key");
    }

    // Logins are never kept: their answers are credentials.
    let login = |key: &'static str| {
        api.send(
            api.http
                .post(api.url("/api/v1/auth/login"))
                .header("idempotency-key", key)
                .json(&json!({ "email": creator.email, "password": common::PASSWORD })),
        )
    };
    let (one, two) = (login("login-1").await, login("login-1").await);
    assert_eq!(
        (one.status(), two.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    assert!(!replayed(&two));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_on_sqlite() {
    let app = TestApp::in_process(ServeArgs::default()).await;
    retried_writes_happen_once(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_on_postgres() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let app = TestApp::init().postgres(&pg).app().await;
    retried_writes_happen_once(&app).await;
}
