//! The store's side of upload notices: recordings still `uploading` a while after their
//! slot was handed out are looked for in the store. Their keys share a per-channel, per-day
//! folder, so one LIST page per folder checks many rows at once; a few folders per round
//! keep the work bounded. Found objects complete the row (size from the listing, SHA-256
//! unknown); slots never uploaded are dropped after a day.
//!
//! Snapshots have the same two-step upload (presigned PUT, then a confirm that HEADs the
//! object), so a lost confirm is repaired the same way: `pending` snapshots past the same
//! delay are looked up one HEAD each (few per round), completed when the image is there,
//! and dropped a day later when it never came.

use std::collections::BTreeMap;

use sqlx::Row as _;

use crate::db::now_ms;
use crate::metrics;
use crate::routes::keys::recording_day_prefix;
use crate::routes::snapshots::MAX_SNAPSHOT_BYTES;
use crate::state::AppState;

/// Folders listed per round.
const PREFIXES_PER_ROUND: usize = 8;
/// Slots never uploaded are dropped after this long.
const ABANDON_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Snapshots looked up per round.
const SNAPSHOTS_PER_ROUND: i64 = 32;

pub async fn round(state: &AppState) -> anyhow::Result<()> {
    recordings(state).await?;
    snapshots(state).await
}

async fn recordings(state: &AppState) -> anyhow::Result<()> {
    let now = now_ms();
    let older_than = now - state.config.reconcile_after.as_millis() as i64;
    let rows = sqlx::query(
        "SELECT id, object_key, created_ms FROM recordings WHERE status = 'uploading' AND created_ms < $1 \
         ORDER BY created_ms LIMIT 500",
    )
    .bind(older_than)
    .fetch_all(&state.db.pool)
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut by_prefix: BTreeMap<String, Vec<(String, String, i64)>> = BTreeMap::new();
    for r in &rows {
        let key: String = r.try_get("object_key")?;
        let Some(prefix) = recording_day_prefix(&key) else {
            continue;
        };
        by_prefix.entry(prefix.to_owned()).or_default().push((
            r.try_get("id")?,
            key.clone(),
            r.try_get("created_ms")?,
        ));
    }
    let mut found = 0u64;
    for (prefix, pending) in by_prefix.into_iter().take(PREFIXES_PER_ROUND) {
        let listed = state.store.list(&prefix, 1000).await?;
        let sizes: BTreeMap<&str, u64> = listed.iter().map(|o| (o.key.as_str(), o.size)).collect();
        for (id, key, created) in pending {
            if let Some(size) = sizes.get(key.as_str()) {
                let n = sqlx::query(
                    "UPDATE recordings SET status = 'complete', size = $1, completed_ms = $2 \
                     WHERE id = $3 AND status = 'uploading'",
                )
                .bind(*size as i64)
                .bind(now)
                .bind(&id)
                .execute(&state.db.pool)
                .await?
                .rows_affected();
                found += n;
            } else if now - created > ABANDON_AFTER_MS {
                sqlx::query("DELETE FROM recordings WHERE id = $1 AND status = 'uploading'")
                    .bind(&id)
                    .execute(&state.db.pool)
                    .await?;
            }
        }
    }
    if found > 0 {
        metrics::RECORDINGS_RECONCILED.add(found);
        tracing::info!(
            found,
            "reconciler completed recordings whose notice was lost"
        );
        state.clip_kick.notify_one();
    }
    Ok(())
}

async fn snapshots(state: &AppState) -> anyhow::Result<()> {
    let now = now_ms();
    let older_than = now - state.config.reconcile_after.as_millis() as i64;
    // The newest waiting ones, and separately the day-old ones (so abandoned slots neither
    // crowd out recent ones nor wait forever).
    let mut rows = Vec::new();
    for (sql, from, to) in [
        (
            "SELECT id, object_key, created_ms FROM snapshots WHERE status = 'pending' \
             AND created_ms >= $1 AND created_ms < $2 ORDER BY created_ms DESC LIMIT ",
            now - ABANDON_AFTER_MS,
            older_than,
        ),
        (
            "SELECT id, object_key, created_ms FROM snapshots WHERE status = 'pending' \
             AND created_ms >= $1 AND created_ms < $2 ORDER BY created_ms LIMIT ",
            0,
            (now - ABANDON_AFTER_MS).min(older_than),
        ),
    ] {
        rows.extend(
            sqlx::query(sqlx::AssertSqlSafe(format!("{sql}{SNAPSHOTS_PER_ROUND}")))
                .bind(from)
                .bind(to)
                .fetch_all(&state.db.pool)
                .await?,
        );
    }
    for r in &rows {
        let id: String = r.try_get("id")?;
        let key: String = r.try_get("object_key")?;
        let created: i64 = r.try_get("created_ms")?;
        match state.store.head(&key).await? {
            Some(size) if size > 0 && size <= MAX_SNAPSHOT_BYTES => {
                sqlx::query(
                    "UPDATE snapshots SET status = 'complete', size = $1 WHERE id = $2 AND status = 'pending'",
                )
                .bind(size as i64)
                .bind(&id)
                .execute(&state.db.pool)
                .await?;
                tracing::info!(snapshot = %id, "reconciler completed a snapshot whose confirm was lost");
            }
            Some(_) => {
                // Empty or too large: the same refusal as a confirm.
                state.store.delete(&key).await?;
                sqlx::query("DELETE FROM snapshots WHERE id = $1 AND status = 'pending'")
                    .bind(&id)
                    .execute(&state.db.pool)
                    .await?;
            }
            None if now - created > ABANDON_AFTER_MS => {
                sqlx::query("DELETE FROM snapshots WHERE id = $1 AND status = 'pending'")
                    .bind(&id)
                    .execute(&state.db.pool)
                    .await?;
            }
            None => {}
        }
    }
    Ok(())
}
