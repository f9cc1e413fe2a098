//! Which session ids and paths a signature may cover. Kept apart from the MAC so the
//! rules that stop a path escaping its signed prefix are in one short place.

const MAX_ID_LEN: usize = 128;

/// Is `id` a valid session id: 1..=128 of `[A-Za-z0-9_.-]`, not `.`/`..`.
/// Restricting the alphabet keeps ids unambiguous inside paths and cookie names.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// Reject paths that could escape a prefix after normalisation by some layer.
pub(super) fn path_is_clean(path: &str) -> bool {
    if !path.starts_with('/') || path.contains('\\') || path.contains('%') || path.contains('\0') {
        return false;
    }
    // Every segment except a possible trailing empty one must be non-empty and not a dot segment.
    let inner = &path[1..];
    let segs: Vec<&str> = inner.split('/').collect();
    segs.iter()
        .enumerate()
        .all(|(i, s)| (i + 1 == segs.len() || !s.is_empty()) && *s != "." && *s != "..")
}
