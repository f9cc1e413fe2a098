//! Key delivery: the axum route `GET /keys/{session_id}/{key_id}?exp=…&sig=…`.
//!
//! Checks, in this order, every request (nothing about sessions or entitlements is
//! cached, so a revocation in the shared database bites on the very next key request
//! on every node):
//!
//! 1. signed URL (`403 bad_signature` / `403 expired_signature`);
//! 2. playback session exists and is live (`404 session_not_found` / `403 session_ended`,
//!    `403 session_revoked` when a revocation ended it);
//! 3. the caller proves to be the session's user: `Authorization: Bearer <JWT>` whose
//!    user is the session's user (`401 missing_token` / `401 invalid_token` /
//!    `403 wrong_user`), or the HttpOnly cookie `sealcast_ks_<session_id>` whose
//!    SHA-256 equals the stored hash (for Safari native HLS, which cannot set headers);
//!    (session, entitlement and key are read together by [`KeyStore::lookup`], then
//!    checked in this order);
//! 4. entitlement (`403 revoked` / `403 not_entitled` / `403 user_disabled` / `404 video_gone`);
//! 5. the key belongs to the session's video (`404 key_not_found`);
//! 6. pacing (`429 key_pacing` + `Retry-After`);
//! 7. open the sealed key → `200 application/octet-stream`, exactly 16 bytes,
//!    `Cache-Control: no-store`, `Pragma: no-cache`.
//!
//! Every grant and denial is passed to [`KeyStore::audit`]. A grant whose audit write
//! fails is turned into a `503` (fail closed: no unrecorded key handouts).
//!
//! This module must never: cache session or entitlement state; return a key before all
//! checks pass; add CORS headers (the key route is not for cross-origin scripts beyond
//! what the root crate deliberately configures); log or echo key bytes, tokens or
//! cookie values; or let the master secret leave [`KeyDelivery`].

use crate::custody::{open, KeyContext, MasterKeyPair, SealedKey};
use crate::pacing::{Clock, KeyPacer, PacingConfig, PacingDecision};
use crate::signed_url::{is_valid_id, SignatureError, SignedQuery, UrlSigner};
use crate::tokens::TokenVerifier;
use async_trait::async_trait;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// A playback session as stored by the root crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The user the session was opened for.
    pub user_id: String,
    /// The video being watched.
    pub video_id: String,
    /// Hard expiry, unix seconds.
    pub expires_at: u64,
    /// Explicitly ended (logout, stop, replaced, admin action).
    pub ended: bool,
    /// Ended by a revocation (admin action, enrollment removal), so the client is
    /// told `session_revoked` rather than `session_ended` and stops retrying.
    pub revoked: bool,
    /// Seconds of media per content key; drives pacing.
    pub crypto_period_seconds: u32,
    /// SHA-256 of the session cookie value, if a cookie was issued (Safari native HLS).
    pub cookie_secret_hash: Option<[u8; 32]>,
}

/// Whether a user may currently watch a video. Queried on every key request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entitlement {
    /// May watch.
    Allowed,
    /// Access was revoked (refund, removal from course, …).
    Revoked,
    /// Never enrolled.
    NotEnrolled,
    /// The user account is disabled.
    UserDisabled,
    /// The video was deleted or unpublished.
    VideoGone,
}

/// A storage failure. The key route fails closed (503) on any of these.
#[derive(Debug, Clone, thiserror::Error)]
#[error("key store error: {0}")]
pub struct StoreError(pub String);

/// Grant or denial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// The key was handed out.
    Granted,
    /// The request was refused.
    Denied,
}

/// One audit record per key request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyAuditEvent {
    /// Grant or denial.
    pub outcome: AuditOutcome,
    /// `"granted"` or the error code returned to the client (e.g. `"revoked"`).
    pub reason: &'static str,
    /// HTTP status returned.
    pub status: u16,
    /// Session id from the URL (unverified when `reason` is a signature failure).
    pub session_id: String,
    /// The session's user, once the session was loaded.
    pub user_id: Option<String>,
    /// The session's video, once the session was loaded.
    pub video_id: Option<String>,
    /// Requested key id.
    pub key_id: String,
    /// Client address ([`ClientIp`] extension, else the socket peer).
    pub ip: Option<IpAddr>,
    /// When, unix seconds.
    pub at: u64,
    /// True for pacing denials, so dashboards can tell speed bumps from walls.
    pub pacing: bool,
}

