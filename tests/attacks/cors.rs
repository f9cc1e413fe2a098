//! Cross-origin reads: no origin is allowed unless configured, and a
//! preflight from a stranger's page is not approved.

use reqwest::Method;

use super::cases::{case, Case, World};
use super::common::Response;

fn no_allow_origin(r: &Response) -> Result<(), String> {
    match r.headers().get("access-control-allow-origin") {
        None => Ok(()),
        Some(v) => Err(format!("allowed origin {v:?}")),
    }
}

pub fn cases(w: &World) -> Vec<Case> {
    let learner = &w.cast.learner.token;
    let preflight = |path: &str, method: &str| {
        w.request(Method::OPTIONS, path)
            .header("origin", "https://evil.example")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", "authorization")
    };
    vec![
        case(
            "a read from another origin",
            w.get_as("/api/v1/me", learner)
                .header("origin", "https://evil.example"),
            200,
            "",
        )
        .not_an_error()
        .and(no_allow_origin),
        case(
            "the null origin",
            w.get_as("/api/v1/me", learner).header("origin", "null"),
            200,
            "",
        )
        .not_an_error()
        .and(no_allow_origin),
        // No origin is configured, so no preflight is approved.
        case(
            "a preflight for the API",
            preflight("/api/v1/me", "GET"),
            405,
            "method_not_allowed",
        )
        .and(no_allow_origin),
        case(
            "a preflight for a key",
            preflight(&format!("/keys/{}/k", w.session.session_id), "GET"),
            405,
            "method_not_allowed",
        )
        .and(no_allow_origin),
    ]
}
