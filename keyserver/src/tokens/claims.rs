//! Who a token speaks for: roles, the claims of a local token, and the identity a
//! verified token yields. Shared by issuing and both verification paths.

use super::TokenError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a user may do. Carried in local tokens; mapped from a claim for external ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Learners watch videos they are enrolled in.
    Learner,
    /// Creators upload and manage their own courses.
    Creator,
    /// Admins manage everything.
    Admin,
}

impl Role {
    const ALL: [Self; 3] = [Self::Learner, Self::Creator, Self::Admin];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Creator => "creator",
            Role::Learner => "learner",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| TokenError::MissingClaim("role".into()))
    }
}

/// Claims of a locally issued access token. All fields are required on verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// The user's role at issue time.
    pub role: Role,
    /// Our issuer name.
    pub iss: String,
    /// Our audience.
    pub aud: String,
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Not before, unix seconds.
    pub nbf: u64,
    /// Issued at, unix seconds.
    pub iat: u64,
    /// Unique token id (for audit trails and future deny-lists).
    pub jti: String,
}

/// Which issuer vouched for an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Issuer {
    /// Our own [`TokenIssuer`](super::TokenIssuer).
    Local,
    /// The configured external identity provider.
    External,
}

/// The result of successful verification: who, with what role, vouched by whom, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedIdentity {
    /// Local user id (local `sub`; for the external issuer, its own namespace:
    /// [`external_user_id`](super::external_user_id) of the issuer and subject).
    pub user_id: String,
    /// Role (external: from the role claim, missing/unknown → learner, at most
    /// creator unless the subject is a configured admin).
    pub role: Role,
    /// Who issued the token.
    pub issuer: Issuer,
    /// The external issuer's own name for the user (its user claim); `None` for local tokens.
    pub external_subject: Option<String>,
    /// Token expiry, unix seconds.
    pub expires_at: u64,
}
