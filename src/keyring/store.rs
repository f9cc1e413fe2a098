//! The keyring tables (`signing_keys`, `url_keys`): rows out, and each
//! rotation as one transaction (retire the active key, add the new one, drop
//! keys retired long enough ago), so nodes never see a half-done rotation.

use sealcast_keyserver::KeyLife;

use crate::db::Db;

/// One stored key: its life and its sealed secret (`None`: URL version 0, the
/// secret file itself).
#[derive(Debug, Clone)]
pub struct StoredKey<Id> {
    pub life: KeyLife<Id>,
    pub sealed: Option<String>,
}

type Row<Id> = (Id, i64, Option<i64>, Option<String>);

fn stored<Id>((id, created, retired, sealed): Row<Id>) -> StoredKey<Id> {
    StoredKey {
        life: KeyLife {
            id,
            created_at_ms: created,
            retired_at_ms: retired,
        },
        sealed,
    }
}

pub async fn signing_keys(db: &Db) -> Result<Vec<StoredKey<String>>, sqlx::Error> {
    let rows: Vec<Row<String>> =
        sqlx::query_as("SELECT kid, created_at, retired_at, sealed_key FROM signing_keys")
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.into_iter().map(stored).collect())
}

pub async fn url_keys(db: &Db) -> Result<Vec<StoredKey<u32>>, sqlx::Error> {
    let rows: Vec<Row<i64>> =
        sqlx::query_as("SELECT version, created_at, retired_at, sealed_key FROM url_keys")
            .fetch_all(&db.pool)
            .await?;
    // A version outside u32 was never written by us; it cannot verify anything.
    Ok(rows
        .into_iter()
        .filter_map(|(v, c, r, s)| u32::try_from(v).ok().map(|v| stored((v, c, r, s))))
        .collect())
}

/// Adds a signing key unless its kid is already stored (a restarted node
/// importing its data-dir keys again). `retired`: import it verify-only.
pub async fn import_signing_key(
    db: &Db,
    kid: &str,
    sealed: &str,
    now_ms: i64,
    retired: bool,
) -> Result<(), sqlx::Error> {
    let sql = if retired {
        "INSERT INTO signing_keys (kid, created_at, retired_at, sealed_key) \
         VALUES ($1, $2, $2, $3) ON CONFLICT (kid) DO NOTHING"
    } else {
        "INSERT INTO signing_keys (kid, created_at, retired_at, sealed_key) \
         VALUES ($1, $2, NULL, $3) ON CONFLICT (kid) DO NOTHING"
    };
    sqlx::query(sql)
        .bind(kid)
        .bind(now_ms)
        .bind(sealed)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// Makes `kid` the one active signing key; keys retired more than `keep_ms`
/// ago are deleted.
pub async fn rotate_signing_key(
    db: &Db,
    kid: &str,
    sealed: &str,
    now_ms: i64,
    keep_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, created_at, retired_at, sealed_key) VALUES ($1, $2, NULL, $3)",
    )
    .bind(kid)
    .bind(now_ms)
    .bind(sealed)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM signing_keys WHERE retired_at IS NOT NULL AND retired_at < $1")
        .bind(now_ms.saturating_sub(keep_ms))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Adds the next URL key version (sealed by `seal(version)`) and makes it the
/// signer; the first rotation also records version 0, the secret file, as
/// retired. Returns the new version.
pub async fn rotate_url_key(
    db: &Db,
    seal: impl FnOnce(u32) -> String,
    now_ms: i64,
    keep_ms: i64,
) -> Result<u32, sqlx::Error> {
    let mut tx = db.pool.begin().await?;
    let newest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(version), -1) FROM url_keys")
        .fetch_one(&mut *tx)
        .await?;
    if newest < 0 {
        sqlx::query(
            "INSERT INTO url_keys (version, created_at, retired_at, sealed_key) VALUES (0, 0, NULL, NULL)",
        )
        .execute(&mut *tx)
        .await?;
    }
    let next = u32::try_from(newest.max(0) + 1)
        .map_err(|_| sqlx::Error::Protocol("url key versions exhausted".into()))?;
    sqlx::query("UPDATE url_keys SET retired_at = $1 WHERE retired_at IS NULL")
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO url_keys (version, created_at, retired_at, sealed_key) VALUES ($1, $2, NULL, $3)",
    )
    .bind(i64::from(next))
    .bind(now_ms)
    .bind(seal(next))
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM url_keys WHERE retired_at IS NOT NULL AND retired_at < $1")
        .bind(now_ms.saturating_sub(keep_ms))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("k.db").display());
        let db = Db::connect(&url).await.unwrap();
        (tmp, db)
    }

    fn lives<Id: Clone>(rows: &[StoredKey<Id>]) -> Vec<(Id, Option<i64>)> {
        rows.iter()
            .map(|r| (r.life.id.clone(), r.life.retired_at_ms))
            .collect()
    }

    #[tokio::test]
    async fn signing_rotation_retires_the_active_key_and_purges_old_ones() {
        let (_tmp, db) = sqlite().await;
        import_signing_key(&db, "a", "sa", 100, false)
            .await
            .unwrap();
        // A restarted node importing the same key again changes nothing.
        import_signing_key(&db, "a", "other", 150, true)
            .await
            .unwrap();
        rotate_signing_key(&db, "b", "sb", 200, 1_000)
            .await
            .unwrap();
        let mut rows = signing_keys(&db).await.unwrap();
        rows.sort_by(|x, y| x.life.id.cmp(&y.life.id));
        assert_eq!(lives(&rows), [("a".into(), Some(200)), ("b".into(), None)]);
        assert_eq!(rows[0].sealed.as_deref(), Some("sa"));
        // Retired longer than `keep` ago: gone at the next rotation.
        rotate_signing_key(&db, "c", "sc", 1_201, 1_000)
            .await
            .unwrap();
        let mut rows = signing_keys(&db).await.unwrap();
        rows.sort_by(|x, y| x.life.id.cmp(&y.life.id));
        assert_eq!(
            lives(&rows),
            [("b".into(), Some(1_201)), ("c".into(), None)]
        );
    }

    #[tokio::test]
    async fn the_first_url_rotation_records_version_zero_as_retired() {
        let (_tmp, db) = sqlite().await;
        assert!(url_keys(&db).await.unwrap().is_empty());
        let v = rotate_url_key(&db, |v| format!("s{v}"), 100, 1_000)
            .await
            .unwrap();
        assert_eq!(v, 1);
        let mut rows = url_keys(&db).await.unwrap();
        rows.sort_by_key(|r| r.life.id);
        assert_eq!(lives(&rows), [(0, Some(100)), (1, None)]);
        assert_eq!(rows[0].sealed, None, "version 0 is the secret file");
        assert_eq!(rows[1].sealed.as_deref(), Some("s1"));
        let v = rotate_url_key(&db, |v| format!("s{v}"), 2_000, 1_000)
            .await
            .unwrap();
        assert_eq!(v, 2);
        let mut rows = url_keys(&db).await.unwrap();
        rows.sort_by_key(|r| r.life.id);
        assert_eq!(lives(&rows), [(1, Some(2_000)), (2, None)]);
    }
}
