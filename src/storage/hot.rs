//! Hot objects: whole small objects (encrypted segments) kept in memory as
//! [`Bytes`], so the many learners watching the same video share one copy
//! and a hit costs no file open, read or S3 request.
//!
//! Bounded twice: the cache has a byte budget (least recently used out, with
//! the usual `sealcast_cache_*{cache="hot_segments"}` metrics), and an
//! object is read into memory to fill it only when it is at most
//! `max_object` bytes and one of a few fill slots is free. Every other
//! request streams from the store as before, so a burst of misses never
//! holds more than `FILLS × max_object` bytes. Objects here never change once
//! written (a video's segments are immutable; a deleted video's keys are
//! never reused), so a hit needs no revalidation.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use sealcast_keyserver::cache::BudgetCache;
use tokio::sync::Semaphore;

use super::{ObjectBody, ObjectKey, ObjectStore, StorageError};

/// Misses read into memory at once; the rest stream.
const FILLS: usize = 4;

/// What [`HotObjects::whole`] found: the bytes, or a stream to pass on.
pub enum Whole {
    Cached(Bytes),
    Stream(ObjectBody),
}

pub struct HotObjects {
    cache: BudgetCache<String, Bytes>,
    max_object: u64,
    fills: Semaphore,
}

impl HotObjects {
    /// `budget` bytes in all (0 turns the cache off); objects over
    /// `max_object` bytes are always streamed.
    pub fn new(budget: usize, max_object: u64) -> Self {
        Self {
            cache: BudgetCache::new("hot_segments", budget),
            max_object: if budget == 0 { 0 } else { max_object },
            fills: Semaphore::new(FILLS),
        }
    }

    /// The object's bytes if they are in memory.
    pub fn cached(&self, key: &ObjectKey) -> Option<Bytes> {
        if self.max_object == 0 {
            return None;
        }
        self.cache.get(key.as_str(), |_| true)
    }

    /// The whole object: from memory, read into memory (and kept) when it is
    /// small and a fill slot is free, or else as the store's stream.
    pub async fn whole(
        &self,
        store: &dyn ObjectStore,
        key: &ObjectKey,
    ) -> Result<Whole, StorageError> {
        if let Some(bytes) = self.cached(key) {
            return Ok(Whole::Cached(bytes));
        }
        let body = store.get(key, None).await?;
        if body.size > self.max_object {
            return Ok(Whole::Stream(body));
        }
        let Ok(_slot) = self.fills.try_acquire() else {
            return Ok(Whole::Stream(body));
        };
        let bytes = read_all(body).await?;
        self.cache
            .insert(key.as_str().to_string(), bytes.clone(), bytes.len());
        Ok(Whole::Cached(bytes))
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.cache.bytes()
    }
}

/// Reads a body of known size; a body that ends short or runs long is an
/// error (a truncated segment must not be cached as if it were whole).
async fn read_all(mut body: ObjectBody) -> Result<Bytes, StorageError> {
    let want = body.len() as usize;
    let mut out = BytesMut::with_capacity(want);
    while let Some(chunk) = body.stream.next().await {
        let chunk = chunk.map_err(StorageError::Body)?;
        if out.len() + chunk.len() > want {
            return Err(StorageError::Backend("object longer than its size".into()));
        }
        out.extend_from_slice(&chunk);
    }
    if out.len() != want {
        return Err(StorageError::Backend("object shorter than its size".into()));
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::FsStore;

    async fn store_with(dir: &std::path::Path, name: &str, len: usize) -> (FsStore, ObjectKey) {
        let store = FsStore::open(dir).await.unwrap();
        let key = ObjectKey::new(name).unwrap();
        let body = futures::stream::iter([Ok(Bytes::from(vec![7u8; len]))]).boxed();
        store.put(&key, body).await.unwrap();
        (store, key)
    }

    #[tokio::test]
    async fn a_small_object_is_read_once_then_served_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let (store, key) = store_with(dir.path(), "v/seg_00000.ts", 1000).await;
        let hot = HotObjects::new(1 << 20, 4096);
        assert!(hot.cached(&key).is_none());
        let Whole::Cached(first) = hot.whole(&store, &key).await.unwrap() else {
            panic!("a small object is cached");
        };
        assert_eq!(first.len(), 1000);
        // Gone from the store, still served: the second read came from memory.
        store.delete(&key).await.unwrap();
        assert!(matches!(
            store.get(&key, None).await,
            Err(StorageError::NotFound)
        ));
        let Whole::Cached(again) = hot.whole(&store, &key).await.unwrap() else {
            panic!("a hit");
        };
        assert_eq!(again, first);
        assert!(hot.bytes() >= 1000);
    }

    #[tokio::test]
    async fn large_objects_and_a_zero_budget_stream() {
        let dir = tempfile::tempdir().unwrap();
        let (store, key) = store_with(dir.path(), "v/seg_00001.ts", 5000).await;
        let hot = HotObjects::new(1 << 20, 4096);
        assert!(matches!(
            hot.whole(&store, &key).await.unwrap(),
            Whole::Stream(_)
        ));
        assert!(hot.cached(&key).is_none());
        let off = HotObjects::new(0, 4096);
        let (store, key) = store_with(dir.path(), "v/seg_00002.ts", 10).await;
        assert!(matches!(
            off.whole(&store, &key).await.unwrap(),
            Whole::Stream(_)
        ));
        assert_eq!(off.bytes(), 0);
    }
}
