//! The pacer against a hand-moved clock: harvesters are held to about twice real
//! time, players at their buffer goals never wait.

use super::*;

const ALICE_V1: Viewer<'static> = Viewer {
    user_id: "alice",
    video_id: "v1",
};

fn pacer(clock: &Arc<ManualClock>) -> KeyPacer {
    KeyPacer::new(PacingConfig::default(), clock.clone() as Arc<dyn Clock>)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Asks for keys k0..k{n-1} at once; returns how many were granted before the first denial.
fn grab(p: &KeyPacer, viewer: Viewer<'_>, n: usize, period: Duration) -> usize {
    (0..n)
        .take_while(|i| p.check(viewer, &format!("k{i}"), period) == PacingDecision::Granted)
        .count()
}

#[test]
fn allowance_is_media_time_not_a_count_of_keys() {
    let clock = Arc::new(ManualClock::new(1_000));
    // 240 s of media: 60 keys of 4 s, 96 of 2.5 s (not 120: sub-second periods
    // count as they are), 4 of 60 s.
    for (period, want) in [(4.0, 60), (2.5, 96), (60.0, 4)] {
        let p = pacer(&clock);
        assert_eq!(
            grab(&p, ALICE_V1, 500, secs(period)),
            want,
            "{period} s keys"
        );
    }
}

#[test]
fn denial_says_when_the_next_key_is_due() {
    let clock = Arc::new(ManualClock::new(1_000));
    let p = pacer(&clock);
    let period = secs(4.0);
    assert_eq!(grab(&p, ALICE_V1, 60, period), 60);
    // Taken 240 s = allowed 240 s: one second more at 2× covers the next key.
    let next = |p: &KeyPacer| p.check(ALICE_V1, "k60", period);
    assert_eq!(
        next(&p),
        PacingDecision::Denied {
            retry_after_secs: 1
        }
    );
    clock.advance(secs(1.0));
    assert_eq!(next(&p), PacingDecision::Granted);
    // Now 244 s taken, 242 s allowed: just over a second, so two as Retry-After says.
    assert_eq!(
        p.check(ALICE_V1, "k61", period),
        PacingDecision::Denied {
            retry_after_secs: 2
        }
    );
    clock.advance(secs(0.9));
    assert!(matches!(
        p.check(ALICE_V1, "k61", period),
        PacingDecision::Denied { .. }
    ));
    clock.advance(secs(1.1));
    assert_eq!(p.check(ALICE_V1, "k61", period), PacingDecision::Granted);
}

#[test]
fn repeats_are_free_and_viewers_are_independent() {
    let clock = Arc::new(ManualClock::new(1_000));
    let p = pacer(&clock);
    let period = secs(60.0);
    assert_eq!(grab(&p, ALICE_V1, 10, period), 4);
    for _ in 0..50 {
        assert_eq!(p.check(ALICE_V1, "k2", period), PacingDecision::Repeat);
    }
    let other_video = Viewer {
        video_id: "v2",
        ..ALICE_V1
    };
    let other_user = Viewer {
        user_id: "bob",
        ..ALICE_V1
    };
    assert_eq!(grab(&p, other_video, 10, period), 4);
    assert_eq!(grab(&p, other_user, 10, period), 4);
    assert_eq!(p.tracked_viewers(), 3);
}

#[test]
fn harvesting_a_video_takes_about_half_its_running_time_beyond_the_allowance() {
    // 1000 s of 4 s keys; all of them need ≥ (1000 − 240) / 2 = 380 s.
    let clock = Arc::new(ManualClock::new(1_000));
    let p = pacer(&clock);
    let start = clock.now();
    let mut got = 0;
    while got < 250 {
        match p.check(ALICE_V1, &format!("k{got}"), secs(4.0)) {
            PacingDecision::Granted => got += 1,
            PacingDecision::Denied { retry_after_secs } => {
                clock.advance(Duration::from_secs(retry_after_secs))
            }
            PacingDecision::Repeat => unreachable!(),
        }
    }
    let took = clock.now() - start;
    assert!(took >= secs(378.0), "took {took:?}");
    assert!(took <= secs(400.0), "took {took:?}");
}

/// A player's key requests: every key covering `[0, position + goal]`.
fn keys_for(position: f64, goal: f64, period: f64, duration: f64) -> std::ops::Range<usize> {
    let end = (position + goal).min(duration);
    0..((end / period).floor() as usize + 1).min((duration / period).ceil() as usize)
}

#[test]
fn a_player_at_up_to_twice_real_time_is_never_refused() {
    // Buffer goals up to 60 s (video.js' maximum), rates up to 2×, short and long
    // crypto periods, a resume far into the video and seeks back: never a denial.
    for period in [2.0_f64, 2.5, 4.0, 10.0, 60.0] {
        for (goal, rate) in [(10.0, 1.0), (30.0, 1.0), (60.0, 1.0), (60.0, 2.0)] {
            let clock = Arc::new(ManualClock::new(1_000));
            let p = pacer(&clock);
            let duration = 1800.0;
            let mut position = 600.0; // resumes at 10 min
            let mut wall = 0.0;
            let mut sought_back = false;
            while position < duration {
                let first = (position / period).floor() as usize;
                for k in keys_for(position, goal, period, duration).skip(first) {
                    let d = p.check(ALICE_V1, &format!("k{k}"), secs(period));
                    assert!(
                        !matches!(d, PacingDecision::Denied { .. }),
                        "period {period}, goal {goal}, rate {rate}: key {k} at {position} s ({wall} s in)"
                    );
                }
                if !sought_back && position > 900.0 {
                    position = 620.0;
                    sought_back = true;
                }
                clock.advance(secs(0.25));
                wall += 0.25;
                position += 0.25 * rate;
            }
        }
    }
}

#[test]
fn idle_viewers_are_forgotten_and_the_table_is_capped() {
    let clock = Arc::new(ManualClock::new(1_000));
    let cfg = PacingConfig {
        max_viewers: 10,
        ..PacingConfig::default()
    };
    let p = KeyPacer::new(cfg, clock.clone() as Arc<dyn Clock>);
    let period = secs(4.0);
    for i in 0..25 {
        let user = format!("u{i}");
        let viewer = Viewer {
            user_id: &user,
            video_id: "v",
        };
        p.check(viewer, "k", period);
    }
    assert_eq!(p.tracked_viewers(), 10);
    // A tracked viewer coming back evicts nobody.
    let back = Viewer {
        user_id: "u24",
        video_id: "v",
    };
    assert_eq!(p.check(back, "k", period), PacingDecision::Repeat);
    assert_eq!(p.tracked_viewers(), 10);
    clock.advance(secs(601.0));
    p.check(ALICE_V1, "k", period);
    assert_eq!(p.tracked_viewers(), 1);
}
