//! One conformance suite, run against every storage backend: local disk and
//! S3 on a real Garage server.

mod common;

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use sealcast::storage::{
    collect, ByteRange, ByteStream, FsStore, ObjectKey, ObjectPrefix, ObjectStore, S3Credentials,
    S3Settings, S3Store, StorageError,
};
use sha2::{Digest, Sha256};

const MIB: usize = 1024 * 1024;

fn key(s: &str) -> ObjectKey {
    ObjectKey::new(s).unwrap()
}

fn prefix(s: &str) -> ObjectPrefix {
    ObjectPrefix::new(s).unwrap()
}

/// `total` pseudo-random bytes in `chunk`-sized pieces, so nothing needs the whole body at once.
fn patterned(total: usize, chunk: usize) -> (ByteStream, [u8; 32]) {
    let mut hasher = Sha256::new();
    let mut chunks = Vec::new();
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut left = total;
    while left > 0 {
        let n = left.min(chunk);
        let mut buf = vec![0u8; n];
        for b in buf.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        hasher.update(&buf);
        chunks.push(Ok(Bytes::from(buf)));
        left -= n;
    }
    (
        Box::pin(futures::stream::iter(chunks)),
        hasher.finalize().into(),
    )
}

/// A body that yields `good` bytes and then fails, like a dropped upload.
fn failing_after(good: usize) -> ByteStream {
    let (ok, _) = patterned(good, 256 * 1024);
    let fail = futures::stream::once(async {
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "client went away",
        ))
    });
    Box::pin(futures::StreamExt::chain(ok, fail))
}

async fn read_all(store: &dyn ObjectStore, k: &ObjectKey, range: Option<ByteRange>) -> Vec<u8> {
    let body = store.get(k, range).await.unwrap();
    collect(body.stream, 64 * MIB).await.unwrap()
}

async fn sha_of(store: &dyn ObjectStore, k: &ObjectKey) -> [u8; 32] {
    use futures::StreamExt;
    let mut body = store.get(k, None).await.unwrap().stream;
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.next().await {
        hasher.update(chunk.unwrap());
    }
    hasher.finalize().into()
}

