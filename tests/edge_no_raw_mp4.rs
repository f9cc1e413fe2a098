//! No raw MP4, ever: after an upload (kept as an original, and another left
//! half-way), every route of the API, every method, unknown paths and upload
//! URLs are walked, with and without credentials, and no response body may
//! start with an MP4 `ftyp` box or contain any stretch of the uploaded bytes.

mod common;

use std::collections::BTreeSet;

use common::api::upload_id;
use common::hls::split_token;
use common::TestApp;
use reqwest::Method;

/// The body, or what arrived of it within 3 s (event streams never end, so
/// this walk reads raw `reqwest` streams).
async fn body_of(resp: reqwest::Response) -> Vec<u8> {
    use futures::StreamExt;
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while let Ok(Some(chunk)) = tokio::time::timeout_at(deadline, stream.next()).await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

fn leaks(body: &[u8], needles: &[Vec<u8>]) -> Option<String> {
    if body.len() >= 8 && &body[4..8] == b"ftyp" {
        return Some("body starts with an ftyp box".into());
    }
    if body
        .windows(8)
        .any(|w| &w[4..8] == b"ftyp" && w[..4].iter().all(|b| *b == 0 || *b < 0x40))
    {
        return Some("body contains an ftyp box".into());
    }
    needles
        .iter()
        .position(|n| body.windows(n.len()).any(|w| w == n.as_slice()))
        .map(|i| format!("body contains upload bytes (needle {i})"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_ever_returns_the_uploaded_mp4() {
    let app = TestApp::init()
        .fast_transcodes()
        .flag("--keep-originals", true)
        .app()
        .await;
    let api = &app.api;
    let (owner, course) = app.creator_with_course().await;
    let token = owner.token.clone();
    let ready = app.ready_video(&owner, &course).await;
    let (video, bytes) = (ready.id, ready.source);
    // The original is kept at rest (the subject here is that it never leaves).
    assert!(
        !app.at_rest()
            .await
            .object_keys(&format!("originals/{video}"))
            .await
            .is_empty(),
        "original kept"
    );
    // A second upload stopped half-way: its bytes sit in partial storage.
    let half = bytes.len() / 2;
    let pending_path = api.new_upload(&token, &course, bytes.len() as u64).await;
    assert_eq!(
        api.patch(&pending_path, &token, 0, bytes[..half].to_vec())
            .await
            .status(),
        204
    );
    let pending = upload_id(&pending_path);

    let learner_token = app.learner_in(&course).await.token;
    let session = api.playback(&learner_token, &video).await;
    let (sid, master_url) = (session.session_id, session.master_url);
    let (base, hls_token) = split_token(&master_url);
    let admin_token = app.user("admin").await.token;
    let owner_token = token.clone();

    // Needles: the head (with the ftyp box) and stretches from the middle.
    let needles: Vec<Vec<u8>> = [
        0,
        bytes.len() / 4,
        bytes.len() / 2,
        bytes.len() * 3 / 4,
        bytes.len() - 64,
    ]
    .iter()
    .map(|&i| bytes[i..i + 64].to_vec())
    .collect();

    // Every documented route, with its parameters filled in several ways.
    let doc: serde_json::Value = api
        .anonymous_get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let documented: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    assert!(documented.len() >= 8, "{documented:?}");
    let mut paths = BTreeSet::new();
    for template in &documented {
        for id in [&video, &pending] {
            for (rung, file) in [
                ("144p", "index.m3u8"),
                ("144p", "seg_00000.ts"),
                ("144p", "source"),
                ("..", "source"),
                ("uploads", "source"),
                ("originals", "x.ts"),
            ] {
                let path = template
                    .replace("{id}", id)
                    .replace("{session_id}", &sid)
                    .replace("{rung}", rung)
                    .replace("{file}", file)
                    .replace("{lang}", "en");
                paths.insert(path.replace("{token}", "x"));
                paths.insert(path.replace("{token}", &hls_token));
            }
        }
    }
    // Where an original might be imagined to live.
    for id in [&video, &pending] {
        for p in [
            format!("/uploads/{id}/source"),
            format!("/uploads/{id}"),
            format!("/objects/uploads/{id}/source"),
            format!("/originals/{id}"),
            format!("/api/v1/uploads/{id}"),
            format!("/api/v1/uploads/{id}/source"),
            format!("/api/v1/videos/{id}/source"),
            format!("/api/v1/videos/{id}/download"),
            format!("/api/v1/videos/{id}/original"),
            format!("/videos/{id}/hls/master.m3u8"),
            format!("{base}../../uploads/{id}/source"),
            format!("{base}../../../uploads/{id}/source"),
            format!("{base}%2e%2e/%2e%2e/uploads/{id}/source"),
            format!("{base}uploads/{id}"),
            format!("{base}uploads/{id}/source"),
            format!("/hls/{sid}/uploads/{id}/source"),
            format!("/posters/{id}/source"),
            format!("/posters/{id}/..%2f..%2fuploads%2f{id}%2fsource"),
        ] {
            paths.insert(p);
        }
    }
    for p in [
        "/",
        "/healthz",
        "/metrics",
        "/no/such/route",
        "/partial",
        "/objects",
    ] {
        paths.insert(p.to_string());
    }

    let methods = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
    ];
    let mut requests = 0;
    for path in &paths {
        // Deleting would end the walk early; DELETE goes last, below.
        for method in methods.iter().filter(|m| **m != Method::DELETE) {
            for auth in [
                None,
                Some(&owner_token),
                Some(&learner_token),
                Some(&admin_token),
            ] {
                let mut req = api
                    .http
                    .request(method.clone(), api.url(path))
                    .header("tus-resumable", "1.0.0");
                if let Some(t) = auth {
                    req = req.bearer_auth(t);
                }
                if *method == Method::PATCH {
                    // An empty append at the current offset is harmless.
                    req = req
                        .header("content-type", "application/offset+octet-stream")
                        .header("upload-offset", "0");
                }
                let resp = req.send().await.unwrap();
                let status = resp.status();
                let body = body_of(resp).await;
                requests += 1;
                if let Some(why) = leaks(&body, &needles) {
                    panic!("{method} {path} ({status}): {why}");
                }
            }
        }
    }
    assert!(requests > 500, "walked only {requests} requests");
    // The server is still up and the pending upload still intact.
    assert_eq!(api.offset(&pending_path, &token).await, half as u64);
    // Finally DELETE everywhere (the videos go; nothing leaks on the way).
    for path in &paths {
        let resp = api
            .http
            .delete(api.url(path))
            .bearer_auth(&admin_token)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        let body = body_of(resp).await;
        assert!(leaks(&body, &needles).is_none(), "DELETE {path}");
    }
}
