//! Users of the external issuer: their own namespace, `(issuer, subject)`, kept
//! in `external_identities` beside the local account each one gets on first
//! sight. The local id is derived from both (`sealcast_keyserver::external_user_id`),
//! so no subject can name a local account, whatever the platform puts in it.

use super::users::{get_user, User, NO_PASSWORD};
use super::{is_unique_violation, IdentityError, Invalid, Role};
use crate::db::{now_ms, Db};

/// Who the external issuer vouched for.
#[derive(Debug, Clone, Copy)]
pub struct ExternalIdentity<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    /// The local id of `(issuer, subject)`.
    pub user_id: &'a str,
    /// The role the token maps to (never admin unless configured).
    pub role: Role,
}

/// The account of an external user, created with its identity row on their
/// first request. A concurrent first request may win the race: then its row is used.
pub async fn provision_external(db: &Db, who: ExternalIdentity<'_>) -> Result<User, IdentityError> {
    let usable = |s: &str| {
        !s.is_empty() && s.len() <= 256 && !s.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    if !usable(who.subject) || who.subject.len() > 128 || !usable(who.user_id) {
        return Err(IdentityError::Invalid(
            Invalid::Token,
            "external user id is not usable".into(),
        ));
    }
    let now = now_ms();
    let mut tx = db.pool.begin().await?;
    let inserted = async {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(who.user_id)
        .bind(format!("{}@external.invalid", who.user_id))
        .bind(NO_PASSWORD)
        .bind(who.role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO external_identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(who.issuer)
        .bind(who.subject)
        .bind(who.user_id)
        .bind(now)
        .execute(&mut *tx)
        .await
    }
    .await;
    match inserted {
        Ok(_) => tx.commit().await?,
        Err(e) if is_unique_violation(&e) => tx.rollback().await?,
        Err(e) => return Err(e.into()),
    }
    get_user(db, who.user_id)
        .await?
        .ok_or(IdentityError::NotFound("user"))
}
