//! Refresh tokens: opaque random values, stored only as SHA-256, rotated on
//! every use. Each login starts a family; presenting a token that was already
//! used (or revoked) means it was stolen or replayed, so the whole family is
//! revoked and its holder must log in again.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::time::Duration;

use super::IdentityError;
use crate::db::{new_id, now_ms, Db};

/// A freshly minted refresh token (the only time its value exists in the clear).
#[derive(Debug, Clone)]
pub struct IssuedRefresh {
    pub token: String,
    pub family_id: String,
    /// Unix milliseconds.
    pub expires_at_ms: i64,
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Rotation {
    /// Valid: the old token is spent and `new` replaces it.
    Rotated { user_id: String, new: IssuedRefresh },
    /// Already used or revoked: the family is now revoked.
    Reused { user_id: String, family_id: String },
    /// Unknown or expired.
    Invalid,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Mints a refresh token in `family` (a new family when `None`).
pub async fn issue(
    db: &Db,
    user_id: &str,
    family: Option<&str>,
    ttl: Duration,
) -> Result<IssuedRefresh, IdentityError> {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let family_id = family.map(str::to_string).unwrap_or_else(new_id);
    let now = now_ms();
    let expires_at_ms = now + ttl.as_millis() as i64;
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(&family_id)
    .bind(user_id)
    .bind(hash(&token))
    .bind(now)
    .bind(expires_at_ms)
    .execute(&db.pool)
    .await?;
    Ok(IssuedRefresh {
        token,
        family_id,
        expires_at_ms,
    })
}

/// Spends `token` and mints its successor, or detects reuse.
pub async fn rotate(db: &Db, token: &str, ttl: Duration) -> Result<Rotation, IdentityError> {
    if token.is_empty() || token.len() > 256 {
        return Ok(Rotation::Invalid);
    }
    type Row = (String, String, String, i64, Option<i64>, Option<i64>);
    let row: Option<Row> = sqlx::query_as(
        "SELECT id, family_id, user_id, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(hash(token))
    .fetch_optional(&db.pool)
    .await?;
    let Some((id, family_id, user_id, expires_at, used_at, revoked_at)) = row else {
        return Ok(Rotation::Invalid);
    };
    let now = now_ms();
    if used_at.is_some() || revoked_at.is_some() {
        revoke_family(db, &family_id).await?;
        return Ok(Rotation::Reused { user_id, family_id });
    }
    if expires_at <= now {
        return Ok(Rotation::Invalid);
    }
    // Spend it atomically: of two concurrent uses exactly one wins; the other is reuse.
    let spent = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(&id)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if spent != 1 {
        revoke_family(db, &family_id).await?;
        return Ok(Rotation::Reused { user_id, family_id });
    }
    let new = issue(db, &user_id, Some(&family_id), ttl).await?;
    Ok(Rotation::Rotated { user_id, new })
}

/// Revokes the tokens not yet revoked whose `column` (a fixed column name,
/// never input) equals `value`; returns how many.
async fn revoke_live(db: &Db, column: &'static str, value: &str) -> Result<u64, IdentityError> {
    let sql = format!(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE {column} = $2 AND revoked_at IS NULL"
    );
    Ok(sqlx::query(&sql)
        .bind(now_ms())
        .bind(value)
        .execute(&db.pool)
        .await?
        .rows_affected())
}

/// Revokes every token of a family.
pub async fn revoke_family(db: &Db, family_id: &str) -> Result<u64, IdentityError> {
    revoke_live(db, "family_id", family_id).await
}

/// Revokes the family `token` belongs to (logout); unknown tokens are ignored.
pub async fn revoke_family_of(db: &Db, token: &str) -> Result<(), IdentityError> {
    let family: Option<String> =
        sqlx::query_scalar("SELECT family_id FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash(token))
            .fetch_optional(&db.pool)
            .await?;
    if let Some(family) = family {
        revoke_family(db, &family).await?;
    }
    Ok(())
}

/// Revokes every refresh token of a user (account disabled).
pub async fn revoke_user(db: &Db, user_id: &str) -> Result<u64, IdentityError> {
    revoke_live(db, "user_id", user_id).await
}
