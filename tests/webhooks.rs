//! Signed webhooks through the real server: events reach a local receiver,
//! every delivery verifies with the independent `standardwebhooks` package
//! (PyPI), failures are retried and dead letters can be retried; refused
//! URLs store nothing; only admins manage endpoints; the secret is shown
//! once (again only on an `Idempotency-Key` replay).

mod common;

use std::time::Duration;

use common::webhooks::{install_verifier, verified, Receiver};
use common::{assert_error, eventually, Api, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WITHIN: Duration = Duration::from_secs(60);

/// A server whose webhooks may reach the local receiver, retrying quickly.
async fn app_for_webhooks(window_secs: u64) -> TestApp {
    TestApp::init()
        .fast_transcodes()
        .arg("--webhook-allow-private")
        .flag("--webhook-retry-base-ms", 200)
        .flag("--webhook-retry-window-secs", window_secs)
        .app()
        .await
}

async fn register(api: &Api, admin: &str, url: &str, events: &[&str]) -> (String, String) {
    let resp = api
        .post(
            "/api/v1/admin/webhooks",
            admin,
            json!({ "url": url, "events": events }),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{body}");
    (body["id"].as_str().unwrap().to_string(), secret)
}

async fn deliveries(api: &Api, admin: &str, endpoint: &str) -> Vec<Value> {
    let list = api
        .get_json(
            &format!("/api/v1/admin/webhooks/{endpoint}/deliveries"),
            admin,
        )
        .await;
    list["deliveries"].as_array().unwrap().clone()
}

/// Waits until the endpoint has a delivery of `event` in `status`.
async fn delivery_in(api: &Api, admin: &str, endpoint: &str, event: &str, status: &str) -> Value {
    eventually(WITHIN, &format!("{event} {status}"), || async {
        deliveries(api, admin, endpoint)
            .await
            .into_iter()
            .find(|d| d["event"] == event && d["status"] == status)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_delivered_signed_and_verify_with_standardwebhooks() {
    install_verifier().await;
    let receiver = Receiver::start().await;
    let app = app_for_webhooks(86400).await;
    let (api, admin) = (&app.api, &app.admin.token);
    let all = [
        "video.ready",
        "video.failed",
        "upload.completed",
        "access.revoked",
        "progress.completed",
    ];
    let (endpoint, secret) = register(api, admin, &receiver.url("all"), &all).await;
    // Another endpoint hears only what it subscribed to.
    let (only_revoked, _) =
        register(api, admin, &receiver.url("revoked"), &["access.revoked"]).await;

    // The secret is shown once: neither the list nor the endpoint shows it.
    let listed = api.get("/api/v1/admin/webhooks", admin).await;
    assert_eq!(listed.status(), StatusCode::OK);
    let text = listed.text().await.unwrap();
    assert!(
        text.contains(&endpoint) && !text.contains(&secret),
        "{text}"
    );
    let one = api
        .get_json(&format!("/api/v1/admin/webhooks/{endpoint}"), admin)
        .await;
    assert_eq!(one["events"].as_array().unwrap().len(), all.len());
    assert!(one.get("secret").is_none(), "{one}");

    let cast = app.cast().await;
    let video = app.ready_video(&cast.creator, &cast.course).await;
    let session = app.playback(&cast.learner, &video.id).await;
    api.revoke(admin, json!({ "session_id": session.session_id }))
        .await;

    let completed = delivery_in(api, admin, &endpoint, "upload.completed", "delivered").await;
    delivery_in(api, admin, &endpoint, "video.ready", "delivered").await;
    delivery_in(api, admin, &endpoint, "access.revoked", "delivered").await;
    assert_eq!(completed["attempts"], 1);
    assert_eq!(completed["last_status_code"], 200);

    let got = receiver.received("all");
    assert_eq!(got.len(), 3, "one request per event");
    let mut types = Vec::new();
    for request in &got {
        let payload = verified(&secret, request).await;
        assert_eq!(payload, request.json());
        let id = request.header("webhook-id").unwrap();
        assert!(
            deliveries(api, admin, &endpoint)
                .await
                .iter()
                .any(|d| d["id"] == id),
            "webhook-id {id} is a listed delivery"
        );
        types.push(payload["type"].as_str().unwrap().to_string());
        match payload["type"].as_str().unwrap() {
            "upload.completed" => {
                assert_eq!(payload["data"]["video_id"], video.id.as_str());
                assert_eq!(payload["data"]["course_id"], cast.course.as_str());
            }
            "video.ready" => {
                assert_eq!(payload["data"]["video_id"], video.id.as_str());
                assert!(!payload["data"]["renditions"].as_array().unwrap().is_empty());
            }
            "access.revoked" => {
                assert_eq!(payload["data"]["kind"], "session");
                assert_eq!(payload["data"]["id"], session.session_id.as_str());
                assert_eq!(payload["data"]["sessions_ended"], 1);
            }
            other => panic!("unexpected event {other}"),
        }
        assert!(payload["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    types.sort();
    assert_eq!(types, ["access.revoked", "upload.completed", "video.ready"]);

    // A signature under another secret is refused by the same library.
    let forged = common::webhooks::verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &got[0]);
    assert!(forged.is_err(), "a wrong secret must not verify");

    let revoked_only = eventually(WITHIN, "the second endpoint's delivery", || async {
        let got = receiver.received("revoked");
        (!got.is_empty()).then_some(got)
    })
    .await;
    assert_eq!(revoked_only.len(), 1);
    assert_eq!(revoked_only[0].json()["type"], "access.revoked");
    assert_eq!(deliveries(api, admin, &only_revoked).await.len(), 1);

    // Deleting an endpoint takes its deliveries with it.
    let gone = api
        .delete(&format!("/api/v1/admin/webhooks/{only_revoked}"), admin)
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let missing = api
        .get(
            &format!("/api/v1/admin/webhooks/{only_revoked}/deliveries"),
            admin,
        )
        .await;
    assert_error(missing, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_then_dead_lettered_and_retried_by_hand() {
    install_verifier().await;
    let receiver = Receiver::start().await;
    // A 3 s retry window: the always-failing endpoint dead-letters quickly.
    let app = app_for_webhooks(3).await;
    let (api, admin) = (&app.api, &app.admin.token);
    let (flaky, flaky_secret) =
        register(api, admin, &receiver.url("flaky"), &["access.revoked"]).await;
    let (down, down_secret) =
        register(api, admin, &receiver.url("down"), &["access.revoked"]).await;
    let (moved, _) = register(api, admin, &receiver.url("moved"), &["access.revoked"]).await;
    receiver.fail("flaky", 1);
    receiver.fail("down", u32::MAX);
    receiver.redirect("moved", "sink");

    let learner = app.user("learner").await;
    api.revoke(admin, json!({ "user_id": learner.user_id }))
        .await;

    // The flaky receiver's 500 is retried; the same message id both times.
    let delivered = delivery_in(api, admin, &flaky, "access.revoked", "delivered").await;
    assert_eq!(delivered["attempts"], 2, "{delivered}");
    assert_eq!(delivered["last_status_code"], 200);
    let got = receiver.received("flaky");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_eq!(
        got[0].body, got[1].body,
        "every attempt sends the same body"
    );
    for request in &got {
        let payload = verified(&flaky_secret, request).await;
        assert_eq!(payload["data"]["id"], learner.user_id.as_str());
        assert_eq!(payload["data"]["kind"], "user");
    }

    // The one that never answers 2xx ends as a dead letter, visible in the API.
    let dead = delivery_in(api, admin, &down, "access.revoked", "failed").await;
    assert!(dead["attempts"].as_i64().unwrap() >= 2, "{dead}");
    assert_eq!(dead["last_status_code"], 500);
    assert!(dead["next_attempt_at"].is_null());
    let attempts_before = receiver.received("down").len();

    // A redirect is a failed attempt, never followed.
    let redirected = delivery_in(api, admin, &moved, "access.revoked", "failed").await;
    assert_eq!(redirected["last_status_code"], 307, "{redirected}");
    assert!(!receiver.received("moved").is_empty());
    assert!(
        receiver.received("sink").is_empty(),
        "the redirect was followed"
    );

    // Retried by hand once the receiver is back: delivered.
    receiver.fail("down", 0);
    let id = dead["id"].as_str().unwrap();
    let resp = api
        .post(
            &format!("/api/v1/admin/webhooks/{down}/deliveries/{id}/retry"),
            admin,
            json!({}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let queued: Value = resp.json().await.unwrap();
    assert_eq!(queued["status"], "pending");
    let redelivered = delivery_in(api, admin, &down, "access.revoked", "delivered").await;
    assert_eq!(redelivered["id"], id);
    let got = receiver.received("down");
    assert_eq!(got.len(), attempts_before + 1);
    verified(&down_secret, got.last().unwrap()).await;

    let unknown = api
        .post(
            &format!("/api/v1/admin/webhooks/{down}/deliveries/msg_nope/retry"),
            admin,
            json!({}),
        )
        .await;
    assert_error(unknown, 404, "not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_urls_and_callers_store_nothing() {
    // No --webhook-allow-private: the production rules.
    let app = TestApp::init().no_workers().app().await;
    let (api, admin) = (&app.api, &app.admin.token);
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.7/hook",
        "http://example.com/hook",
        "/relative/hook",
        "not a url",
    ] {
        let resp = api
            .post(
                "/api/v1/admin/webhooks",
                admin,
                json!({ "url": url, "events": ["video.ready"] }),
            )
            .await;
        let body = assert_error(resp, 400, "webhook_url_refused").await;
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let resp = api
        .post(
            "/api/v1/admin/webhooks",
            admin,
            json!({ "url": "https://127.0.0.1/hook", "events": ["video.exploded"] }),
        )
        .await;
    assert_error(resp, 400, "bad_request").await;
    let resp = api
        .post(
            "/api/v1/admin/webhooks",
            admin,
            json!({ "url": "https://127.0.0.1/hook", "events": [] }),
        )
        .await;
    assert_error(resp, 400, "bad_request").await;

    // Only admins.
    let creator = app.user("creator").await;
    let resp = api
        .post(
            "/api/v1/admin/webhooks",
            &creator.token,
            json!({ "url": "https://hooks.example.com/in", "events": ["video.ready"] }),
        )
        .await;
    assert_error(resp, 403, "forbidden").await;
    assert_error(
        api.get("/api/v1/admin/webhooks", &creator.token).await,
        403,
        "forbidden",
    )
    .await;
    let anonymous = api.anonymous_get("/api/v1/admin/webhooks").await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let list = api.get_json("/api/v1/admin/webhooks", admin).await;
    assert_eq!(list["webhooks"], json!([]), "nothing was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_the_creation_with_its_secret() {
    let receiver = Receiver::start().await;
    let app = app_for_webhooks(86400).await;
    let (api, admin) = (&app.api, &app.admin.token);
    let send = |body: Value| {
        api.send(
            api.http
                .post(api.url("/api/v1/admin/webhooks"))
                .bearer_auth(admin)
                .header("idempotency-key", "wh-1")
                .json(&body),
        )
    };
    let body = json!({ "url": receiver.url("idem"), "events": ["video.ready"] });
    let first = send(body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let again = send(body).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let (a, b): (Value, Value) = (first.json().await.unwrap(), again.json().await.unwrap());
    assert_eq!((&a["id"], &a["secret"]), (&b["id"], &b["secret"]));
    let list = api.get_json("/api/v1/admin/webhooks", admin).await;
    assert_eq!(
        list["webhooks"].as_array().unwrap().len(),
        1,
        "created once"
    );

    // The kept answer holds the secret sealed, never in the clear.
    let other = send(json!({ "url": receiver.url("idem"), "events": ["video.failed"] })).await;
    assert_error(other, 422, "idempotency_key_reused").await;
    let at_rest = app.at_rest().await;
    let secret = a["secret"].as_str().unwrap();
    for table in ["idempotency_keys", "webhook_endpoints"] {
        let rows = format!(
            "SELECT COUNT(*) FROM {table} WHERE {} LIKE '%' || $1 || '%'",
            if table == "idempotency_keys" {
                "body"
            } else {
                "sealed_secret"
            }
        );
        assert_eq!(
            at_rest.count(&rows, secret).await,
            0,
            "{table} holds it sealed"
        );
    }
    let sealed =
        "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = $1 AND body LIKE 'sealed:%'";
    assert_eq!(at_rest.count(sealed, "wh-1").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unenrollment_is_announced_as_access_revoked() {
    install_verifier().await;
    let receiver = Receiver::start().await;
    let app = app_for_webhooks(86400).await;
    let (api, admin) = (&app.api, &app.admin.token);
    let (endpoint, secret) =
        register(api, admin, &receiver.url("unenrolled"), &["access.revoked"]).await;

    let cast = app.cast().await;
    let video = app.ready_video(&cast.creator, &cast.course).await;
    app.playback(&cast.learner, &video.id).await;
    let gone = api
        .unenroll(&cast.creator.token, &cast.course, &cast.learner.user_id)
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    // Removing an enrollment that is not there announces nothing.
    let again = api
        .unenroll(&cast.creator.token, &cast.course, &cast.learner.user_id)
        .await;
    assert_error(again, 404, "not_found").await;

    delivery_in(api, admin, &endpoint, "access.revoked", "delivered").await;
    let got = receiver.received("unenrolled");
    assert_eq!(got.len(), 1, "one announcement");
    let payload = verified(&secret, &got[0]).await;
    assert_eq!(payload["type"], "access.revoked");
    assert_eq!(
        payload["data"],
        json!({
            "kind": "enrollment",
            "id": cast.course,
            "user_id": cast.learner.user_id,
            "sessions_ended": 1,
        })
    );
    assert_eq!(deliveries(api, admin, &endpoint).await.len(), 1);
}
