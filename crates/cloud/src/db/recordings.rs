//! Recordings: one row per uploaded segment, `uploading` from its slot until its notice
//! (or the reconciler) makes it `complete`.
//!
//! The listing of a range ([`complete_in_range`]) is the hot path of the timeline (2,880
//! rows for a day of 30 s segments): it reads only the columns it needs off the
//! `(channel_id, status, start_ms, id)` index, through the typed pool. On PostgreSQL that
//! is a plain typed query. On SQLite, sqlx copies every value of every row into its own
//! allocation on the way out of the engine (`sqlite3_value_dup`) and sends each row to the
//! caller as a message — 23,000 copies for a day, about three quarters of the listing's
//! database time — so the engine joins the rows into one text value instead (fields split
//! by U+001F, rows by U+001E; ids, keys, hashes and key ids are built by the server and
//! never contain either) and [`parse_joined`] splits it.
//!
//! Retention deletes rows and queues their objects in one transaction.

use eyrie_protocol::api::{Recording, RecordingStatus};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Db, Error, Result, Typed, flag_at, size_at, stored_size, text, uuid_at};

/// Longest segment accepted; a listing looks this far before its start for segments
/// that overlap it.
pub const MAX_SEGMENT_MS: i64 = 600_000;

/// A recording (its `download` unset) and its object key.
pub type WithKey = (Recording, String);

/// A slot handed out for one segment.
#[derive(Debug, Clone)]
pub struct NewSlot<'a> {
    pub id: &'a Uuid,
    pub channel: &'a Uuid,
    pub start_ms: i64,
    pub end_ms: i64,
    pub object_key: &'a str,
    pub event: bool,
    pub key_id: Option<&'a str>,
    /// The size and SHA-256 (hex) the slot was asked for, signed into its PUT.
    pub size: u64,
    pub sha256: &'a str,
    pub now_ms: i64,
}

/// Store an `uploading` recording for a slot, with the size and digest its upload must
/// have (kept in `size`/`sha256`, which only a complete row shows).
pub async fn insert_slot(db: &Db, slot: &NewSlot<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO recordings (id, channel_id, start_ms, end_ms, object_key, status, event, key_id, created_ms, size, sha256) \
         VALUES ($1, $2, $3, $4, $5, 'uploading', $6, $7, $8, $9, $10)",
    )
    .bind(text(slot.id))
    .bind(text(slot.channel))
    .bind(slot.start_ms)
    .bind(slot.end_ms)
    .bind(slot.object_key)
    .bind(i64::from(slot.event))
    .bind(slot.key_id)
    .bind(slot.now_ms)
    .bind(stored_size(slot.size))
    .bind(slot.sha256)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Store complete recordings `(start_ms, end_ms, size, object_key)` of a channel at once,
