//! How often one user may start playback sessions. Key pacing is per user and
//! video, so fresh sessions bring no fresh keys; this bounds the rest of what a
//! session costs (rows, audit entries, a slot among the user's live sessions)
//! and the reach of a client spreading fresh sessions over key-server nodes.
//! Kept like the login limits: in memory, and in the database every node shares
//! ([`crate::db::rate_limits`]), so a user gets one budget however many edges.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::Quota;
use sealcast_keyserver::{Clock, KeyedLimit};

use crate::db::rate_limits::{self, SharedQuota};
use crate::db::Db;

/// Above this many tracked users, forget the ones whose buckets are full again.
const SHRINK_ABOVE: usize = 50_000;

/// At most `per_minute` session starts per user per minute (also the burst).
pub struct SessionStartLimits {
    local: KeyedLimit,
    shared: SharedQuota,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SessionStartLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStartLimits")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl SessionStartLimits {
    /// `per_minute` starts per user (0 counts as 1, never as "no limit").
    pub fn new(per_minute: u32, clock: Arc<dyn Clock>) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            local: KeyedLimit::new(Quota::per_minute(n), SHRINK_ABOVE, clock.clone()),
            shared: SharedQuota {
                limit: n.get(),
                period: std::time::Duration::from_secs(60),
            },
            clock,
        }
    }

    /// Takes one start from `user_id`'s bucket here; `Err(seconds)` (≥ 1) to wait.
    pub fn check(&self, user_id: &str) -> Result<(), u64> {
        self.local.check(user_id)
    }

    /// [`check`](Self::check), then the budget every node shares.
    pub async fn check_everywhere(
        &self,
        db: &Db,
        user_id: &str,
    ) -> Result<Result<(), u64>, sqlx::Error> {
        if let Err(wait) = self.check(user_id) {
            return Ok(Err(wait));
        }
        let now_ms = self.clock.unix_seconds() as i64 * 1000;
        let key = format!("playback-start:{user_id}");
        Ok(
            match rate_limits::take(db, &key, self.shared, now_ms).await? {
                Some(wait) => Err(wait),
                None => Ok(()),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealcast_keyserver::ManualClock;
    use std::time::Duration;

    #[test]
    fn a_burst_per_user_then_one_start_per_refill() {
        let clock = Arc::new(ManualClock::new(1_000));
        let limits = SessionStartLimits::new(6, clock.clone());
        for _ in 0..6 {
            assert_eq!(limits.check("alice"), Ok(()));
        }
        // One start every 10 s after the burst.
        assert_eq!(limits.check("alice"), Err(10));
        assert_eq!(limits.check("bob"), Ok(()));
        clock.advance(Duration::from_secs(4));
        assert_eq!(limits.check("alice"), Err(6));
        clock.advance(Duration::from_secs(6));
        assert_eq!(limits.check("alice"), Ok(()));
        assert!(limits.check("alice").is_err());
    }
}
