//! Sealed-key format v2: RFC 9180 HPKE in base mode, through the `hpke` crate, so the
//! construction is a published, test-vectored standard rather than our own.
//!
//! Suite: DHKEM(X25519, HKDF-SHA256) (0x0020), HKDF-SHA256 (0x0001), AES-256-GCM
//! (0x0002). X25519 because the master key already is one (the key file and the
//! fingerprints stay as they are); AES-256-GCM because it is what v1 used, so nothing
//! stored gets weaker, and it costs nothing on a 16-byte message.
//! The `info` string names the purpose; the AAD (built by the caller) binds the blob
//! to its video and key id.

use super::CustodyError;
use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

type Kem = X25519HkdfSha256;

/// The HPKE form of the master secret.
pub(super) type PrivateKey = <Kem as hpke::Kem>::PrivateKey;

/// HPKE `info`; changing it is a format version bump.
const INFO: &[u8] = b"sealcast/content-key/v2";
/// Encapsulated key (the sender's ephemeral X25519 public key).
pub(super) const ENC_LEN: usize = 32;
/// A 16-byte content key plus the 16-byte GCM tag.
pub(super) const CT_LEN: usize = 16 + 16;

/// The HPKE private key for the 32 raw X25519 secret bytes of the master key file.
pub(super) fn private_key(secret: &[u8; 32]) -> PrivateKey {
    // Any 32 bytes are a valid X25519 private key; only the length can fail.
    PrivateKey::from_bytes(secret).expect("32-byte X25519 secret")
}

#[cfg(test)]
pub(super) fn public_bytes(secret: &PrivateKey) -> [u8; 32] {
    <Kem as hpke::Kem>::sk_to_pk(secret).to_bytes().into()
}

/// Seal `key` to the X25519 public key `recipient`: `(enc, ciphertext)`.
pub(super) fn seal(
    recipient: &[u8; 32],
    aad: &[u8],
    key: &[u8; 16],
) -> Result<([u8; ENC_LEN], [u8; CT_LEN]), CustodyError> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient)
        .map_err(|_| CustodyError::InvalidPublicKey)?;
    // Encapsulation fails only for a low-order recipient key (all-zero shared secret).
    let (enc, ct) =
        hpke::single_shot_seal::<AesGcm256, HkdfSha256, Kem>(&OpModeS::Base, &pk, INFO, key, aad)
            .map_err(|_| CustodyError::InvalidPublicKey)?;
    let ct: [u8; CT_LEN] = ct
        .as_slice()
        .try_into()
        .map_err(|_| CustodyError::Malformed)?;
    Ok((enc.to_bytes().into(), ct))
}

/// Open a v2 body with the master's HPKE private key.
pub(super) fn open(
    secret: &PrivateKey,
    enc: &[u8; ENC_LEN],
    ciphertext: &[u8; CT_LEN],
    aad: &[u8],
) -> Result<Zeroizing<[u8; 16]>, CustodyError> {
    let enc =
        <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| CustodyError::Decrypt)?;
    let pt = Zeroizing::new(
        hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(
            &OpModeR::Base,
            secret,
            &enc,
            INFO,
            ciphertext,
            aad,
        )
        .map_err(|_| CustodyError::Decrypt)?,
    );
    super::content_key(&pt)
}
