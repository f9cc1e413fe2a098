//! The audit log: every key grant and denial, logins, refresh reuse and
//! admin actions, newest first through `GET /api/v1/admin/audit`.
//!
//! `seq` orders entries and pages the listing. It is made by the application
//! (no sequences in portable SQL): unix milliseconds × 1000 plus a per-process
//! offset, strictly increasing within a process and unique across nodes by a
//! unique index (a rare collision retries). It stays below 2^53 so
//! JavaScript reads it exactly.

use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;

use serde::Serialize;

use super::{is_unique_violation, IdentityError};
use crate::db::{new_id, now_ms, Db};

/// One thing that happened.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord<'a> {
    /// E.g. `key`, `login`, `refresh`, `playback.start`, `revoke.user`.
    pub action: &'a str,
    /// `granted`, `denied` or `ok`.
    pub outcome: &'a str,
    /// Stable reason code, e.g. `granted`, `invalid_credentials`, `key_pacing`.
    pub reason: Option<&'a str>,
    pub actor_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub video_id: Option<&'a str>,
    pub key_id: Option<&'a str>,
    pub ip: Option<IpAddr>,
    /// Key pacing denial (a speed bump, not a wall).
    pub pacing: bool,
    /// Extra JSON, e.g. the HTTP status or an email that failed to log in.
    pub detail: Option<serde_json::Value>,
}

fn next_seq() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    static OFFSET: OnceLock<i64> = OnceLock::new();
    let offset = *OFFSET.get_or_init(|| i64::from(rand::random::<u16>() % 1000));
    let candidate = now_ms() * 1000 + offset;
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = candidate.max(last + 1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => last = actual,
        }
    }
}

/// `detail` as stored: the record's JSON plus the pacing flag.
fn stored_detail(r: &AuditRecord<'_>) -> Option<String> {
    let mut detail = r.detail.clone().unwrap_or(serde_json::Value::Null);
    if r.pacing {
        if !detail.is_object() {
            detail = serde_json::json!({});
        }
        detail["pacing"] = serde_json::Value::Bool(true);
    }
    (!detail.is_null()).then(|| detail.to_string())
}

/// The INSERT for one record with a fresh seq (run on a pool or a transaction).
pub(crate) fn insert_query<'q>(
    r: &'q AuditRecord<'q>,
    detail: &'q Option<String>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    bind_record(
        sqlx::query(
            "INSERT INTO audit_log (seq, id, at, actor_id, action, outcome, reason, session_id, video_id, key_id, ip, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        ),
        r,
        detail,
    )
}

/// Binds one record's twelve columns, in the order of [`insert_query`].
fn bind_record<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    r: &'q AuditRecord<'q>,
    detail: &'q Option<String>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(next_seq())
        .bind(new_id())
        .bind(now_ms())
        .bind(r.actor_id)
        .bind(r.action)
        .bind(r.outcome)
        .bind(r.reason)
        .bind(r.session_id)
        .bind(r.video_id)
        .bind(r.key_id)
        .bind(r.ip.map(|ip| ip.to_string()))
        .bind(detail.as_deref())
}

