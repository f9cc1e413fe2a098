//! A video's smallest rendition, decrypted, as one MPEG-TS file: what a
//! storyboard backfill decodes, since the original upload is gone.
//!
//! Read from the stored media playlist (the transcoder's, before any
//! session rewrite): each segment's key placeholder and IV, the content
//! keys opened with the custody master key (zeroized when dropped), each
//! segment decrypted whole and appended. TS segments of one rung concatenate
//! into one continuous stream. The file goes into the caller's private work
//! dir (mode 0600) and is gone with it.

use std::collections::HashMap;
use std::path::Path;

use m3u8_rs::Playlist;
use sealcast_keyserver::{open, KeyContext, MasterKeyPair, SealedKey};
use sealcast_transcoder::{decrypt_segment, SegmentIv};
use tokio::io::AsyncWriteExt;
use zeroize::Zeroizing;

use crate::db::Db;
use crate::playback::KEY_URI_SCHEME;
use crate::storage::{collect, ObjectKey, ObjectStore};
use crate::videos::{layout, Video};

/// Stored playlists are small; anything larger is not ours.
const MAX_PLAYLIST: usize = 16 * 1024 * 1024;
/// The largest segment the job protocol accepts, hence the largest stored.
const MAX_SEGMENT: usize = crate::jobs::protocol::MAX_PUT;

/// Writes the smallest rendition of `video` to `dest`, decrypted; returns
/// the rendition's name.
pub(super) async fn decrypt_smallest(
    storage: &dyn ObjectStore,
    db: &Db,
    master: &MasterKeyPair,
    video: &Video,
    dest: &Path,
) -> Result<String, String> {
    let rung = video
        .renditions()
        .into_iter()
        .min_by_key(|r| (r.height, r.width))
        .ok_or("the video lists no renditions")?
        .name;
    let dir = format!("{}{rung}/", layout::hls_prefix(&video.id));
    let playlist = fetch(storage, &format!("{dir}index.m3u8"), MAX_PLAYLIST).await?;
    let media = match m3u8_rs::parse_playlist_res(&playlist) {
        Ok(Playlist::MediaPlaylist(m)) => m,
        _ => return Err(format!("the stored playlist of {rung} is unreadable")),
    };
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .await
        .map_err(|e| format!("cannot create the work file: {e}"))?;
    let mut keys: HashMap<String, Zeroizing<[u8; 16]>> = HashMap::new();
    let (mut key_id, mut iv) = (None::<String>, None::<SegmentIv>);
    for (i, segment) in media.segments.iter().enumerate() {
        // A key tag applies to the segments after it until the next one.
        if let Some(key) = &segment.key {
            key_id = key
                .uri
                .as_deref()
                .and_then(|u| u.strip_prefix(KEY_URI_SCHEME))
                .map(str::to_string);
            iv = key.iv.as_deref().and_then(SegmentIv::from_attribute);
        }
        let (Some(id), Some(seg_iv)) = (&key_id, &iv) else {
            return Err(format!("segment {i} of {rung} names no key or IV"));
        };
        if !keys.contains_key(id) {
            let key = open_key(db, master, &video.id, id).await?;
            keys.insert(id.clone(), key);
        }
        if !is_plain_name(&segment.uri) {
            return Err(format!("segment {i} of {rung} has a malformed name"));
        }
        let bytes = fetch(storage, &format!("{dir}{}", segment.uri), MAX_SEGMENT).await?;
        let plain = Zeroizing::new(
            decrypt_segment(&keys[id], &seg_iv.0, &bytes)
                .ok_or_else(|| format!("segment {i} of {rung} does not decrypt"))?,
        );
        file.write_all(&plain)
            .await
            .map_err(|e| format!("cannot write the work file: {e}"))?;
    }
    if media.segments.is_empty() {
        return Err(format!("the stored playlist of {rung} has no segments"));
    }
    file.flush()
        .await
        .map_err(|e| format!("cannot write the work file: {e}"))?;
    Ok(rung)
}

async fn fetch(storage: &dyn ObjectStore, key: &str, limit: usize) -> Result<Vec<u8>, String> {
    let key = ObjectKey::new(key).map_err(|e| e.to_string())?;
    let body = storage
        .get(&key, None)
        .await
        .map_err(|e| format!("cannot read {}: {e}", key.as_str()))?;
    collect(body.stream, limit)
        .await
        .map_err(|e| format!("cannot read {}: {e}", key.as_str()))
}

async fn open_key(
    db: &Db,
    master: &MasterKeyPair,
    video_id: &str,
    key_id: &str,
) -> Result<Zeroizing<[u8; 16]>, String> {
    let sealed: Option<String> =
        sqlx::query_scalar("SELECT sealed FROM content_keys WHERE video_id = $1 AND key_id = $2")
            .bind(video_id)
            .bind(key_id)
            .fetch_optional(&db.pool)
            .await
            .map_err(|e| format!("cannot read content keys: {e}"))?;
    let sealed = sealed.ok_or_else(|| format!("content key {key_id} is missing"))?;
    let sealed =
        SealedKey::from_base64(&sealed).map_err(|e| format!("content key {key_id}: {e}"))?;
    open(master, &KeyContext { video_id, key_id }, &sealed)
        .map_err(|e| format!("content key {key_id} does not open with this master key: {e}"))
}

/// A segment name as the transcoder writes it (`seg_00001.ts`).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}
