//! Where each secret comes from: an operator-supplied file, or generated into the data dir.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Paths only, never the secrets: reading them is `crate::secrets`' job.
#[derive(clap::Args, Serialize, Deserialize, Debug, Clone, Default)]
#[command(next_help_heading = "Secret files")]
pub struct SecretSources {
    /// File holding the URL-signing secret (base64, ≥ 32 bytes, mode 0600).
    #[arg(long, env = "SEALCAST_URL_SIGNING_SECRET_FILE")]
    pub url_signing_secret_file: Option<PathBuf>,
    /// File holding the custody master key (base64 X25519 secret, mode 0600).
    #[arg(long, env = "SEALCAST_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// File holding the token signing key (Ed25519 PKCS#8 PEM, mode 0600).
    #[arg(long, env = "SEALCAST_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
    /// File holding the custody master PUBLIC key (base64); default
    /// `<data dir>/secrets/master.pub`, written by the key server.
    #[arg(long, env = "SEALCAST_MASTER_PUBLIC_KEY_FILE")]
    pub master_public_key_file: Option<PathBuf>,
}
