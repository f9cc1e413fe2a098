//! At rest, a node's data dir is its user's alone: the database and its WAL,
//! raw uploads, segments and secrets are never readable by anyone else.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::TestApp;

/// Every directory 0700 and every file 0600 (no group or other bits) below `dir`.
fn open_to_others(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        // The test harness's own capture of the server's output, and the
        // custody public key (public by definition, inside the 0700 dir).
        if path
            .file_name()
            .is_some_and(|n| n == "server.log" || n == "master.pub")
        {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            found.push(format!("{} {mode:o}", path.display()));
        }
        if meta.is_dir() {
            open_to_others(&path, found);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_dir_database_uploads_and_segments_are_private() {
    // The SQLite files are part of the subject.
    let app = TestApp::init().sqlite().fast_transcodes().app().await;
    let (creator, course) = app.creator_with_course().await;
    app.ready_video(&creator, &course).await;
    let data = app.data_path();

    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the data dir itself");
    let mut found = Vec::new();
    open_to_others(&data, &mut found);
    assert!(found.is_empty(), "readable by others: {found:#?}");
    let names: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with("-wal")),
        "the WAL is among what was checked: {names:?}"
    );
}
