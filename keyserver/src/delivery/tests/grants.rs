//! Keys handed out: by Bearer token, by cookie; audited, or withheld when the audit fails.

use super::*;
use std::net::IpAddr;

#[tokio::test]
async fn grant_returns_exact_key_with_headers() {
    let f = fixture();
    let r = f.get_bearer("sess1", "k3", "alice").await;
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    assert_eq!(h[header::PRAGMA], "no-cache");
    assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert!(h.get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS).is_none());
    let body = body_bytes(r).await;
    assert_eq!(body.len(), 16);
    assert_eq!(body, key_bytes("v1", 3));
    let a = f.last_audit();
    assert_eq!(a.outcome, AuditOutcome::Granted);
    assert_eq!(a.reason, "granted");
    assert_eq!(a.session_id, "sess1");
    assert_eq!(a.user_id.as_deref(), Some("alice"));
    assert_eq!(a.video_id.as_deref(), Some("v1"));
    assert_eq!(a.key_id, "k3");
    assert_eq!(a.at, NOW);
    assert!(!a.pacing);
}

#[tokio::test]
async fn grant_with_session_cookie() {
    let f = fixture();
    let c = format!("other=1; {}={}", cookie_name("sess1"), f.cookie);
    let r = f.get(&f.url("sess1", "k0"), None, Some(&c)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(body_bytes(r).await, key_bytes("v1", 0));
    // Wrong cookie value.
    let c = format!("{}=nottheone", cookie_name("sess1"));
    let r = f.get(&f.url("sess1", "k0"), None, Some(&c)).await;
    assert_denied(&f, r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // Cookie for another session name is ignored → missing.
    let c = format!("{}={}", cookie_name("sess2"), f.cookie);
    let r = f.get(&f.url("sess1", "k0"), None, Some(&c)).await;
    assert_denied(&f, r, StatusCode::UNAUTHORIZED, "missing_token").await;
    let [hls, keys] = session_cookie_headers("sess1", &f.cookie, 60);
    assert!(hls.contains("HttpOnly") && hls.contains("Secure") && hls.contains("Path=/hls/sess1/"));
    assert!(keys.contains("HttpOnly") && keys.contains("Path=/keys/sess1/"));
}

#[tokio::test]
async fn the_same_key_under_the_sessions_path_token() {
    let f = fixture();
    let auth = format!("Bearer {}", f.token("alice"));
    let r = f.get(&f.hls_url("sess1", "k3"), Some(&auth), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(body_bytes(r).await, key_bytes("v1", 3));
    let a = f.last_audit();
    assert_eq!(
        (a.outcome, a.key_id.as_str()),
        (AuditOutcome::Granted, "k3")
    );
    // By the cookie too, which Safari's native HLS sends under `/hls/{session}/`.
    let c = format!("{}={}", cookie_name("sess1"), f.cookie);
    let r = f.get(&f.hls_url("sess1", "k3"), None, Some(&c)).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn audit_failure_fails_closed_on_grant() {
    let f = fixture();
    *f.store.fail_audit.lock().unwrap() = true;
    let r = f.get_bearer("sess1", "k0", "alice").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_slice(&body_bytes(r).await).unwrap();
    assert_eq!(v["error"]["code"], "audit_unavailable");
}

#[tokio::test]
async fn client_ip_extension_is_audited() {
    let f = fixture();
    let auth = format!("Bearer {}", f.token("alice"));
    let mut req = axum::http::Request::builder()
        .uri(f.url("sess1", "k0"))
        .header(header::AUTHORIZATION, auth)
        .body(Body::empty())
        .unwrap();
    let ip: IpAddr = "203.0.113.7".parse().unwrap();
    req.extensions_mut().insert(ClientIp(ip));
    let r = f.router.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(f.last_audit().ip, Some(ip));
}
