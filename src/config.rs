//! Layered configuration for `sealcast serve`: flag > `SEALCAST_*` env > TOML file > default.
//!
//! clap reads flags and environment variables (each flag names its variable),
//! the optional TOML file fills what they left unset, and defaults fill the
//! rest. A bad value anywhere is a [`ConfigError`] that names the setting, so
//! the binary can print one line and exit with status 2.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::identity::{ExternalIssuerSettings, ExternalKeyLocation, IdentitySettings, Roles};
use crate::jobs::JobSettings;
use crate::storage::S3Options;
pub use crate::storage::StorageConfig;
use crate::uploads::UploadSettings;

/// Flags of `sealcast serve`; every one also reads a `SEALCAST_*` variable.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct ServeArgs {
    /// Optional TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "SEALCAST_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database, local objects and generated secrets.
    #[arg(long, env = "SEALCAST_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, env = "SEALCAST_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// `sqlite://PATH` or `postgres://…`; default: SQLite in the data dir.
    #[arg(long, env = "SEALCAST_DATABASE_URL")]
    pub database_url: Option<String>,
    /// `file:///path` or `s3://bucket/prefix`; default: `<data dir>/objects`.
    #[arg(long, env = "SEALCAST_STORAGE")]
    pub storage: Option<String>,
    /// Custom S3 endpoint (Garage, MinIO); implies path-style addressing.
    #[arg(long, env = "SEALCAST_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region; default `us-east-1`, or `AWS_REGION` from the credential chain.
    #[arg(long, env = "SEALCAST_S3_REGION")]
    pub s3_region: Option<String>,
    /// Objects larger than this many MiB are uploaded to S3 in parts.
    #[arg(long, env = "SEALCAST_S3_PART_SIZE_MIB")]
    pub s3_part_size_mib: Option<u64>,
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
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "SEALCAST_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
    /// File holding the URL-signing secret (base64, ≥ 32 bytes, mode 0600).
    #[arg(long, env = "SEALCAST_URL_SIGNING_SECRET_FILE")]
    pub url_signing_secret_file: Option<PathBuf>,
    /// File holding the custody master key (base64 X25519 secret, mode 0600).
    #[arg(long, env = "SEALCAST_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// File holding the token signing key (Ed25519 PKCS#8 PEM, mode 0600).
    #[arg(long, env = "SEALCAST_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,
    /// Transcode jobs run at once on this node (0: no worker here).
    #[arg(long, env = "SEALCAST_WORKERS")]
    pub workers: Option<usize>,
    /// A transcode job still running after this many seconds is stopped.
    #[arg(long, env = "SEALCAST_JOB_TIMEOUT_SECS")]
    pub job_timeout_secs: Option<u64>,
    /// Address-space limit of a transcode job's process, in MiB.
    #[arg(long, env = "SEALCAST_JOB_MEMORY_MIB")]
    pub job_memory_mib: Option<u64>,
    /// Seconds a claimed job stays claimed without a heartbeat.
    #[arg(long, env = "SEALCAST_JOB_LEASE_SECS")]
    pub job_lease_secs: Option<u64>,
    /// Keep original uploads (private prefix, never served) after transcoding.
    #[arg(long, env = "SEALCAST_KEEP_ORIGINALS", action = clap::ArgAction::Set)]
    pub keep_originals: Option<bool>,
    /// Ladder heights, e.g. `1080,720,480,360,240`.
    #[arg(long, env = "SEALCAST_TRANSCODE_RUNGS", value_delimiter = ',')]
    pub transcode_rungs: Option<Vec<u32>>,
    /// Target HLS segment length in seconds.
    #[arg(long, env = "SEALCAST_SEGMENT_SECONDS")]
    pub segment_seconds: Option<f64>,
    /// A new content key every this many segments.
    #[arg(long, env = "SEALCAST_ROTATE_EVERY")]
    pub rotate_every: Option<u32>,
    /// x264 preset for transcode jobs.
    #[arg(long, env = "SEALCAST_X264_PRESET")]
    pub x264_preset: Option<String>,
    /// Seed demo accounts (passwords printed once), a course and a generated
    /// sample video; loopback listeners only.
    #[arg(long, env = "SEALCAST_DEMO")]
    pub demo: bool,
    /// What this process does, comma separated: `edge`, `keyserver`, `worker` (default all).
    /// Only a `keyserver` process reads the custody master private key.
    #[arg(long, env = "SEALCAST_ROLES", value_delimiter = ',')]
    pub roles: Option<Vec<String>>,
    /// File holding the custody master PUBLIC key (base64); default
    /// `<data dir>/secrets/master.pub`, written by the key server.
    #[arg(long, env = "SEALCAST_MASTER_PUBLIC_KEY_FILE")]
    pub master_public_key_file: Option<PathBuf>,
    /// Lifetime of access tokens in seconds.
    #[arg(long, env = "SEALCAST_ACCESS_TOKEN_TTL_SECS")]
    pub access_token_ttl_secs: Option<u64>,
    /// Lifetime of refresh tokens in seconds.
    #[arg(long, env = "SEALCAST_REFRESH_TOKEN_TTL_SECS")]
    pub refresh_token_ttl_secs: Option<u64>,
    /// Live playback sessions per user; starting one more ends the oldest.
    #[arg(long, env = "SEALCAST_MAX_LIVE_SESSIONS")]
    pub max_live_sessions: Option<u32>,
    /// Seconds a playback session outlives the video's duration (pauses, seeks).
    #[arg(long, env = "SEALCAST_PLAYBACK_SLACK_SECS")]
    pub playback_slack_secs: Option<u64>,
    /// Distinct content keys a playback session may take at once (start-up, seeks).
    #[arg(long, env = "SEALCAST_KEY_PACING_BURST")]
    pub key_pacing_burst: Option<u32>,
    /// How much faster than real time a session may collect new keys.
    #[arg(long, env = "SEALCAST_KEY_PACING_SPEEDUP")]
    pub key_pacing_speedup: Option<u32>,
    /// Login attempts per minute from one IP address.
    #[arg(long, env = "SEALCAST_LOGIN_ATTEMPTS_PER_IP")]
    pub login_attempts_per_ip: Option<u32>,
    /// Login attempts per minute for one account (email).
    #[arg(long, env = "SEALCAST_LOGIN_ATTEMPTS_PER_EMAIL")]
    pub login_attempts_per_email: Option<u32>,
    /// Key requests per second per playback session (burst 4×), repeats included.
    #[arg(long, env = "SEALCAST_KEY_REQUESTS_PER_SECOND")]
    pub key_requests_per_second: Option<u32>,
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
    /// Claim naming the role (default `role`; missing or unknown means learner).
    #[arg(long, env = "SEALCAST_EXTERNAL_ROLE_CLAIM")]
    pub external_role_claim: Option<String>,
    /// Largest upload accepted, in bytes (default 20 GiB; larger: 413).
    #[arg(long, env = "SEALCAST_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// Bytes of video one creator may store, uploads in flight included (0: no quota).
    #[arg(long, env = "SEALCAST_CREATOR_QUOTA_BYTES")]
    pub creator_quota_bytes: Option<u64>,
    /// An upload not touched for this many seconds expires and is swept.
    #[arg(long, env = "SEALCAST_UPLOAD_EXPIRY_SECS")]
    pub upload_expiry_secs: Option<u64>,
    /// How often the sweeper looks for expired uploads, in seconds.
    #[arg(long, env = "SEALCAST_UPLOAD_SWEEP_SECS")]
    pub upload_sweep_secs: Option<u64>,
    /// Folder of the built web app (`make web`), served at `/`.
    #[arg(long, env = "SEALCAST_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
}

