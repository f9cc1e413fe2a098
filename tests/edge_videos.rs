//! The video API through the real server: SSE until ready, who sees what,
//! signed posters, and deletion that leaves nothing behind.

mod common;

use std::time::Duration;

use common::api::upload_id;
use common::media::video_bytes;
use common::{error_code, eventually, Api, TestApp};
use futures::StreamExt;
use sealcast::config::ServeArgs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videos_sse_follows_an_upload_until_ready() {
    let app = TestApp::init().fast_transcodes().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let bytes = video_bytes(app.scratch.path(), 3, 300_000);
    let id = api.upload(&token, &course, &bytes, 1 << 20).await;

    // EventSource style: a single-use ticket in the query string (an access
    // token there is refused); read as a stream.
    let ticket = stream_ticket(api, &id, &token).await;
    let resp = api
        .http
        .get(api.url(&format!("/api/v1/videos/{id}/events?ticket={ticket}")))
        .timeout(Duration::from_secs(180))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = resp.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    // The stream ended by itself after the final event.
    let events: Vec<serde_json::Value> = text
        .split("\n\n")
        .filter(|e| e.contains("event: status"))
        .map(|e| {
            let data = e.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
            serde_json::from_str(data).unwrap()
        })
        .collect();
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&"ready"), "{text}");
    assert!(statuses.len() >= 2, "{statuses:?}");
    let last = events.last().unwrap();
    assert_eq!(last["id"], id.as_str());
    assert_eq!(last["progress"], 100);

    // The ticket was spent by the first stream.
    let again = api
        .send(
            api.http
                .get(api.url(&format!("/api/v1/videos/{id}/events?ticket={ticket}"))),
        )
        .await;
    assert_eq!(again.status(), 401);
    assert_eq!(error_code(again).await, "invalid_ticket");

    // Without a token: 401; with someone else's: 404.
    let resp = api
        .send(
            api.http
                .get(api.url(&format!("/api/v1/videos/{id}/events"))),
        )
        .await;
    assert_eq!(resp.status(), 401);
    let other = app.user("creator").await.token;
    let resp = api
        .send(
            api.http
                .get(api.url(&format!("/api/v1/videos/{id}/events")))
                .bearer_auth(&other),
        )
        .await;
    assert_eq!(resp.status(), 404);
}

async fn stream_ticket(api: &Api, video: &str, token: &str) -> String {
    let resp = api
        .send(
            api.http
                .post(api.url(&format!("/api/v1/videos/{video}/events/ticket")))
                .bearer_auth(token),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["expires_in"].as_u64().unwrap() <= 60);
    body["ticket"].as_str().unwrap().to_string()
}

