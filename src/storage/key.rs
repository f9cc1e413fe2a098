//! Validated object keys: the only way to name an object.

use super::StorageError;

const MAX_KEY_LEN: usize = 1024;

/// A relative, `/`-separated key with no empty, `.` or `..` segment, no
/// backslash, NUL or control character, at most 1 KiB. Safe to join onto a
/// directory or an S3 prefix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

/// A key prefix: empty (everything), or segments ending in `/`, or a partial
/// last segment (S3 semantics: `videos/ab` matches `videos/abc/...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPrefix(String);

fn check_segments(s: &str, allow_trailing_slash: bool) -> Result<(), StorageError> {
    let bad = |why: &str| Err(StorageError::InvalidKey(why.to_string()));
    if s.len() > MAX_KEY_LEN {
        return bad("longer than 1024 bytes");
    }
    if s.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    if s.contains('\\') {
        return bad("backslashes are not allowed");
    }
    if s.chars().any(|c| c == '\0' || c.is_control()) {
        return bad("NUL and control characters are not allowed");
    }
    let body = if allow_trailing_slash {
        s.strip_suffix('/').unwrap_or(s)
    } else {
        s
    };
    if body.is_empty() {
        return if allow_trailing_slash {
            Ok(())
        } else {
            bad("empty key")
        };
    }
    for segment in body.split('/') {
        match segment {
            "" => return bad("empty path segment"),
            "." | ".." => return bad("`.` and `..` segments are not allowed"),
            _ => {}
        }
    }
    Ok(())
}

impl ObjectKey {
    pub fn new(key: impl Into<String>) -> Result<Self, StorageError> {
        let key = key.into();
        if key.ends_with('/') {
            return Err(StorageError::InvalidKey("a key cannot end with `/`".into()));
        }
        check_segments(&key, false)?;
        Ok(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ObjectPrefix {
    pub fn new(prefix: impl Into<String>) -> Result<Self, StorageError> {
        let prefix = prefix.into();
        check_segments(&prefix, true)?;
        Ok(Self(prefix))
    }

    /// Everything in the store.
    pub fn all() -> Self {
        Self(String::new())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for k in [
            "a",
            "videos/abc/720p/seg_00001.ts",
            "x.y/z-1_2",
            "uploads/ünïcode",
        ] {
            assert!(ObjectKey::new(k).is_ok(), "{k}");
        }
    }

    #[test]
    fn rejects_hostile_keys() {
        for k in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            "a\nb",
            ".",
            "..",
        ] {
            assert!(ObjectKey::new(k).is_err(), "{k:?}");
        }
        assert!(ObjectKey::new("a".repeat(1025)).is_err());
    }

    #[test]
    fn prefixes_may_be_empty_or_end_in_slash() {
        assert!(ObjectPrefix::new("").is_ok());
        assert!(ObjectPrefix::new("videos/").is_ok());
        assert!(ObjectPrefix::new("videos/ab").is_ok());
        assert!(ObjectPrefix::new("../").is_err());
        assert!(ObjectPrefix::new("/abs/").is_err());
        assert!(ObjectPrefix::new("a//").is_err());
    }
}
