//! What others on the machine could read: the data dir is 0700 and every
//! file in it 0600, whatever made it (database, WAL, secrets, objects).

use std::os::unix::fs::PermissionsExt;

use super::cases::World;

/// One case (every file of the data dir); `Err` names the first one others may open.
pub fn check(w: &World) -> Result<usize, String> {
    let root = w.app.data_path();
    let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
    match mode(&root) {
        Ok(0o700) => {}
        other => return Err(format!("data dir mode {other:?}")),
    }
    let mut checked = 0;
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let m = mode(&path).map_err(|e| e.to_string())?;
            if path.is_dir() {
                stack.push(path);
            } else if m & 0o077 != 0 && path.extension().is_none_or(|e| e != "pub") {
                // Public keys (`*.pub`) are meant to be read; nothing else is.
                return Err(format!("{} has mode {m:o}", path.display()));
            } else {
                checked += 1;
            }
        }
    }
    (checked > 3)
        .then_some(1)
        .ok_or(format!("only {checked} files"))
}
