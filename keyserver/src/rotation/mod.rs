//! Rotating keys that several nodes share: which stored keys are still in use
//! and which one signs, plus sealing their secrets for the database ([`seal`]).
//!
//! A key is *active* (it signs) until it is *retired* by a newer one; a retired
//! key keeps verifying for as long as anything it signed may still be presented
//! (a token's or signed URL's longest lifetime) plus [`ROTATION_GRACE`], then it
//! is dropped. The rule is one pure function so every node, and the admin
//! command that purges old rows, applies the same one.
//!
//! This module must never: drop a key while something it signed can still be
//! valid, or choose a retired key to sign while an active one exists.

mod seal;

pub use seal::{KeyringSeal, SealError};

use std::time::Duration;

/// Slack on top of a credential's lifetime before its key is dropped: a node
/// may go on signing with the old key until its next reload, and clocks skew.
pub const ROTATION_GRACE: Duration = Duration::from_secs(5 * 60);

/// One stored key's life: when it was made and when a newer key replaced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLife<Id> {
    pub id: Id,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// Unix milliseconds; `None` while the key is active.
    pub retired_at_ms: Option<i64>,
}

impl<Id> KeyLife<Id> {
    /// Whether the key may still verify at `now_ms`, given that what it signed
    /// lives at most `lifetime`.
    pub fn verifies_at(&self, now_ms: i64, lifetime: Duration) -> bool {
        match self.retired_at_ms {
            None => true,
            Some(retired) => now_ms < retired.saturating_add(keep_ms(lifetime)),
        }
    }
}

/// How long after retirement a key is kept: `lifetime` plus [`ROTATION_GRACE`].
pub fn keep_ms(lifetime: Duration) -> i64 {
    i64::try_from((lifetime + ROTATION_GRACE).as_millis()).unwrap_or(i64::MAX)
}

/// The keys still in use at `now_ms`, ordered for a keyring: retired keys
/// first (oldest retirement first), then active ones by creation, so the
/// last one signs. Two active keys happen only when two nodes bootstrap an
/// empty database at once; the newer wins and both verify.
pub fn in_use<Id: Clone + Ord>(
    keys: &[KeyLife<Id>],
    now_ms: i64,
    lifetime: Duration,
) -> Vec<KeyLife<Id>> {
    let mut live: Vec<KeyLife<Id>> = keys
        .iter()
        .filter(|k| k.verifies_at(now_ms, lifetime))
        .cloned()
        .collect();
    live.sort_by(|a, b| {
        let rank = |k: &KeyLife<Id>| (k.retired_at_ms.is_none(), k.retired_at_ms, k.created_at_ms);
        rank(a).cmp(&rank(b)).then_with(|| a.id.cmp(&b.id))
    });
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);
    const H: i64 = 3_600_000;

    fn life(id: &str, created: i64, retired: Option<i64>) -> KeyLife<String> {
        KeyLife {
            id: id.into(),
            created_at_ms: created,
            retired_at_ms: retired,
        }
    }

    fn ids(keys: &[KeyLife<String>]) -> Vec<&str> {
        keys.iter().map(|k| k.id.as_str()).collect()
    }

    #[test]
    fn the_active_key_signs_and_retired_ones_verify_until_their_credentials_expire() {
        let keys = [
            life("new", 10 * H, None),
            life("old", 0, Some(10 * H)),
            life("older", -H, Some(5 * H)),
        ];
        let grace = keep_ms(Duration::ZERO);
        // Before "older" has been retired for a lifetime plus grace: all three, signer last.
        assert_eq!(ids(&in_use(&keys, 6 * H, HOUR)), ["older", "old", "new"]);
        assert_eq!(
            ids(&in_use(&keys, 6 * H + grace - 1, HOUR)),
            ["older", "old", "new"]
        );
        // Then it is dropped; "old" still verifies.
        assert_eq!(ids(&in_use(&keys, 6 * H + grace, HOUR)), ["old", "new"]);
        assert_eq!(ids(&in_use(&keys, 11 * H + grace, HOUR)), ["new"]);
        // The active key never expires.
        assert_eq!(ids(&in_use(&keys, i64::MAX / 2, HOUR)), ["new"]);
    }

    #[test]
    fn two_active_keys_keep_both_and_the_newer_signs() {
        let keys = [
            life("b", 2, None),
            life("a", 1, None),
            life("r", 0, Some(1)),
        ];
        assert_eq!(ids(&in_use(&keys, 3, HOUR)), ["r", "a", "b"]);
        // Equal creation times: a fixed order by id, so every node agrees.
        let tied = [life("y", 1, None), life("x", 1, None)];
        assert_eq!(ids(&in_use(&tied, 3, HOUR)), ["x", "y"]);
    }
}
