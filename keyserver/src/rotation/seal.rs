//! Sealing a shared keyring's secrets for the database.
//!
//! Every node of a cluster already shares one secret by file: the URL-signing
//! secret (signed URLs minted on one node are checked on another). Rather than
//! a second cluster-wide secret to distribute, the key that seals keyring rows
//! is derived from it with HKDF-SHA256 under its own label, so the database
//! alone never yields a private key: whoever reads the table also needs that
//! file. Each row is AES-256-GCM with a fresh nonce, and its label (`kind:id`)
//! is the associated data, so a row copied under another id does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// HKDF `info`: keeps this key apart from every other use of the root secret.
const INFO: &[u8] = b"sealcast/keyring-seal/v1";
const NONCE_LEN: usize = 12;

/// Seals and opens keyring rows with a key derived from the shared root secret.
pub struct KeyringSeal {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for KeyringSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyringSeal([redacted])")
    }
}

/// A row did not open: another root secret, another label, or tampering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a keyring row in the database does not open: every node must share the same \
     URL-signing secret file (SEALCAST_URL_SIGNING_SECRET_FILE)"
)]
pub struct SealError;

impl KeyringSeal {
    /// Derives the sealing key from the root (URL-signing) secret.
    pub fn from_root(root: &[u8]) -> Self {
        let mut okm = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(None, root)
            .expand(INFO, okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            aead: Aes256Gcm::new_from_slice(okm.as_ref()).expect("32-byte AES-256 key"),
        }
    }

    /// Seals `secret` for the row named `label`; base64 of nonce ‖ ciphertext.
    pub fn seal(&self, label: &str, secret: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: secret,
            aad: label.as_bytes(),
        };
        let body = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encryption of a short message cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&body);
        B64.encode(out)
    }

    /// Opens what [`seal`](Self::seal) wrote for the same `label`.
    pub fn open(&self, label: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let raw = B64.decode(sealed.trim()).map_err(|_| SealError)?;
        if raw.len() <= NONCE_LEN {
            return Err(SealError);
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let payload = Payload {
            msg: body,
            aad: label.as_bytes(),
        };
        self.aead
            .decrypt(Nonce::from_slice(nonce), payload)
            .map(Zeroizing::new)
            .map_err(|_| SealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_with_the_same_root_and_label() {
        let seal = KeyringSeal::from_root(&[1u8; 32]);
        let text = seal.seal("signing-key:abc", b"private");
        assert!(!text.contains("private"));
        assert_eq!(
            seal.open("signing-key:abc", &text).unwrap().as_slice(),
            b"private"
        );
        // A fresh nonce each time.
        assert_ne!(text, seal.seal("signing-key:abc", b"private"));
        assert_eq!(seal.open("signing-key:abd", &text), Err(SealError));
        let other = KeyringSeal::from_root(&[2u8; 32]);
        assert_eq!(other.open("signing-key:abc", &text), Err(SealError));
        assert_eq!(seal.open("signing-key:abc", "not base64!"), Err(SealError));
        assert_eq!(
            seal.open("signing-key:abc", &B64.encode([0u8; 12])),
            Err(SealError)
        );
        assert!(!format!("{seal:?}").contains('1'));
    }
}
