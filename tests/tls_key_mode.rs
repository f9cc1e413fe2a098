//! The TLS private key is a secret like the others: a key file readable by
//! group or others stops the start with status 2 and one line naming `tls_key`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::server::wait_with_timeout;
use common::{sealcast_command, TestServer};

/// A self-signed P-256 certificate for localhost and its key (Debian's openssl).
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    (cert, key)
}

#[tokio::test]
async fn a_tls_key_readable_by_others_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(tmp.path());
    for mode in [0o644, 0o640] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let mut child = sealcast_command()
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(tmp.path().join("data"))
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_with_timeout(&mut child, Duration::from_secs(30));
        if status.is_none() {
            child.kill().unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(2),
            "mode {mode:o}: {stderr}"
        );
        let errors: Vec<_> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(
            errors[0].contains("tls_key") && errors[0].contains("readable by group or others"),
            "{stderr}"
        );
        assert!(!stderr.contains("PRIVATE KEY"), "the key is never printed");
    }
    // The same key, private to its owner, serves HTTPS.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = TestServer::builder()
        .flag("--tls-cert", cert.display())
        .flag("--tls-key", key.display())
        .start();
    assert!(
        server.base_url.starts_with("https://"),
        "{}",
        server.base_url
    );
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let resp = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}
