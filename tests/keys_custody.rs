//! Key custody against the real server: an edge-only process never reads
//! or creates the master key, and rotating the master and signing keys
//! keeps every content key and token working across a restart.

mod common;

use std::process::Stdio;

use common::app::url_signer;
use common::{assert_error, Api, AtRest, TestApp, TestServer};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_only_process_never_touches_the_master_key() {
    let first = TestServer::builder().start();
    let data_path = first.data_path();
    let dir = first.crash();
    let master = data_path.join("secrets/master.key");
    assert!(data_path.join("secrets/master.pub").exists());
    std::fs::remove_file(&master).unwrap();
    let edge = TestServer::builder().data_dir(dir).roles("edge").start();
    let api = Api::new(&edge);
    assert_eq!(api.anonymous_get("/readyz").await.status(), 200);
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

/// An edge forwarding `/keys/` to a key server it cannot reach answers 503
/// with `Retry-After` in the one envelope (never a key, never a hang), and stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_whose_key_server_is_down_answers_503_with_retry_after() {
    let first = TestServer::builder().start();
    let dir = first.crash();
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let edge = TestServer::builder()
        .data_dir(dir)
        .roles("edge")
        .flag("--keyserver-url", format!("http://127.0.0.1:{port}"))
        .start();
    let api = Api::new(&edge);
    let url = "/keys/0123456789abcdef0123456789abcdef/k0?exp=1&sig=x";
    let resp = api.key(url, None).await;
    assert_eq!(resp.headers()["retry-after"], "1");
    let body = assert_error(resp, 503, "unavailable").await;
    assert!(body["error"]["request_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    assert!(
        !edge.log().contains(&format!("{port}/keys")),
        "no URL with its query in the log"
    );
    assert_eq!(api.anonymous_get("/healthz").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_master_and_signing_keys_keeps_everything_working() {
    let app = TestApp::init().fast_transcodes().app().await;
    let api = &app.api;
    let c = app.cast().await;
    let video = app.ready_video(&c.creator, &c.course).await.id;
    let playback = app.playback(&c.learner, &video).await;
    let session = playback.session_id.clone();
    // Every content key, as the learner gets it before any rotation.
    let mut keys = Vec::new();
    for key_id in common::hls::key_ids(&app.segments(&playback).await) {
        let resp = api
            .key(&app.key_url(&session, &key_id), Some(&c.learner.token))
            .await;
        assert_eq!(resp.status(), 200);
        keys.push((key_id, resp.bytes().await.unwrap()));
    }
    assert!(keys.len() >= 2, "{keys:?}");
    // Keys sealed at rest are this test's subject: read them from the database.
    let data = AtRest::of(app.server()).await;
    let old_master = data.master();

    for cmd in ["rotate-master-key", "rotate-signing-key"] {
        let out = app
            .server()
            .admin_command(&[cmd])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rows = data.sealed_keys(&video).await;
    assert_eq!(rows.len(), keys.len());
    let new_master = data.master();
    assert_ne!(new_master.fingerprint(), old_master.fingerprint());
    for (key_id, sealed, fp) in &rows {
        assert_eq!(fp, &new_master.fingerprint().to_hex());
        let sealed = sealcast_keyserver::SealedKey::from_base64(sealed).unwrap();
        let ctx = sealcast_keyserver::KeyContext {
            video_id: &video,
            key_id,
        };
        assert!(sealcast_keyserver::open(&old_master, &ctx, &sealed).is_err());
        assert!(sealcast_keyserver::open(&new_master, &ctx, &sealed).is_ok());
    }

    // Restart on the same data dir: the same keys come out, the old token verifies.
    let signer_path = app.data_path();
    let dir = app.into_server().crash();
    let server = TestApp::init().data_dir(dir).start();
    let api = Api::new(&server);
    for (i, (key_id, key)) in keys.iter().enumerate() {
        let exp = (sealcast::db::now_ms() / 1000) as u64 + 600;
        let url =
            sealcast::playback::key_url(&url_signer(&signer_path), &session, key_id, exp).unwrap();
        let resp = api.key(&url, Some(&c.learner.token)).await;
        assert_eq!(resp.status(), 200, "key {i}");
        assert_eq!(&resp.bytes().await.unwrap(), key);
    }
    let jwks: Value = api
        .anonymous_get("/.well-known/jwks.json")
        .await
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
