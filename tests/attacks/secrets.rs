//! Secrets by URL: nothing under the data dir is reachable by name.

use super::cases::{case, Case, World};

pub fn cases(w: &World) -> Vec<Case> {
    [
        "/secrets/master.key",
        "/secrets/url-signing.key",
        "/sealcast.db",
        "/sealcast.db-wal",
        "/.env",
        "/node-id",
    ]
    .into_iter()
    .map(|path| case(format!("GET {path}"), w.get(path), 404, "not_found"))
    .chain([case(
        "the signing keys of the JWKS are public halves only",
        w.get("/.well-known/jwks.json"),
        200,
        "",
    )
    .not_an_error()
    .and(|r| {
        let text = std::str::from_utf8(r.body_bytes()).unwrap_or("");
        (!text.contains("\"d\"") && !text.contains("PRIVATE"))
            .then_some(())
            .ok_or(format!("private material: {text}"))
    })])
    .collect()
}
