//! The crediting rule, as pure functions over media milliseconds.
//!
//! A heartbeat says "the player is at `position`, playing or not". What a
//! learner is credited with, exactly:
//!
//! 1. Positions are media time, clamped to `[0, duration]` (see
//!    [`clamp_position`]: a little past the end is the player's rounding and
//!    is clamped; further is refused before anything is stored). A position
//!    within [`START_TOLERANCE_MS`] of the start is the start: players begin
//!    at the first frame's timestamp, which MPEG-TS puts a hair after zero.
//! 2. Only consecutive heartbeats of one session form a range, and only when
//!    the earlier one said `playing`: `[prev, cur]`. A pause report closes
//!    the range it ends; the next range starts at the next playing report.
//! 3. A jump breaks the range: a backwards move, or an advance of more than
//!    [`MAX_ADVANCE_MS`] (players report every ~10 s, at up to 2x speed), is
//!    a seek and credits nothing.
//! 4. Of that range, only the parts covered by segments this session was
//!    sent (any rendition) count: a client that reports positions without
//!    fetching the media is credited nothing.
//! 5. Credit accumulates per learner and video as a union of ranges, so
//!    watching a part twice counts it once; completed at ≥ 90 % watched.

/// Media time between two heartbeats beyond which the move is a seek.
pub const MAX_ADVANCE_MS: i64 = 30_000;
/// How far past the end a reported position is still the player's rounding.
pub const END_TOLERANCE_MS: i64 = 1_000;
/// Positions this close to zero are the start (Chromium's first `playing`
/// reads e.g. 0.001 s); less than one frame at 24 fps.
pub const START_TOLERANCE_MS: i64 = 40;

/// Sorted, disjoint, non-empty half-open `[start, end)` intervals in ms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranges(Vec<(i64, i64)>);

impl Ranges {
    /// Normalises any intervals: drops empty ones, sorts, merges touching ones.
    pub fn from_intervals(mut intervals: Vec<(i64, i64)>) -> Ranges {
        intervals.retain(|(s, e)| e > s);
        intervals.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(intervals.len());
        for (s, e) in intervals {
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
        Ranges(out)
    }

    pub fn as_slice(&self) -> &[(i64, i64)] {
        &self.0
    }

    /// Milliseconds covered.
    pub fn total(&self) -> i64 {
        self.0.iter().map(|(s, e)| e - s).sum()
    }

    pub fn union(&self, other: &Ranges) -> Ranges {
        Ranges::from_intervals(self.0.iter().chain(&other.0).copied().collect())
    }

    /// The parts of `[start, end)` these ranges cover.
    pub fn intersect(&self, start: i64, end: i64) -> Ranges {
        let parts = self
            .0
            .iter()
            .map(|&(s, e)| (s.max(start), e.min(end)))
            .collect();
        Ranges::from_intervals(parts)
    }
}

/// Why a reported position is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionError {
    /// Negative, or not a number.
    Invalid,
    /// More than [`END_TOLERANCE_MS`] past the end.
    BeyondDuration,
}

/// A reported position in ms, clamped to `[0, duration]`, or why not.
pub fn clamp_position(position_seconds: f64, duration_ms: i64) -> Result<i64, PositionError> {
    if !position_seconds.is_finite() || position_seconds < 0.0 {
        return Err(PositionError::Invalid);
    }
    let ms = (position_seconds * 1000.0).round();
    if ms > (duration_ms + END_TOLERANCE_MS) as f64 {
        return Err(PositionError::BeyondDuration);
    }
    let ms = ms as i64;
    let ms = if ms <= START_TOLERANCE_MS { 0 } else { ms };
    Ok(ms.min(duration_ms.max(0)))
}

/// A session's previous report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    pub position_ms: i64,
    pub playing: bool,
}

