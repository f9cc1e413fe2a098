//! The key route end to end, through its router: a fixture with an in-memory
//! [`KeyStore`], two videos' sealed keys, a live session and its cookie.

mod denials;
mod grants;
mod limits;

use super::*;
use crate::custody::{seal, KeyContext, SealedKey};
use crate::pacing::ManualClock;
use crate::tokens::{Role, SigningKeyring, TokenIssuer, VerifierConfig};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use tower::ServiceExt;

pub(super) const NOW: u64 = 1_700_000_000;
pub(super) const ISS: &str = "https://sealcast.test";
pub(super) const AUD: &str = "sealcast";

#[derive(Default)]
pub(super) struct MemStore {
    pub(super) sessions: Mutex<HashMap<String, SessionRecord>>,
    pub(super) entitlements: Mutex<HashMap<(String, String), Entitlement>>,
    pub(super) keys: Mutex<HashMap<(String, String), SealedKey>>,
    pub(super) audits: Mutex<Vec<KeyAuditEvent>>,
    pub(super) fail_audit: Mutex<bool>,
    pub(super) fail_store: Mutex<bool>,
}

#[async_trait]
impl KeyStore for MemStore {
    async fn playback_session(
        &self,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, StoreError> {
        if *self.fail_store.lock().unwrap() {
            return Err(StoreError("down".into()));
        }
        Ok(self.sessions.lock().unwrap().get(session_id).cloned())
    }
    async fn entitlement(&self, user_id: &str, video_id: &str) -> Result<Entitlement, StoreError> {
        Ok(self
            .entitlements
            .lock()
            .unwrap()
            .get(&(user_id.to_owned(), video_id.to_owned()))
            .copied()
            .unwrap_or(Entitlement::NotEnrolled))
    }
    async fn sealed_key(
        &self,
        video_id: &str,
        key_id: &str,
    ) -> Result<Option<SealedKey>, StoreError> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .get(&(video_id.to_owned(), key_id.to_owned()))
            .cloned())
    }
    async fn audit(&self, event: KeyAuditEvent) -> Result<(), StoreError> {
        if *self.fail_audit.lock().unwrap() {
            return Err(StoreError("audit down".into()));
        }
        self.audits.lock().unwrap().push(event);
        Ok(())
    }
}

pub(super) struct Fixture {
    pub(super) store: Arc<MemStore>,
    pub(super) router: Router,
    pub(super) signer: Arc<UrlSigner>,
    pub(super) issuer: TokenIssuer,
    pub(super) clock: Arc<ManualClock>,
    pub(super) cookie: String,
}

pub(super) fn key_bytes(video: &str, n: u32) -> [u8; 16] {
    let mut k = [0u8; 16];
    let h = Sha256::digest(format!("{video}/{n}").as_bytes());
    k.copy_from_slice(&h[..16]);
    k
}

pub(super) fn fixture() -> Fixture {
    fixture_with(KeyDeliveryConfig::default())
}

/// The fixture with its own delivery config (request limit, pacing).
pub(super) fn fixture_with(config: KeyDeliveryConfig) -> Fixture {
    let store = Arc::new(MemStore::default());
    let master = MasterKeyPair::generate();
    // Two videos with keys k0..k9 each; "v2" is someone else's video.
    for video in ["v1", "v2"] {
        for n in 0..10 {
            let kid = format!("k{n}");
            let ctx = KeyContext {
                video_id: video,
                key_id: &kid,
            };
            let sealed = seal(master.public_key(), &ctx, &key_bytes(video, n)).unwrap();
            store
                .keys
                .lock()
                .unwrap()
                .insert((video.into(), kid), sealed);
        }
    }
    let (cookie, hash) = new_session_cookie();
    store.sessions.lock().unwrap().insert(
        "sess1".into(),
        SessionRecord {
            user_id: "alice".into(),
            video_id: "v1".into(),
            expires_at: NOW + 3600,
            ended: false,
            revoked: false,
            crypto_period: std::time::Duration::from_secs(10),
            cookie_secret_hash: Some(hash),
        },
    );
    store
        .entitlements
        .lock()
        .unwrap()
        .insert(("alice".into(), "v1".into()), Entitlement::Allowed);
    let ring = SigningKeyring::generate();
    let verifier = Arc::new(TokenVerifier::new(
        VerifierConfig::new(ISS, AUD),
        ring.public_keys(),
    ));
    let issuer = TokenIssuer::new(ring, ISS, AUD);
    let signer = Arc::new(UrlSigner::new(&[9u8; 32]).unwrap());
    let clock = Arc::new(ManualClock::new(NOW));
    let kd = KeyDelivery::new(
        store.clone(),
        master,
        verifier,
        signer.clone(),
        config,
        clock.clone(),
    );
    Fixture {
        store,
        router: kd.router(),
        signer,
        issuer,
        clock,
        cookie,
    }
}

impl Fixture {
    pub(super) fn url(&self, session: &str, key: &str) -> String {
        let prefix = format!("/keys/{session}/");
        let q = self.signer.query(&prefix, session, NOW + 600).unwrap();
        format!("{prefix}{key}?{q}")
    }
    /// The key as a session's playlists name it: under the path token.
    pub(super) fn hls_url(&self, session: &str, key: &str) -> String {
        let prefix = format!("/hls/{session}/");
        let token = self.signer.path_token(&prefix, session, NOW + 600).unwrap();
        format!("{prefix}{token}/{key}.key")
    }
    pub(super) fn token(&self, user: &str) -> String {
        self.issuer
            .issue_at(user, Role::Learner, None, NOW)
            .unwrap()
            .0
    }
    pub(super) async fn get(
        &self,
        uri: &str,
        auth: Option<&str>,
        cookie: Option<&str>,
    ) -> Response {
        let mut b = axum::http::Request::builder().uri(uri);
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.router
            .clone()
            .oneshot(b.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }
    pub(super) async fn get_bearer(&self, session: &str, key: &str, user: &str) -> Response {
        let auth = format!("Bearer {}", self.token(user));
        self.get(&self.url(session, key), Some(&auth), None).await
    }
    /// Change the stored session `id` (which must exist), as the database would.
    pub(super) fn edit_session(&self, id: &str, edit: impl FnOnce(&mut SessionRecord)) {
        edit(self.store.sessions.lock().unwrap().get_mut(id).unwrap());
    }
    pub(super) fn last_audit(&self) -> KeyAuditEvent {
        self.store.audits.lock().unwrap().last().cloned().unwrap()
    }
    pub(super) fn audit_count(&self) -> usize {
        self.store.audits.lock().unwrap().len()
    }
}

pub(super) async fn body_bytes(r: Response) -> Vec<u8> {
    axum::body::to_bytes(r.into_body(), 1 << 16)
        .await
        .unwrap()
        .to_vec()
}

/// Assert a JSON error with status + code, and that it was audited as a denial.
pub(super) async fn assert_denied(f: &Fixture, r: Response, status: StatusCode, code: &str) {
    assert_eq!(r.status(), status, "expected {code}");
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    assert!(r
        .headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .is_none());
    let v: serde_json::Value = serde_json::from_slice(&body_bytes(r).await).unwrap();
    assert_eq!(v["error"]["code"], code);
    assert!(v["error"]["message"].is_string());
    assert!(v["error"]["request_id"].is_string());
    let a = f.last_audit();
    assert_eq!(a.outcome, AuditOutcome::Denied);
    assert_eq!(a.reason, code);
    assert_eq!(a.status, status.as_u16());
}
