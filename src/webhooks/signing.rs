//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256
//! of "id.timestamp.body">` under the endpoint's `whsec_…` secret, so a
//! receiver verifies with the spec's own libraries.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Random bytes in a secret (the spec asks for 24 to 64).
const SECRET_BYTES: usize = 32;
const PREFIX: &str = "whsec_";

/// A new secret in the spec's format: `whsec_` + base64 of random bytes.
pub fn new_secret() -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; SECRET_BYTES]);
    rand::rngs::OsRng.fill_bytes(raw.as_mut());
    Zeroizing::new(format!("{PREFIX}{}", B64.encode(raw.as_ref())))
}

/// The HMAC key inside a `whsec_` secret.
fn key(secret: &str) -> Option<Zeroizing<Vec<u8>>> {
    let encoded = secret.strip_prefix(PREFIX).unwrap_or(secret);
    B64.decode(encoded).ok().map(Zeroizing::new)
}

fn mac(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<Hmac<Sha256>> {
    let key = key(secret)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The `webhook-signature` value for one attempt (`None`: a malformed secret).
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let tag = mac(secret, msg_id, timestamp, body)?
        .finalize()
        .into_bytes();
    Some(format!("v1,{}", B64.encode(tag)))
}

/// Whether any `v1` signature in `header` (space separated) is valid, in
/// constant time per signature. Our own check, for tests and tools; receivers
/// use the spec's libraries.
pub fn verify(secret: &str, msg_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    header.split(' ').any(|sig| {
        let Some(tag) = sig.strip_prefix("v1,").and_then(|b| B64.decode(b).ok()) else {
            return false;
        };
        mac(secret, msg_id, timestamp, body).is_some_and(|m| m.verify_slice(&tag).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in the Standard Webhooks reference implementations.
    #[test]
    fn matches_the_specs_test_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body).unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
            &sig
        ));
        assert!(!verify(secret, "msg_other", 1614265330, body, &sig));
        assert!(!verify(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265331,
            body,
            &sig
        ));
    }

    #[test]
    fn secrets_are_fresh_and_in_the_specs_format() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(*a, *b);
        assert!(a.starts_with("whsec_"));
        assert_eq!(key(&a).unwrap().len(), SECRET_BYTES);
    }
}