async fn conformance(store: Arc<dyn ObjectStore>) {
    let s = store.as_ref();
    s.check().await.expect("check");

    // Small object round trip, head, overwrite.
    let k = key("videos/v1/master.m3u8");
    assert_eq!(
        s.put(&k, sealcast::storage::bytes_stream("#EXTM3U\n"))
            .await
            .unwrap(),
        8
    );
    assert_eq!(read_all(s, &k, None).await, b"#EXTM3U\n");
    assert_eq!(s.head(&k).await.unwrap().unwrap().size, 8);
    s.put(
        &k,
        sealcast::storage::bytes_stream("#EXTM3U\n#EXT-X-VERSION:3\n"),
    )
    .await
    .unwrap();
    assert_eq!(
        read_all(s, &k, None).await,
        b"#EXTM3U\n#EXT-X-VERSION:3\n",
        "overwrite replaces"
    );

    // Empty object.
    let empty = key("videos/v1/empty");
    s.put(&empty, sealcast::storage::bytes_stream(Bytes::new()))
        .await
        .unwrap();
    assert_eq!(s.head(&empty).await.unwrap().unwrap().size, 0);
    assert!(read_all(s, &empty, None).await.is_empty());

    // Large streamed object (multipart on S3 with 5 MiB parts).
    let big = key("uploads/big.bin");
    let (body, digest) = patterned(12 * MIB + 12345, 64 * 1024);
    assert_eq!(s.put(&big, body).await.unwrap(), (12 * MIB + 12345) as u64);
    assert_eq!(
        s.head(&big).await.unwrap().unwrap().size,
        (12 * MIB + 12345) as u64
    );
    assert_eq!(sha_of(s, &big).await, digest, "large object intact");

    // Byte ranges.
    let whole = read_all(s, &k, None).await;
    let r = s
        .get(
            &k,
            Some(ByteRange {
                start: 2,
                end: Some(5),
            }),
        )
        .await
        .unwrap();
    assert_eq!((r.size, r.range), (whole.len() as u64, (2, 5)));
    assert_eq!(collect(r.stream, MIB).await.unwrap(), &whole[2..=5]);
    assert_eq!(
        read_all(
            s,
            &k,
            Some(ByteRange {
                start: 8,
                end: None
            })
        )
        .await,
        &whole[8..]
    );
    assert_eq!(
        read_all(
            s,
            &k,
            Some(ByteRange {
                start: 3,
                end: Some(10_000)
            })
        )
        .await,
        &whole[3..],
        "end past the size is clamped"
    );
    let far = s
        .get(
            &k,
            Some(ByteRange {
                start: 10_000,
                end: None,
            }),
        )
        .await;
    assert!(matches!(far, Err(StorageError::InvalidRange)), "{far:?}");
    let big_range = read_all(
        s,
        &big,
        Some(ByteRange {
            start: 6 * MIB as u64,
            end: Some(6 * MIB as u64 + 99),
        }),
    )
    .await;
    assert_eq!(big_range.len(), 100);

    // Missing objects.
    let missing = key("videos/none/x.ts");
    assert!(matches!(
        s.get(&missing, None).await,
        Err(StorageError::NotFound)
    ));
    assert!(s.head(&missing).await.unwrap().is_none());
    s.delete(&missing)
        .await
        .expect("deleting a missing object is fine");

    // A failing body leaves nothing visible, small or multipart.
    for (name, good) in [("failed/small", 1000usize), ("failed/large", 11 * MIB)] {
        let fk = key(name);
        let err = s.put(&fk, failing_after(good)).await.unwrap_err();
        assert!(matches!(err, StorageError::Body(_)), "{name}: {err:?}");
        assert!(
            s.head(&fk).await.unwrap().is_none(),
            "{name}: no partial object"
        );
    }
    assert!(s.list(&prefix("failed/")).await.unwrap().is_empty());

    // Listing with S3 prefix semantics, then delete by prefix.
    for name in ["tree/a/1", "tree/a/2", "tree/a/b/3", "tree/ab/4", "tree/c"] {
        s.put(
            &key(name),
            sealcast::storage::bytes_stream(name.to_string()),
        )
        .await
        .unwrap();
    }
    let names =
        |v: Vec<sealcast::storage::ObjectMeta>| v.into_iter().map(|m| m.key).collect::<Vec<_>>();
    assert_eq!(
        names(s.list(&prefix("tree/a/")).await.unwrap()),
        ["tree/a/1", "tree/a/2", "tree/a/b/3"]
    );
    assert_eq!(
        names(s.list(&prefix("tree/a")).await.unwrap()),
        ["tree/a/1", "tree/a/2", "tree/a/b/3", "tree/ab/4"]
    );
    assert_eq!(s.list(&prefix("tree/")).await.unwrap().len(), 5);
    assert_eq!(s.list(&prefix("tree/a/1")).await.unwrap()[0].size, 8);
    assert_eq!(s.delete_prefix(&prefix("tree/a/")).await.unwrap(), 3);
    assert_eq!(
        names(s.list(&prefix("tree/")).await.unwrap()),
        ["tree/ab/4", "tree/c"]
    );
    s.delete(&key("tree/c")).await.unwrap();
    assert!(s.head(&key("tree/c")).await.unwrap().is_none());

    // Concurrent writers to different keys.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let (body, digest) = patterned(300_000 + i * 1000, 32 * 1024);
            let k = key(&format!("concurrent/{i}"));
            store.put(&k, body).await.unwrap();
            (k, digest)
        }));
    }
    for task in tasks {
        let (k, digest) = task.await.unwrap();
        assert_eq!(sha_of(s, &k).await, digest);
    }

    let everything = s.list(&ObjectPrefix::all()).await.unwrap();
    assert!(everything.iter().all(|m| !m.key.starts_with("failed/")));
    assert!(s.delete_prefix(&ObjectPrefix::all()).await.unwrap() >= 10);
    assert!(s.list(&ObjectPrefix::all()).await.unwrap().is_empty());
}

#[tokio::test]
async fn local_disk_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FsStore::open(dir.path()).await.unwrap());
    conformance(store).await;
    // Failed writes left no temp files behind.
    let leftovers = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
    assert_eq!(leftovers, 0, "temp files removed after failed puts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_conforms_on_garage() {
    let garage = tokio::task::spawn_blocking(common::Garage::start)
        .await
        .unwrap();
    let settings = S3Settings {
        bucket: garage.bucket.clone(),
        prefix: "conformance".into(),
        endpoint: Some(garage.endpoint.clone()),
        region: "garage".into(),
        part_size: 5 * MIB,
        part_concurrency: 3,
    };
    let creds = S3Credentials::new(&garage.access_key, &garage.secret_key, None, None, "test");
    let store = Arc::new(S3Store::connect_with(settings, Some(creds)).await);
    conformance(store).await;
    drop(garage);
}

#[tokio::test]
async fn s3_backend_reports_unreachable_endpoint_as_unavailable() {
    let settings = S3Settings {
        bucket: "nowhere".into(),
        prefix: String::new(),
        endpoint: Some("http://127.0.0.1:9".into()),
        region: "garage".into(),
        part_size: 5 * MIB,
        part_concurrency: 2,
    };
    let creds = S3Credentials::new("x", "y", None, None, "test");
    let store = S3Store::connect_with(settings, Some(creds)).await;
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StorageError::Unavailable(_)), "{err:?}");
    assert!(err.is_transient());
}
