//! The one trusted external token issuer (a course platform's own login):
//! its public keys from a PEM file, a JWKS file or a JWKS URL. A URL is
//! fetched at start (the server refuses to start without it, rather than
//! reject every learner silently) and refreshed every 15 minutes; a failed
//! refresh keeps the previous keys.

use std::sync::Arc;
use std::time::Duration;

use sealcast_keyserver::{ExternalIssuerConfig, ExternalKeySource, TokenVerifier};

use crate::identity::{ExternalIssuerSettings, ExternalKeyLocation};

/// How often a JWKS URL is fetched again (the issuer's key rotation).
const REFRESH_EVERY: Duration = Duration::from_secs(15 * 60);
/// JWKS documents are small; refuse anything bigger.
const MAX_JWKS_BYTES: usize = 256 * 1024;

async fn fetch_jwks(url: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?;
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    if body.len() > MAX_JWKS_BYTES {
        return Err(format!("JWKS larger than {MAX_JWKS_BYTES} bytes"));
    }
    String::from_utf8(body.to_vec()).map_err(|_| "JWKS is not UTF-8".into())
}

/// The verifier config for `settings`, reading or fetching its keys.
pub async fn load(settings: &ExternalIssuerSettings) -> Result<ExternalIssuerConfig, String> {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let key = match &settings.key {
        ExternalKeyLocation::PemFile(p) => ExternalKeySource::Pem(read(p)?),
        ExternalKeyLocation::JwksFile(p) => ExternalKeySource::Jwks(read(p)?),
        ExternalKeyLocation::JwksUrl(u) => ExternalKeySource::Jwks(
            fetch_jwks(u)
                .await
                .map_err(|e| format!("cannot fetch {u}: {e}"))?,
        ),
    };
    let mut cfg = ExternalIssuerConfig::new(
        settings.issuer.clone(),
        settings.audience.clone(),
        settings.algorithm,
        key,
    );
    cfg.user_claim = settings.user_claim.clone();
    cfg.role_claim = settings.role_claim.clone();
    cfg.admin_subjects = settings.admin_subjects.clone();
    Ok(cfg)
}

/// Keeps a JWKS URL's keys fresh for the life of the process.
pub fn spawn_refresh(settings: &ExternalIssuerSettings, verifier: Arc<TokenVerifier>) {
    let ExternalKeyLocation::JwksUrl(url) = settings.key.clone() else {
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REFRESH_EVERY).await;
            match fetch_jwks(&url).await.map(|j| verifier.refresh_jwks(&j)) {
                Ok(Ok(n)) => tracing::debug!(keys = n, "external JWKS refreshed"),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "external JWKS unusable; keeping the old keys")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "external JWKS fetch failed; keeping the old keys")
                }
            }
        }
    });
}
