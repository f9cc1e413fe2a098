//! The stored form of a sealed content key: a version byte, the recipient master's
//! fingerprint, then a body whose layout the version decides. One type for both
//! versions, so the database column, the CLI and the key route never care which.

use super::master::{KeyFingerprint, FINGERPRINT_LEN};
use super::{legacy_v1, rfc9180, CustodyError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::fmt;
use std::str::FromStr;

/// The format every new seal uses ([`SealedFormat::HpkeV2`]).
pub const SEALED_KEY_VERSION: u8 = 2;
/// Length in bytes of the binary form of a current (v2) [`SealedKey`].
pub const SEALED_KEY_LEN: usize = HEADER_LEN + rfc9180::ENC_LEN + rfc9180::CT_LEN;
/// Length in bytes of the binary form of a legacy (v1) [`SealedKey`].
pub const LEGACY_SEALED_KEY_LEN: usize = HEADER_LEN + 32 + legacy_v1::NONCE_LEN + legacy_v1::CT_LEN;
pub(super) const HEADER_LEN: usize = 1 + FINGERPRINT_LEN;

/// Which construction sealed a key; the first byte of the binary form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedFormat {
    /// v1: home-made X25519 + HKDF-SHA256 + AES-256-GCM; opened, never written.
    LegacyV1,
    /// v2: RFC 9180 HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
    HpkeV2,
}

impl SealedFormat {
    /// The version byte.
    pub fn version(self) -> u8 {
        match self {
            Self::LegacyV1 => 1,
            Self::HpkeV2 => 2,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub(super) enum Body {
    LegacyV1 {
        ephemeral: [u8; 32],
        nonce: [u8; legacy_v1::NONCE_LEN],
        ciphertext: [u8; legacy_v1::CT_LEN],
    },
    HpkeV2 {
        enc: [u8; rfc9180::ENC_LEN],
        ciphertext: [u8; rfc9180::CT_LEN],
    },
}

/// A content key sealed to a master public key; safe to store in a DB column.
///
/// Binary layout: `version(1) || recipient fingerprint(16) || body`, where the body is
/// `enc(32) || ciphertext+tag(32)` for v2 ([`SEALED_KEY_LEN`] = 81 bytes) and
/// `ephemeral pub(32) || nonce(12) || ciphertext+tag(32)` for v1
/// ([`LEGACY_SEALED_KEY_LEN`] = 93 bytes). The text form ([`Display`](fmt::Display) /
/// [`FromStr`]) is URL-safe base64 without padding.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey {
    pub(super) fingerprint: KeyFingerprint,
    pub(super) body: Body,
}

impl SealedKey {
    /// Fingerprint of the master public key this was sealed to.
    pub fn recipient_fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }

    /// The construction that sealed it; anything but the current one wants a reseal.
    pub fn format(&self) -> SealedFormat {
        match self.body {
            Body::LegacyV1 { .. } => SealedFormat::LegacyV1,
            Body::HpkeV2 { .. } => SealedFormat::HpkeV2,
        }
    }

    /// Versioned compact binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header().to_vec();
        match &self.body {
            Body::LegacyV1 {
                ephemeral,
                nonce,
                ciphertext,
            } => {
                out.extend_from_slice(ephemeral);
                out.extend_from_slice(nonce);
                out.extend_from_slice(ciphertext);
            }
            Body::HpkeV2 { enc, ciphertext } => {
                out.extend_from_slice(enc);
                out.extend_from_slice(ciphertext);
            }
        }
        out
    }

    /// Parse the binary form; rejects unknown versions and wrong lengths.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CustodyError> {
        let (&version, rest) = bytes.split_first().ok_or(CustodyError::Malformed)?;
        let want = match version {
            1 => LEGACY_SEALED_KEY_LEN,
            2 => SEALED_KEY_LEN,
            v => return Err(CustodyError::UnsupportedVersion(v)),
        };
        if bytes.len() != want {
            return Err(CustodyError::Malformed);
        }
        let mut r = Reader(rest);
        let fingerprint = KeyFingerprint(r.take()?);
        let body = if version == 1 {
            Body::LegacyV1 {
                ephemeral: r.take()?,
                nonce: r.take()?,
                ciphertext: r.take()?,
            }
        } else {
            Body::HpkeV2 {
                enc: r.take()?,
                ciphertext: r.take()?,
            }
        };
        Ok(Self { fingerprint, body })
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

    /// Version and fingerprint: bound into the AAD so neither can be swapped.
    pub(super) fn header(&self) -> [u8; HEADER_LEN] {
        header(self.format(), &self.fingerprint)
    }
}

pub(super) fn header(format: SealedFormat, fingerprint: &KeyFingerprint) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = format.version();
    h[1..].copy_from_slice(&fingerprint.0);
    h
}

/// Splits fixed-size fields off the front of a blob whose length was already checked.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], CustodyError> {
        let (head, rest) = self.0.split_at_checked(N).ok_or(CustodyError::Malformed)?;
        self.0 = rest;
        head.try_into().map_err(|_| CustodyError::Malformed)
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
            .field("format", &self.format())
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
