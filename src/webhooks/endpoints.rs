//! The `webhook_endpoints` table: where events go and which ones. The
//! signing secret is made here, returned once, and stored sealed under the
//! keyring's key (bound to the endpoint's id), so a database dump alone
//! cannot forge deliveries.

use sealcast_keyserver::KeyringSeal;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{signing, ssrf, Event, WebhookError};
use crate::db::{new_id, now_ms, Db};

/// Endpoints at most; each event is one row per subscribed endpoint.
pub const MAX_ENDPOINTS: i64 = 100;

/// One registered endpoint, as the API shows it (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// What an admin asks for.
#[derive(Debug, Clone)]
pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub events: &'a [String],
    pub created_by: &'a str,
}

/// AEAD label of an endpoint's sealed secret.
pub fn secret_label(id: &str) -> String {
    format!("webhook-secret:{id}")
}

/// The known, distinct event names in `names`, at least one.
fn events(names: &[String]) -> Result<Vec<String>, WebhookError> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let event = Event::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
            WebhookError::InvalidEvents(format!(
                "`{}` is not an event; known: {}",
                name.chars().take(64).collect::<String>(),
                known.join(", ")
            ))
        })?;
        if !out.iter().any(|e| e == event.as_str()) {
            out.push(event.as_str().to_string());
        }
    }
    if out.is_empty() {
        return Err(WebhookError::InvalidEvents(
            "name at least one event".into(),
        ));
    }
    Ok(out)
}

/// Registers an endpoint after checking its URL resolves to public
/// addresses; returns it with its secret (the only time it is shown).
pub async fn create(
    db: &Db,
    seal: &KeyringSeal,
    allow_private: bool,
    new: &NewEndpoint<'_>,
) -> Result<(Endpoint, Zeroizing<String>), WebhookError> {
    let events = events(new.events)?;
    let target = ssrf::check(new.url, allow_private).await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints")
        .fetch_one(&db.pool)
        .await?;
    if count >= MAX_ENDPOINTS {
        return Err(WebhookError::InvalidEvents(format!(
            "at most {MAX_ENDPOINTS} endpoints; delete one first"
        )));
    }
    let id = format!("ep_{}", new_id());
    let secret = signing::new_secret();
    let endpoint = Endpoint {
        id,
        url: target.url.to_string(),
        events,
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO webhook_endpoints (id, url, events, sealed_secret, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&endpoint.id)
    .bind(&endpoint.url)
    .bind(serde_json::to_string(&endpoint.events).unwrap_or_else(|_| "[]".into()))
    .bind(seal.seal(&secret_label(&endpoint.id), secret.as_bytes()))
    .bind(new.created_by)
    .bind(endpoint.created_at)
    .execute(&db.pool)
    .await?;
    Ok((endpoint, secret))
}

type Row = (String, String, String, i64);

fn from_row((id, url, events, created_at): Row) -> Endpoint {
    Endpoint {
        id,
        url,
        events: serde_json::from_str(&events).unwrap_or_default(),
        created_at,
    }
}

/// Every endpoint, oldest first.
pub async fn list(db: &Db) -> Result<Vec<Endpoint>, WebhookError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, url, events, created_at FROM webhook_endpoints ORDER BY created_at, id",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

pub async fn find(db: &Db, id: &str) -> Result<Option<Endpoint>, WebhookError> {
    let row: Option<Row> =
        sqlx::query_as("SELECT id, url, events, created_at FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(from_row))
}

/// Removes an endpoint and its deliveries; `NotFound` if there was none.
pub async fn delete(db: &Db, id: &str) -> Result<(), WebhookError> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    if gone == 0 {
        return Err(WebhookError::NotFound("webhook"));
    }
    Ok(())
}

/// Opens an endpoint's sealed secret for signing.
pub fn open_secret(
    seal: &KeyringSeal,
    id: &str,
    sealed: &str,
) -> Result<Zeroizing<String>, WebhookError> {
    let raw = seal
        .open(&secret_label(id), sealed)
        .map_err(|_| WebhookError::Sealed)?;
    String::from_utf8(raw.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| WebhookError::Sealed)
}
