//! Login, refresh, logout, the caller, and the JWKS.
//!
//! Access tokens are short-lived EdDSA JWTs in the response body; the refresh
//! token lives only in an HttpOnly, SameSite=Strict cookie scoped to
//! `/api/v1/auth`, so page scripts never see it and other routes never get it.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{cookie, ApiJson, ClientMeta};
use crate::error::{ApiError, ErrorCode};
use crate::http::auth::AuthUser;
use crate::http::AppState;
use crate::identity::audit::{record_best_effort, AuditRecord};
use crate::identity::passwords::verify_password;
use crate::identity::refresh::{self, IssuedRefresh, Rotation};
use crate::identity::users::{find_by_email, get_user};
use crate::identity::{Role, User};

pub const REFRESH_COOKIE: &str = "sealcast_refresh";
const REFRESH_PATH: &str = "/api/v1/auth";

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The caller as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: String,
    pub email: String,
    #[schema(value_type = String, example = "learner")]
    pub role: Role,
}

impl From<&User> for Me {
    fn from(u: &User) -> Self {
        Me {
            id: u.id.clone(),
            email: u.email.clone(),
            role: u.role,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: Me,
}

fn refresh_cookie(app: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let cookie = cookie::Cookie::build((REFRESH_COOKIE, value))
        .path(REFRESH_PATH)
        .max_age(cookie::time::Duration::seconds(max_age))
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(app.config.tls.is_some())
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// 200 with a fresh access token, and the refresh cookie.
fn token_response(
    app: &AppState,
    user: &User,
    refresh: &IssuedRefresh,
) -> Result<Response, ApiError> {
    let (access_token, expires_in) = app
        .tokens
        .issue(&user.id, user.role, None)
        .map_err(ApiError::internal)?;
    let max_age = (refresh.expires_at_ms - crate::db::now_ms()) / 1000;
    let mut resp = Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        user: Me::from(user),
    })
    .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::SET_COOKIE,
        refresh_cookie(app, &refresh.token, max_age),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

fn invalid_credentials() -> ApiError {
    ApiError::new(ErrorCode::InvalidCredentials, "wrong email or password")
}

fn user_disabled() -> ApiError {
    ApiError::new(ErrorCode::UserDisabled, "this account is disabled")
}

/// Log in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Access token; refresh token in the `sealcast_refresh` cookie", body = TokenResponse),
        (status = 401, description = "`invalid_credentials`"),
        (status = 403, description = "`user_disabled`"),
        (status = 429, description = "`rate_limited`, with Retry-After"),
    ))]
pub async fn login(
    State(app): State<AppState>,
    meta: ClientMeta,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let email: String = body.email.trim().to_lowercase().chars().take(254).collect();
    if let Err(wait) = app
        .login_limits
        .check_everywhere(&app.db, meta.ip, &email)
        .await?
    {
        audit_login(&app, meta.ip, &email, "denied", "rate_limited", None).await;
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "too many login attempts; retry later",
        )
        .with_retry_after(wait));
    }
    let found = find_by_email(&app.db, &email).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), Some(hash)),
        None => (None, None),
    };
    let ok = verify_password(&body.password, hash).await;
    let Some(user) = user.filter(|_| ok) else {
        audit_login(&app, meta.ip, &email, "denied", "invalid_credentials", None).await;
        return Err(invalid_credentials());
    };
    if user.disabled {
        audit_login(
            &app,
            meta.ip,
            &email,
            "denied",
            "user_disabled",
            Some(user.id.clone()),
        )
        .await;
        return Err(user_disabled());
    }
    let issued = refresh::issue(
        &app.db,
        &user.id,
        None,
        app.config.identity.refresh_token_ttl,
    )
    .await?;
    audit_login(&app, meta.ip, &email, "ok", "login", Some(user.id.clone())).await;
    token_response(&app, &user, &issued)
}

async fn audit_login(
    app: &AppState,
    ip: Option<std::net::IpAddr>,
    email: &str,
    outcome: &'static str,
    reason: &'static str,
    actor: Option<String>,
) {
    record_best_effort(
        &app.db,
        &AuditRecord {
            action: "login",
            outcome,
            reason: Some(reason),
            actor_id: actor.as_deref(),
            ip,
            detail: Some(serde_json::json!({ "email": email })),
            ..Default::default()
        },
    )
    .await
}

fn clear_refresh_cookie(app: &AppState, mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::SET_COOKIE, refresh_cookie(app, "", 0));
    resp
}

/// Trade the refresh cookie for a new access token and a new refresh cookie.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    responses(
        (status = 200, description = "Same as login; the refresh cookie is rotated", body = TokenResponse),
        (status = 401, description = "`invalid_refresh`, or `refresh_reused` (the whole family is revoked)"),
        (status = 403, description = "`user_disabled`"),
    ))]
pub async fn refresh(
    State(app): State<AppState>,
    meta: ClientMeta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = cookie(&headers, REFRESH_COOKIE).filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(
            ErrorCode::InvalidRefresh,
            "no refresh cookie",
        ));
    };
    match refresh::rotate(&app.db, &token, app.config.identity.refresh_token_ttl).await? {
        Rotation::Invalid => Ok(clear_refresh_cookie(
            &app,
            ApiError::new(
                ErrorCode::InvalidRefresh,
                "refresh token unknown or expired; log in again",
            )
            .into_response(),
        )),
        Rotation::Reused { user_id, family_id } => {
            tracing::warn!(%user_id, "refresh token reused; family revoked");
            record_best_effort(
                &app.db,
                &AuditRecord {
                    action: "refresh",
                    outcome: "denied",
                    reason: Some("refresh_reused"),
                    actor_id: Some(&user_id),
                    ip: meta.ip,
                    detail: Some(serde_json::json!({ "family_id": family_id })),
                    ..Default::default()
                },
            )
            .await;
            Ok(clear_refresh_cookie(
                &app,
                ApiError::new(
                    ErrorCode::RefreshReused,
                    "this refresh token was already used; all sessions of this login are revoked",
                )
                .into_response(),
            ))
        }
        Rotation::Rotated { user_id, new } => {
            let user = get_user(&app.db, &user_id).await?;
            match user {
                Some(user) if !user.disabled => token_response(&app, &user, &new),
                _ => {
                    refresh::revoke_family(&app.db, &new.family_id).await?;
                    Ok(clear_refresh_cookie(&app, user_disabled().into_response()))
                }
            }
        }
    }
}

/// Revoke the refresh cookie's family and clear the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Logged out")))]
pub async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = cookie(&headers, REFRESH_COOKIE).filter(|t| !t.is_empty()) {
        refresh::revoke_family_of(&app.db, &token).await?;
    }
    Ok(clear_refresh_cookie(
        &app,
        StatusCode::NO_CONTENT.into_response(),
    ))
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, description = "`missing_token` / `invalid_token`")))]
pub async fn me(State(app): State<AppState>, caller: AuthUser) -> Result<Json<Me>, ApiError> {
    let user = get_user(&app.db, &caller.id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    Ok(Json(Me::from(&user)))
}

/// Public keys that verify local access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JWKS (OKP / Ed25519)")))]
pub async fn jwks(State(app): State<AppState>) -> Response {
    let mut resp = Json(app.verifier.jwks()).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}