/// Appends an entry.
pub async fn record(db: &Db, r: &AuditRecord<'_>) -> Result<(), IdentityError> {
    let detail = stored_detail(r);
    let mut attempts = 0;
    loop {
        match insert_query(r, &detail).execute(&db.pool).await {
            Ok(_) => return Ok(()),
            Err(e) if is_unique_violation(&e) && attempts < 3 => attempts += 1,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Appends several entries in one transaction (one commit for all of them).
pub async fn record_batch(db: &Db, records: &[AuditRecord<'_>]) -> Result<(), IdentityError> {
    let chunks: Vec<&[AuditRecord<'_>]> = records.chunks(ROWS_PER_INSERT).collect();
    if let [only] = chunks.as_slice() {
        // One statement is atomic on its own: no BEGIN/COMMIT round trips.
        insert_rows(&db.pool, only).await?;
        return Ok(());
    }
    let mut tx = db.pool.begin().await?;
    for chunk in chunks {
        insert_rows(&mut *tx, chunk).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Rows per multi-row INSERT: 12 parameters each stays far below SQLite's
/// and PostgreSQL's parameter limits.
const ROWS_PER_INSERT: usize = 64;

/// One multi-row INSERT: on SQLite every statement is a hand-off to the
/// connection's worker thread, so a batch of n records costs one, not n.
async fn insert_rows<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    ex: E,
    records: &[AuditRecord<'_>],
) -> Result<(), sqlx::Error> {
    const COLUMNS: usize = 12;
    let mut sql = String::from(
        "INSERT INTO audit_log (seq, id, at, actor_id, action, outcome, reason, session_id, video_id, key_id, ip, detail) VALUES ",
    );
    for row in 0..records.len() {
        let params: Vec<String> = (1..=COLUMNS)
            .map(|c| format!("${}", row * COLUMNS + c))
            .collect();
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("({})", params.join(", ")));
    }
    let details: Vec<Option<String>> = records.iter().map(stored_detail).collect();
    let mut query = sqlx::query(&sql);
    for (r, detail) in records.iter().zip(&details) {
        query = bind_record(query, r, detail);
    }
    query.execute(ex).await.map(|_| ())
}

/// Records and logs instead of failing: for denials and admin actions whose
/// response must not depend on the audit write.
pub async fn record_best_effort(db: &Db, r: &AuditRecord<'_>) {
    if let Err(err) = record(db, r).await {
        tracing::warn!(action = r.action, error = %err, "audit write failed");
    }
}

/// One entry as the admin API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    pub actor_id: Option<String>,
    pub action: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub session_id: Option<String>,
    pub video_id: Option<String>,
    pub key_id: Option<String>,
    pub ip: Option<String>,
    /// True for key pacing denials.
    pub pacing: bool,
}

/// Entries with `seq < before` (all when `None`), newest first.
pub async fn list(
    db: &Db,
    limit: i64,
    before: Option<i64>,
) -> Result<Vec<AuditEntry>, IdentityError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        seq: i64,
        at: i64,
        actor_id: Option<String>,
        action: String,
        outcome: String,
        reason: Option<String>,
        session_id: Option<String>,
        video_id: Option<String>,
        key_id: Option<String>,
        ip: Option<String>,
        detail: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT seq, at, actor_id, action, outcome, reason, session_id, video_id, key_id, ip, detail \
         FROM audit_log WHERE seq < $1 ORDER BY seq DESC LIMIT $2",
    )
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AuditEntry {
            pacing: r
                .detail
                .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
                .is_some_and(|d| d["pacing"] == serde_json::Value::Bool(true)),
            seq: r.seq,
            at: r.at / 1000,
            actor_id: r.actor_id,
            action: r.action,
            outcome: r.outcome,
            reason: r.reason,
            session_id: r.session_id,
            video_id: r.video_id,
            key_id: r.key_id,
            ip: r.ip,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn seq_increases_and_fits_javascript() {
        let a = super::next_seq();
        let b = super::next_seq();
        assert!(b > a);
        assert!(b < (1i64 << 53));
    }

    /// Batches of one statement and of several (over [`super::ROWS_PER_INSERT`])
    /// land whole, every field in place.
    #[tokio::test]
    async fn a_batch_lands_whole_in_one_or_several_inserts() {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("audit.db").display());
        let db = crate::db::Db::connect(&url).await.unwrap();
        for n in [1, 3, super::ROWS_PER_INSERT * 2 + 5] {
            let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
            let records: Vec<super::AuditRecord<'_>> = keys
                .iter()
                .map(|k| super::AuditRecord {
                    action: "key",
                    outcome: "granted",
                    reason: Some("granted"),
                    key_id: Some(k),
                    ip: Some("192.0.2.7".parse().unwrap()),
                    pacing: true,
                    ..Default::default()
                })
                .collect();
            super::record_batch(&db, &records).await.unwrap();
            let listed = super::list(&db, 1000, None).await.unwrap();
            let mut got: Vec<String> = listed
                .iter()
                .filter(|e| {
                    e.key_id
                        .as_deref()
                        .is_some_and(|k| keys.contains(&k.to_string()))
                })
                .map(|e| {
                    assert_eq!(
                        (e.action.as_str(), e.ip.as_deref()),
                        ("key", Some("192.0.2.7"))
                    );
                    assert!(e.pacing);
                    e.key_id.clone().unwrap()
                })
                .collect();
            got.sort();
            got.dedup();
            assert_eq!(got.len(), n, "batch of {n}");
            sqlx::query("DELETE FROM audit_log")
                .execute(&db.pool)
                .await
                .unwrap();
        }
    }
}
