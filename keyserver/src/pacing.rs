//! Key pacing: a per-playback-session token bucket on *distinct* content keys.
//!
//! A legitimate player needs a new content key once per crypto period (plus a few at
//! start-up and on seeks). A harvester wants all of them at once. The bucket allows a
//! small burst (default 3) and then refills one token every `crypto_period / speedup`
//! (speedup default 2), so collecting every key of a video takes at least about
//! `running_time / speedup`. Re-requesting a key id this session was already granted
//! is free: hls.js re-fetches keys on retries, level switches and seeks.
//!
//! ## Why per-node, in-memory state is acceptable
//!
//! Pacing is a speed bump, not the wall. The wall is the per-request session,
//! identity and entitlement check against the shared database, which is never cached
//! here, so revocation bites on the next key request on every node. Pacing only
//! limits how fast an *entitled* session can bulk-download keys it is anyway allowed
//! to have. With `N` key-server nodes and no session stickiness, a session can get
//! at most `N × burst` keys immediately and `N × speedup / crypto_period` keys per
//! second after that, so harvesting takes at least about `running_time / (speedup × N)`.
//! Sticky routing by session id brings that back to the single-node bound.
//!
//! Memory stays bounded: idle sessions are evicted after `idle_ttl`, and the table
//! holds at most `max_sessions` buckets (the least recently used one is evicted).
//!
//! This module must never: decide whether a caller may have a key (that is
//! `delivery`'s job, done before pacing); sleep; or read the wall clock directly
//! (time comes from an injectable [`Clock`] so tests are deterministic).

pub use crate::clock::{Clock, ManualClock, SystemClock};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Pacing knobs.
#[derive(Debug, Clone)]
pub struct PacingConfig {
    /// Distinct keys a session may take immediately (start-up, seeks). Default 3.
    pub burst: u32,
    /// How much faster than real time a session may collect keys. Default 2.
    pub speedup: u32,
    /// Forget a session's bucket after this long without requests. Default 10 min.
    pub idle_ttl: Duration,
    /// Hard cap on tracked sessions per node. Default 100 000.
    pub max_sessions: usize,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            burst: 3,
            speedup: 2,
            idle_ttl: Duration::from_secs(600),
            max_sessions: 100_000,
        }
    }
}

/// Outcome of a pacing check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacingDecision {
    /// A new key id; one token was consumed.
    Granted,
    /// This session was already granted this key id; nothing was consumed.
    Repeat,
    /// Bucket empty; retry after this many seconds (≥ 1), for the `Retry-After` header.
    Denied {
        /// Seconds until a token is available.
        retry_after_secs: u64,
    },
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last_refill: Instant,
    last_seen: Instant,
    granted: HashSet<String>,
}

/// Per-node key pacer. See the module docs for the bound across nodes.
pub struct KeyPacer {
    config: PacingConfig,
    clock: Arc<dyn Clock>,
    state: Mutex<PacerState>,
}

struct PacerState {
    buckets: HashMap<String, Bucket>,
    last_sweep: Instant,
}

impl std::fmt::Debug for KeyPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPacer")
            .field("config", &self.config)
            .field("sessions", &self.tracked_sessions())
            .finish()
    }
}

impl KeyPacer {
    /// New pacer with the given config and clock.
    pub fn new(config: PacingConfig, clock: Arc<dyn Clock>) -> Self {
        let now = clock.now();
        Self {
            config,
            clock,
            state: Mutex::new(PacerState {
                buckets: HashMap::new(),
                last_sweep: now,
            }),
        }
    }

    /// Number of sessions currently tracked (for metrics and tests).
    pub fn tracked_sessions(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .buckets
            .len()
    }