/// The storage the root crate implements over its database. No method may be
/// answered from a node-local cache that could outlive a revocation by > 1 s.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Load a playback session.
    async fn playback_session(&self, session_id: &str)
        -> Result<Option<SessionRecord>, StoreError>;
    /// Current entitlement of `user_id` to `video_id` (queried on every request).
    async fn entitlement(&self, user_id: &str, video_id: &str) -> Result<Entitlement, StoreError>;
    /// The sealed content key `key_id` **of `video_id`** (None if that video has no such key).
    async fn sealed_key(
        &self,
        video_id: &str,
        key_id: &str,
    ) -> Result<Option<SealedKey>, StoreError>;
    /// Record a grant or denial.
    async fn audit(&self, event: KeyAuditEvent) -> Result<(), StoreError>;

    /// Everything one key request needs: the session and, if it exists, its user's
    /// entitlement and the sealed key `key_id` of its video. The default makes the
    /// three calls above; a store may override it to answer in one round trip. The
    /// same rule holds: read now, never from a cache.
    async fn lookup(
        &self,
        session_id: &str,
        key_id: &str,
    ) -> Result<Option<KeyLookup>, StoreError> {
        let Some(session) = self.playback_session(session_id).await? else {
            return Ok(None);
        };
        let entitlement = self
            .entitlement(&session.user_id, &session.video_id)
            .await?;
        let sealed = if is_valid_id(key_id) {
            self.sealed_key(&session.video_id, key_id).await?
        } else {
            None
        };
        Ok(Some(KeyLookup {
            session,
            entitlement,
            sealed,
        }))
    }
}

/// What [`KeyStore::lookup`] returns for an existing session.
#[derive(Debug, Clone)]
pub struct KeyLookup {
    /// The session.
    pub session: SessionRecord,
    /// Its user's current entitlement to its video.
    pub entitlement: Entitlement,
    /// The requested key of its video, if there is one.
    pub sealed: Option<SealedKey>,
}

/// Request extension the root crate may set (from a trusted proxy header) to give the
/// real client address for audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// Name of the per-session key cookie.
pub fn cookie_name(session_id: &str) -> String {
    format!("sealcast_ks_{session_id}")
}

/// A fresh random cookie value and the SHA-256 hash to store in the session record.
/// Only the hash is stored, so a database leak does not yield usable cookies.
pub fn new_session_cookie() -> (String, [u8; 32]) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let value = URL_SAFE_NO_PAD.encode(raw);
    let hash: [u8; 32] = Sha256::digest(value.as_bytes()).into();
    (value, hash)
}

/// `Set-Cookie` value for the session cookie: scoped to `/keys/{session_id}/`,
/// HttpOnly (no script access), Secure, SameSite=Strict.
pub fn session_cookie_header(session_id: &str, value: &str, max_age_secs: u64) -> String {
    format!(
        "{}={value}; Path=/keys/{session_id}/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Strict",
        cookie_name(session_id)
    )
}

struct Inner {
    store: Arc<dyn KeyStore>,
    master: MasterKeyPair,
    verifier: Arc<TokenVerifier>,
    signer: Arc<UrlSigner>,
    pacer: KeyPacer,
    clock: Arc<dyn Clock>,
}

/// The key-server role's state. Owns the [`MasterKeyPair`]; nothing hands it out.
#[derive(Clone)]
pub struct KeyDelivery {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KeyDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyDelivery")
            .field("master", &self.inner.master)
            .field("pacer", &self.inner.pacer)
            .finish_non_exhaustive()
    }
}

impl KeyDelivery {
    /// Build the key-server state. `master` is moved in and never leaves.
    pub fn new(
        store: Arc<dyn KeyStore>,
        master: MasterKeyPair,
        verifier: Arc<TokenVerifier>,
        signer: Arc<UrlSigner>,
        pacing: PacingConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                master,
                verifier,
                signer,
                pacer: KeyPacer::new(pacing, clock.clone()),
                clock,
            }),
        }
    }

    /// The master public key (for `seal`, health output).
    pub fn master_public_key(&self) -> x25519_dalek::PublicKey {
        *self.inner.master.public_key()
    }

    /// The router to mount (merge, don't nest: the signed prefix is `/keys/{session_id}/`).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/keys/{session_id}/{key_id}", get(get_key))
            .with_state(self.clone())
    }
}

/// A denial: status, client-visible code/message, pacing flag, optional Retry-After.
struct Denial {
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    retry_after: Option<u64>,
}

const fn deny(status: StatusCode, code: &'static str, message: &'static str) -> Denial {
    Denial {
        status,
        code,
        message,
        retry_after: None,
    }
}

