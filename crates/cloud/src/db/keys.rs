//! Secrets kept for devices: recording keys and the device secret that signs tickets.
//!
//! Both are stored sealed under the master key (`crypto::MasterKey`); this module only
//! stores and returns the sealed text, sealing and unsealing are the caller's.

use sqlx::Row as _;
use uuid::Uuid;

use super::{Db, Result, text};

/// A recording key to store (sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub key_id: String,
    pub key_sealed: String,
    pub created_ms: i64,
}

/// A stored recording key.
pub type KeyRow = NewKey;

/// Store a recording key for a device on `conn` (inside the caller's transaction).
pub(super) async fn insert(
    conn: &mut sqlx::AnyConnection,
    device: &Uuid,
    key: &NewKey,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO recording_keys (key_id, device_id, key_sealed, created_ms) VALUES ($1, $2, $3, $4)",
    )
    .bind(&key.key_id)
    .bind(text(device))
    .bind(&key.key_sealed)
    .bind(key.created_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Every recording key of a device, newest first.
pub async fn recording_keys(db: &Db, device: &Uuid) -> Result<Vec<KeyRow>> {
    let rows = sqlx::query(
        "SELECT key_id, key_sealed, created_ms FROM recording_keys WHERE device_id = $1 \
         ORDER BY created_ms DESC",
    )
    .bind(text(device))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(KeyRow {
                key_id: r.try_get("key_id")?,
                key_sealed: r.try_get("key_sealed")?,
                created_ms: r.try_get("created_ms")?,
            })
        })
        .collect()
}

/// The sealed secret of a device (None before activation, or for no such device).
pub async fn device_secret(db: &Db, device: &Uuid) -> Result<Option<String>> {
    let row = sqlx::query("SELECT secret_sealed FROM devices WHERE id = $1")
        .bind(text(device))
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("secret_sealed")?,
        None => None,
    })
}
