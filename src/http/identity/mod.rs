//! HTTP handlers for identity: login and tokens, the caller's preferences, users, courses and
//! enrollments, playback sessions, and admin revocation and audit. The
//! database logic lives in [`crate::identity`]; these only check who may
//! call, translate JSON and set cookies.

mod admin;
mod auth_routes;
mod courses;
mod extract;
mod playback;
mod preferences;
mod users;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::Router;
use utoipa::OpenApi;

use crate::http::auth::BearerScheme;

pub use extract::{cookie, ApiJson, ClientMeta};

use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::identity::{IdentityError, Invalid};

/// JSON bodies of identity routes are small; refuse anything larger early.
const IDENTITY_BODY_LIMIT: usize = 64 * 1024;

/// The identity routes (the edge role mounts them).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(auth_routes::login))
        .route("/api/v1/auth/refresh", post(auth_routes::refresh))
        .route("/api/v1/auth/logout", post(auth_routes::logout))
        .route("/api/v1/me", get(auth_routes::me))
        .route(
            "/api/v1/me/preferences",
            get(preferences::get).put(preferences::put),
        )
        .route("/.well-known/jwks.json", get(auth_routes::jwks))
        .route("/api/v1/users", post(users::create).get(users::list))
        .route("/api/v1/courses", post(courses::create).get(courses::list))
        .route("/api/v1/courses/{id}", get(courses::get_one))
        .route(
            "/api/v1/courses/{id}/enrollments",
            get(courses::list_enrollments).post(courses::add_enrollment),
        )
        .route(
            "/api/v1/courses/{id}/enrollments/{user_id}",
            delete(courses::remove_enrollment),
        )
        .route("/api/v1/videos/{id}/playback", post(playback::start))
        .route("/api/v1/playback/{session_id}", delete(playback::stop))
        .route("/api/v1/admin/revocations", post(admin::revoke))
        .route("/api/v1/admin/sessions", get(admin::sessions))
        .route("/api/v1/admin/audit", get(admin::audit))
        .layer(DefaultBodyLimit::max(IDENTITY_BODY_LIMIT))
}

/// The OpenAPI description of these routes, merged into `/api/v1/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    paths(
        auth_routes::login,
        auth_routes::refresh,
        auth_routes::logout,
        auth_routes::me,
        preferences::get,
        preferences::put,
        auth_routes::jwks,
        users::create,
        users::list,
        courses::create,
        courses::list,
        courses::get_one,
        courses::list_enrollments,
        courses::add_enrollment,
        courses::remove_enrollment,
        playback::start,
        playback::stop,
        admin::revoke,
        admin::sessions,
        admin::audit,
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Login, tokens and the caller"),
        (name = "users", description = "Accounts (admin)"),
        (name = "courses", description = "Courses and enrollments"),
        (name = "playback", description = "Playback sessions"),
        (name = "admin", description = "Revocation, live sessions and the audit log"),
    )
)]
pub struct IdentityApi;

/// The identity part of the OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    IdentityApi::openapi()
}

impl From<IdentityError> for ApiError {
    fn from(err: IdentityError) -> Self {
        match err {
            IdentityError::Db(e) => ApiError::from(e),
            IdentityError::EmailTaken => {
                ApiError::new(ErrorCode::EmailTaken, "this email is already registered")
            }
            IdentityError::AlreadyEnrolled => ApiError::new(
                ErrorCode::AlreadyEnrolled,
                "the user is already enrolled in this course",
            ),
            IdentityError::Invalid(what, message) => {
                let code = match what {
                    Invalid::Email => ErrorCode::InvalidEmail,
                    Invalid::Role => ErrorCode::InvalidRole,
                    Invalid::Title => ErrorCode::InvalidTitle,
                    Invalid::PlaybackRate => ErrorCode::InvalidPlaybackRate,
                    Invalid::Password => ErrorCode::WeakPassword,
                    Invalid::Token => ErrorCode::InvalidToken,
                };
                ApiError::new(code, message)
            }
            IdentityError::NotFound(what) => ApiError::not_found(what),
            IdentityError::Hash(e) => ApiError::internal(format_args!("password hashing: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_lists_every_identity_route() {
        let doc = serde_json::to_value(super::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/api/v1/auth/login",
            "/api/v1/auth/refresh",
            "/api/v1/auth/logout",
            "/api/v1/me",
            "/.well-known/jwks.json",
            "/api/v1/users",
            "/api/v1/courses",
            "/api/v1/courses/{id}",
            "/api/v1/courses/{id}/enrollments",
            "/api/v1/courses/{id}/enrollments/{user_id}",
            "/api/v1/videos/{id}/playback",
            "/api/v1/playback/{session_id}",
            "/api/v1/admin/revocations",
            "/api/v1/admin/sessions",
            "/api/v1/admin/audit",
        ] {
            assert!(paths.contains_key(p), "{p} missing from OpenAPI");
        }
        assert!(doc["components"]["schemas"]["TokenResponse"].is_object());
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