/// The TOML file: the same settings as the flags, all optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    storage: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_part_size_mib: Option<u64>,
    log_format: Option<String>,
    cors_origins: Option<Vec<String>>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    request_timeout_secs: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    url_signing_secret_file: Option<PathBuf>,
    master_key_file: Option<PathBuf>,
    signing_key_file: Option<PathBuf>,
    workers: Option<usize>,
    job_timeout_secs: Option<u64>,
    job_memory_mib: Option<u64>,
    job_lease_secs: Option<u64>,
    keep_originals: Option<bool>,
    transcode_rungs: Option<Vec<u32>>,
    segment_seconds: Option<f64>,
    rotate_every: Option<u32>,
    x264_preset: Option<String>,
    roles: Option<Vec<String>>,
    master_public_key_file: Option<PathBuf>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    max_live_sessions: Option<u32>,
    playback_slack_secs: Option<u64>,
    key_pacing_burst: Option<u32>,
    key_pacing_speedup: Option<u32>,
    login_attempts_per_ip: Option<u32>,
    login_attempts_per_email: Option<u32>,
    key_requests_per_second: Option<u32>,
    external_issuer: Option<String>,
    external_audience: Option<String>,
    external_algorithm: Option<String>,
    external_key_file: Option<PathBuf>,
    external_jwks_file: Option<PathBuf>,
    external_jwks_url: Option<String>,
    external_user_claim: Option<String>,
    external_role_claim: Option<String>,
    max_upload_bytes: Option<u64>,
    creator_quota_bytes: Option<u64>,
    upload_expiry_secs: Option<u64>,
    upload_sweep_secs: Option<u64>,
    web_dir: Option<PathBuf>,
}

