//! The master (custody) key pair and its fingerprint: the one secret that opens every
//! stored content key, so it has one owner, is zeroized on drop and never printed.
//!
//! The on-disk form stays what it always was, the 32 raw X25519 secret bytes; the
//! HPKE private key is derived from them at load time, so existing data dirs work.

use super::rfc9180;
use super::CustodyError;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};
use std::fmt;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

pub(super) const FINGERPRINT_LEN: usize = 16;

/// Short identifier of a master public key, stored inside every sealed key so a
/// `rotate-master-key` run knows which master opens which row without trying all.
///
/// It is a truncated SHA-256 of the public key: it identifies, it does not protect.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFingerprint(pub [u8; FINGERPRINT_LEN]);

impl KeyFingerprint {
    /// Fingerprint of an X25519 public key.
    pub fn of(public: &PublicKey) -> Self {
        let mut h = Sha256::new();
        h.update(b"sealcast/master-fingerprint/v1");
        h.update(public.as_bytes());
        let d = h.finalize();
        let mut out = [0u8; FINGERPRINT_LEN];
        out.copy_from_slice(&d[..FINGERPRINT_LEN]);
        Self(out)
    }

    /// Lower-case hex, for logs and CLI output.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFingerprint({})", self.to_hex())
    }
}

/// The master (custody) key pair. Only the key-server role should ever construct one.
///
/// Not `Clone` on purpose, so the secret has one owner; both forms of the secret are
/// zeroized on drop and never shown by `Debug`.
pub struct MasterKeyPair {
    /// For opening legacy (v1) sealed keys.
    pub(super) secret: StaticSecret,
    /// The same secret as an RFC 9180 private key, for HPKE (v2) sealed keys.
    pub(super) hpke_secret: rfc9180::PrivateKey,
    public: PublicKey,
}

impl MasterKeyPair {
    /// A fresh random master key pair from the OS CSPRNG.
    pub fn generate() -> Self {
        Self::from_secret(StaticSecret::random_from_rng(OsRng))
    }

    fn from_secret(secret: StaticSecret) -> Self {
        let public = PublicKey::from(&secret);
        let hpke_secret = rfc9180::private_key(&Zeroizing::new(secret.to_bytes()));
        Self {
            secret,
            hpke_secret,
            public,
        }
    }

    /// Load from the 32 raw secret bytes (e.g. read from a secrets manager).
    /// The input array is zeroized after use.
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let kp = Self::from_secret(StaticSecret::from(bytes));
        bytes.zeroize();
        kp
    }

    /// Load from a byte slice that must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CustodyError> {
        Ok(Self::from_bytes(array32(bytes)?))
    }

    /// The 32 raw secret bytes, wrapped so they are zeroized when dropped.
    /// Exists for persisting a newly generated master; handle with care.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public half: this is what workers and edges are given.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Fingerprint of the public half (see [`KeyFingerprint`]).
    pub fn fingerprint(&self) -> KeyFingerprint {
        KeyFingerprint::of(&self.public)
    }
}

impl Drop for MasterKeyPair {
    fn drop(&mut self) {
        // StaticSecret already zeroizes on drop; this makes the intent explicit.
        self.secret.zeroize();
    }
}

impl fmt::Debug for MasterKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKeyPair")
            .field("public", &hex::encode(self.public.as_bytes()))
            .field("fingerprint", &self.fingerprint())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Parse a master public key from 32 raw bytes.
pub fn public_key_from_slice(bytes: &[u8]) -> Result<PublicKey, CustodyError> {
    Ok(PublicKey::from(array32(bytes)?))
}

fn array32(bytes: &[u8]) -> Result<[u8; 32], CustodyError> {
    bytes.try_into().map_err(|_| CustodyError::InvalidLength {
        expected: 32,
        got: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_bytes_roundtrip() {
        let m = MasterKeyPair::generate();
        let m2 = MasterKeyPair::from_bytes(*m.to_bytes());
        assert_eq!(m.public_key().as_bytes(), m2.public_key().as_bytes());
        assert!(MasterKeyPair::from_slice(&[0u8; 31]).is_err());
        assert!(public_key_from_slice(&[0u8; 33]).is_err());
    }

    #[test]
    fn hpke_key_derived_at_load_matches_the_stored_public_key() {
        for bytes in [[0x42u8; 32], [0u8; 32], [0xff; 32]] {
            let m = MasterKeyPair::from_bytes(bytes);
            assert_eq!(
                rfc9180::public_bytes(&m.hpke_secret),
                *m.public_key().as_bytes()
            );
        }
    }

    #[test]
    fn debug_does_not_print_secret() {
        let m = MasterKeyPair::from_bytes([0x42; 32]);
        let dbg = format!("{m:?}");
        assert!(dbg.contains("redacted"));
        assert!(!dbg.contains(&hex::encode([0x42u8; 32])));
        assert!(!dbg.contains("66, 66"));
    }
}
