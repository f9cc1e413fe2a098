//! The key route against the real server: a learner's key decrypts a real
//! segment; every attack is denied with its code and audited; revocation of a
//! user, session, video or enrollment bites the next request on every node;
//! key pacing; roles; master and signing key rotation.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyIvInit};
use common::fixtures::{make_video, DataDir};
use common::identity::{
    admin, assert_error, identity_server, key_url, ready_video, url_signer, Api, Login,
};
use common::sealcast_command;
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE, ORIGIN};
use sealcast::storage::{ObjectKey, ObjectStore};
use sealcast_keyserver::{Role, SigningKeyring, TokenIssuer};
use serde_json::{json, Value};

/// Admin, creator with a course, an enrolled learner and a stranger.
struct Cast {
    admin: Login,
    creator: Login,
    learner: Login,
    stranger: Login,
    course: String,
}

async fn cast(api: &Api, data: &DataDir) -> Cast {
    let admin = admin(api, data).await;
    let creator = api.user(&admin.token, "creator").await;
    let learner = api.user(&admin.token, "learner").await;
    let stranger = api.user(&admin.token, "learner").await;
    let course = api.course(&creator.token).await;
    api.enroll(&creator.token, &course, &learner.user_id).await;
    Cast {
        admin,
        creator,
        learner,
        stranger,
        course,
    }
}

