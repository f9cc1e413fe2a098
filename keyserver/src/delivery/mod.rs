//! Key delivery: the axum route `GET /keys/{session_id}/{key_id}?exp=…&sig=…`,
//! and the same key at `GET /hls/{session_id}/{token}/{key_id}.key`, the
//! relative URI (`../{key_id}.key`) a session's media playlists name it by,
//! so that they need no per-session work (signed over `/hls/{session_id}/`
//! by the session's path token; every check below runs the same).
//!
//! Checks, in this order, every request. Session and entitlement come from the
//! [`KeyStore`], which may answer from memory only under the rule its docs give (a
//! revocation anywhere is seen by a node's next key request once the node has heard of
//! it, within a second, and never on a node that cannot hear); this crate caches
//! neither:
//!
//! 1. signed URL (`403 bad_signature` / `403 expired_signature`), verified here and
//!    nowhere else;
//! 2. playback session exists and is live (`404 session_not_found` / `403 session_ended`,
//!    `403 session_revoked` when a revocation ended it);
//! 3. the caller proves to be the session's user: `Authorization: Bearer <JWT>` whose
//!    user is the session's user (`401 missing_token` / `401 invalid_token` /
//!    `403 wrong_user`), or the HttpOnly cookie `sealcast_ks_<session_id>` whose
//!    SHA-256 equals the stored hash (for Safari native HLS, which cannot set headers);
//!    (session, entitlement and key are read together by [`KeyStore::lookup`], then
//!    checked in this order); only then is the request charged to the session's
//!    request limit (`429 rate_limited` + `Retry-After`,
//!    [`KeyDeliveryConfig::requests_per_second`]), so a stranger holding a signed URL
//!    cannot starve the session's owner;
//! 4. entitlement (`403 revoked` / `403 not_entitled` / `403 user_disabled` / `404 video_gone`);
//! 5. the key belongs to the session's video (`404 key_not_found`);
//! 6. pacing per user and video, across sessions (`429 key_pacing` + `Retry-After`);
//! 7. open the sealed key → `200 application/octet-stream`, exactly 16 bytes,
//!    `Cache-Control: no-store`, `Pragma: no-cache`.
//!
//! Every error is the API's JSON envelope `{"error":{"code","message","request_id"}}`
//! with a [`KeyErrorCode`]. Every grant and denial is passed to [`KeyStore::audit`]
//! (in module `audit`, the one place); a grant whose audit write fails is turned into a
//! `503` (fail closed: no unrecorded key handouts).
//!
//! Two things are remembered, neither of them access state: tokens that verified
//! (by SHA-256, until their own expiry) and content keys this process opened (the
//! X25519 open), each in a byte-budgeted [`crate::cache::BudgetCache`] with metrics.
//!
//! This module must never: cache session or entitlement state itself (that is the
//! store's, under the revocation bus); return a key before all
//! checks pass; add CORS headers (the key route is not for cross-origin scripts beyond
//! what the root crate deliberately configures); log or echo key bytes, tokens or
//! cookie values; or let the master secret leave [`KeyDelivery`].

mod audit;
mod checks;
mod cookies;
mod error;
mod identity;
mod limits;
mod request;
mod route;
mod store;
#[cfg(test)]
mod tests;

/// The key route under a session's path token (see the module docs).
pub const HLS_KEY_ROUTE: &str = "/hls/{session_id}/{token}/{key_file}";

pub use audit::{AuditOutcome, KeyAuditEvent};
pub use cookies::{cookie_name, cookie_values, new_session_cookie, session_cookie_headers};
pub use error::KeyErrorCode;
pub use request::{ClientIp, HLS_KEY_SUFFIX};
pub use store::{Entitlement, KeyLookup, KeyStore, SessionRecord, StoreError};

use crate::custody::MasterKeyPair;
use crate::pacing::{Clock, KeyPacer, PacingConfig};
use crate::signed_url::UrlSigner;
use crate::tokens::TokenVerifier;
use axum::routing::get;
use axum::Router;
use limits::SessionRequestLimit;
use std::sync::Arc;

/// What the root crate has allowed so far: 20 key requests per session per second.
pub const DEFAULT_KEY_REQUESTS_PER_SECOND: u32 = 20;

/// Knobs of the key route.
#[derive(Debug, Clone)]
pub struct KeyDeliveryConfig {
    /// Pacing of distinct keys per user and video.
    pub pacing: PacingConfig,
    /// Key requests a session may make per second, repeats included (burst 4×);
    /// 0 counts as 1. Default [`DEFAULT_KEY_REQUESTS_PER_SECOND`].
    pub requests_per_second: u32,
}

impl Default for KeyDeliveryConfig {
    fn default() -> Self {
        PacingConfig::default().into()
    }
}

/// Pacing as given, the request limit at its default.
impl From<PacingConfig> for KeyDeliveryConfig {
    fn from(pacing: PacingConfig) -> Self {
        Self {
            pacing,
            requests_per_second: DEFAULT_KEY_REQUESTS_PER_SECOND,
        }
    }
}

struct Inner {
    store: Arc<dyn KeyStore>,
    master: MasterKeyPair,
    verifier: Arc<TokenVerifier>,
    signer: Arc<UrlSigner>,
    pacer: KeyPacer,
    limits: SessionRequestLimit,
    clock: Arc<dyn Clock>,
    /// Tokens already verified, until they expire (step 3).
    verified_tokens: identity::VerifiedTokens,
    /// Content keys already opened (step 7).
    opened_keys: checks::OpenedKeys,
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
    /// Build the key-server state. `master` is moved in and never leaves. `config` is
    /// a [`KeyDeliveryConfig`], or just a [`PacingConfig`] for the default request limit.
    pub fn new(
        store: Arc<dyn KeyStore>,
        master: MasterKeyPair,
        verifier: Arc<TokenVerifier>,
        signer: Arc<UrlSigner>,
        config: impl Into<KeyDeliveryConfig>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let config = config.into();
        Self {
            inner: Arc::new(Inner {
                store,
                master,
                verifier,
                signer,
                pacer: KeyPacer::new(config.pacing, clock.clone()),
                limits: SessionRequestLimit::new(config.requests_per_second, clock.clone()),
                clock,
                verified_tokens: crate::cache::BudgetCache::new(
                    "verified_tokens",
                    identity::VERIFIED_TOKENS_BUDGET,
                ),
                opened_keys: crate::cache::BudgetCache::new(
                    "opened_keys",
                    checks::OPENED_KEYS_BUDGET,
                ),
            }),
        }
    }

    /// The master public key (for `seal`, health output).
    pub fn master_public_key(&self) -> x25519_dalek::PublicKey {
        *self.inner.master.public_key()
    }

    /// The router to mount, with both key routes (merge, don't nest: the
    /// signed prefixes are `/keys/{session_id}/` and `/hls/{session_id}/`).
    /// Where the edge's routes are merged in, its
    /// `/hls/{session_id}/{token}/master.m3u8` is the one static name beside
    /// [`HLS_KEY_ROUTE`], and takes precedence.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/keys/{session_id}/{key_id}", get(route::get_key))
            .route(HLS_KEY_ROUTE, get(route::get_key_by_token))
            .with_state(self.clone())
    }
}
