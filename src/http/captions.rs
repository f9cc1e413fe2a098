//! The captions API: put (add or replace), list and delete a video's caption
//! tracks. The course's owner, the video's uploader and admins manage them;
//! whoever may see the video may list them. Parsing, storing and serving
//! live in [`crate::captions`]; this only checks who calls and translates.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::AuthUser;
use super::videos::visible_video;
use super::AppState;
use crate::captions::{self, NewTrack, PutError, SourceFormat, MAX_BYTES};
use crate::error::{ApiError, ErrorCode};
use crate::videos::Access;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/videos/{id}/captions", get(list))
        .route(
            "/api/v1/videos/{id}/captions/{lang}",
            put(put_track).delete(delete_track),
        )
}

/// A caption track as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaptionTrack {
    /// BCP 47 tag, case-normalized (`pt-BR`).
    pub lang: String,
    /// What a player's captions menu shows.
    pub label: String,
    pub cue_count: i64,
    /// Size of the stored WebVTT.
    pub size_bytes: i64,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaptionList {
    pub captions: Vec<CaptionTrack>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PutQuery {
    /// The menu label; the language tag when absent.
    pub label: Option<String>,
}

fn to_track(track: captions::Track) -> CaptionTrack {
    CaptionTrack {
        lang: track.lang,
        label: track.label,
        cue_count: track.cue_count,
        size_bytes: track.size_bytes,
        created_at: track.created_at / 1000,
        updated_at: track.updated_at / 1000,
    }
}

/// Passes if the caller manages the video; 403 for its learners, 404 for anyone else.
async fn managed_video(app: &AppState, user: &AuthUser, id: &str) -> Result<(), ApiError> {
    let (_, access) = visible_video(app, user, id).await?;
    if access != Access::Manage {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the course's owner or an admin may change captions",
        ));
    }
    Ok(())
}

/// `text/vtt` or `application/x-subrip`, UTF-8; anything else is 415.
fn source_format(headers: &HeaderMap) -> Result<SourceFormat, ApiError> {
    let refuse = || {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send Content-Type: text/vtt or application/x-subrip (UTF-8)",
        )
    };
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refuse)?;
    let mut parts = value.split(';').map(str::trim);
    let format = match parts.next().unwrap_or("").to_ascii_lowercase().as_str() {
        "text/vtt" => SourceFormat::WebVtt,
        "application/x-subrip" => SourceFormat::SubRip,
        _ => return Err(refuse()),
    };
    for param in parts {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let value = value.trim_matches('"');
        if name.eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
            return Err(refuse());
        }
    }
    Ok(format)
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("a caption file may be at most {} MiB", MAX_BYTES >> 20),
    )
}

/// How much of a refused body is still read (and dropped) before the 413
/// goes out. A client that is still writing a body the server stopped
/// reading gets a connection reset instead of the answer; past this, it does.
const DRAIN_BYTES: usize = 4 * MAX_BYTES;

/// The body, refused past [`MAX_BYTES`] before or while it arrives.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut stream = body.into_data_stream();
    if announced.is_some_and(|n| n > MAX_BYTES as u64) {
        drain(&mut stream, 0).await;
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if out.len() + chunk.len() > MAX_BYTES {
            drain(&mut stream, out.len() + chunk.len()).await;
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Reads and drops the rest of a refused body, up to [`DRAIN_BYTES`] in
/// all (`read` already), keeping nothing.
async fn drain(stream: &mut axum::body::BodyDataStream, mut read: usize) {
    while read <= DRAIN_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => read += chunk.len(),
            _ => return,
        }
    }
}

impl From<PutError> for ApiError {
    fn from(err: PutError) -> Self {
        match err {
            PutError::Invalid(e) => ApiError::new(ErrorCode::InvalidCaptions, e.to_string()),
            PutError::Language(m) | PutError::Label(m) => ApiError::bad_request(m),
            PutError::TooMany => ApiError::new(ErrorCode::Conflict, err.to_string()),
            PutError::Db(e) => e.into(),
            PutError::Storage(e) => e.into(),
        }
    }
}

/// Adds or replaces the track in `lang`: WebVTT as sent, SRT converted.
#[utoipa::path(put, path = "/api/v1/videos/{id}/captions/{lang}", tag = "videos",
    params(("id" = String, Path), ("lang" = String, Path, description = "BCP 47 tag"), PutQuery),
    request_body(content = String, description = "WebVTT (`text/vtt`) or SRT (`application/x-subrip`), at most 2 MiB", content_type = "text/vtt"),
    responses((status = 201, body = CaptionTrack, description = "added"), (status = 200, body = CaptionTrack, description = "replaced"),
              (status = 400, description = "invalid_captions (naming the line), or a bad language tag or label"),
              (status = 403, description = "not the course's owner or an admin"), (status = 404, description = "no such video of yours"),
              (status = 409, description = "too many tracks"), (status = 413, description = "payload_too_large"),
              (status = 415, description = "unsupported_media_type")),
    security(("bearer" = [])))]
pub async fn put_track(
    State(app): State<AppState>,
    user: AuthUser,
    Path((id, lang)): Path<(String, String)>,
    Query(query): Query<PutQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CaptionTrack>), ApiError> {
    managed_video(&app, &user, &id).await?;
    let format = source_format(&headers)?;
    let bytes = read_body(&headers, body).await?;
    let (track, replaced) = captions::put(
        &app,
        NewTrack {
            video_id: &id,
            lang: &lang,
            label: query.label.as_deref(),
            format,
            bytes: &bytes,
        },
    )
    .await?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    tracing::info!(video_id = %id, lang = %track.lang, cues = track.cue_count, "captions stored");
    Ok((status, Json(to_track(track))))
}

/// The video's caption tracks.
#[utoipa::path(get, path = "/api/v1/videos/{id}/captions", tag = "videos",
    params(("id" = String, Path)),
    responses((status = 200, body = CaptionList), (status = 404, description = "not found or not yours")),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<CaptionList>, ApiError> {
    visible_video(&app, &user, &id).await?;
    let tracks = captions::model::list(&app.db, &id).await?;
    Ok(Json(CaptionList {
        captions: tracks.into_iter().map(to_track).collect(),
    }))
}

/// Removes the track in `lang`.
#[utoipa::path(delete, path = "/api/v1/videos/{id}/captions/{lang}", tag = "videos",
    params(("id" = String, Path), ("lang" = String, Path)),
    responses((status = 204, description = "removed"), (status = 403, description = "not the course's owner or an admin"),
              (status = 404, description = "no such video of yours, or no track in that language")),
    security(("bearer" = [])))]
pub async fn delete_track(
    State(app): State<AppState>,
    user: AuthUser,
    Path((id, lang)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    managed_video(&app, &user, &id).await?;
    if !captions::remove(&app, &id, &lang).await? {
        return Err(ApiError::not_found("caption track"));
    }
    Ok(StatusCode::NO_CONTENT)
}
