//! The web app (`player-demo/`, built by Vite) served from a folder at `/`.
//!
//! Files that exist in `web_dir` are served as they are; the app's own
//! client-side routes (`/watch/…`, `/studio/…`) get `index.html` so a reload
//! or a shared link works. Every other unmatched path keeps the API's JSON
//! 404, so a typo in an API call never comes back as HTML. Every response
//! carries a strict Content-Security-Policy: the app loads nothing from
//! another host, and an injected script has nowhere to send what it reads.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, Response, StatusCode};
use axum::response::IntoResponse;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use super::AppState;
use crate::error::{ApiError, ErrorCode};

/// Only this origin. `media-src blob:` because hls.js feeds the `<video>`
/// through a MediaSource object URL; its transmuxer worker is a file of the
/// build (`workerPath`), so workers need no `blob:`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
     worker-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// First path segments the app routes itself (see `player-demo/src/router.js`).
const APP_SECTIONS: &[&str] = &["login", "courses", "watch", "studio", "admin"];

/// The router's fallback: a file of the app, the app's shell, or a JSON 404.
pub async fn fallback(State(app): State<AppState>, req: Request) -> Response<Body> {
    let path = req.uri().path().to_owned();
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return not_found();
    }
    let dir = &app.config.web_dir;
    let index = dir.join("index.html");
    let app_route = is_app_route(&path);
    if !index.is_file() {
        return if app_route {
            not_built(&app.config.web_dir)
        } else {
            not_found()
        };
    }
    let served = if app_route {
        ServeDir::new(dir)
            .fallback(ServeFile::new(&index))
            .oneshot(req)
            .await
    } else {
        ServeDir::new(dir).oneshot(req).await
    };
    let Ok(mut resp) = served;
    if !resp.status().is_success() && resp.status() != StatusCode::NOT_MODIFIED {
        return not_found();
    }
    // Vite names assets by content hash, so they never change under a name;
    // the shell must be revalidated so a new build is picked up at once.
    let cache = if path.starts_with("/assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    resp.map(Body::new)
}

/// `/` and the app's sections; never an API, playlist or key path.
fn is_app_route(path: &str) -> bool {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    first.is_empty() || APP_SECTIONS.contains(&first)
}

fn not_found() -> Response<Body> {
    ApiError::new(ErrorCode::NotFound, "no such route").into_response()
}

/// Shown instead of the app when its folder has not been built yet.
fn not_built(dir: &std::path::Path) -> Response<Body> {
    let dir = html_escape(&dir.display().to_string());
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>sealcast: web app not built</title></head><body>\
         <h1>sealcast is running, but its web app is not built</h1>\
         <p>No <code>index.html</code> in <code>{dir}</code>.</p>\
         <p>Build it from the repository root with <code>make web</code> \
         (that is <code>cd player-demo &amp;&amp; npm ci &amp;&amp; npm run build</code>), \
         or point <code>--web-dir</code> / <code>SEALCAST_WEB_DIR</code> at a built copy.</p>\
         <p>The API answers meanwhile: <a href=\"/healthz\">/healthz</a>, \
         <a href=\"/readyz\">/readyz</a>, <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p>\
         </body></html>\n"
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        page,
    )
        .into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::is_app_route;

    #[test]
    fn only_the_apps_sections_fall_back_to_the_shell() {
        for p in ["/", "/login", "/watch/abc", "/studio/courses/1", "/admin"] {
            assert!(is_app_route(p), "{p}");
        }
        for p in [
            "/api/v1/nope",
            "/hls/x",
            "/keys/a/b",
            "/no/such/route",
            "/etc/passwd",
        ] {
            assert!(!is_app_route(p), "{p}");
        }
    }
}
