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
//! built-in closed-loop client. The two routes alternate over the rounds;
//! prints the medians of requests/s, p50/p99 and the ratios, and records them
//! for bench/RESULTS.md.
//!
//!     cargo build --release --bin sealcast
//!     cargo run --release --example keys_bench -- [--seconds 10] [--connections 16] [--rounds 3]
//!
//! `SEALCAST_BIN` picks another binary.

#[path = "../common/mod.rs"]
mod common;

use std::process::Command;

use common::{arg, b64_file, login, measure, median, new_session, record, Better, Result_};
use sealcast::db::{now_ms, Db};
use sealcast_keyserver::UrlSigner;

#[tokio::main]
async fn main() {
    let secs = arg("--seconds", 10);
    let conns = arg("--connections", 16);
    let rounds = arg("--rounds", 3);
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
        ],
        &[],
    );

    // Setup, as `serve --demo` would: library calls on the server's database.
    let db = Db::connect(&format!("sqlite://{}", data.join("sealcast.db").display()))
        .await
        .unwrap();
    let seeded = common::seed(&db, data.join("secrets/master.pub")).await;
    let (video, key_id, password) = (&seeded.video, seeded.key_id, seeded.password);
    let http = reqwest::Client::new();
    let token = login(&http, &base, "learner@bench.test", password).await;
    let session = new_session(&http, &base, &token, video).await;
    let session = session.as_str();
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
    let measure = |url: String| measure(url, &token, secs, conns, use_wrk);
    // Warm up both, then alternate which goes first over the rounds.
    let _ = measure(trivial_url.clone()).await;
    let _ = measure(key_url.clone()).await;
    let (mut trivial, mut keys) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            trivial.push(measure(trivial_url.clone()).await);
            keys.push(measure(key_url.clone()).await);
        } else {
            keys.push(measure(key_url.clone()).await);
            trivial.push(measure(trivial_url.clone()).await);
        }
    }
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'key'")
        .fetch_one(&db.pool)
        .await
        .unwrap();

    println!(
        "load: {tool}, {conns} connections, {secs} s x {rounds} alternating rounds each, binary {}",
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
        ("GET /keys/{sid}/{kid} grant", keys),
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
