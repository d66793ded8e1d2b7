//! The login rate limit, kept in the database so every instance on it shares it.
//!
//! A login is keyed twice — by the lower-cased user name and by the client address — and
//! each key counts its failures in a fixed window ([`WINDOW`]) that starts at its first
//! failure. Once a key has [`MAX_FAILURES`] failures in its window, logins with that key
//! answer 429 (even with the right password) until the window ends. Counting is one
//! portable upsert per key ([`db::accounts::count_login_failure`]), so two instances
//! racing on one key both count; a window that has ended restarts in the same statement. Keys are stored as digests: user names a stranger
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

use eyrie_protocol::clock::unix_ms;

use crate::crypto::digest;
use crate::db;
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
pub async fn check(state: &AppState, keys: &[String; 2]) -> db::Result<Option<u64>> {
    let now = unix_ms();
    let windows = db::accounts::login_failures(&state.db, keys, now - window_ms()).await?;
    Ok(windows
        .iter()
        .filter(|w| w.failures >= MAX_FAILURES)
        .map(|w| ((w.window_start_ms + window_ms() - now).max(0) / 1000 + 1) as u64)
        .max())
}

/// Count one failure for each key.
pub async fn record_failure(state: &AppState, keys: &[String; 2]) -> db::Result<()> {
    crate::metrics::LOGIN_FAILURES.inc();
    let now = unix_ms();
    for k in keys {
        db::accounts::count_login_failure(&state.db, k, now, now - window_ms()).await?;
    }
    Ok(())
}

/// Forget windows that have ended.
pub async fn sweep(state: &AppState) -> db::Result<()> {
    db::accounts::sweep_login_failures(&state.db, unix_ms() - window_ms()).await
}
