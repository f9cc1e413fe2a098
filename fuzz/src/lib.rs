//! Helpers shared by the fuzz targets (see README.md). Only the demux targets
//! need any: a private scratch file per process and no network.

use std::path::{Path, PathBuf};

/// Cut this process off the network (a new, empty network namespace), so an
/// input that makes a demuxer open a URL fails at once instead of reaching
/// out or hanging. Best effort: without the privilege the fuzzer still runs.
#[allow(unsafe_code)]
pub fn without_network() {
    // SAFETY: unshare(2) with CLONE_NEWNET only changes this process's
    // network namespace; it touches no memory.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    if rc != 0 {
        eprintln!(
            "fuzz: cannot unshare the network namespace ({}); demuxers may reach the network",
            std::io::Error::last_os_error()
        );
    }
}

/// A scratch directory that lives as long as the process.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Prefers /dev/shm (RAM) so writing each input costs no disk I/O.
    pub fn new() -> Self {
        let base = Path::new("/dev/shm");
        let dir = if base.is_dir() {
            tempfile::Builder::new()
                .prefix("sealcast-fuzz-")
                .tempdir_in(base)
        } else {
            tempfile::Builder::new().prefix("sealcast-fuzz-").tempdir()
        }
        .expect("scratch dir");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `data` to `name` in the scratch dir, replacing what was there.
    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, data).expect("write fuzz input");
        path
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}