/// in one transaction (for benchmarks that need a day of them).
pub async fn insert_complete(
    db: &Db,
    channel: &Uuid,
    rows: &[(Uuid, i64, i64, u64, String)],
    now_ms: i64,
) -> Result<()> {
    let mut tx = db.begin_write().await?;
    for (id, start, end, size, key) in rows {
        sqlx::query(
            "INSERT INTO recordings (id, channel_id, start_ms, end_ms, object_key, status, size, sha256, \
             event, created_ms, completed_ms) VALUES ($1, $2, $3, $4, $5, 'complete', $6, $7, 0, $8, $9)",
        )
        .bind(text(id))
        .bind(text(channel))
        .bind(*start)
        .bind(*end)
        .bind(key)
        .bind(stored_size(*size))
        .bind("0".repeat(64))
        .bind(now_ms)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn status_of(s: &str) -> RecordingStatus {
    match s {
        "complete" => RecordingStatus::Complete,
        "uploading" => RecordingStatus::Uploading,
        _ => RecordingStatus::Unknown,
    }
}

fn recording_from(r: &AnyRow) -> Result<WithKey> {
    Ok((
        Recording {
            id: uuid_at(r, "id")?,
            channel_id: uuid_at(r, "channel_id")?,
            start_ms: r.try_get("start_ms")?,
            end_ms: r.try_get("end_ms")?,
            status: status_of(&r.try_get::<String, _>("status")?),
            size: size_at(r, "size")?,
            sha256: r.try_get("sha256")?,
            event: flag_at(r, "event")?,
            key_id: r.try_get("key_id")?,
            download: None,
        },
        r.try_get("object_key")?,
    ))
}

/// A recording of one of this device's channels.
pub async fn for_device(db: &Db, id: &Uuid, device: &Uuid) -> Result<Option<WithKey>> {
    let row = sqlx::query(
        "SELECT r.id, r.channel_id, r.start_ms, r.end_ms, r.object_key, r.status, r.size, r.sha256, \
         r.event, r.key_id FROM recordings r JOIN channels c ON c.id = r.channel_id \
         WHERE r.id = $1 AND c.device_id = $2",
    )
    .bind(text(id))
    .bind(text(device))
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(recording_from).transpose()
}

/// The upload is checked: the recording is complete.
pub async fn mark_complete(db: &Db, id: &Uuid, size: i64, sha256: &str, now_ms: i64) -> Result<()> {
    sqlx::query(
        "UPDATE recordings SET status = 'complete', size = $1, sha256 = $2, completed_ms = $3 WHERE id = $4",
    )
    .bind(size)
    .bind(sha256)
    .bind(now_ms)
    .bind(text(id))
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Columns of a listed recording (the channel and status are known): id, start_ms,
/// end_ms, object_key, size, sha256, event, key_id.
type ListedRow = (
    String,
    i64,
    i64,
    String,
    Option<i64>,
    Option<String>,
    i64,
    Option<String>,
);

/// Complete recordings of a channel overlapping `[start, end)`, sorted by (start, id), at
/// most `limit`, with their keys (see the module text).
pub async fn complete_in_range(
    db: &Db,
    channel: &Uuid,
    start: i64,
    end: i64,
    limit: usize,
) -> Result<Vec<WithKey>> {
    let sql = format!(
        "SELECT id, start_ms, end_ms, object_key, size, sha256, event, key_id FROM recordings \
         WHERE channel_id = $1 AND status = 'complete' AND start_ms >= $2 AND start_ms < $3 \
         AND end_ms > $4 ORDER BY start_ms, id LIMIT {limit}"
    );
    let rows: Vec<ListedRow> = match &db.typed {
        Typed::Sqlite(pool) => {
            let joined = format!(
                "SELECT group_concat(id || char(31) || start_ms || char(31) || end_ms || char(31) \
                 || object_key || char(31) || ifnull(size, '') || char(31) || ifnull(sha256, '') \
                 || char(31) || event || char(31) || ifnull(key_id, ''), char(30)) FROM ({sql})"
            );
            let (all,): (Option<String>,) = sqlx::query_as(sqlx::AssertSqlSafe(joined))
                .bind(text(channel))
                .bind(start - MAX_SEGMENT_MS)
                .bind(end)
                .bind(start)
                .fetch_one(pool)
                .await?;
            parse_joined(all.as_deref().unwrap_or(""))?
        }
        Typed::Postgres(pool) => {
            sqlx::query_as::<_, ListedRow>(sqlx::AssertSqlSafe(sql))
                .bind(text(channel))
                .bind(start - MAX_SEGMENT_MS)
                .bind(end)
                .bind(start)
                .fetch_all(pool)
                .await?
        }
    };
    rows.into_iter()
        .map(|(id, start_ms, end_ms, key, size, sha256, event, key_id)| {
            Ok((
                Recording {
                    id: id.parse().map_err(|_| Error::Corrupt("recording id"))?,
                    channel_id: *channel,
                    start_ms,
                    end_ms,
                    status: RecordingStatus::Complete,
                    size: size.map(|s| s.max(0) as u64),
                    sha256,
                    event: event != 0,
                    key_id,
                    download: None,
                },
                key,
            ))
        })
        .collect()
}

/// Split the SQLite listing's joined text back into rows, sorted by (start, id) — the
/// engine's `group_concat` does not promise to keep the inner query's order.
fn parse_joined(text: &str) -> Result<Vec<ListedRow>> {
    fn opt(s: &str) -> Option<String> {
        (!s.is_empty()).then(|| s.to_owned())
    }
    let mut rows = Vec::with_capacity(text.len() / 160 + 1);
    for line in text.split('\u{1e}').filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\u{1f}').collect();
        let [id, s, e, key, size, sha, event, key_id] = f[..] else {
            return Err(Error::Corrupt("listing row shape"));
        };
        let num = |v: &str, what| v.parse::<i64>().map_err(|_| Error::Corrupt(what));
        rows.push((
            id.to_owned(),
            num(s, "listing start")?,
            num(e, "listing end")?,
            key.to_owned(),
            if size.is_empty() {
                None
            } else {
                Some(num(size, "listing size")?)
            },
            opt(sha),
            num(event, "listing event flag")?,
            opt(key_id),
        ));
    }
    rows.sort_unstable_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    Ok(rows)
}

/// A recording still `uploading`: what the reconciler needs.
pub type Uploading = super::Unconfirmed;

/// Recordings still `uploading` whose slot was made before `before_ms`, oldest first.
pub async fn uploading_before(db: &Db, before_ms: i64, limit: i64) -> Result<Vec<Uploading>> {
    let rows = sqlx::query(
        "SELECT id, object_key, created_ms FROM recordings WHERE status = 'uploading' AND created_ms < $1 \
         ORDER BY created_ms LIMIT $2",
    )
    .bind(before_ms)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(Uploading::from_row).collect()
}

/// Complete a recording found in the store, if it is still `uploading` and the object
/// has the size its slot was asked for (the store checked the digest signed into the
/// upload; a slot from before signed uploads has neither and takes the listed size);
/// true when this call did.
pub async fn complete_found(db: &Db, id: &Uuid, size: u64, now_ms: i64) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
            "UPDATE recordings SET status = 'complete', size = $1, completed_ms = $2 \
         WHERE id = $3 AND status = 'uploading' AND (size IS NULL OR size = $1)",
        )
        .bind(stored_size(size))
        .bind(now_ms)
        .bind(text(id)),
    )
    .await
}

