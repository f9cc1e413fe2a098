//! A caption track's language and label: a BCP 47 tag (RFC 5646, checked
//! and case-normalized by `oxilangtag`) and the name a player's menu shows.
//!
//! The tag becomes a path segment (`subs/{lang}/…`) and a quoted playlist
//! attribute, the label a quoted attribute: both are held to what those
//! places can carry.

/// Longest tag accepted; real ones are far shorter (`zh-Hant-TW`).
const MAX_TAG: usize = 35;
/// Longest label, in characters.
const MAX_LABEL: usize = 64;

/// A language tag in its normalized case (`en`, `pt-BR`, `zh-Hant`), or why not.
pub fn normalize_tag(tag: &str) -> Result<String, String> {
    let refuse = || format!("`{tag}` is not a BCP 47 language tag such as `en` or `pt-BR`");
    if tag.is_empty() || tag.len() > MAX_TAG {
        return Err(refuse());
    }
    let parsed = oxilangtag::LanguageTag::parse_and_normalize(tag).map_err(|_| refuse())?;
    let normalized = parsed.into_inner();
    // Well-formed tags are ASCII letters, digits and `-`; say so explicitly,
    // since the tag is spliced into paths and storage keys.
    if !normalized
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(refuse());
    }
    Ok(normalized)
}

/// The label as stored: trimmed, 1..=64 characters, no control characters
/// and no `"` (it is written inside a quoted playlist attribute).
pub fn check_label(label: &str) -> Result<String, String> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > MAX_LABEL {
        return Err(format!("the label must be 1 to {MAX_LABEL} characters"));
    }
    if label.chars().any(|c| c.is_control() || c == '"') {
        return Err("the label may not hold quotes or control characters".into());
    }
    Ok(label.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(normalize_tag("en").unwrap(), "en");
        assert_eq!(normalize_tag("pt-br").unwrap(), "pt-BR");
        assert_eq!(normalize_tag("ZH-hant-tw").unwrap(), "zh-Hant-TW");
        for bad in [
            "",
            "english!",
            "en_US",
            "../en",
            "en-",
            "a".repeat(40).as_str(),
            "e n",
        ] {
            assert!(normalize_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(check_label("  English ").unwrap(), "English");
        assert_eq!(
            check_label("Português (Brasil)").unwrap(),
            "Português (Brasil)"
        );
        for bad in ["", "   ", "a\"b", "line\nbreak", "x".repeat(65).as_str()] {
            assert!(check_label(bad).is_err(), "{bad:?}");
        }
    }
}
