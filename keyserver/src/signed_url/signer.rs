//! The HMAC itself: signing a path prefix for a session until an expiry, and
//! verifying a request path against it in constant time.

use super::ids::{is_valid_id, path_is_clean};
use super::versions::UrlKeys;
use super::{SignatureError, UrlSignerError, DEFAULT_MAX_LIFETIME};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::{RwLock, RwLockReadGuard};
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;
const DOMAIN: &[u8] = b"sealcast/url/v1";

/// Signs and verifies playback URLs. Shared by `Arc`; holds its secrets (one per
/// key version, see [`set_versions`](Self::set_versions)) zeroized on drop.
pub struct UrlSigner {
    pub(super) keys: RwLock<UrlKeys>,
    max_lifetime: Duration,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSigner")
            .field("secret", &"<redacted>")
            .field("versions", &self.versions())
            .field("max_lifetime", &self.max_lifetime)
            .finish()
    }
}

fn mac(secret: &[u8], prefix: &str, session_id: &str, expires: u64) -> HmacSha256 {
    // HMAC accepts keys of any length; new_from_slice cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("hmac accepts any key");
    mac.update(DOMAIN);
    mac.update(&(prefix.len() as u64).to_be_bytes());
    mac.update(prefix.as_bytes());
    mac.update(&(session_id.len() as u64).to_be_bytes());
    mac.update(session_id.as_bytes());
    mac.update(&expires.to_be_bytes());
    mac
}

impl UrlSigner {
    /// Build a signer holding `secret` as version 0. Refuses secrets shorter than
    /// 32 bytes: a short HMAC key is brute-forceable offline from any one signed URL.
    pub fn new(secret: &[u8]) -> Result<Self, UrlSignerError> {
        Ok(Self {
            keys: RwLock::new(UrlKeys::single(secret)?),
            max_lifetime: DEFAULT_MAX_LIFETIME,
        })
    }

