//! Verifying access tokens with public keys only, so any node can check a token
//! without holding a signing key. Local tokens are pinned to EdDSA and a known
//! `kid`; tokens naming the external issuer go to [`super::external`].

use super::external::External;
use super::{map_jwt_error, unix_now, Claims, Issuer, PublicKeyring, TokenError, VerifiedIdentity};
use super::{MAX_LEEWAY_SECS, MAX_TOKEN_LEN};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;
use std::sync::RwLock;

/// Local verification settings.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Our `iss`.
    pub issuer: String,
    /// Our `aud`.
    pub audience: String,
    /// Clock-skew leeway for `exp`/`nbf`, clamped to [`MAX_LEEWAY_SECS`].
    pub leeway_secs: u64,
}

impl VerifierConfig {
    /// Config with the default leeway (30 s).
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_secs: MAX_LEEWAY_SECS,
        }
    }
}

/// Verifies local and (optionally) external access tokens. Holds only public keys.
pub struct TokenVerifier {
    pub(super) cfg: VerifierConfig,
    local: RwLock<PublicKeyring>,
    pub(super) external: Option<External>,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("issuer", &self.cfg.issuer)
            .field("audience", &self.cfg.audience)
            .field(
                "external_issuer",
                &self.external.as_ref().map(|e| e.cfg.issuer.clone()),
            )
            .finish()
    }
}

#[derive(Deserialize)]
pub(super) struct RawHeader {
    pub(super) alg: Option<Value>,
    pub(super) kid: Option<String>,
}

/// Decode a base64url JSON segment (header or payload) without trusting it.
fn peek_segment<T: serde::de::DeserializeOwned>(seg: &str) -> Result<T, TokenError> {
    let raw = URL_SAFE_NO_PAD
        .decode(seg)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&raw).map_err(|_| TokenError::Malformed)
}

fn split_token(token: &str) -> Result<(&str, &str, &str), TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let mut it = token.split('.');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() & !p.is_empty() => Ok((h, p, s)),
        _ => Err(TokenError::Malformed),
    }
}

pub(super) fn base_validation(alg: Algorithm, iss: &str, aud: &str) -> Validation {
    let mut v = Validation::new(alg);
    v.set_issuer(&[iss]);
    v.set_audience(&[aud]);
    // Time claims are checked by us against an injectable `now`.
    v.validate_exp = false;
    v.validate_nbf = false;
    v.leeway = 0;
    v.required_spec_claims = ["iss", "aud"]
        .iter()
        .map(|s| s.to_string())
        .collect::<HashSet<_>>();
    v
}

