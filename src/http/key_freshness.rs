//! In front of the key route: the key server crate checks the signed URL and
//! the token itself but knows nothing of the database, so a `kv` or token
//! `kid` rotated in since this node's last keyring reload would be refused
//! there. This layer reloads the shared keyring first (rate-limited, see
//! `crate::keyring`), then hands the request on unchanged. It only reads the
//! token's header: the key route verifies the signature (once per token,
//! then from its cache), and doing it here too cost a third of the route.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use sealcast_keyserver::SignedQuery;

use super::AppState;

pub async fn reload_for_unknown_keys(
    State(app): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // The signature is in the query (`/keys/…`) or the path token (`/hls/…`).
    let uri = request.uri();
    let signed = match uri.query() {
        Some(query) => SignedQuery::parse(query),
        None => uri
            .path()
            .split('/')
            .nth(3)
            .and_then(SignedQuery::from_path_token),
    };
    let unknown_version = signed.is_some_and(|q| !app.url_signer.knows_version(q.kv));
    let unknown_kid = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| app.verifier.names_unknown_local_key(t));
    if unknown_version || unknown_kid {
        app.keyring.reload_for_unknown().await;
    }
    next.run(request).await
}
