//! Who may do what, in process (no process boundary is under test): users
//! and roles, courses and ownership, enrollments, input errors with stable
//! codes, token refusals, and the audit log's paging.

mod common;

use common::{assert_error, TestApp, PASSWORD};
use reqwest::header::CONTENT_TYPE;
use sealcast::config::ServeArgs;
use serde_json::{json, Value};

async fn app() -> TestApp {
    TestApp::in_process(ServeArgs::default()).await
}

#[tokio::test]
async fn roles_ownership_and_enrollments() {
    let app = app().await;
    let (api, admin) = (&app.api, &app.admin);
    let creator = app.user("creator").await;
    let other_creator = app.user("creator").await;
    let learner = app.user("learner").await;

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
        api.send(
            api.http
                .post(api.url("/api/v1/courses"))
                .bearer_auth(&creator.token)
                .header(CONTENT_TYPE, ctype.to_string())
                .body(body),
        )
    };
    assert_error(
        raw(b"{\"title\":".to_vec(), "application/json").await,
        400,
        "invalid_json",
    )
    .await;
    assert_error(
        raw(b"title=x".to_vec(), "text/plain").await,
        415,
        "unsupported_media_type",
    )
    .await;
    let big = format!("{{\"title\":\"{}\"}}", "x".repeat(200_000)).into_bytes();
    assert_error(raw(big, "application/json").await, 413, "payload_too_large").await;

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
    // Whoever may not see a course learns nothing about it: as if absent.
    assert_error(
        api.get(&format!("/api/v1/courses/{course}"), &learner.token)
            .await,
        404,
        "not_found",
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
        404,
        "not_found",
    )
    .await;
    assert_error(
        api.post(
            &enroll_path,
            &learner.token,
            json!({"user_id": learner.user_id}),
        )
        .await,
        404,
        "not_found",
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
        404,
        "not_found",
    )
    .await;
    assert_eq!(api.delete(&path, &creator.token).await.status(), 204);
    assert_error(api.delete(&path, &creator.token).await, 404, "not_found").await;
    assert_error(
        api.get(&format!("/api/v1/courses/{course}"), &learner.token)
            .await,
        404,
        "not_found",
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
    let r = api.anonymous_get("/api/v1/me").await;
    assert_error(r, 401, "missing_token").await;
}

#[tokio::test]
async fn audit_log_pages_newest_first() {
    let app = app().await;
    let (api, admin) = (&app.api, &app.admin);
    for _ in 0..7 {
        app.user("learner").await;
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
    let learner = app.user("learner").await;
    assert_error(
        api.get("/api/v1/admin/audit", &learner.token).await,
        403,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn playback_speed_is_remembered_per_user_and_checked() {
    let app = app().await;
    let api = &app.api;
    let learner = app.user("learner").await;
    let other = app.user("learner").await;
    let put = |token: &str, body: Value| {
        api.send(
            api.http
                .put(api.url("/api/v1/me/preferences"))
                .header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"))
                .json(&body),
        )
    };

    // The default until the user chooses.
    let prefs = api.get_json("/api/v1/me/preferences", &learner.token).await;
    assert_eq!(prefs, json!({"playback_rate": 1.0}));

    let r = put(&learner.token, json!({"playback_rate": 1.75})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"playback_rate": 1.75})
    );
    let prefs = api.get_json("/api/v1/me/preferences", &learner.token).await;
    assert_eq!(prefs["playback_rate"], 1.75);
    // Someone else's choice is their own.
    let prefs = api.get_json("/api/v1/me/preferences", &other.token).await;
    assert_eq!(prefs["playback_rate"], 1.0);

    // Refused values store nothing: the last good choice stays.
    for body in [
        json!({"playback_rate": 2.5}),
        json!({"playback_rate": 0.25}),
        json!({"playback_rate": 1.234}),
        json!({"playback_rate": -1}),
    ] {
        assert_error(
            put(&learner.token, body).await,
            400,
            "invalid_playback_rate",
        )
        .await;
    }
    for body in [
        json!({"playback_rate": "fast"}),
        json!({}),
        json!({"playback_rate": 1.5, "volume": 3}),
    ] {
        assert_error(put(&learner.token, body).await, 400, "invalid_json").await;
    }
    let prefs = api.get_json("/api/v1/me/preferences", &learner.token).await;
    assert_eq!(prefs["playback_rate"], 1.75);

    let r = api
        .send(
            api.http
                .put(api.url("/api/v1/me/preferences"))
                .json(&json!({"playback_rate": 1})),
        )
        .await;
    assert_error(r, 401, "missing_token").await;
}