pub(super) fn check_times(
    exp: u64,
    nbf: Option<u64>,
    now: u64,
    leeway: u64,
) -> Result<(), TokenError> {
    if exp.saturating_add(leeway) <= now {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = nbf {
        if nbf > now.saturating_add(leeway) {
            return Err(TokenError::NotYetValid);
        }
    }
    Ok(())
}

impl TokenVerifier {
    /// A verifier for local tokens only.
    pub fn new(cfg: VerifierConfig, local: PublicKeyring) -> Self {
        let cfg = VerifierConfig {
            leeway_secs: cfg.leeway_secs.min(MAX_LEEWAY_SECS),
            ..cfg
        };
        Self {
            cfg,
            local: RwLock::new(local),
            external: None,
        }
    }

    /// Replace the local public keys (after a signing-key rotation).
    pub fn set_local_keys(&self, keys: PublicKeyring) {
        *self.local.write().unwrap_or_else(|e| e.into_inner()) = keys;
    }

    /// The local JWKS document for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        self.local.read().unwrap_or_else(|e| e.into_inner()).jwks()
    }

    /// Verify a token now.
    pub fn verify(&self, token: &str) -> Result<VerifiedIdentity, TokenError> {
        self.verify_at(token, unix_now())
    }

    /// Verify a token as of `now` (unix seconds).
    pub fn verify_at(&self, token: &str, now: u64) -> Result<VerifiedIdentity, TokenError> {
        self.verify_until(token, now).map(|(identity, _)| identity)
    }

    /// [`verify_at`](Self::verify_at), also returning the token's own expiry
    /// (unix seconds; every accepted token has one): until then a cache may
    /// remember the answer.
    pub fn verify_until(
        &self,
        token: &str,
        now: u64,
    ) -> Result<(VerifiedIdentity, u64), TokenError> {
        let (h, p, _) = split_token(token)?;
        let header: RawHeader = peek_segment(h)?;
        let payload: Value = peek_segment(p)?;
        // Route by the (unverified) iss; the chosen path then verifies iss itself.
        let iss = payload.get("iss").and_then(Value::as_str);
        let identity = match (&self.external, iss) {
            (Some(ext), Some(i)) if i == ext.cfg.issuer => {
                self.verify_external(ext, token, &header, now)
            }
            _ => self.verify_local(token, &header, now),
        }?;
        // Verified above: this `exp` is the signed one.
        let exp = payload.get("exp").and_then(Value::as_u64).unwrap_or(now);
        Ok((identity, exp))
    }

    /// Whether `token` names a local signing key (`kid`) this verifier does not
    /// hold, as after a rotation on another node since this one last reloaded
    /// its keyring. Reads the header only, no signature check: for a layer in
    /// front of a route that verifies anyway and wants to reload first. A
    /// token of the external issuer, or one without a `kid`, is never "unknown"
    /// here: reloading the local keyring could not help it.
    pub fn names_unknown_local_key(&self, token: &str) -> bool {
        let Ok((h, p, _)) = split_token(token) else {
            return false;
        };
        let Ok(header) = peek_segment::<RawHeader>(h) else {
            return false;
        };
        // The payload is read only when an external issuer could claim it.
        if let Some(ext) = &self.external {
            let Ok(payload) = peek_segment::<Value>(p) else {
                return false;
            };
            if payload.get("iss").and_then(Value::as_str) == Some(ext.cfg.issuer.as_str()) {
                return false;
            }
        }
        header.kid.as_deref().is_some_and(|kid| {
            self.local
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(kid)
                .is_none()
        })
    }

    fn verify_local(
        &self,
        token: &str,
        header: &RawHeader,
        now: u64,
    ) -> Result<VerifiedIdentity, TokenError> {
        if header.alg.as_ref().and_then(Value::as_str) != Some("EdDSA") {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKid)?;
        let key = {
            let ring = self.local.read().unwrap_or_else(|e| e.into_inner());
            let vk = ring.get(kid).ok_or(TokenError::UnknownKid)?;
            DecodingKey::from_ed_der(vk.as_bytes())
        };
        let validation = base_validation(Algorithm::EdDSA, &self.cfg.issuer, &self.cfg.audience);
        let data =
            jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(map_jwt_error)?;
        let c = data.claims;
        check_times(c.exp, Some(c.nbf), now, self.cfg.leeway_secs)?;
        if c.sub.is_empty() {
            return Err(TokenError::MissingClaim("sub".into()));
        }
        Ok(VerifiedIdentity {
            user_id: c.sub,
            role: c.role,
            issuer: Issuer::Local,
            external_subject: None,
            expires_at: c.exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Role, SigningKeyring, TokenIssuer};
    use super::*;
    use std::time::Duration;

    #[test]
    fn expired_rejected_with_small_leeway() {
        let (issuer, verifier) = setup();
        let (tok, _) = issuer
            .issue_at("u", Role::Learner, Some(Duration::from_secs(60)), NOW)
            .unwrap();
        assert!(verifier.verify_at(&tok, NOW + 60 + 29).is_ok());
        assert_eq!(
            verifier.verify_at(&tok, NOW + 60 + 30),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verifier.verify_at(&tok, NOW + 10_000),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn leeway_is_capped() {
        let ring = SigningKeyring::generate();
        let cfg = VerifierConfig {
            leeway_secs: 3600,
            ..VerifierConfig::new(ISS, AUD)
        };
        let v = TokenVerifier::new(cfg, ring.public_keys());
        let issuer = TokenIssuer::new(ring, ISS, AUD);
        let (tok, _) = issuer
            .issue_at("u", Role::Learner, Some(Duration::from_secs(60)), NOW)
            .unwrap();
        assert_eq!(v.verify_at(&tok, NOW + 60 + 31), Err(TokenError::Expired));
    }

    #[test]
    fn nbf_in_future_rejected() {
        let (issuer, verifier) = setup();
        let (tok, _) = issuer
            .issue_at("u", Role::Learner, None, NOW + 120)
            .unwrap();
        assert_eq!(refused(&verifier, &tok), TokenError::NotYetValid);
        assert!(verifier.verify_at(&tok, NOW + 100).is_ok()); // within leeway
    }

    #[test]
    fn wrong_iss_and_aud_rejected() {
        let (issuer, verifier) = setup();
        let mut c = claims_json(NOW);
        c["iss"] = json!("https://evil.test");
        let tok = sign_raw(&issuer.keyring(), &c);
        assert_eq!(refused(&verifier, &tok), TokenError::WrongIssuer);
        let mut c = claims_json(NOW);
        c["aud"] = json!("other-service");
        let tok = sign_raw(&issuer.keyring(), &c);
        assert_eq!(refused(&verifier, &tok), TokenError::WrongAudience);
        let mut c = claims_json(NOW);
        c.as_object_mut().unwrap().remove("aud");
        let tok = sign_raw(&issuer.keyring(), &c);
        assert!(verifier.verify_at(&tok, NOW).is_err());
        // A verifier for another audience rejects our tokens.
        let v2 = TokenVerifier::new(
            VerifierConfig::new(ISS, "other"),
            issuer.keyring().public_keys(),
        );
        let (tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        assert_eq!(refused(&v2, &tok), TokenError::WrongAudience);
    }

    #[test]
    fn missing_or_bad_claims_rejected() {
        let (issuer, verifier) = setup();
        for field in ["exp", "nbf", "sub", "role", "iss"] {
            let mut c = claims_json(NOW);
            c.as_object_mut().unwrap().remove(field);
            let tok = sign_raw(&issuer.keyring(), &c);
            assert!(verifier.verify_at(&tok, NOW).is_err(), "{field}");
        }
        let mut c = claims_json(NOW);
        c["role"] = json!("superuser");
        assert!(verifier
            .verify_at(&sign_raw(&issuer.keyring(), &c), NOW)
            .is_err());
    }

    #[test]
    fn alg_none_rejected() {
        let (issuer, verifier) = setup();
        let kid = issuer.keyring().active_kid().unwrap().to_owned();
        for alg in ["none", "None", "NONE"] {
            let h = json!({"alg": alg, "typ": "JWT", "kid": kid});
            let tok = format!("{}.{}.", b64(&h), b64(&claims_json(NOW)));
            assert_eq!(refused(&verifier, &tok), TokenError::AlgorithmNotAllowed);
        }
        let h = json!({"typ": "JWT", "kid": kid});
        let tok = format!("{}.{}.", b64(&h), b64(&claims_json(NOW)));
        assert_eq!(refused(&verifier, &tok), TokenError::AlgorithmNotAllowed);
    }

    #[test]
    fn hs256_with_public_key_as_secret_rejected() {
        let (issuer, verifier) = setup();
        let ring = issuer.keyring();
        let kid = ring.active_kid().unwrap().to_owned();
        let vk = *ring.public_keys().get(&kid).unwrap();
        let pem = vk.to_public_key_pem(LineEnding::LF).unwrap();
        let x = URL_SAFE_NO_PAD.encode(vk.as_bytes());
        for secret in [vk.as_bytes().to_vec(), pem.into_bytes(), x.into_bytes()] {
            for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
                let mut h = Header::new(alg);
                h.kid = Some(kid.clone());
                let tok =
                    jsonwebtoken::encode(&h, &claims_json(NOW), &EncodingKey::from_secret(&secret))
                        .unwrap();
                assert_eq!(refused(&verifier, &tok), TokenError::AlgorithmNotAllowed);
            }
        }
    }

    #[test]
    fn forged_signature_rejected() {
        let (issuer, verifier) = setup();
        let kid = issuer.keyring().active_kid().unwrap().to_owned();
        // Attacker signs with their own key but claims our kid.
        let attacker = SigningKeyring::generate();
        let e = attacker.keys.last().unwrap();
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(kid);
        let tok = jsonwebtoken::encode(&h, &claims_json(NOW), &e.encoding).unwrap();
        assert_eq!(refused(&verifier, &tok), TokenError::BadSignature);
        // Tampered payload with the original signature.
        let (good, _) = issuer.issue_at("u1", Role::Learner, None, NOW).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let mut c = claims_json(NOW);
        c["role"] = json!("admin");
        c["exp"] = json!(NOW + 900);
        let tampered = format!("{}.{}.{}", parts[0], b64(&c), parts[2]);
        assert_eq!(refused(&verifier, &tampered), TokenError::BadSignature);
        // Flipped signature bytes.
        let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        sig[5] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
        assert_eq!(refused(&verifier, &flipped), TokenError::BadSignature);
        // Garbage.
        for g in ["", "a.b", "a.b.c.d", "!!!.???.###", &"a".repeat(20_000)] {
            assert!(verifier.verify_at(g, NOW).is_err());
        }
    }

    #[test]
    fn unknown_kid_rejected() {
        let (issuer, verifier) = setup();
        let attacker = SigningKeyring::generate();
        let tok = sign_raw(&attacker, &claims_json(NOW));
        assert_eq!(refused(&verifier, &tok), TokenError::UnknownKid);
        // Missing kid.
        let ring = issuer.keyring();
        let e = ring.keys.last().unwrap();
        let tok = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &claims_json(NOW),
            &e.encoding,
        )
        .unwrap();
        assert_eq!(refused(&verifier, &tok), TokenError::UnknownKid);
        assert!(
            !verifier.names_unknown_local_key(&tok),
            "no kid: a reload cannot help"
        );
    }

    #[test]
    fn an_unknown_kid_is_seen_without_verifying() {
        let (issuer, verifier) = setup();
        let known = sign_raw(&issuer.keyring(), &claims_json(NOW));
        assert!(!verifier.names_unknown_local_key(&known));
        let other = sign_raw(&SigningKeyring::generate(), &claims_json(NOW));
        assert!(verifier.names_unknown_local_key(&other));
        for g in ["", "a.b", "!!!.???.###"] {
            assert!(!verifier.names_unknown_local_key(g));
        }
    }
}
