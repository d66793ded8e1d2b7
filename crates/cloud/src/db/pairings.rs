//! Camera-first set-up: a pairing is a code the camera shows and a token it polls with.
//!
//! Claiming one makes the owner's device and marks the pairing with it in one
//! transaction, the mark a compare-and-set on `device_id IS NULL`: of two racing claims
//! one gets the device, the other rolls back and leaves nothing behind. Activating is a
//! second compare-and-set, on `consumed`, so the credentials go out once.

use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::devices::{DeviceRow, NewDevice};
use super::{Db, Error, Result, flag_at, inserted, text};

/// A pairing as set-up reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingRow {
    pub expires_ms: i64,
    /// The device made by the claim, once claimed.
    pub device_id: Option<Uuid>,
    /// The camera has fetched its credentials.
    pub consumed: bool,
}

impl PairingRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        let device_id = r
            .try_get::<Option<String>, _>("device_id")?
            .map(|s| s.parse().map_err(|_| Error::Corrupt("device_id")))
            .transpose()?;
        Ok(Self {
            expires_ms: r.try_get("expires_ms")?,
            device_id,
            consumed: flag_at(r, "consumed")?,
        })
    }
}

/// Drop pairings that expired before `before_ms`.
pub async fn sweep(db: &Db, before_ms: i64) -> Result<()> {
    sqlx::query("DELETE FROM pairings WHERE expires_ms < $1")
        .bind(before_ms)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Store a pairing. [`Error::Duplicate`] when the code (or token) is in use.
pub async fn create(
    db: &Db,
    token_hash: &str,
    code: &str,
    name_hint: Option<&str>,
    expires_ms: i64,
) -> Result<()> {
    inserted(
        sqlx::query(
            "INSERT INTO pairings (token_hash, code, name_hint, expires_ms, consumed) \
             VALUES ($1, $2, $3, $4, 0)",
        )
        .bind(token_hash)
        .bind(code)
        .bind(name_hint)
        .bind(expires_ms)
        .execute(&db.pool)
        .await,
    )
}

/// The pairing showing this (normalized) code.
pub async fn by_code(db: &Db, code: &str) -> Result<Option<PairingRow>> {
    let row = sqlx::query("SELECT expires_ms, device_id, consumed FROM pairings WHERE code = $1")
        .bind(code)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(PairingRow::from_row).transpose()
}

/// The pairing polled with this token (digest).
pub async fn by_token(db: &Db, token_hash: &str) -> Result<Option<PairingRow>> {
    let row =
        sqlx::query("SELECT expires_ms, device_id, consumed FROM pairings WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&db.pool)
            .await?;
    row.as_ref().map(PairingRow::from_row).transpose()
}

/// Claim the unclaimed pairing with this code: make the device and mark the pairing with
/// it, together. None (and nothing made) when another claim got there first.
pub async fn claim(db: &Db, code: &str, device: &NewDevice<'_>) -> Result<Option<DeviceRow>> {
    let mut tx = db.begin_write().await?;
    let d = super::devices::insert(&mut tx, device).await?;
    let won =
        sqlx::query("UPDATE pairings SET device_id = $1 WHERE code = $2 AND device_id IS NULL")
            .bind(text(&d.id))
            .bind(code)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
    if !won {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(d))
}

/// Mark the pairing consumed; false when it already was (its credentials went out).
pub async fn consume(db: &Db, token_hash: &str) -> Result<bool> {
    set_consumed(db, token_hash, true).await
}

/// Give back a consumed pairing whose activation could not be finished (compare-and-set).
pub async fn unconsume(db: &Db, token_hash: &str) -> Result<bool> {
    set_consumed(db, token_hash, false).await
}

async fn set_consumed(db: &Db, token_hash: &str, consumed: bool) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query("UPDATE pairings SET consumed = $1 WHERE token_hash = $2 AND consumed = $3")
            .bind(i64::from(consumed))
            .bind(token_hash)
            .bind(i64::from(!consumed)),
    )
    .await
}
