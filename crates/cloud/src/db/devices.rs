//! Devices and their channels.
//!
//! A device is made with its two channels (`main`, `sub`) in one transaction, and deleted
//! with everything under it — recordings, events, snapshots, clips, keys, channels — in
//! one transaction that also queues its object prefix for deletion, so no row outlives
//! its device and no object is forgotten. Activation is a compare-and-set on `activated`
//! (0 → 1) in the same transaction as the device's first recording key: two racing
//! activations cannot both get credentials, and a device never ends up activated without
//! a key. A pending snapshot request is handed out once, by a compare-and-set on the time
//! it was asked.

use eyrie_protocol::api::{Channel, ChannelKind, RecordingPolicy};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::keys::NewKey;
use super::{Db, Error, Result, flag_at, new_id, text, uuid_at};

/// A device as the routes need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub store_mode: RecordingPolicy,
    pub activated: bool,
    pub last_seen_ms: Option<i64>,
    pub dropped_segments: i64,
    pub created_ms: i64,
}

const DEVICE_COLUMNS: &str =
    "id, owner_id, name, store_mode, activated, last_seen_ms, dropped_segments, created_ms";

fn store_mode_at(r: &AnyRow, col: &'static str) -> Result<RecordingPolicy> {
    r.try_get::<String, _>(col)?
        .parse()
        .map_err(|_| Error::Corrupt(col))
}

impl DeviceRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: uuid_at(r, "id")?,
            owner_id: uuid_at(r, "owner_id")?,
            name: r.try_get("name")?,
            store_mode: store_mode_at(r, "store_mode")?,
            activated: flag_at(r, "activated")?,
            last_seen_ms: r.try_get("last_seen_ms")?,
            dropped_segments: r.try_get("dropped_segments")?,
            created_ms: r.try_get("created_ms")?,
        })
    }
}

/// A device to make.
#[derive(Debug, Clone)]
pub struct NewDevice<'a> {
    pub owner: &'a Uuid,
    pub name: &'a str,
    /// Digest of the activation code of user-first set-up; None for a claimed pairing.
    pub activation_code_hash: Option<&'a str>,
    pub activation_expires_ms: i64,
    pub now_ms: i64,
}

/// Insert a device (not activated) and its main and sub channels on `conn`.
pub(super) async fn insert(
    conn: &mut sqlx::AnyConnection,
    new: &NewDevice<'_>,
) -> Result<DeviceRow> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO devices (id, owner_id, name, store_mode, activated, activation_code_hash, \
         activation_expires_ms, dropped_segments, created_ms) VALUES ($1, $2, $3, $4, 0, $5, $6, 0, $7)",
    )
    .bind(text(&id))
    .bind(text(new.owner))
    .bind(new.name)
    .bind(RecordingPolicy::default().as_str())
    .bind(new.activation_code_hash)
    .bind(new.activation_expires_ms)
    .bind(new.now_ms)
    .execute(&mut *conn)
    .await?;
    for kind in ["main", "sub"] {
        sqlx::query("INSERT INTO channels (id, device_id, kind) VALUES ($1, $2, $3)")
            .bind(text(&new_id()))
            .bind(text(&id))
            .bind(kind)
            .execute(&mut *conn)
            .await?;
    }
    Ok(DeviceRow {
        id,
        owner_id: *new.owner,
        name: new.name.to_owned(),
        store_mode: RecordingPolicy::default(),
        activated: false,
        last_seen_ms: None,
        dropped_segments: 0,
        created_ms: new.now_ms,
    })
}

/// Make a device and its channels.
pub async fn create(db: &Db, new: &NewDevice<'_>) -> Result<DeviceRow> {
    let mut tx = db.begin_write().await?;
    let d = insert(&mut tx, new).await?;
    tx.commit().await?;
    Ok(d)
}

/// The device with this id.
pub async fn by_id(db: &Db, id: &Uuid) -> Result<Option<DeviceRow>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(text(id))
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(DeviceRow::from_row).transpose()
}

