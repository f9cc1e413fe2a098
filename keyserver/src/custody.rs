//! Key custody: content keys at rest are only ever stored *sealed* to a master key.
//!
//! A content key is the 16-byte AES-128 key the transcoder uses for a run of HLS
//! segments. The transcoder (and anything else that creates keys) only needs the
//! master **public** key to [`seal`] a fresh content key; only the key-server role
//! holds the master **secret** ([`MasterKeyPair`]) and can [`open`] one.
//!
//! Construction (ECIES-style, one ephemeral X25519 key per sealed key):
//!
//! 1. ephemeral X25519 key pair `e`, shared secret `s = X25519(e, recipient)`;
//! 2. `k = HKDF-SHA256(ikm = s, salt = e_pub || recipient_pub, info = "sealcast/content-key/v1")`;
//! 3. `AES-256-GCM(k, random 96-bit nonce, AAD = version || fingerprint || video_id || key_id)`.
//!
//! The AAD binds the sealed blob to its `(video_id, key_id)` so a database row copied
//! to another video or key id will not open.
//!
//! This module must never: log, print or serialise a master secret or an opened
//! content key; write an unsealed content key anywhere; or accept a sealed key whose
//! AAD does not match the requested context.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

/// HKDF `info` string; changing it is a format version bump.
const HKDF_INFO: &[u8] = b"sealcast/content-key/v1";
/// Domain separation prefix of the AEAD associated data.
const AAD_LABEL: &[u8] = b"sealcast/content-key-aad/v1";
/// Current (and only) sealed-key format version.
pub const SEALED_KEY_VERSION: u8 = 1;
const FINGERPRINT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const CT_LEN: usize = 16 + 16; // 16-byte key + 16-byte GCM tag
/// Length in bytes of the binary form of a v1 [`SealedKey`].
pub const SEALED_KEY_LEN: usize = 1 + FINGERPRINT_LEN + 32 + NONCE_LEN + CT_LEN;

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

/// Short identifier of a master public key, stored inside every [`SealedKey`] so a
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
/// Not `Clone` on purpose, so the secret has one owner; the X25519 secret is zeroized
/// on drop and never shown by `Debug`.
pub struct MasterKeyPair {
    secret: StaticSecret,
    public: PublicKey,
}

impl MasterKeyPair {
    /// A fresh random master key pair from the OS CSPRNG.
    pub fn generate() -> Self {
        Self::from_secret(StaticSecret::random_from_rng(OsRng))
    }

    fn from_secret(secret: StaticSecret) -> Self {
        let public = PublicKey::from(&secret);
        Self { secret, public }
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
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CustodyError::InvalidLength {
            expected: 32,
            got: bytes.len(),
        })?;
        Ok(Self::from_bytes(arr))
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
    let arr: [u8; 32] = bytes.try_into().map_err(|_| CustodyError::InvalidLength {
        expected: 32,
        got: bytes.len(),
    })?;
    Ok(PublicKey::from(arr))
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

/// A content key sealed to a master public key; safe to store in a DB column.
///
/// Binary layout (v1, [`SEALED_KEY_LEN`] = 93 bytes):
/// `version(1) || recipient fingerprint(16) || ephemeral pub(32) || nonce(12) || ciphertext+tag(32)`.
/// The text form ([`Display`](fmt::Display) / [`FromStr`]) is URL-safe base64 without padding.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey {
    fingerprint: KeyFingerprint,
    ephemeral: [u8; 32],
    nonce: [u8; NONCE_LEN],
    ciphertext: [u8; CT_LEN],
}

impl SealedKey {
    /// Fingerprint of the master public key this was sealed to.
    pub fn recipient_fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }

    /// Versioned compact binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SEALED_KEY_LEN);
        out.push(SEALED_KEY_VERSION);
        out.extend_from_slice(&self.fingerprint.0);
        out.extend_from_slice(&self.ephemeral);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Parse the binary form; rejects unknown versions and wrong lengths.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CustodyError> {
        let (&version, rest) = bytes.split_first().ok_or(CustodyError::Malformed)?;
        if version != SEALED_KEY_VERSION {
            return Err(CustodyError::UnsupportedVersion(version));
        }
        if bytes.len() != SEALED_KEY_LEN {
            return Err(CustodyError::Malformed);
        }
        let (fp, rest) = rest.split_at(FINGERPRINT_LEN);
        let (eph, rest) = rest.split_at(32);
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        Ok(Self {
            fingerprint: KeyFingerprint(fp.try_into().map_err(|_| CustodyError::Malformed)?),
            ephemeral: eph.try_into().map_err(|_| CustodyError::Malformed)?,
            nonce: nonce.try_into().map_err(|_| CustodyError::Malformed)?,
            ciphertext: ct.try_into().map_err(|_| CustodyError::Malformed)?,
        })
    }

    /// Text form for a DB column (URL-safe base64, no padding).
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.to_bytes())
    }

    /// Parse the text form.
    pub fn from_base64(text: &str) -> Result<Self, CustodyError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| CustodyError::Malformed)?;
        Self::from_bytes(&bytes)
    }

    fn header(&self) -> [u8; 1 + FINGERPRINT_LEN] {
        let mut h = [0u8; 1 + FINGERPRINT_LEN];
        h[0] = SEALED_KEY_VERSION;
        h[1..].copy_from_slice(&self.fingerprint.0);
        h
    }
}

