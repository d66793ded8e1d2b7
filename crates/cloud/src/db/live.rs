//! Broker logins of viewers: random passwords handed out with a ticket, stored as
//! digests with an expiry (`mqtt_logins`). Device logins are checked against the device
//! row ([`super::devices::mqtt_password_matches`]).

use uuid::Uuid;

use super::{Db, Result, inserted, text};

/// Forget viewer logins that expired before `now_ms`.
pub async fn sweep_viewer_logins(db: &Db, now_ms: i64) -> Result<()> {
    sqlx::query("DELETE FROM mqtt_logins WHERE expires_ms < $1")
        .bind(now_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Store a viewer login.
pub async fn add_viewer_login(
    db: &Db,
    password_hash: &str,
    username: &str,
    user: &Uuid,
    expires_ms: i64,
) -> Result<()> {
    inserted(
        sqlx::query(
            "INSERT INTO mqtt_logins (password_hash, username, user_id, expires_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(password_hash)
        .bind(username)
        .bind(text(user))
        .bind(expires_ms)
        .execute(&db.pool)
        .await,
    )
}

/// Whether this user holds a viewer login with this password (digest), unexpired at
/// `now_ms`.
pub async fn viewer_login_valid(
    db: &Db,
    password_hash: &str,
    user: &Uuid,
    now_ms: i64,
) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS ok FROM mqtt_logins WHERE password_hash = $1 AND user_id = $2 AND expires_ms > $3",
    )
    .bind(password_hash)
    .bind(text(user))
    .bind(now_ms)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}