/// A setting that could not be used; `Display` is the one line printed at exit.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{setting}`: {reason}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub reason: String,
}

impl ConfigError {
    fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        Self {
            setting,
            reason: reason.into(),
        }
    }
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

/// Where each secret comes from: an operator-supplied file, or generated into the data dir.
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    pub url_signing_secret_file: Option<PathBuf>,
    pub master_key_file: Option<PathBuf>,
    pub signing_key_file: Option<PathBuf>,
    pub master_public_key_file: Option<PathBuf>,
}

/// The resolved configuration. Holds no secret values, only where they live,
/// so it is safe to log.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub database_url: String,
    pub storage: StorageConfig,
    pub log_format: LogFormat,
    pub cors_origins: Vec<String>,
    pub tls: Option<TlsConfig>,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub secrets: SecretSources,
    pub jobs: JobSettings,
    /// Which parts of sealcast this process runs.
    pub roles: Roles,
    /// Tokens, playback sessions, key pacing and login limits.
    pub identity: IdentitySettings,
    pub uploads: UploadSettings,
    /// The built web app; a missing folder gets a page saying how to build it.
    pub web_dir: PathBuf,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./sealcast-data";
/// Where `make web` puts the app, relative to the working directory.
pub const DEFAULT_WEB_DIR: &str = "player-demo/dist";

impl Config {
    /// Resolves flags/env (already in `args`), then the TOML file, then defaults.
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };
        Self::resolve(args.clone(), file)
    }

    fn resolve(a: ServeArgs, f: FileConfig) -> Result<Config, ConfigError> {
        let jobs = resolve_jobs(&a, &f)?;
        let roles = resolve_roles(a.roles.clone().or(f.roles.clone()))?;
        let identity = resolve_identity(&a, &f)?;
        let uploads = resolve_uploads(&a, &f)?;
        let data_dir = a
            .data_dir
            .or(f.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            return Err(ConfigError::new("data_dir", "must not be empty"));
        }
        let listen = a
            .listen
            .or(f.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("default listen address"));
        let database_url = a.database_url.or(f.database_url).unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                data_dir.join("sealcast.db").to_string_lossy()
            )
        });
        validate_database_url(&database_url)?;

        let storage = StorageConfig::parse(
            a.storage.or(f.storage).as_deref(),
            data_dir.join("objects"),
            S3Options {
                endpoint: a.s3_endpoint.or(f.s3_endpoint),
                region: a.s3_region.or(f.s3_region),
                part_size_mib: a.s3_part_size_mib.or(f.s3_part_size_mib).unwrap_or(8),
            },
        )
        .map_err(|e| ConfigError::new(e.setting, e.reason))?;

        let log_format = match a.log_format.or(f.log_format).as_deref() {
            None | Some("plain") => LogFormat::Plain,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "log_format",
                    format!("`{other}` is not `plain` or `json`"),
                ))
            }
        };

        let cors_origins = a.cors_origins.or(f.cors_origins).unwrap_or_default();
        for origin in &cors_origins {
            validate_origin(origin)?;
        }

        let tls = match (a.tls_cert.or(f.tls_cert), a.tls_key.or(f.tls_key)) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(TlsConfig { cert, key }),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "tls_key",
                    "tls_cert is set but tls_key is not",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "tls_cert",
                    "tls_key is set but tls_cert is not",
                ))
            }
        };

        let request_timeout_secs = a
            .request_timeout_secs
            .or(f.request_timeout_secs)
            .unwrap_or(30);
        if !(1..=3600).contains(&request_timeout_secs) {
            return Err(ConfigError::new(
                "request_timeout_secs",
                "must be within 1..=3600",
            ));
        }
        let shutdown_grace_secs = a
            .shutdown_grace_secs
            .or(f.shutdown_grace_secs)
            .unwrap_or(20);
        if shutdown_grace_secs > 3600 {
            return Err(ConfigError::new(
                "shutdown_grace_secs",
                "must be at most 3600",
            ));
        }

        let web_dir = a
            .web_dir
            .or(f.web_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_WEB_DIR));

        Ok(Config {
            jobs,
            roles,
            identity,
            uploads,
            web_dir,
            data_dir,
            listen,
            database_url,
            storage,
            log_format,
            cors_origins,
            tls,
            request_timeout: Duration::from_secs(request_timeout_secs),
            shutdown_grace: Duration::from_secs(shutdown_grace_secs),
            secrets: SecretSources {
                url_signing_secret_file: a.url_signing_secret_file.or(f.url_signing_secret_file),
                master_key_file: a.master_key_file.or(f.master_key_file),
                signing_key_file: a.signing_key_file.or(f.signing_key_file),
                master_public_key_file: a.master_public_key_file.or(f.master_public_key_file),
            },
        })
    }

    /// Where generated secrets are kept (mode 0700 directory, 0600 files).
    pub fn secrets_dir(&self) -> PathBuf {
        self.data_dir.join("secrets")
    }
}

