//! Where segments are cut.
//!
//! Players switch rungs only at segment boundaries, so every rung must cut
//! at the same source PTS. The decoding thread decides the cuts and each
//! rung replays them; both sides apply the rules below, so they live here
//! once.

use std::collections::VecDeque;

/// Segment boundaries every `step` ticks of the video time base. A segment
/// starts at the first frame at or after a boundary; half a tick of slack
/// absorbs the rounding of frame times that are not whole ticks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Boundaries {
    next: f64,
    step: f64,
}

impl Boundaries {
    pub(crate) fn new(step: f64) -> Self {
        Boundaries { next: 0.0, step }
    }

    /// Whether a frame at `pts` is at or past the next boundary.
    pub(crate) fn reached(&self, pts: i64) -> bool {
        pts as f64 >= self.next - 0.5
    }

    /// Move the next boundary past `pts`, which starts a segment (a long
    /// frame may span several boundaries; they all belong to this segment).
    pub(crate) fn pass(&mut self, pts: i64) {
        while self.next - 0.5 <= pts as f64 {
            self.next += self.step;
        }
    }

    /// True until the first segment has started.
    pub(crate) fn at_start(&self) -> bool {
        self.next == 0.0
    }
}

/// Cuts decided elsewhere, in PTS order, waiting for the frame or packet
/// they belong to.
#[derive(Debug, Default)]
pub(crate) struct PlannedCuts(VecDeque<i64>);

impl PlannedCuts {
    pub(crate) fn push(&mut self, pts: i64) {
        self.0.push_back(pts);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
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
    fn boundaries_follow_the_first_frame_at_or_after_each_step() {
        let mut b = Boundaries::new(10.0);
        assert!(b.at_start() && b.reached(0));
        b.pass(0);
        assert!(!b.at_start());
        assert!(!b.reached(9) && b.reached(10));
        b.pass(12);
        assert!(!b.reached(19) && b.reached(20));
        // After a long gap, one cut passes both 20 and 30.
        b.pass(35);
        assert!(!b.reached(39) && b.reached(40));
    }

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
        assert!(c.is_empty());
    }
}
