//! The video API: list, read, follow (SSE) and delete videos, and the signed
//! poster route.
//!
//! Who sees what: a course's owner and admins see every video of the course
//! in every state and may delete; enrolled learners see ready videos only,
//! read only. Anyone else gets 404, so ids leak nothing.

use std::time::Duration;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::AuthUser;
use super::AppState;
use crate::db::now_ms;
use crate::error::{ApiError, ErrorCode};
use crate::identity::courses::{access as course_access, get_course};
use crate::storage::ObjectKey;
use crate::videos::{self, access, layout, model, Access, Rendition, VideoStatus, Viewer};

/// How long a poster URL stays valid.
const POSTER_TTL: Duration = Duration::from_secs(600);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/videos", get(list))
        .route("/api/v1/videos/{id}", get(read).delete(delete))
        .route("/posters/{id}/poster.jpg", get(poster))
}

/// A video as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Video {
    pub id: String,
    pub course_id: String,
    pub title: String,
    /// `uploading`, `queued`, `processing`, `ready` or `failed`.
    #[schema(value_type = String)]
    pub status: VideoStatus,
    /// Transcode progress, 0..=100.
    pub progress: i64,
    pub error: Option<String>,
    pub duration_seconds: Option<f64>,
    pub renditions: Vec<Rendition>,
    /// Short-lived signed URL of the poster image (ready videos only).
    pub poster_url: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VideoList {
    pub videos: Vec<Video>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// The course whose videos to list.
    pub course_id: String,
}

fn viewer(user: &AuthUser) -> Viewer<'_> {
    Viewer {
        user_id: &user.id,
        is_admin: user.is_admin(),
    }
}

pub(super) fn to_video(app: &AppState, row: &videos::Video) -> Video {
    let poster_url = (row.status == VideoStatus::Ready)
        .then(|| poster_url(app, &row.id))
        .flatten();
    Video {
        id: row.id.clone(),
        course_id: row.course_id.clone(),
        title: row.title.clone(),
        status: row.status,
        progress: row.progress,
        error: row.error.clone(),
        duration_seconds: row.duration_seconds(),
        renditions: row.renditions(),
        poster_url,
        created_at: row.created_at / 1000,
    }
}

fn poster_url(app: &AppState, video_id: &str) -> Option<String> {
    let prefix = format!("/posters/{video_id}/");
    let exp = (now_ms() / 1000) as u64 + POSTER_TTL.as_secs();
    app.url_signer
        .append_query(&format!("{prefix}poster.jpg"), &prefix, video_id, exp)
        .ok()
}

/// The video if the caller may see it, with what they may do; 404 for
/// anyone else, so ids leak nothing.
pub(super) async fn visible_video(
    app: &AppState,
    user: &AuthUser,
    id: &str,
) -> Result<(videos::Video, Access), ApiError> {
    let video = model::find(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("video"))?;
    match access::access(&app.db, viewer(user), &video).await? {
        Access::None => Err(ApiError::not_found("video")),
        granted => Ok((video, granted)),
    }
}

/// Videos of a course the caller may see.
#[utoipa::path(get, path = "/api/v1/videos", tag = "videos", params(ListQuery),
    responses((status = 200, body = VideoList), (status = 404, description = "no such course of yours")),
    security(("bearer" = [])))]
pub async fn list(
    State(app): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<VideoList>, ApiError> {
    let course = get_course(&app.db, &query.course_id)
        .await?
        .ok_or_else(|| ApiError::not_found("course"))?;
    if course_access(&app.db, &course, &user.id, user.role).await? == Access::None {
        return Err(ApiError::not_found("course"));
    }
    let viewer = viewer(&user);
    let videos = model::list_for_course(&app.db, &course.id)
        .await?
        .iter()
        // The enrollment is known: the course check above passed.
        .filter(|v| {
            access::decide(viewer, &v.course_owner_id, &v.owner_id, v.status, true) != Access::None
        })
        .map(|v| to_video(&app, v))
        .collect();
    Ok(Json(VideoList { videos }))
}

#[utoipa::path(get, path = "/api/v1/videos/{id}", tag = "videos",
    params(("id" = String, Path)),
    responses((status = 200, body = Video), (status = 404, description = "not found or not yours")),
    security(("bearer" = [])))]
pub async fn read(
    State(app): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Video>, ApiError> {
    let (video, _) = visible_video(&app, &user, &id).await?;
    Ok(Json(to_video(&app, &video)))
}

/// Deletes a video with its segments, playlists, poster, keys and sessions.
#[utoipa::path(delete, path = "/api/v1/videos/{id}", tag = "videos",
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, description = "learners may not delete"),
              (status = 404, description = "not found or not yours")),
    security(("bearer" = [])))]
pub async fn delete(
    State(app): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (_, access) = visible_video(&app, &user, &id).await?;
    if access != Access::Manage {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only the video's owner or an admin may delete it",
        ));
    }
    crate::uploads::discard(&app, &id).await?;
    tracing::info!(video_id = %id, "video deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The poster image, behind a short-lived signature (usable in `<img>`).
#[utoipa::path(get, path = "/posters/{id}/poster.jpg", tag = "videos",
    params(("id" = String, Path), ("exp" = u64, Query), ("sig" = String, Query), ("kv" = Option<u32>, Query)),
    responses((status = 200, description = "JPEG", content_type = "image/jpeg"),
              (status = 403, description = "bad_signature or expired_signature")))]
pub async fn poster(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let path = format!("/posters/{id}/poster.jpg");
    super::signed::verify(&app, &path, &id, query.as_deref()).await?;
    let key = ObjectKey::new(layout::poster_key(&id))?;
    let body = app.storage.get(&key, None).await?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=600"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(body.len())),
        ],
        axum::body::Body::from_stream(body.stream),
    )
        .into_response())
}
