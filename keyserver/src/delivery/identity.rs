//! Step 3 of the key route: the caller proves to be the session's user, with a
//! Bearer JWT of that user or the session's HttpOnly cookie (compared by hash, in
//! constant time). A Bearer header, when sent, is authoritative.

use super::cookies::cookie_hash;
use super::error::KeyErrorCode;
use super::request::Credential;
use super::store::SessionRecord;
use crate::tokens::TokenVerifier;
use subtle::ConstantTimeEq;

pub(super) fn prove_user(
    verifier: &TokenVerifier,
    credential: &Credential,
    session: &SessionRecord,
    now: u64,
) -> Result<(), KeyErrorCode> {
    match credential {
        Credential::Missing => Err(KeyErrorCode::MissingToken),
        Credential::BadAuthorization => Err(KeyErrorCode::InvalidToken),
        Credential::Bearer(token) => match verifier.verify_at(token, now) {
            Ok(id) if id.user_id == session.user_id => Ok(()),
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
