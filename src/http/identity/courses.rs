//! Courses and enrollments.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use crate::error::{ApiError, ErrorCode};
use crate::http::auth::AuthUser;
use crate::http::AppState;
use crate::identity::audit::{record_best_effort, AuditRecord};
use crate::identity::courses::{
    access, get_course, list_courses_for, list_enrollments as db_list_enrollments, unenroll,
};
use crate::identity::users::{find_by_email, normalize_email};
use crate::identity::{create_course, enroll, Course, Enrollment, Role};
use crate::videos::Access;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateCourseRequest {
    pub title: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CourseList {
    pub courses: Vec<Course>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentList {
    pub enrollments: Vec<Enrollment>,
}

/// Exactly one of the two.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EnrollRequest {
    pub user_id: Option<String>,
    pub email: Option<String>,
}

fn forbidden() -> ApiError {
    ApiError::new(ErrorCode::Forbidden, "you may not do this on this course")
}

/// The course and the caller's standing, or 404.
async fn load(app: &AppState, id: &str, caller: &AuthUser) -> Result<(Course, Access), ApiError> {
    let course = get_course(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("course"))?;
    let standing = access(&app.db, &course, &caller.id, caller.role).await?;
    Ok((course, standing))
}

async fn load_managed(app: &AppState, id: &str, caller: &AuthUser) -> Result<Course, ApiError> {
    match load(app, id, caller).await? {
        (course, Access::Manage) => Ok(course),
        // Whoever may not see the course learns nothing about it.
        (_, Access::None) => Err(ApiError::not_found("course")),
        _ => Err(forbidden()),
    }
}

/// Create a course owned by the caller (creator or admin).
#[utoipa::path(post, path = "/api/v1/courses", tag = "courses", security(("bearer" = [])),
    request_body = CreateCourseRequest,
    responses((status = 201, body = Course), (status = 400, description = "`invalid_title`"),
        (status = 403, description = "`forbidden` for learners")))]
pub async fn create(
    State(app): State<AppState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<CreateCourseRequest>,
) -> Result<(StatusCode, Json<Course>), ApiError> {
    caller.require(&[Role::Creator, Role::Admin])?;
    let course = create_course(&app.db, &caller.id, &body.title).await?;
    Ok((StatusCode::CREATED, Json(course)))
}

/// Courses the caller may see: admin all, creator owned + enrolled, learner enrolled.
#[utoipa::path(get, path = "/api/v1/courses", tag = "courses", security(("bearer" = [])),
    responses((status = 200, body = CourseList)))]
pub async fn list(
    State(app): State<AppState>,
    caller: AuthUser,
) -> Result<Json<CourseList>, ApiError> {
    Ok(Json(CourseList {
        courses: list_courses_for(&app.db, &caller.id, caller.role).await?,
    }))
}

/// One course (owner, admin, enrolled).
#[utoipa::path(get, path = "/api/v1/courses/{id}", tag = "courses", security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id")),
    responses((status = 200, body = Course), (status = 403, description = "`forbidden`"),
        (status = 404, description = "`not_found`")))]
pub async fn get_one(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Course>, ApiError> {
    match load(&app, &id, &caller).await? {
        (_, Access::None) => Err(ApiError::not_found("course")),
        (course, _) => Ok(Json(course)),
    }
}

/// Who is enrolled (owner, admin).
#[utoipa::path(get, path = "/api/v1/courses/{id}/enrollments", tag = "courses",
    security(("bearer" = [])), params(("id" = String, Path, description = "Course id")),
    responses((status = 200, body = EnrollmentList), (status = 403, description = "`forbidden`")))]
pub async fn list_enrollments(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<EnrollmentList>, ApiError> {
    let course = load_managed(&app, &id, &caller).await?;
    Ok(Json(EnrollmentList {
        enrollments: db_list_enrollments(&app.db, &course.id).await?,
    }))
}

/// Enroll a user by id or email (owner, admin).
#[utoipa::path(post, path = "/api/v1/courses/{id}/enrollments", tag = "courses",
    security(("bearer" = [])), params(("id" = String, Path, description = "Course id")),
    request_body = EnrollRequest,
    responses((status = 201, body = Enrollment), (status = 403, description = "`forbidden`"),
        (status = 404, description = "`not_found` (user)"), (status = 409, description = "`already_enrolled`")))]
pub async fn add_enrollment(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EnrollRequest>,
) -> Result<(StatusCode, Json<Enrollment>), ApiError> {
    let course = load_managed(&app, &id, &caller).await?;
    let user_id = match (body.user_id, body.email) {
        (Some(user_id), None) => user_id,
        (None, Some(email)) => {
            let email = normalize_email(&email)?;
            find_by_email(&app.db, &email)
                .await?
                .map(|(u, _)| u.id)
                .ok_or_else(|| ApiError::not_found("user"))?
        }
        _ => {
            return Err(ApiError::bad_request(
                "send exactly one of user_id or email",
            ))
        }
    };
    let enrollment = enroll(&app.db, &course.id, &user_id).await?;
    record_best_effort(
        &app.db,
        &AuditRecord {
            action: "enrollment.add",
            outcome: "ok",
            actor_id: Some(&caller.id),
            detail: Some(serde_json::json!({ "course_id": course.id, "user_id": user_id })),
            ..Default::default()
        },
    )
    .await;
    Ok((StatusCode::CREATED, Json(enrollment)))
}

/// Remove an enrollment (owner, admin); the user's live sessions on the
/// course's videos end at once.
#[utoipa::path(delete, path = "/api/v1/courses/{id}/enrollments/{user_id}", tag = "courses",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Course id"), ("user_id" = String, Path, description = "User id")),
    responses((status = 204, description = "Removed"), (status = 403, description = "`forbidden`"),
        (status = 404, description = "`not_found`")))]
pub async fn remove_enrollment(
    State(app): State<AppState>,
    caller: AuthUser,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let course = load_managed(&app, &id, &caller).await?;
    let ended = unenroll(&app.db, &course.id, &user_id).await?;
    record_best_effort(
        &app.db,
        &AuditRecord {
            action: "enrollment.remove",
            outcome: "ok",
            actor_id: Some(&caller.id),
            detail: Some(serde_json::json!({
                "course_id": course.id, "user_id": user_id, "sessions_ended": ended
            })),
            ..Default::default()
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
