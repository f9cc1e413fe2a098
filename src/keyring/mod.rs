//! The keys every node of a cluster shares: token signing keys and URL-signing
//! key versions, kept in the database so rotation works without a shared data
//! dir and running nodes pick it up without a restart.
//!
//! Why the private keys sit in the database, sealed, rather than each node
//! keeping its own: a node must sign tokens and URLs that every other node
//! verifies, and `admin rotate-signing-key` runs against the database alone,
//! so the new key has to reach nodes whose data dirs it cannot touch. Each row
//! is sealed (AES-256-GCM) under a key derived by HKDF-SHA256 from the
//! URL-signing secret file, which every node already shares for signed URLs:
//! no new secret to distribute, and a database dump alone yields no key.
//! Exactly one key is active (signs); retired keys keep verifying until the
//! tokens (`MAX_TOKEN_TTL`) or URLs (their maximum lifetime) they signed have
//! expired, plus a grace ([`sealcast_keyserver::rotation`]).
//!
//! Nodes reload every [`RELOAD_EVERY`], and at once (at most every
//! [`ON_DEMAND_GAP`]) when a request names a token `kid` or URL `kv` they do
//! not know, which is how a token signed with a key minutes old verifies on a
//! node that has not reloaded yet.
//!
//! `SEALCAST_SIGNING_KEY_FILE` keeps working as a keyring of one: with it set
//! the signing keys are the file's, never the database's, and rotation refuses.
//! URL keys are versioned either way; version 0 is the secret file itself.

mod bootstrap;
mod rotate;
pub mod store;

pub use bootstrap::start;
pub use rotate::{rotate_signing_key, rotate_url_key};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sealcast_keyserver::rotation::in_use;
use sealcast_keyserver::{
    KeyringSeal, SealError, SigningKeyring, TokenIssuer, TokenVerifier, UrlSigner,
};
use zeroize::Zeroizing;

use crate::db::{now_ms, Db};

/// How often a node re-reads the keyring: bounds how long after a rotation a
/// node may still sign with the previous key.
pub const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// The least time between two reloads triggered by an unknown `kid` or `kv`,
/// so forged ids cannot turn into a database query each.
pub const ON_DEMAND_GAP: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("cannot read the keyring: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("a keyring row in the database is malformed: {0}")]
    Malformed(String),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
}

/// AEAD label of a signing key's row: binds the sealed key to its kid.
pub fn signing_label(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// AEAD label of a URL key version's row.
pub fn url_label(version: u32) -> String {
    format!("url-key:{version}")
}

/// A node's view of the shared keyring, and what it updates on reload.
pub struct SharedKeys {
    db: Db,
    seal: KeyringSeal,
    /// The URL-signing secret file's key: URL version 0 and the sealing root.
    root: Zeroizing<Vec<u8>>,
    /// With `signing_key_file` set the signing keys are the file's alone.
    signing_from_file: bool,
    tokens: Arc<TokenIssuer>,
    verifier: Arc<TokenVerifier>,
    url_signer: Arc<UrlSigner>,
    last_on_demand: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for SharedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeys")
            .field("signing_from_file", &self.signing_from_file)
            .finish_non_exhaustive()
    }
}

impl SharedKeys {
    /// Re-reads both keyrings; the issuer, verifier and URL signer change only
    /// if the set of keys did.
    /// The key that seals secrets kept in the database (webhook secrets too).
    pub fn seal(&self) -> &KeyringSeal {
        &self.seal
    }

    pub async fn reload(&self) -> Result<(), KeyringError> {
        if !self.signing_from_file {
            self.reload_signing().await?;
        }
        self.reload_url_keys().await
    }

    /// Reloads now for a `kid` or `kv` this node does not know, unless a reload
    /// of that kind ran within [`ON_DEMAND_GAP`]. Returns whether it reloaded.
    pub async fn reload_for_unknown(&self) -> bool {
        {
            let mut last = self
                .last_on_demand
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|t| t.elapsed() < ON_DEMAND_GAP) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match self.reload().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "keyring reload failed");
                false
            }
        }
    }

    /// Reloads every [`RELOAD_EVERY`] until `stop`.
    pub fn spawn_reload(
        self: Arc<Self>,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RELOAD_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Err(e) = self.reload().await {
                    tracing::warn!(error = %e, "keyring reload failed; keeping the keys in use");
                }
            }
        })
    }

    async fn reload_signing(&self) -> Result<(), KeyringError> {
        let rows = store::signing_keys(&self.db).await?;
        let lives: Vec<_> = rows.iter().map(|r| r.life.clone()).collect();
        let live = in_use(&lives, now_ms(), sealcast_keyserver::tokens::MAX_TOKEN_TTL);
        let kids: Vec<&str> = live.iter().map(|k| k.id.as_str()).collect();
        // Never empty a keyring: a node that cannot sign is worse than a stale one.
        if kids.is_empty() || self.tokens.keyring().kids() == kids {
            return Ok(());
        }
        let mut pems = Vec::with_capacity(live.len());
        for key in &live {
            let row = rows
                .iter()
                .find(|r| r.life.id == key.id)
                .expect("from rows");
            let sealed = row.sealed.as_deref().unwrap_or_default();
            let raw = self.seal.open(&signing_label(&key.id), sealed)?;
            let pem = String::from_utf8(raw.to_vec())
                .map_err(|_| KeyringError::Malformed(format!("signing key {}", key.id)))?;
            pems.push(Zeroizing::new(pem));
        }
        let ring = SigningKeyring::from_pems(pems.iter().map(|p| p.as_str()))
            .map_err(|e| KeyringError::Malformed(e.to_string()))?;
        if ring.kids() != kids {
            return Err(KeyringError::Malformed(
                "a signing key's kid does not match its key".into(),
            ));
        }
        // Verify before signing, so this node accepts its own new tokens.
        self.verifier.set_local_keys(ring.public_keys());
        tracing::info!(active = ?ring.active_kid(), keys = kids.len(), "signing keyring loaded");
        self.tokens.set_keyring(ring);
        Ok(())
    }

    async fn reload_url_keys(&self) -> Result<(), KeyringError> {
        let rows = store::url_keys(&self.db).await?;
        let lives: Vec<_> = rows.iter().map(|r| r.life.clone()).collect();
        let live = in_use(&lives, now_ms(), self.url_signer.max_lifetime());
        let ids: Vec<u32> = live.iter().map(|k| k.id).collect();
        if rows.is_empty() || ids.is_empty() || self.url_signer.versions() == ids {
            return Ok(());
        }
        let mut secrets = Vec::with_capacity(live.len());
        for key in &live {
            let row = rows
                .iter()
                .find(|r| r.life.id == key.id)
                .expect("from rows");
            let secret = match &row.sealed {
                None => self.root.clone(),
                Some(sealed) => self.seal.open(&url_label(key.id), sealed)?,
            };
            secrets.push((key.id, secret));
        }
        self.url_signer
            .set_versions(secrets)
            .map_err(|e| KeyringError::Malformed(e.to_string()))?;
        tracing::info!(active = ?ids.last(), versions = ids.len(), "url keys loaded");
        Ok(())
    }
}
