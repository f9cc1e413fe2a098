//! How often one user may start playback sessions. Key pacing is per user and
//! video, so fresh sessions bring no fresh keys; this bounds the rest of what a
//! session costs (rows, audit entries, a slot among the user's live sessions)
//! and the reach of a client spreading fresh sessions over key-server nodes.
//! Node-local like the login limits: a speed bump, not who may watch.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::Quota;
use sealcast_keyserver::{Clock, KeyedLimit};

/// Above this many tracked users, forget the ones whose buckets are full again.
const SHRINK_ABOVE: usize = 50_000;

/// At most `per_minute` session starts per user per minute (also the burst).
#[derive(Debug)]
pub struct SessionStartLimits(KeyedLimit);

impl SessionStartLimits {
    /// `per_minute` starts per user (0 counts as 1, never as "no limit").
    pub fn new(per_minute: u32, clock: Arc<dyn Clock>) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self(KeyedLimit::new(Quota::per_minute(n), SHRINK_ABOVE, clock))
    }

    /// Takes one start from `user_id`'s bucket; `Err(seconds)` (≥ 1) to wait.
    pub fn check(&self, user_id: &str) -> Result<(), u64> {
        self.0.check(user_id)
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
