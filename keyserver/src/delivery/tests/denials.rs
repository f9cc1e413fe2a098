//! Every refusal of the checks, each answered with its code and audited.

use super::*;
use std::time::Duration;

#[tokio::test]
async fn signature_denials() {
    let f = fixture();
    let auth = format!("Bearer {}", f.token("alice"));
    // No query.
    let r = f.get("/keys/sess1/k0", Some(&auth), None).await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "bad_signature").await;
    // Signature for another session used on sess1.
    let q = f.signer.query("/keys/sess2/", "sess2", NOW + 600).unwrap();
    let r = f
        .get(&format!("/keys/sess1/k0?{q}"), Some(&auth), None)
        .await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "bad_signature").await;
    // An /hls/ signature does not open /keys/.
    let q = f.signer.query("/hls/sess1/", "sess1", NOW + 600).unwrap();
    let r = f
        .get(&format!("/keys/sess1/k0?{q}"), Some(&auth), None)
        .await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "bad_signature").await;
    // Tampered expiry.
    let u = f
        .url("sess1", "k0")
        .replace(&format!("exp={}", NOW + 600), &format!("exp={}", NOW + 601));
    let r = f.get(&u, Some(&auth), None).await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "bad_signature").await;
    // Expired.
    let q = f.signer.query("/keys/sess1/", "sess1", NOW - 1).unwrap();
    let r = f
        .get(&format!("/keys/sess1/k0?{q}"), Some(&auth), None)
        .await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "expired_signature").await;
    assert_eq!(f.audit_count(), 5);
    assert!(f
        .store
        .audits
        .lock()
        .unwrap()
        .iter()
        .all(|a| a.user_id.is_none()));
}

#[tokio::test]
async fn session_denials() {
    let f = fixture();
    let r = f.get_bearer("nosuch", "k0", "alice").await;
    assert_denied(&f, r, StatusCode::NOT_FOUND, "session_not_found").await;
    f.edit_session("sess1", |s| s.ended = true);
    let r = f.get_bearer("sess1", "k0", "alice").await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "session_ended").await;
    f.edit_session("sess1", |s| s.revoked = true);
    let r = f.get_bearer("sess1", "k0", "alice").await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "session_revoked").await;
    f.edit_session("sess1", |s| {
        s.ended = false;
        s.revoked = false;
        s.expires_at = NOW;
    });
    let r = f.get_bearer("sess1", "k0", "alice").await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "session_ended").await;
    *f.store.fail_store.lock().unwrap() = true;
    let r = f.get_bearer("sess1", "k0", "alice").await;
    assert_denied(&f, r, StatusCode::SERVICE_UNAVAILABLE, "store_unavailable").await;
}

