//! Test harness: the real `sealcast` binary on port 0, and a real Garage S3 server.
#![allow(dead_code)]

pub mod fixtures;
pub mod identity;
pub mod postgres;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `sealcast serve` with a private data dir; killed on drop.
pub struct TestServer {
    pub base_url: String,
    pub child: Child,
    pub data_dir: tempfile::TempDir,
    pub log_path: PathBuf,
}

/// Builder for a server: extra flags and environment.
#[derive(Default)]
pub struct ServerBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    data_dir: Option<tempfile::TempDir>,
    shared_data: Option<PathBuf>,
}

impl ServerBuilder {
    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    /// Points the server at a Garage bucket.
    pub fn s3(self, garage: &Garage) -> Self {
        self.arg("--storage")
            .arg(format!("s3://{}/server-test", garage.bucket))
            .arg("--s3-endpoint")
            .arg(garage.endpoint.clone())
            .arg("--s3-region")
            .arg("garage")
            .env("AWS_ACCESS_KEY_ID", garage.access_key.clone())
            .env("AWS_SECRET_ACCESS_KEY", garage.secret_key.clone())
    }

    /// Reuses the data dir of a previous server (a restart).
    pub fn data_dir(mut self, dir: tempfile::TempDir) -> Self {
        self.data_dir = Some(dir);
        self
    }

    /// Uses another server's data dir (a second node on the same secrets and database).
    pub fn shared_data(mut self, path: PathBuf) -> Self {
        self.shared_data = Some(path);
        self
    }

    pub fn start(self) -> TestServer {
        let data_dir = match self.data_dir {
            Some(dir) => dir,
            None => tempfile::tempdir().unwrap(),
        };
        let log_path = data_dir.path().join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let mut cmd = sealcast_command();
        cmd.arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(
                self.shared_data
                    .clone()
                    .unwrap_or_else(|| data_dir.path().join("data")),
            )
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd.spawn().expect("spawn sealcast");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("sealcast listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let base_url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "server did not start; log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        TestServer {
            base_url,
            child,
            data_dir,
            log_path,
        }
    }
}

impl TestServer {
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    pub fn start() -> TestServer {
        Self::builder().start()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn data_path(&self) -> PathBuf {
        self.data_dir.path().join("data")
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        wait_with_timeout(&mut self.child, Duration::from_secs(30))
            .expect("server exits after SIGTERM")
    }
}

impl TestServer {
    /// Kills the process without warning (a crash) and hands back its data dir.
    pub fn crash(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sealcast_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealcast"));
    // The tests decide every setting; nothing leaks in from the caller's shell.
    for (key, _) in std::env::vars() {
        if key.starts_with("SEALCAST_") || key.starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A single-node Garage (the real S3 server from crates.io) on loopback with
/// one bucket and one key made by the harness. If it can't start, the test
/// fails and says why; it never skips.
pub struct Garage {
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    child: Child,
    _dir: tempfile::TempDir,
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
         (cargo install garage --locked --version 2.5.0)."
    );
}

impl Garage {
    pub fn start() -> Garage {
        let bin = garage_binary();
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
        let log = std::fs::File::create(dir.path().join("garage.log")).unwrap();
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&config_path)
            .arg("server")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start Garage at {}: {e}", bin.display()));
        let mut garage = Garage {
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            bucket: "sealcast-test".into(),
            access_key: "GK0123456789abcdef01234567".into(),
            secret_key: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            child,
            _dir: dir,
        };
        garage.setup(&bin, &config_path);
        garage
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
