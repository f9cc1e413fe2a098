//! Pacing of distinct keys, through the route.

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
