//! Logins in a crowd keep the server's memory bounded: argon2id takes
//! 19 MiB per hash, so a few hundred learners logging in at a lecture's
//! start must not each get a hash of their own at once, and the memory must
//! go back once they are done (glibc keeps large freed blocks in per-thread
//! arenas unless told not to).

mod common;

use common::procfs::status_field;
use common::TestApp;

/// Resident memory of `pid` in MiB, now (`VmRSS`) or at its peak (`VmHWM`).
fn mib(pid: u32, field: &str) -> u64 {
    let kb: u64 = status_field(pid, field)
        .and_then(|v| v.split_whitespace().next().map(str::to_string))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} for {pid}"));
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_logins_keeps_memory_bounded_and_gives_it_back() {
    let app = TestApp::init().lenient_login().no_workers().app().await;
    let learner = app.user("learner").await;
    let pid = app.server().child.id();
    let before = mib(pid, "VmRSS");

    // 48 logins at once, three times over.
    for _ in 0..3 {
        let logins = (0..48).map(|_| {
            let api = app.api.clone();
            let email = learner.email.clone();
            tokio::spawn(async move { api.login(&email).await })
        });
        for login in futures::future::join_all(logins).await {
            login.unwrap();
        }
    }
    let peak = mib(pid, "VmHWM");
    let after = mib(pid, "VmRSS");
    println!("RSS before {before} MiB, peak {peak} MiB, after {after} MiB");
    // Unbounded, 48 hashes at once would need 48 × 19 MiB ≈ 900 MiB.
    assert!(peak <= before + 160, "peak {peak} MiB from {before} MiB");
    assert!(after <= before + 48, "kept {after} MiB from {before} MiB");
}
