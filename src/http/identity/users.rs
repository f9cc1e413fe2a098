//! Accounts, managed by admins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use crate::error::ApiError;
use crate::http::auth::AuthUser;
use crate::http::AppState;
use crate::identity::audit::{record_best_effort, AuditRecord};
use crate::identity::users::{list_users, parse_role};
use crate::identity::{create_user, Role, User};

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    pub email: String,
    pub password: String,
    /// `admin`, `creator` or `learner`.
    pub role: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
}

/// Create an account (admin).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 201, body = User),
        (status = 400, description = "`invalid_email`, `weak_password`, `invalid_role`, `invalid_json`"),
        (status = 403, description = "`forbidden`"),
        (status = 409, description = "`email_taken`"),
    ))]
pub async fn create(
    State(app): State<AppState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    caller.require(&[Role::Admin])?;
    let role = parse_role(&body.role)?;
    let user = create_user(&app.db, &body.email, &body.password, role).await?;
    record_best_effort(
        &app.db,
        &AuditRecord {
            action: "user.create",
            outcome: "ok",
            actor_id: Some(&caller.id),
            detail: Some(serde_json::json!({ "user_id": user.id, "role": role.as_str() })),
            ..Default::default()
        },
    )
    .await;
    Ok((StatusCode::CREATED, Json(user)))
}

/// List accounts (admin).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserList), (status = 403, description = "`forbidden`")))]
pub async fn list(
    State(app): State<AppState>,
    caller: AuthUser,
) -> Result<Json<UserList>, ApiError> {
    caller.require(&[Role::Admin])?;
    Ok(Json(UserList {
        users: list_users(&app.db).await?,
    }))
}
