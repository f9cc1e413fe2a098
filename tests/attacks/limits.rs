//! Free resources an attacker would exhaust: playback sessions (2 starts a
//! minute in this suite's server) and the quota of a creator.

use reqwest::Method;
use serde_json::json;

use super::cases::{case, Case, World};

pub async fn cases(w: &World) -> Vec<Case> {
    let stranger_in = w.app.learner_in(&w.cast.course).await;
    let start = || {
        w.request(
            Method::POST,
            &format!("/api/v1/videos/{}/playback", w.video.id),
        )
        .bearer_auth(&stranger_in.token)
        .json(&json!({}))
    };
    let mut cases = vec![
        case("first start", start(), 201, "").not_an_error(),
        case("second start", start(), 201, "").not_an_error(),
        case(
            "a third start within the minute",
            start(),
            429,
            "too_many_sessions",
        ),
    ];
    cases.push(case(
        "an upload larger than the server takes",
        w.request(Method::POST, "/api/v1/uploads")
            .bearer_auth(&w.cast.creator.token)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", (u64::MAX / 2).to_string()),
        413,
        "upload_too_large",
    ));
    cases
}
