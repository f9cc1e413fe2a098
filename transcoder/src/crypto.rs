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

/// The IV of segment `media_sequence`: the sequence number as a big-endian
/// 128-bit integer. This is also HLS's implicit IV, so a player that ignores
/// the explicit `IV=` attribute still decrypts correctly, and it is unique per
/// segment within a playlist.
pub fn segment_iv(media_sequence: u64) -> [u8; 16] {
    u128::from(media_sequence).to_be_bytes()
}

/// `IV=` attribute value for [`segment_iv`]: `0x` + 32 hex digits.
pub fn iv_attribute(media_sequence: u64) -> String {
    format!("0x{:032x}", u128::from(media_sequence))
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
            let iv = segment_iv(len as u64);
            let enc = encrypt_segment(&k.key, &iv, plain.clone());
            assert_eq!(enc.len(), (len / 16 + 1) * 16);
            if len > 0 {
                assert_ne!(&enc[..len], &plain[..]);
            }
            assert_eq!(decrypt_segment(&k.key, &iv, &enc).unwrap(), plain);
        }
    }

    #[test]
    fn iv_is_big_endian_sequence() {
        assert_eq!(segment_iv(1)[15], 1);
        assert_eq!(segment_iv(256)[14], 1);
        assert_eq!(iv_attribute(3), "0x00000000000000000000000000000003");
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
