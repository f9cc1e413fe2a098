//! Other people's things by id: videos, uploads, courses, sessions, keys.
//! Whoever may not see a thing learns nothing about it (404), and roles
//! that may not act are told so (403).

use reqwest::Method;
use serde_json::json;

use super::cases::{case, Case, World};

pub async fn cases(w: &World) -> Vec<Case> {
    let api = &w.app.api;
    let c = &w.cast;
    let video = &w.video.id;
    let course = &c.course;
    let stranger = &c.stranger.token;
    let learner = &c.learner.token;
    let (rival, rival_course) = w.app.creator_with_course().await;
    let upload = api.new_upload(&c.creator.token, course, 100).await;
    let session = &w.session.session_id;
    let keys = w.app.segments(&w.session).await;
    let key = &keys[0].key_uri;
    let tus = |method: Method, token: &str| {
        w.request(method, &upload)
            .bearer_auth(token)
            .header("tus-resumable", "1.0.0")
    };
    vec![
        case("stranger reads a video", w.get_as(&format!("/api/v1/videos/{video}"), stranger), 404, "not_found"),
        case("stranger lists a course's videos", w.get_as(&format!("/api/v1/videos?course_id={course}"), stranger), 404, "not_found"),
        case("stranger reads a course", w.get_as(&format!("/api/v1/courses/{course}"), stranger), 404, "not_found"),
        case("stranger starts playback", w.request(Method::POST, &format!("/api/v1/videos/{video}/playback")).bearer_auth(stranger).json(&json!({})), 403, "not_entitled"),
        case("stranger asks for a stream ticket", w.request(Method::POST, &format!("/api/v1/videos/{video}/events/ticket")).bearer_auth(stranger), 404, "not_found"),
        case("rival deletes a video", w.request(Method::DELETE, &format!("/api/v1/videos/{video}")).bearer_auth(&rival.token), 404, "not_found"),
        case("rival enrolls into a course", w.request(Method::POST, &format!("/api/v1/courses/{course}/enrollments")).bearer_auth(&rival.token).json(&json!({"user_id": c.stranger.user_id})), 404, "not_found"),
        case("rival uploads into a course", w.request(Method::POST, "/api/v1/uploads").bearer_auth(&rival.token)
            .header("tus-resumable", "1.0.0").header("upload-length", "10")
            .header("upload-metadata", format!("course_id {}", base64_of(course))), 403, "forbidden"),
        case("rival reads an upload's offset", tus(Method::HEAD, &rival.token), 404, "not_found").not_an_error().and(|r| {
            // HEAD answers carry no body: the status is the whole answer.
            (r.headers().get("upload-offset").is_none()).then_some(()).ok_or("upload-offset leaked".into())
        }),
        case("rival appends to an upload", tus(Method::PATCH, &rival.token)
            .header("content-type", "application/offset+octet-stream").header("upload-offset", "0").body("x"), 404, "not_found"),
        case("rival terminates an upload", tus(Method::DELETE, &rival.token), 404, "not_found"),
        case("learner lists enrollments", w.get_as(&format!("/api/v1/courses/{course}/enrollments"), learner), 403, "forbidden"),
        case("learner creates a user", w.request(Method::POST, "/api/v1/users").bearer_auth(learner)
            .json(&json!({"email": "x@example.test", "password": "long enough password", "role": "admin"})), 403, "forbidden"),
        case("learner lists sessions", w.get_as("/api/v1/admin/sessions", learner), 403, "forbidden"),
        case("learner reads the audit log", w.get_as("/api/v1/admin/audit", learner), 403, "forbidden"),
        case("learner revokes", w.request(Method::POST, "/api/v1/admin/revocations").bearer_auth(learner).json(&json!({"user_id": c.creator.user_id})), 403, "forbidden"),
        case("stranger ends a session", w.request(Method::DELETE, &format!("/api/v1/playback/{session}")).bearer_auth(stranger), 404, "not_found"),
        case("stranger fetches the learner's key", w.get_as(key, stranger), 403, "wrong_user"),
        case("rival fetches the learner's key", w.get_as(key, &rival.token), 403, "wrong_user"),
        case("rival's own course holds no foreign video", w.get_as(&format!("/api/v1/videos?course_id={rival_course}"), &rival.token), 200, "").not_an_error().and(|r| {
            (r.headers()["content-type"].to_str().unwrap_or("").contains("json")).then_some(()).ok_or("not JSON".into())
        }),
    ]
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
