//! Ed25519 key material for local tokens: the signing keyring (newest signs, all
//! verify, so rotation never strands a live token) and its public half with JWKS.

use super::TokenError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::EncodingKey;
use rand::rngs::OsRng;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// RFC 7638 JWK thumbprint of an Ed25519 public key: a deterministic `kid`, so every
/// node loading the same PEM agrees on the key id.
pub fn ed25519_kid(key: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn ed25519_jwk(kid: &str, key: &VerifyingKey) -> Value {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    })
}

pub(super) struct SigningEntry {
    pub(super) kid: String,
    key: SigningKey,
    pub(super) encoding: EncodingKey,
}

/// Ed25519 signing keys, oldest first; the newest signs, all verify.
///
/// Rotation: [`rotate`](Self::rotate) (or [`add_pem`](Self::add_pem)) makes a new
/// active key; keep the old one until every token it signed has expired (at most
/// [`MAX_TOKEN_TTL`](super::MAX_TOKEN_TTL)), then [`remove`](Self::remove) it.
#[derive(Default)]
pub struct SigningKeyring {
    pub(super) keys: Vec<SigningEntry>,
}

impl fmt::Debug for SigningKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyring")
            .field("kids", &self.kids())
            .field("active", &self.active_kid())
            .finish()
    }
}

impl SigningKeyring {
    /// An empty keyring (cannot sign until a key is added).
    pub fn new() -> Self {
        Self::default()
    }

    /// A keyring with one freshly generated key.
    pub fn generate() -> Self {
        let mut k = Self::new();
        k.rotate();
        k
    }

    fn push(&mut self, key: SigningKey) -> Result<String, TokenError> {
        let kid = ed25519_kid(&key.verifying_key());
        let der = key
            .to_pkcs8_der()
            .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        // Re-adding an existing key moves it to the active position.
        self.keys.retain(|e| e.kid != kid);
        self.keys.push(SigningEntry {
            kid: kid.clone(),
            key,
            encoding,
        });
        Ok(kid)
    }

    /// Generate a new key and make it the active signer. Returns its `kid`.
    pub fn rotate(&mut self) -> String {
        // Encoding a freshly generated key to PKCS#8 cannot fail.
        self.push(SigningKey::generate(&mut OsRng))
            .expect("pkcs8 encoding of a fresh key")
    }

    /// Add a PKCS#8 PEM private key as the newest (active) key. Returns its `kid`.
    pub fn add_pem(&mut self, pem: &str) -> Result<String, TokenError> {
        let key = SigningKey::from_pkcs8_pem(pem.trim())
            .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        self.push(key)
    }

    /// Build from PEMs ordered oldest → newest (the last one signs).
    pub fn from_pems<I, S>(pems: I) -> Result<Self, TokenError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut k = Self::new();
        for p in pems {
            k.add_pem(p.as_ref())?;
        }
        Ok(k)
    }

    /// All keys as PKCS#8 PEM, oldest → newest, zeroized on drop.
    pub fn to_pems(&self) -> Result<Vec<Zeroizing<String>>, TokenError> {
        self.keys
            .iter()
            .map(|e| {
                e.key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|err| TokenError::InvalidKey(err.to_string()))
            })
            .collect()
    }

    /// Drop a retired key. Returns whether it was present.
    pub fn remove(&mut self, kid: &str) -> bool {
        let before = self.keys.len();
        self.keys.retain(|e| e.kid != kid);
        before != self.keys.len()
    }

    /// `kid` of the key that signs new tokens.
    pub fn active_kid(&self) -> Option<&str> {
        self.keys.last().map(|e| e.kid.as_str())
    }

    /// All key ids, oldest → newest.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|e| e.kid.as_str()).collect()
    }

    /// The verification half, for [`TokenVerifier`](super::TokenVerifier) and for nodes that must not sign.
    pub fn public_keys(&self) -> PublicKeyring {
        PublicKeyring {
            keys: self
                .keys
                .iter()
                .map(|e| (e.kid.clone(), e.key.verifying_key()))
                .collect(),
        }
    }

    /// The JWKS document for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        self.public_keys().jwks()
    }
}

/// Ed25519 public keys by `kid`: everything needed to verify local tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicKeyring {
    keys: Vec<(String, VerifyingKey)>,
}