/// The device waiting for this activation code (digest), with the code's expiry.
pub async fn by_activation_code(
    db: &Db,
    code_hash: &str,
) -> Result<Option<(DeviceRow, Option<i64>)>> {
    let sql = format!(
        "SELECT {DEVICE_COLUMNS}, activation_expires_ms FROM devices WHERE activation_code_hash = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(code_hash)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        Ok((
            DeviceRow::from_row(&r)?,
            r.try_get("activation_expires_ms")?,
        ))
    })
    .transpose()
}

/// A user's devices, by name.
pub async fn list_for_owner(db: &Db, owner: &Uuid) -> Result<Vec<DeviceRow>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE owner_id = $1 ORDER BY name, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(text(owner))
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(DeviceRow::from_row).collect()
}

fn channel_kind(s: &str) -> ChannelKind {
    match s {
        "main" => ChannelKind::Main,
        "sub" => ChannelKind::Sub,
        _ => ChannelKind::Unknown,
    }
}

/// A device's channels, by kind.
pub async fn channels(db: &Db, device: &Uuid) -> Result<Vec<Channel>> {
    let rows = sqlx::query("SELECT id, kind FROM channels WHERE device_id = $1 ORDER BY kind")
        .bind(text(device))
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Channel {
                id: uuid_at(r, "id")?,
                kind: channel_kind(&r.try_get::<String, _>("kind")?),
            })
        })
        .collect()
}

/// A channel and who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOwner {
    pub id: Uuid,
    pub device_id: Uuid,
    pub owner_id: Uuid,
    pub store_mode: RecordingPolicy,
}

/// The channel with this id, with its device and owner.
pub async fn channel(db: &Db, id: &Uuid) -> Result<Option<ChannelOwner>> {
    let row = sqlx::query(
        "SELECT c.id, c.device_id, d.owner_id, d.store_mode FROM channels c \
         JOIN devices d ON d.id = c.device_id WHERE c.id = $1",
    )
    .bind(text(id))
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(ChannelOwner {
            id: uuid_at(&r, "id")?,
            device_id: uuid_at(&r, "device_id")?,
            owner_id: uuid_at(&r, "owner_id")?,
            store_mode: store_mode_at(&r, "store_mode")?,
        })
    })
    .transpose()
}

pub async fn rename(db: &Db, id: &Uuid, name: &str) -> Result<()> {
    sqlx::query("UPDATE devices SET name = $1 WHERE id = $2")
        .bind(name)
        .bind(text(id))
        .execute(&db.pool)
        .await?;
    Ok(())
}

