//! Key route throughput, side by side with the same server's trivial route.
//!
//! Starts `sealcast serve` (release build by default) on a fresh data dir,
//! sets up an admin, a course, an enrolled learner, a ready video with one
//! sealed content key and a live playback session (through the library and
//! the API, as in the tests), then loads, in one run:
//!
//! * `GET /healthz` — a trivial route through the same layer stack (15 bytes);
//! * `GET /keys/{session}/{key}?exp&sig` with the learner's Bearer token — the
//!   grant path with every check on: signed URL, session, JWT, entitlement,
//!   key lookup, pacing (a repeat key: free), opening the sealed key, and the
//!   audit write that must land before the key leaves.
//!
//! Load comes from `wrk` when it is on PATH (apt install wrk), else from a
//! built-in closed-loop client. Prints requests/s, p50/p99 and the ratio.
//!
//!     cargo build --release --bin sealcast
//!     cargo run --release --example keys_bench -- [--seconds 10] [--connections 16]
//!
//! `SEALCAST_BIN` picks another binary.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use sealcast::db::{new_id, now_ms, Db};
use sealcast::identity::{create_course, create_user, enroll, Role};
use sealcast_keyserver::{public_key_from_slice, seal, KeyContext, UrlSigner};
use serde_json::{json, Value};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn b64_file(path: PathBuf) -> Vec<u8> {
    let text = std::fs::read_to_string(&path).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap()
}

#[derive(Debug, Clone, Copy)]
struct Result_ {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// wrk's "Requests/sec" and the 50%/99% latency lines.
fn run_wrk(url: &str, token: &str, secs: u64, conns: u64) -> Option<Result_> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
        ])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
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
async fn run_builtin(url: &str, token: &str, secs: u64, conns: u64) -> Result_ {
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

#[tokio::main]
async fn main() {
    let secs = arg("--seconds", 10);
    let conns = arg("--connections", 16);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = std::env::var("SEALCAST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target/release/sealcast"));
    assert!(
        bin.exists(),
        "{} missing: cargo build --release --bin sealcast",
        bin.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");

    let mut child = Command::new(&bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--log-format",
            "json",
        ])
        .arg("--data-dir")
        .arg(&data)
        .args(["--key-requests-per-second", "1000000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let base = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("sealcast listening on ").map(str::to_string))
        .expect("server started");
    let _server = Server(child);

    // Setup, as `serve --demo` would: library calls on the server's database.
    let db = Db::connect(&format!("sqlite://{}", data.join("sealcast.db").display()))
        .await
        .unwrap();
    let password = "bench password 1";
    let creator = create_user(&db, "creator@bench.test", password, Role::Creator)
        .await
        .unwrap();
    let learner = create_user(&db, "learner@bench.test", password, Role::Learner)
        .await
        .unwrap();
    let course = create_course(&db, &creator.id, "Bench").await.unwrap();
    enroll(&db, &course.id, &learner.id).await.unwrap();
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
    let public = public_key_from_slice(&b64_file(data.join("secrets/master.pub"))).unwrap();
    let key_id = "k0";
    let sealed = seal(
        &public,
        &KeyContext {
            video_id: &video,
            key_id,
        },
        &[7u8; 16],
    )
    .unwrap();
    sqlx::query(
        "INSERT INTO content_keys (video_id, key_id, sealed, master_fingerprint, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&video)
    .bind(key_id)
    .bind(sealed.to_base64())
    .bind(sealed.recipient_fingerprint().to_hex())
    .bind(now_ms())
    .execute(&db.pool)
    .await
    .unwrap();

    let http = reqwest::Client::new();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "learner@bench.test", "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let session: Value = http
        .post(format!("{base}/api/v1/videos/{video}/playback"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = session["session_id"].as_str().unwrap();
    let signer = UrlSigner::new(&b64_file(data.join("secrets/url-signing.key"))).unwrap();
    let exp = (now_ms() / 1000) as u64 + 3600;
    let key_url = format!(
        "{base}{}",
        sealcast::playback::key_url(&signer, session, key_id, exp).unwrap()
    );
    let trivial_url = format!("{base}/healthz");
    let check = http.get(&key_url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(check.status(), 200, "key route answers");
    assert_eq!(check.bytes().await.unwrap().len(), 16);

    let use_wrk = Command::new("wrk").arg("--version").output().is_ok();
    let tool = if use_wrk { "wrk" } else { "built-in client" };
    let measure = |url: String| {
        let token = token.clone();
        async move {
            if use_wrk {
                tokio::task::spawn_blocking(move || run_wrk(&url, &token, secs, conns))
                    .await
                    .unwrap()
                    .expect("wrk output")
            } else {
                run_builtin(&url, &token, secs, conns).await
            }
        }
    };
    // Warm up both, then measure each for the same time.
    let _ = measure(trivial_url.clone()).await;
    let _ = measure(key_url.clone()).await;
    let trivial = measure(trivial_url).await;
    let keys = measure(key_url).await;
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'key'")
        .fetch_one(&db.pool)
        .await
        .unwrap();

    println!(
        "load: {tool}, {conns} connections, {secs} s each, binary {}",
        bin.display()
    );
    println!(
        "{:<28} {:>10} {:>9} {:>9} {:>7}",
        "route", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, r) in [
        ("GET /healthz (trivial)", trivial),
        ("GET /keys/{sid}/{kid} grant", keys),
    ] {
        println!(
            "{name:<28} {:>10.0} {:>9.2} {:>9.2} {:>7}",
            r.rps, r.p50_ms, r.p99_ms, r.errors
        );
    }
    println!(
        "ratio keys/trivial: {:.2} (target >= 0.5)",
        keys.rps / trivial.rps
    );
    println!("audit rows written for key requests: {audited}");
}
