//! `Upload-Metadata`: comma-separated `key base64(value)` pairs (tus 1.0.0).

use std::collections::BTreeMap;

use base64::Engine;

/// Largest header we parse; metadata is a few short strings.
const MAX_HEADER: usize = 4096;

/// Parses the header; `Err` names what is wrong. Keys must be unique
/// non-empty ASCII without spaces or commas; values must be UTF-8.
pub fn parse(header: &str) -> Result<BTreeMap<String, String>, String> {
    if header.len() > MAX_HEADER {
        return Err("Upload-Metadata is longer than 4 KiB".into());
    }
    let mut out = BTreeMap::new();
    for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut parts = pair.split(' ').filter(|p| !p.is_empty());
        let key = parts.next().unwrap_or_default();
        let value = parts.next().unwrap_or_default();
        if parts.next().is_some() || key.is_empty() || !key.is_ascii() {
            return Err(format!("malformed Upload-Metadata pair `{pair}`"));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(|_| format!("Upload-Metadata value of `{key}` is not base64"))?;
        let text = String::from_utf8(raw)
            .map_err(|_| format!("Upload-Metadata value of `{key}` is not UTF-8"))?;
        if out.insert(key.to_string(), text).is_some() {
            return Err(format!("Upload-Metadata repeats `{key}`"));
        }
    }
    Ok(out)
}

/// Writes the header back (for HEAD responses).
pub fn encode(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| {
            if v.is_empty() {
                k.clone()
            } else {
                format!(
                    "{k} {}",
                    base64::engine::general_purpose::STANDARD.encode(v)
                )
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let m = parse("filename bGVjdHVyZS5tcDQ=,course_id YWJj, is_draft").unwrap();
        assert_eq!(m["filename"], "lecture.mp4");
        assert_eq!(m["course_id"], "abc");
        assert_eq!(m["is_draft"], "");
        assert_eq!(parse(&encode(&m)).unwrap(), m);
        assert!(parse("a !!!").is_err());
        assert!(parse("a YQ==,a YQ==").is_err());
        assert!(parse("a YQ== YQ==").is_err());
        assert!(parse(&"x".repeat(5000)).is_err());
    }
}
