//! Viewing progress over HTTP: heartbeats from players, a learner's progress
//! on a video, and a course's report for its owner. The rules live in
//! [`crate::progress`]; these check who asks and translate.

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::AuthUser;
use super::identity::ApiJson;
use super::videos::visible_video;
use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::identity::courses::{access as course_access, get_course};
use crate::identity::sessions::get_session;
use crate::progress::{self, report, CourseProgress, ProgressError, Report, VideoProgress};
use crate::videos::{model, Access};

/// A heartbeat is a few dozen bytes.
const BODY_LIMIT: usize = 4 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/playback/{session_id}/progress",
            post(heartbeat).layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route("/api/v1/videos/{id}/progress", get(video_progress))
        .route("/api/v1/courses/{id}/progress", get(course))
}

/// What the player reports.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    /// The playhead, in seconds of media.
    pub position_seconds: f64,
    /// Whether the player is playing (false: paused, ended, leaving).
    pub playing: bool,
}

impl From<ProgressError> for ApiError {
    fn from(err: ProgressError) -> Self {
        match err {
            ProgressError::Db(e) => e.into(),
            ProgressError::Storage(e) => e.into(),
            e @ (ProgressError::InvalidPosition | ProgressError::BeyondDuration { .. }) => {
                ApiError::bad_request(e.to_string())
            }
        }
    }
}

/// Report the playhead of one of the caller's sessions (every ~10 s and on
/// pause, seek and leaving). Credit comes only from segments the session was sent.
#[utoipa::path(post, path = "/api/v1/playback/{session_id}/progress", tag = "progress",
    security(("bearer" = [])), params(("session_id" = String, Path)), request_body = Heartbeat,
    responses((status = 200, body = VideoProgress),
        (status = 400, description = "`invalid_json`, or `bad_request` for a position below 0 or beyond the duration"),
        (status = 403, description = "`forbidden`: not the caller's session"),
        (status = 404, description = "`not_found`")))]
pub async fn heartbeat(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
    ApiJson(body): ApiJson<Heartbeat>,
) -> Result<Json<VideoProgress>, ApiError> {
    let session = get_session(&app.db, &session_id)
        .await?
        .ok_or_else(|| ApiError::not_found("session"))?;
    if session.user_id != caller.id {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "this playback session is not yours",
        ));
    }
    let video = model::find(&app.db, &session.video_id)
        .await?
        .ok_or_else(|| ApiError::not_found("video"))?;
    let report = Report {
        position_seconds: body.position_seconds,
        playing: body.playing,
    };
    Ok(Json(
        progress::record_heartbeat(&app, &session, &video, report).await?,
    ))
}

/// The caller's progress on a video they may watch.
#[utoipa::path(get, path = "/api/v1/videos/{id}/progress", tag = "progress",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = VideoProgress), (status = 404, description = "`not_found`")))]
pub async fn video_progress(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<VideoProgress>, ApiError> {
    let (video, _) = visible_video(&app, &caller, &id).await?;
    Ok(Json(progress::read(&app.db, &caller.id, &video).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    /// `json` (the default) or `csv`.
    pub format: Option<String>,
}

/// Every enrolled learner's progress on the course's videos (owner or admin).
#[utoipa::path(get, path = "/api/v1/courses/{id}/progress", tag = "progress",
    security(("bearer" = [])), params(("id" = String, Path), ReportQuery),
    responses((status = 200, body = CourseProgress, description = "JSON, or text/csv with `?format=csv`"),
        (status = 400, description = "`bad_request`: unknown format"),
        (status = 403, description = "`forbidden`: learners"), (status = 404, description = "`not_found`")))]
pub async fn course(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    Query(query): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::bad_request("format must be json or csv")),
    };
    let course = get_course(&app.db, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("course"))?;
    match course_access(&app.db, &course, &caller.id, caller.role).await? {
        Access::Manage => {}
        Access::Watch => {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "only the course's owner or an admin may see its progress",
            ))
        }
        Access::None => return Err(ApiError::not_found("course")),
    }
    let report = progress::course_progress(&app.db, &course.id).await?;
    if !csv {
        return Ok(Json(report).into_response());
    }
    let disposition = format!("attachment; filename=\"course-{}-progress.csv\"", course.id);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition).map_err(ApiError::internal)?,
            ),
        ],
        report::to_csv(&report),
    )
        .into_response())
}

#[derive(OpenApi)]
#[openapi(
    paths(heartbeat, video_progress, course),
    components(schemas(Heartbeat, VideoProgress, CourseProgress, report::CourseVideo,
        report::LearnerProgress, report::LearnerVideo)),
    tags((name = "progress", description = "Resume positions and server-verified watched time"))
)]
pub struct ProgressApi;

/// The progress part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ProgressApi::openapi()
}
