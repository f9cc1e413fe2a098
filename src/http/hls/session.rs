//! Is a playback session live? Asked on every playlist and segment request,
//! so answers are cached, each under the revocation epoch it was read in
//! ([`crate::db::bus`]): ending a session anywhere bumps the epoch, every node
//! hears it (at once by `NOTIFY`, within a poll otherwise) and stops trusting
//! what it cached; a node that has not heard the database for a second reads
//! it on every request (fails closed).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sealcast_keyserver::cache::BudgetCache;

use super::AppState;
use crate::error::{ApiError, ErrorCode};

/// Belt and braces: even under a steady epoch an answer is re-read this often.
const TTL: Duration = Duration::from_secs(30);
/// Bytes of cached session answers (about 100,000 sessions).
const BUDGET: usize = 16 << 20;

#[derive(Clone)]
struct Entry {
    fetched: Instant,
    /// The revocation epoch known before the row was read.
    epoch: i64,
    /// (video id, expires_at ms, ended)
    row: Option<(String, i64, bool)>,
}

/// Process-wide: sessions are shared by every request of this process.
fn cache() -> &'static BudgetCache<String, Entry> {
    static CACHE: OnceLock<BudgetCache<String, Entry>> = OnceLock::new();
    CACHE.get_or_init(|| BudgetCache::new("live_sessions", BUDGET))
}

/// The session's video if the session is live; 403 `session_ended` if not.
pub async fn live_video(app: &AppState, session_id: &str, now_ms: i64) -> Result<String, ApiError> {
    let cached = cache().get(session_id, |e| {
        e.fetched.elapsed() < TTL && app.db.bus.still_valid(e.epoch)
    });
    let entry = match cached {
        Some(entry) => entry,
        None => {
            // Before the read: a session ended after it bumps past this epoch.
            let epoch = app.db.bus.epoch();
            let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
                "SELECT video_id, expires_at, ended_at FROM playback_sessions WHERE id = $1",
            )
            .bind(session_id)
            .fetch_optional(&app.db.pool)
            .await?;
            let entry = Entry {
                fetched: Instant::now(),
                epoch,
                row: row.map(|(v, exp, ended)| (v, exp, ended.is_some())),
            };
            let size = session_id.len() + entry.row.as_ref().map_or(0, |r| r.0.len() + 16) + 24;
            cache().insert(session_id.to_string(), entry.clone(), size);
            entry
        }
    };
    match entry.row {
        Some((video_id, expires_at, false)) if expires_at > now_ms => Ok(video_id),
        _ => Err(ApiError::new(
            ErrorCode::SessionEnded,
            "this playback session has ended; start a new one",
        )),
    }
}
