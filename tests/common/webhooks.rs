//! Webhook tests' two independent parts: a receiver (a small axum server in
//! the test) that records every request, and a verifier that is not ours:
//! the `standardwebhooks` package from PyPI, installed by pip into
//! `target/test-venv` on first use.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// The path's last segment (which endpoint).
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Requests to answer 500 per endpoint before answering 200.
    failures: HashMap<String, u32>,
    /// Endpoints that answer `307 Temporary Redirect` to another path.
    redirects: HashMap<String, String>,
}

/// A local HTTP receiver: `POST /{endpoint}` answers 200, or 500 while the
/// endpoint has failures left, or a redirect.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/{endpoint}", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, inner }
    }

    pub fn url(&self, endpoint: &str) -> String {
        format!("http://{}/{endpoint}", self.addr)
    }

    /// The next `n` requests to `endpoint` get a 500.
    pub fn fail(&self, endpoint: &str, n: u32) {
        self.inner
            .lock()
            .unwrap()
            .failures
            .insert(endpoint.to_string(), n);
    }

    /// `endpoint` answers every request with a 307 to `/{to}`.
    pub fn redirect(&self, endpoint: &str, to: &str) {
        self.inner
            .lock()
            .unwrap()
            .redirects
            .insert(endpoint.to_string(), format!("/{to}"));
    }

    pub fn received(&self, endpoint: &str) -> Vec<Received> {
        let inner = self.inner.lock().unwrap();
        inner
            .received
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .cloned()
            .collect()
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut inner = inner.lock().unwrap();
    inner.received.push(Received {
        endpoint: endpoint.clone(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect(),
        body: body.to_vec(),
    });
    if let Some(to) = inner.redirects.get(&endpoint) {
        return axum::response::Redirect::temporary(to).into_response();
    }
    match inner.failures.get_mut(&endpoint) {
        Some(n) if *n > 0 => {
            *n -= 1;
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        _ => StatusCode::OK.into_response(),
    }
}

const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret, headers = sys.argv[1], json.loads(sys.argv[2])
body = sys.stdin.buffer.read()
print(json.dumps(Webhook(secret).verify(body, headers)))
"#;

/// The venv's python with `standardwebhooks`, made once per test run.
fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
            let venv = target.join("test-venv");
            let python = venv.join("bin/python");
            let ready = venv.join(".standardwebhooks-ready");
            if !ready.exists() {
                let _ = std::fs::remove_dir_all(&venv);
                let run = |cmd: &mut Command| {
                    let status = cmd.status().unwrap();
                    assert!(status.success(), "{cmd:?} failed: {status}");
                };
                run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
                run(Command::new(&python).args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "standardwebhooks==1.1.0",
                ]));
                std::fs::write(&ready, b"").unwrap();
            }
            python
        })
        .clone()
}

/// Verifies one received request with `standardwebhooks`; its parsed payload,
/// or the library's refusal.
pub fn verify(secret: &str, received: &Received) -> Result<Value, String> {
    let headers: HashMap<&str, &str> = received
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut child = Command::new(python())
        .args(["-c", VERIFY, secret])
        .arg(serde_json::to_string(&headers).unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&received.body)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap())
}

/// [`verify`] off the async runtime (the receiver keeps answering meanwhile);
/// panics if the library refuses the request.
pub async fn verified(secret: &str, received: &Received) -> Value {
    let (secret, received) = (secret.to_string(), received.clone());
    tokio::task::spawn_blocking(move || verify(&secret, &received))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("standardwebhooks refused the delivery: {e}"))
}

/// Installs the verifier now, so the first [`verify`] is quick.
pub async fn install_verifier() {
    tokio::task::spawn_blocking(python).await.unwrap();
}
