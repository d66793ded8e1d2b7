//! Snapshots: `pending` from their slot until the confirm (or the reconciler) finds the
//! image and makes them `complete`. Deleting one queues its image for deletion in the
//! same transaction.

use eyrie_protocol::api::{SnapshotSource, SnapshotStatus};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Db, Result, size_at, stored_size, text, uuid_at};

/// A snapshot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub taken_at_ms: i64,
    pub source: SnapshotSource,
    pub status: SnapshotStatus,
    pub size: Option<u64>,
    pub object_key: String,
}

/// A snapshot with who may see it: the owner of its device, and the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedSnapshot {
    pub snapshot: SnapshotRow,
    pub device_id: Uuid,
    pub owner_id: Uuid,
}

const SNAP_COLUMNS: &str =
    "s.id, s.channel_id, s.taken_at_ms, s.source, s.status, s.size, s.object_key";

fn source_text(s: SnapshotSource) -> &'static str {
    match s {
        SnapshotSource::Agent => "agent",
        _ => "client",
    }
}

impl SnapshotRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        let status = match r.try_get::<String, _>("status")?.as_str() {
            "pending" => SnapshotStatus::Pending,
            "complete" => SnapshotStatus::Complete,
            _ => SnapshotStatus::Unknown,
        };
        let source = match r.try_get::<String, _>("source")?.as_str() {
            "client" => SnapshotSource::Client,
            "agent" => SnapshotSource::Agent,
            _ => SnapshotSource::Unknown,
        };
        Ok(Self {
            id: uuid_at(r, "id")?,
            channel_id: uuid_at(r, "channel_id")?,
            taken_at_ms: r.try_get("taken_at_ms")?,
            source,
            status,
            size: size_at(r, "size")?,
            object_key: r.try_get("object_key")?,
        })
    }
}

/// Store a `pending` snapshot for a slot, `size` the one its upload is signed for.
pub async fn insert_pending(db: &Db, s: &SnapshotRow, now_ms: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO snapshots (id, channel_id, object_key, taken_at_ms, source, status, created_ms, size) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)",
    )
    .bind(text(&s.id))
    .bind(text(&s.channel_id))
    .bind(&s.object_key)
    .bind(s.taken_at_ms)
    .bind(source_text(s.source))
    .bind(now_ms)
    .bind(s.size.map(stored_size))
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The snapshot with this id, with its device and owner.
pub async fn by_id(db: &Db, id: &Uuid) -> Result<Option<OwnedSnapshot>> {
    let sql = format!(
        "SELECT {SNAP_COLUMNS}, c.device_id, d.owner_id FROM snapshots s JOIN channels c ON c.id = s.channel_id \
         JOIN devices d ON d.id = c.device_id WHERE s.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(text(id))
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        Ok(OwnedSnapshot {
            snapshot: SnapshotRow::from_row(&r)?,
            device_id: uuid_at(&r, "device_id")?,
            owner_id: uuid_at(&r, "owner_id")?,
        })
    })
    .transpose()
}

/// The image is checked: the snapshot is complete.
pub async fn mark_complete(db: &Db, id: &Uuid, size: u64) -> Result<()> {
    sqlx::query("UPDATE snapshots SET status = 'complete', size = $1 WHERE id = $2")
        .bind(stored_size(size))
        .bind(text(id))
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Delete a snapshot; queue its image for deletion in the same transaction.
pub async fn delete(db: &Db, id: &Uuid, object_key: &str, now_ms: i64) -> Result<()> {
    super::deletions::delete_with_object(db, "snapshots", id, object_key, now_ms).await
}

/// Complete snapshots of a channel taken in `[from_ms, to_ms)`, newest first, at most
/// `limit`.
pub async fn complete_in_range(
    db: &Db,
    channel: &Uuid,
    from_ms: i64,
    to_ms: i64,
    limit: i64,
) -> Result<Vec<SnapshotRow>> {
    let sql = format!(
        "SELECT {SNAP_COLUMNS} FROM snapshots s WHERE s.channel_id = $1 AND s.status = 'complete' \
         AND s.taken_at_ms >= $2 AND s.taken_at_ms < $3 ORDER BY s.taken_at_ms DESC LIMIT $4"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(text(channel))
        .bind(from_ms)
        .bind(to_ms)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(SnapshotRow::from_row).collect()
}

/// A snapshot still `pending`: what the reconciler needs.
pub type Pending = super::Unconfirmed;

/// `pending` snapshots whose slot was made in `[from_ms, to_ms)`, at most `limit`:
/// the newest first when `newest_first`, else the oldest.
pub async fn pending_between(
    db: &Db,
    from_ms: i64,
    to_ms: i64,
    newest_first: bool,
    limit: i64,
) -> Result<Vec<Pending>> {
    let sql = if newest_first {
        "SELECT id, object_key, created_ms FROM snapshots WHERE status = 'pending' \
         AND created_ms >= $1 AND created_ms < $2 ORDER BY created_ms DESC LIMIT $3"
    } else {
        "SELECT id, object_key, created_ms FROM snapshots WHERE status = 'pending' \
         AND created_ms >= $1 AND created_ms < $2 ORDER BY created_ms LIMIT $3"
    };
    let rows = sqlx::query(sql)
        .bind(from_ms)
        .bind(to_ms)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(Pending::from_row).collect()
}

/// Complete a snapshot found in the store, if it is still `pending` and the image has the
/// size its slot was asked for (none recorded: a slot from before signed uploads).
pub async fn complete_found(db: &Db, id: &Uuid, size: u64) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
        "UPDATE snapshots SET status = 'complete', size = $1 WHERE id = $2 AND status = 'pending' \
         AND (size IS NULL OR size = $1)",
    )
        .bind(stored_size(size))
        .bind(text(id))
    )
    .await
}

/// Drop a snapshot whose image never came (if it is still `pending`).
pub async fn drop_pending(db: &Db, id: &Uuid) -> Result<()> {
    sqlx::query("DELETE FROM snapshots WHERE id = $1 AND status = 'pending'")
        .bind(text(id))
        .execute(&db.pool)
        .await?;
    Ok(())
}
