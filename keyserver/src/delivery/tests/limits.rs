//! The two speed limits: pacing of distinct keys and the per-session request limit.

use super::*;
use std::time::Duration;

/// Pacing with 25 s of media up front: with the fixture's 10 s keys, three keys.
fn paced() -> Fixture {
    fixture_with(
        PacingConfig {
            initial_allowance: Duration::from_secs(25),
            ..PacingConfig::default()
        }
        .into(),
    )
}

/// Adds live sessions of `user` on `video`, as a harvester opening fresh ones would.
fn open_sessions(f: &Fixture, user: &str, video: &str, ids: &[&str]) {
    let mut sessions = f.store.sessions.lock().unwrap();
    let template = sessions["sess1"].clone();
    for id in ids {
        let s = SessionRecord {
            user_id: user.into(),
            video_id: video.into(),
            ..template.clone()
        };
        sessions.insert((*id).into(), s);
    }
}

#[tokio::test]
async fn pacing_429_with_retry_after_and_repeats_free() {
    let f = paced();
    for k in ["k0", "k1", "k2"] {
        assert_eq!(
            f.get_bearer("sess1", k, "alice").await.status(),
            StatusCode::OK
        );
    }
    // Repeats of granted key ids don't count again.
    for _ in 0..5 {
        for k in ["k0", "k1", "k2"] {
            assert_eq!(
                f.get_bearer("sess1", k, "alice").await.status(),
                StatusCode::OK
            );
        }
    }
    // 30 s taken, 25 s allowed, growing at 2×: 3 s (2.5 rounded past).
    let r = f.get_bearer("sess1", "k3", "alice").await;
    assert_eq!(r.headers()[header::RETRY_AFTER], "3");
    assert_denied(&f, r, StatusCode::TOO_MANY_REQUESTS, "key_pacing").await;
    assert!(f.last_audit().pacing);
    // Still can re-fetch an already granted key while paced.
    assert_eq!(
        f.get_bearer("sess1", "k1", "alice").await.status(),
        StatusCode::OK
    );
    f.clock.advance(Duration::from_secs(3));
    let r = f.get_bearer("sess1", "k3", "alice").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body_bytes(r).await, key_bytes("v1", 3));
}

#[tokio::test]
async fn fresh_sessions_bring_no_fresh_allowance() {
    // A harvester opens five sessions and asks every one of them for every key
    // at once: the user gets the allowance once, not once per session.
    let f = paced();
    let sessions = ["sess1", "h1", "h2", "h3", "h4"];
    open_sessions(&f, "alice", "v1", &sessions[1..]);
    let mut granted = std::collections::HashSet::new();
    let mut paced = 0;
    for s in sessions {
        for n in 0..10 {
            let k = format!("k{n}");
            match f.get_bearer(s, &k, "alice").await.status() {
                StatusCode::OK => {
                    granted.insert(k);
                }
                StatusCode::TOO_MANY_REQUESTS => paced += 1,
                other => panic!("{s}/{k}: {other}"),
            }
        }
    }
    assert_eq!(granted.len(), 3, "{granted:?}");
    assert_eq!(paced, 5 * 7);
    // Another user of the same video, and alice on another video, have their own.
    f.store
        .entitlements
        .lock()
        .unwrap()
        .insert(("bob".into(), "v1".into()), Entitlement::Allowed);
    open_sessions(&f, "bob", "v1", &["bob1"]);
    assert_eq!(
        f.get_bearer("bob1", "k5", "bob").await.status(),
        StatusCode::OK
    );
    // A minute on, the allowance grew by 120 s of media: twelve more keys' worth,
    // so the remaining seven come, in any session.
    f.clock.advance(Duration::from_secs(60));
    for n in 3..10 {
        let s = sessions[n % sessions.len()];
        let r = f.get_bearer(s, &format!("k{n}"), "alice").await;
        assert_eq!(r.status(), StatusCode::OK, "{s}/k{n}");
    }
}

fn limited(per_second: u32) -> Fixture {
    fixture_with(KeyDeliveryConfig {
        requests_per_second: per_second,
        ..KeyDeliveryConfig::default()
    })
}

#[tokio::test]
async fn request_limit_429_after_burst_of_four_seconds() {
    let f = limited(1);
    for _ in 0..4 {
        // Repeats of one key: free for pacing, not for the request limit.
        assert_eq!(
            f.get_bearer("sess1", "k0", "alice").await.status(),
            StatusCode::OK
        );
    }
    let r = f.get_bearer("sess1", "k0", "alice").await;
    assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    assert_denied(&f, r, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let a = f.last_audit();
    assert!(!a.pacing);
    assert_eq!(a.user_id.as_deref(), Some("alice"));
    f.clock.advance(Duration::from_secs(1));
    assert_eq!(
        f.get_bearer("sess1", "k0", "alice").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn strangers_with_the_signed_url_cannot_starve_the_owner() {
    let f = limited(1);
    let url = f.url("sess1", "k0");
    let mallory = format!("Bearer {}", f.token("mallory"));
    let wrong_cookie = format!("{}=guess", cookie_name("sess1"));
    for _ in 0..10 {
        let r = f.get(&url, None, None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = f.get(&url, Some(&mallory), None).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = f.get(&url, None, Some(&wrong_cookie)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // Unsigned requests are refused before anything is charged, too.
        let r = f.get("/keys/sess1/k0", None, None).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        f.get_bearer("sess1", "k0", "alice").await.status(),
        StatusCode::OK
    );
    // Exactly one audit record per request, denials included.
    assert_eq!(f.audit_count(), 41);
}

#[tokio::test]
async fn request_limit_is_per_session() {
    let f = limited(1);
    {
        let mut sessions = f.store.sessions.lock().unwrap();
        let second = sessions["sess1"].clone();
        sessions.insert("sess2".into(), second);
    }
    for _ in 0..4 {
        f.get_bearer("sess1", "k0", "alice").await;
    }
    let r = f.get_bearer("sess1", "k0", "alice").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = f.get_bearer("sess2", "k0", "alice").await;
    assert_eq!(r.status(), StatusCode::OK);
}
