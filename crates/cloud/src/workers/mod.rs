//! Background work, run by every instance; safe to run on several instances against one
//! database because every step is a compare-and-set or idempotent:
//!
//! - [`clips`]: assemble `in_progress` clips (claimed by one instance at a time).
//! - [`reconcile`]: complete recordings whose upload notice never came, by listing the
//!   day folder of their channel in the store (bounded: a few prefixes per round, one page
//!   each), and drop slots that were never uploaded after a day.
//! - retention: delete recordings older than the configured days, objects first queued in
//!   `store_deletions` in the same transaction as the rows go, so nothing is orphaned.
//! - deletions: drain `store_deletions` (keys, or prefixes ending in `/`).
//!
//! The loop wakes on a timer and, for clips, on `clip_kick` (a recording completed or a
//! clip was created), so a clip finishes within a fraction of a second of its last notice.

pub mod clips;
pub mod reconcile;

use std::time::Duration;

use sqlx::Row as _;
use tokio::sync::watch;

use crate::db::now_ms;
use crate::metrics;
use crate::state::AppState;

/// Queue an object key (or a prefix ending in `/`) for deletion, inside a transaction.
pub async fn queue_deletion(conn: &mut sqlx::AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM store_deletions WHERE object_key = $1")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO store_deletions (object_key, created_ms) VALUES ($1, $2)")
        .bind(key)
        .bind(now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Run until `stop` flips.
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.config.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut slow_round = 0u32;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                slow_round = slow_round.wrapping_add(1);
                if let Err(e) = clips::round(&state).await {
                    tracing::warn!("clip assembly: {e}");
                }
                if let Err(e) = reconcile::round(&state).await {
                    tracing::warn!("reconciler: {e}");
                }
                if slow_round % 5 == 1 {
                    if let Err(e) = retention(&state).await {
                        tracing::warn!("retention: {e}");
                    }
                    if let Err(e) = deletions(&state).await {
                        tracing::warn!("deletions: {e}");
                    }
                    if let Err(e) = crate::ratelimit::sweep(&state).await {
                        tracing::warn!("login rate limit sweep: {e}");
                    }
                }
            }
            _ = state.clip_kick.notified() => {
                if let Err(e) = clips::round(&state).await {
                    tracing::warn!("clip assembly: {e}");
                }
            }
            _ = stop.changed() => break,
        }
    }
}

/// Delete recordings past retention: rows and objects (via the deletion queue).
pub async fn retention(state: &AppState) -> anyhow::Result<()> {
    let Some(days) = state.config.retention_days else {
        return Ok(());
    };
    let cutoff = now_ms() - i64::from(days) * 24 * 3600 * 1000;
    let rows = sqlx::query("SELECT id, object_key FROM recordings WHERE end_ms < $1 LIMIT 500")
        .bind(cutoff)
        .fetch_all(&state.db.pool)
        .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = state.db.pool.begin().await?;
    for r in &rows {
        let id: String = r.try_get("id")?;
        let key: String = r.try_get("object_key")?;
        queue_deletion(&mut tx, &key).await?;
        sqlx::query("DELETE FROM recordings WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    tracing::info!(count = rows.len(), "retention removed recordings");
    deletions(state).await
}

/// Drain the deletion queue (bounded per round).
pub async fn deletions(state: &AppState) -> anyhow::Result<()> {
    let rows = sqlx::query("SELECT object_key FROM store_deletions ORDER BY created_ms LIMIT 200")
        .fetch_all(&state.db.pool)
        .await?;
    for r in &rows {
        let key: String = r.try_get("object_key")?;
        let done = if key.ends_with('/') {
            let page = state.store.list(&key, 500).await?;
            for o in &page {
                state.store.delete(&o.key).await?;
                metrics::OBJECTS_DELETED.inc();
            }
            page.is_empty()
        } else {
            state.store.delete(&key).await?;
            metrics::OBJECTS_DELETED.inc();
            true
        };
        if done {
            sqlx::query("DELETE FROM store_deletions WHERE object_key = $1")
                .bind(&key)
                .execute(&state.db.pool)
                .await?;
        }
    }
    Ok(())
}

/// Sleep helper for tests and the demo: wait until `f` is true or `timeout` passes.
pub async fn wait_until<F: FnMut() -> bool>(mut f: F, timeout: Duration) -> bool {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < timeout {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}
