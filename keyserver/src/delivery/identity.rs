//! Step 3 of the key route: the caller proves to be the session's user, with a
//! Bearer JWT of that user or the session's HttpOnly cookie (compared by hash, in
//! constant time). A Bearer header, when sent, is authoritative.
//!
//! A verified token is remembered until its own expiry ([`VerifiedTokens`]),
//! keyed by its SHA-256, never by the token: a player sends the same token
//! with every key request, and the signature check is a fifth of the route's
//! cost. Nothing about the user's rights is in it (those are step 4's).

use sha2::{Digest, Sha256};

use super::cookies::cookie_hash;
use super::error::KeyErrorCode;
use super::request::Credential;
use super::store::SessionRecord;
use crate::cache::BudgetCache;
use crate::tokens::TokenVerifier;
use subtle::ConstantTimeEq;

/// SHA-256 of a verified token → (its user, its expiry in unix seconds).
pub(super) type VerifiedTokens = BudgetCache<[u8; 32], (String, u64)>;

/// Byte budget of [`VerifiedTokens`]: about 40,000 tokens.
pub(super) const VERIFIED_TOKENS_BUDGET: usize = 8 << 20;

pub(super) fn prove_user(
    verifier: &TokenVerifier,
    verified: &VerifiedTokens,
    credential: &Credential,
    session: &SessionRecord,
    now: u64,
) -> Result<(), KeyErrorCode> {
    match credential {
        Credential::Missing => Err(KeyErrorCode::MissingToken),
        Credential::BadAuthorization => Err(KeyErrorCode::InvalidToken),
        Credential::Bearer(token) => match token_user(verifier, verified, token, now) {
            Ok(user_id) if user_id == session.user_id => Ok(()),
            Ok(_) => Err(KeyErrorCode::WrongUser),
            Err(e) => {
                tracing::debug!(error = %e, "key request with invalid token");
                Err(KeyErrorCode::InvalidToken)
            }
        },
        Credential::Cookies(values) => {
            let expected = session
                .cookie_secret_hash
                .ok_or(KeyErrorCode::InvalidToken)?;
            let mut ok = subtle::Choice::from(0u8);
            for v in values {
                ok |= cookie_hash(v).ct_eq(&expected);
            }
            if bool::from(ok) {
                Ok(())
            } else {
                Err(KeyErrorCode::InvalidToken)
            }
        }
    }
}

/// The user a valid token names: remembered while the token lives, verified
/// otherwise. Only accepted tokens are remembered (a flood of forgeries
/// cannot evict real ones by being cached).
fn token_user(
    verifier: &TokenVerifier,
    verified: &VerifiedTokens,
    token: &str,
    now: u64,
) -> Result<String, crate::tokens::TokenError> {
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    if let Some((user_id, _)) = verified.get(&digest, |(_, exp)| *exp > now) {
        return Ok(user_id);
    }
    let (identity, exp) = verifier.verify_until(token, now)?;
    verified.insert(
        digest,
        (identity.user_id.clone(), exp),
        40 + identity.user_id.len(),
    );
    Ok(identity.user_id)
}
