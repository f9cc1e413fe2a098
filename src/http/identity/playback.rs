//! Playback sessions: the door to a video's playlists and keys.
//!
//! Starting one checks who may watch (owner, admin, enrolled learner) and that
//! the video is ready, then mints a signed master playlist URL valid for the
//! video's duration plus slack, and a per-session HttpOnly key cookie scoped
//! to `/keys/{session_id}/` for players that cannot send a Bearer header.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::ClientMeta;
use crate::db::now_ms;
use crate::error::{ApiError, ErrorCode};
use crate::http::auth::AuthUser;
use crate::http::AppState;
use crate::identity::audit::{record_best_effort, AuditRecord};
use crate::identity::sessions::{self, get_session, EndReason, NewSession};
use crate::playback::{master_url, storyboard_url};
use crate::videos::{access, model, VideoStatus, Viewer};

#[derive(Debug, Serialize, ToSchema)]
pub struct PlaybackSession {
    pub session_id: String,
    /// Signed `/hls/{session_id}/master.m3u8?exp=…&sig=…`.
    pub master_url: String,
    /// Signed `/hls/{session_id}/storyboard/storyboard.vtt?exp=…&sig=…`, a
    /// WebVTT thumbnails track for seek previews; null when the video has none.
    pub storyboard_url: Option<String>,
    /// Unix seconds.
    pub expires_at: u64,
}

/// Shortest crypto period pacing assumes, whatever the stored numbers say.
const MIN_CRYPTO_PERIOD_MS: i64 = 100;

/// The audit entry of a refused playback start; the caller names the reason.
fn start_denied<'a>(
    actor: &'a str,
    video: &'a str,
    ip: Option<std::net::IpAddr>,
) -> AuditRecord<'a> {
    AuditRecord {
        action: "playback.start",
        outcome: "denied",
        actor_id: Some(actor),
        video_id: Some(video),
        ip,
        ..Default::default()
    }
}

/// Start a playback session (owner, admin, enrolled learner; video ready).
#[utoipa::path(post, path = "/api/v1/videos/{id}/playback", tag = "playback",
    security(("bearer" = [])), params(("id" = String, Path, description = "Video id")),
    responses(
        (status = 201, description = "Session, with its key cookie in Set-Cookie", body = PlaybackSession),
        (status = 403, description = "`not_entitled`"),
        (status = 404, description = "`not_found`"),
        (status = 409, description = "`video_not_ready`"),
        (status = 429, description = "`too_many_sessions`, with Retry-After"),
    ))]
pub async fn start(
    State(app): State<AppState>,
    caller: AuthUser,
    meta: ClientMeta,
    Path(video_id): Path<String>,
) -> Result<Response, ApiError> {
    if let Err(wait) = app
        .session_limits
        .check_everywhere(&app.db, &caller.id)
        .await?
    {
        let denied = AuditRecord {
            reason: Some("too_many_sessions"),
            ..start_denied(&caller.id, &video_id, meta.ip)
        };
        record_best_effort(&app.db, &denied).await;
        return Err(ApiError::new(
            ErrorCode::TooManySessions,
            "too many playback sessions started; retry later",
        )
        .with_retry_after(wait));
    }
    let video = model::find(&app.db, &video_id)
        .await?
        .ok_or_else(|| ApiError::not_found("video"))?;
    let viewer = Viewer {
        user_id: &caller.id,
        is_admin: caller.is_admin(),
    };
    if !access::entitled(&app.db, viewer, &video).await? {
        let denied = AuditRecord {
            reason: Some("not_entitled"),
            ..start_denied(&caller.id, &video_id, meta.ip)
        };
        record_best_effort(&app.db, &denied).await;
        return Err(ApiError::new(
            ErrorCode::NotEntitled,
            "you are not enrolled in this video's course",
        ));
    }
    if video.status != VideoStatus::Ready {
        return Err(ApiError::new(
            ErrorCode::VideoNotReady,
            format!("the video is {}, not ready", video.status),
        ));
    }
    let duration_ms = video.duration_ms.unwrap_or(0).max(0);
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM content_keys WHERE video_id = $1")
        .bind(&video_id)
        .fetch_one(&app.db.pool)
        .await?;
    let crypto_period_ms = (duration_ms / keys.max(1)).max(MIN_CRYPTO_PERIOD_MS);

    let now_s = (now_ms() / 1000) as u64;
    let lifetime =
        (duration_ms as u64).div_ceil(1000) + app.config.identity.playback_slack.as_secs();
    // The signer refuses expiries beyond its maximum lifetime.
    let lifetime = lifetime.clamp(
        60,
        app.url_signer.max_lifetime().as_secs().saturating_sub(5),
    );
    let expires_at = now_s + lifetime;

    let (cookie_value, cookie_hash) = sealcast_keyserver::new_session_cookie();
    let (session_id, replaced) = sessions::start(
        &app.db,
        NewSession {
            user_id: &caller.id,
            video_id: &video_id,
            expires_at_ms: (expires_at * 1000) as i64,
            crypto_period_ms,
            ip: meta.ip.map(|ip| ip.to_string()),
            user_agent: meta.user_agent.clone(),
            cookie_hash: hex::encode(cookie_hash),
        },
        app.config.identity.max_live_sessions,
    )
    .await?;
    let url = master_url(&app.url_signer, &session_id, expires_at).map_err(ApiError::internal)?;
    let storyboard = match crate::storyboards::exists(app.storage.as_ref(), &video_id).await {
        Ok(true) => Some(
            storyboard_url(&app.url_signer, &session_id, expires_at).map_err(ApiError::internal)?,
        ),
        Ok(false) => None,
        // Previews are optional: playback starts without them.
        Err(err) => {
            tracing::warn!(%video_id, error = %err, "cannot tell whether a storyboard exists");
            None
        }
    };
    record_best_effort(
        &app.db,
        &AuditRecord {
            action: "playback.start",
            outcome: "ok",
            actor_id: Some(&caller.id),
            session_id: Some(&session_id),
            video_id: Some(&video_id),
            ip: meta.ip,
            detail: (replaced > 0).then(|| serde_json::json!({ "replaced": replaced })),
            ..Default::default()
        },
    )
    .await;

    let cookies = sealcast_keyserver::session_cookie_headers(&session_id, &cookie_value, lifetime);
    let mut resp = (
        StatusCode::CREATED,
        Json(PlaybackSession {
            session_id,
            master_url: url,
            storyboard_url: storyboard,
            expires_at,
        }),
    )
        .into_response();
    let h = resp.headers_mut();
    for cookie in cookies {
        h.append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
        );
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// End one of the caller's sessions.
#[utoipa::path(delete, path = "/api/v1/playback/{session_id}", tag = "playback",
    security(("bearer" = [])), params(("session_id" = String, Path, description = "Session id")),
    responses((status = 204, description = "Ended"), (status = 403, description = "`forbidden`"),
        (status = 404, description = "`not_found`")))]
pub async fn stop(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(session_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let session = get_session(&app.db, &session_id)
        .await?
        .ok_or_else(|| ApiError::not_found("session"))?;
    // Someone else's session is as good as none: ids leak nothing.
    if session.user_id != caller.id {
        return Err(ApiError::not_found("session"));
    }
    sessions::end_session(&app.db, &session_id, EndReason::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}
