//! What the benchmarks share: starting a `sealcast serve` process, seeding a
//! course with a ready video and one sealed content key through the library
//! (as `serve --demo` does), and loading a URL with wrk or a built-in client.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use sealcast::db::{new_id, now_ms, Db};
use sealcast::identity::{create_course, create_user, enroll, Role};
use sealcast_keyserver::{public_key_from_slice, seal, KeyContext, MasterPublicKey};
use serde_json::{json, Value};

pub struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn b64_file(path: PathBuf) -> Vec<u8> {
    let text = std::fs::read_to_string(&path).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap()
}

#[derive(Debug, Clone, Copy)]
pub struct Result_ {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

/// wrk's "Requests/sec" and the 50%/99% latency lines.
pub fn run_wrk(url: &str, token: &str, secs: u64, conns: u64) -> Option<Result_> {
    let auth = format!("Authorization: Bearer {token}");
    wrk(&["-H", &auth, url], secs, conns)
}

/// wrk with two threads, `conns` connections for `secs` seconds and `args`.
fn wrk(args: &[&str], secs: u64, conns: u64) -> Option<Result_> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
        ])
        .args(args)
        .output()
        .ok()?;
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

/// Requests per second, p50, p99 and non-2xx count from wrk's `--latency` output.
fn parse_wrk(text: &str) -> Option<Result_> {
    let ms = |v: &str| -> f64 {
        let v = v.trim();
        if let Some(x) = v.strip_suffix("us") {
            x.parse::<f64>().unwrap_or(0.0) / 1000.0
        } else if let Some(x) = v.strip_suffix("ms") {
            x.parse().unwrap_or(0.0)
        } else if let Some(x) = v.strip_suffix('s') {
            x.parse::<f64>().unwrap_or(0.0) * 1000.0
        } else {
            0.0
        }
    };
    let find = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|r| r.trim().to_string()))
    };
    let errors = find("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(Result_ {
        rps: find("Requests/sec:")?.parse().ok()?,
        p50_ms: ms(&find("50%")?),
        p99_ms: ms(&find("99%")?),
        errors,
    })
}

/// Closed-loop fallback: `conns` tasks, each one request after another.
pub async fn run_builtin(url: &str, token: &str, secs: u64, conns: u64) -> Result_ {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(conns as usize)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let url = Arc::new(url.to_string());
    let token = Arc::new(format!("Bearer {token}"));
    let tasks: Vec<_> = (0..conns)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            tokio::spawn(async move {
                let (mut lat, mut errors) = (Vec::new(), 0u64);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let ok = match client
                        .get(url.as_str())
                        .header("authorization", token.as_str())
                        .send()
                        .await
                    {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    errors += u64::from(!ok);
                }
                (lat, errors)
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)];
    Result_ {
        rps: all.len() as f64 / secs as f64,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        errors,
    }
}

/// The release binary (or `SEALCAST_BIN`).
pub fn binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var("SEALCAST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/release/sealcast"));
    assert!(
        bin.exists(),
        "{} missing: cargo build --release --bin sealcast",
        bin.display()
    );
    bin
}

/// Starts `sealcast serve --listen 127.0.0.1:0 <args>` with `env`; its base URL.
pub fn start(bin: &PathBuf, args: &[&str], env: &[(&str, String)]) -> (Server, String) {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let base = lines
        .find_map(|l| l.strip_prefix("sealcast listening on ").map(str::to_string))
        .expect("server started");
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Server(child), base)
}

/// What [`seed`] made.
pub struct Seeded {
    pub video: String,
    pub key_id: &'static str,
    pub password: &'static str,
}