    /// Forget a session (e.g. when it ends).
    pub fn forget(&self, session_id: &str) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .buckets
            .remove(session_id);
    }

    /// Check and, if allowed, record that `session_id` takes `key_id`. The refill
    /// interval is `crypto_period / speedup` (never below 1 ms).
    pub fn check(&self, session_id: &str, key_id: &str, crypto_period: Duration) -> PacingDecision {
        let now = self.clock.now();
        let burst = f64::from(self.config.burst.max(1));
        let speedup = self.config.speedup.max(1);
        let interval = (crypto_period / speedup).max(Duration::from_millis(1));
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());

        // Periodic sweep of idle sessions keeps the table bounded by activity.
        if now.saturating_duration_since(st.last_sweep) >= self.config.idle_ttl / 2 {
            let ttl = self.config.idle_ttl;
            st.buckets
                .retain(|_, b| now.saturating_duration_since(b.last_seen) < ttl);
            st.last_sweep = now;
        }
        if !st.buckets.contains_key(session_id) && st.buckets.len() >= self.config.max_sessions {
            // Evict the least recently seen bucket. O(n), only when at the cap.
            if let Some(oldest) = st
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.last_seen)
                .map(|(k, _)| k.clone())
            {
                st.buckets.remove(&oldest);
            }
        }

        let ttl = self.config.idle_ttl;
        let bucket = st
            .buckets
            .entry(session_id.to_owned())
            .or_insert_with(|| Bucket {
                tokens: burst,
                last_refill: now,
                last_seen: now,
                granted: HashSet::new(),
            });
        if now.saturating_duration_since(bucket.last_seen) >= ttl {
            // Idle long enough to have been evicted: behave as a fresh bucket.
            bucket.tokens = burst;
            bucket.last_refill = now;
        }
        bucket.last_seen = now;

        if bucket.granted.contains(key_id) {
            return PacingDecision::Repeat;
        }

        let elapsed = now.saturating_duration_since(bucket.last_refill);
        let refill = elapsed.as_secs_f64() / interval.as_secs_f64();
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.last_refill = now;

        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.granted.insert(key_id.to_owned());
            PacingDecision::Granted
        } else {
            let missing = 1.0 - bucket.tokens;
            let wait = interval.as_secs_f64() * missing;
            PacingDecision::Denied {
                retry_after_secs: (wait.ceil() as u64).max(1),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacer(clock: &Arc<ManualClock>) -> KeyPacer {
        KeyPacer::new(PacingConfig::default(), clock.clone() as Arc<dyn Clock>)
    }

    const PERIOD: Duration = Duration::from_secs(10);

    /// Ask `session` for k1..k3 and expect `want` for each.
    fn three_keys(p: &KeyPacer, session: &str, want: PacingDecision) {
        for k in ["k1", "k2", "k3"] {
            assert_eq!(p.check(session, k, PERIOD), want, "{session}/{k}");
        }
    }

    #[test]
    fn burst_then_deny_with_retry_after() {
        let clock = Arc::new(ManualClock::new(1_000));
        let p = pacer(&clock);
        three_keys(&p, "s", PacingDecision::Granted);
        // interval = 10 s / 2 = 5 s
        assert_eq!(
            p.check("s", "k4", PERIOD),
            PacingDecision::Denied {
                retry_after_secs: 5
            }
        );
        clock.advance(Duration::from_secs(3));
        assert_eq!(
            p.check("s", "k4", PERIOD),
            PacingDecision::Denied {
                retry_after_secs: 2
            }
        );
        clock.advance(Duration::from_secs(2));
        assert_eq!(p.check("s", "k4", PERIOD), PacingDecision::Granted);
        assert!(matches!(
            p.check("s", "k5", PERIOD),
            PacingDecision::Denied { .. }
        ));
    }

    #[test]
    fn repeats_are_free() {
        let clock = Arc::new(ManualClock::new(1_000));
        let p = pacer(&clock);
        three_keys(&p, "s", PacingDecision::Granted);
        for _ in 0..50 {
            three_keys(&p, "s", PacingDecision::Repeat);
        }
        clock.advance(Duration::from_secs(5));
        assert_eq!(p.check("s", "k4", PERIOD), PacingDecision::Granted);
    }

    #[test]
    fn sessions_are_independent() {
        let clock = Arc::new(ManualClock::new(1_000));
        let p = pacer(&clock);
        three_keys(&p, "a", PacingDecision::Granted);
        assert!(matches!(
            p.check("a", "k4", PERIOD),
            PacingDecision::Denied { .. }
        ));
        assert_eq!(p.check("b", "k1", PERIOD), PacingDecision::Granted);
    }

    #[test]
    fn harvest_takes_about_half_running_time() {
        // A 100-key video at 10 s periods runs 1000 s; harvesting must take ≥ ~ 485 s.
        let clock = Arc::new(ManualClock::new(1_000));
        let p = pacer(&clock);
        let start = clock.now();
        let mut got = 0;
        while got < 100 {
            match p.check("h", &format!("k{got}"), PERIOD) {
                PacingDecision::Granted => got += 1,
                PacingDecision::Denied { retry_after_secs } => {
                    clock.advance(Duration::from_secs(retry_after_secs))
                }
                PacingDecision::Repeat => unreachable!(),
            }
        }
        let took = clock.now() - start;
        assert!(took >= Duration::from_secs(485), "took {took:?}");
        assert!(took <= Duration::from_secs(500), "took {took:?}");
    }

    #[test]
    fn bucket_never_exceeds_burst() {
        let clock = Arc::new(ManualClock::new(1_000));
        let p = pacer(&clock);
        assert_eq!(p.check("s", "k0", PERIOD), PacingDecision::Granted);
        clock.advance(Duration::from_secs(120));
        three_keys(&p, "s", PacingDecision::Granted);
        assert!(matches!(
            p.check("s", "k4", PERIOD),
            PacingDecision::Denied { .. }
        ));
    }

    #[test]
    fn idle_sessions_are_evicted_and_table_is_capped() {
        let clock = Arc::new(ManualClock::new(1_000));
        let cfg = PacingConfig {
            max_sessions: 10,
            ..PacingConfig::default()
        };
        let p = KeyPacer::new(cfg, clock.clone() as Arc<dyn Clock>);
        for i in 0..25 {
            p.check(&format!("s{i}"), "k", PERIOD);
        }
        assert_eq!(p.tracked_sessions(), 10);
        clock.advance(Duration::from_secs(601));
        p.check("fresh", "k", PERIOD);
        assert_eq!(p.tracked_sessions(), 1);
        p.forget("fresh");
        assert_eq!(p.tracked_sessions(), 0);
    }
}
