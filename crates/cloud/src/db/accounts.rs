//! Users, their sessions, and the failed-login counters of the rate limit.
//!
//! A user name is unique by its lower-cased form (`username_lc`); registering a taken one
//! is [`Error::Duplicate`](super::Error::Duplicate). Sessions and login-failure keys are
//! stored as digests only. A failure is counted with one portable upsert per key
//! (`INSERT … ON CONFLICT … DO UPDATE`, SQLite ≥ 3.24 and PostgreSQL), which also restarts
//! a window that has ended, so two instances racing on one key both count.

use sqlx::Row as _;
use uuid::Uuid;

use super::{Db, Result, inserted, text, uuid_at};

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub created_ms: i64,
}

/// Add a user. [`Error::Duplicate`](super::Error::Duplicate) when the name is taken.
pub async fn create_user(
    db: &Db,
    user: &UserRow,
    username_lc: &str,
    password_hash: &str,
) -> Result<()> {
    inserted(
        sqlx::query(
            "INSERT INTO users (id, username, username_lc, password_hash, created_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(text(&user.id))
        .bind(&user.username)
        .bind(username_lc)
        .bind(password_hash)
        .bind(user.created_ms)
        .execute(&db.pool)
        .await,
    )
}

/// The user with this lower-cased name, and their password hash (PHC string).
pub async fn user_by_name(db: &Db, username_lc: &str) -> Result<Option<(UserRow, String)>> {
    let row = sqlx::query(
        "SELECT id, username, password_hash, created_ms FROM users WHERE username_lc = $1",
    )
    .bind(username_lc)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok((
            UserRow {
                id: uuid_at(&r, "id")?,
                username: r.try_get("username")?,
                created_ms: r.try_get("created_ms")?,
            },
            r.try_get("password_hash")?,
        ))
    })
    .transpose()
}

/// The user with this id.
pub async fn user(db: &Db, id: &Uuid) -> Result<Option<UserRow>> {
    let row = sqlx::query("SELECT username, created_ms FROM users WHERE id = $1")
        .bind(text(id))
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        Ok(UserRow {
            id: *id,
            username: r.try_get("username")?,
            created_ms: r.try_get("created_ms")?,
        })
    })
    .transpose()
}

/// Open a session for a user.
pub async fn create_session(
    db: &Db,
    token_hash: &str,
    user: &Uuid,
    expires_ms: i64,
    now_ms: i64,
) -> Result<()> {
    inserted(
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, expires_ms, created_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(text(user))
        .bind(expires_ms)
        .bind(now_ms)
        .execute(&db.pool)
        .await,
    )
}

/// The user of a session that has not expired at `now_ms`.
pub async fn session_user(db: &Db, token_hash: &str, now_ms: i64) -> Result<Option<Uuid>> {
    let row = sqlx::query("SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_ms > $2")
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| uuid_at(&r, "user_id")).transpose()
}

/// End a session.
pub async fn delete_session(db: &Db, token_hash: &str) -> Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// One key's failures in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureWindow {
    pub failures: i64,
    pub window_start_ms: i64,
}

/// The windows of these keys that started after `since_ms`.
pub async fn login_failures(
    db: &Db,
    keys: &[String; 2],
    since_ms: i64,
) -> Result<Vec<FailureWindow>> {
    let rows = sqlx::query(
        "SELECT failures, window_start_ms FROM login_failures WHERE key_hash IN ($1, $2) \
         AND window_start_ms > $3",
    )
    .bind(&keys[0])
    .bind(&keys[1])
    .bind(since_ms)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FailureWindow {
                failures: r.try_get("failures")?,
                window_start_ms: r.try_get("window_start_ms")?,
            })
        })
        .collect()
}

/// Count one failure for a key at `now_ms`; a window that started at or before
/// `expired_ms` restarts at `now_ms` with this failure.
pub async fn count_login_failure(db: &Db, key: &str, now_ms: i64, expired_ms: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO login_failures (key_hash, failures, window_start_ms) VALUES ($1, 1, $2) \
         ON CONFLICT (key_hash) DO UPDATE SET \
         failures = CASE WHEN login_failures.window_start_ms <= $3 THEN 1 \
                    ELSE login_failures.failures + 1 END, \
         window_start_ms = CASE WHEN login_failures.window_start_ms <= $4 THEN $5 \
                    ELSE login_failures.window_start_ms END",
    )
    .bind(key)
    .bind(now_ms)
    .bind(expired_ms)
    .bind(expired_ms)
    .bind(now_ms)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Forget windows that started at or before `expired_ms`.
pub async fn sweep_login_failures(db: &Db, expired_ms: i64) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE window_start_ms <= $1")
        .bind(expired_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}
