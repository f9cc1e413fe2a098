//! In front of the key route: the key server crate checks the signed URL and
//! the token itself but knows nothing of the database, so a `kv` or token
//! `kid` rotated in since this node's last keyring reload would be refused
//! there. This layer reloads the shared keyring first (rate-limited, see
//! `crate::keyring`), then hands the request on unchanged.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use sealcast_keyserver::{SignedQuery, TokenError};

use super::AppState;

pub async fn reload_for_unknown_keys(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let unknown_version = request
        .uri()
        .query()
        .and_then(SignedQuery::parse)
        .is_some_and(|q| !app.url_signer.knows_version(q.kv));
    let unknown_kid = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| matches!(app.verifier.verify(t), Err(TokenError::UnknownKid)));
    if unknown_version || unknown_kid {
        app.keyring.reload_for_unknown().await;
    }
    next.run(request).await
}
