//! Key route throughput, side by side with the same server's trivial route.
//!
//! Starts `sealcast serve` (release build by default) on a fresh data dir,
//! sets up an admin, a course, `--sessions` enrolled learners (default 100)
//! each logged in with a live playback session, and a ready video with
//! `--keys` sealed content keys (default 20), through the library and the
//! API as in the tests, then loads, in one run:
//!
//! * `GET /healthz`: a trivial route through the same layer stack (15 bytes);
//! * `GET /keys/{session}/{key}?exp&sig`: every (session, key) pair in
//!   rotation (2,000 URLs by default, each with its learner's Bearer token;
//!   no URL simply repeated), the grant path with every check on: signed URL,
//!   session, JWT, the session's request limit, entitlement, the key being the
//!   video's, pacing, the opened key, and the audit row that must be committed
//!   before the key leaves. Pacing's allowance is raised so that walking a
//!   video's keys faster than real time is granted: the bench measures grants.
//!
//! Load comes from `wrk` (apt install wrk; `make bench` installs it). The two
//! routes alternate over the rounds; prints the medians of requests/s, p50/p99
//! and the ratios, and records them for bench/RESULTS.md.
//!
//!     cargo build --release --bin sealcast
//!     cargo run --release --example keys_bench -- [--seconds 10] [--connections 16] [--rounds 3] [--sessions 100] [--keys 20]
//!
//! `SEALCAST_BIN` picks another binary.

#[path = "../common/mod.rs"]
mod common;

use common::{arg, b64_file, login, measure, median, new_session, record, Better, Result_};
use sealcast::db::{now_ms, Db};
use sealcast_keyserver::UrlSigner;

#[tokio::main]
async fn main() {
    let secs = arg("--seconds", 10);
    let conns = arg("--connections", 16);
    let rounds = arg("--rounds", 3);
    let sessions = arg("--sessions", 100) as usize;
    let keys = arg("--keys", 20) as usize;
    let bin = common::binary();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let data_arg = data.display().to_string();
    let (_server, base) = common::start(
        &bin,
        &[
            "--workers",
            "0",
            "--data-dir",
            &data_arg,
            "--key-requests-per-second",
            "1000000",
            "--key-pacing-allowance-secs",
            "86400",
            "--login-attempts-per-ip",
            "100000",
        ],
        &[],
    );

    // Setup, as `serve --demo` would: library calls on the server's database.
    let db = Db::connect(&format!("sqlite://{}", data.join("sealcast.db").display()))
        .await
        .unwrap();
    let master_pub = data.join("secrets/master.pub");
    let seeded = common::seed(&db, master_pub.clone()).await;
    let (video, password) = (&seeded.video, seeded.password);
    let mut key_ids = vec![seeded.key_id.to_string()];
    key_ids.extend(common::more_keys(&db, video, master_pub, keys.saturating_sub(1)).await);
    let course: String = sqlx::query_scalar("SELECT course_id FROM videos WHERE id = $1")
        .bind(video)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    common::learners(&db, &course, "keys", sessions, password).await;
    let http = reqwest::Client::new();
    let signer = UrlSigner::new(&b64_file(data.join("secrets/url-signing.key"))).unwrap();
    let exp = (now_ms() / 1000) as u64 + 3600;
    let mut requests = Vec::new();
    for i in 0..sessions {
        let token = login(&http, &base, &format!("keys{i}@bench.test"), password).await;
        let session = new_session(&http, &base, &token, video).await;
        for key_id in &key_ids {
            let path = sealcast::playback::key_url(&signer, &session, key_id, exp).unwrap();
            requests.push((path, token.clone()));
        }
    }
    // Interleave sessions: consecutive requests are different sessions' keys.
    requests.sort_by_key(|(path, _)| {
        let k = path.split('/').nth(3).unwrap_or_default().to_string();
        (k, path.clone())
    });
    for (path, token) in [&requests[0], &requests[requests.len() - 1]] {
        let check = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(check.status(), 200, "key route answers");
        assert_eq!(check.bytes().await.unwrap().len(), 16);
    }
    let trivial_url = format!("{base}/healthz");
    let (trivial_token, n_urls) = (requests[0].1.clone(), requests.len());
    let requests = std::sync::Arc::new(requests);
    let measure_keys = || {
        let (base, requests) = (base.clone(), requests.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                common::run_wrk_rotating(&base, &requests, secs, conns)
            })
            .await
            .unwrap()
            .expect("wrk output (make bench installs wrk)")
        }
    };
    let measure_trivial = || measure(trivial_url.clone(), &trivial_token, secs, conns, true);
    // Warm up both, then alternate which goes first over the rounds.
    let _ = measure_trivial().await;
    let _ = measure_keys().await;
    let (mut trivial, mut keys) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            trivial.push(measure_trivial().await);
            keys.push(measure_keys().await);
        } else {
            keys.push(measure_keys().await);
            trivial.push(measure_trivial().await);
        }
    }
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'key'")
        .fetch_one(&db.pool)
        .await
        .unwrap();

    println!(
        "load: wrk, {conns} connections, {secs} s x {rounds} alternating rounds each, {n_urls} key URLs in rotation ({sessions} sessions x {} keys), binary {}",
        key_ids.len(),
        bin.display()
    );
    println!(
        "{:<28} {:>10} {:>9} {:>9} {:>7}   (medians)",
        "route", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let summary = |runs: &[Result_]| {
        (
            median(runs.iter().map(|r| r.rps).collect()),
            median(runs.iter().map(|r| r.p50_ms).collect()),
            median(runs.iter().map(|r| r.p99_ms).collect()),
            runs.iter().map(|r| r.errors).sum::<u64>(),
        )
    };
    let (trivial, keys) = (summary(&trivial), summary(&keys));
    for (name, (rps, p50, p99, errors)) in [
        ("GET /healthz (trivial)", trivial),
        ("GET /keys/{sid}/{kid} grants", keys),
    ] {
        println!("{name:<28} {rps:>10.0} {p50:>9.2} {p99:>9.2} {errors:>7}");
    }
    println!(
        "ratio keys/trivial: {:.2} (target >= 0.5); p99 keys/trivial: {:.1} (target <= 3)",
        keys.0 / trivial.0,
        keys.2 / trivial.2
    );
    record(
        "keys",
        "key request, every check on",
        "req/s",
        keys.0,
        ("same server's trivial route", trivial.0),
        Better::Higher,
        Some(0.5),
    );
    record(
        "keys",
        "key request p99 latency",
        "ms",
        keys.2,
        ("trivial route p99", trivial.2),
        Better::Lower,
        Some(3.0),
    );
    println!("audit rows written for key requests: {audited}");
}
