//! The OpenAPI document of the whole API at `/api/v1/openapi.json`.
//!
//! Each route group describes itself with its own `#[derive(OpenApi)]`;
//! [`document`] merges them, so adding a group is one `merge` line there.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::auth::BearerScheme;
use super::{captions, hls, uploads, video_events, videos, AppState};

/// The error envelope every failure answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `offset_mismatch`.
    pub code: String,
    pub message: String,
    pub request_id: String,
}

/// The edge: uploads, videos and signed playback.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "sealcast",
        description = "Secure video server: tus uploads, encrypted HLS, signed playback. Errors are ErrorEnvelope JSON."
    ),
    paths(
        uploads::options,
        uploads::create,
        uploads::status,
        uploads::append,
        uploads::terminate,
        videos::list,
        videos::read,
        videos::delete,
        video_events::ticket,
        video_events::events,
        videos::poster,
        captions::put_track,
        captions::list,
        captions::delete_track,
        hls::master,
        hls::variant_or_segment,
        hls::subtitles,
        openapi_json,
    ),
    components(schemas(videos::Video, captions::CaptionTrack, captions::CaptionList, crate::videos::Rendition, videos::VideoList, video_events::StreamTicket, ErrorEnvelope, ErrorBody)),
    modifiers(&BearerScheme),
    tags(
        (name = "uploads", description = "tus 1.0.0 resumable uploads"),
        (name = "videos", description = "videos of a course"),
        (name = "playback", description = "signed per-session HLS"),
    )
)]
pub struct EdgeApi;

/// Every route group's document, merged.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = EdgeApi::openapi();
    doc.merge(super::identity::IdentityApi::openapi());
    doc.merge(super::webhooks::openapi());
    doc.merge(super::progress::openapi());
    doc
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(openapi_json))
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "videos",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| document().to_json().unwrap_or_else(|_| "{}".into()));
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.clone(),
    )
}