/// A creator, an enrolled learner (`learner@bench.test`), an admin
/// (`admin@bench.test`), a ready video and one content key sealed to `master_pub`.
pub async fn seed(db: &Db, master_pub: PathBuf) -> Seeded {
    let password = "bench password 1";
    let creator = create_user(db, "creator@bench.test", password, Role::Creator)
        .await
        .unwrap();
    let learner = create_user(db, "learner@bench.test", password, Role::Learner)
        .await
        .unwrap();
    create_user(db, "admin@bench.test", password, Role::Admin)
        .await
        .unwrap();
    let course = create_course(db, &creator.id, "Bench").await.unwrap();
    enroll(db, &course.id, &learner.id).await.unwrap();
    let video = new_id();
    sqlx::query(
        "INSERT INTO videos (id, course_id, owner_id, title, status, progress, duration_ms, created_at, updated_at) \
         VALUES ($1, $2, $3, 'Bench', 'ready', 100, 3600000, $4, $4)",
    )
    .bind(&video)
    .bind(&course.id)
    .bind(&creator.id)
    .bind(now_ms())
    .execute(&db.pool)
    .await
    .unwrap();
    let key_id = "k0";
    let public = public_key_from_slice(&b64_file(master_pub)).unwrap();
    store_key(db, &public, &video, key_id, [7u8; 16]).await;

    Seeded {
        video,
        key_id,
        password,
    }
}

/// Loads `url` for `secs` with `conns` connections (wrk if `wrk`, else the built-in client).
pub async fn measure(url: String, token: &str, secs: u64, conns: u64, wrk: bool) -> Result_ {
    if wrk {
        let token = token.to_string();
        tokio::task::spawn_blocking(move || run_wrk(&url, &token, secs, conns))
            .await
            .unwrap()
            .expect("wrk output")
    } else {
        run_builtin(&url, token, secs, conns).await
    }
}

/// Logs in through `base`; the access token.
pub async fn login(http: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_string()
}

