//! Where a webhook may be sent: an absolute `https` URL whose host resolves
//! only to public addresses. Checked after DNS resolution, at registration
//! and before every attempt, and the attempt connects to exactly the
//! addresses checked here, so a name that rebinds to 127.0.0.1 between the
//! check and the connection reaches nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

use super::WebhookError;

/// Longest URL accepted.
const URL_MAX: usize = 2048;

/// A checked destination: the URL, its host name and the addresses it
/// resolved to (every one public, unless private ones are allowed).
#[derive(Debug, Clone)]
pub struct Target {
    pub url: Url,
    /// The name to pin to `addrs` (a domain), or `None` for an IP literal.
    pub domain: Option<String>,
    pub addrs: Vec<SocketAddr>,
}

fn refused(why: impl Into<String>) -> WebhookError {
    WebhookError::UrlRefused(why.into())
}

/// The URL's form: absolute, `https` (or `http` with `allow_private`), a
/// host, no credentials.
pub fn parse(raw: &str, allow_private: bool) -> Result<Url, WebhookError> {
    if raw.len() > URL_MAX {
        return Err(refused(format!("the URL is longer than {URL_MAX} bytes")));
    }
    let url = Url::parse(raw).map_err(|_| refused("the URL is not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(refused("webhook URLs must use https")),
    }
    if url.host().is_none() {
        return Err(refused("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("the URL must not carry a user name or password"));
    }
    Ok(url)
}

/// Parses `raw` and resolves its host; refused if any address is not public.
pub async fn check(raw: &str, allow_private: bool) -> Result<Target, WebhookError> {
    let url = parse(raw, allow_private)?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| refused("the URL has no port"))?;
    let host = url
        .host_str()
        .ok_or_else(|| refused("the URL has no host"))?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let (domain, addrs) = match literal.parse::<IpAddr>() {
        Ok(ip) => (None, vec![SocketAddr::new(ip, port)]),
        Err(_) => {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
                .await
                .map_err(|_| refused(format!("the host `{host}` does not resolve")))?
                .collect();
            (Some(host.to_string()), addrs)
        }
    };
    if addrs.is_empty() {
        return Err(refused("the host resolves to no address"));
    }
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(refused(format!(
                "the host resolves to {}, a private, loopback or link-local address",
                bad.ip()
            )));
        }
    }
    Ok(Target { url, domain, addrs })
}

/// Whether `ip` is on the public internet (not loopback, private, link-local,
/// unspecified, multicast, CGNAT, reserved, or one of those inside IPv6).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    // Addresses that carry an IPv4 address: judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if seg[..6] == [0, 0, 0, 0, 0, 0] {
        // :: and ::1, and the deprecated IPv4-compatible form.
        return !ip.is_unspecified() && !ip.is_loopback() && is_public_v4(embedded(seg[6], seg[7]));
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded(seg[6], seg[7])); // NAT64
    }
    if seg[0] == 0x2002 {
        return is_public_v4(embedded(seg[1], seg[2])); // 6to4
    }
    let refused = ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (seg[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (seg[0] == 0x2001 && seg[1] == 0x0db8); // documentation
    !refused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_loopback_and_link_local_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(!is_public(ip(bad)), "{bad} must be refused");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(good)), "{good} is public");
        }
    }

    #[test]
    fn only_absolute_https_urls_without_credentials() {
        assert!(parse("https://hooks.example.com/in", false).is_ok());
        for bad in [
            "http://hooks.example.com/in",
            "ftp://hooks.example.com/in",
            "/relative/path",
            "hooks.example.com/in",
            "https://user:pw@hooks.example.com/in",
            "",
        ] {
            assert!(
                matches!(parse(bad, false), Err(WebhookError::UrlRefused(_))),
                "{bad}"
            );
        }
        assert!(parse("http://127.0.0.1:9/in", true).is_ok());
        assert!(parse("ftp://127.0.0.1/in", true).is_err());
    }

    #[tokio::test]
    async fn names_are_judged_by_what_they_resolve_to() {
        for bad in [
            "https://127.0.0.1/in",
            "https://localhost/in",
            "https://[::1]:8443/in",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.0.1]/in",
        ] {
            assert!(
                matches!(check(bad, false).await, Err(WebhookError::UrlRefused(_))),
                "{bad}"
            );
        }
        let allowed = check("http://localhost:9/in", true).await.unwrap();
        assert_eq!(allowed.domain.as_deref(), Some("localhost"));
        assert!(allowed.addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
