//! Users, their sessions, and the attempt counters of the rate limits
//! (`crate::ratelimit`).
//!
//! A user name is unique by its lower-cased form (`username_lc`); registering a taken one
//! is [`Error::Duplicate`](super::Error::Duplicate). Sessions and rate-limit keys are
//! stored as digests only. An attempt is taken with one portable conditional upsert per
//! key (`INSERT … ON CONFLICT … DO UPDATE … WHERE … RETURNING`, SQLite ≥ 3.35 and
//! PostgreSQL): it counts only while the window has room, restarts a window that has
//! ended, and says whether it counted — so concurrent attempts, on one instance or
//! several, cannot all pass a full key.

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

/// Take one attempt under a rate-limit key at `now_ms`: counted and true when the key's
/// window has fewer than `max` attempts, false (nothing counted) when it is full. A
/// window that started at or before `expired_ms` restarts at `now_ms` with this attempt.
/// One statement, so concurrent attempts on one key are counted one after the other.
pub async fn take_attempt(
    db: &Db,
    key: &str,
    max: i64,
    now_ms: i64,
    expired_ms: i64,
) -> Result<bool> {
    let row = sqlx::query(
        "INSERT INTO login_failures (key_hash, failures, window_start_ms) VALUES ($1, 1, $2) \
         ON CONFLICT (key_hash) DO UPDATE SET \
         failures = CASE WHEN login_failures.window_start_ms <= $3 THEN 1 \
                    ELSE login_failures.failures + 1 END, \
         window_start_ms = CASE WHEN login_failures.window_start_ms <= $4 THEN $5 \
                    ELSE login_failures.window_start_ms END \
         WHERE login_failures.window_start_ms <= $6 OR login_failures.failures < $7 \
         RETURNING failures",
    )
    .bind(key)
    .bind(now_ms)
    .bind(expired_ms)
    .bind(expired_ms)
    .bind(now_ms)
    .bind(expired_ms)
    .bind(max)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}

/// Give back one attempt taken under a key (a refused or successful login).
pub async fn give_back_attempt(db: &Db, key: &str) -> Result<()> {
    sqlx::query(
        "UPDATE login_failures SET failures = failures - 1 WHERE key_hash = $1 AND failures > 0",
    )
    .bind(key)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Forget a key's attempts (a successful login).
pub async fn clear_attempts(db: &Db, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE key_hash = $1")
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// When a key's current window started.
pub async fn attempt_window(db: &Db, key: &str) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT window_start_ms FROM login_failures WHERE key_hash = $1")
        .bind(key)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| Ok(r.try_get("window_start_ms")?)).transpose()
}

/// Forget windows that started at or before `expired_ms`.
pub async fn sweep_login_failures(db: &Db, expired_ms: i64) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE window_start_ms <= $1")
        .bind(expired_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}
