//! Clips: a user's request for a range of a channel, and the assembler's claim on it.
//!
//! Work is shared between instances by compare-and-set alone: a claim sets `claimed_by`
//! and a deadline only on an `in_progress` clip nobody holds (or whose claim lapsed);
//! finishing, failing and releasing only touch a clip this instance still holds. Deleting
//! a clip queues its object for deletion in the same transaction.

use eyrie_protocol::api::{ClipPart, ClipStatus};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Db, Result, size_at, stored_size, text, uuid_at};

/// A clip as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipRow {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub device_id: Uuid,
    pub owner_id: Uuid,
    pub name: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub status: ClipStatus,
    pub reason: Option<String>,
    pub object_key: String,
    pub size: Option<u64>,
    pub parts: Vec<ClipPart>,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    /// After this, missing recordings fail the clip instead of being waited for.
    pub deadline_ms: i64,
}

const CLIP_COLUMNS: &str = "id, channel_id, device_id, owner_id, name, start_ms, end_ms, status, reason, \
     object_key, size, parts, created_ms, finished_ms, deadline_ms";

fn status_text(s: ClipStatus) -> &'static str {
    match s {
        ClipStatus::InProgress => "in_progress",
        ClipStatus::Finished => "finished",
        ClipStatus::Failed => "failed",
        ClipStatus::Unknown => "unknown",
    }
}

impl ClipRow {
    fn from_row(r: &AnyRow) -> Result<Self> {
        let status = match r.try_get::<String, _>("status")?.as_str() {
            "in_progress" => ClipStatus::InProgress,
            "finished" => ClipStatus::Finished,
            "failed" => ClipStatus::Failed,
            _ => ClipStatus::Unknown,
        };
        Ok(Self {
            id: uuid_at(r, "id")?,
            channel_id: uuid_at(r, "channel_id")?,
            device_id: uuid_at(r, "device_id")?,
            owner_id: uuid_at(r, "owner_id")?,
            name: r.try_get("name")?,
            start_ms: r.try_get("start_ms")?,
            end_ms: r.try_get("end_ms")?,
            status,
            reason: r.try_get("reason")?,
            object_key: r.try_get("object_key")?,
            size: size_at(r, "size")?,
            parts: r
                .try_get::<Option<String>, _>("parts")?
                .and_then(|p| serde_json::from_str(&p).ok())
                .unwrap_or_default(),
            created_ms: r.try_get("created_ms")?,
            finished_ms: r.try_get("finished_ms")?,
            deadline_ms: r.try_get("deadline_ms")?,
        })
    }
}

