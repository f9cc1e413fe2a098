//! The rows behind `Idempotency-Key`: who sent which key with which request,
//! and the answer they got. Shared by every node through the database, so a
//! retry that lands on another edge still gets the first answer.

use std::time::Duration;

use super::{now_ms, Db};

/// How long a key and its answer are kept.
pub const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);
/// A first request still unanswered after this long is taken to have died
/// with its node (a crash between claim and answer); its key is free again.
pub const IN_FLIGHT_FOR: Duration = Duration::from_secs(60);

/// The answer stored for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: String,
}

/// What claiming a key found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// The key is new: run the request, then `complete` or `release`.
    Fresh,
    /// Seen with this same request: here is its answer.
    Replay(StoredAnswer),
    /// Seen with a different request.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

/// Claims `key` for `scope` (the caller) and `request_hash` (method, path
/// and body). The INSERT … ON CONFLICT DO NOTHING is the one step that
/// decides which of two racing requests runs.
pub async fn claim(
    db: &Db,
    scope: &str,
    key: &str,
    request_hash: &str,
) -> Result<Claim, sqlx::Error> {
    let now = now_ms();
    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(now - KEPT_FOR.as_millis() as i64)
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 \
         AND status IS NULL AND created_at < $3",
    )
    .bind(scope)
    .bind(key)
    .bind(now - IN_FLIGHT_FOR.as_millis() as i64)
    .execute(&db.pool)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, request_hash, created_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(now)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    type Row = (
        String,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT request_hash, status, content_type, location, body FROM idempotency_keys \
         WHERE scope = $1 AND idem_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(&db.pool)
    .await?;
    Ok(match row {
        // Released between our INSERT and SELECT: the caller may retry.
        None => Claim::InFlight,
        Some((hash, _, _, _, _)) if hash != request_hash => Claim::Mismatch,
        Some((_, None, _, _, _)) => Claim::InFlight,
        Some((_, Some(status), content_type, location, body)) => Claim::Replay(StoredAnswer {
            status: status.clamp(100, 599) as u16,
            content_type,
            location,
            body: body.unwrap_or_default(),
        }),
    })
}

/// Stores the answer to a claimed key.
pub async fn complete(
    db: &Db,
    scope: &str,
    key: &str,
    answer: &StoredAnswer,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE idempotency_keys SET status = $1, content_type = $2, location = $3, body = $4 \
         WHERE scope = $5 AND idem_key = $6",
    )
    .bind(i64::from(answer.status))
    .bind(answer.content_type.as_deref())
    .bind(answer.location.as_deref())
    .bind(&answer.body)
    .bind(scope)
    .bind(key)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Frees a claimed key whose request should run again when retried (the
/// server failed, or the caller was told to slow down).
pub async fn release(db: &Db, scope: &str, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2")
        .bind(scope)
        .bind(key)
        .execute(&db.pool)
        .await
        .map(|_| ())
}