impl PublicKeyring {
    /// Look up a key by id.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k == kid).map(|(_, v)| v)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The JWKS document (`{"keys":[{"kty":"OKP","crv":"Ed25519",…}]}`).
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|(kid, k)| ed25519_jwk(kid, k)).collect::<Vec<_>>() })
    }

    /// Parse our own JWKS (e.g. an edge fetching the key server's). Only OKP/Ed25519
    /// entries with a `kid` are taken; anything else is ignored.
    pub fn from_jwks(json: &str) -> Result<Self, TokenError> {
        let set: JwkSet =
            serde_json::from_str(json).map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let (Some(kid), AlgorithmParameters::OctetKeyPair(p)) =
                (&jwk.common.key_id, &jwk.algorithm)
            else {
                continue;
            };
            if p.curve != EllipticCurve::Ed25519 {
                continue;
            }
            let raw = URL_SAFE_NO_PAD
                .decode(&p.x)
                .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
            let arr: [u8; 32] = raw
                .as_slice()
                .try_into()
                .map_err(|_| TokenError::InvalidKey("ed25519 x must be 32 bytes".into()))?;
            let vk = VerifyingKey::from_bytes(&arr)
                .map_err(|e| TokenError::InvalidKey(e.to_string()))?;
            keys.push((kid.clone(), vk));
        }
        Ok(Self { keys })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Role, TokenIssuer, TokenVerifier, VerifierConfig};
    use super::*;

    #[test]
    fn rotated_out_key_still_verifies_until_removed() {
        let ring = SigningKeyring::generate();
        let mut issuer = TokenIssuer::new(ring, ISS, AUD);
        let old_kid = issuer.keyring().active_kid().unwrap().to_owned();
        let (old_tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        let new_kid = issuer.keyring_mut().rotate();
        assert_ne!(old_kid, new_kid);
        let (new_tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&new_tok)
                .unwrap()
                .kid
                .as_deref(),
            Some(new_kid.as_str())
        );
        let verifier = TokenVerifier::new(
            VerifierConfig::new(ISS, AUD),
            issuer.keyring().public_keys(),
        );
        assert!(verifier.verify_at(&old_tok, NOW).is_ok());
        assert!(verifier.verify_at(&new_tok, NOW).is_ok());
        assert_eq!(verifier.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(issuer.keyring_mut().remove(&old_kid));
        verifier.set_local_keys(issuer.keyring().public_keys());
        assert_eq!(refused(&verifier, &old_tok), TokenError::UnknownKid);
        assert!(verifier.verify_at(&new_tok, NOW).is_ok());
    }

    #[test]
    fn pem_roundtrip_keeps_kids_and_order() {
        let mut ring = SigningKeyring::generate();
        ring.rotate();
        let pems = ring.to_pems().unwrap();
        assert!(pems[0].starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SigningKeyring::from_pems(pems.iter().map(|p| p.as_str())).unwrap();
        assert_eq!(back.kids(), ring.kids());
        assert_eq!(back.active_kid(), ring.active_kid());
        assert!(SigningKeyring::new().add_pem("garbage").is_err());
        let dbg = format!("{ring:?}");
        assert!(!dbg.contains("PRIVATE"));
        // An empty keyring cannot issue.
        let issuer = TokenIssuer::new(SigningKeyring::new(), ISS, AUD);
        assert!(matches!(
            issuer.issue_at("u", Role::Learner, None, NOW),
            Err(TokenError::Config(_))
        ));
    }

    #[test]
    fn jwks_shape_and_roundtrip() {
        let ring = SigningKeyring::generate();
        let j = ring.jwks();
        let k = &j["keys"][0];
        assert_eq!(k["kty"], "OKP");
        assert_eq!(k["crv"], "Ed25519");
        assert_eq!(k["alg"], "EdDSA");
        assert_eq!(k["use"], "sig");
        assert_eq!(k["kid"], ring.active_kid().unwrap());
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(k["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
        assert!(k.get("d").is_none());
        let pk = PublicKeyring::from_jwks(&j.to_string()).unwrap();
        assert_eq!(pk, ring.public_keys());
        // An edge that only has the JWKS can verify.
        let v = TokenVerifier::new(VerifierConfig::new(ISS, AUD), pk);
        let issuer = TokenIssuer::new(ring, ISS, AUD);
        let (tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        assert!(v.verify_at(&tok, NOW).is_ok());
    }
}
