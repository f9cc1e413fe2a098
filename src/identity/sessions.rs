//! Playback sessions: one per player instance, bounded per user, ended by the
//! user, by replacement, or by revocation. Live means `ended_at IS NULL` and
//! `expires_at` in the future; the key route re-reads that on every request.

use serde::Serialize;

use super::IdentityError;
use crate::db::{new_id, now_ms, Db};

/// Why a session ended; stored in `end_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The user started one session too many; the oldest went.
    Replaced,
    /// The user stopped it.
    Stopped,
    /// An admin revoked the session, its user or its video.
    Revoked,
    /// The user was removed from the course.
    Unenrolled,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Replaced => "replaced",
            EndReason::Stopped => "stopped",
            EndReason::Revoked => "revoked",
            EndReason::Unenrolled => "unenrolled",
        }
    }

    /// Whether a stored reason means the viewer lost the right to watch
    /// (answered `session_revoked` rather than `session_ended`).
    pub fn is_revocation(stored: &str) -> bool {
        stored == "revoked" || stored == "unenrolled"
    }
}

/// What a new session records.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub user_id: &'a str,
    pub video_id: &'a str,
    /// Unix milliseconds.
    pub expires_at_ms: i64,
    pub crypto_period_ms: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Hex SHA-256 of the key cookie.
    pub cookie_hash: String,
}

/// Starts a session; if the user then has more than `max_live` live sessions,
/// the oldest end with reason `replaced`. Returns (session id, sessions replaced).
pub async fn start(
    db: &Db,
    new: NewSession<'_>,
    max_live: u32,
) -> Result<(String, u64), IdentityError> {
    let (id, now) = (new_id(), now_ms());
    sqlx::query(
        "INSERT INTO playback_sessions (id, user_id, video_id, created_at, expires_at, ip, user_agent, cookie_hash, crypto_period_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(new.user_id)
    .bind(new.video_id)
    .bind(now)
    .bind(new.expires_at_ms)
    .bind(new.ip)
    .bind(new.user_agent)
    .bind(new.cookie_hash)
    .bind(new.crypto_period_ms)
    .execute(&db.pool)
    .await?;
    // Newest first; everything past the first `max_live` ends. Ties on
    // created_at fall back to the id so the new session is never the victim.
    let live: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM playback_sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 \
         ORDER BY created_at DESC, CASE WHEN id = $3 THEN 0 ELSE 1 END, id DESC",
    )
    .bind(new.user_id)
    .bind(now)
    .bind(&id)
    .fetch_all(&db.pool)
    .await?;
    let mut replaced = 0;
    for (old,) in live.iter().skip(max_live as usize) {
        replaced += end_session(db, old, EndReason::Replaced).await?;
    }
    Ok((id, replaced))
}

/// Ends one live session; returns 1 if it was live, else 0.
pub async fn end_session(db: &Db, id: &str, reason: EndReason) -> Result<u64, IdentityError> {
    let ended = end_session_on(&db.pool, id, reason).await?;
    announce_if(db, ended).await
}

/// [`end_session`] on the caller's transaction; they announce after commit.
pub async fn end_session_on<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    ex: E,
    id: &str,
    reason: EndReason,
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE playback_sessions SET ended_at = $1, end_reason = $2 WHERE id = $3 AND ended_at IS NULL",
    )
    .bind(now_ms())
    .bind(reason.as_str())
    .bind(id)
    .execute(ex)
    .await?
    .rows_affected())
}

/// Every node drops what it cached about sessions once any ended.
pub(super) async fn announce_if(db: &Db, ended: u64) -> Result<u64, IdentityError> {
    if ended > 0 {
        db.announce_revocation().await?;
    }
    Ok(ended)
}

/// Which live sessions [`end_sessions`] ends.
#[derive(Debug, Clone, Copy)]
pub enum SessionScope<'a> {
    User(&'a str),
    Video(&'a str),
    UserInCourse {
        user_id: &'a str,
        course_id: &'a str,
    },
}

/// Ends every live session in `scope`; returns how many.
pub async fn end_sessions(
    db: &Db,
    scope: SessionScope<'_>,
    reason: EndReason,
) -> Result<u64, IdentityError> {
    let ended = end_sessions_on(&db.pool, scope, reason).await?;
    announce_if(db, ended).await
}

/// [`end_sessions`] on the caller's transaction; they announce after commit.
pub async fn end_sessions_on<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    ex: E,
    scope: SessionScope<'_>,
    reason: EndReason,
) -> Result<u64, sqlx::Error> {
    let base =
        "UPDATE playback_sessions SET ended_at = $1, end_reason = $2 WHERE ended_at IS NULL AND ";
    let (sql, binds) = match scope {
        SessionScope::User(user) => (format!("{base}user_id = $3"), vec![user]),
        SessionScope::Video(video) => (format!("{base}video_id = $3"), vec![video]),
        SessionScope::UserInCourse { user_id, course_id } => (
            format!(
                "{base}user_id = $3 AND video_id IN (SELECT id FROM videos WHERE course_id = $4)"
            ),
            vec![user_id, course_id],
        ),
    };
    let mut query = sqlx::query(&sql).bind(now_ms()).bind(reason.as_str());
    for b in binds {
        query = query.bind(b);
    }
    Ok(query.execute(ex).await?.rows_affected())
}

/// A session as stored, for its owner check and for the edge.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub video_id: String,
    /// Unix milliseconds.
    pub created_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub end_reason: Option<String>,
    pub crypto_period_ms: Option<i64>,
    pub cookie_hash: Option<String>,
}

impl SessionRow {
    /// Live now: not ended and not expired.
    pub fn is_live(&self) -> bool {
        self.ended_at.is_none() && self.expires_at > now_ms()
    }
}

/// Loads a session (live or not). One indexed read, never cached.
pub async fn get_session(db: &Db, id: &str) -> Result<Option<SessionRow>, IdentityError> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, video_id, created_at, expires_at, ended_at, end_reason, crypto_period_ms, \
         cookie_hash FROM playback_sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?)
}

/// A live session for the admin listing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct LiveSession {
    pub id: String,
    pub user_id: String,
    pub email: String,
    pub video_id: String,
    pub video_title: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Live sessions, newest first (at most `limit`).
pub async fn list_live(db: &Db, limit: i64) -> Result<Vec<LiveSession>, IdentityError> {
    let mut sessions: Vec<LiveSession> = sqlx::query_as(
        "SELECT s.id, s.user_id, u.email, s.video_id, v.title AS video_title, \
         s.created_at AS started_at, s.expires_at, s.ip, s.user_agent \
         FROM playback_sessions s JOIN users u ON u.id = s.user_id JOIN videos v ON v.id = s.video_id \
         WHERE s.ended_at IS NULL AND s.expires_at > $1 ORDER BY s.created_at DESC, s.id LIMIT $2",
    )
    .bind(now_ms())
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    // Stored in milliseconds, shown in seconds.
    for session in &mut sessions {
        session.started_at /= 1000;
        session.expires_at /= 1000;
    }
    Ok(sessions)
}
