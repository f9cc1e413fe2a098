//! Direct reads of what a server keeps at rest: its objects, its sealed
//! content keys and its custody key. Only tests whose subject is storage at
//! rest use this (encrypted segments in the store, keys sealed in the
//! database, nothing left behind); every fixture goes through the API.

use std::path::{Path, PathBuf};

use base64::Engine;
use sealcast::db::Db;
use sealcast::storage::{FsStore, ObjectKey, ObjectPrefix, ObjectStore};
use sealcast_keyserver::MasterKeyPair;

use super::server::{Database, TestServer};

pub struct AtRest {
    pub root: PathBuf,
    pub db: Db,
    pub store: FsStore,
}

impl AtRest {
    /// The database and local object store of a running server.
    pub async fn of(server: &TestServer) -> AtRest {
        let root = server.data_path();
        let url = match &server.database {
            Database::Sqlite => format!("sqlite://{}", root.join("sealcast.db").display()),
            Database::Postgres(url) => url.clone(),
        };
        AtRest::open(&root, &url).await
    }

    pub async fn open(root: &Path, database_url: &str) -> AtRest {
        let db = Db::connect(database_url).await.unwrap();
        let store = FsStore::open(&root.join("objects")).await.unwrap();
        AtRest {
            root: root.to_path_buf(),
            db,
            store,
        }
    }

    /// The custody master key pair (only tests and the key server read it).
    pub fn master(&self) -> MasterKeyPair {
        let text = std::fs::read_to_string(self.root.join("secrets/master.key")).unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .unwrap();
        MasterKeyPair::from_slice(&raw).unwrap()
    }

    pub async fn object_keys(&self, prefix: &str) -> Vec<String> {
        self.store
            .list(&ObjectPrefix::new(prefix).unwrap())
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect()
    }

    pub async fn object(&self, key: &str) -> Vec<u8> {
        let body = self
            .store
            .get(&ObjectKey::new(key.to_string()).unwrap(), None)
            .await
            .unwrap();
        sealcast::storage::collect(body.stream, 64 << 20)
            .await
            .unwrap()
    }

    /// `SELECT COUNT(*) … WHERE <column> = $1` for one id.
    pub async fn count(&self, sql: &str, id: &str) -> i64 {
        sqlx::query_scalar(sql)
            .bind(id)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// The sealed content keys of a video: (key id, sealed, master fingerprint).
    pub async fn sealed_keys(&self, video: &str) -> Vec<(String, String, String)> {
        sqlx::query_as(
            "SELECT key_id, sealed, master_fingerprint FROM content_keys WHERE video_id = $1",
        )
        .bind(video)
        .fetch_all(&self.db.pool)
        .await
        .unwrap()
    }

    /// The partial file of a tus upload on local disk.
    pub fn partial_upload(&self, id: &str) -> PathBuf {
        self.root
            .join(format!("objects/partial/uploads/{id}/source"))
    }
}
