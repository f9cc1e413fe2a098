//! Starting and stopping the server: secrets, database, storage, listener,
//! TLS, and graceful shutdown on SIGTERM/SIGINT with a drain deadline.

use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use axum_server::Handle;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::app::App;
use crate::config::Config;
use crate::connections::ConnectionGuard;
use crate::db::Db;
use crate::http;
use crate::keystore::DbKeyStore;
use crate::{secrets, storage};
use sealcast_keyserver::{
    ExternalIssuerConfig, KeyDelivery, KeyDeliveryConfig, MasterKeyPair, MasterPublicKey,
    SigningKeyring, SystemClock, TokenIssuer, TokenVerifier, UrlSigner, VerifierConfig,
};

/// Why the server could not start; configuration problems exit with status 2.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("invalid setting `secrets`: {0}")]
    Secrets(#[from] secrets::SecretError),
    /// The TLS private key is a secret file like the others.
    #[error("invalid setting `tls_key`: {0}")]
    TlsKey(secrets::SecretError),
    #[error("{0}")]
    Other(String),
}

impl StartError {
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Config(_) | StartError::Secrets(_) | StartError::TlsKey(_) => 2,
            StartError::Other(_) => 1,
        }
    }
}

/// Builds the application state: everything but the listener.
pub async fn build_app(config: Config) -> Result<Arc<App>, StartError> {
    // The data dir holds the database, raw uploads and secrets: 0700.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .and_then(|()| {
            std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
        })
        .map_err(|e| {
            StartError::Other(format!(
                "cannot create data dir {}: {e}",
                config.data_dir.display()
            ))
        })?;
    if let Some(tls) = &config.tls {
        secrets::check_private_file(&tls.key).map_err(StartError::TlsKey)?;
    }
    let lease_owner = crate::uploads::lease::LeaseOwner::load(&config.data_dir).map_err(|e| {
        StartError::Other(format!(
            "cannot write the node id in data dir {}: {e}",
            config.data_dir.display()
        ))
    })?;
    let secrets = secrets::load_or_generate(&config)?;
    let external =
        match &config.identity.external {
            Some(settings) => Some(crate::external_issuer::load(settings).await.map_err(|e| {
                StartError::Other(format!("invalid setting `external_issuer`: {e}"))
            })?),
            None => None,
        };
    let crypto = Crypto::from_secrets(&secrets, external)?;
    if let Some(settings) = &config.identity.external {
        crate::external_issuer::spawn_refresh(settings, crypto.verifier.clone());
    }
    let tokens = Arc::new(
        crypto
            .tokens
            .with_default_ttl(config.identity.access_token_ttl),
    );
    let db = Db::connect(&config.database_url)
        .await
        .map_err(|e| StartError::Other(e.to_string()))?;
    let keyring = crate::keyring::start(
        &db,
        &config,
        &secrets,
        tokens.clone(),
        crypto.verifier.clone(),
        crypto.url_signer.clone(),
    )
    .await
    .map_err(|e| StartError::Other(format!("cannot load the shared keyring: {e}")))?;
    drop(secrets);
    let store = storage::open(&config.storage)
        .await
        .map_err(|e| StartError::Other(format!("cannot open storage: {e}")))?;
    match tokio::time::timeout(Duration::from_secs(5), store.check()).await {
        Ok(Ok(())) => tracing::info!(storage = %store.describe(), "storage reachable"),
        Ok(Err(err)) => tracing::warn!(storage = %store.describe(), error = %err,
            "storage not reachable at start; /readyz answers 503 until it is"),
        Err(_) => tracing::warn!(storage = %store.describe(),
            "storage did not answer within 5 s; /readyz answers 503 until it does"),
    }
    // Only the keyserver role ever holds the master private key; it moves into
    // the key route's state and nothing else can reach it.
    let keys = match crypto.master {
        Some(master) if config.roles.keyserver => {
            crate::keystore::check_master_matches(&db, &master)
                .await
                .map_err(StartError::Other)?;
            tracing::info!(fingerprint = %master.fingerprint(), "key server role: key route mounted");
            let delivery = KeyDelivery::new(
                Arc::new(DbKeyStore::new(db.clone())),
                master,
                crypto.verifier.clone(),
                crypto.url_signer.clone(),
                KeyDeliveryConfig {
                    pacing: config.identity.pacing.clone(),
                    requests_per_second: config.identity.key_requests_per_second,
                },
                Arc::new(SystemClock),
            );
            Some(delivery)
        }
        _ => None,
    };
    let login_limits = crate::identity::LoginLimits::new(
        config.identity.login_attempts_per_ip,
        config.identity.login_attempts_per_email,
    );
    let session_limits = crate::identity::SessionStartLimits::new(
        config.identity.playback_starts_per_minute,
        Arc::new(SystemClock),
    );
    let hot_segments = crate::storage::HotObjects::new(config.segment_cache_bytes, MAX_HOT_SEGMENT);
    Ok(Arc::new(App {
        config,
        db,
        storage: store,
        hot_segments,
        metrics: crate::telemetry::install_metrics(),
        tokens,
        keyring,
        verifier: crypto.verifier,
        url_signer: crypto.url_signer,
        master_public: crypto.master_public,
        keys,
        login_limits,
        lease_owner,
        session_limits,
        deliveries: Arc::default(),
    }))
}