fn resolve_jobs(a: &ServeArgs, f: &FileConfig) -> Result<JobSettings, ConfigError> {
    let d = JobSettings::default();
    let workers = a.workers.or(f.workers).unwrap_or(d.workers);
    if workers > 64 {
        return Err(ConfigError::new("workers", "must be at most 64"));
    }
    let timeout = a
        .job_timeout_secs
        .or(f.job_timeout_secs)
        .unwrap_or(d.timeout.as_secs());
    if !(10..=7 * 86400).contains(&timeout) {
        return Err(ConfigError::new(
            "job_timeout_secs",
            "must be within 10..=604800",
        ));
    }
    let memory_mib = a
        .job_memory_mib
        .or(f.job_memory_mib)
        .unwrap_or(d.memory_limit / (1024 * 1024));
    if !(256..=1024 * 1024).contains(&memory_mib) {
        return Err(ConfigError::new(
            "job_memory_mib",
            "must be within 256..=1048576",
        ));
    }
    let lease = a
        .job_lease_secs
        .or(f.job_lease_secs)
        .unwrap_or(d.lease.as_secs());
    if !(2..=3600).contains(&lease) {
        return Err(ConfigError::new(
            "job_lease_secs",
            "must be within 2..=3600",
        ));
    }
    let rungs = a
        .transcode_rungs
        .clone()
        .or(f.transcode_rungs.clone())
        .unwrap_or(d.rungs);
    if rungs.is_empty() || rungs.iter().any(|h| !(64..=4320).contains(h)) {
        return Err(ConfigError::new(
            "transcode_rungs",
            "heights must be within 64..=4320, at least one",
        ));
    }
    let segment_seconds = a
        .segment_seconds
        .or(f.segment_seconds)
        .unwrap_or(d.segment_seconds);
    if !(1.0..=30.0).contains(&segment_seconds) {
        return Err(ConfigError::new("segment_seconds", "must be within 1..=30"));
    }
    let rotate_every = a.rotate_every.or(f.rotate_every).unwrap_or(d.rotate_every);
    if rotate_every == 0 {
        return Err(ConfigError::new("rotate_every", "must be at least 1"));
    }
    let preset = a
        .x264_preset
        .clone()
        .or(f.x264_preset.clone())
        .unwrap_or(d.preset);
    if !sealcast_transcoder::X264_PRESETS.contains(&preset.as_str()) {
        return Err(ConfigError::new(
            "x264_preset",
            format!("`{preset}` is not an x264 preset"),
        ));
    }
    Ok(JobSettings {
        workers,
        timeout: Duration::from_secs(timeout),
        memory_limit: memory_mib * 1024 * 1024,
        lease: Duration::from_secs(lease),
        poll: d.poll,
        keep_originals: a.keep_originals.or(f.keep_originals).unwrap_or(false),
        rungs,
        segment_seconds,
        rotate_every,
        preset,
    })
}

