//! The HTTP application: shared state, the router and its layer stack.
//!
//! `router(app)` is separate from `main` so tests can drive it directly, and
//! every layer that shapes a response lives in one readable stack below.

pub mod auth;
pub mod captions;
pub mod client_ip;
mod demo;
mod health;
pub mod hls;
mod idempotency;
pub mod identity;
mod key_freshness;
mod key_proxy;
pub mod metrics;
mod middleware;
pub mod openapi;
mod progress;
mod signed;
pub mod tus;
pub mod uploads;
pub mod video_events;
pub mod videos;
pub mod webhooks;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::routing::get;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use crate::app::{App, AppState};

/// Default cap on request bodies (JSON); upload routes set their own.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

pub(crate) static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Only `/metrics`, for `--metrics-listen` (a private address).
pub fn metrics_router(app: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::render))
        .with_state(app)
}

/// The whole HTTP surface with its layers.
pub fn router(app: AppState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(openapi::routes());
    // With a metrics listener, the public one does not show them.
    let routes = if app.config.metrics_listen.is_none() {
        routes.route("/metrics", get(metrics::render))
    } else {
        routes
    };
    // Identity, courses, uploads, videos, playback and admin belong to the
    // edge role; a key-server-only node answers health and keys.
    let routes = if app.config.roles.edge {
        routes
            .merge(identity::routes().merge(webhooks::routes()).route_layer(
                axum::middleware::from_fn_with_state(app.clone(), idempotency::layer),
            ))
            .merge(videos::routes())
            .merge(progress::routes())
            .merge(captions::routes())
            .merge(video_events::routes())
            .merge(hls::routes())
    } else {
        routes
    };
    let routes = routes
        // Unmatched GETs: the web app's files and routes; all else a JSON 404.
        .fallback(demo::fallback)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            app.config.request_timeout,
        ));
    // Upload bodies stream for as long as they need: no request timeout
    // (the tus guard cuts a body that goes idle instead).
    let routes = if app.config.roles.edge {
        routes.merge(uploads::routes())
    } else {
        routes
    };
    // The key router carries its own state (and the master key); it joins
    // after ours is applied so both sit under the same layer stack.
    // An edge without it forwards `/keys/` to `--keyserver-url`, when set.
    let key_router = match &app.keys {
        Some(keys) => Some(keys.router().layer(axum::middleware::from_fn_with_state(
            app.clone(),
            key_freshness::reload_for_unknown_keys,
        ))),
        None if !app.config.keyserver_urls.is_empty() => {
            Some(key_proxy::routes(app.config.keyserver_urls.clone()))
        }
        None => None,
    };
    let routes: Router = routes.with_state(app.clone());
    let routes = match key_router {
        Some(keys) => routes.merge(keys),
        None => routes,
    };

    let tls = app.config.tls.is_some();
    let cors = cors_layer(&app.config.cors_origins);

    let stack = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(
            REQUEST_ID_HEADER.clone(),
            MakeRequestUuid,
        ))
        .layer(axum::middleware::from_fn(middleware::request_context))
        .layer(axum::middleware::from_fn_with_state(
            client_ip::TrustedProxies::from(app.config.trusted_proxies.clone()),
            client_ip::resolve,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(middleware::make_span)
                .on_response(middleware::on_response),
        )
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            tls.then(|| HeaderValue::from_static("max-age=31536000; includeSubDomains")),
        ))
        .option_layer(cors)
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT));

    routes.layer(stack)
}

/// CORS only for configured origins; with none configured, no CORS headers at all.
fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let values: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(values))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::HEAD,
                Method::OPTIONS,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::RANGE,
                idempotency::IDEMPOTENCY_KEY.clone(),
                HeaderName::from_static("tus-resumable"),
                HeaderName::from_static("upload-length"),
                HeaderName::from_static("upload-offset"),
                HeaderName::from_static("upload-metadata"),
                HeaderName::from_static("upload-checksum"),
            ])
            .expose_headers([
                header::LOCATION,
                HeaderName::from_static("idempotent-replayed"),
                HeaderName::from_static("upload-offset"),
                HeaderName::from_static("upload-length"),
                HeaderName::from_static("upload-expires"),
                HeaderName::from_static("tus-resumable"),
                HeaderName::from_static("tus-version"),
                HeaderName::from_static("tus-max-size"),
                HeaderName::from_static("x-request-id"),
                // Players read it on a 429 (key pacing, session starts) to wait as told.
                header::RETRY_AFTER,
            ])
            .allow_credentials(true)
            .max_age(Duration::from_secs(600)),
    )
}
