//! The key route against the real server: a learner's key decrypts a real
//! segment of the session's playlist, and every attack on tokens, cookies
//! and signed URLs is denied with its code and audited.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use common::{assert_error, Cast, TestApp};
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ORIGIN};
use sealcast_keyserver::{Role, SigningKeyring, TokenIssuer};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learners_key_decrypts_a_real_segment() {
    let app = TestApp::init()
        .fast_transcodes()
        .flag("--cors-origins", "http://player.test")
        .app()
        .await;
    let api = &app.api;
    let c = app.cast().await;
    let video = app.ready_video_of(&c.creator, &c.course, 2).await.id;

    // The first segment of the session's playlist, its key URL and IV.
    let playback = app.playback(&c.learner, &video).await;
    let (session, cookie) = (playback.session_id.clone(), playback.cookie.clone());
    let first = app.segments(&playback).await.remove(0);
    let (url, key_id, iv) = (first.key_uri, first.key_id, first.iv);
    let ciphertext = api.anonymous_get(&first.segment_uri).await;
    assert_eq!(ciphertext.status(), 200);
    let ciphertext = ciphertext.bytes().await.unwrap();

    let resp = api
        .send(
            api.http
                .get(api.url(&url))
                .bearer_auth(&c.learner.token)
                .header(ORIGIN, "http://evil.test"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()[CONTENT_TYPE], "application/octet-stream");
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    assert!(resp.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let key: [u8; 16] = resp.bytes().await.unwrap().as_ref().try_into().unwrap();
    let clear = cbc::Decryptor::<aes::Aes128>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext)
        .expect("the key decrypts the segment (valid PKCS#7 padding)");
    assert_eq!(clear.len() % 188, 0, "whole TS packets");
    assert!(
        clear.chunks(188).all(|p| p[0] == 0x47),
        "MPEG-TS sync bytes"
    );

    // Safari's native HLS: the HttpOnly cookie alone opens the key.
    let resp = api.key_with_cookie(&url, &cookie).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), key);
    // The allowed origin gets exactly itself, never a wildcard.
    let resp = api
        .send(
            api.http
                .get(api.url(&url))
                .bearer_auth(&c.learner.token)
                .header(ORIGIN, "http://player.test"),
        )
        .await;
    assert_eq!(
        resp.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://player.test"
    );

    let audit = api.audit(&c.admin.token, 10).await;
    let grant = audit
        .iter()
        .find(|e| e["action"] == "key" && e["outcome"] == "granted")
        .unwrap();
    assert_eq!(grant["outcome"], "granted");
    assert_eq!(grant["session_id"], session.as_str());
    assert_eq!(grant["key_id"], key_id.as_str());
    assert_eq!(grant["actor_id"], c.learner.user_id.as_str());
}

