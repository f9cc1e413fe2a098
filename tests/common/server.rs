//! The real `sealcast` binary on port 0 with a private data dir, configured
//! by one builder: database, storage, roles and any extra flag.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::garage::Garage;
use super::postgres::Postgres;

/// Which database a server runs on.
#[derive(Clone, Debug, Default)]
pub enum Database {
    /// `sealcast.db` in the data dir (the server's default).
    #[default]
    Sqlite,
    Postgres(String),
}

/// A server's private directory (data dir, log) and, when the suite runs on
/// PostgreSQL, the database that goes with it: a crashed server hands both
/// back, so its restart finds its data.
pub struct DataDir {
    dir: tempfile::TempDir,
    pg: Option<Arc<Postgres>>,
}

impl DataDir {
    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl From<tempfile::TempDir> for DataDir {
    fn from(dir: tempfile::TempDir) -> Self {
        DataDir { dir, pg: None }
    }
}

/// `SEALCAST_TEST_DATABASE=postgres` runs the suite on PostgreSQL: every
/// server whose test chose no database gets one of its own (a node started
/// on another's data dir shares that one's). `make test` runs the suite's
/// database-heavy binaries once more this way.
pub fn suite_on_postgres() -> bool {
    std::env::var("SEALCAST_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// The PostgreSQL of each server's data dir, while that server (or its
/// handed-back [`DataDir`]) keeps it alive.
fn postgres_of_data(
) -> &'static Mutex<std::collections::HashMap<PathBuf, std::sync::Weak<Postgres>>> {
    static MAP: std::sync::OnceLock<
        Mutex<std::collections::HashMap<PathBuf, std::sync::Weak<Postgres>>>,
    > = std::sync::OnceLock::new();
    MAP.get_or_init(Default::default)
}

/// Builder for a server process.
#[derive(Default)]
pub struct ServerBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    database: Database,
    /// The test chose the database (`.postgres(…)`).
    database_chosen: bool,
    data_dir: Option<DataDir>,
    shared_data: Option<PathBuf>,
    /// `small_disk`: where in the data dir, and how many MiB.
    small_disk: Option<(String, u32)>,
}

impl ServerBuilder {
    /// Any `serve` flag with its value.
    pub fn flag(self, name: &str, value: impl ToString) -> Self {
        self.arg(name).arg(value.to_string())
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn postgres(mut self, pg: &Postgres) -> Self {
        self.database = Database::Postgres(pg.url.clone());
        self.database_chosen = true;
        self
    }

    /// SQLite in the data dir, even when the suite runs on PostgreSQL: for
    /// tests whose subject is the SQLite files themselves.
    pub fn sqlite(mut self) -> Self {
        self.database = Database::Sqlite;
        self.database_chosen = true;
        self
    }

    /// Stores objects in a Garage bucket instead of the data dir.
    pub fn garage(self, garage: &Garage) -> Self {
        self.flag("--storage", format!("s3://{}/server-test", garage.bucket))
            .flag("--s3-endpoint", &garage.endpoint)
            .flag("--s3-region", "garage")
            .env("AWS_ACCESS_KEY_ID", garage.access_key.clone())
            .env("AWS_SECRET_ACCESS_KEY", garage.secret_key.clone())
    }

    /// `--roles`, e.g. `"edge"` or `"keyserver"`.
    pub fn roles(self, roles: &str) -> Self {
        self.flag("--roles", roles)
    }

    /// No transcode workers: uploads stay queued.
    pub fn no_workers(self) -> Self {
        self.flag("--workers", 0)
    }

    /// Small, fast transcodes: one 144p rung, 1 s segments, a key per segment.
    pub fn fast_transcodes(self) -> Self {
        self.flag("--transcode-rungs", 144)
            .flag("--segment-seconds", 1)
            .flag("--rotate-every", 1)
            .flag("--x264-preset", "ultrafast")
    }

    /// Login limits out of the way (through the environment, so a flag still wins).
    pub fn lenient_login(self) -> Self {
        self.env("SEALCAST_LOGIN_ATTEMPTS_PER_IP", "100000")
            .env("SEALCAST_LOGIN_ATTEMPTS_PER_EMAIL", "1000")
    }

    /// Reuses the data dir of a previous server (a restart).
    pub fn data_dir(mut self, dir: impl Into<DataDir>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Puts `part` of the data dir (`""` for all of it, `"objects"` for the
    /// local object store) on a disk of `mib` MiB: a tmpfs mounted in a user
    /// and mount namespace of the server's own, so no root is needed and the
    /// disk really fills. The network is not namespaced. The disk goes with
    /// the process; the test sees it through `/proc/<pid>/root`
    /// ([`TestServer::data_path`]).
    pub fn small_disk(mut self, part: &str, mib: u32) -> Self {
        self.small_disk = Some((part.to_string(), mib));
        self
    }

    /// Uses another server's data dir (a second node on the same secrets and database).
    pub fn shared_data(mut self, path: PathBuf) -> Self {
        self.shared_data = Some(path);
        self
    }

    pub fn start(mut self) -> TestServer {
        let DataDir { dir: data_dir, pg } = match self.data_dir.take() {
            Some(dir) => dir,
            None => tempfile::tempdir().unwrap().into(),
        };
        let data_path = self
            .shared_data
            .clone()
            .unwrap_or_else(|| data_dir.path().join("data"));
        let pg = self.suite_postgres(pg, &data_path);
        let log_path = data_dir.path().join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        let mut cmd = match &self.small_disk {
            Some((part, mib)) => on_small_disk(&data_path.join(part), *mib),
            None => sealcast_command(),
        };
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_path)
            .args(database_args(&self.database))
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        let mut child = cmd.spawn().expect("spawn sealcast");
        // The namespace's mounts, as this process can see them.
        let namespace = self.small_disk.as_ref().map(|_| child.id());
        let seen_data_path = match namespace {
            Some(pid) => PathBuf::from(format!("/proc/{pid}/root"))
                .join(data_path.strip_prefix("/").unwrap_or(&data_path)),
            None => data_path.clone(),
        };
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let printed = Arc::new(Mutex::new(Vec::new()));
        let lines = printed.clone();
        // Drains stdout for the process's whole life, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("sealcast listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        // The listening line, or the exit of a process that will never print it.
        let deadline = Instant::now() + Duration::from_secs(60);
        let base_url = loop {
            if let Ok(url) = rx.recv_timeout(Duration::from_millis(100)) {
                break url;
            }
            let exited = child.try_wait().unwrap();
            if exited.is_some() || Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "server did not start ({}); log:\n{}",
                    exited.map_or("no listening line within 60 s".into(), |s| s.to_string()),
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        TestServer {
            base_url,
            child,
            data_dir,
            data_path: seen_data_path,
            served_data_path: data_path,
            namespace,
            log_path,
            printed,
            database: self.database,
            pg,
        }
    }

    /// Under `SEALCAST_TEST_DATABASE=postgres`, the PostgreSQL this server
    /// runs on (its own, its data dir's, or the restarted server's), set as
    /// its database; `None` otherwise or when the test chose one.
    fn suite_postgres(
        &mut self,
        handed_back: Option<Arc<Postgres>>,
        data_path: &std::path::Path,
    ) -> Option<Arc<Postgres>> {
        if self.database_chosen || !suite_on_postgres() {
            return None;
        }
        let mut map = postgres_of_data().lock().unwrap();
        let pg = handed_back
            .or_else(|| map.get(data_path).and_then(std::sync::Weak::upgrade))
            .unwrap_or_else(|| Arc::new(Postgres::start()));
        map.insert(data_path.to_path_buf(), Arc::downgrade(&pg));
        self.database = Database::Postgres(pg.url.clone());
        Some(pg)
    }
}

fn database_args(db: &Database) -> Vec<String> {
    match db {
        Database::Sqlite => Vec::new(),
        Database::Postgres(url) => vec!["--database-url".into(), url.clone()],
    }
}

/// A running `sealcast serve`; killed on drop.
pub struct TestServer {
    pub base_url: String,
    pub child: Child,
    data_dir: tempfile::TempDir,
    /// The `--data-dir`, as this process sees it (see `small_disk`).
    data_path: PathBuf,
    /// The `--data-dir` as the server names it.
    served_data_path: PathBuf,
    /// The pid whose user and mount namespace hold a `small_disk`.
    namespace: Option<u32>,
    log_path: PathBuf,
    printed: Arc<Mutex<Vec<String>>>,
    pub database: Database,
    /// The suite's PostgreSQL for this server, if any (see [`suite_on_postgres`]).
    pg: Option<Arc<Postgres>>,
}

impl TestServer {
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// A server with every default.
    pub fn start() -> TestServer {
        Self::builder().start()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// What the process has printed on stdout so far, line by line.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.printed.lock().unwrap().clone()
    }

    /// The server's `--data-dir` (on a `small_disk`, seen through `/proc`).
    pub fn data_path(&self) -> PathBuf {
        self.data_path.clone()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        wait_with_timeout(&mut self.child, Duration::from_secs(30))
            .expect("server exits after SIGTERM")
    }

    /// Kills the process without warning (a crash) and hands back its data
    /// dir (and database).
    pub fn crash(mut self) -> DataDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        DataDir {
            dir: std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap()),
            pg: self.pg.take(),
        }
    }

    /// Runs `sealcast admin …` against this server's data dir and database
    /// (in the server's namespaces when its data dir is on a `small_disk`:
    /// given the `/proc/<pid>/root` path, the CLI ended up on a database of
    /// its own).
    pub fn admin_command(&self, args: &[&str]) -> Command {
        let mut cmd = match self.namespace {
            Some(pid) => {
                let mut cmd = Command::new("nsenter");
                cmd.args(["--target", &pid.to_string(), "--user", "--mount"])
                    .args(["--preserve-credentials", "--"])
                    .arg(env!("CARGO_BIN_EXE_sealcast"));
                clean_env(&mut cmd);
                cmd
            }
            None => sealcast_command(),
        };
        cmd.arg("admin")
            .args(args)
            .arg("--data-dir")
            .arg(&self.served_data_path)
            .args(database_args(&self.database));
        cmd
    }

    /// `sealcast admin create-user … --password-stdin`: (exit code, stdout).
    pub fn create_user_cli(&self, email: &str, role: &str, password: &str) -> (i32, String) {
        let mut child = self
            .admin_command(&["create-user", "--email", email, "--role", role])
            .arg("--password-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        let out = child.wait_with_output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        assert!(
            code == 0 || out.stdout.is_empty(),
            "a refused create-user prints nothing on stdout"
        );
        if code != 0 && code != 2 {
            panic!("create-user: {}", String::from_utf8_lossy(&out.stderr));
        }
        (
            code,
            String::from_utf8(out.stdout).unwrap().trim().to_string(),
        )
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
    clean_env(&mut cmd);
    cmd
}

/// `sealcast` started as root of a new user and mount namespace that first
/// mounts a tmpfs of `mib` MiB on `mount` (`unshare -Urm`; unprivileged).
/// `exec` keeps the pid, so killing the child kills the server.
fn on_small_disk(mount: &std::path::Path, mib: u32) -> Command {
    std::fs::create_dir_all(mount).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg(format!(
            r#"mount -t tmpfs -o size={mib}m,mode=0700 sealcast-test "$1" && shift && exec "$@""#
        ))
        .arg("sh")
        .arg(mount)
        .arg(env!("CARGO_BIN_EXE_sealcast"));
    clean_env(&mut cmd);
    cmd
}

/// The tests decide every setting; nothing leaks in from the caller's shell.
fn clean_env(cmd: &mut Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("SEALCAST_") || key.starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("RUST_LOG", "info");
}

/// Polls a child's exit status until `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}
