//! Reading `exp` and `sig` out of a request's query string, strictly: a repeated
//! parameter is refused so no two layers can read different copies.

/// The `exp`/`sig` pair parsed from a query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedQuery {
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Signature text (URL-safe base64, no padding).
    pub sig: String,
}

impl SignedQuery {
    /// Parse `exp` and `sig` out of a raw query string. Returns `None` when either is
    /// missing, malformed or **repeated** (parameter pollution: different layers may
    /// pick different copies). Other parameters are ignored.
    pub fn parse(query: &str) -> Option<Self> {
        let mut exp: Option<u64> = None;
        let mut sig: Option<String> = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "exp" => {
                    if exp.is_some() || v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    exp = Some(v.parse().ok()?);
                }
                "sig" => {
                    if sig.is_some() {
                        return None;
                    }
                    sig = Some(v.to_owned());
                }
                _ => {}
            }
        }
        Some(Self {
            exp: exp?,
            sig: sig?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signed_url::UrlSigner;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn query_helpers() {
        let s = UrlSigner::new(&[7u8; 32]).unwrap();
        let exp = NOW + 100;
        let q = s.query("/keys/s/", "s", exp).unwrap();
        let parsed = SignedQuery::parse(&q).unwrap();
        assert_eq!(parsed.exp, exp);
        assert_eq!(
            s.verify("/keys/s/k", "s", parsed.exp, &parsed.sig, NOW),
            Ok(())
        );
        let u = s
            .append_query("/hls/s/a.m3u8", "/hls/s/", "s", exp)
            .unwrap();
        assert!(u.starts_with("/hls/s/a.m3u8?exp="));
        let u2 = s.append_query("seg.ts?x=1", "/hls/s/", "s", exp).unwrap();
        assert!(u2.starts_with("seg.ts?x=1&exp="));
        let p = SignedQuery::parse("x=1&exp=5&sig=abc&y").unwrap();
        assert_eq!((p.exp, p.sig.as_str()), (5, "abc"));
        assert!(SignedQuery::parse("exp=5").is_none());
        assert!(SignedQuery::parse("sig=abc").is_none());
        assert!(SignedQuery::parse("exp=5&exp=6&sig=a").is_none());
        assert!(SignedQuery::parse("exp=5&sig=a&sig=b").is_none());
        assert!(SignedQuery::parse("exp=-5&sig=a").is_none());
        assert!(SignedQuery::parse("exp=+5&sig=a").is_none());
        assert!(SignedQuery::parse("exp=99999999999999999999999&sig=a").is_none());
    }
}
