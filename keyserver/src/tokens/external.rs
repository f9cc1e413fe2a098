//! The one configured external identity provider: its pinned algorithm, its keys
//! (a PEM or a refreshable JWKS) and how its claims map to a user and a role. It
//! never falls back to the local keys, nor they to it.

use super::verification::{base_validation, check_times, RawHeader};
use super::{map_jwt_error, Issuer, Role, TokenError, TokenVerifier, VerifiedIdentity};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::str::FromStr;
use std::sync::RwLock;

/// Algorithms accepted from the external issuer (exactly one is pinned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExternalAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl ExternalAlgorithm {
    const ALL: [Self; 3] = [Self::RS256, Self::ES256, Self::EdDSA];

    fn jwt(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }
}

impl FromStr for ExternalAlgorithm {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| TokenError::Config(format!("unsupported external algorithm {s}")))
    }
}

/// How the external issuer's public key(s) are given.
#[derive(Debug, Clone)]
pub enum ExternalKeySource {
    /// One public key as PEM (`-----BEGIN PUBLIC KEY-----`, or `RSA PUBLIC KEY` for RS256).
    Pem(String),
    /// A JWKS JSON document (the root crate fetches the URL and calls
    /// [`TokenVerifier::refresh_jwks`] periodically).
    Jwks(String),
}

/// Configuration of the one trusted external identity provider.
#[derive(Debug, Clone)]
pub struct ExternalIssuerConfig {
    /// Exact `iss` value; must differ from the local issuer.
    pub issuer: String,
    /// Audience we expect in its tokens.
    pub audience: String,
    /// The pinned algorithm.
    pub algorithm: ExternalAlgorithm,
    /// Key material.
    pub key: ExternalKeySource,
    /// Claim naming the user (default `sub`).
    pub user_claim: String,
    /// Claim naming the role (default `role`; missing or unknown → learner).
    /// A claimed `admin` counts as `creator`: the platform may not mint our admins.
    pub role_claim: String,
    /// Subjects (values of the user claim) that are admins here. Empty by default:
    /// only an explicit setting makes an external user an admin.
    pub admin_subjects: Vec<String>,
}

impl ExternalIssuerConfig {
    /// Config with default `user_claim = "sub"` and `role_claim = "role"`.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        algorithm: ExternalAlgorithm,
        key: ExternalKeySource,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            algorithm,
            key,
            user_claim: "sub".into(),
            role_claim: "role".into(),
            admin_subjects: Vec::new(),
        }
    }
}

/// The local user id of `subject` at `issuer`: its own namespace, so no
/// external subject can name a local account (local ids are 32 hex digits, these
/// carry a prefix) nor a user of another issuer. Deterministic, so the edge and
/// the key route agree without a database, and a platform can compute it.
pub fn external_user_id(issuer: &str, subject: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(issuer.as_bytes());
    h.update([0u8]);
    h.update(subject.as_bytes());
    format!("ext-{}", hex::encode(&h.finalize()[..16]))
}

enum ExternalKeys {
    Single(DecodingKey),
    Set(Vec<(Option<String>, DecodingKey)>),
}

pub(super) struct External {
    pub(super) cfg: ExternalIssuerConfig,
    keys: RwLock<ExternalKeys>,
}

fn external_pem_key(alg: ExternalAlgorithm, pem: &str) -> Result<DecodingKey, TokenError> {
    let b = pem.trim().as_bytes();
    match alg {
        ExternalAlgorithm::RS256 => DecodingKey::from_rsa_pem(b),
        ExternalAlgorithm::ES256 => DecodingKey::from_ec_pem(b),
        ExternalAlgorithm::EdDSA => DecodingKey::from_ed_pem(b),
    }
    .map_err(|e| TokenError::InvalidKey(e.to_string()))
}

/// Parse a JWKS, keeping only signature keys usable with the pinned algorithm.
fn external_jwks_keys(
    alg: ExternalAlgorithm,
    json: &str,
) -> Result<Vec<(Option<String>, DecodingKey)>, TokenError> {
    let set: JwkSet =
        serde_json::from_str(json).map_err(|e| TokenError::InvalidKey(e.to_string()))?;
    let mut out = Vec::new();
    for jwk in &set.keys {
        if let Some(u) = &jwk.common.public_key_use {
            if *u != jsonwebtoken::jwk::PublicKeyUse::Signature {
                continue;
            }
        }
        if let Some(ka) = &jwk.common.key_algorithm {
            if ka.to_string() != alg.name() {
                continue;
            }
        }
        let fits = match (&jwk.algorithm, alg) {
            (AlgorithmParameters::RSA(_), ExternalAlgorithm::RS256) => true,
            (AlgorithmParameters::EllipticCurve(p), ExternalAlgorithm::ES256) => {
                p.curve == EllipticCurve::P256
            }
            (AlgorithmParameters::OctetKeyPair(p), ExternalAlgorithm::EdDSA) => {
                p.curve == EllipticCurve::Ed25519
            }
            _ => false,
        };
        if !fits {
            continue;
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| TokenError::InvalidKey(e.to_string()))?;
        out.push((jwk.common.key_id.clone(), key));
    }
    if out.is_empty() {
        return Err(TokenError::InvalidKey(format!(
            "JWKS has no usable {} signature key",
            alg.name()
        )));
    }
    Ok(out)
}