    /// Override the maximum lifetime (how far in the future `exp` may be at verify
    /// time). Bounds the damage of a leaked URL, like S3/garage presign limits.
    pub fn with_max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime = max;
        self
    }

    /// The configured maximum lifetime.
    pub fn max_lifetime(&self) -> Duration {
        self.max_lifetime
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, UrlKeys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Sign `prefix` for `session_id` until `expires` (unix seconds) with the active
    /// key version. Returns the signature as URL-safe base64 without padding; build
    /// URLs with [`query`](Self::query), which also names the version.
    ///
    /// The prefix must start and end with `/` and its last segment must be the session
    /// id (e.g. `/hls/{session_id}/`), so [`verify`](Self::verify) can recover it from
    /// the request path without trusting the client.
    pub fn sign(
        &self,
        prefix: &str,
        session_id: &str,
        expires: u64,
    ) -> Result<String, UrlSignerError> {
        self.sign_active(prefix, session_id, expires)
            .map(|(_, sig)| sig)
    }

    fn sign_active(
        &self,
        prefix: &str,
        session_id: &str,
        expires: u64,
    ) -> Result<(u32, String), UrlSignerError> {
        if !is_valid_id(session_id) {
            return Err(UrlSignerError::InvalidInput("session id"));
        }
        if !prefix.starts_with('/') || !prefix.ends_with('/') || !path_is_clean(prefix) {
            return Err(UrlSignerError::InvalidInput(
                "prefix must be a clean /…/ path",
            ));
        }
        let want_tail = format!("/{session_id}/");
        if !prefix.ends_with(&want_tail) {
            return Err(UrlSignerError::InvalidInput(
                "prefix must end with the session id segment",
            ));
        }
        let keys = self.read();
        let (version, secret) = keys.active();
        let sig = mac(secret, prefix, session_id, expires).finalize();
        Ok((version, URL_SAFE_NO_PAD.encode(sig.into_bytes())))
    }

    /// `exp=…&sig=…` (and `&kv=…` past version 0) for appending to a URI under `prefix`.
    pub fn query(
        &self,
        prefix: &str,
        session_id: &str,
        expires: u64,
    ) -> Result<String, UrlSignerError> {
        let (version, sig) = self.sign_active(prefix, session_id, expires)?;
        Ok(match version {
            0 => format!("exp={expires}&sig={sig}"),
            v => format!("exp={expires}&sig={sig}&kv={v}"),
        })
    }

    /// `{exp}.{kv}.{sig}` for one path segment after `prefix`: URIs under
    /// `{prefix}{token}/` inherit it, so relative names in a playlist need
    /// no signing (the verifier checks the path with the token taken out).
    pub fn path_token(
        &self,
        prefix: &str,
        session_id: &str,
        expires: u64,
    ) -> Result<String, UrlSignerError> {
        let (kv, sig) = self.sign_active(prefix, session_id, expires)?;
        Ok(super::SignedQuery {
            exp: expires,
            sig,
            kv,
        }
        .to_path_token())
    }

    /// Append the signed query to `uri` (which must lie under `prefix`; relative
    /// playlist URIs are fine as they resolve under it), using `?` or `&` as needed.
    pub fn append_query(
        &self,
        uri: &str,
        prefix: &str,
        session_id: &str,
        expires: u64,
    ) -> Result<String, UrlSignerError> {
        let q = self.query(prefix, session_id, expires)?;
        let sep = if uri.contains('?') { '&' } else { '?' };
        Ok(format!("{uri}{sep}{q}"))
    }

    /// Verify a request for `path` signed with key version 0 (a URL without `kv=`),
    /// deriving the signed prefix as everything up to and including the first
    /// `/{session_id}/` segment of the path. Servers use
    /// [`verify_query`](Self::verify_query), which honours `kv`.
    pub fn verify(
        &self,
        path: &str,
        session_id: &str,
        expires: u64,
        sig: &str,
        now: u64,
    ) -> Result<(), SignatureError> {
        self.verify_version(path, session_id, 0, expires, sig, now)
    }

    /// Verify against an explicit prefix (key version 0): `path` must lie under `prefix`.
    pub fn verify_prefix(
        &self,
        prefix: &str,
        path: &str,
        session_id: &str,
        expires: u64,
        sig: &str,
        now: u64,
    ) -> Result<(), SignatureError> {
        self.check(0, prefix, path, session_id, expires, sig, now)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn check(
        &self,
        version: u32,
        prefix: &str,
        path: &str,
        session_id: &str,
        expires: u64,
        sig: &str,
        now: u64,
    ) -> Result<(), SignatureError> {
        if !is_valid_id(session_id)
            || !path_is_clean(path)
            || !path_is_clean(prefix)
            || !prefix.ends_with('/')
            || !path.starts_with(prefix)
        {
            return Err(SignatureError::Bad);
        }
        // A 32-byte MAC is 43 base64 chars; reject anything else before decoding.
        if sig.len() != 43 {
            return Err(SignatureError::Bad);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| SignatureError::Bad)?;
        // MAC first, so a forged expiry can't be used to learn anything.
        let keys = self.read();
        let secret = keys.get(version).ok_or(SignatureError::Bad)?;
        mac(secret, prefix, session_id, expires)
            .verify_slice(&raw)
            .map_err(|_| SignatureError::Bad)?;
        if expires > now.saturating_add(self.max_lifetime.as_secs()) {
            // Validly signed but with a lifetime we would never issue: config drift or a
            // leaked secret. Refuse either way.
            return Err(SignatureError::Bad);
        }
        if now >= expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, RngCore};

    const NOW: u64 = 1_700_000_000;

    fn signer() -> UrlSigner {
        UrlSigner::new(&[7u8; 32]).unwrap()
    }

    #[test]
    fn short_secret_refused() {
        assert_eq!(
            UrlSigner::new(&[0u8; 31]).unwrap_err(),
            UrlSignerError::SecretTooShort(31)
        );
        assert!(UrlSigner::new(&[0u8; 32]).is_ok());
        let dbg = format!("{:?}", signer());
        assert!(dbg.contains("redacted"));
    }

    #[test]
    fn sign_verify_roundtrip_hls_and_keys() {
        let s = signer();
        let exp = NOW + 3600;
        let sig = s.sign("/hls/sess1/", "sess1", exp).unwrap();
        assert_eq!(sig.len(), 43);
        for p in [
            "/hls/sess1/master.m3u8",
            "/hls/sess1/720p/seg_0001.ts",
            "/hls/sess1/",
        ] {
            assert_eq!(s.verify(p, "sess1", exp, &sig, NOW), Ok(()), "{p}");
        }
        // The hls signature does not open /keys.
        assert_eq!(
            s.verify("/keys/sess1/k1", "sess1", exp, &sig, NOW),
            Err(SignatureError::Bad)
        );
        let ksig = s.sign("/keys/sess1/", "sess1", exp).unwrap();
        assert_eq!(s.verify("/keys/sess1/k1", "sess1", exp, &ksig, NOW), Ok(()));
        // Explicit narrower prefix.
        let narrow = s.sign("/hls/x/sess1/", "sess1", exp).unwrap();
        assert_eq!(
            s.verify_prefix(
                "/hls/x/sess1/",
                "/hls/x/sess1/a.ts",
                "sess1",
                exp,
                &narrow,
                NOW
            ),
            Ok(())
        );
    }

    #[test]
    fn sign_rejects_bad_prefixes() {
        let s = signer();
        assert!(s.sign("/hls/other/", "sess1", NOW).is_err());
        assert!(s.sign("hls/sess1/", "sess1", NOW).is_err());
        assert!(s.sign("/hls/sess1", "sess1", NOW).is_err());
        assert!(s.sign("/hls/../sess1/", "sess1", NOW).is_err());
        assert!(s.sign("/hls/a/b/", "a/b", NOW).is_err());
    }

    #[test]
    fn expired_and_lifetime_cap() {
        let s = signer().with_max_lifetime(Duration::from_secs(3600));
        let sig = s.sign("/hls/s/", "s", NOW).unwrap();
        assert_eq!(
            s.verify("/hls/s/a", "s", NOW, &sig, NOW),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            s.verify("/hls/s/a", "s", NOW, &sig, NOW + 10),
            Err(SignatureError::Expired)
        );
        let far = NOW + 3601;
        let sig = s.sign("/hls/s/", "s", far).unwrap();
        assert_eq!(
            s.verify("/hls/s/a", "s", far, &sig, NOW),
            Err(SignatureError::Bad)
        );
        assert_eq!(s.verify("/hls/s/a", "s", far, &sig, NOW + 1), Ok(()));
    }

    #[test]
    fn path_outside_prefix_fails() {
        let s = signer();
        let exp = NOW + 60;
        let sig = s.sign("/hls/s1/", "s1", exp).unwrap();
        for p in [
            "/hls/s1/../s2/a.ts",
            "/hls/s1/./a.ts",
            "/hls/s1//a.ts",
            "/hls/s2/a.ts",
            "/hls/s1x/a.ts",
            "/other/s1/a.ts",
            "/hls/s1/%2e%2e/a",
            "hls/s1/a",
            "/hls/s1",
        ] {
            assert_eq!(
                s.verify(p, "s1", exp, &sig, NOW),
                Err(SignatureError::Bad),
                "{p}"
            );
        }
        assert_eq!(
            s.verify_prefix("/hls/s1/", "/hls/s2/a", "s1", exp, &sig, NOW),
            Err(SignatureError::Bad)
        );
    }

    #[test]
    fn different_secret_fails() {
        let a = signer();
        let b = UrlSigner::new(&[8u8; 32]).unwrap();
        let sig = a.sign("/hls/s/", "s", NOW + 5).unwrap();
        assert_eq!(
            b.verify("/hls/s/x", "s", NOW + 5, &sig, NOW),
            Err(SignatureError::Bad)
        );
    }

    fn flip_char(s: &str, i: usize, bit: u8) -> String {
        let mut b = s.as_bytes().to_vec();
        b[i] ^= bit;
        String::from_utf8_lossy(&b).into_owned()
    }

    /// Property-style: random sessions/prefixes/expiries; every single-bit flip in
    /// sig, prefix, session or expiry is rejected.
    #[test]
    fn any_flipped_bit_fails() {
        let s = signer();
        let mut rng = rand::thread_rng();
        const ALPHA: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
        for _ in 0..60 {
            let len = rng.gen_range(1..24);
            let sid: String = (0..len)
                .map(|_| ALPHA[rng.gen_range(0..ALPHA.len())] as char)
                .collect();
            let root = ["hls", "keys", "v"][rng.gen_range(0..3)];
            let prefix = format!("/{root}/{sid}/");
            let exp = NOW + rng.gen_range(1..40_000);
            let sig = s.sign(&prefix, &sid, exp).unwrap();
            let path = format!("{prefix}seg{}.ts", rng.next_u32());
            assert_eq!(s.verify(&path, &sid, exp, &sig, NOW), Ok(()));

            // Flip every bit of the signature characters.
            for i in 0..sig.len() {
                for bit in 0..8 {
                    let t = flip_char(&sig, i, 1 << bit);
                    assert!(
                        s.verify(&path, &sid, exp, &t, NOW).is_err(),
                        "sig {i}/{bit}"
                    );
                }
            }
            // Flip bits of the session id.
            for i in 0..sid.len() {
                for bit in 0..8 {
                    let t = flip_char(&sid, i, 1 << bit);
                    let tpath = format!("/{root}/{t}/seg.ts");
                    assert!(
                        s.verify(&tpath, &t, exp, &sig, NOW).is_err(),
                        "sid {i}/{bit}"
                    );
                    // Path with the original session but claimed session flipped.
                    assert!(s.verify(&path, &t, exp, &sig, NOW).is_err());
                }
            }
            // Flip bits of the prefix (explicit-prefix API).
            for i in 0..prefix.len() {
                for bit in 0..8 {
                    let t = flip_char(&prefix, i, 1 << bit);
                    let tpath = format!("{t}seg.ts");
                    assert!(
                        s.verify_prefix(&t, &tpath, &sid, exp, &sig, NOW).is_err(),
                        "prefix {i}/{bit}"
                    );
                }
            }
            // Flip every bit of the expiry.
            for bit in 0..64 {
                let t = exp ^ (1u64 << bit);
                assert!(
                    s.verify(&path, &sid, t, &sig, NOW).is_err(),
                    "exp bit {bit}"
                );
            }
        }
    }
}
