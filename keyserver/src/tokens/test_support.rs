//! Shared fixtures for the token tests: issuer names, keys, raw signing.

use super::{SigningKeyring, TokenIssuer, TokenVerifier, VerifierConfig};
pub(super) use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub(super) use base64::Engine as _;
pub(super) use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
pub(super) use ed25519_dalek::pkcs8::EncodePublicKey;
pub(super) use jsonwebtoken::{Algorithm, EncodingKey, Header};
pub(super) use serde_json::{json, Value};

pub(super) const ISS: &str = "https://sealcast.test";
pub(super) const AUD: &str = "sealcast";
pub(super) const NOW: u64 = 1_700_000_000;
pub(super) const EXT_ISS: &str = "https://idp.example.test";
pub(super) const EXT_AUD: &str = "sealcast-ext";

pub(super) const RSA_PRIV: &str = include_str!("../testdata/ext_rsa_private.pem");
pub(super) const RSA_PUB: &str = include_str!("../testdata/ext_rsa_public.pem");
pub(super) const EC_PRIV: &str = include_str!("../testdata/ext_ec_private.pem");
pub(super) const EC_PUB: &str = include_str!("../testdata/ext_ec_public.pem");
pub(super) const EXT_JWKS: &str = include_str!("../testdata/ext_jwks.json");

/// Why `verifier` refuses `token` at [`NOW`].
pub(super) fn refused(verifier: &TokenVerifier, token: &str) -> super::TokenError {
    verifier.verify_at(token, NOW).unwrap_err()
}

pub(super) fn setup() -> (TokenIssuer, TokenVerifier) {
    let ring = SigningKeyring::generate();
    let verifier = TokenVerifier::new(VerifierConfig::new(ISS, AUD), ring.public_keys());
    (TokenIssuer::new(ring, ISS, AUD), verifier)
}

pub(super) fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

pub(super) fn claims_json(now: u64) -> Value {
    json!({"sub":"u1","role":"learner","iss":ISS,"aud":AUD,"exp":now+600,"nbf":now,"iat":now,"jti":"j"})
}

/// Sign arbitrary claims with a keyring's active key (to test claim checks).
pub(super) fn sign_raw(ring: &SigningKeyring, claims: &Value) -> String {
    let e = ring.keys.last().unwrap();
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(e.kid.clone());
    jsonwebtoken::encode(&h, claims, &e.encoding).unwrap()
}
