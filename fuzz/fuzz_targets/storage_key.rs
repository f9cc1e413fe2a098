//! Object keys and prefixes (`src/storage/key.rs`), the only way to name an
//! object: whatever is accepted can be joined onto a directory or an S3
//! prefix without leaving it.
//!
//! Asserts: no panic; an accepted key or prefix has no `.`/`..` or empty
//! segment, no leading `/`, no NUL, backslash or control character, is at most
//! 1 KiB and round-trips through `as_str`; a key joined onto a directory stays
//! strictly inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealcast::storage::{ObjectKey, ObjectPrefix};
use std::path::{Component, Path};

fn check(s: &str, prefix: bool) {
    assert!(s.len() <= 1024, "{s:?}");
    assert!(!s.starts_with('/'), "{s:?}");
    assert!(!s.contains('\\') && !s.contains('\0'), "{s:?}");
    assert!(!s.chars().any(char::is_control), "{s:?}");
    let body = if prefix {
        s.strip_suffix('/').unwrap_or(s)
    } else {
        s
    };
    if prefix && body.is_empty() {
        return;
    }
    for segment in body.split('/') {
        assert!(
            !segment.is_empty() && segment != "." && segment != "..",
            "{s:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(key) = ObjectKey::new(text.as_ref()) {
        assert_eq!(key.as_str(), text);
        assert!(!key.as_str().ends_with('/') && !key.as_str().is_empty());
        check(key.as_str(), false);
        let root = Path::new("/srv/objects");
        let joined = root.join(key.as_str());
        assert!(joined.starts_with(root) && joined != root, "{joined:?}");
        assert!(joined
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_))));
    }
    if let Ok(prefix) = ObjectPrefix::new(text.as_ref()) {
        assert_eq!(prefix.as_str(), text);
        check(prefix.as_str(), true);
    }
});
