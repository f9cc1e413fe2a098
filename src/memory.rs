//! How the process returns memory it no longer needs.
//!
//! glibc's malloc raises its mmap threshold each time a large mapped block
//! is freed, so after the first few argon2 hashes (19 MiB each) or segment
//! buffers, blocks of that size come from per-thread arenas and stay there
//! once freed: a server that served a crowd of logins kept 2.7 GiB resident
//! for good. Pinning the threshold (which also turns off its adjustment)
//! keeps every block of 1 MiB or more mapped on its own and unmapped when
//! freed; smaller blocks, the hot path's, are untouched.

/// Blocks at least this large are mapped on their own and returned on free.
const MMAP_THRESHOLD: i32 = 1024 * 1024;

/// Applies the policy; call once, before threads start. Elsewhere than glibc
/// (musl, which returns large blocks anyway) it does nothing.
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // other thread exists, so nothing allocates concurrently.
    unsafe {
        if libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1 {
            eprintln!("warning: could not set malloc's mmap threshold; freed memory may be kept");
        }
    }
}
