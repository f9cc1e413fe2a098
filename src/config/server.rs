//! How this process serves: address, roles, TLS, CORS, timeouts, logs, the web app.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::checks::{given, is_http_url, seconds, within};
use super::{ConfigError, DEFAULT_LISTEN, DEFAULT_WEB_DIR};
use crate::connections::ConnectionLimits;
use crate::identity::Roles;

#[derive(clap::Args, Serialize, Deserialize, Debug, Default, Clone)]
#[command(next_help_heading = "Serving")]
pub struct ServerArgs {
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "SEALCAST_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve `/metrics` only on this address (e.g. a private interface), not on
    /// `--listen`; port 0 picks a free port (printed at start). Default: on `--listen`.
    #[arg(long, env = "SEALCAST_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// What this process does, comma separated: `edge`, `keyserver`, `worker` (default all).
    /// Only a `keyserver` process reads the custody master private key.
    #[arg(long, env = "SEALCAST_ROLES", value_delimiter = ',')]
    pub roles: Option<Vec<String>>,
    /// On an edge without the `keyserver` role: the key servers `/keys/` requests
    /// are forwarded to, comma separated (e.g. `http://ks-1:8080,http://ks-2:8080`).
    /// A session's requests always go to the same one while it is up, so its
    /// limits and pacing live in one place. Unset: such an edge answers `/keys/`
    /// with 404, for a load balancer that routes `/keys/` itself.
    #[arg(long, env = "SEALCAST_KEYSERVER_URL", value_delimiter = ',')]
    pub keyserver_url: Option<Vec<String>>,
    /// `plain` or `json`.
    #[arg(long, env = "SEALCAST_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Origins allowed by CORS, comma separated; none by default (never `*`).
    #[arg(long, env = "SEALCAST_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,
    /// PEM certificate chain; with `--tls-key` the server speaks HTTPS only.
    #[arg(long, env = "SEALCAST_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `--tls-cert`.
    #[arg(long, env = "SEALCAST_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a request may take before it is answered 503 (uploads excluded).
    #[arg(long, env = "SEALCAST_REQUEST_TIMEOUT_SECS")]
    pub request_timeout_secs: Option<u64>,
    /// Proxies (CIDRs or addresses, comma separated) whose `Forwarded` /
    /// `X-Forwarded-For` name the client; none by default (the socket peer is the client).
    #[arg(long, env = "SEALCAST_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// Seconds a client has to send a request's headers (also the longest
    /// HTTP/1.1 keep-alive pause between requests: hyper times the wait for the next head).
    #[arg(long, env = "SEALCAST_HEADER_READ_TIMEOUT_SECS")]
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a connection may sit with no request in flight and no bytes
    /// moving before it is closed (bounds HTTP/2 and stalled readers too).
    #[arg(long, env = "SEALCAST_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// Open connections at most; one over the cap is closed at once.
    #[arg(long, env = "SEALCAST_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "SEALCAST_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// Folder of the built web app (`make web`), served at `/`.
    #[arg(long, env = "SEALCAST_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Plain,
    Json,
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl ServerArgs {
    pub(super) fn defaults() -> Self {
        Self {
            listen: Some(DEFAULT_LISTEN.parse().expect("the default address parses")),
            roles: Some(["edge", "keyserver", "worker"].map(String::from).into()),
            log_format: Some("plain".into()),
            cors_origins: Some(Vec::new()),
            request_timeout_secs: Some(30),
            shutdown_grace_secs: Some(20),
            trusted_proxies: Some(Vec::new()),
            header_read_timeout_secs: Some(10),
            idle_timeout_secs: Some(60),
            max_connections: Some(4096),
            web_dir: Some(PathBuf::from(DEFAULT_WEB_DIR)),
            ..Self::default()
        }
    }

    pub(super) fn roles(&self) -> Result<Roles, ConfigError> {
        let mut roles = Roles::none();
        for value in given("roles", self.roles.as_ref())? {
            match value.trim() {
                "edge" => roles.edge = true,
                "keyserver" => roles.keyserver = true,
                "worker" => roles.worker = true,
                other => {
                    return Err(ConfigError::new(
                        "roles",
                        format!("`{other}` is not one of edge, keyserver, worker"),
                    ))
                }
            }
        }
        if !(roles.edge || roles.keyserver || roles.worker) {
            return Err(ConfigError::new("roles", "name at least one role"));
        }
        Ok(roles)
    }

    /// The key servers to forward to: http(s) origins with no path, query or
    /// credentials, and only for an edge that is not itself a key server.
    pub(super) fn keyserver_urls(&self, roles: Roles) -> Result<Vec<reqwest::Url>, ConfigError> {
        let raw = self.keyserver_url.clone().unwrap_or_default();
        let bad = |reason: &str| ConfigError::new("keyserver_url", reason.to_string());
        if !raw.is_empty() && (!roles.edge || roles.keyserver) {
            return Err(bad(
                "only an edge without the keyserver role forwards key requests",
            ));
        }
        raw.iter()
            .map(|raw| {
                let url = reqwest::Url::parse(raw.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                    .ok_or_else(|| bad("expected http(s) URLs such as http://keyserver:8080"))?;
                if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
                    return Err(bad(
                        "give only scheme, host and port (no path, query or user)",
                    ));
                }
                Ok(url)
            })
            .collect()
    }

    pub(super) fn log_format(&self) -> Result<LogFormat, ConfigError> {
        match given("log_format", self.log_format.as_deref())? {
            "plain" => Ok(LogFormat::Plain),
            "json" => Ok(LogFormat::Json),
            other => Err(ConfigError::new(
                "log_format",
                format!("`{other}` is not `plain` or `json`"),
            )),
        }
    }

    pub(super) fn cors_origins(&self) -> Result<Vec<String>, ConfigError> {
        let origins = given("cors_origins", self.cors_origins.clone())?;
        for origin in &origins {
            check_origin(origin)?;
        }
        Ok(origins)
    }

    pub(super) fn tls(&self) -> Result<Option<TlsConfig>, ConfigError> {
        match (self.tls_cert.clone(), self.tls_key.clone()) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => Ok(Some(TlsConfig { cert, key })),
            (Some(_), None) => Err(ConfigError::new(
                "tls_key",
                "tls_cert is set but tls_key is not",
            )),
            (None, Some(_)) => Err(ConfigError::new(
                "tls_cert",
                "tls_key is set but tls_cert is not",
            )),
        }
    }

