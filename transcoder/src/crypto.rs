//! Segment encryption: AES-128-CBC with PKCS#7 padding over the whole
//! segment, as HLS `METHOD=AES-128` requires.
//!
//! The `aes` crate picks AES-NI at run time when the CPU has it.

use std::fmt;

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand::RngCore;
use zeroize::Zeroize;

type Enc = cbc::Encryptor<aes::Aes128>;
type Dec = cbc::Decryptor<aes::Aes128>;

/// Public identifier of a content key: 16 random bytes, shown as 32 hex
/// digits. Safe to log and to put in URLs; it reveals nothing about the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 16]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 128-bit content key and its id. Both come from the OS CSPRNG.
///
/// The key bytes are wiped on drop and never printed by `Debug`, so a stray
/// `{:?}` in a log line cannot leak them.
#[derive(Clone)]
pub struct ContentKey {
    /// Public id (used for the key file name / key server lookup).
    pub id: KeyId,
    /// The secret AES-128 key.
    pub key: [u8; 16],
}

impl ContentKey {
    /// Fresh random id and key from [`rand::rngs::OsRng`].
    pub fn generate() -> Self {
        let mut id = [0u8; 16];
        let mut key = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        rand::rngs::OsRng.fill_bytes(&mut key);
        ContentKey { id: KeyId(id), key }
    }
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentKey")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl Drop for ContentKey {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

/// The CBC IV of one segment on one rung: 16 bytes from the OS CSPRNG,
/// stated in the playlist as the key tag's explicit `IV=`.
///
/// A crypto period's key is shared by every rung (so players switch rungs
/// without fetching a new key), so an IV derived from the segment number
/// alone would repeat across rungs, and CBC under a repeated (key, IV) shows
/// whether two segments start with the same bytes. A random IV is unique
/// per (rung, segment) without relying on how rungs or segments are
/// numbered, and unpredictable, as CBC wants (NIST SP 800-38A).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentIv(pub [u8; 16]);

impl SegmentIv {
    /// A fresh IV from [`rand::rngs::OsRng`].
    pub fn generate() -> Self {
        let mut iv = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut iv);
        SegmentIv(iv)
    }

    /// Reads an `IV=` attribute value (`0x` + 32 hex digits) as a player does.
    pub fn from_attribute(value: &str) -> Option<Self> {
        let digits = value
            .strip_prefix("0x")
            .or_else(|| value.strip_prefix("0X"))?;
        let mut iv = [0u8; 16];
        hex::decode_to_slice(digits, &mut iv).ok()?;
        Some(SegmentIv(iv))
    }
}

/// The `IV=` attribute value: `0x` + 32 hex digits.
impl fmt::Display for SegmentIv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for SegmentIv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentIv({self})")
    }
}

/// Encrypt a whole segment in place (AES-128-CBC, PKCS#7). Takes the buffer
/// by value so no second copy of the segment is made.
pub fn encrypt_segment(key: &[u8; 16], iv: &[u8; 16], mut data: Vec<u8>) -> Vec<u8> {
    let len = data.len();
    let pad = 16 - len % 16;
    data.resize(len + pad, 0);
    let n = Enc::new(key.into(), iv.into())
        .encrypt_padded_mut::<Pkcs7>(&mut data, len)
        .expect("buffer has room for padding")
        .len();
    data.truncate(n);
    data
}

/// Decrypt a segment produced by [`encrypt_segment`]. Returns `None` when
/// the padding is invalid (wrong key or IV, or a damaged segment).
pub fn decrypt_segment(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Option<Vec<u8>> {
    Dec::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(data)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        let k = ContentKey::generate();
        for len in [0usize, 1, 15, 16, 17, 188 * 7, 100_000] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let iv = SegmentIv::generate().0;
            let enc = encrypt_segment(&k.key, &iv, plain.clone());
            assert_eq!(enc.len(), (len / 16 + 1) * 16);
            if len > 0 {
                assert_ne!(&enc[..len], &plain[..]);
            }
            assert_eq!(decrypt_segment(&k.key, &iv, &enc).unwrap(), plain);
        }
    }

    #[test]
    fn ivs_are_random_and_read_back_from_their_attribute() {
        let a = SegmentIv::generate();
        let b = SegmentIv::generate();
        assert_ne!(a, b);
        let attr = a.to_string();
        assert_eq!(attr.len(), 34);
        assert!(attr.starts_with("0x"), "{attr}");
        assert_eq!(SegmentIv::from_attribute(&attr), Some(a));
        assert_eq!(
            SegmentIv::from_attribute("0X000102030405060708090A0B0C0D0E0F"),
            Some(SegmentIv(core::array::from_fn(|i| i as u8)))
        );
        for bad in [
            "",
            "0x",
            "0x0001",
            "000102030405060708090a0b0c0d0e0f",
            "0x000102030405060708090a0b0c0d0e0f00",
            "0x000102030405060708090a0b0c0d0e0g",
        ] {
            assert_eq!(SegmentIv::from_attribute(bad), None, "{bad}");
        }
    }

    #[test]
    fn keys_are_random_and_debug_redacts() {
        let a = ContentKey::generate();
        let b = ContentKey::generate();
        assert_ne!(a.key, b.key);
        assert_ne!(a.id, b.id);
        let dbg = format!("{a:?}");
        assert!(dbg.contains("redacted"));
        assert!(!dbg.contains(&hex::encode(a.key)));
        assert_eq!(a.id.to_string().len(), 32);
    }
}
