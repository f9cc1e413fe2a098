//! Rate limits every node shares: a GCRA cell per key in the database (the
//! algorithm governor runs in memory), taken by one atomic upsert, so N
//! edges behind a balancer grant one budget, not N. For limits on rare,
//! expensive requests (login attempts), where one more statement costs
//! nothing next to argon2; hot paths keep node-local limits.

use std::time::Duration;

use super::Db;

/// `limit` requests per `period`, all of them at once at most (burst = limit).
#[derive(Debug, Clone, Copy)]
pub struct SharedQuota {
    pub limit: u32,
    pub period: Duration,
}

impl SharedQuota {
    /// Milliseconds between two requests at the sustained rate (≥ 1).
    fn emission_ms(self) -> i64 {
        (self.period.as_millis() as i64 / i64::from(self.limit.max(1))).max(1)
    }

    /// How far ahead of now the cell may run before a request is refused.
    fn tolerance_ms(self) -> i64 {
        self.emission_ms() * i64::from(self.limit.max(1) - 1)
    }
}

/// Takes one request from `key`'s budget at `now_ms`: `Ok(None)` if allowed,
/// `Ok(Some(seconds))` to wait if not (≥ 1).
pub async fn take(
    db: &Db,
    key: &str,
    quota: SharedQuota,
    now_ms: i64,
) -> Result<Option<u64>, sqlx::Error> {
    // `start` is max(tat, now): where this request would begin. Both SET
    // expressions read the row as it was, on SQLite and PostgreSQL alike.
    let start = "CASE WHEN rate_limits.tat > $2 THEN rate_limits.tat ELSE $2 END";
    let over = format!("({start}) - $2 > $4");
    let sql = format!(
        "INSERT INTO rate_limits (key, tat, allowed) VALUES ($1, $2 + $3, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           allowed = CASE WHEN {over} THEN 0 ELSE 1 END, \
           tat = CASE WHEN {over} THEN rate_limits.tat ELSE ({start}) + $3 END \
         RETURNING allowed, tat"
    );
    let (allowed, tat): (i64, i64) = sqlx::query_as(&sql)
        .bind(key)
        .bind(now_ms)
        .bind(quota.emission_ms())
        .bind(quota.tolerance_ms())
        .fetch_one(&db.pool)
        .await?;
    if allowed == 1 {
        return Ok(None);
    }
    let wait_ms = (tat - now_ms - quota.tolerance_ms()).max(1);
    Ok(Some((wait_ms as u64).div_ceil(1000)))
}

/// Forgets cells whose bucket is full again (they mean nothing any more).
pub async fn prune(db: &Db, now_ms: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM rate_limits WHERE tat < $1")
        .bind(now_ms)
        .execute(&db.pool)
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_shared_budget_refuses_the_request_over_the_limit_and_refills() {
        let tmp = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", tmp.path().join("rl.db").display());
        let db = Db::connect(&url).await.unwrap();
        // Another node's pool on the same database shares the budget.
        let other = Db::connect(&url).await.unwrap();
        let quota = SharedQuota {
            limit: 3,
            period: Duration::from_secs(60),
        };
        let t0 = 1_000_000_000;
        assert_eq!(take(&db, "k", quota, t0).await.unwrap(), None);
        assert_eq!(take(&other, "k", quota, t0 + 1).await.unwrap(), None);
        assert_eq!(take(&db, "k", quota, t0 + 2).await.unwrap(), None);
        let wait = take(&other, "k", quota, t0 + 3).await.unwrap();
        assert_eq!(wait, Some(20), "one request back every 20 s");
        // A refusal costs nothing: still 20 s.
        assert_eq!(take(&db, "k", quota, t0 + 4).await.unwrap(), Some(20));
        assert_eq!(take(&db, "other-key", quota, t0 + 4).await.unwrap(), None);
        // 20 s later one request fits again, and only one.
        assert_eq!(take(&db, "k", quota, t0 + 20_000).await.unwrap(), None);
        assert!(take(&db, "k", quota, t0 + 20_001).await.unwrap().is_some());
        // Full buckets are forgotten; a cell still running is kept.
        assert_eq!(prune(&db, t0 + 30_000).await.unwrap(), 1, "other-key");
        assert_eq!(prune(&db, t0 + 200_000).await.unwrap(), 1, "k");
    }
}
