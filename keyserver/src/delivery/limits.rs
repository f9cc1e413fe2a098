//! The per-session request limit: how often a session may ask for keys at all,
//! repeats included, so a leaked signed URL cannot hammer the database. Pacing
//! ([`crate::pacing`]) bounds how fast it collects *distinct* keys; this bounds load.
//!
//! It is charged only once the caller has proven to be the session's user, so a
//! stranger holding a signed URL cannot starve the session's owner.

use crate::keyed_limit::KeyedLimit;
use crate::pacing::Clock;
use governor::Quota;
use std::num::NonZeroU32;
use std::sync::Arc;

/// Above this many tracked sessions, forget the idle ones before charging.
const SHRINK_ABOVE: usize = 100_000;

/// At most `per_second` key requests per session per second, with a burst of four
/// times that.
pub(super) struct SessionRequestLimit(KeyedLimit);

impl SessionRequestLimit {
    pub(super) fn new(per_second: u32, clock: Arc<dyn Clock>) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = rate.saturating_mul(NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN));
        let quota = Quota::per_second(rate).allow_burst(burst);
        Self(KeyedLimit::new(quota, SHRINK_ABOVE, clock))
    }

    /// Charge one request to `session_id`; `Err(retry_after_secs)` (≥ 1) when over.
    pub(super) fn check(&self, session_id: &str) -> Result<(), u64> {
        self.0.check(session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pacing::ManualClock;
    use std::time::Duration;

    #[test]
    fn burst_of_four_seconds_then_refill_per_session() {
        let clock = Arc::new(ManualClock::new(1_000));
        let limit = SessionRequestLimit::new(2, clock.clone());
        for _ in 0..8 {
            assert_eq!(limit.check("a"), Ok(()));
        }
        assert_eq!(limit.check("a"), Err(1));
        assert_eq!(limit.check("b"), Ok(()));
        clock.advance(Duration::from_millis(500));
        assert_eq!(limit.check("a"), Ok(()));
        assert!(limit.check("a").is_err());
        // Zero is treated as one per second, never as "no limit".
        let one = SessionRequestLimit::new(0, clock.clone());
        for _ in 0..4 {
            assert_eq!(one.check("a"), Ok(()));
        }
        assert!(one.check("a").is_err());
    }
}
