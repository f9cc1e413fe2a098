//! Signed playback through the real server: per-session playlists whose every
//! URI carries a signature, segments with ranges and ETags, and refusals for
//! tampered, expired, cross-session and ended-session URLs.

mod common;
mod edge_support;

use std::time::Duration;

use edge_support::{error_code, fast, ready_video, split_url, Edge};
use sealcast_keyserver::SignedQuery;

use common::TestServer;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Every URI line or `URI="…"` attribute of a playlist.
fn uris(playlist: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in playlist.lines() {
        if let Some(i) = line.find("URI=\"") {
            let rest = &line[i + 5..];
            out.push(rest[..rest.find('"').unwrap()].to_string());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            out.push(line.trim().to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_signed_chain_ranges_and_refusals() {
    let edge = Edge::start(fast(TestServer::builder())).await;
    let (_, course, token) = edge.creator().await;
    let tmp = tempfile::tempdir().unwrap();
    let (video, _) = ready_video(&edge, &token, &course, tmp.path()).await;
    let (learner, _) = edge.learner_in(&course).await;
    let (sid, master_url) = edge.playback_session(&learner, &video, 3600).await;
    let signer = edge.signer();

    // Master: every variant URI is absolute under the session and signed.
    let resp = edge.http.get(edge.url(&master_url)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/vnd.apple.mpegurl"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let master = resp.text().await.unwrap();
    let variants = uris(&master);
    assert!(!variants.is_empty(), "{master}");
    let mut segment_url = String::new();
    for variant in &variants {
        let (path, query) = split_url(variant);
        assert!(
            path.starts_with(&format!("/hls/{sid}/")) && path.ends_with("/index.m3u8"),
            "{variant}"
        );
        let q = SignedQuery::parse(&query).unwrap();
        signer.verify(&path, &sid, q.exp, &q.sig, now()).unwrap();
        let resp = edge.http.get(edge.url(variant)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let media = resp.text().await.unwrap();
        assert!(!media.contains("sealcast-key://"), "{media}");
        let all = uris(&media);
        assert!(all.len() >= 4, "{media}");
        for uri in all {
            let (path, query) = split_url(&uri);
            let q = SignedQuery::parse(&query).unwrap();
            signer.verify(&path, &sid, q.exp, &q.sig, now()).unwrap();
            if path.ends_with(".ts") {
                assert!(path.starts_with(&format!("/hls/{sid}/")), "{uri}");
                segment_url = uri.clone();
            } else {
                assert!(path.starts_with(&format!("/keys/{sid}/")), "{uri}");
            }
        }
    }

    // Segments: encrypted MPEG-TS with ETag, ranges and private caching.
    let resp = edge.http.get(edge.url(&segment_url)).send().await.unwrap();
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
    let resp = edge
        .http
        .get(edge.url(&segment_url))
        .header("range", "bytes=10-109")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(
        resp.headers()["content-range"].to_str().unwrap(),
        format!("bytes 10-109/{}", whole.len())
    );
    assert_eq!(resp.bytes().await.unwrap(), whole.slice(10..110));
    let resp = edge
        .http
        .get(edge.url(&segment_url))
        .header("range", "bytes=-16")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.bytes().await.unwrap(), whole.slice(whole.len() - 16..));
    let resp = edge
        .http
        .get(edge.url(&segment_url))
        .header("range", format!("bytes={}-", whole.len() + 5))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    let resp = edge
        .http
        .get(edge.url(&segment_url))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);

    // Tampering: the signature, the expiry, the session, the path.
    let (seg_path, seg_query) = split_url(&segment_url);
    let q = SignedQuery::parse(&seg_query).unwrap();
    let mut bad_sig = q.sig.clone().into_bytes();
    bad_sig[5] = if bad_sig[5] == b'A' { b'B' } else { b'A' };
    let bad_sig = String::from_utf8(bad_sig).unwrap();
    let (other_sid, other_master) = edge.playback_session(&learner, &video, 3600).await;
    let (_, other_query) = split_url(&other_master);
    let attempts = [
        format!("{seg_path}?exp={}&sig={bad_sig}", q.exp),
        format!("{seg_path}?exp={}&sig={}", q.exp + 1, q.sig),
        seg_path.clone(),
        format!("{seg_path}?{other_query}"),
        format!("{}?{seg_query}", seg_path.replace(&sid, &other_sid)),
        format!("{seg_path}?exp={}&sig={}&sig={}", q.exp, q.sig, q.sig),
    ];
    for url in attempts {
        let resp = edge.http.get(edge.url(&url)).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{url}");
        assert_eq!(error_code(resp).await, "bad_signature", "{url}");
    }
    // A validly signed URL past its expiry.
    let past = sealcast::playback::master_url(&signer, &sid, now() - 5).unwrap();
    let resp = edge.http.get(edge.url(&past)).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(resp).await, "expired_signature");
    // Signed paths outside the allowed files are not found, never served.
    let (_, master_query) = split_url(&master_url);
    for bad in ["240p/source", "240p/.hidden.ts", "x/poster.jpg"] {
        let resp = edge
            .http
            .get(edge.url(&format!("/hls/{sid}/{bad}?{master_query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{bad}");
    }

    // An ended session stops within a second, an expired one at once.
    sqlx::query("UPDATE playback_sessions SET ended_at = $1 WHERE id = $2")
        .bind(sealcast::db::now_ms())
        .bind(&sid)
        .execute(&edge.data.db.pool)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for url in [&master_url, &segment_url] {
        let resp = edge.http.get(edge.url(url)).send().await.unwrap();
        assert_eq!(resp.status(), 403);
        assert_eq!(error_code(resp).await, "session_ended");
    }
    sqlx::query("UPDATE playback_sessions SET expires_at = $1 WHERE id = $2")
        .bind(sealcast::db::now_ms() - 1000)
        .bind(&other_sid)
        .execute(&edge.data.db.pool)
        .await
        .unwrap();
    let resp = edge.http.get(edge.url(&other_master)).send().await.unwrap();
    assert_eq!(error_code(resp).await, "session_ended");
}

/// The ffmpeg CLI, as an independent player, plays the learner's signed
/// master URL end to end: playlists, keys (with the learner's Authorization
/// header) and every segment decoded.
/// The session comes from the real `POST /api/v1/videos/{id}/playback`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_ffmpeg_plays_the_signed_master_url() {
    let edge = Edge::start(fast(TestServer::builder())).await;
    let (_, course, token) = edge.creator().await;
    let tmp = tempfile::tempdir().unwrap();
    let (video, _) = ready_video(&edge, &token, &course, tmp.path()).await;
    let (_, learner_token) = edge.learner_in(&course).await;
    let resp = edge
        .http
        .post(edge.url(&format!("/api/v1/videos/{video}/playback")))
        .bearer_auth(&learner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let session: serde_json::Value = resp.json().await.unwrap();
    let master_url = session["master_url"].as_str().unwrap().to_string();
    let out = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-xerror"])
        .args([
            "-headers",
            &format!("Authorization: Bearer {learner_token}\r\n"),
        ])
        .args(["-i", &edge.url(&master_url)])
        .args(["-map", "0", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        edge.server.log()
    );
    let frames = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .count();
    // 3 s at 25 fps, plus audio frames.
    assert!(frames >= 70, "decoded {frames} frames");
}

/// State of the stand-in key route below.
#[derive(Clone)]
struct StandIn {
    edge_url: String,
    db: sealcast::db::Db,
    master: std::sync::Arc<sealcast_keyserver::MasterKeyPair>,
    signer: std::sync::Arc<sealcast_keyserver::UrlSigner>,
    token: String,
    http: reqwest::Client,
}

/// Plays the edge's signed playlists with the ffmpeg CLI today, before the
/// real key route is merged: a loopback front serves `/keys/{session}/{key}`
/// itself (checking the signed query and the learner's header, opening the
/// sealed key with the custody master key) and passes everything else to
/// the edge untouched. Every playlist, segment and signature on the way is
/// the edge's own; ffmpeg must decode every segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_ffmpeg_decodes_every_segment_of_the_signed_playlists() {
    use axum::extract::{Path as AxPath, RawQuery, Request, State};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    let edge = Edge::start(fast(TestServer::builder())).await;
    let (_, course, token) = edge.creator().await;
    let tmp = tempfile::tempdir().unwrap();
    let (video, _) = ready_video(&edge, &token, &course, tmp.path()).await;
    let (learner, learner_token) = edge.learner_in(&course).await;
    let (_, master_url) = edge.playback_session(&learner, &video, 3600).await;

    async fn key(
        State(s): State<StandIn>,
        AxPath((sid, kid)): AxPath<(String, String)>,
        RawQuery(query): RawQuery,
        headers: axum::http::HeaderMap,
    ) -> axum::response::Response {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {}", s.token)) {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        let q = SignedQuery::parse(query.as_deref().unwrap_or("")).unwrap();
        if s.signer
            .verify(&format!("/keys/{sid}/{kid}"), &sid, q.exp, &q.sig, now())
            .is_err()
        {
            return StatusCode::FORBIDDEN.into_response();
        }
        let (video, sealed): (String, String) = sqlx::query_as(
            "SELECT k.video_id, k.sealed FROM content_keys k JOIN playback_sessions s ON s.video_id = k.video_id \
             WHERE s.id = $1 AND k.key_id = $2",
        )
        .bind(&sid)
        .bind(&kid)
        .fetch_one(&s.db.pool)
        .await
        .unwrap();
        let sealed = sealcast_keyserver::SealedKey::from_base64(&sealed).unwrap();
        let ctx = sealcast_keyserver::KeyContext {
            video_id: &video,
            key_id: &kid,
        };
        let raw = sealcast_keyserver::open(&s.master, &ctx, &sealed).unwrap();
        raw.to_vec().into_response()
    }

    async fn pass(State(s): State<StandIn>, request: Request) -> axum::response::Response {
        let url = format!("{}{}", s.edge_url, request.uri());
        let resp = s.http.get(url).send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (StatusCode::from_u16(status).unwrap(), bytes).into_response()
    }

    let state = StandIn {
        edge_url: edge.server.base_url.clone(),
        db: edge.data.db.clone(),
        master: std::sync::Arc::new(edge.data.master()),
        signer: std::sync::Arc::new(edge.signer()),
        token: learner_token.clone(),
        http: reqwest::Client::new(),
    };
    let app = axum::Router::new()
        .route("/keys/{sid}/{kid}", axum::routing::get(key))
        .fallback(pass)
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let url = format!("{front}{master_url}");
    let headers = format!("Authorization: Bearer {learner_token}\r\n");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-xerror"])
            .args(["-headers", &headers])
            .args(["-i", &url])
            .args(["-map", "0", "-f", "framemd5", "-"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let video_frames = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("0,"))
        .count();
    assert!(
        video_frames >= 70,
        "decoded {video_frames} video frames of 75"
    );
}