/// Token, URL-signing and custody material built from the raw secrets.
pub struct Crypto {
    pub tokens: TokenIssuer,
    pub verifier: Arc<TokenVerifier>,
    pub url_signer: Arc<UrlSigner>,
    /// Present only in a process with the keyserver role.
    pub master: Option<MasterKeyPair>,
    pub master_public: MasterPublicKey,
}

/// Issuer and audience of locally minted access tokens.
/// Segments larger than this always stream from storage (a 6 s segment of
/// 1080p at 8 Mb/s is 6 MB).
const MAX_HOT_SEGMENT: u64 = 16 << 20;

pub const TOKEN_ISSUER: &str = "sealcast";
pub const TOKEN_AUDIENCE: &str = "sealcast-api";

impl Crypto {
    /// `external`: the one trusted external issuer, if configured.
    pub fn from_secrets(
        secrets: &secrets::ServerSecrets,
        external: Option<ExternalIssuerConfig>,
    ) -> Result<Crypto, StartError> {
        let bad = |what: &str, e: &dyn std::fmt::Display| {
            StartError::Other(format!("invalid setting `{what}`: {e}"))
        };
        let keyring =
            SigningKeyring::from_pems(secrets.signing_keys.iter().map(|k| k.pem.as_str()))
                .map_err(|e| bad("signing_key_file", &e))?;
        let mut verifier = TokenVerifier::new(
            VerifierConfig::new(TOKEN_ISSUER, TOKEN_AUDIENCE),
            keyring.public_keys(),
        );
        if let Some(ext) = external {
            verifier = verifier
                .with_external(ext)
                .map_err(|e| bad("external_issuer", &e))?;
        }
        let tokens = TokenIssuer::new(keyring, TOKEN_ISSUER, TOKEN_AUDIENCE);
        let url_signer = UrlSigner::new(secrets.url_signing.expose())
            .map_err(|e| bad("url_signing_secret_file", &e))?;
        let master = secrets
            .master_key
            .as_ref()
            .map(|k| MasterKeyPair::from_slice(k.expose()))
            .transpose()
            .map_err(|e| bad("master_key_file", &e))?;
        let master_public = match &master {
            Some(m) => *m.public_key(),
            None => MasterPublicKey::from(secrets.master_public),
        };
        Ok(Crypto {
            tokens,
            verifier: Arc::new(verifier),
            url_signer: Arc::new(url_signer),
            master,
            master_public,
        })
    }
}

/// Per-connection read buffer cap: request bodies (uploads) arrive in chunks
/// of at most this much, which bounds memory with many uploads at once
/// (hyper's default lets each connection buffer ~400 KiB).
const READ_BUFFER: usize = 64 * 1024;

