//! The object deletion queue (`store_deletions`): object keys, or prefixes ending in `/`,
//! whose rows are gone and whose objects the workers still have to remove. A key is
//! queued in the same transaction as its row is deleted, so nothing is orphaned if the
//! cloud stops in between; the workers drain the queue and forget a key once its objects
//! are gone.

use sqlx::Row as _;

use super::{Db, Result};

/// Queue an object key (or a prefix ending in `/`) on `conn`, inside the caller's
/// transaction. Queueing a key again moves it to the back.
pub(super) async fn queue(conn: &mut sqlx::AnyConnection, key: &str, now_ms: i64) -> Result<()> {
    sqlx::query("DELETE FROM store_deletions WHERE object_key = $1")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO store_deletions (object_key, created_ms) VALUES ($1, $2)")
        .bind(key)
        .bind(now_ms)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Delete the row `id` of `table` (clips, snapshots) and queue its object for deletion,
/// in one transaction.
pub(super) async fn delete_with_object(
    db: &Db,
    table: &'static str,
    id: &uuid::Uuid,
    object_key: &str,
    now_ms: i64,
) -> Result<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {table} WHERE id = $1"
    )))
    .bind(super::text(id))
    .execute(&mut *tx)
    .await?;
    queue(&mut tx, object_key, now_ms).await?;
    tx.commit().await?;
    Ok(())
}

/// The oldest queued keys, at most `limit`.
pub async fn oldest(db: &Db, limit: i64) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT object_key FROM store_deletions ORDER BY created_ms LIMIT $1")
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("object_key")?)).collect()
}

/// The objects of a queued key are gone.
pub async fn done(db: &Db, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM store_deletions WHERE object_key = $1")
        .bind(key)
        .execute(&db.pool)
        .await?;
    Ok(())
}
