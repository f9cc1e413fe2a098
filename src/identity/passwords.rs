//! Password hashing with argon2id (the crate's OWASP-recommended defaults).
//!
//! Hashing is deliberately slow, so it runs on the blocking pool. A login for
//! an unknown email still verifies against a fixed dummy hash so response
//! time does not tell which emails exist.
//!
//! Each hash takes 19 MiB, so at most one hash per core runs at a time
//! ([`HASHING`]): a crowd logging in at a lecture's start queues for the
//! cores it would wait for anyway instead of holding one 19 MiB block each
//! (48 logins at once took a debug server from 120 MiB to 2.7 GiB). With
//! glibc's large blocks mapped and unmapped ([`crate::memory`]) the memory
//! goes back once the crowd has passed.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use zeroize::Zeroizing;

use super::{IdentityError, Invalid};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest password accepted (bounds hashing work per request).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Refuses passwords too short to resist guessing or too long to hash cheaply.
pub fn check_password_policy(password: &str) -> Result<(), IdentityError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(IdentityError::Invalid(
            Invalid::Password,
            format!("passwords need at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(IdentityError::Invalid(
            Invalid::Password,
            format!("passwords may have at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
}

/// The PHC string (`$argon2id$v=19$…`) of `password` with a fresh random salt.
pub fn hash_password_blocking(password: &str) -> Result<String, IdentityError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| IdentityError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| IdentityError::Hash(e.to_string()))
}

/// Whether `password` matches the stored PHC string (constant time inside argon2).
pub fn verify_password_blocking(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password_blocking("sealcast-dummy-password").unwrap_or_else(|_| String::new())
    })
}

/// One permit per core: the hashes allowed to run (and hold memory) at once.
fn hashing() -> &'static Semaphore {
    static HASHING: OnceLock<Semaphore> = OnceLock::new();
    HASHING.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Semaphore::new(cores.clamp(1, 8))
    })
}

/// Hashes on the blocking pool, one hash per core at a time.
pub async fn hash_password(password: &str) -> Result<String, IdentityError> {
    let password = Zeroizing::new(password.to_string());
    let _permit = hashing()
        .acquire()
        .await
        .map_err(|e| IdentityError::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|e| IdentityError::Hash(e.to_string()))?
}

/// Verifies on the blocking pool; with `phc = None` (unknown user) it burns
/// the same time against a dummy hash and answers false.
pub async fn verify_password(password: &str, phc: Option<String>) -> bool {
    let password = Zeroizing::new(password.to_string());
    let Ok(_permit) = hashing().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_password_blocking(&password, &phc),
        None => {
            let _ = verify_password_blocking(&password, dummy_hash());
            false
        }
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash_password_blocking("correct horse").unwrap();
        let b = hash_password_blocking("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify_password_blocking("correct horse", &a));
        assert!(!verify_password_blocking("correct horsE", &a));
        assert!(!verify_password_blocking("correct horse", "not a hash"));
    }

    #[test]
    fn policy() {
        assert!(check_password_policy("short").is_err());
        assert!(check_password_policy(&"x".repeat(2000)).is_err());
        assert!(check_password_policy("long enough").is_ok());
    }
}