fn resolve_roles(values: Option<Vec<String>>) -> Result<Roles, ConfigError> {
    let Some(values) = values else {
        return Ok(Roles::all());
    };
    let mut roles = Roles::none();
    for value in &values {
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

fn resolve_identity(a: &ServeArgs, f: &FileConfig) -> Result<IdentitySettings, ConfigError> {
    let d = IdentitySettings::default();
    let ranged = |setting: &'static str, value: u64, range: std::ops::RangeInclusive<u64>| {
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(ConfigError::new(
                setting,
                format!("must be within {}..={}", range.start(), range.end()),
            ))
        }
    };
    let access = ranged(
        "access_token_ttl_secs",
        a.access_token_ttl_secs
            .or(f.access_token_ttl_secs)
            .unwrap_or(d.access_token_ttl.as_secs()),
        30..=86_400,
    )?;
    let refresh = ranged(
        "refresh_token_ttl_secs",
        a.refresh_token_ttl_secs
            .or(f.refresh_token_ttl_secs)
            .unwrap_or(d.refresh_token_ttl.as_secs()),
        60..=365 * 86_400,
    )?;
    let sessions = ranged(
        "max_live_sessions",
        u64::from(
            a.max_live_sessions
                .or(f.max_live_sessions)
                .unwrap_or(d.max_live_sessions),
        ),
        1..=100,
    )?;
    let slack = ranged(
        "playback_slack_secs",
        a.playback_slack_secs
            .or(f.playback_slack_secs)
            .unwrap_or(d.playback_slack.as_secs()),
        0..=86_400,
    )?;
    let burst = ranged(
        "key_pacing_burst",
        u64::from(
            a.key_pacing_burst
                .or(f.key_pacing_burst)
                .unwrap_or(d.pacing.burst),
        ),
        1..=10_000,
    )?;
    let speedup = ranged(
        "key_pacing_speedup",
        u64::from(
            a.key_pacing_speedup
                .or(f.key_pacing_speedup)
                .unwrap_or(d.pacing.speedup),
        ),
        1..=1_000,
    )?;
    let per_ip = ranged(
        "login_attempts_per_ip",
        u64::from(
            a.login_attempts_per_ip
                .or(f.login_attempts_per_ip)
                .unwrap_or(d.login_attempts_per_ip),
        ),
        1..=100_000,
    )?;
    let per_email = ranged(
        "login_attempts_per_email",
        u64::from(
            a.login_attempts_per_email
                .or(f.login_attempts_per_email)
                .unwrap_or(d.login_attempts_per_email),
        ),
        1..=100_000,
    )?;
    let key_rps = ranged(
        "key_requests_per_second",
        u64::from(
            a.key_requests_per_second
                .or(f.key_requests_per_second)
                .unwrap_or(d.key_requests_per_second),
        ),
        1..=1_000_000,
    )?;
    Ok(IdentitySettings {
        external: resolve_external(a, f)?,
        key_requests_per_second: key_rps as u32,
        access_token_ttl: Duration::from_secs(access),
        refresh_token_ttl: Duration::from_secs(refresh),
        max_live_sessions: sessions as u32,
        playback_slack: Duration::from_secs(slack),
        pacing: sealcast_keyserver::PacingConfig {
            burst: burst as u32,
            speedup: speedup as u32,
            ..d.pacing
        },
        login_attempts_per_ip: per_ip as u32,
        login_attempts_per_email: per_email as u32,
    })
}

