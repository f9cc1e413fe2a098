//! Where segments are cut.
//!
//! Players switch rungs only at segment boundaries, so every rung must cut
//! at the same source PTS. The decoding thread decides the cuts and each
//! rung replays them; both sides apply the rules below, so they live here
//! once.

use std::collections::VecDeque;

/// Cuts decided elsewhere, in PTS order, waiting for the frame or packet
/// they belong to.
#[derive(Debug, Default)]
pub(crate) struct PlannedCuts(VecDeque<i64>);

impl PlannedCuts {
    pub(crate) fn push(&mut self, pts: i64) {
        self.0.push_back(pts);
    }

    /// Whether `pts` is the next planned cut (then it is used up). Cuts
    /// already behind `pts` are dropped: their frame never came. A cut
    /// needs a keyframe, so with `keyframe` false nothing is used up.
    pub(crate) fn take(&mut self, pts: i64, keyframe: bool) -> bool {
        while self.0.front().is_some_and(|&c| c < pts) {
            self.0.pop_front();
        }
        let hit = keyframe && self.0.front() == Some(&pts);
        if hit {
            self.0.pop_front();
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_cuts_skip_lost_frames_and_wait_for_keyframes() {
        let mut c = PlannedCuts::default();
        for pts in [0, 10, 20, 30] {
            c.push(pts);
        }
        assert!(c.take(0, true));
        assert!(!c.take(5, true));
        assert!(!c.take(10, false));
        // 10 stays planned until a later frame passes it.
        assert!(c.take(10, true));
        assert!(c.take(30, true));
        assert!(!c.take(30, true));
    }
}