fn claim_u64(v: &Value, name: &str) -> Result<Option<u64>, TokenError> {
    match v.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| TokenError::MissingClaim(name.into())),
        Some(_) => Err(TokenError::MissingClaim(name.into())),
    }
}

/// The role of an external user: at most creator from the claim, admin only when
/// the subject is listed in the configuration.
fn external_role(cfg: &ExternalIssuerConfig, subject: &str, claim: Option<&Value>) -> Role {
    if cfg.admin_subjects.iter().any(|s| s == subject) {
        Role::Admin
    } else {
        role_from_claim(claim).min(Role::Creator)
    }
}

fn role_from_claim(v: Option<&Value>) -> Role {
    // Least privilege: missing or unrecognised → learner; an array takes its highest known role.
    match v {
        Some(Value::String(s)) => s.parse().unwrap_or(Role::Learner),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str().and_then(|s| s.parse::<Role>().ok()))
            .max()
            .unwrap_or(Role::Learner),
        _ => Role::Learner,
    }
}

impl TokenVerifier {
    /// Also accept tokens from one external issuer. Its `iss` must differ from ours,
    /// otherwise routing by `iss` would be ambiguous.
    pub fn with_external(mut self, ext: ExternalIssuerConfig) -> Result<Self, TokenError> {
        if ext.issuer == self.cfg.issuer {
            return Err(TokenError::Config(
                "external issuer must differ from the local issuer".into(),
            ));
        }
        if ext.issuer.is_empty() || ext.audience.is_empty() || ext.user_claim.is_empty() {
            return Err(TokenError::Config(
                "external issuer, audience and user_claim must be non-empty".into(),
            ));
        }
        let keys = match &ext.key {
            ExternalKeySource::Pem(p) => ExternalKeys::Single(external_pem_key(ext.algorithm, p)?),
            ExternalKeySource::Jwks(j) => ExternalKeys::Set(external_jwks_keys(ext.algorithm, j)?),
        };
        self.external = Some(External {
            cfg: ext,
            keys: RwLock::new(keys),
        });
        Ok(self)
    }

    /// Replace the external issuer's keys with a freshly fetched JWKS document.
    /// On error the previous keys stay in place. Returns the number of usable keys.
    pub fn refresh_jwks(&self, json: &str) -> Result<usize, TokenError> {
        let ext = self
            .external
            .as_ref()
            .ok_or_else(|| TokenError::Config("no external issuer configured".into()))?;
        let keys = external_jwks_keys(ext.cfg.algorithm, json)?;
        let n = keys.len();
        *ext.keys.write().unwrap_or_else(|e| e.into_inner()) = ExternalKeys::Set(keys);
        Ok(n)
    }

