//! Accounts: admin, creator or learner, identified by a normalised email.

use serde::Serialize;

use super::passwords::{check_password_policy, hash_password};
use super::{taken_or_db, IdentityError, Invalid, Role};
use crate::db::{new_id, now_ms, Db};

/// An account as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    #[schema(value_type = String, example = "learner")]
    pub role: Role,
    pub disabled: bool,
    /// Unix seconds.
    pub created_at: i64,
}

type UserRow = (String, String, String, Option<i64>, i64);

fn from_row((id, email, role, disabled_at, created_at): UserRow) -> Result<User, IdentityError> {
    let role = role
        .parse()
        .map_err(|_| IdentityError::Invalid(Invalid::Role, format!("stored role {role}")))?;
    Ok(User {
        id,
        email,
        role,
        disabled: disabled_at.is_some(),
        created_at: created_at / 1000,
    })
}

const COLUMNS: &str = "id, email, role, disabled_at, created_at";

/// `admin`, `creator` or `learner`.
pub fn parse_role(role: &str) -> Result<Role, IdentityError> {
    role.parse().map_err(|_| {
        IdentityError::Invalid(
            Invalid::Role,
            "role must be admin, creator or learner".into(),
        )
    })
}

/// Emails compare case-insensitively: stored trimmed and lower-cased.
pub fn normalize_email(email: &str) -> Result<String, IdentityError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(IdentityError::Invalid(
            Invalid::Email,
            "not an email address".into(),
        ))
    }
}

/// Creates an account with an argon2id password hash. 409-worthy
/// [`IdentityError::EmailTaken`] if the email is registered.
pub async fn create_user(
    db: &Db,
    email: &str,
    password: &str,
    role: Role,
) -> Result<User, IdentityError> {
    let email = normalize_email(email)?;
    check_password_policy(password)?;
    if find_by_email(db, &email).await?.is_some() {
        return Err(IdentityError::EmailTaken);
    }
    let hash = hash_password(password).await?;
    let user = User {
        id: new_id(),
        email,
        role,
        disabled: false,
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&user.id)
    .bind(&user.email)
    .bind(&hash)
    .bind(role.as_str())
    .bind(user.created_at)
    .execute(&db.pool)
    .await
    .map_err(taken_or_db(IdentityError::EmailTaken))?;
    Ok(User {
        created_at: user.created_at / 1000,
        ..user
    })
}

/// Password hash of accounts that cannot log in with a password (external
/// users): not a PHC string, so verification always fails.
pub const NO_PASSWORD: &str = "!external";

/// The account and its password hash, for login.
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<(User, String)>, IdentityError> {
    let row: Option<(String, String, String, Option<i64>, i64, String)> = sqlx::query_as(
        "SELECT id, email, role, disabled_at, created_at, password_hash FROM users WHERE email = $1",
    )
    .bind(email)
    .fetch_optional(&db.pool)
    .await?;
    match row {
        None => Ok(None),
        Some((id, email, role, disabled, created, hash)) => Ok(Some((
            from_row((id, email, role, disabled, created))?,
            hash,
        ))),
    }
}

pub async fn get_user(db: &Db, id: &str) -> Result<Option<User>, IdentityError> {
    let row: Option<UserRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    row.map(from_row).transpose()
}

/// All accounts, oldest first (admin listing; bounded).
pub async fn list_users(db: &Db) -> Result<Vec<User>, IdentityError> {
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users ORDER BY created_at, id LIMIT 10000"
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.into_iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email(" A@Example.COM ").unwrap(), "a@example.com");
        for bad in ["", "a", "a@b", "@b.c", "a b@c.d"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
