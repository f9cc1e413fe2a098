//! A single-node Garage (the real S3 server from crates.io) on loopback with
//! one bucket and one key made by the kit. It must be the promised version;
//! if it is missing, another version, or can't start, the test fails and says
//! why: it never skips.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Garage release `make test` installs and the S3 tests are written against.
pub const GARAGE_VERSION: &str = "2.5.0";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Garage {
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    child: Child,
    _dir: tempfile::TempDir,
    bin: PathBuf,
    config_path: PathBuf,
}

/// `garage server` on `config`, its log appended to `dir/garage.log`.
fn spawn_server(bin: &Path, config: &Path, dir: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("garage.log"))
        .unwrap();
    Command::new(bin)
        .arg("-c")
        .arg(config)
        .arg("server")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start Garage at {}: {e}", bin.display()))
}

pub fn garage_binary() -> PathBuf {
    if let Ok(path) = std::env::var("SEALCAST_TEST_GARAGE") {
        return PathBuf::from(path);
    }
    let candidates = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("garage"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .chain(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin/garage")));
    for candidate in candidates {
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "Garage is not installed, so the S3 tests cannot run. `make test` installs it \
         (cargo install garage --locked --version {GARAGE_VERSION})."
    );
}

/// Panics unless `bin --version` names [`GARAGE_VERSION`].
fn check_version(bin: &Path) {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --version: {e}", bin.display()));
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let named = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .any(|word| word.trim_start_matches('v') == GARAGE_VERSION);
    assert!(
        named,
        "the S3 tests need Garage {GARAGE_VERSION}, but {} says {:?}; install it with \
         `cargo install garage --locked --version {GARAGE_VERSION}` (or point \
         SEALCAST_TEST_GARAGE at that binary)",
        bin.display(),
        text.trim()
    );
}

impl Garage {
    pub fn start() -> Garage {
        let bin = garage_binary();
        check_version(&bin);
        let dir = tempfile::tempdir().unwrap();
        let (s3_port, rpc_port) = (free_port(), free_port());
        let secret: String = (0..32)
            .map(|i| format!("{:02x}", (i * 37 + 11) as u8))
            .collect();
        let config = format!(
            r#"metadata_dir = "{meta}"
data_dir = "{data}"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secret}"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"
"#,
            meta = dir.path().join("meta").display(),
            data = dir.path().join("data").display(),
        );
        let config_path = dir.path().join("garage.toml");
        std::fs::write(&config_path, config).unwrap();
        let child = spawn_server(&bin, &config_path, dir.path());
        let mut garage = Garage {
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            bucket: "sealcast-test".into(),
            access_key: "GK0123456789abcdef01234567".into(),
            secret_key: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            child,
            _dir: dir,
            bin,
            config_path,
        };
        let (bin, config) = (garage.bin.clone(), garage.config_path.clone());
        garage.setup(&bin, &config);
        garage
    }

    /// Kills the server (an outage); its data stays for [`start_again`](Self::start_again).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the stopped server on the same data and ports, and waits until
    /// its bucket answers again.
    pub fn start_again(&mut self) {
        self.child = spawn_server(&self.bin, &self.config_path, self._dir.path());
        let (bin, config, bucket) = (
            self.bin.clone(),
            self.config_path.clone(),
            self.bucket.clone(),
        );
        self.cli(&bin, &config, &["bucket", "info", &bucket]);
    }

    /// Runs a Garage admin command. Garage answers `node id` before its RPC
    /// listener is up, and a loaded machine can delay that listener, so a
    /// failing command is retried for up to 30 s before the test fails with
    /// Garage's own output and log.
    fn cli(&mut self, bin: &Path, config: &Path, args: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new(bin)
                .arg("-c")
                .arg(config)
                .args(args)
                .output()
                .unwrap();
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            let exited = self.child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                panic!(
                    "garage {} failed{}: {}\n{}\ngarage log:\n{}",
                    args.join(" "),
                    exited
                        .map(|s| format!(" (Garage exited: {s})"))
                        .unwrap_or_default(),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    std::fs::read_to_string(self._dir.path().join("garage.log"))
                        .unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn setup(&mut self, bin: &Path, config: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let node_id = loop {
            let out = Command::new(bin)
                .arg("-c")
                .arg(config)
                .args(["node", "id", "-q"])
                .output()
                .unwrap();
            if out.status.success() {
                break String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .split('@')
                    .next()
                    .unwrap()
                    .to_string();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "Garage exited with {status} before it was ready:\n{}",
                    std::fs::read_to_string(self._dir.path().join("garage.log"))
                        .unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                panic!("Garage did not answer `node id` within 30 s");
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        self.cli(
            bin,
            config,
            &["layout", "assign", "-z", "dc1", "-c", "1G", &node_id],
        );
        self.cli(bin, config, &["layout", "apply", "--version", "1"]);
        let (access, secret, bucket) = (
            self.access_key.clone(),
            self.secret_key.clone(),
            self.bucket.clone(),
        );
        self.cli(
            bin,
            config,
            &[
                "key",
                "import",
                "--yes",
                "-n",
                "sealcast-test",
                &access,
                &secret,
            ],
        );
        self.cli(bin, config, &["bucket", "create", &bucket]);
        self.cli(
            bin,
            config,
            &[
                "bucket", "allow", "--read", "--write", "--owner", &bucket, "--key", &access,
            ],
        );
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