/// Access tokens never ride in a URL: the event stream refuses them there
/// and takes a ticket bound to one user, one video and one use.
#[tokio::test]
async fn event_stream_tickets_are_single_use_and_bound_to_a_video() {
    let app = TestApp::in_process(ServeArgs::default()).await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let a = api.new_upload(&creator.token, &course, 10).await;
    let b = api.new_upload(&creator.token, &course, 10).await;
    let (a, b) = (upload_id(&a), upload_id(&b));
    let events = |video: &str, query: String| {
        api.http
            .get(api.url(&format!("/api/v1/videos/{video}/events?{query}")))
    };

    let resp = api
        .send(events(&a, format!("access_token={}", creator.token)))
        .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(resp).await, "token_in_url");

    // A ticket for video A does not open B's stream, and is spent trying.
    let ticket = stream_ticket(api, &a, &creator.token).await;
    let resp = api.send(events(&b, format!("ticket={ticket}"))).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "invalid_ticket");
    let resp = api.send(events(&a, format!("ticket={ticket}"))).await;
    assert_eq!(error_code(resp).await, "invalid_ticket");

    let resp = api.send(events(&a, "ticket=made-up".into())).await;
    assert_eq!(error_code(resp).await, "invalid_ticket");
    let resp = api.send(events(&a, String::new())).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(error_code(resp).await, "missing_token");

    // No ticket for a video the caller cannot see; none without a token.
    let stranger = app.user("learner").await.token;
    let resp = api
        .send(
            api.http
                .post(api.url(&format!("/api/v1/videos/{a}/events/ticket")))
                .bearer_auth(&stranger),
        )
        .await;
    assert_eq!(resp.status(), 404);
    let resp = api
        .send(
            api.http
                .post(api.url(&format!("/api/v1/videos/{a}/events/ticket"))),
        )
        .await;
    assert_eq!(resp.status(), 401);

    // (A good ticket opening the stream once is in the test above.)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videos_api_access_and_signed_poster() {
    let app = TestApp::init().fast_transcodes().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let id = app.ready_video(&creator, &course).await.id;
    // A second video still uploading: only the owner sees it.
    let pending = api.new_upload(&token, &course, 1000).await;
    let pending = pending.rsplit('/').next().unwrap().to_string();

    let video = api.video(&id, &token).await;
    assert_eq!(video["status"], "ready");
    assert_eq!(video["course_id"], course.as_str());
    assert_eq!(video["title"], "Lecture 1");
    assert!(video["duration_seconds"].as_f64().unwrap() > 2.0);
    assert!(video["created_at"].as_i64().unwrap() > 1_700_000_000);
    let renditions = video["renditions"].as_array().unwrap();
    assert_eq!(renditions.len(), 1);
    for field in ["name", "width", "height", "bandwidth"] {
        assert!(!renditions[0][field].is_null(), "{field}");
    }
    let poster = video["poster_url"].as_str().unwrap().to_string();
    assert!(poster.starts_with(&format!("/posters/{id}/poster.jpg?exp=")));
    let resp = api.send(api.http.get(api.url(&poster))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(&resp.bytes().await.unwrap()[..2], &[0xFF, 0xD8]);
    let tampered = poster.replace("exp=", "exp=1");
    let resp = api.send(api.http.get(api.url(&tampered))).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "bad_signature");

    let list = |t: String| {
        let req = api
            .http
            .get(api.url(&format!("/api/v1/videos?course_id={course}")))
            .bearer_auth(t);
        async move { api.send(req).await }
    };
    let owner_list: serde_json::Value = list(token.clone()).await.json().await.unwrap();
    assert_eq!(owner_list["videos"].as_array().unwrap().len(), 2);

    let learner = app.learner_in(&course).await.token;
    let learner_list: serde_json::Value = list(learner.clone()).await.json().await.unwrap();
    let seen: Vec<&str> = learner_list["videos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(seen, vec![id.as_str()]);
    assert_eq!(api.video(&id, &learner).await["status"], "ready");
    let resp = api
        .send(
            api.http
                .get(api.url(&format!("/api/v1/videos/{pending}")))
                .bearer_auth(&learner),
        )
        .await;
    assert_eq!(resp.status(), 404);
    let resp = api
        .send(
            api.http
                .delete(api.url(&format!("/api/v1/videos/{id}")))
                .bearer_auth(&learner),
        )
        .await;
    assert_eq!(resp.status(), 403);

    // Strangers: 404 for the video and the course's list.
    let stranger = app.user("creator").await.token;
    let outsider = app.user("learner").await.token;
    for t in [stranger, outsider] {
        let resp = api
            .send(
                api.http
                    .get(api.url(&format!("/api/v1/videos/{id}")))
                    .bearer_auth(&t),
            )
            .await;
        assert_eq!(resp.status(), 404);
        assert_eq!(list(t).await.status(), 404);
    }
    // An admin sees everything.
    let admin = app.user("admin").await.token;
    let admin_list: serde_json::Value = list(admin).await.json().await.unwrap();
    assert_eq!(admin_list["videos"].as_array().unwrap().len(), 2);
    // The list needs a course.
    let resp = api
        .send(api.http.get(api.url("/api/v1/videos")).bearer_auth(&token))
        .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn videos_delete_removes_segments_keys_sessions_and_uploads() {
    let app = TestApp::init().fast_transcodes().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let token = creator.token.clone();
    let id = app.ready_video(&creator, &course).await.id;
    let learner = app.learner_in(&course).await;
    let master_url = app.playback(&learner, &id).await.master_url;
    assert_eq!(
        api.send(api.http.get(api.url(&master_url))).await.status(),
        200
    );
    // "Nothing left behind" is about storage at rest: read it directly.
    let at_rest = app.at_rest().await;
    assert!(!at_rest
        .object_keys(&format!("videos/{id}/"))
        .await
        .is_empty());
    let count = |sql: &'static str| at_rest.count(sql, &id);
    assert!(count("SELECT COUNT(*) FROM content_keys WHERE video_id = $1").await > 0);

    let resp = api
        .send(
            api.http
                .delete(api.url(&format!("/api/v1/videos/{id}")))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert!(at_rest
        .object_keys(&format!("videos/{id}/"))
        .await
        .is_empty());
    assert!(at_rest
        .object_keys(&format!("uploads/{id}"))
        .await
        .is_empty());
    assert!(at_rest
        .object_keys(&format!("originals/{id}"))
        .await
        .is_empty());
    for sql in [
        "SELECT COUNT(*) FROM content_keys WHERE video_id = $1",
        "SELECT COUNT(*) FROM playback_sessions WHERE video_id = $1",
        "SELECT COUNT(*) FROM uploads WHERE video_id = $1",
        "SELECT COUNT(*) FROM transcode_jobs WHERE video_id = $1",
        "SELECT COUNT(*) FROM videos WHERE id = $1",
    ] {
        assert_eq!(count(sql).await, 0, "{sql}");
    }
    // The edge may answer from its short session cache for a moment; then 403.
    eventually(
        Duration::from_secs(10),
        "the deleted video's master URL is refused",
        || async { (api.anonymous_get(&master_url).await.status() == 403).then_some(()) },
    )
    .await;
    let resp = api
        .send(
            api.http
                .get(api.url(&format!("/api/v1/videos/{id}")))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(resp.status(), 404);

    // Deleting an upload in flight removes its partial bytes too.
    let path = api.new_upload(&token, &course, 1000).await;
    assert_eq!(
        api.patch(&path, &token, 0, vec![1; 300]).await.status(),
        204
    );
    let upload_id = common::api::upload_id(&path);
    let partial = at_rest.partial_upload(&upload_id);
    assert!(partial.exists());
    let resp = api
        .send(
            api.http
                .delete(api.url(&format!("/api/v1/videos/{upload_id}")))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert!(!partial.exists());
}

#[tokio::test]
async fn openapi_document_describes_the_edge() {
    let app = TestApp::in_process(ServeArgs::default()).await;
    let resp = app.api.anonymous_get("/api/v1/openapi.json").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/uploads", "post"),
        ("/api/v1/uploads", "options"),
        ("/api/v1/uploads/{id}", "head"),
        ("/api/v1/uploads/{id}", "patch"),
        ("/api/v1/uploads/{id}", "delete"),
        ("/api/v1/videos", "get"),
        ("/api/v1/videos/{id}", "get"),
        ("/api/v1/videos/{id}", "delete"),
        ("/api/v1/videos/{id}/events", "get"),
        ("/hls/{session_id}/{token}/master.m3u8", "get"),
        ("/hls/{session_id}/{token}/{rung}/{file}", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/courses", "get"),
        ("/api/v1/videos/{id}/playback", "post"),
        ("/api/v1/admin/revocations", "post"),
        ("/api/v1/admin/audit", "get"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    let video = &doc["components"]["schemas"]["Video"]["properties"];
    for field in [
        "id",
        "course_id",
        "title",
        "status",
        "progress",
        "error",
        "duration_seconds",
        "renditions",
        "poster_url",
        "created_at",
    ] {
        assert!(video[field].is_object(), "Video.{field} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}
