//! Where finished outputs go.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::crypto::ContentKey;
use crate::error::SinkError;

/// Receives finished outputs from [`transcode`](crate::transcode).
///
/// Synchronous and called only from the thread that called `transcode`, so
/// implementations need no locking. A server implementation uploads each
/// segment as soon as `put` is called, so uploads overlap encoding.
///
/// Order guarantees: `content_key` for a key comes before the first segment
/// encrypted with it; segments of all rungs arrive as soon as each is
/// encrypted (rungs interleave), and between them each full storyboard sheet
/// (`storyboard/sprite_NNN.jpg`); then `poster.jpg`; then the last sheet and
/// `storyboard/storyboard.vtt` (its presence means the storyboard is
/// complete); then every
/// `<rung>/index.m3u8`; `master.m3u8` is always last, so its presence means
/// the set is complete.
///
/// **Failure contract:** when `transcode` fails after it may have called the
/// sink, it calls [`OutputSink::abort`] exactly once before returning the
/// error. The sink must then discard everything it received for this job
/// (delete partial uploads, forget keys). The caller does not need to clean up.
pub trait OutputSink {
    /// Store a new content key; return the URI to write into `#EXT-X-KEY`
    /// (relative to the rung playlist, or absolute, e.g. a key-server URL).
    fn content_key(&mut self, key: &ContentKey) -> Result<String, SinkError>;

    /// Store one finished output at `path`, e.g. `720p/seg_00003.ts`,
    /// `720p/index.m3u8`, `master.m3u8`, `poster.jpg`. Paths are relative,
    /// use `/`, and never contain `..`.
    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), SinkError>;

    /// The job failed: discard everything stored so far. Default: nothing.
    fn abort(&mut self) {}
}

/// Writes outputs under a directory: `OUTDIR/<path>` (temp file + rename, so
/// a reader never sees a half-written file) and keys as
/// `OUTDIR/keys/<key-id>.key` (16 raw bytes, mode 0600). The key URI is
/// `../keys/<key-id>.key`, relative to the rung folder, so the output plays
/// straight from disk (`ffmpeg -allowed_extensions ALL -i OUTDIR/master.m3u8`).
#[derive(Debug)]
pub struct DirSink {
    root: PathBuf,
    written: BTreeSet<PathBuf>,
}

impl DirSink {
    /// Create (if needed) `root` and write into it.
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(&root)?;
        Ok(DirSink {
            root,
            written: BTreeSet::new(),
        })
    }

    /// The output directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn target(&self, rel: &str) -> Result<PathBuf, SinkError> {
        let p = Path::new(rel);
        if rel.is_empty() || p.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(SinkError::new(format!(
                "refusing unsafe output path {rel:?}"
            )));
        }
        Ok(self.root.join(p))
    }

    fn write_atomic(
        &mut self,
        target: PathBuf,
        bytes: &[u8],
        private: bool,
    ) -> Result<(), SinkError> {
        let dir = target.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir)
            .map_err(|e| SinkError::with_source(format!("cannot create {}", dir.display()), e))?;
        let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("out");
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let res = (|| {
            let mut f = opts.open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_data()?;
            fs::rename(&tmp, &target)
        })();
        if let Err(e) = res {
            let _ = fs::remove_file(&tmp);
            return Err(SinkError::with_source(
                format!("cannot write {}", target.display()),
                e,
            ));
        }
        self.written.insert(target);
        Ok(())
    }
}

impl OutputSink for DirSink {
    fn content_key(&mut self, key: &ContentKey) -> Result<String, SinkError> {
        let name = format!("{}.key", key.id);
        let target = self.root.join("keys").join(&name);
        self.write_atomic(target, &key.key, true)?;
        Ok(format!("../keys/{name}"))
    }

    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<(), SinkError> {
        let target = self.target(path)?;
        self.write_atomic(target, bytes, false)
    }

    /// Deletes every file this sink wrote, then any directories left empty.
    fn abort(&mut self) {
        let mut dirs = BTreeSet::new();
        for p in std::mem::take(&mut self.written) {
            let _ = fs::remove_file(&p);
            let mut d = p.parent();
            while let Some(dir) = d {
                if dir == self.root || !dir.starts_with(&self.root) {
                    break;
                }
                dirs.insert(dir.to_path_buf());
                d = dir.parent();
            }
        }
        // Deepest first; remove_dir only succeeds on empty directories.
        for d in dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
}