fn resolve_external(
    a: &ServeArgs,
    f: &FileConfig,
) -> Result<Option<ExternalIssuerSettings>, ConfigError> {
    let pick = |x: &Option<String>, y: &Option<String>| x.clone().or(y.clone());
    let key_file = a.external_key_file.clone().or(f.external_key_file.clone());
    let jwks_file = a
        .external_jwks_file
        .clone()
        .or(f.external_jwks_file.clone());
    let jwks_url = pick(&a.external_jwks_url, &f.external_jwks_url);
    let Some(issuer) = pick(&a.external_issuer, &f.external_issuer) else {
        if key_file.is_some() || jwks_file.is_some() || jwks_url.is_some() {
            return Err(ConfigError::new(
                "external_issuer",
                "an external key is configured but no external_issuer",
            ));
        }
        return Ok(None);
    };
    let audience = pick(&a.external_audience, &f.external_audience)
        .ok_or_else(|| ConfigError::new("external_audience", "required with external_issuer"))?;
    let algorithm = pick(&a.external_algorithm, &f.external_algorithm)
        .unwrap_or_else(|| "RS256".into())
        .parse()
        .map_err(|_| ConfigError::new("external_algorithm", "must be RS256, ES256 or EdDSA"))?;
    let key = match (key_file, jwks_file, jwks_url) {
        (Some(p), None, None) => ExternalKeyLocation::PemFile(p),
        (None, Some(p), None) => ExternalKeyLocation::JwksFile(p),
        (None, None, Some(u)) if u.starts_with("https://") || u.starts_with("http://") => {
            ExternalKeyLocation::JwksUrl(u)
        }
        (None, None, Some(_)) => {
            return Err(ConfigError::new(
                "external_jwks_url",
                "must be an http(s) URL",
            ))
        }
        _ => {
            return Err(ConfigError::new(
                "external_issuer",
                "give exactly one of external_key_file, external_jwks_file, external_jwks_url",
            ))
        }
    };
    Ok(Some(ExternalIssuerSettings {
        issuer,
        audience,
        algorithm,
        key,
        user_claim: pick(&a.external_user_claim, &f.external_user_claim)
            .unwrap_or_else(|| "sub".into()),
        role_claim: pick(&a.external_role_claim, &f.external_role_claim)
            .unwrap_or_else(|| "role".into()),
    }))
}

fn resolve_uploads(a: &ServeArgs, f: &FileConfig) -> Result<UploadSettings, ConfigError> {
    let d = UploadSettings::default();
    let max_size = a
        .max_upload_bytes
        .or(f.max_upload_bytes)
        .unwrap_or(d.max_size);
    if max_size == 0 {
        return Err(ConfigError::new("max_upload_bytes", "must be at least 1"));
    }
    let quota = a
        .creator_quota_bytes
        .or(f.creator_quota_bytes)
        .unwrap_or(d.creator_quota);
    let expiry = a
        .upload_expiry_secs
        .or(f.upload_expiry_secs)
        .unwrap_or(d.expiry.as_secs());
    if !(1..=30 * 86400).contains(&expiry) {
        return Err(ConfigError::new(
            "upload_expiry_secs",
            "must be within 1..=2592000",
        ));
    }
    let sweep = a
        .upload_sweep_secs
        .or(f.upload_sweep_secs)
        .unwrap_or(d.sweep_interval.as_secs());
    if !(1..=86400).contains(&sweep) {
        return Err(ConfigError::new(
            "upload_sweep_secs",
            "must be within 1..=86400",
        ));
    }
    Ok(UploadSettings {
        max_size,
        creator_quota: quota,
        expiry: Duration::from_secs(expiry),
        sweep_interval: Duration::from_secs(sweep),
    })
}

fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| {
        // toml's message names the offending key and line; keep it on one line.
        let msg = e.to_string().replace('\n', " ");
        ConfigError::new("config", format!("{}: {}", path.display(), msg.trim()))
    })
}

fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        Ok(())
    } else {
        Err(ConfigError::new(
            "database_url",
            "must start with `sqlite:` or `postgres://`",
        ))
    }
}

