//! Stream tickets: how a browser opens a video's event stream without an
//! access token in the URL.
//!
//! EventSource cannot send headers, and a token in a query string ends up in
//! proxy logs, browser history and `Referer`. So the page asks for a ticket
//! with its Bearer token and opens the stream with the ticket instead: it is
//! random, bound to one user and one video, valid for a minute, spent on
//! first use, and stored only as its SHA-256. Tickets live in the database,
//! so a ticket issued by one edge opens the stream on any other.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::{IdentityError, Role};
use crate::db::{now_ms, Db};

/// How long a ticket may wait before it is used.
pub const TICKET_TTL: Duration = Duration::from_secs(60);

/// A freshly minted ticket (the only time its value exists in the clear).
#[derive(Debug, Clone)]
pub struct IssuedTicket {
    pub ticket: String,
    pub expires_at_ms: i64,
}

/// What presenting a ticket led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Redeemed {
    /// Valid, and now spent: the stream may open for this user.
    Holder { user_id: String, role: Role },
    /// Valid, but its user has been disabled since.
    Disabled,
    /// Unknown, spent, expired, or for another video.
    Invalid,
}

fn hash(ticket: &str) -> String {
    hex::encode(Sha256::digest(ticket.as_bytes()))
}

/// Mints a ticket for `user_id` to follow `video_id`; the caller has checked
/// that the user may see the video. Spent tickets' expired siblings are
/// swept on the way, so the table stays as small as the traffic of a minute.
pub async fn issue(db: &Db, user_id: &str, video_id: &str) -> Result<IssuedTicket, IdentityError> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let ticket = URL_SAFE_NO_PAD.encode(raw);
    let now = now_ms();
    let expires_at_ms = now + TICKET_TTL.as_millis() as i64;
    sqlx::query("DELETE FROM stream_tickets WHERE expires_at < $1")
        .bind(now)
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO stream_tickets (ticket_hash, user_id, video_id, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(hash(&ticket))
    .bind(user_id)
    .bind(video_id)
    .bind(expires_at_ms)
    .execute(&db.pool)
    .await?;
    Ok(IssuedTicket {
        ticket,
        expires_at_ms,
    })
}

/// Spends `ticket` for `video_id`. The DELETE … RETURNING is the one step
/// that both checks and spends, so two requests with one ticket cannot both
/// win. A ticket presented for another video is spent all the same.
pub async fn redeem(db: &Db, ticket: &str, video_id: &str) -> Result<Redeemed, IdentityError> {
    let spent: Option<(String, String, i64)> = sqlx::query_as(
        "DELETE FROM stream_tickets WHERE ticket_hash = $1 \
         RETURNING user_id, video_id, expires_at",
    )
    .bind(hash(ticket))
    .fetch_optional(&db.pool)
    .await?;
    let user_id = match spent {
        Some((user_id, for_video, expires_at))
            if for_video == video_id && expires_at >= now_ms() =>
        {
            user_id
        }
        _ => return Ok(Redeemed::Invalid),
    };
    let standing: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT role, disabled_at FROM users WHERE id = $1")
            .bind(&user_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(match standing {
        Some((_, Some(_))) => Redeemed::Disabled,
        Some((role, None)) => match role.parse() {
            Ok(role) => Redeemed::Holder { user_id, role },
            Err(_) => Redeemed::Invalid,
        },
        None => Redeemed::Invalid,
    })
}