const STORE_DOWN: Denial = deny(
    StatusCode::SERVICE_UNAVAILABLE,
    "store_unavailable",
    "key store unavailable",
);

fn error_response(d: &Denial) -> Response {
    let body = json!({"error": {"code": d.code, "message": d.message}});
    let mut resp = (d.status, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    if let Some(secs) = d.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            h.insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

fn client_ip(req: &Parts) -> Option<IpAddr> {
    req.extensions.get::<ClientIp>().map(|c| c.0).or_else(|| {
        req.extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
    })
}

enum Proof {
    Missing,
    Invalid,
    WrongUser,
    Ok,
}

fn bearer(headers: &HeaderMap) -> Option<Option<&str>> {
    let v = headers.get(header::AUTHORIZATION)?;
    let s = match v.to_str() {
        Ok(s) => s,
        Err(_) => return Some(None),
    };
    let (scheme, token) = s.split_once(' ').unwrap_or((s, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Some(None);
    }
    Some(Some(token.trim()))
}

fn cookie_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
        .take(4)
        .collect()
}

fn prove_user(
    inner: &Inner,
    headers: &HeaderMap,
    session_id: &str,
    session: &SessionRecord,
    now: u64,
) -> Proof {
    // An Authorization header, if present, is authoritative: no cookie fallback.
    if let Some(tok) = bearer(headers) {
        let Some(tok) = tok else {
            return Proof::Invalid;
        };
        return match inner.verifier.verify_at(tok, now) {
            Ok(id) if id.user_id == session.user_id => Proof::Ok,
            Ok(_) => Proof::WrongUser,
            Err(e) => {
                tracing::debug!(error = %e, "key request with invalid token");
                Proof::Invalid
            }
        };
    }
    let candidates = cookie_values(headers, &cookie_name(session_id));
    if candidates.is_empty() {
        return Proof::Missing;
    }
    let Some(expected) = session.cookie_secret_hash else {
        return Proof::Invalid;
    };
    let mut ok = subtle::Choice::from(0u8);
    for c in candidates {
        let h: [u8; 32] = Sha256::digest(c.as_bytes()).into();
        ok |= h.ct_eq(&expected);
    }
    if bool::from(ok) {
        Proof::Ok
    } else {
        Proof::Invalid
    }
}

async fn get_key(
    State(kd): State<KeyDelivery>,
    path: Result<Path<(String, String)>, PathRejection>,
    req: Request,
) -> Response {
    // Drop the body up front: only the head is needed, and `Parts` is `Sync`.
    let (req, _body) = req.into_parts();
    let inner = &kd.inner;
    let now = inner.clock.unix_seconds();
    let (session_id, key_id) = match path {
        Ok(Path(p)) => p,
        Err(_) => {
            return error_response(&deny(StatusCode::NOT_FOUND, "key_not_found", "no such key"))
        }
    };
    let mut event = KeyAuditEvent {
        outcome: AuditOutcome::Denied,
        reason: "",
        status: 0,
        session_id: session_id.clone(),
        user_id: None,
        video_id: None,
        key_id: key_id.clone(),
        ip: client_ip(&req),
        at: now,
        pacing: false,
    };
    match serve_key(inner, &session_id, &key_id, &req, now, &mut event).await {
        Ok(key) => {
            event.outcome = AuditOutcome::Granted;
            event.reason = "granted";
            event.status = 200;
            if let Err(e) = inner.store.audit(event).await {
                // Fail closed: a key handout must be on record.
                tracing::error!(error = %e, "audit write failed; refusing key");
                return error_response(&deny(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "audit_unavailable",
                    "audit log unavailable",
                ));
            }
            let mut resp = Response::new(Body::from(key.to_vec()));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("16"));
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            resp
        }
        Err(d) => {
            event.reason = d.code;
            event.status = d.status.as_u16();
            event.pacing = d.code == "key_pacing";
            if let Err(e) = inner.store.audit(event).await {
                tracing::warn!(error = %e, code = d.code, "audit write failed for denial");
            }
            error_response(&d)
        }
    }
}

async fn serve_key(
    inner: &Inner,
    session_id: &str,
    key_id: &str,
    req: &Parts,
    now: u64,
    event: &mut KeyAuditEvent,
) -> Result<zeroize::Zeroizing<[u8; 16]>, Denial> {
    // 1. Signature over the /keys/{session_id}/ prefix.
    let q = SignedQuery::parse(req.uri.query().unwrap_or("")).ok_or(deny(
        StatusCode::FORBIDDEN,
        "bad_signature",
        "missing or invalid URL signature",
    ))?;
    let path = format!("/keys/{session_id}/{key_id}");
    match inner.signer.verify(&path, session_id, q.exp, &q.sig, now) {
        Ok(()) => {}
        Err(SignatureError::Bad) => {
            return Err(deny(
                StatusCode::FORBIDDEN,
                "bad_signature",
                "missing or invalid URL signature",
            ))
        }
        Err(SignatureError::Expired) => {
            return Err(deny(
                StatusCode::FORBIDDEN,
                "expired_signature",
                "URL signature expired",
            ))
        }
    }

    // 2. Session exists and is live. Session, entitlement and sealed key are read
    //    now, in one store call (one round trip where the store can), and checked
    //    below in order.
    let KeyLookup {
        session,
        entitlement: ent,
        sealed,
    } = inner
        .store
        .lookup(session_id, key_id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "key lookup failed");
            STORE_DOWN
        })?
        .ok_or(deny(
            StatusCode::NOT_FOUND,
            "session_not_found",
            "no such playback session",
        ))?;
    event.user_id = Some(session.user_id.clone());
    event.video_id = Some(session.video_id.clone());
    if session.ended && session.revoked {
        return Err(deny(
            StatusCode::FORBIDDEN,
            "session_revoked",
            "playback session was revoked",
        ));
    }
    if session.ended || session.expires_at <= now {
        return Err(deny(
            StatusCode::FORBIDDEN,
            "session_ended",
            "playback session has ended or expired",
        ));
    }

    // 3. Caller proves to be the session's user.
    match prove_user(inner, &req.headers, session_id, &session, now) {
        Proof::Ok => {}
        Proof::Missing => {
            return Err(deny(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "a bearer token or session cookie is required",
            ))
        }
        Proof::Invalid => {
            return Err(deny(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "invalid bearer token or session cookie",
            ))
        }
        Proof::WrongUser => {
            return Err(deny(
                StatusCode::FORBIDDEN,
                "wrong_user",
                "token does not belong to this session's user",
            ))
        }
    }

    // 4. Entitlement, fresh from the store every time.
    match ent {
        Entitlement::Allowed => {}
        Entitlement::Revoked => {
            return Err(deny(StatusCode::FORBIDDEN, "revoked", "access revoked"))
        }
        Entitlement::NotEnrolled => {
            return Err(deny(
                StatusCode::FORBIDDEN,
                "not_entitled",
                "not entitled to this video",
            ))
        }
        Entitlement::UserDisabled => {
            return Err(deny(
                StatusCode::FORBIDDEN,
                "user_disabled",
                "user account disabled",
            ))
        }
        Entitlement::VideoGone => {
            return Err(deny(
                StatusCode::NOT_FOUND,
                "video_gone",
                "video no longer available",
            ))
        }
    }

    // 5. The key belongs to this session's video.
    let key_not_found = deny(StatusCode::NOT_FOUND, "key_not_found", "no such key");
    if !is_valid_id(key_id) {
        return Err(key_not_found);
    }
    let sealed = sealed.ok_or(key_not_found)?;

    // 6. Pacing.
    let period = Duration::from_secs(u64::from(session.crypto_period_seconds.max(1)));
    if let PacingDecision::Denied { retry_after_secs } =
        inner.pacer.check(session_id, key_id, period)
    {
        return Err(Denial {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "key_pacing",
            message: "keys requested faster than playback; retry later",
            retry_after: Some(retry_after_secs),
        });
    }

    // 7. Open (AAD binds video and key id: a mis-filed row fails here, not silently).
    let ctx = KeyContext {
        video_id: &session.video_id,
        key_id,
    };
    open(&inner.master, &ctx, &sealed).map_err(|e| {
        tracing::error!(error = %e, video_id = %session.video_id, key_id, "sealed key did not open");
        deny(
            StatusCode::INTERNAL_SERVER_ERROR,
            "key_unavailable",
            "key could not be opened",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::seal;
    use crate::pacing::ManualClock;
    use crate::tokens::{Role, SigningKeyring, TokenIssuer, VerifierConfig};
    use std::collections::HashMap;
    use std::sync::Mutex;
    use tower::ServiceExt;

    const NOW: u64 = 1_700_000_000;
    const ISS: &str = "https://sealcast.test";
    const AUD: &str = "sealcast";

    #[derive(Default)]
    struct MemStore {
        sessions: Mutex<HashMap<String, SessionRecord>>,
        entitlements: Mutex<HashMap<(String, String), Entitlement>>,
        keys: Mutex<HashMap<(String, String), SealedKey>>,
        audits: Mutex<Vec<KeyAuditEvent>>,
        fail_audit: Mutex<bool>,
        fail_store: Mutex<bool>,
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
        async fn entitlement(
            &self,
            user_id: &str,
            video_id: &str,
        ) -> Result<Entitlement, StoreError> {
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

    struct Fixture {
        store: Arc<MemStore>,
        router: Router,
        signer: Arc<UrlSigner>,
        issuer: TokenIssuer,
        clock: Arc<ManualClock>,
        cookie: String,
    }

    fn key_bytes(video: &str, n: u32) -> [u8; 16] {
        let mut k = [0u8; 16];
        let h = Sha256::digest(format!("{video}/{n}").as_bytes());
        k.copy_from_slice(&h[..16]);
        k
    }

    fn fixture() -> Fixture {
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
                crypto_period_seconds: 10,
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
            PacingConfig::default(),
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
        fn url(&self, session: &str, key: &str) -> String {
            let prefix = format!("/keys/{session}/");
            let q = self.signer.query(&prefix, session, NOW + 600).unwrap();
            format!("{prefix}{key}?{q}")
        }
        fn token(&self, user: &str) -> String {
            self.issuer
                .issue_at(user, Role::Learner, None, NOW)
                .unwrap()
                .0
        }
        async fn get(&self, uri: &str, auth: Option<&str>, cookie: Option<&str>) -> Response {
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
        async fn get_bearer(&self, session: &str, key: &str, user: &str) -> Response {
            let auth = format!("Bearer {}", self.token(user));
            self.get(&self.url(session, key), Some(&auth), None).await
        }
        fn last_audit(&self) -> KeyAuditEvent {
            self.store.audits.lock().unwrap().last().cloned().unwrap()
        }
        fn audit_count(&self) -> usize {
            self.store.audits.lock().unwrap().len()
        }
    }

    async fn body_bytes(r: Response) -> Vec<u8> {
        axum::body::to_bytes(r.into_body(), 1 << 16)
            .await
            .unwrap()
            .to_vec()
    }

    /// Assert a JSON error with status + code, and that it was audited as a denial.
    async fn assert_denied(f: &Fixture, r: Response, status: StatusCode, code: &str) {
        assert_eq!(r.status(), status, "expected {code}");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
        assert!(r
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none());
        let v: serde_json::Value = serde_json::from_slice(&body_bytes(r).await).unwrap();
        assert_eq!(v["error"]["code"], code);
        assert!(v["error"]["message"].is_string());
        let a = f.last_audit();
        assert_eq!(a.outcome, AuditOutcome::Denied);
        assert_eq!(a.reason, code);
        assert_eq!(a.status, status.as_u16());
    }

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
        let set = session_cookie_header("sess1", &f.cookie, 60);
        assert!(
            set.contains("HttpOnly") && set.contains("Secure") && set.contains("Path=/keys/sess1/")
        );
    }

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
        f.store
            .sessions
            .lock()
            .unwrap()
            .get_mut("sess1")
            .unwrap()
            .ended = true;
        let r = f.get_bearer("sess1", "k0", "alice").await;
        assert_denied(&f, r, StatusCode::FORBIDDEN, "session_ended").await;
        f.store
            .sessions
            .lock()
            .unwrap()
            .get_mut("sess1")
            .unwrap()
            .revoked = true;
        let r = f.get_bearer("sess1", "k0", "alice").await;
        assert_denied(&f, r, StatusCode::FORBIDDEN, "session_revoked").await;
        {
            let mut s = f.store.sessions.lock().unwrap();
            let rec = s.get_mut("sess1").unwrap();
            rec.ended = false;
            rec.revoked = false;
            rec.expires_at = NOW;
        }
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
        set(Entitlement::NotEnrolled);
        let r = f.get_bearer("sess1", "k1", "alice").await;
        assert_denied(&f, r, StatusCode::FORBIDDEN, "not_entitled").await;
        set(Entitlement::UserDisabled);
        let r = f.get_bearer("sess1", "k1", "alice").await;
        assert_denied(&f, r, StatusCode::FORBIDDEN, "user_disabled").await;
        set(Entitlement::VideoGone);
        let r = f.get_bearer("sess1", "k1", "alice").await;
        assert_denied(&f, r, StatusCode::NOT_FOUND, "video_gone").await;
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
}
