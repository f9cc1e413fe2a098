//! How the process returns memory it no longer needs.
//!
//! glibc's malloc raises its mmap threshold each time a large mapped block
//! is freed, so after the first few argon2 hashes (19 MiB each) or segment
//! buffers, blocks of that size come from per-thread arenas and stay there
//! once freed: a server that served a crowd of logins kept 2.7 GiB resident
//! for good. Pinning the threshold (which also turns off its adjustment)
//! keeps every block of 1 MiB or more mapped on its own and unmapped when
//! freed; smaller blocks, the hot path's, are untouched.
//!
//! Pinning it also pins the trim threshold at its 128 KiB default, so the
//! hot path's own buffers (a session's copy of a long playlist is ~400 KB)
//! were handed back to the kernel on every free and faulted in again, page
//! by page, on the next request: a fifth of the playlist route's time. The
//! trim threshold is set above those buffers, so an arena keeps at most
//! that much free at its top.

/// Blocks at least this large are mapped on their own and returned on free.
const MMAP_THRESHOLD: i32 = 1024 * 1024;
/// Free memory an arena keeps at its top rather than return (blocks under
/// [`MMAP_THRESHOLD`] are all it holds, so this bounds what is kept).
const TRIM_THRESHOLD: i32 = 2 * 1024 * 1024;

/// Applies the policy; call once, before threads start. Elsewhere than glibc
/// (musl, which returns large blocks anyway) it does nothing.
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread exists, so nothing allocates concurrently.
    unsafe {
        if libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1
            || libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1
        {
            eprintln!("warning: could not set malloc's mmap threshold; freed memory may be kept");
        }
    }
}
