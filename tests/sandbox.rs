//! The media children's sandbox, on this kernel, through the real function
//! the children call (`sealcast sandbox-check` applies it to itself with a
//! job's policy, then tries what a compromised decoder would). Each test runs
//! the same tries without the sandbox first, so it shows what the sandbox
//! takes away.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A data dir as the default setup lays it out, with a job's work copy.
struct DataDir {
    _dir: tempfile::TempDir,
    root: PathBuf,
    source: PathBuf,
}

fn data_dir() -> DataDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    for sub in ["secrets", "objects/uploads/v1", "work/job-v1-x"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    let write = |path: &str, bytes: &[u8]| {
        let path = root.join(path);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write("secrets/master.key", b"the custody private key");
    write("secrets/url-signing.key", b"the URL signing secret");
    write("sealcast.db", b"SQLite format 3\0");
    write("objects/uploads/v1/source", b"another upload");
    write("work/job-v1-x/source", b"this job's upload");
    let source = root.join("work/job-v1-x/source");
    DataDir {
        _dir: dir,
        root,
        source,
    }
}

/// Runs `sandbox-check` and returns (what is applied, result per target).
fn check(allow: &Path, args: &[String], sandboxed: bool) -> (Value, Vec<(String, String)>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealcast"));
    cmd.arg("sandbox-check")
        .arg("--allow")
        .arg(allow)
        .args(args);
    if !sandboxed {
        cmd.arg("--no-sandbox");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tries = report["tries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                format!(
                    "{} {}",
                    t["op"].as_str().unwrap(),
                    t["target"].as_str().unwrap()
                ),
                t["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (report["applied"].clone(), tries)
}

fn flags(flag: &str, targets: &[PathBuf]) -> Vec<String> {
    targets
        .iter()
        .flat_map(|t| [flag.to_string(), t.display().to_string()])
        .collect()
}

#[test]
fn every_layer_is_in_force_on_this_kernel() {
    let data = data_dir();
    let (applied, _) = check(&data.source, &[], true);
    assert_eq!(applied["landlock"], "full", "{applied}");
    assert!(applied["landlock_abi"].as_i64().unwrap() >= 6, "{applied}");
    assert_eq!(applied["seccomp"], true, "{applied}");
    assert_eq!(applied["no_new_privs"], true, "{applied}");
}

#[test]
fn the_sandboxed_child_reads_its_input_and_nothing_else() {
    let data = data_dir();
    let forbidden = vec![
        data.root.join("secrets/master.key"),
        data.root.join("secrets/url-signing.key"),
        data.root.join("sealcast.db"),
        data.root.join("objects/uploads/v1/source"),
        PathBuf::from("/etc/passwd"),
    ];
    let args = flags("--read", &forbidden);
    let (_, control) = check(&data.source, &args, false);
    assert!(
        control.iter().all(|(_, r)| r == "ok"),
        "readable without the sandbox: {control:?}"
    );
    let (_, tries) = check(&data.source, &args, true);
    assert_eq!(
        tries[0],
        (format!("read {}", data.source.display()), "ok".into())
    );
    for (target, result) in &tries[1..] {
        assert!(result.contains("Permission denied"), "{target}: {result}");
    }
}

#[test]
fn the_sandboxed_child_writes_no_file_anywhere() {
    let data = data_dir();
    let targets = vec![
        data.root.join("work/job-v1-x/planted"),
        data.root.join("secrets/master.key"),
        data.root.join("objects/uploads/v1/source"),
    ];
    let args = flags("--create", &targets);
    let (_, tries) = check(&data.source, &args, true);
    for (target, result) in &tries[1..] {
        assert!(result.contains("Permission denied"), "{target}: {result}");
    }
    assert_eq!(
        std::fs::read(data.root.join("secrets/master.key")).unwrap(),
        b"the custody private key"
    );
    assert!(!data.root.join("work/job-v1-x/planted").exists());
    let (_, control) = check(&data.source, &args, false);
    assert!(control.iter().all(|(_, r)| r == "ok"), "{control:?}");
}

#[test]
fn the_sandboxed_child_has_no_network_and_starts_no_program() {
    let data = data_dir();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let unix_path = data.root.join("db.sock");
    let _unix = std::os::unix::net::UnixListener::bind(&unix_path).unwrap();
    let mut args = vec![
        "--connect".to_string(),
        tcp.local_addr().unwrap().to_string(),
        "--connect-unix".to_string(),
        unix_path.display().to_string(),
    ];
    args.extend(flags("--exec", &[PathBuf::from("/bin/true")]));
    let (_, control) = check(&data.source, &args, false);
    assert!(control.iter().all(|(_, r)| r == "ok"), "{control:?}");
    let (_, tries) = check(&data.source, &args, true);
    for (target, result) in &tries[1..] {
        assert!(
            result.contains("Operation not permitted"),
            "{target}: {result}"
        );
    }
    assert_eq!(tries.len(), 4);
}
