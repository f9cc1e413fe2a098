//! `/keys/` on an edge that is not a key server, and a session's keys under
//! its path token (`/hls/{session}/{token}/{key_id}.key`, the URIs its
//! playlists name): each request is forwarded to
//! one of `--keyserver-url`, so a deployment needs no path-routing load
//! balancer and the edge still never holds the master private key.
//!
//! With several key servers, a session's requests go to the one its id
//! hashes to (rendezvous hashing: the same on every edge, and only the
//! sessions of a key server that is down move), so the per-session request
//! limit and the pacing of a session are counted in one place. A key server
//! that refuses the connection is skipped for the next in that session's order.
//!
//! The forward is transparent for what the key route decides on (path and
//! signed query, `Authorization`, the session's key cookie, the request id)
//! and names the client the edge resolved in `X-Forwarded-For`, replacing
//! whatever the client sent: the key server trusts that header only from the
//! edges (its `--trusted-proxies`). The answer (a 16-byte key or an error
//! envelope) streams back with the key server's status and cache headers.
//! When the key server cannot be reached the edge answers 503 `unavailable`
//! with `Retry-After`, never a key.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use reqwest::Url;
use sealcast_keyserver::ClientIp;

use crate::error::{ApiError, ErrorCode};

use super::REQUEST_ID_HEADER;

/// Headers of the client's request the key route reads.
const FORWARDED_REQUEST_HEADERS: [HeaderName; 3] =
    [header::AUTHORIZATION, header::COOKIE, header::USER_AGENT];

/// Headers of the key server's answer the client needs.
const FORWARDED_RESPONSE_HEADERS: [HeaderName; 5] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CACHE_CONTROL,
    header::PRAGMA,
    header::RETRY_AFTER,
];

/// How long the edge waits for the key server before answering 503.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// Seconds a client is told to wait when the key server is unreachable.
const RETRY_AFTER_SECS: u64 = 1;

struct KeyProxy {
    upstreams: Vec<Url>,
    client: reqwest::Client,
}

impl KeyProxy {
    /// The key servers in the order this session tries them.
    fn order(&self, session_id: &str) -> Vec<&Url> {
        let mut ranked: Vec<(u64, &Url)> = self
            .upstreams
            .iter()
            .map(|u| (rendezvous_weight(session_id, u.as_str()), u))
            .collect();
        ranked.sort_by_key(|r| std::cmp::Reverse(r.0));
        ranked.into_iter().map(|(_, u)| u).collect()
    }
}

/// Highest-random-weight hashing: the upstream with the largest weight for a
/// session serves it. SHA-256 so every edge agrees, whatever its build.
fn rendezvous_weight(session_id: &str, upstream: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(session_id.as_bytes())
        .chain_update([0])
        .chain_update(upstream.as_bytes())
        .finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// `GET /keys/{*rest}` forwarded to one of `upstreams`.
pub fn routes(upstreams: Vec<Url>) -> Router {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(UPSTREAM_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client with rustls builds");
    let names: Vec<&str> = upstreams.iter().map(Url::as_str).collect();
    tracing::info!(upstreams = ?names, "key requests forwarded to the key servers");
    Router::new()
        .route("/keys/{*rest}", get(forward))
        .route(sealcast_keyserver::HLS_KEY_ROUTE, get(forward))
        .with_state(Arc::new(KeyProxy { upstreams, client }))
}

async fn forward(State(proxy): State<Arc<KeyProxy>>, request: Request) -> Response {
    let mut headers = HeaderMap::new();
    copy_headers(request.headers(), &mut headers, &FORWARDED_REQUEST_HEADERS);
    if let Some(id) = request.headers().get(&REQUEST_ID_HEADER) {
        headers.insert(REQUEST_ID_HEADER.clone(), id.clone());
    }
    if let Some(client) = client_ip(&request) {
        if let Ok(value) = HeaderValue::from_str(&client.to_string()) {
            headers.insert(HeaderName::from_static("x-forwarded-for"), value);
        }
    }
    let path = request.uri().path();
    // `/keys/{session}/…` or `/hls/{session}/…`: the session is the second part.
    let session_id = path.split('/').nth(2).unwrap_or("");
    for upstream in proxy.order(session_id) {
        let mut url = upstream.clone();
        url.set_path(path);
        url.set_query(request.uri().query());
        match proxy.client.get(url).headers(headers.clone()).send().await {
            Ok(answer) => return relay(answer),
            // Not connected: nothing was asked, so the next one may answer.
            Err(e) if e.is_connect() => {
                metrics::counter!("sealcast_key_forward_failures_total").increment(1);
                tracing::warn!(error = %e.without_url(), "key server unreachable; trying the next");
            }
            // Asked but not answered: not repeated elsewhere (it may have counted).
            Err(e) => {
                metrics::counter!("sealcast_key_forward_failures_total").increment(1);
                tracing::warn!(error = %e.without_url(), "key server did not answer");
                break;
            }
        }
    }
    ApiError::new(ErrorCode::Unavailable, "key server temporarily unavailable")
        .with_retry_after(RETRY_AFTER_SECS)
        .into_response()
}

/// The key server's answer, streamed back with its status and cache headers.
fn relay(answer: reqwest::Response) -> Response {
    let mut response = Response::builder().status(answer.status().as_u16());
    if let Some(out) = response.headers_mut() {
        copy_headers(answer.headers(), out, &FORWARDED_RESPONSE_HEADERS);
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|e| ApiError::internal(e).into_response())
}

/// The client as this edge resolved it (behind its trusted proxies), else the peer.
fn client_ip(request: &Request) -> Option<std::net::IpAddr> {
    let ext = request.extensions();
    ext.get::<ClientIp>().map(|c| c.0).or_else(|| {
        ext.get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_canonical())
    })
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, names: &[HeaderName]) {
    for name in names {
        for value in from.get_all(name) {
            to.append(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(n: usize) -> KeyProxy {
        KeyProxy {
            upstreams: (0..n)
                .map(|i| Url::parse(&format!("http://ks-{i}:8080")).unwrap())
                .collect(),
            client: reqwest::Client::new(),
        }
    }

    #[test]
    fn a_session_keeps_its_key_server_and_only_a_lost_servers_sessions_move() {
        let three = proxy(3);
        let sessions: Vec<String> = (0..300).map(|i| format!("{i:032x}")).collect();
        let mut per_server = [0usize; 3];
        for s in &sessions {
            let first = three.order(s)[0].clone();
            assert_eq!(three.order(s)[0], &first, "stable");
            let i = three.upstreams.iter().position(|u| *u == first).unwrap();
            per_server[i] += 1;
        }
        assert!(per_server.iter().all(|&n| n > 60), "spread: {per_server:?}");
        // Without ks-2, the sessions of ks-0 and ks-1 stay where they were.
        let two = proxy(2);
        for s in &sessions {
            let before = three.order(s)[0];
            if before.as_str() != "http://ks-2:8080/" {
                assert_eq!(two.order(s)[0], before);
            }
        }
    }
}
