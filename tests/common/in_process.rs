//! The application without a process: `sealcast::server::build_app` and
//! `sealcast::http::router`, driven with `tower::ServiceExt::oneshot`. For
//! tests where no process boundary is under test (statuses, envelopes,
//! auth errors, CORS, bad input); no listener, no workers, no sweeper.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use sealcast::config::{Config, ServeArgs};
use sealcast::http::App;
use tower::ServiceExt;

use super::api::Response;

/// Builds the app on a fresh data dir; `args` as `sealcast serve` flags would set them.
pub async fn build(mut args: ServeArgs, data_dir: &std::path::Path) -> Arc<App> {
    args.data_dir = Some(data_dir.to_path_buf());
    let config = Config::load(&args).unwrap_or_else(|e| panic!("config: {e:?}"));
    sealcast::server::build_app(config)
        .await
        .unwrap_or_else(|e| panic!("build_app: {e:?}"))
}

/// Sends one request into `router` as if from 127.0.0.1 and reads the whole answer.
pub async fn oneshot(router: &axum::Router, request: reqwest::Request) -> Response {
    let url = request.url();
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let mut builder = axum::http::Request::builder()
        .method(request.method().clone())
        .uri(path);
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    let body = request
        .body()
        .map(|b| {
            b.as_bytes()
                .expect("in-process requests have whole bodies")
                .to_vec()
        })
        .unwrap_or_default();
    let mut http_request = builder.body(Body::from(body)).unwrap();
    http_request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let resp = router.clone().oneshot(http_request).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 256 << 20).await.unwrap();
    Response::new(parts.status, parts.headers, bytes)
}
