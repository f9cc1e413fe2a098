//! The video API: list, read, follow (SSE) and delete videos, and the signed
//! poster route.
//!
//! Who sees what: a course's owner and admins see every video of the course
//! in every state and may delete; enrolled learners see ready videos only,
//! read only. Anyone else gets 404, so ids leak nothing.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Query, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{bearer_token, AuthUser};
use super::AppState;
use crate::db::now_ms;
use crate::error::ApiError;
use crate::storage::{ObjectKey, ObjectPrefix};
use sealcast_keyserver::{SignatureError, SignedQuery};

/// How long a poster URL stays valid.
const POSTER_TTL: Duration = Duration::from_secs(600);
/// How often the event stream looks at the video.
const EVENT_POLL: Duration = Duration::from_millis(500);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/videos", get(list))
        .route("/api/v1/videos/{id}", get(read).delete(delete))
        .route("/api/v1/videos/{id}/events", get(events))
        .route("/posters/{id}/poster.jpg", get(poster))
}

/// A video as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Video {
    pub id: String,
    pub course_id: String,
    pub title: String,
    /// `uploading`, `queued`, `processing`, `ready` or `failed`.
    pub status: String,
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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Rendition {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bandwidth: u64,
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

type VideoRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    String,
    String,
);

const VIDEO_SELECT: &str = "SELECT v.id, v.course_id, v.title, v.status, v.progress, v.error, \
     v.duration_ms, v.renditions, v.created_at, v.owner_id, c.owner_id \
     FROM videos v JOIN courses c ON c.id = v.course_id";

/// What the caller may do with a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Manage,
    Watch,
}

async fn is_enrolled(app: &AppState, course_id: &str, user_id: &str) -> Result<bool, ApiError> {
    let row: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM enrollments WHERE course_id = $1 AND user_id = $2")
            .bind(course_id)
            .bind(user_id)
            .fetch_optional(&app.db.pool)
            .await?;
    Ok(row.is_some())
}

async fn course_access(
    app: &AppState,
    user: &AuthUser,
    course_id: &str,
    course_owner: &str,
) -> Result<Option<Access>, ApiError> {
    if user.is_admin() || course_owner == user.id {
        return Ok(Some(Access::Manage));
    }
    Ok(is_enrolled(app, course_id, &user.id)
        .await?
        .then_some(Access::Watch))
}

fn to_video(app: &AppState, row: &VideoRow) -> Video {
    let renditions = row
        .7
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let poster_url = (row.3 == "ready")
        .then(|| poster_url(app, &row.0))
        .flatten();
    Video {
        id: row.0.clone(),
        course_id: row.1.clone(),
        title: row.2.clone(),
        status: row.3.clone(),
        progress: row.4,
        error: row.5.clone(),
        duration_seconds: row.6.map(|ms| ms as f64 / 1000.0),
        renditions,
        poster_url,
        created_at: row.8 / 1000,
    }
}

fn poster_url(app: &AppState, video_id: &str) -> Option<String> {
    let prefix = format!("/posters/{video_id}/");
    let exp = (now_ms() / 1000) as u64 + POSTER_TTL.as_secs();
    app.url_signer
        .append_query(&format!("{prefix}poster.jpg"), &prefix, video_id, exp)
        .ok()
}

/// The video if the caller may see it, with what they may do.
async fn visible_video(
    app: &AppState,
    user: &AuthUser,
    id: &str,
) -> Result<(VideoRow, Access), ApiError> {
    let row: Option<VideoRow> = sqlx::query_as(&format!("{VIDEO_SELECT} WHERE v.id = $1"))
        .bind(id)
        .fetch_optional(&app.db.pool)
        .await?;
    let row = row.ok_or_else(|| ApiError::not_found("video"))?;
    let access = if row.9 == user.id {
        Some(Access::Manage)
    } else {
        course_access(app, user, &row.1, &row.10).await?
    };
    match access {
        Some(Access::Manage) => Ok((row, Access::Manage)),
        Some(Access::Watch) if row.3 == "ready" => Ok((row, Access::Watch)),
        _ => Err(ApiError::not_found("video")),
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
    let owner: Option<String> = sqlx::query_scalar("SELECT owner_id FROM courses WHERE id = $1")
        .bind(&query.course_id)
        .fetch_optional(&app.db.pool)
        .await?;
    let owner = owner.ok_or_else(|| ApiError::not_found("course"))?;
    let access = course_access(&app, &user, &query.course_id, &owner)
        .await?
        .ok_or_else(|| ApiError::not_found("course"))?;
    let rows: Vec<VideoRow> = sqlx::query_as(&format!(
        "{VIDEO_SELECT} WHERE v.course_id = $1 ORDER BY v.created_at, v.id"
    ))
    .bind(&query.course_id)
    .fetch_all(&app.db.pool)
    .await?;
    let videos = rows
        .iter()
        .filter(|r| access == Access::Manage || r.3 == "ready")
        .map(|r| to_video(&app, r))
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
    let (row, _) = visible_video(&app, &user, &id).await?;
    Ok(Json(to_video(&app, &row)))
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
        return Err(ApiError::custom(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only the video's owner or an admin may delete it",
        ));
    }
    if let Some(upload) = crate::uploads::state::load(&app.db, &id).await? {
        if upload.completed_at.is_none() {
            let key = ObjectKey::new(upload.storage_key.clone())?;
            app.storage.abort_upload(&key, &upload.progress).await?;
        }
    }
    remove_video(&app, &id).await?;
    tracing::info!(video_id = %id, "video deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Removes every row and object of a video. Rows go first, so nothing can
/// start playing it; a transcode still running loses its lease (its job row
/// is gone) and is killed, and a second pass catches anything it wrote.
pub(crate) async fn remove_video(app: &AppState, id: &str) -> Result<(), ApiError> {
    let mut tx = app.db.pool.begin().await?;
    for table in [
        "DELETE FROM playback_sessions WHERE video_id = $1",
        "DELETE FROM content_keys WHERE video_id = $1",
        "DELETE FROM transcode_jobs WHERE video_id = $1",
        "DELETE FROM uploads WHERE video_id = $1",
        "DELETE FROM videos WHERE id = $1",
    ] {
        sqlx::query(table).bind(id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    remove_objects(app, id).await?;
    let (app2, id2) = (app.clone(), id.to_string());
    let delay = app.config.jobs.lease + Duration::from_secs(1);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if let Err(err) = remove_objects(&app2, &id2).await {
            tracing::warn!(video_id = %id2, error = %err, "second cleanup pass failed");
        }
    });
    Ok(())
}

async fn remove_objects(app: &AppState, id: &str) -> Result<(), ApiError> {
    // Ids have a fixed length, so `uploads/{id}` matches only this video's
    // upload, whether stored as `uploads/{id}` or below `uploads/{id}/`.
    for prefix in [
        crate::jobs::video_prefix(id),
        crate::jobs::default_upload_key(id),
        crate::jobs::original_key(id),
    ] {
        app.storage
            .delete_prefix(&ObjectPrefix::new(prefix)?)
            .await?;
    }
    Ok(())
}

/// A caller of the event stream: `Authorization: Bearer`, or
/// `?access_token=` because EventSource cannot send headers.
#[derive(Debug)]
pub struct StreamUser(pub AuthUser);

impl FromRequestParts<AppState> for StreamUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        if bearer_token(parts).is_none() {
            #[derive(Deserialize)]
            struct TokenQuery {
                access_token: Option<String>,
            }
            if let Ok(Query(TokenQuery {
                access_token: Some(token),
            })) = Query::<TokenQuery>::try_from_uri(&parts.uri)
            {
                if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                    parts.headers.insert(header::AUTHORIZATION, value);
                }
            }
        }
        AuthUser::from_request_parts(parts, app)
            .await
            .map(StreamUser)
    }
}