fn validate_origin(origin: &str) -> Result<(), ConfigError> {
    if origin == "*" {
        return Err(ConfigError::new(
            "cors_origins",
            "`*` is refused: list the exact origins that may call the API",
        ));
    }
    let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file(toml_text: &str) -> FileConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn defaults_are_embedded() {
        let c = Config::resolve(ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./sealcast-data"));
        assert!(c.database_url.starts_with("sqlite://") && c.database_url.ends_with("sealcast.db"));
        assert_eq!(
            c.storage,
            StorageConfig::File {
                root: PathBuf::from("./sealcast-data/objects")
            }
        );
        assert!(c.cors_origins.is_empty());
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let args = ServeArgs {
            listen: Some("127.0.0.1:9000".parse().unwrap()),
            ..Default::default()
        };
        let f = file("listen = \"127.0.0.1:7000\"\ndata_dir = \"/tmp/x\"\n");
        let c = Config::resolve(args, f).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn s3_storage_parses_bucket_and_prefix() {
        let args = ServeArgs {
            storage: Some("s3://videos/prod/sealcast".into()),
            s3_endpoint: Some("http://127.0.0.1:3900".into()),
            s3_region: Some("garage".into()),
            ..Default::default()
        };
        let c = Config::resolve(args, FileConfig::default()).unwrap();
        match c.storage {
            StorageConfig::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                ..
            } => {
                assert_eq!(bucket, "videos");
                assert_eq!(prefix, "prod/sealcast");
                assert_eq!(endpoint.as_deref(), Some("http://127.0.0.1:3900"));
                assert_eq!(region, "garage");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bad_values_name_their_setting() {
        let cases: Vec<(ServeArgs, &str)> = vec![
            (
                ServeArgs {
                    storage: Some("ftp://x".into()),
                    ..Default::default()
                },
                "storage",
            ),
            (
                ServeArgs {
                    storage: Some("s3://A_B".into()),
                    ..Default::default()
                },
                "storage",
            ),
            (
                ServeArgs {
                    log_format: Some("xml".into()),
                    ..Default::default()
                },
                "log_format",
            ),
            (
                ServeArgs {
                    cors_origins: Some(vec!["*".into()]),
                    ..Default::default()
                },
                "cors_origins",
            ),
            (
                ServeArgs {
                    database_url: Some("mysql://x".into()),
                    ..Default::default()
                },
                "database_url",
            ),
            (
                ServeArgs {
                    tls_cert: Some("c.pem".into()),
                    ..Default::default()
                },
                "tls_key",
            ),
            (
                ServeArgs {
                    s3_part_size_mib: Some(1),
                    ..Default::default()
                },
                "s3_part_size_mib",
            ),
            (
                ServeArgs {
                    request_timeout_secs: Some(0),
                    ..Default::default()
                },
                "request_timeout_secs",
            ),
        ];
        for (args, setting) in cases {
            let err = Config::resolve(args, FileConfig::default()).unwrap_err();
            assert_eq!(err.setting, setting, "{err}");
        }
    }

    #[test]
    fn roles_and_identity_settings() {
        let c = Config::resolve(ServeArgs::default(), FileConfig::default()).unwrap();
        assert_eq!(c.roles, Roles::all());
        assert_eq!(c.identity.max_live_sessions, 3);
        let args = ServeArgs {
            roles: Some(vec!["edge".into(), "worker".into()]),
            key_pacing_burst: Some(7),
            ..Default::default()
        };
        let c = Config::resolve(args, file("max_live_sessions = 5\n")).unwrap();
        assert!(c.roles.edge && c.roles.worker && !c.roles.keyserver);
        assert_eq!(c.identity.pacing.burst, 7);
        assert_eq!(c.identity.max_live_sessions, 5);
        for (args, setting) in [
            (
                ServeArgs {
                    roles: Some(vec!["cdn".into()]),
                    ..Default::default()
                },
                "roles",
            ),
            (
                ServeArgs {
                    max_live_sessions: Some(0),
                    ..Default::default()
                },
                "max_live_sessions",
            ),
            (
                ServeArgs {
                    external_key_file: Some("k.pem".into()),
                    ..Default::default()
                },
                "external_issuer",
            ),
            (
                ServeArgs {
                    external_issuer: Some("https://idp".into()),
                    ..Default::default()
                },
                "external_audience",
            ),
            (
                ServeArgs {
                    external_issuer: Some("https://idp".into()),
                    external_audience: Some("a".into()),
                    external_algorithm: Some("HS256".into()),
                    external_key_file: Some("k.pem".into()),
                    ..Default::default()
                },
                "external_algorithm",
            ),
        ] {
            assert_eq!(
                Config::resolve(args, FileConfig::default())
                    .unwrap_err()
                    .setting,
                setting
            );
        }
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(toml::from_str::<FileConfig>("lisen = \"x\"").is_err());
    }
}
