//! A video's live status as Server-Sent Events, and the single-use tickets
//! a browser's EventSource opens it with.
//!
//! Non-browser clients send `Authorization: Bearer`. A browser cannot set
//! headers on an EventSource, and a token in the URL leaks into logs and
//! history, so access tokens are refused in the query string: the page asks
//! `POST …/events/ticket` for a ticket and opens `…/events?ticket=`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{bearer_token, AuthUser};
use super::videos::{to_video, visible_video, Video};
use super::AppState;
use crate::db::now_ms;
use crate::error::{ApiError, ErrorCode};
use crate::identity::stream_tickets::{self, Redeemed};
use crate::videos::model;

/// How often the event stream looks at the video.
const EVENT_POLL: Duration = Duration::from_millis(500);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/videos/{id}/events", get(events))
        .route("/api/v1/videos/{id}/events/ticket", post(ticket))
}

/// A ticket that opens one event stream of one video, once, within a minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamTicket {
    pub ticket: String,
    /// Seconds left to use it.
    pub expires_in: u64,
}

/// Mints a stream ticket for a video the caller may see.
#[utoipa::path(post, path = "/api/v1/videos/{id}/events/ticket", tag = "videos",
    params(("id" = String, Path)),
    responses((status = 201, body = StreamTicket), (status = 404, description = "no such video of yours")),
    security(("bearer" = [])))]
pub async fn ticket(
    State(app): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<StreamTicket>), ApiError> {
    visible_video(&app, &user, &id).await?;
    let issued = stream_tickets::issue(&app.db, &user.id, &id).await?;
    let expires_in = ((issued.expires_at_ms - now_ms()).max(0) / 1000) as u64;
    Ok((
        StatusCode::CREATED,
        Json(StreamTicket {
            ticket: issued.ticket,
            expires_in,
        }),
    ))
}

/// A caller of the event stream: `Authorization: Bearer`, or `?ticket=`.
#[derive(Debug)]
pub struct StreamUser(pub AuthUser);

#[derive(Deserialize)]
struct StreamQuery {
    ticket: Option<String>,
    access_token: Option<String>,
}

impl FromRequestParts<AppState> for StreamUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        if bearer_token(parts).is_some() {
            return AuthUser::from_request_parts(parts, app)
                .await
                .map(StreamUser);
        }
        let query = Query::<StreamQuery>::try_from_uri(&parts.uri)
            .map(|Query(q)| q)
            .unwrap_or(StreamQuery {
                ticket: None,
                access_token: None,
            });
        if query.access_token.is_some() {
            return Err(ApiError::new(
                ErrorCode::TokenInUrl,
                "access tokens are not accepted in URLs; open the stream with a ticket from POST …/events/ticket",
            ));
        }
        let Some(ticket) = query.ticket else {
            return Err(ApiError::new(
                ErrorCode::MissingToken,
                "send Authorization: Bearer <access token>, or ?ticket= from POST …/events/ticket",
            ));
        };
        let Path(video_id) = Path::<String>::from_request_parts(parts, app)
            .await
            .map_err(|_| ApiError::not_found("video"))?;
        match stream_tickets::redeem(&app.db, &ticket, &video_id).await? {
            Redeemed::Holder { user_id, role } => Ok(StreamUser(AuthUser { id: user_id, role })),
            Redeemed::Disabled => Err(ApiError::new(
                ErrorCode::UserDisabled,
                "this account is disabled",
            )),
            Redeemed::Invalid => Err(ApiError::new(
                ErrorCode::InvalidTicket,
                "this stream ticket is unknown, spent, expired or for another video",
            )),
        }
    }
}

/// Server-Sent Events: `event: status` with the video each time it changes,
/// until it is ready or failed.
#[utoipa::path(get, path = "/api/v1/videos/{id}/events", tag = "videos",
    params(("id" = String, Path), ("ticket" = Option<String>, Query, description = "from POST /api/v1/videos/{id}/events/ticket, for EventSource, which cannot send headers")),
    responses((status = 200, description = "text/event-stream of `status` events carrying Video JSON", content_type = "text/event-stream"),
              (status = 400, description = "token_in_url"), (status = 401, description = "missing_token or invalid_ticket")),
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
                let row = model::find(&app.db, &id).await.ok()??;
                let mut video = to_video(&app, &row);
                let settled = video.status.is_settled();
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