/// Server-Sent Events: `event: status` with the video each time it changes,
/// until it is ready or failed.
#[utoipa::path(get, path = "/api/v1/videos/{id}/events", tag = "videos",
    params(("id" = String, Path), ("access_token" = Option<String>, Query, description = "for EventSource, which cannot send headers")),
    responses((status = 200, description = "text/event-stream of `status` events carrying Video JSON", content_type = "text/event-stream")),
    security(("bearer" = [])))]
pub async fn events(
    State(app): State<AppState>,
    StreamUser(user): StreamUser,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    visible_video(&app, &user, &id).await?;
    let stream = futures::stream::unfold((None::<Video>, false), move |(last, finished)| {
        let (app, id) = (app.clone(), id.clone());
        async move {
            if finished {
                return None;
            }
            let mut first = last.is_none();
            loop {
                if !first {
                    tokio::time::sleep(EVENT_POLL).await;
                }
                first = false;
                let row: Option<VideoRow> =
                    sqlx::query_as(&format!("{VIDEO_SELECT} WHERE v.id = $1"))
                        .bind(&id)
                        .fetch_optional(&app.db.pool)
                        .await
                        .ok()?;
                let mut video = to_video(&app, &row?);
                let settled = video.status == "ready" || video.status == "failed";
                // The poster URL is re-signed each time; compare without it.
                let unchanged = last.as_ref().is_some_and(|l| {
                    Video {
                        poster_url: None,
                        ..l.clone()
                    } == Video {
                        poster_url: None,
                        ..video.clone()
                    }
                });
                if unchanged {
                    continue;
                }
                let data = serde_json::to_string(&video).unwrap_or_default();
                let event = Event::default().event("status").data(data);
                video.poster_url = None;
                return Some((Ok(event), (Some(video), settled)));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The poster image, behind a short-lived signature (usable in `<img>`).
#[utoipa::path(get, path = "/posters/{id}/poster.jpg", tag = "videos",
    params(("id" = String, Path), ("exp" = u64, Query), ("sig" = String, Query)),
    responses((status = 200, description = "JPEG", content_type = "image/jpeg"),
              (status = 403, description = "bad_signature or expired_signature")))]
pub async fn poster(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let path = format!("/posters/{id}/poster.jpg");
    verify_signed(&app, &path, &id, query.as_deref())?;
    let key = ObjectKey::new(format!("{}poster.jpg", crate::jobs::video_prefix(&id)))?;
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

/// Checks `exp`/`sig` of a signed URL: 403 `bad_signature` or `expired_signature`.
pub(crate) fn verify_signed(
    app: &AppState,
    path: &str,
    session: &str,
    query: Option<&str>,
) -> Result<(), ApiError> {
    let bad = || ApiError::custom(StatusCode::FORBIDDEN, "bad_signature", "bad signature");
    let signed = query.and_then(SignedQuery::parse).ok_or_else(bad)?;
    let now = (now_ms() / 1000) as u64;
    match app
        .url_signer
        .verify(path, session, signed.exp, &signed.sig, now)
    {
        Ok(()) => Ok(()),
        Err(SignatureError::Expired) => Err(ApiError::custom(
            StatusCode::FORBIDDEN,
            "expired_signature",
            "this link has expired",
        )),
        Err(SignatureError::Bad) => Err(bad()),
    }
}
