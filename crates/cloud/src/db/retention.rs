//! Retention in batches: expired recordings' rows go and their objects are queued for
//! deletion in one transaction per batch — one `DELETE … RETURNING` over the `end_ms`
//! index and one multi-row `INSERT` into `store_deletions` — instead of a statement per
//! row. The deletion queue is then drained with S3 `DeleteObjects`, up to 1,000 keys a
//! request ([`crate::workers::retention`]).

use sqlx::Row as _;

use super::{Db, Result};

/// The largest number of rows one batch takes (each queued key is two bind values; both
/// engines take far more than 2 × this).
pub const MAX_BATCH: i64 = 5000;

/// Delete up to `limit` (≤ [`MAX_BATCH`]) recordings that ended before `cutoff_ms` and
/// queue their objects, in one transaction; returns how many went.
pub async fn expire_recordings(db: &Db, cutoff_ms: i64, limit: i64, now_ms: i64) -> Result<usize> {
    let limit = limit.clamp(1, MAX_BATCH);
    let mut tx = db.begin_write().await?;
    let rows = sqlx::query(
        "DELETE FROM recordings WHERE id IN \
         (SELECT id FROM recordings WHERE end_ms < $1 ORDER BY end_ms LIMIT $2) RETURNING object_key",
    )
    .bind(cutoff_ms)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let keys: Vec<String> = rows
        .iter()
        .map(|r| r.try_get("object_key"))
        .collect::<std::result::Result<_, _>>()?;
    queue_many(&mut tx, &keys, now_ms).await?;
    tx.commit().await?;
    Ok(keys.len())
}

/// Queue many object keys for deletion on `conn` (a key already queued stays queued).
pub(super) async fn queue_many(
    conn: &mut sqlx::AnyConnection,
    keys: &[String],
    now_ms: i64,
) -> Result<()> {
    for chunk in keys.chunks(1000) {
        let mut sql = String::from("INSERT INTO store_deletions (object_key, created_ms) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            // Placeholders ascend in order of first use (SQLite numbers them that way).
            sql.push_str(&format!("(${}, ${})", 2 * i + 1, 2 * i + 2));
        }
        sql.push_str(" ON CONFLICT (object_key) DO NOTHING");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(k.as_str()).bind(now_ms);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Forget queued keys whose objects are gone.
pub async fn deletions_done(db: &Db, keys: &[String]) -> Result<()> {
    for chunk in keys.chunks(1000) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "DELETE FROM store_deletions WHERE object_key IN ({})",
            marks.join(",")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for k in chunk {
            q = q.bind(k.as_str());
        }
        q.execute(&db.pool).await?;
    }
    Ok(())
}

/// Rows in `recordings` (for the capacity figures).
pub async fn recording_rows(db: &Db) -> Result<i64> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recordings")
        .fetch_one(&db.pool)
        .await?;
    Ok(n)
}
