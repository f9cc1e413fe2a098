//! Login rate limits: a budget per client IP and one per account, so neither
//! a single address nor a botnet aimed at one account can guess passwords
//! quickly. Each is kept twice: in memory (governor), which turns a flood
//! away without touching the database, and in the database every node
//! shares ([`crate::db::rate_limits`]), so N edges behind a balancer grant
//! one budget, not N.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::db::rate_limits::{self, SharedQuota};
use crate::db::{now_ms, Db};

/// Above this many tracked keys, forget the ones whose buckets are full again.
const SHRINK_ABOVE: usize = 50_000;

pub struct LoginLimits {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_email: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    shared_ip: SharedQuota,
    shared_email: SharedQuota,
}

impl std::fmt::Debug for LoginLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimits").finish_non_exhaustive()
    }
}

fn shared(per_minute: u32) -> SharedQuota {
    SharedQuota {
        limit: per_minute.max(1),
        period: std::time::Duration::from_secs(60),
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl LoginLimits {
    /// `per_ip` and `per_email` attempts per minute (each also the burst).
    pub fn new(per_ip: u32, per_email: u32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(per_minute(per_ip)),
            per_email: RateLimiter::keyed(per_minute(per_email)),
            clock: DefaultClock::default(),
            shared_ip: shared(per_ip),
            shared_email: shared(per_email),
        }
    }

    /// [`check`](Self::check) here, then the budgets every node shares:
    /// `Ok(Err(seconds))` to wait if any is empty.
    pub async fn check_everywhere(
        &self,
        db: &Db,
        ip: Option<IpAddr>,
        email: &str,
    ) -> Result<Result<(), u64>, sqlx::Error> {
        if let Err(wait) = self.check(ip, email) {
            return Ok(Err(wait));
        }
        let now = now_ms();
        if let Some(ip) = ip {
            let key = format!("login-ip:{}", ip.to_canonical());
            if let Some(wait) = rate_limits::take(db, &key, self.shared_ip, now).await? {
                return Ok(Err(wait));
            }
        }
        // The account's key is a hash: no table but the users' holds emails.
        let key = format!(
            "login-email:{}",
            hex::encode(Sha256::digest(email.as_bytes()))
        );
        if let Some(wait) = rate_limits::take(db, &key, self.shared_email, now).await? {
            return Ok(Err(wait));
        }
        // Now and then, forget full buckets (bounded table).
        if rand::random::<u8>() == 0 {
            rate_limits::prune(db, now).await?;
        }
        Ok(Ok(()))
    }

    /// Takes one attempt from both buckets; `Err(seconds)` to wait if either is empty.
    pub fn check(&self, ip: Option<IpAddr>, email: &str) -> Result<(), u64> {
        if self.per_ip.len() > SHRINK_ABOVE {
            self.per_ip.retain_recent();
        }
        if self.per_email.len() > SHRINK_ABOVE {
            self.per_email.retain_recent();
        }
        let wait = |not_until: governor::NotUntil<_>| {
            let d = not_until.wait_time_from(self.clock.now());
            (d.as_millis().div_ceil(1000) as u64).max(1)
        };
        if let Some(ip) = ip {
            self.per_ip.check_key(&ip).map_err(wait)?;
        }
        self.per_email.check_key(&email.to_string()).map_err(wait)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_email_and_per_ip_buckets() {
        let limits = LoginLimits::new(4, 2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limits.check(Some(ip), "a@x.y").is_ok());
        assert!(limits.check(Some(ip), "a@x.y").is_ok());
        let wait = limits.check(Some(ip), "a@x.y").unwrap_err();
        assert!((1..=60).contains(&wait));
        assert!(limits.check(Some(ip), "b@x.y").is_ok());
        // The IP bucket (4) is now empty, whatever the account.
        assert!(limits.check(Some(ip), "c@x.y").is_err());
        assert!(limits
            .check(Some("192.0.2.2".parse().unwrap()), "c@x.y")
            .is_ok());
    }
}
