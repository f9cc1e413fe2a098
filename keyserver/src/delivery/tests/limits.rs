//! The two speed limits: pacing of distinct keys and the per-session request limit.

use super::*;
use std::time::Duration;

#[tokio::test]
async fn pacing_429_with_retry_after_and_repeats_free() {
    let f = fixture();
    for k in ["k0", "k1", "k2"] {
        assert_eq!(
            f.get_bearer("sess1", k, "alice").await.status(),
            StatusCode::OK
        );
    }
    // Repeats of granted key ids don't consume tokens.
    for _ in 0..5 {
        for k in ["k0", "k1", "k2"] {
            assert_eq!(
                f.get_bearer("sess1", k, "alice").await.status(),
                StatusCode::OK
            );
        }
    }
    let r = f.get_bearer("sess1", "k3", "alice").await;
    assert_eq!(r.headers()[header::RETRY_AFTER], "5");
    assert_denied(&f, r, StatusCode::TOO_MANY_REQUESTS, "key_pacing").await;
    assert!(f.last_audit().pacing);
    // Still can re-fetch an already granted key while paced.
    assert_eq!(
        f.get_bearer("sess1", "k1", "alice").await.status(),
        StatusCode::OK
    );
    f.clock.advance(Duration::from_secs(5));
    let r = f.get_bearer("sess1", "k3", "alice").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body_bytes(r).await, key_bytes("v1", 3));
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