impl fmt::Display for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ciphertext is not secret, but there is no reason to spray it into logs.
        f.debug_struct("SealedKey")
            .field("version", &SEALED_KEY_VERSION)
            .field("recipient", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl FromStr for SealedKey {
    type Err = CustodyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_base64(s)
    }
}

impl serde::Serialize for SealedKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> serde::Deserialize<'de> for SealedKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

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

fn derive_aead(
    shared: &x25519_dalek::SharedSecret,
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

/// Seal a content key to a master public key. Needs no secret, so the transcoder
/// (which creates content keys) can call it with only the public key.
///
/// Every call uses a fresh ephemeral key and nonce: sealing the same key twice
/// yields unrelated ciphertexts.
pub fn seal(
    public: &PublicKey,
    ctx: &KeyContext<'_>,
    key: &[u8; 16],
) -> Result<SealedKey, CustodyError> {
    let eph = StaticSecret::random_from_rng(OsRng);
    let eph_pub = PublicKey::from(&eph);
    let shared = eph.diffie_hellman(public);
    drop(eph);
    let cipher = derive_aead(&shared, eph_pub.as_bytes(), public)?;
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let mut sealed = SealedKey {
        fingerprint: KeyFingerprint::of(public),
        ephemeral: eph_pub.to_bytes(),
        nonce,
        ciphertext: [0u8; CT_LEN],
    };
    let aad = aad(&sealed.header(), ctx);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: key,
                aad: &aad,
            },
        )
        .map_err(|_| CustodyError::Decrypt)?;
    sealed.ciphertext = ct
        .as_slice()
        .try_into()
        .map_err(|_| CustodyError::Malformed)?;
    Ok(sealed)
}

/// Open a sealed content key with the master secret. Fails unless the master, the
/// `(video_id, key_id)` context and every byte of the blob are exactly right.
pub fn open(
    master: &MasterKeyPair,
    ctx: &KeyContext<'_>,
    sealed: &SealedKey,
) -> Result<Zeroizing<[u8; 16]>, CustodyError> {
    if sealed.fingerprint != master.fingerprint() {
        return Err(CustodyError::WrongMaster(sealed.fingerprint));
    }
    let eph_pub = PublicKey::from(sealed.ephemeral);
    let shared = master.secret.diffie_hellman(&eph_pub);
    let cipher = derive_aead(&shared, &sealed.ephemeral, &master.public)?;
    let aad = aad(&sealed.header(), ctx);
    let pt = Zeroizing::new(
        cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| CustodyError::Decrypt)?,
    );
    let mut out = Zeroizing::new([0u8; 16]);
    if pt.len() != 16 {
        return Err(CustodyError::Decrypt);
    }
    out.copy_from_slice(&pt);
    Ok(out)
}

/// Re-seal a content key from an old master to a new master public key, for
/// `rotate-master-key`. The plaintext key only exists (zeroized) inside this call.
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
mod tests {
    use super::*;

