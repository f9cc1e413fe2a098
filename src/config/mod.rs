//! Layered configuration for `sealcast serve`: flag > `SEALCAST_*` env > TOML file > default.
//!
//! Each setting is declared once, as a field of one of the per-concern
//! argument structs below: clap reads it from its flag or its variable, serde
//! from the TOML file (same name in snake_case), and figment stacks the layers
//! (see `layers.rs`). Each concern then turns its merged values into the typed
//! settings of [`Config`]. A bad value anywhere is a [`ConfigError`] that names
//! the setting, so the binary can print one line and exit with status 2.

mod checks;
mod external;
mod identity;
mod jobs;
mod layers;
mod secrets;
mod server;
mod storage;
mod uploads;
mod webhooks;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::identity::{IdentitySettings, Roles};
use crate::jobs::JobSettings;
use crate::uploads::UploadSettings;

pub use self::external::ExternalIssuerArgs;
pub use self::identity::IdentityArgs;
pub use self::jobs::JobArgs;
pub use self::secrets::SecretSources;
pub use self::server::{LogFormat, ServerArgs, TlsConfig};
pub use self::storage::StorageArgs;
pub use self::uploads::UploadArgs;
pub use self::webhooks::WebhookArgs;
pub use crate::storage::StorageConfig;

/// Flags of `sealcast serve`; every one also reads a `SEALCAST_*` variable.
///
/// clap is the one reader of flags and variables (so `--help` lists both),
/// which is why a flag beats its variable; together they beat the file.
#[derive(clap::Args, Serialize, Debug, Default, Clone)]
pub struct ServeArgs {
    /// Optional TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "SEALCAST_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Seed demo accounts (passwords printed once), a course and a generated
    /// sample video; loopback listeners only.
    #[arg(long, env = "SEALCAST_DEMO")]
    #[serde(skip)]
    pub demo: bool,
    /// Directory for the SQLite database, local objects and generated secrets.
    #[arg(long, env = "SEALCAST_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub secrets: SecretSources,
    #[command(flatten)]
    #[serde(flatten)]
    pub jobs: JobArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub identity: IdentityArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub external: ExternalIssuerArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub uploads: UploadArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub webhooks: WebhookArgs,
}

impl ServeArgs {
    /// The bottom layer: every setting that has a default, set to it.
    fn defaults() -> Self {
        Self {
            data_dir: Some(PathBuf::from(DEFAULT_DATA_DIR)),
            server: ServerArgs::defaults(),
            storage: StorageArgs::defaults(),
            jobs: JobArgs::defaults(),
            identity: IdentityArgs::defaults(),
            external: ExternalIssuerArgs::defaults(),
            uploads: UploadArgs::defaults(),
            webhooks: WebhookArgs::defaults(),
            ..Self::default()
        }
    }
}

/// A setting that could not be used; `Display` is the one line printed at exit.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{setting}`: {reason}")]
pub struct ConfigError {
    pub setting: Cow<'static, str>,
    pub reason: String,
}

impl ConfigError {
    fn new(setting: impl Into<Cow<'static, str>>, reason: impl Into<String>) -> Self {
        Self {
            setting: one_line(setting.into()),
            reason: one_line(reason.into().into()).into_owned(),
        }
    }
}

/// A reason quotes the value it refuses, and a value may hold a newline: control
/// characters are escaped so the message stays the one line the binary prints.
fn one_line(text: Cow<'static, str>) -> Cow<'static, str> {
    if !text.chars().any(char::is_control) {
        return text;
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

impl From<crate::storage::InvalidStorageSetting> for ConfigError {
    fn from(e: crate::storage::InvalidStorageSetting) -> Self {
        Self::new(e.setting, e.reason)
    }
}

/// The resolved configuration. Holds no secret values, only where they live,
/// so it is safe to log.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Where `/metrics` is served instead of `listen`, if set.
    pub metrics_listen: Option<SocketAddr>,
    pub database_url: String,
    pub storage: StorageConfig,
    /// Bytes of encrypted segments kept in memory (`HotObjects`).
    pub segment_cache_bytes: usize,
    /// The `X-Accel-Redirect` prefix segments are handed to nginx under, if any.
    pub segment_redirect: Option<String>,
    pub log_format: LogFormat,
    pub cors_origins: Vec<String>,
    pub tls: Option<TlsConfig>,
    pub request_timeout: Duration,
    /// Proxies whose forwarding headers name the client (login limits, audits).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Header-read and idle timeouts, and the connection cap.
    pub connections: crate::connections::ConnectionLimits,
    pub shutdown_grace: Duration,
    pub secrets: SecretSources,
    pub jobs: JobSettings,
    /// Which parts of sealcast this process runs.
    pub roles: Roles,
    /// Where an edge without the keyserver role forwards `/keys/` requests
    /// (empty: it does not).
    pub keyserver_urls: Vec<reqwest::Url>,
    /// Tokens, playback sessions, key pacing and login limits.
    pub identity: IdentitySettings,
    pub uploads: UploadSettings,
    /// Where webhooks may go and how they are retried.
    pub webhooks: crate::webhooks::WebhookSettings,
    /// The built web app; a missing folder gets a page saying how to build it.
    pub web_dir: PathBuf,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./sealcast-data";
/// Where `make web` puts the app, relative to the working directory.
pub const DEFAULT_WEB_DIR: &str = "player-demo/dist";

impl Config {
    /// Stacks defaults, the TOML file and the flags/variables in `args`, then
    /// checks and types every setting.
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let layers = layers::Layers::stack(args)?;
        let data_dir: PathBuf = layers.value("data_dir")?;
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("data_dir", "must not be empty"));
        }
        let server: ServerArgs = layers.extract()?;
        let storage: StorageArgs = layers.extract()?;
        let identity: IdentityArgs = layers.extract()?;
        let external: ExternalIssuerArgs = layers.extract()?;
        Ok(Config {
            jobs: layers.extract::<JobArgs>()?.settings()?,
            roles: server.roles()?,
            keyserver_urls: server.keyserver_urls(server.roles()?)?,
            identity: identity.settings(external.settings()?)?,
            uploads: layers.extract::<UploadArgs>()?.settings()?,
            webhooks: layers.extract::<WebhookArgs>()?.settings()?,
            web_dir: checks::given("web_dir", server.web_dir.clone())?,
            database_url: storage.database_url(&data_dir)?,
            segment_redirect: storage.segment_redirect(&storage.location(&data_dir)?)?,
            storage: storage.location(&data_dir)?,
            segment_cache_bytes: storage.segment_cache_bytes()?,
            listen: checks::given("listen", server.listen)?,
            metrics_listen: server.metrics_listen,
            log_format: server.log_format()?,
            cors_origins: server.cors_origins()?,
            tls: server.tls()?,
            request_timeout: server.request_timeout()?,
            connections: server.connection_limits()?,
            trusted_proxies: server.trusted_proxies()?,
            shutdown_grace: server.shutdown_grace()?,
            secrets: layers.extract()?,
            data_dir,
        })
    }

    /// Where generated secrets are kept (mode 0700 directory, 0600 files).
    pub fn secrets_dir(&self) -> PathBuf {
        self.data_dir.join("secrets")
    }
}

#[cfg(test)]
mod tests;