/// Drop a slot that was never uploaded (if it is still `uploading`).
pub async fn drop_unuploaded(db: &Db, id: &Uuid) -> Result<()> {
    sqlx::query("DELETE FROM recordings WHERE id = $1 AND status = 'uploading'")
        .bind(text(id))
        .execute(&db.pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_listing_rows_split_back_sorted_with_their_nulls() {
        let row = |id: &str, start: i64, size: &str, sha: &str, key_id: &str| {
            format!(
                "{id}\u{1f}{start}\u{1f}{}\u{1f}k/{id}\u{1f}{size}\u{1f}{sha}\u{1f}1\u{1f}{key_id}",
                start + 30_000
            )
        };
        let text = [
            row("b", 60_000, "10", "ff", "k1"),
            row("a", 0, "", "", ""),
            row("c", 60_000, "7", "ee", "k1"),
        ]
        .join("\u{1e}");
        let rows = parse_joined(&text).unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert_eq!(rows[0].4, None);
        assert_eq!(rows[0].5, None);
        assert_eq!(rows[0].7, None);
        assert_eq!(rows[1].4, Some(10));
        assert_eq!(rows[1].3, "k/b");
        assert_eq!(rows[1].2, 90_000);
        assert_eq!(rows[1].6, 1);
        assert!(parse_joined("").unwrap().is_empty());
        assert!(parse_joined("a\u{1f}1").is_err());
        assert!(parse_joined(&row("x", 0, "ten", "", "")).is_err());
    }
}
