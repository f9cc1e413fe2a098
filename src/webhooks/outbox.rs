//! The outbox: one `webhook_deliveries` row per subscribed endpoint, written
//! by [`enqueue`] inside the transaction of the change it announces, so the
//! event commits with the change or not at all. The dispatcher claims due
//! rows and records each attempt here.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use sqlx::AnyConnection;

use super::{Event, WebhookError, MAX_BACKOFF};
use crate::db::{new_id, now_ms, Db, Dialect};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Retried for the whole window without a 2xx: the dead letter.
    Failed,
}

impl DeliveryStatus {
    fn parse(s: &str) -> DeliveryStatus {
        match s {
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// One delivery, as the API shows it. Times are unix milliseconds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Also the `webhook-id` header: the same on every attempt.
    pub id: String,
    pub endpoint_id: String,
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<i64>,
    pub last_attempt_at: Option<i64>,
    /// The receiver's last HTTP status, if it answered.
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

/// Writes `event` with `data` for every endpoint subscribed to it, on the
/// caller's connection (their transaction). Returns how many rows.
pub async fn enqueue(
    conn: &mut AnyConnection,
    event: Event,
    data: Value,
) -> Result<u64, sqlx::Error> {
    let endpoints: Vec<(String, String)> =
        sqlx::query_as("SELECT id, events FROM webhook_endpoints")
            .fetch_all(&mut *conn)
            .await?;
    let now = now_ms();
    let body = serde_json::json!({
        "type": event.as_str(),
        "timestamp": rfc3339(now),
        "data": data,
    })
    .to_string();
    let mut written = 0;
    for (endpoint_id, events) in endpoints {
        let events: Vec<String> = serde_json::from_str(&events).unwrap_or_default();
        if !events.iter().any(|e| e == event.as_str()) {
            continue;
        }
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, endpoint_id, event, payload, status, attempts, \
             next_attempt_at, retry_from, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)",
        )
        .bind(format!("msg_{}", new_id()))
        .bind(&endpoint_id)
        .bind(event.as_str())
        .bind(&body)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        written += 1;
    }
    Ok(written)
}

/// A delivery the dispatcher holds for one attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub endpoint_id: String,
    pub url: String,
    pub sealed_secret: String,
    pub payload: String,
    /// Attempts before this one.
    pub attempts: i64,
    pub retry_from: i64,
}

/// Takes the most overdue pending delivery by moving its next attempt past
/// `lease` (a dispatcher that dies mid-attempt leaves it due again then).
pub async fn claim(db: &Db, lease: Duration) -> Result<Option<Claimed>, sqlx::Error> {
    let now = now_ms();
    let lock = match db.dialect {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET next_attempt_at = $1 \
         WHERE id = (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
                     ORDER BY next_attempt_at LIMIT 1{lock}) \
           AND status = 'pending' AND next_attempt_at <= $2 \
         RETURNING id, endpoint_id, payload, attempts, retry_from"
    );
    let row: Option<(String, String, String, i64, i64)> = sqlx::query_as(&sql)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .fetch_optional(&db.pool)
        .await?;
    let Some((id, endpoint_id, payload, attempts, retry_from)) = row else {
        return Ok(None);
    };
    let endpoint: Option<(String, String)> =
        sqlx::query_as("SELECT url, sealed_secret FROM webhook_endpoints WHERE id = $1")
            .bind(&endpoint_id)
            .fetch_optional(&db.pool)
            .await?;
    // Deleted meanwhile: its deliveries went with it.
    let Some((url, sealed_secret)) = endpoint else {
        return Ok(None);
    };
    Ok(Some(Claimed {
        id,
        endpoint_id,
        url,
        sealed_secret,
        payload,
        attempts,
        retry_from,
    }))
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status_code: Option<u16>,
    /// `None`: delivered (a 2xx).
    pub error: Option<String>,
}

/// Records an attempt: delivered, due again at `next`, or (with no `next`)
/// failed for good.
pub async fn record(
    db: &Db,
    id: &str,
    attempt: &Attempt,
    next: Option<i64>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let (status, next_at, delivered_at) = match (&attempt.error, next) {
        (None, _) => ("delivered", now, Some(now)),
        (Some(_), Some(next)) => ("pending", next, None),
        (Some(_), None) => ("failed", now, None),
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, next_attempt_at = $2, \
         last_attempt_at = $3, last_status_code = $4, last_error = $5, delivered_at = $6 WHERE id = $7",
    )
    .bind(status)
    .bind(next_at)
    .bind(now)
    .bind(attempt.status_code.map(i64::from))
    .bind(attempt.error.as_deref())
    .bind(delivered_at)
    .bind(id)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// The delay before retry number `attempts` (1-based): `base`, doubling, capped.
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let doublings = attempts.clamp(1, 32) as u32 - 1;
    base.saturating_mul(2u32.saturating_pow(doublings))
        .min(MAX_BACKOFF)
}

type Row = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<i64>,
    i64,
);

const SELECT: &str = "SELECT id, endpoint_id, event, status, attempts, next_attempt_at, \
     last_attempt_at, last_status_code, last_error, delivered_at, created_at FROM webhook_deliveries";

fn from_row(r: Row) -> Delivery {
    let status = DeliveryStatus::parse(&r.3);
    Delivery {
        id: r.0,
        endpoint_id: r.1,
        event: r.2,
        status,
        attempts: r.4,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(r.5),
        last_attempt_at: r.6,
        last_status_code: r.7,
        last_error: r.8,
        delivered_at: r.9,
        created_at: r.10,
    }
}

/// An endpoint's deliveries, newest first.
pub async fn list(db: &Db, endpoint_id: &str, limit: i64) -> Result<Vec<Delivery>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{SELECT} WHERE endpoint_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(endpoint_id)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Queues a delivery for an attempt now, with a fresh retry window
/// (a dead letter gets another day; a delivered one is sent again).
pub async fn retry(db: &Db, endpoint_id: &str, id: &str) -> Result<Delivery, WebhookError> {
    let now = now_ms();
    let changed = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, retry_from = $1 \
         WHERE id = $2 AND endpoint_id = $3",
    )
    .bind(now)
    .bind(id)
    .bind(endpoint_id)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(WebhookError::NotFound("delivery"));
    }
    let row: Row = sqlx::query_as(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_one(&db.pool)
        .await?;
    Ok(from_row(row))
}

/// Unix milliseconds as RFC 3339 UTC (`2026-12-02T14:22:05.123Z`).
pub fn rfc3339(ms: i64) -> String {
    use time::format_description::{self, OwnedFormatItem};
    // Always three fractional digits, so every timestamp has one width.
    static FORMAT: std::sync::OnceLock<OwnedFormatItem> = std::sync::OnceLock::new();
    let format = FORMAT.get_or_init(|| {
        format_description::parse_owned::<2>(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z",
        )
        .expect("a valid format description")
    });
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .format(format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_796_221_325_000), "2026-12-02T14:22:05.000Z");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 4), Duration::from_secs(40));
        assert_eq!(backoff(base, 30), MAX_BACKOFF);
    }
}