    const CTX: KeyContext<'static> = KeyContext {
        video_id: "vid-1",
        key_id: "k0001",
    };
    const KEY: [u8; 16] = *b"0123456789abcdef";

    #[test]
    fn roundtrip_bytes_and_text() {
        let m = MasterKeyPair::generate();
        let s = seal(m.public_key(), &CTX, &KEY).unwrap();
        assert_eq!(*open(&m, &CTX, &s).unwrap(), KEY);
        let text = s.to_string();
        assert_eq!(text.len(), 124);
        let back: SealedKey = text.parse().unwrap();
        assert_eq!(back, s);
        assert_eq!(SealedKey::from_bytes(&s.to_bytes()).unwrap(), s);
        assert_eq!(*open(&m, &CTX, &back).unwrap(), KEY);
        assert_eq!(s.recipient_fingerprint(), m.fingerprint());
        let json = serde_json::to_string(&s).unwrap();
        let de: SealedKey = serde_json::from_str(&json).unwrap();
        assert_eq!(de, s);
    }

    #[test]
    fn master_bytes_roundtrip() {
        let m = MasterKeyPair::generate();
        let m2 = MasterKeyPair::from_bytes(*m.to_bytes());
        assert_eq!(m.public_key().as_bytes(), m2.public_key().as_bytes());
        let s = seal(m.public_key(), &CTX, &KEY).unwrap();
        assert_eq!(*open(&m2, &CTX, &s).unwrap(), KEY);
        assert!(MasterKeyPair::from_slice(&[0u8; 31]).is_err());
    }

    #[test]
    fn debug_does_not_print_secret() {
        let m = MasterKeyPair::from_bytes([0x42; 32]);
        let dbg = format!("{m:?}");
        assert!(dbg.contains("redacted"));
        assert!(!dbg.contains(&hex::encode([0x42u8; 32])));
        assert!(!dbg.contains("66, 66"));
    }

    #[test]
    fn wrong_master_fails() {
        let m = MasterKeyPair::generate();
        let other = MasterKeyPair::generate();
        let s = seal(m.public_key(), &CTX, &KEY).unwrap();
        assert!(matches!(
            open(&other, &CTX, &s),
            Err(CustodyError::WrongMaster(_))
        ));
        // Even if the fingerprint is forged to match, AEAD fails.
        let mut forged = s.clone();
        forged.fingerprint = other.fingerprint();
        assert_eq!(open(&other, &CTX, &forged), Err(CustodyError::Decrypt));
    }

    #[test]
    fn wrong_context_fails() {
        let m = MasterKeyPair::generate();
        let s = seal(m.public_key(), &CTX, &KEY).unwrap();
        let other_video = KeyContext {
            video_id: "vid-2",
            key_id: "k0001",
        };
        let other_key = KeyContext {
            video_id: "vid-1",
            key_id: "k0002",
        };
        let shifted = KeyContext {
            video_id: "vid-1k",
            key_id: "0001",
        };
        for ctx in [other_video, other_key, shifted] {
            assert_eq!(open(&m, &ctx, &s), Err(CustodyError::Decrypt));
        }
    }

    #[test]
    fn every_tampered_byte_fails() {
        let m = MasterKeyPair::generate();
        let s = seal(m.public_key(), &CTX, &KEY).unwrap();
        let bytes = s.to_bytes();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = bytes.clone();
                t[i] ^= bit;
                let ok = SealedKey::from_bytes(&t)
                    .ok()
                    .and_then(|p| open(&m, &CTX, &p).ok());
                assert!(ok.is_none(), "tamper at byte {i} bit {bit:#x} opened");
            }
        }
        assert!(SealedKey::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SealedKey::from_bytes(&longer).is_err());
        assert!(SealedKey::from_base64("not base64!").is_err());
        let mut v2 = bytes;
        v2[0] = 2;
        assert_eq!(
            SealedKey::from_bytes(&v2),
            Err(CustodyError::UnsupportedVersion(2))
        );
    }

    #[test]
    fn sealing_twice_differs() {
        let m = MasterKeyPair::generate();
        let a = seal(m.public_key(), &CTX, &KEY).unwrap();
        let b = seal(m.public_key(), &CTX, &KEY).unwrap();
        assert_ne!(a.ephemeral, b.ephemeral);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_eq!(*open(&m, &CTX, &a).unwrap(), *open(&m, &CTX, &b).unwrap());
    }

    #[test]
    fn reseal_moves_to_new_master() {
        let old = MasterKeyPair::generate();
        let new = MasterKeyPair::generate();
        let s = seal(old.public_key(), &CTX, &KEY).unwrap();
        let r = reseal(&old, new.public_key(), &CTX, &s).unwrap();
        assert_eq!(r.recipient_fingerprint(), new.fingerprint());
        assert_eq!(*open(&new, &CTX, &r).unwrap(), KEY);
        assert!(open(&old, &CTX, &r).is_err());
        // Reseal also enforces the context.
        let wrong = KeyContext {
            video_id: "other",
            key_id: "k0001",
        };
        assert!(reseal(&old, new.public_key(), &wrong, &s).is_err());
    }

    #[test]
    fn low_order_public_key_rejected() {
        let zero = PublicKey::from([0u8; 32]);
        assert_eq!(
            seal(&zero, &CTX, &KEY).unwrap_err(),
            CustodyError::InvalidPublicKey
        );
    }
}
