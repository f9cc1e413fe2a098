//! Revocation: an admin takes away a user, a session or a video. Each is one
//! database write that the key route reads on the next request, announced on
//! the revocation bus ([`crate::db::bus`]) so no node keeps a cached answer.

use serde::Serialize;

use super::sessions::{announce_if, end_session_on, end_sessions_on, EndReason, SessionScope};
use super::{refresh, IdentityError};
use crate::db::{now_ms, Db};

/// What to revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Disable the account, revoke its refresh tokens, end its sessions.
    User(String),
    /// End one session.
    Session(String),
    /// End every live session of a video.
    Video(String),
}

impl Revocation {
    pub fn kind(&self) -> &'static str {
        match self {
            Revocation::User(_) => "user",
            Revocation::Session(_) => "session",
            Revocation::Video(_) => "video",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Revocation::User(id) | Revocation::Session(id) | Revocation::Video(id) => id,
        }
    }
}

/// The outcome, as the API reports it.
#[derive(Debug, Clone, Serialize)]
pub struct Revoked {
    pub kind: &'static str,
    pub id: String,
}

async fn exists(db: &Db, table: &'static str, id: &str) -> Result<bool, IdentityError> {
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_one(&db.pool)
        .await?;
    Ok(n > 0)
}

/// Applies a revocation; returns how many live sessions it ended. The last
/// write (ending the sessions) commits with its `access.revoked` webhook.
pub async fn revoke(db: &Db, what: &Revocation) -> Result<u64, IdentityError> {
    let table = match what {
        Revocation::User(_) => "users",
        Revocation::Session(_) => "playback_sessions",
        Revocation::Video(_) => "videos",
    };
    if !exists(db, table, what.id()).await? {
        return Err(IdentityError::NotFound(what.kind()));
    }
    if let Revocation::User(id) = what {
        // Disable first: from here on AuthUser and the key route refuse the user.
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
            .bind(now_ms())
            .bind(id)
            .execute(&db.pool)
            .await?;
        refresh::revoke_user(db, id).await?;
        // Announced even without live sessions: nodes may cache the user.
        db.announce_revocation().await?;
    }
    let mut tx = db.pool.begin().await?;
    let ended = match what {
        Revocation::User(id) => {
            end_sessions_on(&mut *tx, SessionScope::User(id), EndReason::Revoked).await?
        }
        Revocation::Session(id) => end_session_on(&mut *tx, id, EndReason::Revoked).await?,
        Revocation::Video(id) => {
            end_sessions_on(&mut *tx, SessionScope::Video(id), EndReason::Revoked).await?
        }
    };
    let data = serde_json::json!({ "kind": what.kind(), "id": what.id(), "sessions_ended": ended });
    crate::webhooks::enqueue(&mut tx, crate::webhooks::Event::AccessRevoked, data).await?;
    tx.commit().await?;
    announce_if(db, ended).await
}
