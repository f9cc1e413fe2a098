//! What `/proc` says about a process: its children, arguments, status
//! fields, environment and open files, for the tests whose subject is a
//! child process (its sandbox, its death with its parent).

use std::path::{Path, PathBuf};

/// Direct children of `pid` (all its threads).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// The arguments of `pid`.
pub fn cmdline(pid: u32) -> Vec<String> {
    nul_separated(&format!("/proc/{pid}/cmdline"))
}

/// A `/proc` file of NUL-separated strings (`cmdline`, `environ`); empty if gone.
fn nul_separated(path: &str) -> Vec<String> {
    std::fs::read(path)
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// A field of `/proc/PID/status` (`Seccomp`, `NoNewPrivs`, `State`…).
pub fn status_field(pid: u32, name: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

/// Gone, or a zombie nobody has reaped yet: it runs no more code.
pub fn is_dead(pid: u32) -> bool {
    status_field(pid, "State").is_none_or(|s| s.starts_with('Z'))
}

/// The names of `pid`'s environment variables.
pub fn env_names(pid: u32) -> Vec<String> {
    environ(pid)
        .iter()
        .map(|a| a.split('=').next().unwrap_or_default().to_string())
        .collect()
}

/// What `pid`'s file descriptors point at.
pub fn open_files(pid: u32) -> Vec<PathBuf> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .collect()
}

/// Every regular file under `root`.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(path),
                Ok(t) if t.is_file() => found.push(path),
                _ => {}
            }
        }
    }
    found
}

/// The `transcode-job` child of `server` for `video`, once it has sandboxed
/// itself (seccomp is in force), with its `--source` (the job's copy of the upload).
pub fn sandboxed_job(server: u32, video: &str) -> Option<(u32, PathBuf)> {
    children(server).into_iter().find_map(|pid| {
        let args = cmdline(pid);
        let is_job = args.iter().any(|a| a == "transcode-job") && args.iter().any(|a| a == video);
        let sandboxed = status_field(pid, "Seccomp").as_deref() == Some("2");
        let source = args
            .iter()
            .position(|a| a == "--source")
            .and_then(|i| args.get(i + 1))?;
        (is_job && sandboxed).then(|| (pid, PathBuf::from(source)))
    })
}

/// The whole environment of `pid`, `NAME=value` entries.
pub fn environ(pid: u32) -> Vec<String> {
    nul_separated(&format!("/proc/{pid}/environ"))
}
