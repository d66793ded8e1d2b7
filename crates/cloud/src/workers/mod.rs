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

use eyrie_protocol::clock::unix_ms;
use tokio::sync::watch;

use crate::db;
use crate::metrics;
use crate::state::AppState;

/// Recordings removed by retention per round.
const RETENTION_PER_ROUND: i64 = 500;
/// Queued deletions drained per round.
const DELETIONS_PER_ROUND: i64 = 200;

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
    let now = unix_ms();
    let cutoff = now - i64::from(days) * 24 * 3600 * 1000;
    let removed =
        db::recordings::delete_ended_before(&state.db, cutoff, RETENTION_PER_ROUND, now).await?;
    if removed == 0 {
        return Ok(());
    }
    tracing::info!(count = removed, "retention removed recordings");
    deletions(state).await
}

/// Drain the deletion queue (bounded per round).
pub async fn deletions(state: &AppState) -> anyhow::Result<()> {
    for key in db::deletions::oldest(&state.db, DELETIONS_PER_ROUND).await? {
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
            db::deletions::done(&state.db, &key).await?;
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
