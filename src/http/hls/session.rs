//! Is a playback session live? Asked on every playlist and segment request,
//! so answers are cached for at most one second per session: ending a
//! session stops its segments within a second on every node.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::AppState;
use crate::error::{ApiError, ErrorCode};

const TTL: Duration = Duration::from_secs(1);
/// Beyond this many cached sessions the cache starts over (bounded memory).
const MAX_ENTRIES: usize = 50_000;

#[derive(Clone)]
struct Entry {
    fetched: Instant,
    /// (video id, expires_at ms, ended)
    row: Option<(String, i64, bool)>,
}

/// Process-wide: sessions are shared by every request of this process.
fn cache() -> &'static Mutex<HashMap<String, Entry>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Entry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The session's video if the session is live; 403 `session_ended` if not.
pub async fn live_video(app: &AppState, session_id: &str, now_ms: i64) -> Result<String, ApiError> {
    let cached = cache()
        .lock()
        .expect("session cache lock")
        .get(session_id)
        .filter(|e| e.fetched.elapsed() < TTL)
        .cloned();
    let entry = match cached {
        Some(entry) => entry,
        None => {
            let row: Option<(String, i64, Option<i64>)> = sqlx::query_as(
                "SELECT video_id, expires_at, ended_at FROM playback_sessions WHERE id = $1",
            )
            .bind(session_id)
            .fetch_optional(&app.db.pool)
            .await?;
            let entry = Entry {
                fetched: Instant::now(),
                row: row.map(|(v, exp, ended)| (v, exp, ended.is_some())),
            };
            let mut map = cache().lock().expect("session cache lock");
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(session_id.to_string(), entry.clone());
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
