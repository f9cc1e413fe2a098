//! Key custody: content keys at rest are only ever stored *sealed* to a master key.
//!
//! A content key is the 16-byte AES-128 key the transcoder uses for a run of HLS
//! segments. The transcoder (and anything else that creates keys) only needs the
//! master **public** key to [`seal`] a fresh content key; only the key-server role
//! holds the master **secret** ([`MasterKeyPair`]) and can [`open`] one.
//!
//! New seals are RFC 9180 HPKE (module `rfc9180`, format v2). Keys sealed before that
//! (module `legacy_v1`) still open, and [`reseal`] always writes v2, so a
//! `rotate-master-key` run migrates every old row. Either way the AAD binds the blob
//! to its format version, its master's fingerprint and its `(video_id, key_id)`, so a
//! database row copied to another video or key id will not open.
//!
//! This module must never: log, print or serialise a master secret or an opened
//! content key; write an unsealed content key anywhere; seal in the legacy format; or
//! accept a sealed key whose AAD does not match the requested context.

mod legacy_v1;
mod master;
mod rfc9180;
mod sealed;

pub use master::{public_key_from_slice, KeyFingerprint, MasterKeyPair};
pub use sealed::{
    SealedFormat, SealedKey, LEGACY_SEALED_KEY_LEN, SEALED_KEY_LEN, SEALED_KEY_VERSION,
};

use sealed::Body;
use x25519_dalek::PublicKey;
use zeroize::Zeroizing;

/// Domain separation prefix of the AEAD associated data (both formats).
const AAD_LABEL: &[u8] = b"sealcast/content-key-aad/v1";

/// Errors from sealing / opening content keys. Deliberately coarse: an attacker
/// probing with modified blobs learns only "it did not open".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CustodyError {
    /// The stored text/bytes are not a well-formed sealed key.
    #[error("malformed sealed key")]
    Malformed,
    /// The sealed key uses a format version this build does not understand.
    #[error("unsupported sealed key version {0}")]
    UnsupportedVersion(u8),
    /// The sealed key was sealed to a different master key (fingerprint mismatch).
    #[error("sealed key belongs to master key {0}, not this one")]
    WrongMaster(KeyFingerprint),
    /// Authentication failed: wrong key, wrong video/key id, or tampering.
    #[error("sealed key could not be opened")]
    Decrypt,
    /// A key given as raw bytes had the wrong length.
    #[error("invalid key length: expected {expected} bytes, got {got}")]
    InvalidLength {
        /// Required length.
        expected: usize,
        /// Length supplied.
        got: usize,
    },
    /// The peer public key is a low-order point (no contributory shared secret).
    #[error("invalid public key")]
    InvalidPublicKey,
}

/// Where a content key belongs. Bound into the AEAD associated data so a sealed key
/// only opens for the exact `(video_id, key_id)` it was sealed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyContext<'a> {
    /// Video the key encrypts.
    pub video_id: &'a str,
    /// Key id as referenced by the playlist's `#EXT-X-KEY` URI.
    pub key_id: &'a str,
}

/// `label || version || fingerprint || len(video_id) || video_id || len(key_id) || key_id`.
fn aad(header: &[u8], ctx: &KeyContext<'_>) -> Vec<u8> {
    let mut a = Vec::with_capacity(
        AAD_LABEL.len() + header.len() + 8 + ctx.video_id.len() + ctx.key_id.len(),
    );
    a.extend_from_slice(AAD_LABEL);
    a.extend_from_slice(header);
    // Length-prefixed so ("ab","c") and ("a","bc") differ.
    a.extend_from_slice(&(ctx.video_id.len() as u32).to_be_bytes());
    a.extend_from_slice(ctx.video_id.as_bytes());
    a.extend_from_slice(&(ctx.key_id.len() as u32).to_be_bytes());
    a.extend_from_slice(ctx.key_id.as_bytes());
    a
}

/// An opened plaintext must be exactly one AES-128 key.
fn content_key(plaintext: &[u8]) -> Result<Zeroizing<[u8; 16]>, CustodyError> {
    let mut out = Zeroizing::new([0u8; 16]);
    if plaintext.len() != 16 {
        return Err(CustodyError::Decrypt);
    }
    out.copy_from_slice(plaintext);
    Ok(out)
}

/// Seal a content key to a master public key (HPKE, format v2). Needs no secret, so
/// the transcoder (which creates content keys) can call it with only the public key.
///
/// Every call uses a fresh encapsulation: sealing the same key twice yields unrelated
/// ciphertexts.
pub fn seal(
    public: &PublicKey,
    ctx: &KeyContext<'_>,
    key: &[u8; 16],
) -> Result<SealedKey, CustodyError> {
    let fingerprint = KeyFingerprint::of(public);
    let aad = aad(&sealed::header(SealedFormat::HpkeV2, &fingerprint), ctx);
    let (enc, ciphertext) = rfc9180::seal(public.as_bytes(), &aad, key)?;
    Ok(SealedKey {
        fingerprint,
        body: Body::HpkeV2 { enc, ciphertext },
    })
}

/// Open a sealed content key (either format) with the master secret. Fails unless the
/// master, the `(video_id, key_id)` context and every byte of the blob are exactly right.
pub fn open(
    master: &MasterKeyPair,
    ctx: &KeyContext<'_>,
    sealed: &SealedKey,
) -> Result<Zeroizing<[u8; 16]>, CustodyError> {
    if sealed.fingerprint != master.fingerprint() {
        return Err(CustodyError::WrongMaster(sealed.fingerprint));
    }
    let aad = aad(&sealed.header(), ctx);
    match &sealed.body {
        Body::HpkeV2 { enc, ciphertext } => {
            rfc9180::open(&master.hpke_secret, enc, ciphertext, &aad)
        }
        Body::LegacyV1 {
            ephemeral,
            nonce,
            ciphertext,
        } => legacy_v1::open(master, ephemeral, nonce, ciphertext, &aad),
    }
}

/// Re-seal a content key from an old master to a new master public key, for
/// `rotate-master-key`; the result is always the current format, so this is also the
/// migration of legacy rows. The plaintext key only exists (zeroized) inside this call.
pub fn reseal(
    old: &MasterKeyPair,
    new_public: &PublicKey,
    ctx: &KeyContext<'_>,
    sealed: &SealedKey,
) -> Result<SealedKey, CustodyError> {
    let key = open(old, ctx, sealed)?;
    seal(new_public, ctx, &key)
}

#[cfg(test)]
mod tests;