#[tokio::test]
async fn auth_denials() {
    let f = fixture();
    let u = f.url("sess1", "k0");
    let r = f.get(&u, None, None).await;
    assert_denied(&f, r, StatusCode::UNAUTHORIZED, "missing_token").await;
    let r = f.get(&u, Some("Bearer not.a.jwt"), None).await;
    assert_denied(&f, r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let r = f.get(&u, Some("Basic YWxpY2U6cHc="), None).await;
    assert_denied(&f, r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // A token from a foreign keyring.
    let other = TokenIssuer::new(SigningKeyring::generate(), ISS, AUD);
    let tok = other.issue_at("alice", Role::Learner, None, NOW).unwrap().0;
    let r = f.get(&u, Some(&format!("Bearer {tok}")), None).await;
    assert_denied(&f, r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // Expired token.
    f.clock.advance(Duration::from_secs(900 + 31));
    let u2 = {
        let q = f.signer.query("/keys/sess1/", "sess1", NOW + 3000).unwrap();
        format!("/keys/sess1/k0?{q}")
    };
    let r = f
        .get(&u2, Some(&format!("Bearer {}", f.token("alice"))), None)
        .await;
    assert_denied(&f, r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // Valid token, wrong user; a valid cookie does not rescue a bad header.
    let f = fixture();
    let c = format!("{}={}", cookie_name("sess1"), f.cookie);
    let auth = format!("Bearer {}", f.token("mallory"));
    let r = f.get(&f.url("sess1", "k0"), Some(&auth), Some(&c)).await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "wrong_user").await;
    assert_eq!(f.last_audit().user_id.as_deref(), Some("alice"));
}

#[tokio::test]
async fn entitlement_denials_and_revocation_bites_next_request() {
    let f = fixture();
    let set = |e: Entitlement| {
        f.store
            .entitlements
            .lock()
            .unwrap()
            .insert(("alice".into(), "v1".into()), e);
    };
    let r = f.get_bearer("sess1", "k0", "alice").await;
    assert_eq!(r.status(), StatusCode::OK);
    set(Entitlement::Revoked);
    // Same key id again (free for pacing) is refused on the very next request.
    let r = f.get_bearer("sess1", "k0", "alice").await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "revoked").await;
    for (entitlement, status, code) in [
        (
            Entitlement::NotEnrolled,
            StatusCode::FORBIDDEN,
            "not_entitled",
        ),
        (
            Entitlement::UserDisabled,
            StatusCode::FORBIDDEN,
            "user_disabled",
        ),
        (Entitlement::VideoGone, StatusCode::NOT_FOUND, "video_gone"),
    ] {
        set(entitlement);
        let r = f.get_bearer("sess1", "k1", "alice").await;
        assert_denied(&f, r, status, code).await;
    }
    set(Entitlement::Allowed);
    let r = f.get_bearer("sess1", "k1", "alice").await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn key_from_other_video_is_404_and_audited() {
    let f = fixture();
    // k42 exists nowhere; "v2" keys are keyed by video so v1's session can't see them.
    let r = f.get_bearer("sess1", "k42", "alice").await;
    assert_denied(&f, r, StatusCode::NOT_FOUND, "key_not_found").await;
    // Mis-filed row: v2's sealed key stored under v1/k5 → AAD refuses to open it.
    let v2k = f.store.keys.lock().unwrap()[&("v2".to_string(), "k5".to_string())].clone();
    f.store
        .keys
        .lock()
        .unwrap()
        .insert(("v1".into(), "k5".into()), v2k);
    let r = f.get_bearer("sess1", "k5", "alice").await;
    assert_denied(&f, r, StatusCode::INTERNAL_SERVER_ERROR, "key_unavailable").await;
    // Remove all v1 keys but keep v2's: the v2 key id is 404 for this session.
    f.store.keys.lock().unwrap().retain(|(v, _), _| v == "v2");
    let r = f.get_bearer("sess1", "k1", "alice").await;
    assert_denied(&f, r, StatusCode::NOT_FOUND, "key_not_found").await;
    let a = f.last_audit();
    assert_eq!(
        (a.video_id.as_deref(), a.key_id.as_str()),
        (Some("v1"), "k1")
    );
    // Invalid key id characters.
    let r = f.get_bearer("sess1", "k..1%20", "alice").await;
    assert!(r.status() == StatusCode::NOT_FOUND || r.status() == StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn error_envelope_carries_the_request_id() {
    let f = fixture();
    let send = |req: axum::http::Request<Body>| f.router.clone().oneshot(req);
    let envelope = |r: Response| async move {
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        let v: serde_json::Value = serde_json::from_slice(&body_bytes(r).await).unwrap();
        assert_eq!(v["error"].as_object().unwrap().len(), 3, "{v}");
        v["error"]["request_id"].as_str().unwrap().to_owned()
    };
    let b = || axum::http::Request::builder().uri("/keys/sess1/k0");
    // The header tower-http's SetRequestIdLayer sets …
    let req = b()
        .header("x-request-id", "req-1")
        .body(Body::empty())
        .unwrap();
    assert_eq!(envelope(send(req).await.unwrap()).await, "req-1");
    // … its extension, which wins …
    let mut req = b()
        .header("x-request-id", "req-2")
        .body(Body::empty())
        .unwrap();
    let id = tower_http::request_id::RequestId::new("req-3".parse().unwrap());
    req.extensions_mut().insert(id);
    assert_eq!(envelope(send(req).await.unwrap()).await, "req-3");
    // … and nothing outside such a stack.
    let req = b().body(Body::empty()).unwrap();
    assert_eq!(envelope(send(req).await.unwrap()).await, "");
}

#[test]
fn error_codes_are_stable_and_distinct() {
    use KeyErrorCode as C;
    let all = [
        C::BadSignature,
        C::ExpiredSignature,
        C::SessionNotFound,
        C::SessionEnded,
        C::SessionRevoked,
        C::MissingToken,
        C::InvalidToken,
        C::WrongUser,
        C::Revoked,
        C::NotEntitled,
        C::UserDisabled,
        C::VideoGone,
        C::KeyNotFound,
        C::NotFound,
        C::RateLimited,
        C::KeyPacing,
        C::KeyUnavailable,
        C::StoreUnavailable,
        C::AuditUnavailable,
    ];
    let codes: std::collections::HashSet<_> = all.iter().map(|c| c.as_str()).collect();
    assert_eq!(codes.len(), all.len());
    assert_eq!(C::RateLimited.as_str(), "rate_limited");
    assert_eq!(C::RateLimited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(all.iter().all(|c| !c.message().is_empty()));
}

#[tokio::test]
async fn a_remembered_token_is_refused_once_it_expires() {
    let f = fixture();
    let auth = format!("Bearer {}", f.token("alice"));
    let r = f.get(&f.url("sess1", "k0"), Some(&auth), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The same token again is answered from memory...
    let r = f.get(&f.url("sess1", "k0"), Some(&auth), None).await;
    assert_eq!(r.status(), StatusCode::OK);
    // ...but never past its own expiry.
    f.clock.advance(Duration::from_secs(900 + 31));
    let q = f.signer.query("/keys/sess1/", "sess1", NOW + 3000).unwrap();
    let r = f
        .get(&format!("/keys/sess1/k0?{q}"), Some(&auth), None)
        .await;
    assert_denied(&f, r, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // And a remembered token still names only its own user.
    let f = fixture();
    let mallory = format!("Bearer {}", f.token("mallory"));
    let r = f.get(&f.url("sess1", "k0"), Some(&mallory), None).await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "wrong_user").await;
    let r = f.get(&f.url("sess1", "k0"), Some(&mallory), None).await;
    assert_denied(&f, r, StatusCode::FORBIDDEN, "wrong_user").await;
}

#[tokio::test]
async fn only_the_sessions_own_path_token_opens_a_key_under_it() {
    let f = fixture();
    let auth = format!("Bearer {}", f.token("alice"));
    let at = |token: String| format!("/hls/sess1/{token}/k3.key");
    let sign =
        |prefix: &str, session: &str, exp: u64| f.signer.path_token(prefix, session, exp).unwrap();
    for (token, code) in [
        (sign("/keys/sess1/", "sess1", NOW + 600), "bad_signature"),
        (sign("/hls/sess2/", "sess2", NOW + 600), "bad_signature"),
        (sign("/hls/sess1/", "sess1", NOW - 1), "expired_signature"),
        ("600.0.x".to_string(), "bad_signature"),
    ] {
        let r = f.get(&at(token), Some(&auth), None).await;
        assert_denied(&f, r, StatusCode::FORBIDDEN, code).await;
    }
    // Under the token, only `{key_id}.key` names a key; anything else is
    // a file the session does not have, refused before any check.
    let good = f.hls_url("sess1", "k3");
    let audits = f.audit_count();
    for name in ["k3.ts", "..%2fk3.key", ".key", "k3"] {
        let r = f
            .get(&good.replace("k3.key", name), Some(&auth), None)
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{name}");
        let v: serde_json::Value = serde_json::from_slice(&body_bytes(r).await).unwrap();
        assert_eq!(v["error"]["code"], "not_found", "{name}");
    }
    assert_eq!(f.audit_count(), audits);
}
