//! Private working directories under `<data dir>/work/`, where a job keeps
//! its copy of the raw upload and the probe its sparse head-and-tail copy.
//!
//! A copy of an upload must not outlive the work that needed it. A
//! [`WorkDir`] is removed when it is dropped (success, failure, lease loss,
//! shutdown); for the ends no destructor sees (SIGKILL, a crash, power
//! loss) its owner holds an exclusive `flock` on the directory for as long
//! as it lives, which the kernel releases when the process dies, so
//! [`sweep`] can tell a live directory from a stale one without trusting
//! pids (reused, and always 1 in a container). Workers sweep at start and
//! then periodically.

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

/// A private (0700) directory, locked while this value lives, removed on drop.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    /// The open directory holding the lock.
    _lock: File,
}

impl WorkDir {
    /// Creates `root/name` (and `root`), locked. `name` should be unique.
    pub fn create(root: &Path, name: &str) -> io::Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)?;
        let path = root.join(name);
        loop {
            std::fs::DirBuilder::new().mode(0o700).create(&path)?;
            let dir = File::open(&path)?;
            // A sweeper may have taken the lock between mkdir and here; it
            // removes the directory before letting go, so wait, then check.
            flock(&dir, FlockOperation::LockExclusive)?;
            if dir.metadata()?.nlink() > 0 {
                return Ok(Self { path, _lock: dir });
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.path) {
            if err.kind() != io::ErrorKind::NotFound {
                tracing::warn!(error = %err, "removing a work directory failed; the sweeper will retry");
            }
        }
    }
}

/// Removes whatever under `root` no live process holds: directories whose
/// lock can be taken, and loose files (left by older versions). Returns how
/// many entries went.
pub fn sweep(root: &Path) -> io::Result<usize> {
    let entries = match std::fs::read_dir(root) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(err),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            let Ok(dir) = File::open(&path) else { continue };
            if flock(&dir, FlockOperation::NonBlockingLockExclusive).is_err() {
                continue; // held by a live job or probe
            }
            match std::fs::remove_dir_all(&path) {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        } else {
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
    }
    Ok(removed)
}

/// Sweeps `root` now and then every `every` until `stop`; the first sweep
/// clears what a killed predecessor left before this node takes new work.
pub fn spawn_sweeper(
    root: PathBuf,
    every: std::time::Duration,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let dir = root.clone();
            match tokio::task::spawn_blocking(move || sweep(&dir)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(removed)) => {
                    tracing::info!(removed, "removed stale work directories")
                }
                Ok(Err(err)) => tracing::warn!(error = %err, "sweeping work directories failed"),
                Err(err) => tracing::warn!(error = %err, "the work directory sweeper panicked"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_work_dir_is_gone() {
        let root = tempfile::tempdir().unwrap();
        let work = WorkDir::create(root.path(), "job-a").unwrap();
        std::fs::write(work.path().join("source"), b"raw media").unwrap();
        let path = work.path().to_path_buf();
        drop(work);
        assert!(!path.exists());
    }

    #[test]
    fn the_sweeper_removes_only_what_no_live_owner_holds() {
        let root = tempfile::tempdir().unwrap();
        let live = WorkDir::create(root.path(), "job-live").unwrap();
        std::fs::write(live.path().join("source"), b"in use").unwrap();
        // What a SIGKILLed worker leaves: a directory nobody locks, and a
        // loose temporary file of an older probe.
        let stale = root.path().join("job-dead-1234");
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("source"), b"raw media").unwrap();
        std::fs::write(root.path().join(".tmpProbe"), b"head and tail").unwrap();

        assert_eq!(sweep(root.path()).unwrap(), 2);
        assert!(!stale.exists(), "the dead owner's copy is removed");
        assert!(!root.path().join(".tmpProbe").exists());
        assert!(
            live.path().join("source").exists(),
            "a live job's copy stays"
        );
        drop(live);
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_held_by_another_process_keeps_its_dir() {
        let root = tempfile::tempdir().unwrap();
        let held = root.path().join("job-other");
        std::fs::create_dir(&held).unwrap();
        // util-linux flock(1) holds the lock while its child runs; `read`
        // waits on the pipe the test holds.
        let mut holder = std::process::Command::new("flock")
            .arg(&held)
            .args(["sh", "-c", "echo locked; read _"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        io::BufRead::read_line(
            &mut io::BufReader::new(holder.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "locked");
        assert_eq!(sweep(root.path()).unwrap(), 0);
        assert!(held.exists(), "another live process holds it");
        drop(holder.stdin.take());
        holder.wait().unwrap();
        assert_eq!(sweep(root.path()).unwrap(), 1, "its owner is gone");
        assert!(!held.exists());
    }
}
