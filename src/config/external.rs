//! An external token issuer (a course platform) whose access tokens are also accepted.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::checks::{given, is_trusted_fetch_url};
use super::ConfigError;
use crate::identity::{ExternalIssuerSettings, ExternalKeyLocation};

#[derive(clap::Args, Serialize, Deserialize, Debug, Default, Clone)]
#[command(next_help_heading = "External token issuer")]
pub struct ExternalIssuerArgs {
    /// Also accept access tokens from this issuer (`iss`), e.g. a course platform.
    #[arg(long, env = "SEALCAST_EXTERNAL_ISSUER")]
    pub external_issuer: Option<String>,
    /// The `aud` the external issuer puts in tokens for sealcast.
    #[arg(long, env = "SEALCAST_EXTERNAL_AUDIENCE")]
    pub external_audience: Option<String>,
    /// The one algorithm accepted from it: RS256 (default), ES256 or EdDSA.
    #[arg(long, env = "SEALCAST_EXTERNAL_ALGORITHM")]
    pub external_algorithm: Option<String>,
    /// Its public key as a PEM file.
    #[arg(long, env = "SEALCAST_EXTERNAL_KEY_FILE")]
    pub external_key_file: Option<PathBuf>,
    /// Its JWKS as a file.
    #[arg(long, env = "SEALCAST_EXTERNAL_JWKS_FILE")]
    pub external_jwks_file: Option<PathBuf>,
    /// Its JWKS URL (fetched at start, refreshed every 15 minutes).
    #[arg(long, env = "SEALCAST_EXTERNAL_JWKS_URL")]
    pub external_jwks_url: Option<String>,
    /// Claim naming the user (default `sub`).
    #[arg(long, env = "SEALCAST_EXTERNAL_USER_CLAIM")]
    pub external_user_claim: Option<String>,
    /// Claim naming the role (default `role`; missing or unknown means learner,
    /// and a claimed admin is a creator: the platform cannot mint admins).
    #[arg(long, env = "SEALCAST_EXTERNAL_ROLE_CLAIM")]
    pub external_role_claim: Option<String>,
    /// The issuer's subjects (user claim values) that are admins here, comma
    /// separated; none by default.
    #[arg(long, env = "SEALCAST_EXTERNAL_ADMIN_SUBJECTS", value_delimiter = ',')]
    pub external_admin_subjects: Option<Vec<String>>,
}

impl ExternalIssuerArgs {
    /// Defaults for the parts that only matter once an issuer is named.
    pub(super) fn defaults() -> Self {
        Self {
            external_algorithm: Some("RS256".into()),
            external_user_claim: Some("sub".into()),
            external_role_claim: Some("role".into()),
            ..Self::default()
        }
    }

    /// `None` when no issuer is named; then no key may be given either.
    pub(super) fn settings(self) -> Result<Option<ExternalIssuerSettings>, ConfigError> {
        let key = (
            self.external_key_file,
            self.external_jwks_file,
            self.external_jwks_url,
        );
        let admin_subjects = self.external_admin_subjects.unwrap_or_default();
        if admin_subjects.iter().any(|s| s.trim().is_empty()) {
            return Err(ConfigError::new(
                "external_admin_subjects",
                "an empty subject is not a subject",
            ));
        }
        let Some(issuer) = self.external_issuer else {
            if !admin_subjects.is_empty() {
                return Err(ConfigError::new(
                    "external_admin_subjects",
                    "given but no external_issuer",
                ));
            }
            if key != (None, None, None) {
                return Err(ConfigError::new(
                    "external_issuer",
                    "an external key is configured but no external_issuer",
                ));
            }
            return Ok(None);
        };
        let audience = self.external_audience.ok_or_else(|| {
            ConfigError::new("external_audience", "required with external_issuer")
        })?;
        let algorithm = given("external_algorithm", self.external_algorithm)?
            .parse()
            .map_err(|_| ConfigError::new("external_algorithm", "must be RS256, ES256 or EdDSA"))?;
        Ok(Some(ExternalIssuerSettings {
            issuer,
            audience,
            algorithm,
            key: key_location(key)?,
            user_claim: given("external_user_claim", self.external_user_claim)?,
            role_claim: given("external_role_claim", self.external_role_claim)?,
            admin_subjects,
        }))
    }
}

fn key_location(
    key: (Option<PathBuf>, Option<PathBuf>, Option<String>),
) -> Result<ExternalKeyLocation, ConfigError> {
    match key {
        (Some(p), None, None) => Ok(ExternalKeyLocation::PemFile(p)),
        (None, Some(p), None) => Ok(ExternalKeyLocation::JwksFile(p)),
        (None, None, Some(u)) if is_trusted_fetch_url(&u) => Ok(ExternalKeyLocation::JwksUrl(u)),
        (None, None, Some(_)) => Err(ConfigError::new(
            "external_jwks_url",
            "must be an https URL (plain http only on loopback)",
        )),
        _ => Err(ConfigError::new(
            "external_issuer",
            "give exactly one of external_key_file, external_jwks_file, external_jwks_url",
        )),
    }
}
