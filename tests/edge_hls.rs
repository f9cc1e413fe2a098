//! Signed playback through the real server: a session's media under
//! `/hls/{session}/{token}/`, playlists whose relative names inherit the
//! token and whose key URIs are signed, segments with ranges and ETags, and
//! refusals for tampered, expired, cross-session and ended-session URLs.

mod common;

use std::time::Duration;

use common::hls::{self, resolve, split_token};
use common::{error_code, eventually, TestApp};
use sealcast_keyserver::SignedQuery;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every URI a media playlist names: segments and (once each) keys.
fn media_uris(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for segment in hls::keyed_segments(&hls::media(text)) {
        if !out.contains(&segment.key_uri) {
            out.push(segment.key_uri);
        }
        out.push(segment.segment_uri);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_signed_chain_ranges_and_refusals() {
    let app = TestApp::init().fast_transcodes().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let video = app.ready_video(&creator, &course).await.id;
    let learner = app.learner_in(&course).await;
    let session = app.playback(&learner, &video).await;
    let (sid, master_url) = (session.session_id.clone(), session.master_url.clone());
    let signer = app.url_signer();

    // Master: under the session's token; variant URIs relative names.
    let (base, token) = split_token(&master_url);
    assert_eq!(master_url, format!("{base}master.m3u8"));
    assert!(base.starts_with(&format!("/hls/{sid}/")), "{master_url}");
    let q = SignedQuery::from_path_token(&token).unwrap();
    signer
        .verify_query(&format!("/hls/{sid}/master.m3u8"), &sid, &q, now())
        .unwrap();
    let resp = api.send(api.http.get(api.url(&master_url))).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let master = resp.text().await.unwrap();
    let variants: Vec<String> = hls::master(&master)
        .variants
        .into_iter()
        .map(|v| v.uri)
        .collect();
    assert!(!variants.is_empty(), "{master}");
    assert!(
        !master.contains("/hls/") && !master.contains("sig="),
        "{master}"
    );
    let mut segment_url = String::new();
    let mut key_urls = std::collections::BTreeSet::new();
    let mut media_texts = Vec::new();
    for variant in &variants {
        assert!(
            !variant.starts_with('/') && variant.ends_with("/index.m3u8"),
            "{variant}"
        );
        let variant = resolve(&master_url, variant);
        let resp = api.send(api.http.get(api.url(&variant))).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let media = resp.text().await.unwrap();
        assert!(!media.contains("sealcast-key://"), "{media}");
        let all = media_uris(&media);
        assert!(all.len() >= 4, "{media}");
        for uri in all {
            if uri.ends_with(".ts") {
                // A relative name: the player resolves it under the token.
                assert!(!uri.contains('/') && !uri.contains('?'), "{uri}");
                segment_url = resolve(&variant, &uri);
                assert!(segment_url.starts_with(&base), "{segment_url}");
            } else {
                // `../{key_id}.key`: the key route under the same token, one
                // URI per key whichever rung names it.
                let id = uri.strip_prefix("../").and_then(|u| u.strip_suffix(".key"));
                assert!(id.is_some_and(|id| !id.contains('/')), "{uri}");
                let url = resolve(&variant, &uri);
                assert_eq!(url, format!("{base}{}.key", id.unwrap()));
                key_urls.insert(url);
            }
        }
        media_texts.push(media);
    }
    // Every session is sent the same playlist bytes (nothing per session in
    // them), and its keys open with the learner's token under its own token.
    let other = app.playback(&learner, &video).await;
    let other_variant = resolve(&other.master_url, &variants[0]);
    let resp = api.send(api.http.get(api.url(&other_variant))).await;
    assert_eq!(resp.text().await.unwrap(), media_texts[0]);
    let key_url = key_urls.iter().next().expect("a key").clone();
    let resp = api.key(&key_url, Some(&learner.token)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.bytes().await.unwrap().len(), 16);
    let (_, other_token) = split_token(&other.master_url);
    let crossed = key_url.replace(&token, &other_token);
    let resp = api.key(&crossed, Some(&learner.token)).await;
    assert_eq!(
        resp.status(),
        403,
        "another session's token opens no key here"
    );
    assert_eq!(error_code(resp).await, "bad_signature");

    // Segments: encrypted MPEG-TS with ETag, ranges and private caching.
    let resp = api.send(api.http.get(api.url(&segment_url))).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "video/mp2t");
    assert!(h["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("private, max-age="));
    assert_eq!(h["accept-ranges"], "bytes");
    let etag = h["etag"].to_str().unwrap().to_string();
    let whole = resp.bytes().await.unwrap();
    assert!(
        whole.len() > 188 && whole.len() % 16 == 0,
        "AES-CBC output: {}",
        whole.len()
    );
    let resp = api
        .send(
            api.http
                .get(api.url(&segment_url))
                .header("range", "bytes=10-109"),
        )
        .await;
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"].to_str().unwrap(),
        format!("bytes 10-109/{}", whole.len())
    );
    assert_eq!(resp.bytes().await.unwrap(), whole.slice(10..110));
    let resp = api
        .send(
            api.http
                .get(api.url(&segment_url))
                .header("range", "bytes=-16"),
        )
        .await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap(), whole.slice(whole.len() - 16..));
    let resp = api
        .send(
            api.http
                .get(api.url(&segment_url))
                .header("range", format!("bytes={}-", whole.len() + 5)),
        )
        .await;
    assert_eq!(resp.status(), 416);
    let resp = api
        .send(
            api.http
                .get(api.url(&segment_url))
                .header("if-none-match", &etag),
        )
        .await;
    assert_eq!(resp.status(), 304);

    // Tampering: the signature, the expiry, the session, the path.
    let file = segment_url.strip_prefix(&base).unwrap().to_string();
    let mut bad_sig = q.sig.clone().into_bytes();
    bad_sig[5] = if bad_sig[5] == b'A' { b'B' } else { b'A' };
    let bad_sig = String::from_utf8(bad_sig).unwrap();
    let other = app.playback(&learner, &video).await;
    let (other_sid, other_master) = (other.session_id, other.master_url);
    let (_, other_token) = split_token(&other_master);
    let attempts = [
        format!("/hls/{sid}/{}.{}.{bad_sig}/{file}", q.exp, q.kv),
        format!("/hls/{sid}/{}.{}.{}/{file}", q.exp + 1, q.kv, q.sig),
        format!("/hls/{sid}/{}.{}.{}/{file}", q.exp, q.kv + 1, q.sig),
        format!("/hls/{sid}/{other_token}/{file}"),
        format!("/hls/{other_sid}/{token}/{file}"),
        format!("/hls/{sid}/{}.{}/{file}", q.exp, q.sig),
        format!("/hls/{sid}/{token}.{}/{file}", q.sig),
        format!("/hls/{sid}/{token}/{file}?sig=x").replace(&token, "x"),
    ];
    for url in attempts {
        let resp = api.send(api.http.get(api.url(&url))).await;
        assert_eq!(resp.status(), 403, "{url}");
        assert_eq!(error_code(resp).await, "bad_signature", "{url}");
    }
    // Without a token the path names no route at all.
    let resp = api.anonymous_get(&format!("/hls/{sid}/{file}")).await;
    assert_eq!(resp.status(), 404);
    // A validly signed URL past its expiry.
    let past = sealcast::playback::master_url(&signer, &sid, now() - 5).unwrap();
    let resp = api.send(api.http.get(api.url(&past))).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "expired_signature");
    // Signed paths outside the allowed files are not found, never served.
    for bad in ["144p/source", "144p/.hidden.ts", "x/poster.jpg"] {
        let resp = api.anonymous_get(&format!("{base}{bad}")).await;
        assert_eq!(resp.status(), 404, "{bad}");
    }

    // An ended session stops (once the edge's short session cache lets go),
    // an expired one at once.
    let resp = api
        .delete(&format!("/api/v1/playback/{sid}"), &learner.token)
        .await;
    assert_eq!(resp.status(), 204);
    for url in [&master_url, &segment_url] {
        eventually(
            Duration::from_secs(10),
            "the ended session is refused",
            || async {
                let resp = api.anonymous_get(url).await;
                (resp.status() == 403).then_some(())
            },
        )
        .await;
        assert_eq!(
            error_code(api.anonymous_get(url).await).await,
            "session_ended"
        );
    }
    // No API ages a session and the server has no injected clock, so this
    // one write forges an expiry in the database (the URL is still signed).
    let at_rest = app.at_rest().await;
    sqlx::query("UPDATE playback_sessions SET expires_at = $1 WHERE id = $2")
        .bind(sealcast::db::now_ms() - 1000)
        .bind(&other_sid)
        .execute(&at_rest.db.pool)
        .await
        .unwrap();
    let resp = api.send(api.http.get(api.url(&other_master))).await;
    assert_eq!(error_code(resp).await, "session_ended");
}

/// The ffmpeg CLI, as an independent player, plays the learner's signed
/// master URL end to end: playlists, keys (with the learner's Authorization
/// header) and every segment decoded.
/// The session comes from the real `POST /api/v1/videos/{id}/playback`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_ffmpeg_plays_the_signed_master_url() {
    let app = TestApp::init().fast_transcodes().app().await;
    let api = &app.api;
    let (creator, course) = app.creator_with_course().await;
    let video = app.ready_video(&creator, &course).await.id;
    let learner_token = app.learner_in(&course).await.token;
    let resp = api
        .send(
            api.http
                .post(api.url(&format!("/api/v1/videos/{video}/playback")))
                .bearer_auth(&learner_token),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let session: serde_json::Value = resp.json().await.unwrap();
    let master_url = session["master_url"].as_str().unwrap().to_string();
    let frames = common::media::ffmpeg_play(&api.url(&master_url), &learner_token);
    // 3 s at 25 fps, plus audio frames.
    assert!(frames >= 70, "decoded {frames} frames");
}
