//! Minting local access tokens: short-lived, signed by the newest keyring key.

use super::{map_jwt_error, unix_now, Claims, Role, SigningKeyring, TokenError};
use super::{DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, Header};
use rand::rngs::OsRng;
use std::sync::{RwLock, RwLockReadGuard};
use std::time::Duration;

/// Mints local access tokens with the newest key of a [`SigningKeyring`].
///
/// The keyring sits behind a lock so a running node can take a rotated keyring
/// ([`set_keyring`](Self::set_keyring)) without a restart.
#[derive(Debug)]
pub struct TokenIssuer {
    keyring: RwLock<SigningKeyring>,
    issuer: String,
    audience: String,
    default_ttl: Duration,
}

impl TokenIssuer {
    /// `issuer`/`audience` must match the verifier's [`VerifierConfig`](super::VerifierConfig).
    pub fn new(
        keyring: SigningKeyring,
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            keyring: RwLock::new(keyring),
            issuer: issuer.into(),
            audience: audience.into(),
            default_ttl: DEFAULT_TOKEN_TTL,
        }
    }

    /// Change the default TTL (clamped to [`MAX_TOKEN_TTL`]).
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl.min(MAX_TOKEN_TTL);
        self
    }

    /// The keyring (e.g. to serve its JWKS). Hold the guard briefly: signing waits on it.
    pub fn keyring(&self) -> RwLockReadGuard<'_, SigningKeyring> {
        self.keyring.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Mutable keyring, for rotation.
    pub fn keyring_mut(&mut self) -> &mut SigningKeyring {
        self.keyring.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    /// Swap in a new keyring (a rotation another node or the admin command made);
    /// tokens issued from now on are signed with its newest key.
    pub fn set_keyring(&self, keyring: SigningKeyring) {
        *self.keyring.write().unwrap_or_else(|e| e.into_inner()) = keyring;
    }

    /// Issue a token for `user_id`. `ttl = None` uses the default (15 min); any TTL is
    /// clamped to [`MAX_TOKEN_TTL`]. Returns `(token, expires_in_seconds)`.
    pub fn issue(
        &self,
        user_id: &str,
        role: Role,
        ttl: Option<Duration>,
    ) -> Result<(String, u64), TokenError> {
        self.issue_at(user_id, role, ttl, unix_now())
    }

    /// [`issue`](Self::issue) with an explicit "now" (unix seconds), for tests.
    pub fn issue_at(
        &self,
        user_id: &str,
        role: Role,
        ttl: Option<Duration>,
        now: u64,
    ) -> Result<(String, u64), TokenError> {
        let keyring = self.keyring();
        let entry = keyring
            .keys
            .last()
            .ok_or_else(|| TokenError::Config("signing keyring is empty".into()))?;
        if user_id.is_empty() {
            return Err(TokenError::MissingClaim("sub".into()));
        }
        let ttl = ttl
            .unwrap_or(self.default_ttl)
            .min(MAX_TOKEN_TTL)
            .as_secs()
            .max(1);
        let mut jti = [0u8; 16];
        rand::RngCore::fill_bytes(&mut OsRng, &mut jti);
        let claims = Claims {
            sub: user_id.to_owned(),
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ttl,
            nbf: now,
            iat: now,
            jti: URL_SAFE_NO_PAD.encode(jti),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(entry.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &entry.encoding).map_err(map_jwt_error)?;
        Ok((token, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Issuer, VerifiedIdentity};
    use super::*;

    #[test]
    fn issue_and_verify_roundtrip() {
        let (issuer, verifier) = setup();
        let (tok, expires_in) = issuer.issue_at("user-7", Role::Creator, None, NOW).unwrap();
        assert_eq!(expires_in, 900);
        let id = verifier.verify_at(&tok, NOW + 1).unwrap();
        assert_eq!(
            id,
            VerifiedIdentity {
                user_id: "user-7".into(),
                role: Role::Creator,
                issuer: Issuer::Local,
                external_subject: None,
                expires_at: NOW + 900,
            }
        );
        let h = jsonwebtoken::decode_header(&tok).unwrap();
        assert_eq!(h.alg, Algorithm::EdDSA);
        assert_eq!(h.kid.as_deref(), issuer.keyring().active_kid());
        // Real-clock path works too.
        let (tok, _) = issuer
            .issue("u", Role::Admin, Some(Duration::from_secs(60)))
            .unwrap();
        assert_eq!(verifier.verify(&tok).unwrap().role, Role::Admin);
        // TTL is clamped.
        let (_, e) = issuer
            .issue_at("u", Role::Admin, Some(Duration::from_secs(10 * 86400)), NOW)
            .unwrap();
        assert_eq!(e, MAX_TOKEN_TTL.as_secs());
    }

    #[test]
    fn a_swapped_in_keyring_signs_at_once() {
        let (issuer, verifier) = setup();
        let before = issuer.keyring().active_kid().unwrap().to_owned();
        let mut next = SigningKeyring::from_pems(issuer.keyring().to_pems().unwrap()).unwrap();
        let new_kid = next.rotate();
        issuer.set_keyring(next);
        let (tok, _) = issuer.issue_at("u", Role::Learner, None, NOW).unwrap();
        let kid = jsonwebtoken::decode_header(&tok).unwrap().kid.unwrap();
        assert_eq!(kid, new_kid);
        assert_ne!(kid, before);
        // A verifier that has not reloaded does not know the new kid yet.
        assert_eq!(
            verifier.verify_at(&tok, NOW),
            Err(super::super::TokenError::UnknownKid)
        );
        verifier.set_local_keys(issuer.keyring().public_keys());
        assert!(verifier.verify_at(&tok, NOW).is_ok());
    }
}
