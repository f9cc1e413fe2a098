//! Reading `exp`, `sig` and `kv` out of a request's query string, strictly: a
//! repeated parameter is refused so no two layers can read different copies;
//! or out of one path segment, `{exp}.{kv}.{sig}` (a *path token*), which
//! relative URIs in a playlist inherit so the playlist needs no signing.

/// The longest key version accepted (`kv=` digits): more is never issued.
const MAX_KV_DIGITS: usize = 9;

/// The `exp`/`sig` pair (and key version) parsed from a query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedQuery {
    /// Expiry, unix seconds.
    pub exp: u64,
    /// Signature text (URL-safe base64, no padding).
    pub sig: String,
    /// Which URL-signing key version signed (`kv=`); 0, the secret file's own
    /// key, when absent, so URLs from before versioning keep their meaning.
    pub kv: u32,
}

impl SignedQuery {
    /// Parse `exp`, `sig` and the optional `kv` out of a raw query string. Returns
    /// `None` when `exp` or `sig` is missing, any of them is malformed or any is
    /// **repeated** (parameter pollution: different layers may pick different
    /// copies). Other parameters are ignored.
    pub fn parse(query: &str) -> Option<Self> {
        let mut exp: Option<u64> = None;
        let mut sig: Option<String> = None;
        let mut kv: Option<u32> = None;
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
                "kv" => {
                    if kv.is_some()
                        || v.is_empty()
                        || v.len() > MAX_KV_DIGITS
                        || !v.bytes().all(|b| b.is_ascii_digit())
                    {
                        return None;
                    }
                    kv = Some(v.parse().ok()?);
                }
                _ => {}
            }
        }
        Some(Self {
            exp: exp?,
            sig: sig?,
            kv: kv.unwrap_or(0),
        })
    }

    /// Parse a path token `{exp}.{kv}.{sig}`: digits, digits (at most nine),
    /// then the 43 characters of a URL-safe base64 MAC; anything else is `None`.
    pub fn from_path_token(token: &str) -> Option<Self> {
        let mut parts = token.split('.');
        let (exp, kv, sig) = (parts.next()?, parts.next()?, parts.next()?);
        let digits = |v: &str, max: usize| {
            !v.is_empty() && v.len() <= max && v.bytes().all(|b| b.is_ascii_digit())
        };
        let base64 = sig.len() == 43
            && sig
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if parts.next().is_some() || !digits(exp, 20) || !digits(kv, MAX_KV_DIGITS) || !base64 {
            return None;
        }
        Some(Self {
            exp: exp.parse().ok()?,
            sig: sig.to_owned(),
            kv: kv.parse().ok()?,
        })
    }

    /// This signature as a path token (see [`from_path_token`](Self::from_path_token)).
    pub fn to_path_token(&self) -> String {
        format!("{}.{}.{}", self.exp, self.kv, self.sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signed_url::UrlSigner;

    const NOW: u64 = 1_700_000_000;

    #[test]
    fn path_tokens_round_trip_and_refuse_anything_else() {
        let s = UrlSigner::new(&[7u8; 32]).unwrap();
        let token = s.path_token("/hls/s/", "s", NOW + 100).unwrap();
        let parsed = SignedQuery::from_path_token(&token).unwrap();
        assert_eq!((parsed.exp, parsed.kv), (NOW + 100, 0));
        assert_eq!(parsed.to_path_token(), token);
        assert_eq!(
            s.verify_query("/hls/s/240p/a.ts", "s", &parsed, NOW),
            Ok(())
        );
        let sig = &parsed.sig;
        for bad in [
            String::new(),
            format!("{}.0", NOW),
            format!("{}.0.{sig}.x", NOW),
            format!("-1.0.{sig}"),
            format!("{}..{sig}", NOW),
            format!("{}.1234567890.{sig}", NOW),
            format!("{}.0.{}", NOW, &sig[1..]),
            format!("{}.0.{}=", NOW, &sig[1..]),
            format!("{}.0.{}+", NOW, &sig[1..]),
            format!("{}.0.{sig}", "9".repeat(21)),
        ] {
            assert!(SignedQuery::from_path_token(&bad).is_none(), "{bad}");
        }
    }

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
        assert_eq!(p.kv, 0, "no kv: version 0");
        assert_eq!(SignedQuery::parse("exp=5&sig=a&kv=12").unwrap().kv, 12);
        for bad in [
            "kv=",
            "kv=1&kv=1",
            "kv=-1",
            "kv=+1",
            "kv=1234567890",
            "kv=x",
        ] {
            assert!(
                SignedQuery::parse(&format!("exp=5&sig=a&{bad}")).is_none(),
                "{bad}"
            );
        }
    }
}