/// Store a new clip (its status is taken from the row: normally `in_progress`).
pub async fn insert(db: &Db, c: &ClipRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO clips (id, channel_id, device_id, owner_id, name, start_ms, end_ms, status, object_key, \
         created_ms, deadline_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(text(&c.id))
    .bind(text(&c.channel_id))
    .bind(text(&c.device_id))
    .bind(text(&c.owner_id))
    .bind(&c.name)
    .bind(c.start_ms)
    .bind(c.end_ms)
    .bind(status_text(c.status))
    .bind(&c.object_key)
    .bind(c.created_ms)
    .bind(c.deadline_ms)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The clip with this id.
pub async fn by_id(db: &Db, id: &Uuid) -> Result<Option<ClipRow>> {
    let sql = format!("SELECT {CLIP_COLUMNS} FROM clips WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(text(id))
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(ClipRow::from_row).transpose()
}

/// The clip with this id if this user owns it.
pub async fn for_owner(db: &Db, id: &Uuid, owner: &Uuid) -> Result<Option<ClipRow>> {
    let sql = format!("SELECT {CLIP_COLUMNS} FROM clips WHERE id = $1 AND owner_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(text(id))
        .bind(text(owner))
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(ClipRow::from_row).transpose()
}

/// A user's clips (of one device, if given), newest first, at most `limit`.
pub async fn list_for_owner(
    db: &Db,
    owner: &Uuid,
    device: Option<&Uuid>,
    limit: i64,
) -> Result<Vec<ClipRow>> {
    let rows = match device {
        Some(d) => {
            let sql = format!(
                "SELECT {CLIP_COLUMNS} FROM clips WHERE owner_id = $1 AND device_id = $2 \
                 ORDER BY created_ms DESC LIMIT $3"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(text(owner))
                .bind(text(d))
                .bind(limit)
                .fetch_all(&db.pool)
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {CLIP_COLUMNS} FROM clips WHERE owner_id = $1 ORDER BY created_ms DESC LIMIT $2"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(text(owner))
                .bind(limit)
                .fetch_all(&db.pool)
                .await?
        }
    };
    rows.iter().map(ClipRow::from_row).collect()
}

/// Delete a clip; queue its object for deletion in the same transaction.
pub async fn delete(db: &Db, id: &Uuid, object_key: &str, now_ms: i64) -> Result<()> {
    super::deletions::delete_with_object(db, "clips", id, object_key, now_ms).await
}

/// Whether a clip still exists.
pub async fn exists(db: &Db, id: &Uuid) -> Result<bool> {
    let row = sqlx::query("SELECT 1 AS x FROM clips WHERE id = $1")
        .bind(text(id))
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_some())
}

/// `in_progress` clips nobody holds at `now_ms`, oldest first, at most `limit`.
pub async fn waiting(db: &Db, now_ms: i64, limit: i64) -> Result<Vec<Uuid>> {
    let rows = sqlx::query(
        "SELECT id FROM clips WHERE status = 'in_progress' AND (claimed_by IS NULL OR claim_until_ms < $1) \
         ORDER BY created_ms LIMIT $2",
    )
    .bind(now_ms)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| uuid_at(r, "id")).collect()
}

/// Claim a waiting clip for `instance` until `until_ms`; true when this call got it.
pub async fn claim(db: &Db, id: &Uuid, instance: &str, now_ms: i64, until_ms: i64) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
            "UPDATE clips SET claimed_by = $1, claim_until_ms = $2 WHERE id = $3 \
             AND status = 'in_progress' AND (claimed_by IS NULL OR claim_until_ms < $4)",
        )
        .bind(instance)
        .bind(until_ms)
        .bind(text(id))
        .bind(now_ms),
    )
    .await
}

/// Give a clip this instance holds back to the pool.
pub async fn release(db: &Db, id: &Uuid, instance: &str) -> Result<()> {
    sqlx::query(
        "UPDATE clips SET claimed_by = NULL, claim_until_ms = NULL WHERE id = $1 AND claimed_by = $2",
    )
    .bind(text(id))
    .bind(instance)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Fail a clip this instance holds; true when this call did.
pub async fn fail(db: &Db, id: &Uuid, instance: &str, reason: &str, now_ms: i64) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
            "UPDATE clips SET status = 'failed', reason = $1, finished_ms = $2, claimed_by = NULL \
         WHERE id = $3 AND claimed_by = $4 AND status = 'in_progress'",
        )
        .bind(reason)
        .bind(now_ms)
        .bind(text(id))
        .bind(instance),
    )
    .await
}

/// Finish a clip this instance holds; true when this call did (false: it was deleted
/// or taken over meanwhile).
pub async fn finish(
    db: &Db,
    id: &Uuid,
    instance: &str,
    size: u64,
    parts: &[ClipPart],
    now_ms: i64,
) -> Result<bool> {
    let parts = serde_json::to_string(parts).map_err(|_| super::Error::Corrupt("clip parts"))?;
    super::changed_one(
        db,
        sqlx::query(
        "UPDATE clips SET status = 'finished', size = $1, parts = $2, finished_ms = $3, claimed_by = NULL \
         WHERE id = $4 AND claimed_by = $5 AND status = 'in_progress'",
    )
        .bind(stored_size(size))
        .bind(parts)
        .bind(now_ms)
        .bind(text(id))
        .bind(instance)
    )
    .await
}
