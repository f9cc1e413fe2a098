//! Sealed-key format v1, the home-made ECIES that predates HPKE: opened so rows written
//! before v2 keep working, and re-sealed to v2 by `reseal` (`rotate-master-key`).
//! Nothing new is ever sealed this way.
//!
//! 1. ephemeral X25519 key pair `e`, shared secret `s = X25519(e, recipient)`;
//! 2. `k = HKDF-SHA256(ikm = s, salt = e_pub || recipient_pub, info = "sealcast/content-key/v1")`;
//! 3. `AES-256-GCM(k, random 96-bit nonce, AAD = label || version || fingerprint || video_id || key_id)`.

use super::{CustodyError, MasterKeyPair};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, SharedSecret};
use zeroize::Zeroizing;

/// HKDF `info` of v1.
const HKDF_INFO: &[u8] = b"sealcast/content-key/v1";
pub(super) const NONCE_LEN: usize = 12;
pub(super) const CT_LEN: usize = 16 + 16;

fn derive_aead(
    shared: &SharedSecret,
    eph_pub: &[u8; 32],
    recipient: &PublicKey,
) -> Result<Aes256Gcm, CustodyError> {
    if !shared.was_contributory() {
        return Err(CustodyError::InvalidPublicKey);
    }
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(eph_pub);
    salt[32..].copy_from_slice(recipient.as_bytes());
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes());
    let mut okm = Zeroizing::new([0u8; 32]);
    hk.expand(HKDF_INFO, okm.as_mut())
        .map_err(|_| CustodyError::Decrypt)?;
    Aes256Gcm::new_from_slice(okm.as_ref()).map_err(|_| CustodyError::Decrypt)
}

/// Open a v1 body with the master's X25519 secret.
pub(super) fn open(
    master: &MasterKeyPair,
    ephemeral: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8; CT_LEN],
    aad: &[u8],
) -> Result<Zeroizing<[u8; 16]>, CustodyError> {
    let shared = master.secret.diffie_hellman(&PublicKey::from(*ephemeral));
    let cipher = derive_aead(&shared, ephemeral, master.public_key())?;
    let payload = Payload {
        msg: ciphertext,
        aad,
    };
    let pt = Zeroizing::new(
        cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| CustodyError::Decrypt)?,
    );
    super::content_key(&pt)
}

/// Seal in the v1 format, only so tests can make the blobs old deployments stored.
#[cfg(test)]
pub(super) fn seal(
    recipient: &PublicKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    key: &[u8; 16],
) -> Result<([u8; 32], [u8; CT_LEN]), CustodyError> {
    let eph = x25519_dalek::StaticSecret::random_from_rng(rand::rngs::OsRng);
    let eph_pub = PublicKey::from(&eph);
    let cipher = derive_aead(
        &eph.diffie_hellman(recipient),
        eph_pub.as_bytes(),
        recipient,
    )?;
    let payload = Payload { msg: key, aad };
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), payload)
        .map_err(|_| CustodyError::Decrypt)?;
    let ct = ct
        .as_slice()
        .try_into()
        .map_err(|_| CustodyError::Malformed)?;
    Ok((eph_pub.to_bytes(), ct))
}
