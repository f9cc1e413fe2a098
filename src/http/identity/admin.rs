//! Admin: revocations, live sessions, the audit log.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiJson, ClientMeta};
use crate::error::ApiError;
use crate::http::auth::AuthUser;
use crate::http::AppState;
use crate::identity::audit::{self, record_best_effort, AuditEntry, AuditRecord};
use crate::identity::revocation::{revoke as apply, Revocation};
use crate::identity::sessions::{list_live, LiveSession};
use crate::identity::Role;

/// Exactly one of the three.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevocationRequest {
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub video_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedRef {
    /// `user`, `session` or `video`.
    pub kind: &'static str,
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationResponse {
    pub revoked: RevokedRef,
    pub sessions_ended: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<LiveSession>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Entries per page (1..=500, default 50).
    pub limit: Option<i64>,
    /// Only entries with `seq` below this (the previous page's `next_before`).
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next page; null on the last page.
    pub next_before: Option<i64>,
}

/// Revoke a user (disable, refresh tokens, sessions), a session, or a video's sessions.
#[utoipa::path(post, path = "/api/v1/admin/revocations", tag = "admin", security(("bearer" = [])),
    request_body = RevocationRequest,
    responses((status = 201, body = RevocationResponse), (status = 400, description = "`bad_request`"),
        (status = 403, description = "`forbidden`"), (status = 404, description = "`not_found`")))]
pub async fn revoke(
    State(app): State<AppState>,
    caller: AuthUser,
    meta: ClientMeta,
    ApiJson(body): ApiJson<RevocationRequest>,
) -> Result<(StatusCode, Json<RevocationResponse>), ApiError> {
    caller.require(&[Role::Admin])?;
    let what = match (body.user_id, body.session_id, body.video_id) {
        (Some(id), None, None) => Revocation::User(id),
        (None, Some(id), None) => Revocation::Session(id),
        (None, None, Some(id)) => Revocation::Video(id),
        _ => {
            return Err(ApiError::bad_request(
                "send exactly one of user_id, session_id or video_id",
            ))
        }
    };
    let ended = apply(&app.db, &what).await?;
    let action = format!("revoke.{}", what.kind());
    record_best_effort(
        &app.db,
        &AuditRecord {
            action: &action,
            outcome: "ok",
            actor_id: Some(&caller.id),
            session_id: matches!(what, Revocation::Session(_)).then_some(what.id()),
            video_id: matches!(what, Revocation::Video(_)).then_some(what.id()),
            ip: meta.ip,
            detail: Some(serde_json::json!({ "id": what.id(), "sessions_ended": ended })),
            ..Default::default()
        },
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(RevocationResponse {
            revoked: RevokedRef {
                kind: what.kind(),
                id: what.id().to_string(),
            },
            sessions_ended: ended,
        }),
    ))
}

/// Live playback sessions, newest first.
#[utoipa::path(get, path = "/api/v1/admin/sessions", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = SessionList), (status = 403, description = "`forbidden`")))]
pub async fn sessions(
    State(app): State<AppState>,
    caller: AuthUser,
) -> Result<Json<SessionList>, ApiError> {
    caller.require(&[Role::Admin])?;
    Ok(Json(SessionList {
        sessions: list_live(&app.db, 1000).await?,
    }))
}

/// The audit log, newest first, paged by `seq`.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, description = "`bad_request`"),
        (status = 403, description = "`forbidden`")))]
pub async fn audit(
    State(app): State<AppState>,
    caller: AuthUser,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(&[Role::Admin])?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be within 1..=500"));
    }
    let entries = audit::list(&app.db, limit, q.before).await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(Json(AuditPage {
        entries,
        next_before,
    }))
}
