//! A user's preferences, kept on the server rather than in one browser: a
//! learner who studies at 1.5× on a laptop expects 1.5× on the phone too.
//!
//! For now there is one, the playback speed. The player offers 0.5× to 2×;
//! key pacing lets up to 2× through (`PacingConfig::speedup`), so a faster
//! setting would only earn `429 key_pacing` and is refused here instead.

use serde::{Deserialize, Serialize};

use super::{IdentityError, Invalid};
use crate::db::{now_ms, Db};

/// Slowest and fastest playback speed, in hundredths.
const MIN_RATE_PCT: i64 = 50;
const MAX_RATE_PCT: i64 = 200;

/// What the API shows and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    /// Playback speed, 0.5 to 2 in steps of at least 0.01. Default 1.
    #[schema(example = 1.5)]
    pub playback_rate: f64,
}

impl Default for Preferences {
    fn default() -> Self {
        Self { playback_rate: 1.0 }
    }
}

/// The speed in hundredths, or why it is refused. Hundredths because a rate
/// is a choice from a menu, and an exact integer compares and stores the same
/// on SQLite and PostgreSQL.
fn rate_pct(rate: f64) -> Result<i64, IdentityError> {
    let refuse = || {
        IdentityError::Invalid(
            Invalid::PlaybackRate,
            "playback_rate must be between 0.5 and 2, in hundredths".into(),
        )
    };
    if !rate.is_finite() {
        return Err(refuse());
    }
    let pct = (rate * 100.0).round();
    if (rate * 100.0 - pct).abs() > 1e-6
        || !(MIN_RATE_PCT as f64..=MAX_RATE_PCT as f64).contains(&pct)
    {
        return Err(refuse());
    }
    Ok(pct as i64)
}

/// The user's preferences; the defaults if they never chose.
pub async fn get(db: &Db, user_id: &str) -> Result<Preferences, IdentityError> {
    let pct: Option<i64> =
        sqlx::query_scalar("SELECT playback_rate_pct FROM user_preferences WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(pct.map_or_else(Preferences::default, |pct| Preferences {
        playback_rate: pct as f64 / 100.0,
    }))
}

/// Replaces the user's preferences, checked first: nothing is stored when
/// any value is refused.
pub async fn set(db: &Db, user_id: &str, prefs: Preferences) -> Result<Preferences, IdentityError> {
    let pct = rate_pct(prefs.playback_rate)?;
    sqlx::query(
        "INSERT INTO user_preferences (user_id, playback_rate_pct, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET playback_rate_pct = $2, updated_at = $3",
    )
    .bind(user_id)
    .bind(pct)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(Preferences {
        playback_rate: pct as f64 / 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_players_menu_is_accepted_in_hundredths() {
        for (rate, pct) in [
            (0.5, 50),
            (0.75, 75),
            (1.0, 100),
            (1.25, 125),
            (1.5, 150),
            (2.0, 200),
        ] {
            assert_eq!(rate_pct(rate).unwrap(), pct, "{rate}");
        }
        // Binary fractions that are not exact still land on their hundredth.
        assert_eq!(rate_pct(1.1).unwrap(), 110);
    }

    #[test]
    fn too_slow_too_fast_too_fine_or_not_a_number_is_refused() {
        for rate in [0.49, 2.01, 0.0, -1.0, 3.0, 1.234, f64::NAN, f64::INFINITY] {
            let err = rate_pct(rate).unwrap_err();
            assert!(
                matches!(err, IdentityError::Invalid(Invalid::PlaybackRate, _)),
                "{rate}"
            );
        }
    }
}
