//! What a connection may cost the real server: half-sent headers and silent
//! keep-alive connections are closed, and connections over the cap are refused
//! while those under it keep being served (slowloris).

mod common;

use std::time::Duration;

use common::{eventually, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than any limit the tests configure: only a server that never
/// closes makes a test wait this long.
const GENEROUS: Duration = Duration::from_secs(30);

/// A server with these `SEALCAST_*` settings.
fn server(settings: &[(&str, &str)]) -> TestServer {
    let mut builder = TestServer::builder();
    for (name, value) in settings {
        builder = builder.env(*name, *value);
    }
    builder.start()
}

async fn connect(server: &TestServer) -> TcpStream {
    let addr = server.base_url.trim_start_matches("http://");
    TcpStream::connect(addr).await.unwrap()
}

/// Everything the server sends until it closes the connection, or `None` if it
/// is still open after [`GENEROUS`].
async fn until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    match tokio::time::timeout(GENEROUS, stream.read_to_end(&mut received)).await {
        Ok(_) => Some(received),
        Err(_) => None,
    }
}

/// One keep-alive response: its head and `content-length` bytes of body.
async fn response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&received).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                return text;
            }
        }
        let n = tokio::time::timeout(GENEROUS, stream.read(&mut chunk))
            .await
            .expect("a response")
            .unwrap();
        assert!(n > 0, "closed mid-response: {text}");
        received.extend_from_slice(&chunk[..n]);
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: sealcast\r\n\r\n";
const HEALTHZ_CLOSE: &[u8] =
    b"GET /healthz HTTP/1.1\r\nHost: sealcast\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn half_sent_headers_are_cut_off() {
    let server = server(&[
        ("SEALCAST_HEADER_READ_TIMEOUT_SECS", "1"),
        ("SEALCAST_IDLE_TIMEOUT_SECS", "3600"),
    ]);
    let mut slow = connect(&server).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: sealcast\r\n")
        .await
        .unwrap();
    let sent = until_closed(&mut slow).await;
    assert!(sent.is_some(), "a half-sent request holds its connection");
    // Others are served all along.
    let mut other = connect(&server).await;
    other.write_all(HEALTHZ).await.unwrap();
    assert!(response(&mut other).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let server = server(&[
        ("SEALCAST_HEADER_READ_TIMEOUT_SECS", "3600"),
        ("SEALCAST_IDLE_TIMEOUT_SECS", "1"),
    ]);
    let mut idle = connect(&server).await;
    idle.write_all(HEALTHZ).await.unwrap();
    let sent = until_closed(&mut idle)
        .await
        .expect("an idle keep-alive connection stays open");
    let text = String::from_utf8_lossy(&sent);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // A connection that never says anything goes the same way.
    let mut silent = connect(&server).await;
    assert_eq!(until_closed(&mut silent).await, Some(Vec::new()));
}

#[tokio::test]
async fn connections_over_the_cap_are_refused_while_the_rest_are_served() {
    let server = server(&[
        ("SEALCAST_MAX_CONNECTIONS", "2"),
        ("SEALCAST_HEADER_READ_TIMEOUT_SECS", "3600"),
        ("SEALCAST_IDLE_TIMEOUT_SECS", "3600"),
    ]);
    // Two keep-alive connections, each served once: they hold the two slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut conn = connect(&server).await;
        conn.write_all(HEALTHZ).await.unwrap();
        assert!(response(&mut conn).await.starts_with("HTTP/1.1 200"));
        held.push(conn);
    }
    // The third is closed without an answer.
    let mut over = connect(&server).await;
    let _ = over.write_all(HEALTHZ_CLOSE).await;
    let sent = until_closed(&mut over).await.expect("closed");
    assert!(
        sent.is_empty(),
        "served over the cap: {}",
        String::from_utf8_lossy(&sent)
    );
    // Those under the cap keep being served.
    held[1].write_all(HEALTHZ).await.unwrap();
    assert!(response(&mut held[1]).await.starts_with("HTTP/1.1 200"));
    // A slot freed is a slot for the next client.
    drop(held.remove(0));
    eventually(GENEROUS, "a freed slot serves a new connection", || async {
        let mut conn = connect(&server).await;
        let _ = conn.write_all(HEALTHZ_CLOSE).await;
        let sent = until_closed(&mut conn).await?;
        String::from_utf8_lossy(&sent)
            .starts_with("HTTP/1.1 200")
            .then_some(())
    })
    .await;
}