    pub(super) fn request_timeout(&self) -> Result<Duration, ConfigError> {
        seconds("request_timeout_secs", self.request_timeout_secs, 1..=3600)
    }

    pub(super) fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        given("trusted_proxies", self.trusted_proxies.as_ref())?
            .iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        ConfigError::new(
                            "trusted_proxies",
                            format!("`{s}` is not an address or a CIDR like 10.0.0.0/8"),
                        )
                    })
            })
            .collect()
    }

    pub(super) fn connection_limits(&self) -> Result<ConnectionLimits, ConfigError> {
        Ok(ConnectionLimits {
            header_read_timeout: seconds(
                "header_read_timeout_secs",
                self.header_read_timeout_secs,
                1..=3600,
            )?,
            idle_timeout: seconds("idle_timeout_secs", self.idle_timeout_secs, 1..=86_400)?,
            max_connections: within("max_connections", self.max_connections, 1..=1_000_000)?,
        })
    }

    pub(super) fn shutdown_grace(&self) -> Result<Duration, ConfigError> {
        seconds("shutdown_grace_secs", self.shutdown_grace_secs, 0..=3600)
    }
}

fn check_origin(origin: &str) -> Result<(), ConfigError> {
    if origin == "*" {
        return Err(ConfigError::new(
            "cors_origins",
            "`*` is refused: list the exact origins that may call the API",
        ));
    }
    let ok = is_http_url(origin)
        && !origin.trim_end_matches('/').contains(['?', '#', ' '])
        && axum::http::HeaderValue::from_str(origin).is_ok();
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "cors_origins",
            format!("`{origin}` is not an origin like https://example.com"),
        ))
    }
}