pub async fn set_store_mode(db: &Db, id: &Uuid, mode: RecordingPolicy) -> Result<()> {
    sqlx::query("UPDATE devices SET store_mode = $1 WHERE id = $2")
        .bind(mode.as_str())
        .bind(text(id))
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Delete a device and every row under it; queue `object_prefix` (its objects) for
/// deletion in the same transaction.
pub async fn delete(db: &Db, id: &Uuid, object_prefix: &str, now_ms: i64) -> Result<()> {
    let mut tx = db.begin_write().await?;
    for sql in super::e2e::DEVICE_DELETES {
        sqlx::query(sql).bind(text(id)).execute(&mut *tx).await?;
    }
    for sql in [
        "DELETE FROM recordings WHERE channel_id IN (SELECT id FROM channels WHERE device_id = $1)",
        "DELETE FROM events WHERE channel_id IN (SELECT id FROM channels WHERE device_id = $1)",
        "DELETE FROM snapshots WHERE channel_id IN (SELECT id FROM channels WHERE device_id = $1)",
        "DELETE FROM clips WHERE device_id = $1",
        "DELETE FROM recording_keys WHERE device_id = $1",
        "DELETE FROM channels WHERE device_id = $1",
        "DELETE FROM devices WHERE id = $1",
    ] {
        sqlx::query(sql).bind(text(id)).execute(&mut *tx).await?;
    }
    super::deletions::queue(&mut tx, object_prefix, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// Record a heartbeat; returns the pending snapshot request (its time) if this call took
/// it. Taking is a compare-and-set on the time read, so two racing heartbeats cannot both
/// take one request, and a newer request survives.
pub async fn heartbeat(
    db: &Db,
    id: &Uuid,
    now_ms: i64,
    dropped_segments: i64,
) -> Result<Option<i64>> {
    sqlx::query("UPDATE devices SET last_seen_ms = $1, dropped_segments = $2 WHERE id = $3")
        .bind(now_ms)
        .bind(dropped_segments)
        .bind(text(id))
        .execute(&db.pool)
        .await?;
    let asked: Option<i64> =
        sqlx::query_scalar("SELECT snapshot_requested_ms FROM devices WHERE id = $1")
            .bind(text(id))
            .fetch_optional(&db.pool)
            .await?
            .flatten();
    let Some(t) = asked else { return Ok(None) };
    let cleared = sqlx::query(
        "UPDATE devices SET snapshot_requested_ms = NULL WHERE id = $1 AND snapshot_requested_ms = $2",
    )
    .bind(text(id))
    .bind(t)
    .execute(&db.pool)
    .await?;
    Ok((cleared.rows_affected() == 1).then_some(t))
}

/// Ask the device for a snapshot (its next heartbeat takes the request).
pub async fn request_snapshot(db: &Db, id: &Uuid, now_ms: i64) -> Result<()> {
    sqlx::query("UPDATE devices SET snapshot_requested_ms = $1 WHERE id = $2")
        .bind(now_ms)
        .bind(text(id))
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The secrets a device gets at activation, as stored.
#[derive(Debug, Clone)]
pub struct Activation<'a> {
    pub token_hash: &'a str,
    pub secret_sealed: &'a str,
    pub mqtt_password_hash: &'a str,
    pub now_ms: i64,
    /// A legacy recording key made by the cloud; `None` for every activation since
    /// end-to-end keys (the camera makes its own, `docs/keys.md`).
    pub key: Option<&'a NewKey>,
}

/// Activate a device that is not yet activated, with its first recording key, in one
/// transaction. False (and nothing changed) when it already was.
pub async fn activate(db: &Db, id: &Uuid, a: &Activation<'_>) -> Result<bool> {
    let mut tx = db.begin_write().await?;
    let won = sqlx::query(
        "UPDATE devices SET activated = 1, token_hash = $1, secret_sealed = $2, mqtt_password_hash = $3, \
         last_seen_ms = $4 WHERE id = $5 AND activated = 0",
    )
    .bind(a.token_hash)
    .bind(a.secret_sealed)
    .bind(a.mqtt_password_hash)
    .bind(a.now_ms)
    .bind(text(id))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !won {
        return Ok(false);
    }
    if let Some(key) = a.key {
        super::keys::insert(&mut tx, id, key).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Take back an activation that could not be finished (its broker login was not made):
/// the device is as it was before [`activate`], its code usable again. Only the
/// activation that set `token_hash` is undone (the route's activations carry no key row).
pub async fn undo_activation(db: &Db, id: &Uuid, token_hash: &str) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
            "UPDATE devices SET activated = 0, token_hash = NULL, secret_sealed = NULL, \
             mqtt_password_hash = NULL, last_seen_ms = NULL WHERE id = $1 AND token_hash = $2",
        )
        .bind(text(id))
        .bind(token_hash),
    )
    .await
}

/// The activated device holding this token (digest), and when it was last seen.
pub async fn by_token(db: &Db, token_hash: &str) -> Result<Option<(Uuid, Option<i64>)>> {
    let row =
        sqlx::query("SELECT id, last_seen_ms FROM devices WHERE token_hash = $1 AND activated = 1")
            .bind(token_hash)
            .fetch_optional(&db.pool)
            .await?;
    row.map(|r| Ok((uuid_at(&r, "id")?, r.try_get("last_seen_ms")?)))
        .transpose()
}

/// The device was seen at `now_ms`.
pub async fn touch(db: &Db, id: &Uuid, now_ms: i64) -> Result<()> {
    sqlx::query("UPDATE devices SET last_seen_ms = $1 WHERE id = $2")
        .bind(now_ms)
        .bind(text(id))
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Whether an activated device has this broker password (digest).
pub async fn mqtt_password_matches(db: &Db, id: &Uuid, password_hash: &str) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS ok FROM devices WHERE id = $1 AND activated = 1 AND mqtt_password_hash = $2",
    )
    .bind(text(id))
    .bind(password_hash)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.is_some())
}