async fn object(data: &DataDir, key: &str) -> Vec<u8> {
    let body = data
        .store
        .get(&ObjectKey::new(key.to_string()).unwrap(), None)
        .await
        .unwrap();
    sealcast::storage::collect(body.stream, 16 << 20)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learners_key_decrypts_a_real_segment() {
    let server = identity_server()
        .arg("--transcode-rungs")
        .arg("144")
        .arg("--segment-seconds")
        .arg("1")
        .arg("--rotate-every")
        .arg("1")
        .arg("--x264-preset")
        .arg("ultrafast")
        .arg("--cors-origins")
        .arg("http://player.test")
        .start();
    let api = Api::new(&server);
    let data = DataDir::open(&server.data_path()).await;
    let c = cast(&api, &data).await;
    let tmp = tempfile::tempdir().unwrap();
    let source = make_video(tmp.path(), "src.mp4", 2, "256x144");
    let video = data
        .queued_video(&c.creator.user_id, &c.course, &source)
        .await;
    let (status, _, error) = data.wait_settled(&video, 180).await;
    assert_eq!(
        (status.as_str(), error),
        ("ready", None),
        "{}",
        server.log()
    );

    // The first segment of the stored playlist and its key id and IV.
    let playlist =
        String::from_utf8(object(&data, &format!("videos/{video}/hls/144p/index.m3u8")).await)
            .unwrap();
    let mut lines = playlist.lines();
    let key_line = lines
        .by_ref()
        .find(|l| l.starts_with("#EXT-X-KEY:"))
        .unwrap();
    let key_id = key_line
        .split("sealcast-key://")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let iv_hex = key_line.split("IV=0x").nth(1).unwrap();
    let iv: [u8; 16] = hex::decode(&iv_hex[..32]).unwrap().try_into().unwrap();
    let segment = lines.find(|l| !l.starts_with('#')).unwrap();
    let ciphertext = object(&data, &format!("videos/{video}/hls/144p/{segment}")).await;

    let (session, cookie) = api.playback(&c.learner.token, &video).await;
    let url = key_url(&data, &session, &key_id);
    let resp = api
        .http
        .get(api.url(&url))
        .bearer_auth(&c.learner.token)
        .header(ORIGIN, "http://evil.test")
        .send()
        .await
        .unwrap();
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
        .http
        .get(api.url(&url))
        .bearer_auth(&c.learner.token)
        .header(ORIGIN, "http://player.test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://player.test"
    );

    let audit = api.audit(&c.admin.token, 10).await;
    let grant = audit.iter().find(|e| e["action"] == "key").unwrap();
    assert_eq!(grant["outcome"], "granted");
    assert_eq!(grant["session_id"], session.as_str());
    assert_eq!(grant["key_id"], key_id.as_str());
    assert_eq!(grant["actor_id"], c.learner.user_id.as_str());
}

/// Signs claims with our real signing key but chosen iss/aud/times.
fn issuer(data: &DataDir, iss: &str, aud: &str) -> TokenIssuer {
    let dir = data.root.join("secrets/signing-keys");
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
    let server = identity_server().start();
    let api = Api::new(&server);
    let data = DataDir::open(&server.data_path()).await;
    let c = cast(&api, &data).await;
    let (video, keys) = ready_video(&data, &c.creator.user_id, &c.course, 3, 30_000).await;
    let (other_video, other_keys) =
        ready_video(&data, &c.creator.user_id, &c.course, 1, 10_000).await;
    let (session, cookie) = api.playback(&c.learner.token, &video).await;
    let url = key_url(&data, &session, &keys[0].0);
    let now = sealcast::db::now_ms() as u64 / 1000;
    let learner = &c.learner.user_id;
    let (iss, aud) = (
        sealcast::server::TOKEN_ISSUER,
        sealcast::server::TOKEN_AUDIENCE,
    );

    // The honest request works.
    let resp = api.key(&url, Some(&c.learner.token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), keys[0].1);

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
    let jwks: Value = reqwest::get(api.url("/.well-known/jwks.json"))
        .await
        .unwrap()
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
    let wrong_aud = issuer(&data, iss, "someone-else")
        .issue(learner, Role::Learner, None)
        .unwrap()
        .0;
    let wrong_iss = issuer(&data, "https://evil.test", aud)
        .issue(learner, Role::Learner, None)
        .unwrap()
        .0;
    let expired = issuer(&data, iss, aud)
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
    let (other_session, other_cookie) = api.playback(&c.learner.token, &other_video).await;
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
    let other_sig = key_url(&data, &other_session, &keys[0].0);
    let swapped = other_sig.replace(&other_session, &session);
    assert_error(
        api.key(&swapped, Some(&c.learner.token)).await,
        403,
        "bad_signature",
    )
    .await;
    let old = url_signer(&data)
        .append_query(
            &format!("/keys/{session}/{}", keys[0].0),
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
    let foreign = key_url(&data, &session, &other_keys[0].0);
    assert_error(
        api.key(&foreign, Some(&c.learner.token)).await,
        404,
        "key_not_found",
    )
    .await;
    // No session at all.
    let ghost = key_url(&data, "0123456789abcdef0123456789abcdef", &keys[0].0);
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
        server.log().find(&c.learner.token).is_none(),
        "no token in logs"
    );
}

/// Asserts the next key request is denied with `code`, and that it comes
/// within a second of the revocation.
async fn denied_within_a_second(
    api: &Api,
    url: &str,
    token: &str,
    since: Instant,
    status: u16,
    code: &str,
) {
    let resp = api.key(url, Some(token)).await;
    assert!(
        since.elapsed() < Duration::from_secs(1),
        "{code} took {:?}",
        since.elapsed()
    );
    assert_error(resp, status, code).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_bites_the_next_key_request_on_every_node() {
    let edge = identity_server().start();
    // A second node: key server only, same secrets and database.
    let keys_node = identity_server()
        .shared_data(edge.data_path())
        .arg("--roles")
        .arg("keyserver")
        .start();
    let api = Api::new(&edge);
    let node = Api::new(&keys_node);
    let data = DataDir::open(&edge.data_path()).await;
    let c = cast(&api, &data).await;
    let (video, keys) = ready_video(&data, &c.creator.user_id, &c.course, 2, 20_000).await;
    let (video2, keys2) = ready_video(&data, &c.creator.user_id, &c.course, 2, 20_000).await;
    // The key-server-only node has no API, the edge has both.
    assert_eq!(node.get("/api/v1/me", &c.learner.token).await.status(), 404);

    // Session revoked (admin on node A, key request on node B).
    let (s1, _) = api.playback(&c.learner.token, &video).await;
    let u1 = key_url(&data, &s1, &keys[0].0);
    assert_eq!(node.key(&u1, Some(&c.learner.token)).await.status(), 200);
    let r = api.revoke(&c.admin.token, json!({"session_id": s1})).await;
    let t = Instant::now();
    assert_eq!(
        r,
        json!({"revoked": {"kind": "session", "id": s1}, "sessions_ended": 1})
    );
    denied_within_a_second(&node, &u1, &c.learner.token, t, 403, "session_revoked").await;

    // Video revoked: every session of that video.
    let (s2, _) = api.playback(&c.learner.token, &video).await;
    let (s2b, _) = api.playback(&c.creator.token, &video).await;
    let (s3, _) = api.playback(&c.learner.token, &video2).await;
    let u2 = key_url(&data, &s2, &keys[1].0);
    let u2b = key_url(&data, &s2b, &keys[1].0);
    let u3 = key_url(&data, &s3, &keys2[0].0);
    assert_eq!(node.key(&u2, Some(&c.learner.token)).await.status(), 200);
    let r = api.revoke(&c.admin.token, json!({"video_id": video})).await;
    let t = Instant::now();
    assert_eq!(r["sessions_ended"], 2);
    denied_within_a_second(&node, &u2, &c.learner.token, t, 403, "session_revoked").await;
    denied_within_a_second(&node, &u2b, &c.creator.token, t, 403, "session_revoked").await;
    assert_eq!(
        node.key(&u3, Some(&c.learner.token)).await.status(),
        200,
        "other videos unaffected"
    );

    // Enrollment removed: the sessions on the course's videos end.
    let t = Instant::now();
    let r = api
        .delete(
            &format!(
                "/api/v1/courses/{}/enrollments/{}",
                c.course, c.learner.user_id
            ),
            &c.creator.token,
        )
        .await;
    assert_eq!(r.status(), 204);
    denied_within_a_second(&node, &u3, &c.learner.token, t, 403, "session_revoked").await;
    // And no new session starts.
    assert_error(
        api.post(
            &format!("/api/v1/videos/{video2}/playback"),
            &c.learner.token,
            json!({}),
        )
        .await,
        403,
        "not_entitled",
    )
    .await;

    // User revoked: disabled, refresh tokens revoked, sessions ended.
    api.enroll(&c.creator.token, &c.course, &c.learner.user_id)
        .await;
    let (s4, _) = api.playback(&c.learner.token, &video2).await;
    let u4 = key_url(&data, &s4, &keys2[1].0);
    assert_eq!(node.key(&u4, Some(&c.learner.token)).await.status(), 200);
    let r = api
        .revoke(&c.admin.token, json!({"user_id": c.learner.user_id}))
        .await;
    let t = Instant::now();
    assert_eq!(r["revoked"]["kind"], "user");
    denied_within_a_second(&node, &u4, &c.learner.token, t, 403, "session_revoked").await;
    let refresh = api
        .http
        .post(api.url("/api/v1/auth/refresh"))
        .header("cookie", &c.learner.refresh_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 401);

    // A disabled user whose session somehow stayed live is still refused.
    sqlx::query("UPDATE playback_sessions SET ended_at = NULL, end_reason = NULL WHERE id = $1")
        .bind(&s4)
        .execute(&data.db.pool)
        .await
        .unwrap();
    assert_error(
        node.key(&u4, Some(&c.learner.token)).await,
        403,
        "user_disabled",
    )
    .await;
    // Bad revocation requests.
    assert_error(
        api.revoke_raw(&c.admin.token, json!({"user_id": "nope"}))
            .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        api.revoke_raw(&c.admin.token, json!({"user_id": "a", "video_id": "b"}))
            .await,
        400,
        "bad_request",
    )
    .await;
    assert_error(
        api.revoke_raw(&c.stranger.token, json!({"video_id": video}))
            .await,
        403,
        "forbidden",
    )
    .await;
    let audit = api.audit(&c.admin.token, 200).await;
    for action in [
        "revoke.session",
        "revoke.video",
        "revoke.user",
        "enrollment.remove",
    ] {
        assert!(audit.iter().any(|e| e["action"] == action), "{action}");
    }
    assert!(audit
        .iter()
        .any(|e| e["action"] == "key" && e["reason"] == "session_revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_pacing_answers_429_with_retry_after_and_flags_the_audit() {
    let server = identity_server()
        .arg("--key-pacing-burst")
        .arg("2")
        .arg("--key-pacing-speedup")
        .arg("2")
        .start();
    let api = Api::new(&server);
    let data = DataDir::open(&server.data_path()).await;
    let c = cast(&api, &data).await;
    // 30 s, 3 keys: 10 s crypto period, a new key every 5 s after the burst.
    let (video, keys) = ready_video(&data, &c.creator.user_id, &c.course, 3, 30_000).await;
    let (session, _) = api.playback(&c.learner.token, &video).await;
    let url = |i: usize| key_url(&data, &session, &keys[i].0);
    assert_eq!(api.key(&url(0), Some(&c.learner.token)).await.status(), 200);
    assert_eq!(api.key(&url(1), Some(&c.learner.token)).await.status(), 200);
    let resp = api.key(&url(2), Some(&c.learner.token)).await;
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    assert_error(resp, 429, "key_pacing").await;
    // Keys already granted stay available (players re-fetch them).
    assert_eq!(api.key(&url(0), Some(&c.learner.token)).await.status(), 200);
    let audit = api.audit(&c.admin.token, 10).await;
    let paced = audit.iter().find(|e| e["reason"] == "key_pacing").unwrap();
    assert_eq!(
        (paced["pacing"].as_bool(), paced["outcome"].as_str()),
        (Some(true), Some("denied"))
    );
    assert!(audit
        .iter()
        .filter(|e| e["reason"] == "granted")
        .all(|e| e["pacing"] == false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_requests_are_rate_limited_per_session() {
    let server = identity_server()
        .arg("--key-requests-per-second")
        .arg("1")
        .start();
    let api = Api::new(&server);
    let data = DataDir::open(&server.data_path()).await;
    let c = cast(&api, &data).await;
    let (video, keys) = ready_video(&data, &c.creator.user_id, &c.course, 1, 10_000).await;
    let (session, _) = api.playback(&c.learner.token, &video).await;
    let (other, _) = api.playback(&c.learner.token, &video).await;
    let url = key_url(&data, &session, &keys[0].0);
    // Unsigned requests naming the session do not drain its bucket.
    let unsigned = format!("/keys/{session}/{}", keys[0].0);
    for _ in 0..6 {
        assert_error(
            api.key(&unsigned, Some(&c.learner.token)).await,
            403,
            "bad_signature",
        )
        .await;
    }
    // Burst of 4 (1/s × 4), then 429 with Retry-After.
    for _ in 0..4 {
        assert_eq!(api.key(&url, Some(&c.learner.token)).await.status(), 200);
    }
    let resp = api.key(&url, Some(&c.learner.token)).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-store");
    assert_error(resp, 429, "rate_limited").await;
    // Other sessions are not affected.
    let other_url = key_url(&data, &other, &keys[0].0);
    assert_eq!(
        api.key(&other_url, Some(&c.learner.token)).await.status(),
        200
    );
    let audit = api.audit(&c.admin.token, 5).await;
    assert!(audit
        .iter()
        .any(|e| e["reason"] == "rate_limited" && e["session_id"] == session.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_only_process_never_touches_the_master_key() {
    let first = identity_server().start();
    let data_path = first.data_path();
    let dir = first.crash();
    let master = data_path.join("secrets/master.key");
    assert!(data_path.join("secrets/master.pub").exists());
    std::fs::remove_file(&master).unwrap();
    let edge = identity_server()
        .data_dir(dir)
        .arg("--roles")
        .arg("edge")
        .start();
    let api = Api::new(&edge);
    assert_eq!(
        reqwest::get(api.url("/readyz")).await.unwrap().status(),
        200
    );
    assert_error(
        api.key(
            "/keys/0123456789abcdef0123456789abcdef/k0?exp=1&sig=x",
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert!(
        !master.exists(),
        "the edge neither reads nor creates the master key"
    );
    // The log is shared with the first (all-roles) start; only that one mounted keys.
    assert_eq!(edge.log().matches("key route mounted").count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_master_and_signing_keys_keeps_everything_working() {
    let server = identity_server().start();
    let api = Api::new(&server);
    let data = DataDir::open(&server.data_path()).await;
    let c = cast(&api, &data).await;
    let (video, keys) = ready_video(&data, &c.creator.user_id, &c.course, 2, 20_000).await;
    let (session, _) = api.playback(&c.learner.token, &video).await;
    let url = key_url(&data, &session, &keys[0].0);
    assert_eq!(api.key(&url, Some(&c.learner.token)).await.status(), 200);
    let old_master = data.master();

    for cmd in ["rotate-master-key", "rotate-signing-key"] {
        let out = sealcast_command()
            .args(["admin", cmd, "--data-dir"])
            .arg(server.data_path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT master_fingerprint, sealed FROM content_keys WHERE video_id = $1")
            .bind(&video)
            .fetch_all(&data.db.pool)
            .await
            .unwrap();
    let new_master = data.master();
    assert_ne!(new_master.fingerprint(), old_master.fingerprint());
    for (fp, sealed) in &rows {
        assert_eq!(fp, &new_master.fingerprint().to_hex());
        let sealed = sealcast_keyserver::SealedKey::from_base64(sealed).unwrap();
        let ctx = sealcast_keyserver::KeyContext {
            video_id: &video,
            key_id: &keys[0].0,
        };
        assert!(sealcast_keyserver::open(&old_master, &ctx, &sealed).is_err());
    }

    // Restart on the same data dir: the same keys come out, the old token verifies.
    let dir = server.crash();
    let server = identity_server().data_dir(dir).start();
    let api = Api::new(&server);
    for (i, (key_id, key)) in keys.iter().enumerate() {
        let resp = api
            .key(&key_url(&data, &session, key_id), Some(&c.learner.token))
            .await;
        assert_eq!(resp.status(), 200, "key {i}");
        assert_eq!(resp.bytes().await.unwrap().as_ref(), key);
    }
    let jwks: Value = reqwest::get(api.url("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let old_kid = jsonwebtoken::decode_header(&c.learner.token).unwrap().kid;
    let me: Value = api
        .get("/api/v1/me", &c.learner.token)
        .await
        .json()
        .await
        .unwrap();
    let fresh = api.login(me["email"].as_str().unwrap()).await;
    assert_ne!(
        jsonwebtoken::decode_header(&fresh.token).unwrap().kid,
        old_kid,
        "the new key signs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_revocation_on_postgres() {
    let pg = tokio::task::spawn_blocking(common::postgres::Postgres::start)
        .await
        .unwrap();
    let server = identity_server()
        .arg("--database-url")
        .arg(pg.url.clone())
        .start();
    let api = Api::new(&server);
    let data = DataDir::open_with(&server.data_path(), &pg.url).await;
    let c = cast(&api, &data).await;
    let (video, keys) = ready_video(&data, &c.creator.user_id, &c.course, 2, 20_000).await;
    let (session, _) = api.playback(&c.learner.token, &video).await;
    let url = key_url(&data, &session, &keys[1].0);
    let resp = api.key(&url, Some(&c.learner.token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), keys[1].1);
    let resp = api
        .delete(
            &format!(
                "/api/v1/courses/{}/enrollments/{}",
                c.course, c.learner.user_id
            ),
            &c.admin.token,
        )
        .await;
    assert_eq!(resp.status(), 204);
    assert_error(
        api.key(&url, Some(&c.learner.token)).await,
        403,
        "session_revoked",
    )
    .await;
    let audit = api.audit(&c.admin.token, 3).await;
    assert_eq!(audit.len(), 3);
}
