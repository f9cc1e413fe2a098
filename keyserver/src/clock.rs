//! Time, injected: monotonic for rates, wall-clock seconds for expiries. Every
//! limit, pacing bucket and expiry check reads it from here, so tests move time by
//! hand instead of sleeping.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Source of time. Injected so pacing and delivery tests need no sleeps.
pub trait Clock: Send + Sync + 'static {
    /// Monotonic time, for rate calculations.
    fn now(&self) -> Instant;
    /// Wall-clock unix seconds, for token/URL/session expiry.
    fn unix_seconds(&self) -> u64;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn unix_seconds(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to: for tests (here and in the root crate).
#[derive(Debug)]
pub struct ManualClock {
    base: Instant,
    unix_base: u64,
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// Start at `unix_seconds` wall time.
    pub fn new(unix_seconds: u64) -> Self {
        Self {
            base: Instant::now(),
            unix_base: unix_seconds,
            offset: Mutex::new(Duration::ZERO),
        }
    }

    /// Move time forward.
    pub fn advance(&self, by: Duration) {
        let mut o = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *o += by;
    }

    fn offset(&self) -> Duration {
        *self.offset.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + self.offset()
    }
    fn unix_seconds(&self) -> u64 {
        self.unix_base + self.offset().as_secs()
    }
}
