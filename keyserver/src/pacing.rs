//! Key pacing: how much *media* a viewer — one user watching one video, across all
//! of their playback sessions — may have unlocked, as a function of wall time.
//!
//! A legitimate player needs the keys of what it plays plus its buffer goal ahead
//! (video.js 30–60 s, Shaka 10–30 s, our own player ≤ 60 s), a few more on seeks.
//! A harvester wants all of them at once. So the allowance is expressed in seconds
//! of media, not in a count of keys: from a viewer's first key request on, they may
//! hold the keys of `initial_allowance + speedup × elapsed` seconds of media (defaults
//! 240 s and 2×), each distinct key counting for one crypto period. A new key is
//! granted while the media already granted is below that allowance. Re-requesting a
//! key this viewer already has is free (retries, rendition switches, seeks back, a
//! second tab), and so is opening a new session: the state is keyed by user and
//! video, never by session, so fresh sessions bring no fresh allowance.
//!
//! Collecting a whole video of running time `L` therefore takes at least about
//! `(L − initial_allowance) / speedup`, while a player that plays at ≤ `speedup`×
//! real time with a buffer goal below `initial_allowance` is never refused.
//!
//! ## Why per-node, in-memory state is acceptable
//!
//! Pacing is a speed bump, not the wall. The wall is the per-request session,
//! identity and entitlement check against the shared database, which is never cached
//! here, so revocation bites on the next key request on every node. Pacing only
//! limits how fast an *entitled* user can bulk-download keys they may anyway have.
//! With `N` key-server nodes and no stickiness, a viewer can get at most `N` times
//! the allowance; routing by user brings that back to the single-node bound.
//!
//! Memory stays bounded: viewers idle for `idle_ttl` are forgotten (harmless while
//! `idle_ttl × speedup ≥ initial_allowance`: a viewer who waited that long had
//! earned more than a fresh start gives), and the table holds at most `max_viewers`
//! entries (the least recently seen one is evicted).
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
    /// Seconds of media a viewer may unlock at once (start-up, buffer goal, seeks).
    /// Default 240 s: twice the largest common buffer goal plus a long crypto period.
    pub initial_allowance: Duration,
    /// How much faster than real time the allowance grows. Default 2.
    pub speedup: u32,
    /// Forget a viewer after this long without key requests. Default 10 min.
    pub idle_ttl: Duration,
    /// Hard cap on tracked viewers per node. Default 100 000.
    pub max_viewers: usize,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            initial_allowance: Duration::from_secs(240),
            speedup: 2,
            idle_ttl: Duration::from_secs(600),
            max_viewers: 100_000,
        }
    }
}

/// Whose allowance a key request draws on: one user watching one video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer<'a> {
    /// The session's user.
    pub user_id: &'a str,
    /// The session's video.
    pub video_id: &'a str,
}

/// Outcome of a pacing check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacingDecision {
    /// A new key id, now counted against the viewer's allowance.
    Granted,
    /// This viewer already has this key id; nothing was counted.
    Repeat,
    /// Allowance spent; retry after this many seconds (≥ 1), for `Retry-After`.
    Denied {
        /// Seconds until the allowance covers one more key.
        retry_after_secs: u64,
    },
}

#[derive(Debug)]
struct Allowance {
    /// The viewer's first key request in this window.
    started: Instant,
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
    viewers: HashMap<(String, String), Allowance>,
    last_sweep: Instant,
}

impl std::fmt::Debug for KeyPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPacer")
            .field("config", &self.config)
            .field("viewers", &self.tracked_viewers())
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
                viewers: HashMap::new(),
                last_sweep: now,
            }),
        }
    }

    /// Number of viewers currently tracked (for metrics and tests).
    pub fn tracked_viewers(&self) -> usize {
        self.lock().viewers.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PacerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Check and, if allowed, record that `viewer` takes `key_id`, one key of
    /// `crypto_period` seconds of media (never counted below 1 ms).
    pub fn check(
        &self,
        viewer: Viewer<'_>,
        key_id: &str,
        crypto_period: Duration,
    ) -> PacingDecision {
        let now = self.clock.now();
        let period = crypto_period.max(Duration::from_millis(1)).as_secs_f64();
        let speedup = f64::from(self.config.speedup.max(1));
        let initial = self.config.initial_allowance.as_secs_f64();
        let ttl = self.config.idle_ttl;
        let mut st = self.lock();
        let key = (viewer.user_id.to_owned(), viewer.video_id.to_owned());
        st.sweep(now, ttl, &key, self.config.max_viewers);
        let allowance = st.viewers.entry(key).or_insert_with(|| Allowance {
            started: now,
            last_seen: now,
            granted: HashSet::new(),
        });
        if now.saturating_duration_since(allowance.last_seen) >= ttl {
            // Idle long enough to have been swept: a fresh window.
            allowance.started = now;
            allowance.granted.clear();
        }
        allowance.last_seen = now;
        if allowance.granted.contains(key_id) {
            return PacingDecision::Repeat;
        }

        let elapsed = now
            .saturating_duration_since(allowance.started)
            .as_secs_f64();
        let allowed = initial + speedup * elapsed;
        let taken = allowance.granted.len() as f64 * period;
        if taken < allowed {
            allowance.granted.insert(key_id.to_owned());
            PacingDecision::Granted
        } else {
            // Strictly past `taken` once the wait is over, hence floor + 1.
            let wait = ((taken - allowed) / speedup).floor() as u64 + 1;
            PacingDecision::Denied {
                retry_after_secs: wait,
            }
        }
    }
}

impl PacerState {
    /// Drops idle viewers now and then, and the least recently seen one when a
    /// new viewer `key` would go past the cap.
    fn sweep(&mut self, now: Instant, ttl: Duration, key: &(String, String), cap: usize) {
        if now.saturating_duration_since(self.last_sweep) >= ttl / 2 {
            self.viewers
                .retain(|_, a| now.saturating_duration_since(a.last_seen) < ttl);
            self.last_sweep = now;
        }
        if self.viewers.len() >= cap && !self.viewers.contains_key(key) {
            // O(n), only at the cap.
            if let Some(oldest) = self
                .viewers
                .iter()
                .min_by_key(|(_, a)| a.last_seen)
                .map(|(k, _)| k.clone())
            {
                self.viewers.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests;
