//! Local-disk objects: the embedded default.
//!
//! Layout: `<root>/objects/<key>` for objects and `<root>/tmp/` for writes in
//! progress. A put streams into a temp file, fsyncs it, renames it over the
//! key and fsyncs the directory, so a reader sees the old object or the new
//! one, never half of one; on any error the temp file is removed.
//!
//! Resumable uploads append to `<root>/partial/<key>` (kept across restarts,
//! unlike `tmp/`) and are renamed into place at the last byte.

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};

use futures::StreamExt;
use rand::RngCore;
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::{
    private_dir, Appended, ByteRange, ByteStream, Checkpoints, ObjectBody, ObjectKey, ObjectMeta,
    ObjectPrefix, ObjectStore, StorageError, UploadProgress,
};

/// Bytes per read when streaming an object out. Each read is a trip to
/// tokio's blocking pool, so a 1 MiB segment goes out in 4 of them, not 16.
const READ_CHUNK: usize = 256 * 1024;
/// Body chunks waiting for the disk during an append (each at most what
/// hyper read at once, a few hundred KiB).
const APPEND_QUEUE: usize = 2;

#[derive(Debug, Clone)]
pub struct FsStore {
    objects: PathBuf,
    tmp: PathBuf,
    partial: PathBuf,
}

impl FsStore {
    pub async fn open(root: &Path) -> Result<Self, StorageError> {
        let objects = root.join("objects");
        let tmp = root.join("tmp");
        let partial = root.join("partial");
        private_dir(&objects).await?;
        private_dir(&partial).await?;
        private_dir(&tmp).await?;
        // Temp files left by a crash are garbage: nothing can resume them.
        if let Ok(mut entries) = fs::read_dir(&tmp).await {
            while let Ok(Some(entry)) = entries.next_entry().await {
                let _ = fs::remove_file(entry.path()).await;
            }
        }
        Ok(Self {
            objects,
            tmp,
            partial,
        })
    }

    fn partial_of(&self, key: &ObjectKey) -> PathBuf {
        self.partial.join(key.as_str())
    }

    fn path_of(&self, key: &ObjectKey) -> PathBuf {
        self.objects.join(key.as_str())
    }

    async fn write_temp(&self, tmp_path: &Path, mut body: ByteStream) -> Result<u64, StorageError> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp_path)
            .await?;
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(StorageError::Body)?;
            file.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        file.flush().await?;
        file.sync_all().await?;
        Ok(written)
    }
}

async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

fn not_found_as<T>(err: io::Error, value: T) -> Result<T, StorageError> {
    if err.kind() == io::ErrorKind::NotFound {
        Ok(value)
    } else {
        Err(err.into())
    }
}

/// Writes an append's chunks from `start = durable.offset` on, syncing and
/// reporting `durable` at each checkpoint; returns the bytes written.
fn write_chunks(
    file: &mut std::fs::File,
    rx: &mut tokio::sync::mpsc::Receiver<bytes::Bytes>,
    checkpoints: &Checkpoints,
    durable: &mut UploadProgress,
) -> io::Result<u64> {
    use std::io::Write;
    let start = durable.offset;
    let mut written = 0u64;
    let mut unsynced = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        file.write_all(&chunk)?;
        written += chunk.len() as u64;
        unsynced += chunk.len() as u64;
        if checkpoints.spacing().is_some_and(|every| unsynced >= every) {
            file.sync_data()?;
            unsynced = 0;
            durable.offset = start + written;
            checkpoints.report(durable);
        }
    }
    file.sync_data()?;
    Ok(written)
}

#[async_trait::async_trait]
impl ObjectStore for FsStore {
    async fn put(&self, key: &ObjectKey, body: ByteStream) -> Result<u64, StorageError> {
        let target = self.path_of(key);
        let parent = target
            .parent()
            .expect("object paths have a parent")
            .to_path_buf();
        private_dir(&parent).await?;
        let tmp_path = self
            .tmp
            .join(format!("{:016x}", rand::thread_rng().next_u64()));
        match self.write_temp(&tmp_path, body).await {
            Ok(written) => {
                if let Err(err) = fs::rename(&tmp_path, &target).await {
                    let _ = fs::remove_file(&tmp_path).await;
                    return Err(err.into());
                }
                sync_dir(&parent).await?;
                Ok(written)
            }
            Err(err) => {
                let _ = fs::remove_file(&tmp_path).await;
                Err(err)
            }
        }
    }

