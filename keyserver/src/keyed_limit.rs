//! A rate limit per key (a session, a user): governor's keyed limiter on the
//! injectable [`Clock`], so tests move time by hand, with a bounded table and
//! the wait expressed as whole seconds for `Retry-After`.

use std::sync::Arc;
use std::time::Instant;

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::Clock;

/// The injectable clock as governor's.
#[derive(Clone)]
struct GovernorClock(Arc<dyn Clock>);

impl governor::clock::Clock for GovernorClock {
    type Instant = Instant;
    fn now(&self) -> Instant {
        self.0.now()
    }
}

type Limiter =
    RateLimiter<String, DefaultKeyedStateStore<String>, GovernorClock, NoOpMiddleware<Instant>>;

/// `quota` per key; above `shrink_above` tracked keys, the ones whose buckets
/// are full again are forgotten before charging.
pub struct KeyedLimit {
    limiter: Limiter,
    clock: GovernorClock,
    shrink_above: usize,
}

impl std::fmt::Debug for KeyedLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimit").finish_non_exhaustive()
    }
}

impl KeyedLimit {
    pub fn new(quota: Quota, shrink_above: usize, clock: Arc<dyn Clock>) -> Self {
        let clock = GovernorClock(clock);
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            shrink_above,
        }
    }

    /// Charges one to `key`; `Err(seconds)` (≥ 1) to wait when over.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        if self.limiter.len() > self.shrink_above {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(&self.clock));
                (wait.as_millis().div_ceil(1000) as u64).max(1)
            })
    }
}
