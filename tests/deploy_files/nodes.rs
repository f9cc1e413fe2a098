//! Real programs on what the scripts make: sealcast nodes on make-secrets.sh's
//! files, and a real Garage readied by garage/init.sh.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::DecodePrivateKey;

use super::common::{eventually, TestServer};
use super::*;

/// Runs deploy/make-secrets.sh into `out`.
fn make_secrets(out: &Path) {
    let output = Command::new("bash")
        .arg(deploy().join("make-secrets.sh"))
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "make-secrets.sh: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn mode_and_owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.mode() & 0o777, meta.uid())
}

async fn ready(server: &TestServer) {
    let url = server.url("/readyz");
    eventually(
        Duration::from_secs(30),
        &format!("GET {url} answers 200"),
        || {
            let url = url.clone();
            async move {
                let status = reqwest::get(&url).await.ok()?.status();
                (status == 200).then_some(())
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_secrets_writes_what_sealcast_accepts_and_the_master_pub_the_key_server_derives() {
    let out = tempfile::tempdir().unwrap();
    make_secrets(out.path());
    let secrets = out.path().join("secrets");
    let as_root = rustix::process::geteuid().is_root();
    assert_eq!(mode_and_owner(&secrets).0, 0o700);
    assert_eq!(mode_and_owner(&out.path().join(".env")).0, 0o600);
    for (name, mode, read_by_sealcast) in [
        ("url-signing.key", 0o600, true),
        ("signing.pem", 0o600, true),
        ("master.key", 0o600, true),
        ("master.pub", 0o644, true),
        ("s3-credentials", 0o600, true),
        ("garage-rpc.secret", 0o600, false),
    ] {
        let (actual, uid) = mode_and_owner(&secrets.join(name));
        assert_eq!(actual, mode, "{name}");
        if as_root && read_by_sealcast {
            assert_eq!(uid, 10001, "{name} belongs to the containers' user");
        }
    }
    let credentials = read(&secrets.join("s3-credentials"));
    let key_id = credentials
        .lines()
        .find_map(|l| l.strip_prefix("aws_access_key_id = "))
        .unwrap();
    assert!(key_id.len() == 26 && key_id.starts_with("GK"), "{key_id}");
    assert_eq!(read(&secrets.join("garage-rpc.secret")).trim().len(), 64);

    // A second run keeps every file as it was.
    let snapshot = || {
        std::fs::read_dir(&secrets)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect::<BTreeMap<_, _>>()
    };
    let before = snapshot();
    make_secrets(out.path());
    assert_eq!(before, snapshot());

    let file = |name: &str| secrets.join(name).display().to_string();
    let keyserver = TestServer::builder()
        .roles("keyserver")
        .env("SEALCAST_URL_SIGNING_SECRET_FILE", file("url-signing.key"))
        .env("SEALCAST_SIGNING_KEY_FILE", file("signing.pem"))
        .env("SEALCAST_MASTER_KEY_FILE", file("master.key"))
        .start();
    ready(&keyserver).await;
    assert_eq!(
        read(&keyserver.data_path().join("secrets/master.pub")),
        read(&secrets.join("master.pub")),
        "openssl's X25519 public key is the one the key server derives"
    );

    let edge = TestServer::builder()
        .roles("edge")
        .env("SEALCAST_URL_SIGNING_SECRET_FILE", file("url-signing.key"))
        .env("SEALCAST_SIGNING_KEY_FILE", file("signing.pem"))
        .env("SEALCAST_MASTER_PUBLIC_KEY_FILE", file("master.pub"))
        .start();
    ready(&edge).await;
    let jwks: serde_json::Value = reqwest::get(edge.url("/.well-known/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pem = read(&secrets.join("signing.pem"));
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).unwrap();
    let public = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let published: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["x"].as_str().unwrap())
        .collect();
    assert_eq!(
        published,
        [public.as_str()],
        "the edge signs with make-secrets' key"
    );

    let worker = TestServer::builder()
        .roles("worker")
        .env("SEALCAST_MASTER_PUBLIC_KEY_FILE", file("master.pub"))
        .start();
    ready(&worker).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Garage server on deploy/garage/garage.toml, with only the container
/// paths and addresses moved to a temporary dir and loopback ports.
struct DeployGarage {
    child: Child,
    dir: tempfile::TempDir,
    endpoint: String,
}

impl DeployGarage {
    fn start(rpc_secret: &Path) -> DeployGarage {
        let dir = tempfile::tempdir().unwrap();
        let (s3, rpc) = (free_port(), free_port());
        let root = dir.path().display().to_string();
        let moved = [
            ("metadata_dir", format!("{root}/meta")),
            ("data_dir", format!("{root}/data")),
            ("rpc_bind_addr", format!("127.0.0.1:{rpc}")),
            ("rpc_public_addr", format!("127.0.0.1:{rpc}")),
            ("api_bind_addr", format!("127.0.0.1:{s3}")),
        ];
        let mut config = String::new();
        let mut replaced = BTreeSet::new();
        for line in read(&deploy().join("garage/garage.toml")).lines() {
            match moved
                .iter()
                .find(|(key, _)| line.starts_with(&format!("{key} = ")))
            {
                Some((key, value)) => {
                    assert!(replaced.insert(*key), "{key} twice in garage.toml");
                    config.push_str(&format!("{key} = \"{value}\"\n"));
                }
                None => config.push_str(&format!("{line}\n")),
            }
        }
        assert_eq!(
            replaced.len(),
            moved.len(),
            "garage.toml lacks one of {moved:?}"
        );
        std::fs::write(dir.path().join("garage.toml"), config).unwrap();
        // init.sh calls `garage`: the kit's binary under that name, first on PATH.
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(
            common::garage::garage_binary(),
            dir.path().join("bin/garage"),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("garage.log")).unwrap();
        let child = Command::new(dir.path().join("bin/garage"))
            .arg("server")
            .env("GARAGE_CONFIG_FILE", dir.path().join("garage.toml"))
            .env("GARAGE_RPC_SECRET_FILE", rpc_secret)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        DeployGarage {
            child,
            dir,
            endpoint: format!("http://127.0.0.1:{s3}"),
        }
    }

    /// Runs deploy/garage/init.sh as compose's garage-init service does.
    fn init(&self, rpc_secret: &Path, credentials: &Path, bucket: &str) -> String {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("sh")
            .arg(deploy().join("garage/init.sh"))
            .env("PATH", path)
            .env("GARAGE_CONFIG_FILE", self.dir.path().join("garage.toml"))
            .env("GARAGE_RPC_SECRET_FILE", rpc_secret)
            .env("S3_CREDENTIALS_FILE", credentials)
            .env("S3_BUCKET", bucket)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "garage/init.sh failed: {said}\ngarage log:\n{}",
            std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default()
        );
        said
    }
}

impl Drop for DeployGarage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_init_readies_the_bucket_sealcast_reaches_with_the_generated_credentials() {
    let out = tempfile::tempdir().unwrap();
    make_secrets(out.path());
    let secrets = out.path().join("secrets");
    let (rpc_secret, credentials) = (
        secrets.join("garage-rpc.secret"),
        secrets.join("s3-credentials"),
    );
    let compose = compose();
    let bucket = text(&compose["services"]["garage-init"]["environment"]["S3_BUCKET"]);
    let garage = DeployGarage::start(&rpc_secret);
    let first = garage.init(&rpc_secret, &credentials, bucket);
    assert!(
        first.contains("layout applied") && first.contains("imported"),
        "{first}"
    );
    // Compose runs it on every `up`: the second time everything is already there.
    let second = garage.init(&rpc_secret, &credentials, bucket);
    assert!(
        !second.contains("layout applied") && second.contains("exists"),
        "{second}"
    );

    // The key server's own storage flags, its endpoint moved to loopback.
    let args = strings(&compose["services"]["keyserver"]["command"]);
    let node = |credentials: &Path| {
        TestServer::builder()
            .roles("keyserver")
            .flag("--storage", flag_value(&args, "--storage").unwrap())
            .flag("--s3-region", flag_value(&args, "--s3-region").unwrap())
            .flag("--s3-endpoint", &garage.endpoint)
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                credentials.display().to_string(),
            )
            .start()
    };
    let server = node(&credentials);
    ready(&server).await;

    // /readyz does ask the bucket: a key Garage never saw is not ready.
    let stranger = out.path().join("stranger-credentials");
    std::fs::write(
        &stranger,
        format!(
            "[default]\naws_access_key_id = GK{}\naws_secret_access_key = {}\n",
            "0".repeat(24),
            "0".repeat(64)
        ),
    )
    .unwrap();
    let refused = node(&stranger);
    let status = reqwest::get(refused.url("/readyz")).await.unwrap().status();
    assert_eq!(status, 503);
}
