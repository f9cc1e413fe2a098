//! Guesses at the original upload: it is stored, but no route serves it.

use reqwest::Method;

use super::cases::{case, Case, World};

pub fn cases(w: &World) -> Vec<Case> {
    let vid = &w.video.id;
    let (base, _) = w.master();
    let creator = &w.cast.creator.token;
    vec![
        case(
            "the object path",
            w.get(&format!("/uploads/{vid}/source")),
            404,
            "not_found",
        ),
        case(
            "the upload URL, GET",
            w.get_as(&format!("/api/v1/uploads/{vid}"), creator)
                .header("tus-resumable", "1.0.0"),
            405,
            "method_not_allowed",
        ),
        case(
            "a source name in the session",
            w.get(&format!("{base}source")),
            404,
            "not_found",
        ),
        case(
            "an .mp4 in the session",
            w.get(&format!("{base}source.mp4")),
            404,
            "not_found",
        ),
        case(
            "the data dir",
            w.get(&format!("/sealcast-data/uploads/{vid}/source")),
            404,
            "not_found",
        ),
        case(
            "a download route",
            w.get_as(&format!("/api/v1/videos/{vid}/source"), creator),
            404,
            "not_found",
        ),
        case(
            "a download route, POST",
            w.request(Method::POST, &format!("/api/v1/videos/{vid}/download"))
                .bearer_auth(creator),
            404,
            "not_found",
        ),
    ]
}
