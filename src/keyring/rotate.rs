//! The admin side of rotation: a new key, sealed, made the active one in the
//! database. Nodes take it on their next reload; nothing restarts.

use std::time::Duration;

use rand::rngs::OsRng;
use rand::RngCore;
use sealcast_keyserver::rotation::keep_ms;
use sealcast_keyserver::tokens::MAX_TOKEN_TTL;
use sealcast_keyserver::{KeyringSeal, SigningKeyring};
use zeroize::Zeroizing;

use super::{signing_label, store, url_label, KeyringError};
use crate::db::{now_ms, Db};

/// Adds a new token signing key and retires the active one; returns its kid.
pub async fn rotate_signing_key(db: &Db, seal: &KeyringSeal) -> Result<String, KeyringError> {
    let ring = SigningKeyring::generate();
    let kid = ring.active_kid().unwrap_or_default().to_owned();
    let pems = ring
        .to_pems()
        .map_err(|e| KeyringError::Malformed(e.to_string()))?;
    let sealed = seal.seal(&signing_label(&kid), pems[0].as_bytes());
    store::rotate_signing_key(db, &kid, &sealed, now_ms(), keep_ms(MAX_TOKEN_TTL)).await?;
    Ok(kid)
}

/// Adds a new URL-signing key version and retires the active one; returns the
/// version. `url_lifetime`: the longest a signed URL lives (old versions are
/// dropped that long after retirement).
pub async fn rotate_url_key(
    db: &Db,
    seal: &KeyringSeal,
    url_lifetime: Duration,
) -> Result<u32, KeyringError> {
    let mut secret = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(secret.as_mut());
    let version = store::rotate_url_key(
        db,
        |v| seal.seal(&url_label(v), secret.as_ref()),
        now_ms(),
        keep_ms(url_lifetime),
    )
    .await?;
    Ok(version)
}
