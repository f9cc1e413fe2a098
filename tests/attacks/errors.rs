//! Malformed and oversized requests: each gets its code in the one envelope.

use reqwest::Method;

use super::cases::{case, Case, World};

pub async fn cases(w: &World) -> Vec<Case> {
    let creator = &w.cast.creator.token;
    let post = |path: &str| w.request(Method::POST, path).bearer_auth(creator);
    let tus = || post("/api/v1/uploads").header("tus-resumable", "1.0.0");
    let upload = w.app.api.new_upload(creator, &w.cast.course, 10).await;
    vec![
        case(
            "malformed JSON",
            post("/api/v1/courses")
                .header("content-type", "application/json")
                .body("{\"title\":"),
            400,
            "invalid_json",
        ),
        case(
            "JSON of the wrong shape",
            post("/api/v1/courses").json(&serde_json::json!({"title": 7})),
            400,
            "invalid_json",
        ),
        case(
            "not JSON at all",
            post("/api/v1/courses")
                .header("content-type", "text/plain")
                .body("title=x"),
            415,
            "unsupported_media_type",
        ),
        case(
            "a body too large",
            post("/api/v1/courses")
                .header("content-type", "application/json")
                .body(vec![b' '; 200 * 1024]),
            413,
            "payload_too_large",
        ),
        case(
            "an unknown API route",
            w.get_as("/api/v1/nothing-here", creator),
            404,
            "not_found",
        ),
        case(
            "a wrong method",
            w.request(Method::PUT, "/api/v1/me").bearer_auth(creator),
            405,
            "method_not_allowed",
        ),
        case(
            "tus: another version",
            post("/api/v1/uploads")
                .header("tus-resumable", "0.2.2")
                .header("upload-length", "10"),
            412,
            "unsupported_version",
        ),
        case(
            "tus: a negative length",
            tus().header("upload-length", "-1"),
            400,
            "bad_request",
        ),
        case(
            "tus: an absurd length",
            tus().header("upload-length", "99999999999999999999999"),
            400,
            "bad_request",
        ),
        case(
            "tus: metadata that is not base64",
            tus()
                .header("upload-length", "10")
                .header("upload-metadata", "course_id !!!"),
            400,
            "bad_metadata",
        ),
        case(
            "tus: an unknown checksum",
            w.request(Method::PATCH, &upload)
                .bearer_auth(creator)
                .header("tus-resumable", "1.0.0")
                .header("upload-offset", "0")
                .header("content-type", "application/offset+octet-stream")
                .header("upload-checksum", "md5 AAAA")
                .body("x"),
            400,
            "unsupported_checksum_algorithm",
        ),
        case(
            "an idempotency key of 300 bytes",
            post("/api/v1/courses")
                .header("idempotency-key", "k".repeat(300))
                .json(&serde_json::json!({"title": "x"})),
            400,
            "invalid_idempotency_key",
        ),
    ]
}
