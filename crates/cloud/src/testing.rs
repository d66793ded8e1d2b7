//! Helpers for benchmarks and tests that need volume faster than the API gives it. Not
//! used by the service itself.

use crate::db::{new_id, now_ms};
use crate::routes::keys;
use crate::state::AppState;

/// Insert complete recordings `(start_ms, end_ms, size)` for a channel of a device directly
/// in the database (no objects are written: listings and presigning do not need them).
pub async fn seed_recordings(
    state: &AppState,
    device: &str,
    channel: &str,
    rows: &[(i64, i64, u64)],
) -> Result<(), sqlx::Error> {
    let mut tx = state.db.pool.begin().await?;
    for (start, end, size) in rows {
        let id = new_id();
        sqlx::query(
            "INSERT INTO recordings (id, channel_id, start_ms, end_ms, object_key, status, size, sha256, event, \
             created_ms, completed_ms) VALUES ($1, $2, $3, $4, $5, 'complete', $6, $7, 0, $8, $9)",
        )
        .bind(&id)
        .bind(channel)
        .bind(*start)
        .bind(*end)
        .bind(keys::recording(device, channel, *start, &id))
        .bind(*size as i64)
        .bind("0".repeat(64))
        .bind(now_ms())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
