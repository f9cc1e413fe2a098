use std::path::{Path, PathBuf};

use clap::Parser;

use super::*;
use crate::identity::ExternalKeyLocation;

/// `sealcast serve` as the binary parses it: flags, then `SEALCAST_*` variables.
#[derive(Parser)]
struct Serve {
    #[command(flatten)]
    args: ServeArgs,
}

fn serve(flags: &[&str]) -> ServeArgs {
    Serve::try_parse_from(std::iter::once("serve").chain(flags.iter().copied()))
        .unwrap()
        .args
}

fn with_file(dir: &Path, text: &str, mut args: ServeArgs) -> Result<Config, ConfigError> {
    let path = dir.join("sealcast.toml");
    std::fs::write(&path, text).unwrap();
    args.config = Some(path);
    Config::load(&args)
}

fn from_file(text: &str) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    with_file(dir.path(), text, ServeArgs::default())
}

/// Each command line is refused with one line naming its setting.
fn assert_refused(cases: &[(&[&str], &str)]) {
    for (flags, setting) in cases {
        let err = Config::load(&serve(flags)).unwrap_err();
        assert_eq!(err.setting, *setting, "{flags:?}: {err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

#[test]
fn defaults_are_embedded() {
    let c = Config::load(&ServeArgs::default()).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("./sealcast-data"));
    assert_eq!(c.database_url, "sqlite://./sealcast-data/sealcast.db");
    assert_eq!(
        c.storage,
        StorageConfig::File {
            root: PathBuf::from("./sealcast-data/objects")
        }
    );
    assert!(c.cors_origins.is_empty());
    assert!(c.tls.is_none());
    assert_eq!(c.log_format, LogFormat::Plain);
    assert_eq!(c.request_timeout, Duration::from_secs(30));
    assert_eq!(c.shutdown_grace, Duration::from_secs(20));
    assert_eq!(c.web_dir, PathBuf::from(DEFAULT_WEB_DIR));
    assert_eq!(c.roles, Roles::all());
    assert!(c.secrets.url_signing_secret_file.is_none());
    let jobs = JobSettings::default();
    assert_eq!(
        (
            c.jobs.workers,
            c.jobs.timeout,
            c.jobs.memory_limit,
            c.jobs.lease
        ),
        (jobs.workers, jobs.timeout, jobs.memory_limit, jobs.lease)
    );
    assert_eq!(c.jobs.rungs, jobs.rungs);
    assert_eq!(c.jobs.preset, jobs.preset);
    assert!(!c.jobs.keep_originals);
    let identity = IdentitySettings::default();
    assert_eq!(c.identity.access_token_ttl, identity.access_token_ttl);
    assert_eq!(c.identity.max_live_sessions, 3);
    assert_eq!(
        c.identity.pacing.initial_allowance,
        Duration::from_secs(240)
    );
    assert_eq!(c.identity.playback_starts_per_minute, 10);
    assert!(c.identity.external.is_none());
    let uploads = UploadSettings::default();
    assert_eq!(
        (
            c.uploads.max_size,
            c.uploads.creator_quota,
            c.uploads.expiry
        ),
        (uploads.max_size, uploads.creator_quota, uploads.expiry)
    );
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    // The only test that sets variables, and none other reads these through clap.
    std::env::set_var("SEALCAST_SHUTDOWN_GRACE_SECS", "5");
    std::env::set_var("SEALCAST_REQUEST_TIMEOUT_SECS", "6");
    let args = serve(&["--request-timeout-secs", "7", "--workers", "3"]);
    std::env::remove_var("SEALCAST_SHUTDOWN_GRACE_SECS");
    std::env::remove_var("SEALCAST_REQUEST_TIMEOUT_SECS");

    let dir = tempfile::tempdir().unwrap();
    let file = "request_timeout_secs = 8\nshutdown_grace_secs = 9\nworkers = 4\n\
                job_lease_secs = 10\nlisten = \"127.0.0.1:7000\"\n";
    let c = with_file(dir.path(), file, args).unwrap();
    assert_eq!(c.request_timeout, Duration::from_secs(7), "flag over env");
    assert_eq!(c.shutdown_grace, Duration::from_secs(5), "env over file");
    assert_eq!(c.jobs.workers, 3, "flag over file");
    assert_eq!(c.jobs.lease, Duration::from_secs(10), "file over default");
    assert_eq!(c.listen.port(), 7000, "file over default");
    assert_eq!(c.identity.max_live_sessions, 3, "default");
}

#[test]
fn every_kind_of_value_reads_from_flags_and_file_alike() {
    let flags = serve(&[
        "--cors-origins",
        "https://a.example,https://b.example",
        "--transcode-rungs",
        "720,360",
        "--segment-seconds",
        "4",
        "--keep-originals",
        "true",
        "--roles",
        "edge,worker",
    ]);
    let file = from_file(
        "cors_origins = [\"https://a.example\", \"https://b.example\"]\n\
         transcode_rungs = [720, 360]\nsegment_seconds = 4\nkeep_originals = true\n\
         roles = [\"edge\", \"worker\"]\n",
    )
    .unwrap();
    for c in [Config::load(&flags).unwrap(), file] {
        assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
        assert_eq!(c.jobs.rungs, [720, 360]);
        assert_eq!(c.jobs.segment_seconds, 4.0);
        assert!(c.jobs.keep_originals);
        assert!(c.roles.edge && c.roles.worker && !c.roles.keyserver);
    }
}

#[test]
fn s3_settings_come_from_any_layer() {
    let dir = tempfile::tempdir().unwrap();
    let file = "s3_region = \"garage\"\ns3_part_size_mib = 16\n";
    let c = with_file(dir.path(), file, serve(&["--storage", "s3://videos/prod/"])).unwrap();
    let StorageConfig::S3 {
        bucket,
        prefix,
        region,
        part_size,
        ..
    } = c.storage
    else {
        panic!("not S3: {:?}", c.storage)
    };
    assert_eq!((bucket.as_str(), prefix.as_str()), ("videos", "prod"));
    assert_eq!((region.as_str(), part_size), ("garage", 16 << 20));
}

#[test]
fn bad_values_name_their_setting() {
    let cases: &[(&[&str], &str)] = &[
        (&["--storage", "ftp://x"], "storage"),
        (&["--storage", "s3://A_B"], "storage"),
        (&["--log-format", "xml"], "log_format"),
        (&["--cors-origins", "*"], "cors_origins"),
        (&["--cors-origins", "example.com"], "cors_origins"),
        (&["--database-url", "mysql://x"], "database_url"),
        (&["--tls-cert", "c.pem"], "tls_key"),
        (&["--tls-key", "k.pem"], "tls_cert"),
        (&["--s3-part-size-mib", "1"], "s3_part_size_mib"),
        (&["--segment-cache-mib", "65537"], "segment_cache_mib"),
        (
            &["--segment-redirect-prefix", "/x/../etc/"],
            "segment_redirect_prefix",
        ),
        (
            &["--segment-redirect-prefix", "no-slash"],
            "segment_redirect_prefix",
        ),
        (
            &[
                "--storage",
                "s3://bucket",
                "--segment-redirect-prefix",
                "/_o/",
            ],
            "segment_redirect_prefix",
        ),
        (&["--request-timeout-secs", "0"], "request_timeout_secs"),
        (&["--shutdown-grace-secs", "3601"], "shutdown_grace_secs"),
        (&["--workers", "65"], "workers"),
        (&["--job-timeout-secs", "9"], "job_timeout_secs"),
        (&["--job-memory-mib", "255"], "job_memory_mib"),
        (&["--job-lease-secs", "1"], "job_lease_secs"),
        (&["--transcode-rungs", "63"], "transcode_rungs"),
        (&["--segment-seconds", "0.5"], "segment_seconds"),
        (&["--rotate-every", "0"], "rotate_every"),
        (&["--x264-preset", "warp"], "x264_preset"),
        (&["--max-upload-bytes", "0"], "max_upload_bytes"),
        (&["--upload-expiry-secs", "0"], "upload_expiry_secs"),
        (&["--upload-sweep-secs", "86401"], "upload_sweep_secs"),
        (&["--access-token-ttl-secs", "29"], "access_token_ttl_secs"),
        (
            &["--key-requests-per-second", "0"],
            "key_requests_per_second",
        ),
        (&["--roles", "cdn"], "roles"),
        (&["--keyserver-url", "http://ks:8080"], "keyserver_url"),
        (
            &["--roles", "edge", "--keyserver-url", "ftp://ks"],
            "keyserver_url",
        ),
        (
            &["--roles", "edge", "--keyserver-url", "http://ks:8080/keys"],
            "keyserver_url",
        ),
        (
            &["--roles", "edge", "--keyserver-url", "http://u:p@ks:8080"],
            "keyserver_url",
        ),
        (&["--roles", ""], "roles"),
        (&["--max-live-sessions", "0"], "max_live_sessions"),
        (&["--external-key-file", "k.pem"], "external_issuer"),
        (&["--external-issuer", "https://idp"], "external_audience"),
        (
            &[
                "--external-issuer=https://idp",
                "--external-audience=a",
                "--external-algorithm=HS256",
                "--external-key-file=k.pem",
            ],
            "external_algorithm",
        ),
        (
            &["--external-issuer=https://idp", "--external-audience=a"],
            "external_issuer",
        ),
        (
            &[
                "--external-issuer=https://idp",
                "--external-audience=a",
                "--external-jwks-url=ftp://idp/jwks",
            ],
            "external_jwks_url",
        ),
        (
            &[
                "--external-issuer=https://idp",
                "--external-audience=a",
                "--external-jwks-url=http://idp.example/jwks",
            ],
            "external_jwks_url",
        ),
    ];
    assert_refused(cases);
}

#[test]
fn mistyped_file_values_name_their_setting() {
    for (text, setting) in [
        ("listen = 42", "listen"),
        ("workers = \"many\"", "workers"),
        ("transcode_rungs = [\"tall\"]", "transcode_rungs"),
        ("keep_originals = \"yes\"", "keep_originals"),
        ("max_live_sessions = 0", "max_live_sessions"),
        ("data_dir = \"\"", "data_dir"),
        ("header_read_timeout_secs = 0", "header_read_timeout_secs"),
        ("idle_timeout_secs = 0", "idle_timeout_secs"),
        ("max_connections = 0", "max_connections"),
        ("trusted_proxies = [\"10.0.0.0/33\"]", "trusted_proxies"),
    ] {
        let err = from_file(text).unwrap_err();
        assert_eq!(err.setting, setting, "{text}: {err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

#[test]
fn unknown_file_keys_are_refused() {
    let err = from_file("lisen = \"127.0.0.1:1\"").unwrap_err();
    assert_eq!(err.setting, "config");
    assert!(err.reason.contains("`lisen`"), "{err}");
}

#[test]
fn roles_and_identity_settings() {
    let args = serve(&["--roles", "keyserver", "--key-pacing-allowance-secs", "300"]);
    let dir = tempfile::tempdir().unwrap();
    let c = with_file(dir.path(), "max_live_sessions = 5\n", args).unwrap();
    assert!(c.roles.keyserver && !c.roles.edge && !c.roles.worker);
    assert_eq!(
        c.identity.pacing.initial_allowance,
        Duration::from_secs(300)
    );
    assert_eq!(c.identity.max_live_sessions, 5);
}

#[test]
fn an_edge_forwards_keys_to_the_keyserver_url() {
    let c = Config::load(&serve(&[
        "--roles",
        "edge",
        "--keyserver-url",
        "http://keyserver:8080",
    ]))
    .unwrap();
    let urls: Vec<String> = c.keyserver_urls.iter().map(|u| u.to_string()).collect();
    assert_eq!(urls, ["http://keyserver:8080/"]);
    let c = Config::load(&serve(&[
        "--roles",
        "edge",
        "--keyserver-url",
        "http://ks-1:8080,https://ks-2",
    ]))
    .unwrap();
    assert_eq!(c.keyserver_urls.len(), 2);
    assert!(Config::load(&serve(&[])).unwrap().keyserver_urls.is_empty());
}

#[test]
fn an_external_issuer_gets_its_defaults() {
    let args = serve(&[
        "--external-issuer=https://idp",
        "--external-audience=sealcast",
        "--external-jwks-url=https://idp/jwks",
    ]);
    let external = Config::load(&args).unwrap().identity.external.unwrap();
    assert_eq!(external.user_claim, "sub");
    assert_eq!(external.role_claim, "role");
    assert!(
        external.admin_subjects.is_empty(),
        "no external admins by default"
    );
    assert!(matches!(external.key, ExternalKeyLocation::JwksUrl(_)));
    let mapped = serve(&[
        "--external-issuer=https://idp",
        "--external-audience=sealcast",
        "--external-jwks-url=https://idp/jwks",
        "--external-admin-subjects=boss,42",
    ]);
    let external = Config::load(&mapped).unwrap().identity.external.unwrap();
    assert_eq!(external.admin_subjects, ["boss", "42"]);
    let orphan = serve(&["--external-admin-subjects=boss"]);
    assert_eq!(
        Config::load(&orphan).unwrap_err().setting,
        "external_admin_subjects"
    );
}

/// Found by `fuzz/` (target `config`): a refused value holding a newline
/// made the error two lines.
#[test]
fn refusals_quoting_a_newline_stay_on_one_line() {
    let err = Config::load(&serve(&["--log-format=a\nb"])).unwrap_err();
    assert_eq!(err.setting, "log_format");
    assert!(!err.to_string().contains('\n'), "{err}");
    assert!(err.to_string().contains("a\\nb"), "{err}");
    let err = from_file("\"x\\ny\" = 1").unwrap_err();
    assert_eq!(err.setting, "config");
    assert!(!err.to_string().contains('\n'), "{err}");
}
