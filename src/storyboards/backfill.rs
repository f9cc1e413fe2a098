//! Storyboards for videos transcoded before storyboards existed
//! (`sealcast admin backfill-storyboards`).
//!
//! Per ready video without a whole storyboard: its smallest rendition is
//! decrypted into a private work dir (this process opens the content keys,
//! so it runs where the custody master key is), a sandboxed
//! `storyboard-job` child decodes it, and what the child sends is checked
//! and stored. Idempotent: a video whose VTT exists is left alone, and a
//! run that fails leaves none of its sheets behind.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sealcast_keyserver::MasterKeyPair;
use tokio::io::{AsyncBufRead, BufReader};
use tokio::process::Child;

use super::rendition::decrypt_smallest;
use crate::config::LogFormat;
use crate::db::Db;
use crate::jobs::confinement::Confinement;
use crate::jobs::protocol::{self, Frame};
use crate::jobs::workdir::WorkDir;
use crate::storage::{bytes_stream, ObjectKey, ObjectPrefix, ObjectStore};
use crate::videos::{layout, model, VideoStatus};

/// What a backfill needs; built by the admin command from the configuration.
pub struct Backfill {
    pub storage: Arc<dyn ObjectStore>,
    pub db: Db,
    /// Opens the content keys of the renditions it decrypts.
    pub master: MasterKeyPair,
    /// `<data dir>/work`, where transcode jobs keep their work dirs too.
    pub work_root: std::path::PathBuf,
    /// The child's address-space limit, as for transcode jobs.
    pub memory_limit: u64,
    /// A child still running after this is killed.
    pub timeout: Duration,
    pub log_format: LogFormat,
}

/// What happened to one video.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// A storyboard was made from this rendition.
    Made { rendition: String },
    /// It had one already; nothing was done.
    AlreadyHad,
    /// It could not be made; nothing of it was kept.
    Failed(String),
}

impl Backfill {
    /// The videos a run works on: `only`, or every ready video. An `only`
    /// that names no ready video is an error worth stopping for.
    pub async fn targets(&self, only: Option<&str>) -> Result<Vec<String>, String> {
        let Some(id) = only else {
            return model::ready_ids(&self.db).await.map_err(|e| e.to_string());
        };
        match model::find(&self.db, id).await.map_err(|e| e.to_string())? {
            None => Err(format!("no video {id}")),
            Some(v) if v.status != VideoStatus::Ready => {
                Err(format!("video {id} is {}, not ready", v.status))
            }
            Some(_) => Ok(vec![id.to_string()]),
        }
    }

    /// Makes `video_id`'s storyboard unless it has a whole one.
    pub async fn one(&self, video_id: &str) -> Outcome {
        match super::exists(self.storage.as_ref(), video_id).await {
            Ok(true) => return Outcome::AlreadyHad,
            Ok(false) => {}
            Err(err) => return Outcome::Failed(format!("cannot read storage: {err}")),
        }
        let result = self.make(video_id).await;
        if result.is_err() {
            let _ = self.discard(video_id).await;
        }
        match result {
            Ok(rendition) => Outcome::Made { rendition },
            Err(reason) => Outcome::Failed(reason),
        }
    }

