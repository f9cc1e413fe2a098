//! Who the client is, behind trusted proxies: only when the socket peer is in
//! `--trusted-proxies` do `Forwarded` / `X-Forwarded-For` count, and then the
//! client is the rightmost hop that is not itself a trusted proxy (hops further
//! left are whatever the client chose to send). Everyone else is their socket peer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;
use forwarded_header_value::ForwardedHeaderValue;
use ipnet::IpNet;
use sealcast_keyserver::ClientIp;

/// The configured proxies, shared by every request.
pub type TrustedProxies = Arc<[IpNet]>;

/// Sets the [`ClientIp`] extension that login limits, audits and the key route read.
pub async fn resolve(
    State(trusted): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    if !trusted.is_empty() {
        if let Some(peer) = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
        {
            let client = client_ip(peer, request.headers(), &trusted);
            request.extensions_mut().insert(ClientIp(client));
        }
    }
    next.run(request).await
}

/// The client's address as seen through `trusted` proxies.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(hops) = forwarded_hops(headers) else {
        return peer;
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            // An unknown or obfuscated hop ends what can be believed.
            None => break,
            Some(ip) => {
                client = ip.to_canonical();
                if !is_trusted(&client) {
                    break;
                }
            }
        }
    }
    client
}

/// The `for` addresses of `Forwarded` (preferred) or `X-Forwarded-For`, left to
/// right; several header lines join into one list. `None` when absent or malformed.
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let joined = |name| {
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().ok())
            .collect::<Option<_>>()?;
        (!values.is_empty()).then(|| values.join(", "))
    };
    let parsed = if let Some(value) = joined(header::FORWARDED) {
        ForwardedHeaderValue::from_forwarded(&value).ok()?
    } else {
        ForwardedHeaderValue::from_x_forwarded_for(&joined(header::HeaderName::from_static(
            "x-forwarded-for",
        ))?)
        .ok()?
    };
    Some(parsed.iter().map(|s| s.forwarded_for_ip()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn only_trusted_peers_are_believed_and_only_up_to_the_first_untrusted_hop() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoof = headers(&[("x-forwarded-for", "1.2.3.4")]);
        assert_eq!(
            client_ip(ip("198.51.100.1"), &spoof, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.0.0.2"), &spoof, &trusted), ip("1.2.3.4"));
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.1.1")]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &chain, &trusted),
            ip("203.0.113.9")
        );
        let split = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(
            client_ip(ip("10.0.0.2"), &split, &trusted),
            ip("203.0.113.9")
        );
        let fwd = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8::1]:443\";proto=https",
        )]);
        assert_eq!(client_ip(ip("10.0.0.2"), &fwd, &trusted), ip("2001:db8::1"));
        let junk = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &junk, &trusted), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        // Nothing trusted: headers never count.
        assert_eq!(client_ip(ip("10.0.0.2"), &spoof, &[]), ip("10.0.0.2"));
    }
}
