//! The caller's own preferences (any signed-in user, for themselves only).

use axum::extract::State;
use axum::Json;

use super::extract::ApiJson;
use crate::error::ApiError;
use crate::http::auth::AuthUser;
use crate::http::AppState;
use crate::identity::preferences::{self, Preferences};

/// The caller's preferences (the defaults until they choose).
#[utoipa::path(get, path = "/api/v1/me/preferences", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Preferences), (status = 401, description = "`missing_token` / `invalid_token`")))]
pub async fn get(
    State(app): State<AppState>,
    caller: AuthUser,
) -> Result<Json<Preferences>, ApiError> {
    Ok(Json(preferences::get(&app.db, &caller.id).await?))
}

/// Replace the caller's preferences.
#[utoipa::path(put, path = "/api/v1/me/preferences", tag = "auth", security(("bearer" = [])),
    request_body = Preferences,
    responses(
        (status = 200, body = Preferences),
        (status = 400, description = "`invalid_playback_rate`, `invalid_json`"),
        (status = 401, description = "`missing_token` / `invalid_token`"),
    ))]
pub async fn put(
    State(app): State<AppState>,
    caller: AuthUser,
    ApiJson(prefs): ApiJson<Preferences>,
) -> Result<Json<Preferences>, ApiError> {
    Ok(Json(preferences::set(&app.db, &caller.id, prefs).await?))
}