    pub(super) fn verify_external(
        &self,
        ext: &External,
        token: &str,
        header: &RawHeader,
        now: u64,
    ) -> Result<VerifiedIdentity, TokenError> {
        if header.alg.as_ref().and_then(Value::as_str) != Some(ext.cfg.algorithm.name()) {
            return Err(TokenError::AlgorithmNotAllowed);
        }
        let key = {
            let keys = ext.keys.read().unwrap_or_else(|e| e.into_inner());
            match &*keys {
                ExternalKeys::Single(k) => k.clone(),
                ExternalKeys::Set(set) => match header.kid.as_deref() {
                    Some(kid) => set
                        .iter()
                        .find(|(k, _)| k.as_deref() == Some(kid))
                        .map(|(_, k)| k.clone())
                        .ok_or(TokenError::UnknownKid)?,
                    None if set.len() == 1 => set[0].1.clone(),
                    None => return Err(TokenError::UnknownKid),
                },
            }
        };
        let validation =
            base_validation(ext.cfg.algorithm.jwt(), &ext.cfg.issuer, &ext.cfg.audience);
        let data =
            jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(map_jwt_error)?;
        let c = data.claims;
        let exp = claim_u64(&c, "exp")?.ok_or_else(|| TokenError::MissingClaim("exp".into()))?;
        let nbf = claim_u64(&c, "nbf")?;
        check_times(exp, nbf, now, self.cfg.leeway_secs)?;
        let subject = match c.get(&ext.cfg.user_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(TokenError::MissingClaim(ext.cfg.user_claim.clone())),
        };
        Ok(VerifiedIdentity {
            user_id: external_user_id(&ext.cfg.issuer, &subject),
            role: external_role(&ext.cfg, &subject, c.get(&ext.cfg.role_claim)),
            issuer: Issuer::External,
            external_subject: Some(subject),
            expires_at: exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{PublicKeyring, SigningKeyring, TokenIssuer, VerifierConfig};
    use super::*;

    fn ext_verifier(
        local: &SigningKeyring,
        alg: ExternalAlgorithm,
        key: ExternalKeySource,
    ) -> TokenVerifier {
        TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys())
            .with_external(ExternalIssuerConfig::new(EXT_ISS, EXT_AUD, alg, key))
            .unwrap()
    }

    fn ext_token(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
        let mut h = Header::new(alg);
        h.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&h, claims, key).unwrap()
    }

    fn ext_claims() -> Value {
        json!({"sub":"ext-user","role":"creator","iss":EXT_ISS,"aud":EXT_AUD,"exp":NOW+300,"iat":NOW})
    }

    #[test]
    fn external_rs256_pem_roundtrip() {
        let local = SigningKeyring::generate();
        let v = ext_verifier(
            &local,
            ExternalAlgorithm::RS256,
            ExternalKeySource::Pem(RSA_PUB.into()),
        );
        let k = EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap();
        let tok = ext_token(Algorithm::RS256, None, &k, &ext_claims());
        let id = v.verify_at(&tok, NOW).unwrap();
        assert_eq!(id.user_id, external_user_id(EXT_ISS, "ext-user"));
        assert_eq!(id.external_subject.as_deref(), Some("ext-user"));
        assert_eq!(id.role, Role::Creator);
        assert_eq!(id.issuer, Issuer::External);
        assert_eq!(id.expires_at, NOW + 300);
        // Expired / wrong audience / nbf in future.
        assert_eq!(v.verify_at(&tok, NOW + 400), Err(TokenError::Expired));
        let mut c = ext_claims();
        c["aud"] = json!(AUD);
        assert_eq!(
            v.verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW),
            Err(TokenError::WrongAudience)
        );
        let mut c = ext_claims();
        c["nbf"] = json!(NOW + 100);
        assert_eq!(
            v.verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW),
            Err(TokenError::NotYetValid)
        );
        // Missing exp.
        let mut c = ext_claims();
        c.as_object_mut().unwrap().remove("exp");
        assert!(v
            .verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW)
            .is_err());
        // Audience as an array is fine.
        let mut c = ext_claims();
        c["aud"] = json!(["x", EXT_AUD]);
        assert!(v
            .verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW)
            .is_ok());
    }

    #[test]
    fn external_pins_its_algorithm() {
        let local = SigningKeyring::generate();
        let v = ext_verifier(
            &local,
            ExternalAlgorithm::RS256,
            ExternalKeySource::Pem(RSA_PUB.into()),
        );
        // HS256 keyed with the RSA public PEM (classic confusion attack).
        let tok = ext_token(
            Algorithm::HS256,
            None,
            &EncodingKey::from_secret(RSA_PUB.as_bytes()),
            &ext_claims(),
        );
        assert_eq!(refused(&v, &tok), TokenError::AlgorithmNotAllowed);
        // ES256 token to an RS256-pinned issuer.
        let ec = EncodingKey::from_ec_pem(EC_PRIV.as_bytes()).unwrap();
        let tok = ext_token(Algorithm::ES256, None, &ec, &ext_claims());
        assert_eq!(refused(&v, &tok), TokenError::AlgorithmNotAllowed);
        // alg none.
        let tok = format!("{}.{}.", b64(&json!({"alg":"none"})), b64(&ext_claims()));
        assert_eq!(refused(&v, &tok), TokenError::AlgorithmNotAllowed);
        // Our local EdDSA key signing a token that claims the external iss: rejected.
        let tok = sign_raw(&local, &ext_claims());
        assert_eq!(refused(&v, &tok), TokenError::AlgorithmNotAllowed);
    }

    #[test]
    fn external_es256_jwks_roundtrip_and_refresh() {
        let local = SigningKeyring::generate();
        let v = ext_verifier(
            &local,
            ExternalAlgorithm::ES256,
            ExternalKeySource::Jwks(EXT_JWKS.into()),
        );
        let ec = EncodingKey::from_ec_pem(EC_PRIV.as_bytes()).unwrap();
        let tok = ext_token(Algorithm::ES256, Some("ext-ec-1"), &ec, &ext_claims());
        assert_eq!(
            v.verify_at(&tok, NOW).unwrap().external_subject.as_deref(),
            Some("ext-user")
        );
        // The only ES256 key is picked even without a kid.
        let tok_nokid = ext_token(Algorithm::ES256, None, &ec, &ext_claims());
        assert!(v.verify_at(&tok_nokid, NOW).is_ok());
        // Unknown kid.
        let tok_bad = ext_token(Algorithm::ES256, Some("nope"), &ec, &ext_claims());
        assert_eq!(refused(&v, &tok_bad), TokenError::UnknownKid);
        // Refresh with a JWKS that no longer has the key → old kid unknown.
        let mut j: Value = serde_json::from_str(EXT_JWKS).unwrap();
        j["keys"][1]["kid"] = json!("ext-ec-2");
        assert_eq!(v.refresh_jwks(&j.to_string()).unwrap(), 1);
        assert_eq!(refused(&v, &tok), TokenError::UnknownKid);
        let tok2 = ext_token(Algorithm::ES256, Some("ext-ec-2"), &ec, &ext_claims());
        assert!(v.verify_at(&tok2, NOW).is_ok());
        // A broken refresh keeps the previous keys.
        assert!(v.refresh_jwks("{\"keys\":[]}").is_err());
        assert!(v.refresh_jwks("not json").is_err());
        assert!(v.verify_at(&tok2, NOW).is_ok());
        // The same key given as a PEM works too.
        let v_pem = ext_verifier(
            &local,
            ExternalAlgorithm::ES256,
            ExternalKeySource::Pem(EC_PUB.into()),
        );
        assert!(v_pem.verify_at(&tok_nokid, NOW).is_ok());
        // Forged: an RSA-signed token relabelled as ES256 with the right kid.
        let parts: Vec<String> = tok.split('.').map(str::to_owned).collect();
        let k = EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap();
        let rsa_tok = ext_token(Algorithm::RS256, Some("ext-ec-1"), &k, &ext_claims());
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            rsa_tok.split('.').nth(2).unwrap()
        );
        assert!(v_pem.verify_at(&forged, NOW).is_err());
    }

    #[test]
    fn external_rs256_jwks_and_custom_claims() {
        let local = SigningKeyring::generate();
        let mut cfg = ExternalIssuerConfig::new(
            EXT_ISS,
            EXT_AUD,
            ExternalAlgorithm::RS256,
            ExternalKeySource::Jwks(EXT_JWKS.into()),
        );
        cfg.user_claim = "uid".into();
        cfg.role_claim = "groups".into();
        let v = TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys())
            .with_external(cfg)
            .unwrap();
        let k = EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap();
        let mut c = ext_claims();
        c["uid"] = json!(4242);
        c["groups"] = json!(["staff", "admin"]);
        let id = v
            .verify_at(&ext_token(Algorithm::RS256, Some("ext-rsa-1"), &k, &c), NOW)
            .unwrap();
        // A claimed admin is a creator here: the platform cannot mint our admins.
        assert_eq!(id.external_subject.as_deref(), Some("4242"));
        assert_eq!(id.role, Role::Creator);
        // Missing role claim → learner; missing user claim → rejected.
        let mut c = ext_claims();
        c["uid"] = json!("alice");
        let id = v
            .verify_at(&ext_token(Algorithm::RS256, Some("ext-rsa-1"), &k, &c), NOW)
            .unwrap();
        assert_eq!(id.role, Role::Learner);
        let c = ext_claims();
        assert_eq!(
            v.verify_at(&ext_token(Algorithm::RS256, Some("ext-rsa-1"), &k, &c), NOW),
            Err(TokenError::MissingClaim("uid".into()))
        );
    }

    #[test]
    fn external_subjects_live_in_their_own_namespace() {
        let local = SigningKeyring::generate();
        let v = ext_verifier(
            &local,
            ExternalAlgorithm::RS256,
            ExternalKeySource::Pem(RSA_PUB.into()),
        );
        let k = EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap();
        // A subject that is a local user's id does not become that id.
        let local_id = "0123456789abcdef0123456789abcdef";
        let mut c = ext_claims();
        c["sub"] = json!(local_id);
        c["role"] = json!("admin");
        let id = v
            .verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW)
            .unwrap();
        assert_ne!(id.user_id, local_id);
        assert!(id.user_id.starts_with("ext-"), "{}", id.user_id);
        assert_eq!(id.role, Role::Creator);
        // Another issuer's same subject is another user.
        assert_ne!(
            external_user_id("https://other.example", local_id),
            id.user_id
        );
    }

    #[test]
    fn only_configured_subjects_are_external_admins() {
        let local = SigningKeyring::generate();
        let mut cfg = ExternalIssuerConfig::new(
            EXT_ISS,
            EXT_AUD,
            ExternalAlgorithm::RS256,
            ExternalKeySource::Pem(RSA_PUB.into()),
        );
        cfg.admin_subjects = vec!["boss".into()];
        let v = TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys())
            .with_external(cfg)
            .unwrap();
        let k = EncodingKey::from_rsa_pem(RSA_PRIV.as_bytes()).unwrap();
        let role_of = |sub: &str, role: Value| {
            let mut c = ext_claims();
            c["sub"] = json!(sub);
            c["role"] = role;
            v.verify_at(&ext_token(Algorithm::RS256, None, &k, &c), NOW)
                .unwrap()
                .role
        };
        assert_eq!(role_of("boss", json!("learner")), Role::Admin);
        assert_eq!(role_of("other", json!("admin")), Role::Creator);
        assert_eq!(role_of("other", json!(["admin"])), Role::Creator);
        assert_eq!(role_of("other", json!("learner")), Role::Learner);
    }

    #[test]
    fn external_eddsa_pem_and_issuer_separation() {
        let local = SigningKeyring::generate();
        let ext_ring = SigningKeyring::generate();
        let vk = *ext_ring
            .public_keys()
            .get(ext_ring.active_kid().unwrap())
            .unwrap();
        let pem = vk.to_public_key_pem(LineEnding::LF).unwrap();
        let v = ext_verifier(
            &local,
            ExternalAlgorithm::EdDSA,
            ExternalKeySource::Pem(pem),
        );
        let tok = sign_raw(&ext_ring, &ext_claims());
        assert_eq!(v.verify_at(&tok, NOW).unwrap().issuer, Issuer::External);
        // External key signing a token that claims the LOCAL issuer name: rejected
        // (routed to local keys, kid unknown there).
        let mut c = claims_json(NOW);
        c["iss"] = json!(ISS);
        let tok = sign_raw(&ext_ring, &c);
        assert_eq!(refused(&v, &tok), TokenError::UnknownKid);
        // Even reusing a local kid it fails the signature.
        let e = ext_ring.keys.last().unwrap();
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = local.active_kid().map(str::to_owned);
        let tok = jsonwebtoken::encode(&h, &c, &e.encoding).unwrap();
        assert_eq!(refused(&v, &tok), TokenError::BadSignature);
        // Local tokens still work next to the external issuer.
        let issuer = TokenIssuer::new(local, ISS, AUD);
        let (tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        assert_eq!(v.verify_at(&tok, NOW).unwrap().issuer, Issuer::Local);
        // An external issuer may not share the local name.
        let bad = TokenVerifier::new(VerifierConfig::new(ISS, AUD), PublicKeyring::default())
            .with_external(ExternalIssuerConfig::new(
                ISS,
                EXT_AUD,
                ExternalAlgorithm::EdDSA,
                ExternalKeySource::Pem(String::new()),
            ));
        assert!(matches!(bad, Err(TokenError::Config(_))));
    }

    #[test]
    fn external_bad_key_material_rejected() {
        let local = SigningKeyring::generate();
        let r = TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys())
            .with_external(ExternalIssuerConfig::new(
                EXT_ISS,
                EXT_AUD,
                ExternalAlgorithm::RS256,
                ExternalKeySource::Pem("not a pem".into()),
            ));
        assert!(matches!(r, Err(TokenError::InvalidKey(_))));
        // A JWKS with no key for the pinned algorithm is refused.
        let r = TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys())
            .with_external(ExternalIssuerConfig::new(
                EXT_ISS,
                EXT_AUD,
                ExternalAlgorithm::EdDSA,
                ExternalKeySource::Jwks(EXT_JWKS.into()),
            ));
        assert!(matches!(r, Err(TokenError::InvalidKey(_))));
        // refresh_jwks without an external issuer.
        let v = TokenVerifier::new(VerifierConfig::new(ISS, AUD), local.public_keys());
        assert!(matches!(
            v.refresh_jwks(EXT_JWKS),
            Err(TokenError::Config(_))
        ));
        assert!("RS512".parse::<ExternalAlgorithm>().is_err());
        assert_eq!(
            "ES256".parse::<ExternalAlgorithm>().unwrap(),
            ExternalAlgorithm::ES256
        );
    }
}
