//! Cross-cutting request handling: request ids, the error envelope for bare
//! statuses, tracing spans and panic responses.

use std::any::Any;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use tracing::Span;

use super::REQUEST_ID_HEADER;
use crate::error::{envelope_response, ErrorCode, REQUEST_ID};

/// Makes the request id available to every error built during the request,
/// echoes it on the response, and wraps bare error statuses from layers
/// (body limit, timeout, 405) in the JSON envelope.
///
/// A refused request that carried a body may be answered before the body
/// was read, and then the connection cannot carry another request: such
/// answers say `Connection: close`, so clients open a fresh connection
/// instead of reusing one the server drops.
pub async fn request_context(request: Request, next: Next) -> Response<Body> {
    let sends_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_default();
    REQUEST_ID
        .scope(id.clone(), async move {
            let mut response = next.run(request).await;
            let status = response.status();
            let is_json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            if (status.is_client_error() || status.is_server_error()) && !is_json {
                let code = ErrorCode::for_status(status);
                let message = status.canonical_reason().unwrap_or("error").to_lowercase();
                let mut wrapped = envelope_response(status, code, &message);
                // Keep protocol headers such as Allow, Retry-After, Tus-*.
                for (name, value) in response.headers() {
                    if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                        wrapped.headers_mut().insert(name.clone(), value.clone());
                    }
                }
                response = wrapped;
            }
            if let Ok(value) = HeaderValue::from_str(&id) {
                response
                    .headers_mut()
                    .insert(REQUEST_ID_HEADER.clone(), value);
            }
            if sends_body && (status.is_client_error() || status.is_server_error()) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        })
        .await
}

/// One span per request, named by the matched route, never the raw path's
/// query string (it can carry signatures).
pub fn make_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let request_id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", method = %request.method(), route = %route, request_id = %request_id)
}

pub fn on_response(response: &Response<Body>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_millis() as u64,
        "response"
    );
}

/// A panicking handler answers 500 in the envelope; the server keeps going.
pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = %detail, "handler panicked");
    envelope_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Internal,
        "internal server error",
    )
    .into_response()
}
