//! The shared state of a running node, one `Arc<App>` for handlers and
//! background workers alike.
//!
//! It lives at the crate root, below the HTTP layer, so the job workers, the
//! upload sweeper and the demo seeding use it without importing `http`. It
//! holds no routers and no HTTP types: the key route is built from
//! [`App::keys`] by the HTTP layer.

use std::sync::Arc;

use sealcast_keyserver::{KeyDelivery, MasterPublicKey, TokenIssuer, TokenVerifier, UrlSigner};

use crate::config::Config;
use crate::db::Db;
use crate::identity::{LoginLimits, SessionStartLimits};
use crate::storage::ObjectStore;

/// Everything a handler or a worker may need.
pub struct App {
    pub config: Config,
    pub db: Db,
    pub storage: Arc<dyn ObjectStore>,
    /// Small immutable objects (segments) kept in memory under a budget.
    pub hot_segments: crate::storage::HotObjects,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Mints access tokens (login, refresh).
    pub tokens: Arc<TokenIssuer>,
    /// The signing and URL keys all nodes share; reloads `tokens`, `verifier`
    /// and `url_signer` after a rotation.
    pub keyring: Arc<crate::keyring::SharedKeys>,
    /// Verifies access tokens: local EdDSA keys and the optional external issuer.
    pub verifier: Arc<TokenVerifier>,
    /// Signs and verifies playback URLs (`/hls/{session}/…`, `/keys/{session}/…`).
    pub url_signer: Arc<UrlSigner>,
    /// The custody public key: workers seal new content keys to it.
    pub master_public: MasterPublicKey,
    /// Key delivery, present only when this process has the key-server role:
    /// it is the only holder of the master private key.
    pub keys: Option<KeyDelivery>,
    /// Login attempt limits per IP and per account.
    pub login_limits: LoginLimits,
    /// Names this node and this life of it on upload leases.
    pub lease_owner: crate::uploads::lease::LeaseOwner,
    /// Playback session starts per user.
    pub session_limits: SessionStartLimits,
    /// Segments sent to each playback session, buffered for the database.
    pub deliveries: Arc<crate::progress::DeliveryLog>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("listen", &self.config.listen)
            .field("storage", &self.storage.describe())
            .finish_non_exhaustive()
    }
}

/// The state every handler extracts.
pub type AppState = Arc<App>;
