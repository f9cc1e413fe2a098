//! Scale-out, measured on loopback: PostgreSQL, one key server, two edges
//! that forward `/keys/` to it (release binaries, as `tests/cluster.rs` runs
//! them), in one run:
//!
//! * key requests per second through one edge vs through two edges at once
//!   (same total connections), alternating rounds, medians, and the ratio;
//! * transcode jobs per minute with one worker process vs two (uploads
//!   through the edge's tus API, all nodes on one shared object store),
//!   alternating rounds, medians, and the ratio;
//! * revocation-to-denial across nodes, over 100 revocations: a session is
//!   revoked through edge A, then the time until (1) a key request through
//!   edge B is denied and (2) edge B's revocation bus has heard of it (the
//!   epoch its `/metrics` show), p50 and p99.
//!
//! ```text
//! cargo build --release --bin sealcast
//! cargo run --release --example cluster_bench -- [--seconds 5] [--connections 16] [--rounds 3]
//! ```

#[path = "../common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "../../tests/common/postgres.rs"]
mod postgres;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{arg, b64_file, login, measure, median, new_session, record, Better, Result_};
use sealcast::db::{now_ms, Db};
use sealcast_keyserver::UrlSigner;
use serde_json::json;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Loads `urls` at once, `conns` connections split between them; total req/s.
async fn load(urls: &[String], token: &str, secs: u64, conns: u64, wrk: bool) -> Result_ {
    let per = (conns / urls.len() as u64).max(1);
    let runs = urls.iter().map(|url| {
        let (url, token) = (url.clone(), token.to_string());
        tokio::spawn(async move { measure(url, &token, secs, per, wrk).await })
    });
    let mut total = Result_ {
        rps: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        errors: 0,
    };
    for r in futures::future::join_all(runs).await {
        let r = r.unwrap();
        total.rps += r.rps;
        total.p50_ms = total.p50_ms.max(r.p50_ms);
        total.p99_ms = total.p99_ms.max(r.p99_ms);
        total.errors += r.errors;
    }
    total
}

async fn epoch_of(http: &reqwest::Client, base: &str) -> i64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("sealcast_revocation_epoch "))
        .map_or(0, |v| v.trim().parse::<f64>().unwrap() as i64)
}