/// Signs claims with the server's real signing key (from its data dir) but
/// chosen iss/aud/times: tokens the server itself would never issue.
fn issuer(app: &TestApp, iss: &str, aud: &str) -> TokenIssuer {
    let dir = app.data_path().join("secrets/signing-keys");
    let pems: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    TokenIssuer::new(SigningKeyring::from_pems(pems).unwrap(), iss, aud)
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_are_denied_with_their_codes_and_audited() {
    let app = TestApp::init().fast_transcodes().app().await;
    let api = &app.api;
    let c: Cast = app.cast().await;
    let video = app.ready_video(&c.creator, &c.course).await.id;
    let other_video = app.ready_video(&c.creator, &c.course).await.id;
    let playback = app.playback(&c.learner, &video).await;
    let (session, cookie) = (playback.session_id.clone(), playback.cookie.clone());
    let keys = common::hls::key_ids(&app.segments(&playback).await);
    let url = app.key_url(&session, &keys[0]);
    let now = sealcast::db::now_ms() as u64 / 1000;
    let learner = &c.learner.user_id;
    let (iss, aud) = (
        sealcast::server::TOKEN_ISSUER,
        sealcast::server::TOKEN_AUDIENCE,
    );

    // The honest request works.
    let resp = api.key(&url, Some(&c.learner.token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), 16);

    let kid = jsonwebtoken::decode_header(&c.learner.token)
        .unwrap()
        .kid
        .unwrap();
    let claims = json!({"sub": learner, "role": "learner", "iss": iss, "aud": aud,
        "exp": now + 600, "nbf": now, "iat": now, "jti": "x"});
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg":"none","typ":"JWT","kid":kid})),
        b64(&claims)
    );
    // HS256 keyed with the public key, the classic algorithm confusion.
    let jwks: Value = api
        .anonymous_get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let public = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some(kid.clone());
    let hs256 = jsonwebtoken::encode(
        &h,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap();
    let wrong_aud = issuer(&app, iss, "someone-else")
        .issue(learner, Role::Learner, None)
        .unwrap()
        .0;
    let wrong_iss = issuer(&app, "https://evil.test", aud)
        .issue(learner, Role::Learner, None)
        .unwrap()
        .0;
    let expired = issuer(&app, iss, aud)
        .issue_at(
            learner,
            Role::Learner,
            Some(Duration::from_secs(60)),
            now - 3600,
        )
        .unwrap()
        .0;
    let forged = {
        let (head, sig) = c.learner.token.rsplit_once('.').unwrap();
        let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        sig[0] ^= 1;
        format!("{head}.{}", URL_SAFE_NO_PAD.encode(sig))
    };
    let tampered_claims = {
        let mut parts: Vec<String> = c.learner.token.split('.').map(String::from).collect();
        let mut forged_claims = claims.clone();
        forged_claims["sub"] = json!(c.stranger.user_id);
        parts[1] = b64(&forged_claims);
        parts.join(".")
    };
    for (name, token) in [
        ("alg none", alg_none.as_str()),
        ("HS256 with the public key", &hs256),
        ("wrong audience", &wrong_aud),
        ("wrong issuer", &wrong_iss),
        ("expired", &expired),
        ("forged signature", &forged),
        ("tampered claims", &tampered_claims),
    ] {
        let resp = api.key(&url, Some(token)).await;
        assert_eq!(resp.status(), 401, "{name}");
        assert_error(resp, 401, "invalid_token").await;
        // The same tokens open nothing in the API either.
        assert_eq!(api.get("/api/v1/me", token).await.status(), 401, "{name}");
    }
    assert_error(api.key(&url, None).await, 401, "missing_token").await;
    // Another user's valid token on this session's key URI.
    assert_error(
        api.key(&url, Some(&c.stranger.token)).await,
        403,
        "wrong_user",
    )
    .await;
    // Cookies: another session's name is no proof, a wrong value is invalid.
    let other = app.playback(&c.learner, &other_video).await;
    let (other_session, other_cookie) = (other.session_id.clone(), other.cookie.clone());
    let other_keys = common::hls::key_ids(&app.segments(&other).await);
    assert_error(
        api.key_with_cookie(&url, &other_cookie).await,
        401,
        "missing_token",
    )
    .await;
    let bad_cookie = format!("{}=AAAA", cookie.split('=').next().unwrap());
    assert_error(
        api.key_with_cookie(&url, &bad_cookie).await,
        401,
        "invalid_token",
    )
    .await;
    // Signed URLs: tampered, another session's signature, expired.
    let tampered = url.replace("sig=", "sig=A");
    assert_error(
        api.key(&tampered, Some(&c.learner.token)).await,
        403,
        "bad_signature",
    )
    .await;
    let other_sig = app.key_url(&other_session, &keys[0]);
    let swapped = other_sig.replace(&other_session, &session);
    assert_error(
        api.key(&swapped, Some(&c.learner.token)).await,
        403,
        "bad_signature",
    )
    .await;
    let old = app
        .url_signer()
        .append_query(
            &format!("/keys/{session}/{}", keys[0]),
            &format!("/keys/{session}/"),
            &session,
            now - 5,
        )
        .unwrap();
    assert_error(
        api.key(&old, Some(&c.learner.token)).await,
        403,
        "expired_signature",
    )
    .await;
    // A key id of another video through this session.
    let foreign = app.key_url(&session, &other_keys[0]);
    assert_error(
        api.key(&foreign, Some(&c.learner.token)).await,
        404,
        "key_not_found",
    )
    .await;
    // No session at all.
    let ghost = app.key_url("0123456789abcdef0123456789abcdef", &keys[0]);
    assert_error(
        api.key(&ghost, Some(&c.learner.token)).await,
        404,
        "session_not_found",
    )
    .await;
    // The unenrolled stranger cannot even open a session.
    assert_error(
        api.post(
            &format!("/api/v1/videos/{video}/playback"),
            &c.stranger.token,
            json!({}),
        )
        .await,
        403,
        "not_entitled",
    )
    .await;

    let audit = api.audit(&c.admin.token, 100).await;
    let reasons: Vec<&str> = audit
        .iter()
        .filter(|e| e["action"] == "key" && e["outcome"] == "denied")
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    for code in [
        "invalid_token",
        "missing_token",
        "wrong_user",
        "bad_signature",
        "expired_signature",
        "key_not_found",
        "session_not_found",
    ] {
        assert!(reasons.contains(&code), "{code} not audited: {reasons:?}");
    }
    assert_eq!(reasons.iter().filter(|r| **r == "invalid_token").count(), 8);
    assert!(
        app.server().log().find(&c.learner.token).is_none(),
        "no token in logs"
    );
}