    async fn get(
        &self,
        key: &ObjectKey,
        range: Option<ByteRange>,
    ) -> Result<ObjectBody, StorageError> {
        let mut file = match fs::File::open(self.path_of(key)).await {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound)
            }
            Err(err) => return Err(err.into()),
        };
        let meta = file.metadata().await?;
        if !meta.is_file() {
            return Err(StorageError::NotFound);
        }
        let size = meta.len();
        let (start, end) = match range {
            None if size == 0 => (0, 0),
            None => (0, size - 1),
            Some(r) => r.clamp(size).ok_or(StorageError::InvalidRange)?,
        };
        let len = if size == 0 { 0 } else { end - start + 1 };
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await?;
        }
        let stream = ReaderStream::with_capacity(file.take(len), READ_CHUNK);
        Ok(ObjectBody {
            size,
            range: (start, end),
            stream: Box::pin(stream),
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError> {
        match fs::metadata(self.path_of(key)).await {
            Ok(meta) if meta.is_file() => Ok(Some(ObjectMeta {
                key: key.as_str().to_string(),
                size: meta.len(),
            })),
            Ok(_) => Ok(None),
            Err(err) => not_found_as(err, None),
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(err) => not_found_as(err, ()),
        }
    }

    async fn list(&self, prefix: &ObjectPrefix) -> Result<Vec<ObjectMeta>, StorageError> {
        // Walk from the deepest directory the prefix names fully.
        let p = prefix.as_str();
        let base_rel = match p.rfind('/') {
            Some(i) => &p[..i],
            None => "",
        };
        let mut out = Vec::new();
        let mut stack = vec![self.objects.join(base_rel)];
        while let Some(dir) = stack.pop() {
            let mut entries = match fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(err) => {
                    not_found_as(err, ())?;
                    continue;
                }
            };
            while let Some(entry) = entries.next_entry().await? {
                let path = entry.path();
                let file_type = entry.file_type().await?;
                let rel = path
                    .strip_prefix(&self.objects)
                    .map_err(|e| StorageError::Backend(e.to_string()))?
                    .to_string_lossy()
                    .into_owned();
                if file_type.is_dir() {
                    let as_dir = format!("{rel}/");
                    if as_dir.starts_with(p) || p.starts_with(&as_dir) {
                        stack.push(path);
                    }
                } else if file_type.is_file() && rel.starts_with(p) {
                    let size = entry.metadata().await?.len();
                    out.push(ObjectMeta { key: rel, size });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete_prefix(&self, prefix: &ObjectPrefix) -> Result<u64, StorageError> {
        let objects = self.list(prefix).await?;
        let mut dirs = std::collections::BTreeSet::new();
        for meta in &objects {
            let key = ObjectKey::new(meta.key.clone())?;
            self.delete(&key).await?;
            let mut dir = self.path_of(&key);
            while dir.pop() && dir != self.objects {
                dirs.insert(dir.clone());
            }
        }
        // Deepest first; a directory still holding other objects stays.
        for dir in dirs.iter().rev() {
            let _ = fs::remove_dir(dir).await;
        }
        Ok(objects.len() as u64)
    }

    async fn begin_upload(
        &self,
        key: &ObjectKey,
        length: u64,
    ) -> Result<UploadProgress, StorageError> {
        let path = self.partial_of(key);
        if let Some(parent) = path.parent() {
            private_dir(parent).await?;
        }
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .await?;
        Ok(UploadProgress::new(length))
    }

    async fn append_checkpointed(
        &self,
        key: &ObjectKey,
        at: &UploadProgress,
        mut body: ByteStream,
        checkpoints: Checkpoints,
    ) -> Result<Appended, StorageError> {
        let path = self.partial_of(key);
        let file = match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound)
            }
            Err(err) => return Err(err.into()),
        };
        // One blocking writer per append, fed through a small bounded queue:
        // a trip to the blocking pool per chunk would cost more than the write.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(APPEND_QUEUE);
        let start = at.offset;
        let at_start = at.clone();
        let writer = tokio::task::spawn_blocking(move || -> Result<u64, StorageError> {
            use std::io::Seek;
            let mut file = file;
            let on_disk = file.metadata()?.len();
            if on_disk < start {
                return Err(StorageError::Backend(format!(
                    "partial upload holds {on_disk} bytes, {start} recorded"
                )));
            }
            // Bytes past the recorded offset were never acknowledged: drop them.
            if on_disk > start {
                file.set_len(start)?;
            }
            file.seek(SeekFrom::Start(start))?;
            let mut durable = at_start;
            match write_chunks(&mut file, &mut rx, &checkpoints, &mut durable) {
                Ok(written) => Ok(written),
                // A failed write (a full disk) keeps what was checkpointed and
                // drops the tail nobody acknowledged, which would otherwise keep
                // the disk full for everyone (the database included).
                Err(err) => {
                    let _ = file.set_len(durable.offset);
                    let _ = file.sync_data();
                    Err(err.into())
                }
            }
        });
        let mut body_error = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => {
                    if tx.send(chunk).await.is_err() {
                        break; // the writer failed; its error is below
                    }
                }
                Err(err) => {
                    body_error = Some(err);
                    break;
                }
            }
        }
        drop(tx);
        let written = writer
            .await
            .map_err(|e| StorageError::Backend(format!("append writer: {e}")))??;
        let mut progress = at.clone();
        progress.offset += written;
        Ok(Appended {
            progress,
            body_error,
        })
    }

    async fn commit_append(&self, _key: &ObjectKey, _old: &UploadProgress, _new: &UploadProgress) {}

    async fn rollback_append(&self, key: &ObjectKey, old: &UploadProgress, _new: &UploadProgress) {
        let path = self.partial_of(key);
        let truncate = async {
            let file = fs::OpenOptions::new().write(true).open(&path).await?;
            file.set_len(old.offset).await?;
            file.sync_data().await
        };
        if let Err(err) = truncate.await {
            tracing::warn!(key = key.as_str(), error = %err, "rolling back an append failed");
        }
    }

    async fn finish_upload(
        &self,
        key: &ObjectKey,
        at: &UploadProgress,
    ) -> Result<(), StorageError> {
        let path = self.partial_of(key);
        let size = match fs::metadata(&path).await {
            Ok(meta) => meta.len(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound)
            }
            Err(err) => return Err(err.into()),
        };
        if size != at.length {
            return Err(StorageError::Backend(format!(
                "partial upload holds {size} bytes, expected {}",
                at.length
            )));
        }
        let target = self.path_of(key);
        let parent = target.parent().expect("object paths have a parent");
        private_dir(parent).await?;
        fs::rename(&path, &target).await?;
        sync_dir(parent).await?;
        Ok(())
    }

    async fn abort_upload(
        &self,
        key: &ObjectKey,
        _at: &UploadProgress,
    ) -> Result<(), StorageError> {
        match fs::remove_file(self.partial_of(key)).await {
            Ok(()) => Ok(()),
            Err(err) => not_found_as(err, ()),
        }
    }

    fn local_path(&self, key: &ObjectKey) -> Option<PathBuf> {
        Some(self.path_of(key))
    }

    async fn check(&self) -> Result<(), StorageError> {
        let meta = fs::metadata(&self.objects).await?;
        if meta.is_dir() {
            Ok(())
        } else {
            Err(StorageError::Unavailable(format!(
                "{} is not a directory",
                self.objects.display()
            )))
        }
    }

    fn describe(&self) -> String {
        format!(
            "file://{}",
            self.objects.parent().unwrap_or(&self.objects).display()
        )
    }
}