/// The secrets edges are handed, copied from the key server's (never master.key).
fn share_secrets(keyserver_data: &Path, into: &Path) -> Vec<(&'static str, String)> {
    let secrets = keyserver_data.join("secrets");
    let pem = std::fs::read_dir(secrets.join("signing-keys"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pem"))
        .unwrap();
    let mut env = Vec::new();
    for (from, name, var) in [
        (
            secrets.join("url-signing.key"),
            "url-signing.key",
            "SEALCAST_URL_SIGNING_SECRET_FILE",
        ),
        (pem, "signing.pem", "SEALCAST_SIGNING_KEY_FILE"),
        (
            secrets.join("master.pub"),
            "master.pub",
            "SEALCAST_MASTER_PUBLIC_KEY_FILE",
        ),
    ] {
        std::fs::copy(&from, into.join(name)).unwrap();
        env.push((var, into.join(name).display().to_string()));
    }
    env
}

#[tokio::main]
async fn main() {
    let secs = arg("--seconds", 5);
    let conns = arg("--connections", 16);
    let rounds = arg("--rounds", 3);
    let bin = common::binary();
    let pg = tokio::task::spawn_blocking(postgres::Postgres::start)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name).display().to_string();
    let no_limits = [
        "--key-requests-per-second",
        "1000000",
        "--login-attempts-per-ip",
        "100000",
        "--playback-starts-per-minute",
        "10000",
    ];
    // One object store every node shares (a directory on this machine).
    let storage = format!("file://{}", dir("objects"));
    let ladder = [
        "--transcode-rungs",
        "360,240,144",
        "--x264-preset",
        "veryfast",
    ];
    let ks_data = dir("keyserver");
    let mut ks_args = vec!["--roles", "keyserver", "--data-dir", &ks_data];
    ks_args.extend(["--database-url", &pg.url, "--trusted-proxies", "127.0.0.1"]);
    ks_args.extend(["--storage", &storage]);
    ks_args.extend(no_limits);
    let (_ks, ks_base) = common::start(&bin, &ks_args, &[]);
    std::fs::create_dir_all(tmp.path().join("shared")).unwrap();
    let env = share_secrets(Path::new(&ks_data), &tmp.path().join("shared"));
    let edge = |name: &str| {
        let data = dir(name);
        let mut args = vec!["--roles", "edge", "--data-dir", &data];
        args.extend(["--database-url", &pg.url, "--keyserver-url", &ks_base]);
        args.extend(["--storage", &storage]);
        args.extend(no_limits);
        common::start(&bin, &args, &env)
    };
    let (_a, a) = edge("edge-a");
    let (_b, b) = edge("edge-b");

    let db = Db::connect(&pg.url).await.unwrap();
    let seeded = common::seed(&db, Path::new(&ks_data).join("secrets/master.pub")).await;
    let http = reqwest::Client::new();
    let learner = login(&http, &a, "learner@bench.test", seeded.password).await;
    let admin = login(&http, &a, "admin@bench.test", seeded.password).await;
    let signer = UrlSigner::new(&b64_file(tmp.path().join("shared/url-signing.key"))).unwrap();
    let key_path = |session: &str| {
        let exp = (now_ms() / 1000) as u64 + 3600;
        sealcast::playback::key_url(&signer, session, seeded.key_id, exp).unwrap()
    };

    // 1. Key requests: one edge vs two edges.
    let session = new_session(&http, &a, &learner, &seeded.video).await;
    let path = key_path(&session);
    let (via_a, via_b) = (format!("{a}{path}"), format!("{b}{path}"));
    let check = http.get(&via_b).bearer_auth(&learner).send().await.unwrap();
    assert_eq!(check.status(), 200, "a key through edge B");
    let wrk = std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok();
    let _ = load(std::slice::from_ref(&via_a), &learner, 2, conns, wrk).await;
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        one.push(load(std::slice::from_ref(&via_a), &learner, secs, conns, wrk).await);
        two.push(load(&[via_a.clone(), via_b.clone()], &learner, secs, conns, wrk).await);
    }
    let (one_rps, two_rps) = (
        median(one.iter().map(|r| r.rps).collect()),
        median(two.iter().map(|r| r.rps).collect()),
    );
    let errors: u64 = one.iter().chain(&two).map(|r| r.errors).sum();
    println!(
        "load: {}, {conns} connections, {secs} s x {rounds} rounds each, alternating",
        if wrk { "wrk" } else { "built-in client" }
    );
    println!("key requests, one edge : {one_rps:>8.0} req/s (median)");
    println!("key requests, two edges: {two_rps:>8.0} req/s (median)");
    println!("ratio two/one: {:.2}   errors: {errors}", two_rps / one_rps);
    record(
        "cluster",
        "key requests, two edges (one machine)",
        "req/s",
        two_rps,
        ("one edge", one_rps),
        Better::Higher,
        None,
    );

    // 2. Transcode jobs per minute: one worker vs two, same batch of uploads.
    let jobs = arg("--jobs", 4) as usize;
    let clip = tmp.path().join("clip.mp4");
    common::make_clip(&clip, 20, 25);
    let clip = std::fs::read(&clip).unwrap();
    let creator = login(&http, &a, "creator@bench.test", seeded.password).await;
    let course: String = sqlx::query_scalar("SELECT course_id FROM videos WHERE id = $1")
        .bind(&seeded.video)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let (mut per_min_one, mut per_min_two) = (Vec::new(), Vec::new());
    for round in 0..rounds * 2 {
        let workers = if round % 2 == 0 { 1 } else { 2 };
        let nodes: Vec<_> = (0..workers)
            .map(|i| {
                let data = dir(&format!("worker-{round}-{i}"));
                let mut args = vec!["--roles", "worker", "--data-dir", &data];
                args.extend(["--database-url", &pg.url, "--storage", &storage]);
                args.extend(ladder);
                common::start(&bin, &args, &env)
            })
            .collect();
        let t0 = Instant::now();
        let mut videos = Vec::new();
        for _ in 0..jobs {
            videos.push(common::tus_upload(&http, &a, &creator, &course, clip.clone()).await);
        }
        common::all_ready(&http, &a, &creator, &videos).await;
        let rate = jobs as f64 / t0.elapsed().as_secs_f64() * 60.0;
        if workers == 1 {
            per_min_one.push(rate);
        } else {
            per_min_two.push(rate);
        }
        drop(nodes);
    }
    let (one_rate, two_rate) = (median(per_min_one), median(per_min_two));
    println!(
        "transcode, one worker : {one_rate:>6.2} jobs/min (median; {jobs} x 20 s 360p clips, ladder 360/240/144)"
    );
    println!("transcode, two workers: {two_rate:>6.2} jobs/min (median)");
    println!("ratio two/one: {:.2}", two_rate / one_rate);
    record(
        "cluster",
        "transcode jobs, two workers (one machine)",
        "jobs/min",
        two_rate,
        ("one worker", one_rate),
        Better::Higher,
        None,
    );

    // 3. Revocation through A, denial through B.
    let (mut to_denial, mut to_heard) = (Vec::new(), Vec::new());
    for _ in 0..100 {
        let session = new_session(&http, &a, &learner, &seeded.video).await;
        let url = format!("{b}{}", key_path(&session));
        let ok = http.get(&url).bearer_auth(&learner).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        let revoked = http
            .post(format!("{a}/api/v1/admin/revocations"))
            .bearer_auth(&admin)
            .json(&json!({"session_id": session}))
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 201);
        let t0 = Instant::now();
        let announced = epoch_of(&http, &a).await;
        let mut denied = None;
        let mut heard = None;
        while denied.is_none() || heard.is_none() {
            if denied.is_none() {
                let r = http.get(&url).bearer_auth(&learner).send().await.unwrap();
                if r.status() == 403 {
                    denied = Some(t0.elapsed());
                }
            }
            if heard.is_none() && epoch_of(&http, &b).await >= announced {
                heard = Some(t0.elapsed());
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "no denial in 10 s");
        }
        to_denial.push(denied.unwrap().as_secs_f64() * 1000.0);
        to_heard.push(heard.unwrap().as_secs_f64() * 1000.0);
    }
    for (name, mut v) in [
        ("revocation -> key denied via edge B", to_denial),
        ("revocation -> edge B's bus heard it", to_heard),
    ] {
        v.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{name}: p50 {:.1} ms, p99 {:.1} ms (100 revocations)",
            percentile(&v, 0.5),
            percentile(&v, 0.99)
        );
    }
}