/// What a heartbeat at `position_ms` credits after `prev` (rules 2 to 4),
/// given what the session was sent; both positions already clamped.
pub fn credit(prev: Option<Heartbeat>, position_ms: i64, delivered: &Ranges) -> Ranges {
    let Some(prev) = prev.filter(|p| p.playing) else {
        return Ranges::default();
    };
    let advance = position_ms - prev.position_ms;
    if !(0..=MAX_ADVANCE_MS).contains(&advance) {
        return Ranges::default();
    }
    delivered.intersect(prev.position_ms, position_ms)
}

/// Completed at ≥ 90 % of the duration watched.
pub fn is_complete(watched_ms: i64, duration_ms: i64) -> bool {
    duration_ms > 0 && watched_ms * 10 >= duration_ms * 9
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: &[(i64, i64)]) -> Ranges {
        Ranges::from_intervals(v.to_vec())
    }

    fn playing(at: i64) -> Option<Heartbeat> {
        Some(Heartbeat {
            position_ms: at,
            playing: true,
        })
    }

    #[test]
    fn ranges_normalise_and_merge() {
        let x = r(&[(5, 7), (0, 2), (2, 3), (6, 9), (4, 4)]);
        assert_eq!(x.as_slice(), &[(0, 3), (5, 9)]);
        assert_eq!(x.total(), 7);
        assert_eq!(x.union(&r(&[(3, 5)])).as_slice(), &[(0, 9)]);
        assert_eq!(x.intersect(1, 6).as_slice(), &[(1, 3), (5, 6)]);
        assert_eq!(x.intersect(3, 5).total(), 0);
    }

    #[test]
    fn only_delivered_media_between_playing_heartbeats_is_credited() {
        // Segments [0, 4 s) and [8 s, 12 s) were sent; [4 s, 8 s) was not.
        let sent = r(&[(0, 4000), (8000, 12000)]);
        assert_eq!(
            credit(playing(0), 10_000, &sent).as_slice(),
            &[(0, 4000), (8000, 10_000)]
        );
        // Nothing fetched: nothing credited, whatever is claimed.
        assert_eq!(credit(playing(0), 10_000, &Ranges::default()).total(), 0);
        // No previous report, or the previous one was a pause: no range.
        assert_eq!(credit(None, 3000, &sent).total(), 0);
        let paused = Some(Heartbeat {
            position_ms: 0,
            playing: false,
        });
        assert_eq!(credit(paused, 3000, &sent).total(), 0);
        // A pause report closes the range it ends (the player played until then).
        assert_eq!(credit(playing(1000), 3000, &sent).total(), 2000);
    }

    #[test]
    fn a_jump_breaks_the_range() {
        let sent = r(&[(0, 100_000)]);
        assert_eq!(credit(playing(50_000), 40_000, &sent).total(), 0);
        assert_eq!(credit(playing(0), MAX_ADVANCE_MS + 1, &sent).total(), 0);
        assert_eq!(
            credit(playing(0), MAX_ADVANCE_MS, &sent).total(),
            MAX_ADVANCE_MS
        );
    }

    #[test]
    fn positions_clamp_to_the_duration_and_refuse_far_beyond() {
        assert_eq!(clamp_position(3.2, 12_000), Ok(3200));
        assert_eq!(clamp_position(0.001, 12_000), Ok(0), "the first frame");
        assert_eq!(clamp_position(0.04, 12_000), Ok(0));
        assert_eq!(clamp_position(0.041, 12_000), Ok(41));
        assert_eq!(clamp_position(12.5, 12_000), Ok(12_000));
        assert_eq!(clamp_position(13.0, 12_000), Ok(12_000));
        assert_eq!(
            clamp_position(13.01, 12_000),
            Err(PositionError::BeyondDuration)
        );
        assert_eq!(clamp_position(-0.1, 12_000), Err(PositionError::Invalid));
        assert_eq!(
            clamp_position(f64::NAN, 12_000),
            Err(PositionError::Invalid)
        );
        assert_eq!(
            clamp_position(f64::INFINITY, 12_000),
            Err(PositionError::Invalid)
        );
    }

    #[test]
    fn complete_at_ninety_percent() {
        assert!(!is_complete(8999, 10_000));
        assert!(is_complete(9000, 10_000));
        assert!(!is_complete(0, 0));
    }
}
