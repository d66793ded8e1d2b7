//! The login rate limit, kept in the database so every instance on it shares it.
//!
//! A login is keyed twice — by the lower-cased user name and by the client address — and
//! each key counts its failures in a fixed window ([`WINDOW`]) that starts at its first
//! failure. Once a key has [`MAX_FAILURES`] failures in its window, logins with that key
//! answer 429 (even with the right password) until the window ends. Counting is one
//! portable upsert per key (`INSERT … ON CONFLICT … DO UPDATE`, SQLite ≥ 3.24 and
//! PostgreSQL), so two instances racing on one key both count; a window that has ended
//! restarts in the same statement. Keys are stored as digests: user names a stranger
//! typed are not kept, and every key has the same size. Old windows are swept by the
//! workers ([`sweep`]).
//!
//! ```text
//!  login ─► check(keys) ── any key ≥ MAX_FAILURES in window ─► 429 (retry after …)
//!             │ no
//!             ▼
//!          verify password ── wrong ─► record_failure(keys) ─► 401
//! ```

use std::time::Duration;

use sqlx::Row as _;

use crate::crypto::digest;
use crate::db::now_ms;
use crate::state::AppState;

/// Failures allowed per key within [`WINDOW`] before logins answer 429.
pub const MAX_FAILURES: i64 = 5;
/// Length of a key's counting window, from its first failure.
pub const WINDOW: Duration = Duration::from_secs(300);

fn window_ms() -> i64 {
    WINDOW.as_millis() as i64
}

/// The keys of one login attempt.
pub fn keys(username_lc: &str, ip: std::net::IpAddr) -> [String; 2] {
    [
        digest(&format!("u:{username_lc}")),
        digest(&format!("ip:{ip}")),
    ]
}

/// Seconds until a login with these keys may be tried again, if one of them is limited.
pub async fn check(state: &AppState, keys: &[String; 2]) -> Result<Option<u64>, sqlx::Error> {
    let now = now_ms();
    let rows = sqlx::query(
        "SELECT failures, window_start_ms FROM login_failures WHERE key_hash IN ($1, $2) \
         AND window_start_ms > $3",
    )
    .bind(&keys[0])
    .bind(&keys[1])
    .bind(now - window_ms())
    .fetch_all(&state.db.pool)
    .await?;
    let mut wait = None;
    for r in rows {
        let failures: i64 = r.try_get("failures")?;
        let start: i64 = r.try_get("window_start_ms")?;
        if failures >= MAX_FAILURES {
            let secs = ((start + window_ms() - now).max(0) / 1000 + 1) as u64;
            wait = wait.max(Some(secs));
        }
    }
    Ok(wait)
}

/// Count one failure for each key.
pub async fn record_failure(state: &AppState, keys: &[String; 2]) -> Result<(), sqlx::Error> {
    crate::metrics::LOGIN_FAILURES.inc();
    let now = now_ms();
    let expired = now - window_ms();
    for k in keys {
        sqlx::query(
            "INSERT INTO login_failures (key_hash, failures, window_start_ms) VALUES ($1, 1, $2) \
             ON CONFLICT (key_hash) DO UPDATE SET \
             failures = CASE WHEN login_failures.window_start_ms <= $3 THEN 1 \
                        ELSE login_failures.failures + 1 END, \
             window_start_ms = CASE WHEN login_failures.window_start_ms <= $4 THEN $5 \
                        ELSE login_failures.window_start_ms END",
        )
        .bind(k)
        .bind(now)
        .bind(expired)
        .bind(expired)
        .bind(now)
        .execute(&state.db.pool)
        .await?;
    }
    Ok(())
}

/// Forget windows that have ended.
pub async fn sweep(state: &AppState) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM login_failures WHERE window_start_ms <= $1")
        .bind(now_ms() - window_ms())
        .execute(&state.db.pool)
        .await?;
    Ok(())
}
