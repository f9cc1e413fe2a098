//! The database: SQLite (WAL, foreign keys on) embedded, PostgreSQL when scaled out.
//!
//! One pool type for both (`sqlx::Any`), one migrations folder, and SQL that
//! both dialects run: `$1` placeholders, `BIGINT` integers and unix-millisecond
//! timestamps, `TEXT` ids made by the application. No SQLite-only syntax.

pub mod bus;
pub mod idempotency;
pub mod rate_limits;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyPool, Executor};

/// Migrations embedded in the binary, applied at start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection pool, which dialect it speaks, and this process's view of
/// the revocation bus (every write that takes access away announces itself).
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub dialect: Dialect,
    pub bus: bus::RevocationBus,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl Db {
    /// Connects and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else {
            Dialect::Postgres
        };
        let url = match dialect {
            Dialect::Sqlite => prepare_sqlite(url).await?,
            Dialect::Postgres => url.to_string(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(if dialect == Dialect::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            });
        let pool = options.connect(&url).await.map_err(DbError::Connect)?;
        MIGRATOR.run(&pool).await.map_err(DbError::Migrate)?;
        Ok(Db {
            pool,
            dialect,
            bus: bus::RevocationBus::default(),
        })
    }

    /// Announces on the revocation bus that access was taken away (after the
    /// write committed); see [`bus`].
    pub async fn announce_revocation(&self) -> Result<i64, sqlx::Error> {
        self.bus.announce(self).await
    }

    /// Readiness: one round trip.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// Whether `err` means the database is away (down, restarting, failing over,
/// out of connections) rather than that a statement is wrong: the caller
/// answers 503 with `Retry-After`, and the pool reconnects on its own.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match err {
        E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => true,
        // SQLSTATE 08xxx connection exceptions, 57P01-57P03 shutdown and
        // "cannot connect now", 53300 too many connections.
        E::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || code.starts_with("57P0") || code == "53300"
        }),
        _ => false,
    }
}

/// Whether `err` means the database's disk is full: SQLite's `SQLITE_FULL`
/// ("database or disk is full", primary code 13, a number of at most four
/// digits) or PostgreSQL's SQLSTATE 53100 `disk_full` (always five
/// characters). The caller answers 507 like a full object store; the
/// statement was rolled back and the next one succeeds once space is freed.
pub fn is_full(err: &sqlx::Error) -> bool {
    const SQLITE_FULL: i32 = 13;
    let sqlite_full =
        |code: &str| code.len() < 5 && code.parse::<i32>().is_ok_and(|c| c & 0xff == SQLITE_FULL);
    match err {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code == "53100" || sqlite_full(&code)),
        _ => false,
    }
}

/// Creates the SQLite file and switches it to WAL once (the mode is stored in
/// the file, so every later connection, including the Any pool's, uses it).
async fn prepare_sqlite(url: &str) -> Result<String, DbError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(DbError::Connect)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true);
    let io = |e| DbError::Connect(sqlx::Error::Io(e));
    if let Some(parent) = options.get_filename().parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
    }
    // SQLite gives its -wal and -shm files the database file's mode, so a
    // database created (or tightened) at 0600 keeps all three private.
    if options.get_filename() != std::path::Path::new(":memory:") {
        private_file(options.get_filename()).map_err(io)?;
    }
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .map_err(DbError::Connect)?;
    pool.close().await;
    Ok(url.to_string())
}

/// Creates `path` with mode 0600 if missing, or tightens it to 0600.
fn private_file(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// Milliseconds since the Unix epoch: the one timestamp format in the schema.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A random 128-bit id as 32 hex characters (ids are made by the application
/// so both dialects agree without sequences).
pub fn new_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_gets_wal_foreign_keys_and_migrations() {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        db.ping().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        // Migrations are idempotent across restarts.
        drop(db);
        Db::connect(&url).await.unwrap();
    }

    /// A database that cannot grow (here capped by `max_page_count`, on a
    /// full disk by the device) fails with `SQLITE_FULL`: told apart from an
    /// outage and answered 507, and the next write succeeds once there is room.
    #[tokio::test]
    async fn a_full_sqlite_database_is_told_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("t.db").display());
        let db = Db::connect(&url).await.unwrap();
        let mut conn = db.pool.acquire().await.unwrap();
        conn.execute("CREATE TABLE filler (b BLOB)").await.unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        conn.execute(format!("PRAGMA max_page_count = {pages}").as_str())
            .await
            .unwrap();
        let insert = "INSERT INTO filler (b) VALUES (zeroblob(1000000))";
        let err = conn.execute(insert).await.unwrap_err();
        assert!(is_full(&err), "{err:?}");
        assert!(!is_unavailable(&err));
        let api = crate::error::ApiError::from(err);
        assert_eq!(api.code.as_str(), "insufficient_storage");
        assert_eq!(api.status.as_u16(), 507);
        assert!(!api.message.contains("database or disk"), "{}", api.message);
        conn.execute(format!("PRAGMA max_page_count = {}", pages + 1000).as_str())
            .await
            .unwrap();
        conn.execute(insert).await.unwrap();
    }
}
