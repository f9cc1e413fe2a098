//! A node joining the shared keyring at start: its data-dir signing keys go
//! into the database (once), the very first node makes the first key, then
//! the node loads what everyone shares.

use std::sync::{Arc, Mutex};

use sealcast_keyserver::{KeyringSeal, SigningKeyring, TokenIssuer, TokenVerifier, UrlSigner};
use zeroize::Zeroizing;

use super::{signing_label, store, KeyringError, SharedKeys};
use crate::config::Config;
use crate::db::{now_ms, Db};
use crate::secrets::{self, ServerSecrets, SigningKeyPem};

/// Joins the shared keyring and loads it into `tokens`, `verifier` and `url_signer`.
pub async fn start(
    db: &Db,
    config: &Config,
    secrets: &ServerSecrets,
    tokens: Arc<TokenIssuer>,
    verifier: Arc<TokenVerifier>,
    url_signer: Arc<UrlSigner>,
) -> Result<Arc<SharedKeys>, KeyringError> {
    let root = secrets.url_signing.expose();
    let shared = SharedKeys {
        db: db.clone(),
        seal: KeyringSeal::from_root(root),
        root: Zeroizing::new(root.to_vec()),
        signing_from_file: config.secrets.signing_key_file.is_some(),
        tokens,
        verifier,
        url_signer,
        last_on_demand: Mutex::new(None),
    };
    if !shared.signing_from_file {
        import_local_keys(&shared, config, &secrets.signing_keys).await?;
    }
    shared.reload().await?;
    Ok(Arc::new(shared))
}

/// Keys in this node's data dir (from before the keyring was shared) keep
/// verifying everywhere: imported retired, unless the database has no active
/// key yet, in which case the newest of them signs. A node whose data dir has
/// none and finds no active key is the first: it makes one, and keeps a copy
/// in its data dir as a single node always has.
async fn import_local_keys(
    shared: &SharedKeys,
    config: &Config,
    local: &[SigningKeyPem],
) -> Result<(), KeyringError> {
    let rows = store::signing_keys(&shared.db).await?;
    let has_active = rows.iter().any(|r| r.life.retired_at_ms.is_none());
    let first;
    let local = if local.is_empty() && !has_active {
        first = [secrets::add_signing_key(&secrets::signing_keys_dir(
            config,
        ))?];
        &first[..]
    } else {
        local
    };
    let now = now_ms();
    for (i, key) in local.iter().enumerate() {
        let ring = SigningKeyring::from_pems([key.pem.as_str()])
            .map_err(|e| KeyringError::Malformed(e.to_string()))?;
        let kid = ring.active_kid().unwrap_or_default();
        let sealed = shared.seal.seal(&signing_label(kid), key.pem.as_bytes());
        let retired = has_active || i + 1 < local.len();
        store::import_signing_key(&shared.db, kid, &sealed, now, retired).await?;
    }
    Ok(())
}
