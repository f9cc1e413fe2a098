//! Login limits per client IP behind proxies: `X-Forwarded-For` / `Forwarded`
//! count only from a peer in `--trusted-proxies`, and then only the rightmost
//! hop that is not a trusted proxy; anyone else is limited by their socket peer.

mod common;

use common::TestServer;
use serde_json::json;

/// A server allowing few login attempts per IP and many per account.
fn server(trusted: &str) -> TestServer {
    TestServer::builder()
        .flag("--login-attempts-per-ip", 3)
        .env("SEALCAST_LOGIN_ATTEMPTS_PER_EMAIL", "1000")
        .env("SEALCAST_TRUSTED_PROXIES", trusted)
        .start()
}

/// A failed login for a fresh email with `headers`: its status.
async fn attempt(server: &TestServer, n: usize, headers: &[(&str, String)]) -> u16 {
    let mut req = reqwest::Client::new()
        .post(server.url("/api/v1/auth/login"))
        .json(
            &json!({"email": format!("nobody{n}@example.test"), "password": "guess-guess-guess"}),
        );
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    req.send().await.unwrap().status().as_u16()
}

/// Attempts (each from a new spoofed address) until the IP limit answers 429.
async fn exhaust(server: &TestServer, headers: impl Fn(usize) -> Vec<(&'static str, String)>) {
    for n in 0..10 {
        match attempt(server, n, &headers(n)).await {
            429 => return,
            401 => continue,
            other => panic!("login answered {other}"),
        }
    }
    panic!("never rate limited: the forwarded address escapes the limit");
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit() {
    // Our loopback peer is not in the trusted list.
    let server = server("10.0.0.0/8");
    exhaust(&server, |n| {
        vec![
            ("x-forwarded-for", format!("198.51.100.{n}")),
            ("forwarded", format!("for=198.51.100.{n}")),
        ]
    })
    .await;
    let fresh = vec![("x-forwarded-for", "203.0.113.250".to_string())];
    assert_eq!(attempt(&server, 99, &fresh).await, 429);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_limited() {
    let server = server("127.0.0.0/8");
    // The client is the rightmost untrusted hop: what it prepends is ignored.
    exhaust(&server, |n| {
        vec![("x-forwarded-for", format!("6.6.6.{n}, 203.0.113.1"))]
    })
    .await;
    let same = vec![("x-forwarded-for", "203.0.113.1".to_string())];
    assert_eq!(attempt(&server, 50, &same).await, 429);
    // Another client behind the same proxy has its own budget.
    let other = vec![("x-forwarded-for", "203.0.113.2".to_string())];
    assert_eq!(attempt(&server, 51, &other).await, 401);
    let forwarded = vec![("forwarded", "for=\"[2001:db8::7]:4711\"".to_string())];
    assert_eq!(attempt(&server, 52, &forwarded).await, 401);
}