/// Serves until SIGTERM/SIGINT, then lets in-flight requests finish within
/// the configured grace period.
///
/// With `demo`, first seeds the demo accounts and course (see [`crate::demo`])
/// and prints their passwords after the listening line.
pub async fn run(config: Config, demo: bool) -> Result<(), StartError> {
    let app = build_app(config).await?;
    let demo = if demo {
        Some(
            crate::demo::prepare_accounts(&app.db)
                .await
                .map_err(|e| StartError::Other(format!("cannot prepare the demo: {e}")))?,
        )
    } else {
        None
    };
    let config = app.config.clone();
    let router = http::router(app.clone());

    let listener = bind(config.listen)?;
    let local = local_addr(&listener)?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };

    let handle = Handle::new();
    let stop_workers = tokio_util::sync::CancellationToken::new();
    // Transcode workers run only where the worker role is; the upload
    // sweeper wherever uploads are taken.
    let workers = if config.roles.worker {
        crate::jobs::worker::spawn(app.clone(), stop_workers.clone())
    } else {
        Vec::new()
    };
    let sweeper = config
        .roles
        .edge
        .then(|| crate::uploads::sweeper::spawn(app.clone(), stop_workers.clone()));
    // Copies of uploads under work/ that a killed process left behind.
    let work_sweeper = (config.roles.worker || config.roles.edge).then(|| {
        crate::jobs::workdir::spawn_sweeper(
            config.data_dir.join("work"),
            config.jobs.lease,
            stop_workers.clone(),
        )
    });
    // Webhook deliveries: any node with the database may send them.
    let webhooks = crate::webhooks::dispatcher::spawn(app.clone(), stop_workers.clone());
    // Segments sent, written to the database about every second.
    let deliveries = app
        .deliveries
        .clone()
        .spawn(app.db.clone(), stop_workers.clone());
    // This node's view of the revocation bus, kept current for its whole life.
    let _bus = app
        .db
        .bus
        .spawn(app.db.clone(), config.database_url.clone());
    let keyring_reload = app.keyring.clone().spawn_reload(stop_workers.clone());
    tokio::spawn(shutdown_on_signal(
        handle.clone(),
        config.shutdown_grace,
        stop_workers.clone(),
    ));
    let service = router.into_make_service_with_connect_info::<SocketAddr>();

    if let Some(addr) = config.metrics_listen {
        let metrics = bind(addr)?;
        println!("sealcast metrics on http://{}", local_addr(&metrics)?);
        let server = axum_server::from_tcp(metrics)
            .acceptor(ConnectionGuard::new(&config.connections))
            .handle(handle.clone());
        let router = http::metrics_router(app.clone());
        tokio::spawn(async move {
            if let Err(e) = server.serve(router.into_make_service()).await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
    }
    // The one line tests and newcomers look for.
    println!("sealcast listening on {scheme}://{local}");
    tracing::info!(address = %local, %scheme, "listening");
    if let Some(demo) = demo {
        crate::demo::print(&demo, &format!("{scheme}://{local}"));
        if demo.needs_sample {
            let app = app.clone();
            tokio::spawn(async move {
                let spec = sealcast_transcoder::SampleSpec::default();
                match crate::demo::add_sample_video(&app, &demo.creator_id, &demo.course_id, spec)
                    .await
                {
                    Ok(id) => tracing::info!(video = %id, "demo sample video queued"),
                    Err(e) => tracing::error!(error = %e, "demo sample video failed"),
                }
            });
        }
    }

    let guard = ConnectionGuard::new(&config.connections);
    let header_read_timeout = config.connections.header_read_timeout;
    let served = match &config.tls {
        Some(tls) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rustls = RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                .await
                .map_err(|e| {
                    StartError::Other(format!("invalid setting `tls_cert`/`tls_key`: {e}"))
                })?;
            let mut server = axum_server::from_tcp_rustls(listener, rustls)
                .map(|tls| tls.acceptor(guard))
                .handle(handle);
            limit_http(server.http_builder(), header_read_timeout);
            server.serve(service).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .acceptor(guard)
                .handle(handle);
            limit_http(server.http_builder(), header_read_timeout);
            server.serve(service).await
        }
    };
    served.map_err(|e| StartError::Other(format!("server error: {e}")))?;
    // Workers kill their job processes and hand the jobs back to the queue.
    stop_workers.cancel();
    let _ = tokio::time::timeout(config.shutdown_grace, futures::future::join_all(workers)).await;
    let _ = tokio::time::timeout(config.shutdown_grace, deliveries).await;
    keyring_reload.abort();
    webhooks.abort();
    for sweeper in [sweeper, work_sweeper].into_iter().flatten() {
        sweeper.abort();
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

fn bind(addr: SocketAddr) -> Result<std::net::TcpListener, StartError> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| StartError::Other(format!("cannot listen on {addr}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| StartError::Other(e.to_string()))?;
    Ok(listener)
}

fn local_addr(listener: &std::net::TcpListener) -> Result<SocketAddr, StartError> {
    listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))
}

/// hyper's own limits: the read buffer, and the header-read timeout, which
/// only fires with a timer (without one a half-sent request waits forever).
fn limit_http(
    builder: &mut hyper_util::server::conn::auto::Builder<TokioExecutor>,
    header: Duration,
) {
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header)
        .max_buf_size(READ_BUFFER);
}

async fn shutdown_on_signal(
    handle: Handle,
    grace: Duration,
    stop_workers: tokio_util::sync::CancellationToken,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: draining"),
        _ = int.recv() => tracing::info!("SIGINT: draining"),
    }
    stop_workers.cancel();
    handle.graceful_shutdown(Some(grace));
}