/// Starts a playback session through `base`; its id.
pub async fn new_session(http: &reqwest::Client, base: &str, token: &str, video: &str) -> String {
    let session: Value = http
        .post(format!("{base}/api/v1/videos/{video}/playback"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    session["session_id"].as_str().unwrap().to_string()
}

/// The middle value (upper middle of an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Which way a ratio ours/peer is better, for the report's verdict.
#[derive(Clone, Copy)]
pub enum Better {
    Higher,
    Lower,
}

/// One measured comparison, appended as a JSON line to the results file
/// `make bench` turns into bench/RESULTS.md and its charts (bench/report),
/// the same line bench/results.sh writes for the shell benchmarks. `goal` is
/// the ratio to reach, if there is one.
pub fn record(
    bench: &str,
    measure: &str,
    unit: &str,
    ours: f64,
    (peer, peer_value): (&str, f64),
    better: Better,
    goal: Option<f64>,
) {
    use std::io::Write;
    let path = std::env::var_os("SEALCAST_BENCH_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench/results.jsonl")
        });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let line = json!({
        "bench": bench, "measure": measure, "unit": unit, "ours": ours,
        "peer": peer, "peer_value": peer_value,
        "better": match better { Better::Higher => "higher", Better::Lower => "lower" },
        "goal": goal,
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    writeln!(file, "{line}").unwrap();
}

impl Server {
    /// The server process's id (for its /proc figures).
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

/// Uploads `bytes` through tus on `base` into `course` in one PATCH, as
/// `token`; the video id (the upload id).
pub async fn tus_upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    course: &str,
    bytes: Vec<u8>,
) -> String {
    let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    let created = http
        .post(format!("{base}/api/v1/uploads"))
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", bytes.len().to_string())
        .header(
            "upload-metadata",
            format!(
                "filename {},course_id {},title {}",
                b64("bench.mp4"),
                b64(course),
                b64("Bench")
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{:?}", created.text().await);
    let path = created.headers()["location"].to_str().unwrap().to_string();
    let done = http
        .patch(format!("{base}{path}"))
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 204, "{:?}", done.text().await);
    path.rsplit('/').next().unwrap().to_string()
}

/// `{prefix}0..{prefix}{n-1}@bench.test`, learners enrolled in `course` with
/// `password`: the first through the library, the rest with its password hash
/// (one argon2 hash instead of n) in one transaction, as `create_user` and
/// `enroll` write them.
pub async fn learners(db: &Db, course: &str, prefix: &str, n: usize, password: &str) {
    let first = create_user(
        db,
        &format!("{prefix}0@bench.test"),
        password,
        Role::Learner,
    )
    .await
    .unwrap();
    enroll(db, course, &first.id).await.unwrap();
    let (hash, role): (String, String) =
        sqlx::query_as("SELECT password_hash, role FROM users WHERE id = $1")
            .bind(&first.id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    for i in 1..n {
        let (id, now) = (new_id(), now_ms());
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(format!("{prefix}{i}@bench.test"))
        .bind(&hash)
        .bind(&role)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query("INSERT INTO enrollments (course_id, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(course)
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Seals and stores `n` more content keys `k1..k{n}` of `video` (the seeded
/// `k0` is the first), as the transcoder stores its rotated keys.
pub async fn more_keys(db: &Db, video: &str, master_pub: PathBuf, n: usize) -> Vec<String> {
    let public = public_key_from_slice(&b64_file(master_pub)).unwrap();
    let mut ids = Vec::new();
    for i in 1..=n {
        let key_id = format!("k{i}");
        store_key(db, &public, video, &key_id, [i as u8; 16]).await;
        ids.push(key_id);
    }
    ids
}

/// Seals `key` to `public` for (video, key id) and stores it as the transcoder does.
async fn store_key(db: &Db, public: &MasterPublicKey, video: &str, key_id: &str, key: [u8; 16]) {
    let sealed = seal(
        public,
        &KeyContext {
            video_id: video,
            key_id,
        },
        &key,
    )
    .unwrap();
    sqlx::query(
        "INSERT INTO content_keys (video_id, key_id, sealed, master_fingerprint, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(video)
    .bind(key_id)
    .bind(sealed.to_base64())
    .bind(sealed.recipient_fingerprint().to_hex())
    .bind(now_ms())
    .execute(&db.pool)
    .await
    .unwrap();
}

/// wrk over many requests in rotation: each wrk thread walks `requests`
/// (path and Bearer token, against `base`) in turn from its own starting
/// point, so no URL is simply repeated. Same figures as [`run_wrk`].
pub fn run_wrk_rotating(
    base: &str,
    requests: &[(String, String)],
    secs: u64,
    conns: u64,
) -> Option<Result_> {
    let dir = tempfile::tempdir().ok()?;
    let script = dir.path().join("rotate.lua");
    let mut lua = String::from("local reqs = {\n");
    for (path, token) in requests {
        lua.push_str(&format!("  {{ {:?}, {:?} }},\n", path, token));
    }
    lua.push_str(
        "}\nlocal counter = 0\nlocal i = 0\n\
         function setup(thread) counter = counter + 1; thread:set(\"start\", counter * 7919) end\n\
         function init(args) i = start or 0 end\n\
         function request()\n  i = i + 1\n  local r = reqs[(i % #reqs) + 1]\n\
           return wrk.format(\"GET\", r[1], { [\"Authorization\"] = \"Bearer \" .. r[2] })\nend\n",
    );
    std::fs::write(&script, lua).ok()?;
    wrk(&["-s", script.to_str()?, base], secs, conns)
}

/// A `seconds`-long 640x360 test clip at `fps` with a 440 Hz tone, H.264 and
/// AAC, made with the ffmpeg CLI.
pub fn make_clip(path: &std::path::Path, seconds: u64, fps: u32) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size=640x360:rate={fps}"),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &seconds.to_string()])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-shortest"])
        .arg(path)
        .output()
        .expect("the ffmpeg CLI");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits (up to 30 min) until every video is ready; fails on a failed one.
pub async fn all_ready(http: &reqwest::Client, base: &str, token: &str, videos: &[String]) {
    let mut pending: Vec<&String> = videos.iter().collect();
    let deadline = Instant::now() + Duration::from_secs(1800);
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "not ready in 30 min: {pending:?}"
        );
        let mut still = Vec::new();
        for id in pending {
            let v: Value = http
                .get(format!("{base}/api/v1/videos/{id}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            match v["status"].as_str() {
                Some("ready") => {}
                Some("failed") => panic!("the transcode failed: {v}"),
                _ => still.push(id),
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
