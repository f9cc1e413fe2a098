//! Access tokens: Ed25519-signed JWTs (EdDSA) for local users, plus one optional
//! configured external issuer (RS256 / ES256 / EdDSA, keyed by PEM or JWKS).
//!
//! * [`SigningKeyring`] holds several Ed25519 keys; the newest signs and all verify,
//!   so rotating a key never invalidates tokens already handed out.
//! * [`TokenIssuer`] mints short-lived access tokens (default 15 min).
//! * [`TokenVerifier`] needs only *public* keys ([`PublicKeyring`]), so any node can
//!   verify without holding a signing key. It pins algorithms per issuer, requires a
//!   known `kid` and checks `exp`/`nbf`/`iss`/`aud` with at most 30 s of leeway.
//!
//! This module must never: let the token header choose the algorithm (no `none`, no
//! HS256-with-the-public-key confusion); fall back from the external issuer to the
//! local keys or vice versa; log a token or a private key; or accept a token with
//! an unknown `kid`.

mod claims;
mod external;
mod issuing;
mod keyring;
#[cfg(test)]
mod test_support;
mod verification;

pub use claims::{Claims, Issuer, Role, VerifiedIdentity};
pub use external::{external_user_id, ExternalAlgorithm, ExternalIssuerConfig, ExternalKeySource};
pub use issuing::TokenIssuer;
pub use keyring::{ed25519_kid, PublicKeyring, SigningKeyring};
pub use verification::{TokenVerifier, VerifierConfig};

use jsonwebtoken::errors::ErrorKind;
use std::time::Duration;

/// Default access-token lifetime: short, because tokens are bearer credentials.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// Upper bound on any issued token's lifetime.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Upper bound on clock-skew leeway for `exp`/`nbf`.
pub const MAX_LEEWAY_SECS: u64 = 30;
/// Tokens longer than this are rejected before any parsing.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Token failures. Coarse enough to return to clients as `invalid_token`, precise
/// enough for audit logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed JWT (structure, base64, JSON).
    #[error("malformed token")]
    Malformed,
    /// The header's `alg` is not the one pinned for the issuer.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The `kid` is missing or not in the key set.
    #[error("unknown key id")]
    UnknownKid,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `exp` has passed (beyond leeway).
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future (beyond leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// `iss` is not an accepted issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not contain our audience.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim is missing or has the wrong type.
    #[error("missing or invalid claim {0}")]
    MissingClaim(String),
    /// Key material could not be parsed or used.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// Inconsistent configuration.
    #[error("configuration error: {0}")]
    Config(String),
}

pub(crate) fn map_jwt_error(e: jsonwebtoken::errors::Error) -> TokenError {
    match e.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            TokenError::AlgorithmNotAllowed
        }
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(c.clone()),
        ErrorKind::InvalidKeyFormat
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::RsaFailedSigning => TokenError::InvalidKey(e.to_string()),
        _ => TokenError::Malformed,
    }
}

pub(crate) fn unix_now() -> u64 {
    crate::clock::Clock::unix_seconds(&crate::clock::SystemClock)
}