    async fn make(&self, video_id: &str) -> Result<String, String> {
        let video = model::find(&self.db, video_id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the video is gone")?;
        // Sheets of an earlier run that broke off must not linger.
        self.discard(video_id).await?;
        let root = self.work_root.clone();
        let name = format!("storyboard-{video_id}-{}", crate::db::new_id());
        let work = tokio::task::spawn_blocking(move || WorkDir::create(&root, &name))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot create a work dir: {e}"))?;
        let source = work.path().join("rendition.ts");
        let result = async {
            let rendition = decrypt_smallest(
                self.storage.as_ref(),
                &self.db,
                &self.master,
                &video,
                &source,
            )
            .await?;
            let duration = video.duration_seconds().unwrap_or(0.0);
            let child = self
                .spawn(&source, duration)
                .map_err(|e| format!("cannot start the storyboard process: {e}"))?;
            self.supervise(video_id, child).await?;
            Ok::<_, String>(rendition)
        }
        .await;
        let _ = tokio::task::spawn_blocking(move || drop(work)).await;
        result
    }

    fn spawn(&self, source: &Path, duration: f64) -> std::io::Result<Child> {
        let confinement =
            Confinement::new(source, self.memory_limit, self.timeout, self.log_format);
        let mut cmd = confinement.command("storyboard-job")?;
        cmd.args(["--duration-seconds", &duration.to_string()]);
        cmd.spawn()
    }

    /// Stores what the child sends until its last word, within the timeout.
    async fn supervise(&self, video_id: &str, mut child: Child) -> Result<(), String> {
        let stdout = child.stdout.take().ok_or("no pipe from the child")?;
        let mut reader = BufReader::new(stdout);
        let pumped =
            match tokio::time::timeout(self.timeout, self.pump(video_id, &mut reader)).await {
                Ok(result) => result,
                Err(_) => Err(format!(
                    "the storyboard took longer than {} s and was stopped",
                    self.timeout.as_secs()
                )),
            };
        if pumped.is_err() {
            let _ = child.kill().await;
            return pumped;
        }
        match tokio::time::timeout(Duration::from_secs(10), child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("the storyboard process exited with {status}")),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => {
                let _ = child.kill().await;
                Err("the storyboard process did not exit".into())
            }
        }
    }

    async fn pump<R: AsyncBufRead + Unpin>(
        &self,
        video_id: &str,
        reader: &mut R,
    ) -> Result<(), String> {
        loop {
            match protocol::read(reader).await.map_err(|e| e.to_string())? {
                Some(Frame::Put { path, bytes }) => self.store(video_id, &path, bytes).await?,
                Some(Frame::Done(_)) => return Ok(()),
                Some(Frame::Failed(failed)) => {
                    return Err(format!("{}: {}", failed.kind, failed.message))
                }
                Some(Frame::Progress(_)) => {}
                Some(Frame::Key { .. }) => return Err("the child sent a content key".into()),
                None => return Err("the storyboard process stopped without a word".into()),
            }
        }
    }

    /// Only storyboard outputs, under this video's storyboard prefix.
    async fn store(&self, video_id: &str, path: &str, bytes: Vec<u8>) -> Result<(), String> {
        let name = path
            .strip_prefix("storyboard/")
            .filter(|n| is_storyboard_name(n))
            .ok_or_else(|| format!("the child sent an output it may not: {path:?}"))?;
        let key = ObjectKey::new(format!("{}{name}", layout::storyboard_prefix(video_id)))
            .map_err(|e| e.to_string())?;
        self.storage
            .put(&key, bytes_stream(Bytes::from(bytes)))
            .await
            .map_err(|e| format!("cannot store {name}: {e}"))?;
        Ok(())
    }

    async fn discard(&self, video_id: &str) -> Result<(), String> {
        let prefix =
            ObjectPrefix::new(layout::storyboard_prefix(video_id)).map_err(|e| e.to_string())?;
        self.storage
            .delete_prefix(&prefix)
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot remove an old storyboard: {e}"))
    }
}

/// `storyboard.vtt` or `sprite_NNN.jpg`.
fn is_storyboard_name(name: &str) -> bool {
    name == "storyboard.vtt" || super::is_sheet_name(name)
}

#[cfg(test)]
mod tests {
    use super::is_storyboard_name;

    #[test]
    fn a_child_may_store_only_sheets_and_the_vtt() {
        for ok in ["storyboard.vtt", "sprite_000.jpg", "sprite_1234.jpg"] {
            assert!(is_storyboard_name(ok), "{ok}");
        }
        for bad in [
            "master.m3u8",
            "../poster.jpg",
            "sprite_.jpg",
            "sprite_0/1.jpg",
            "x.vtt",
        ] {
            assert!(!is_storyboard_name(bad), "{bad}");
        }
    }
}
