//! Retention and the deletion queue, in batches.
//!
//! ```text
//!  recordings ended before now − retention days
//!     │  db::retention::expire_recordings: DELETE … RETURNING object_key (≤ 5,000 rows)
//!     │  + INSERT the keys into store_deletions, one transaction
//!     ▼
//!  store_deletions ──► oldest 1,000 keys ──► S3 DeleteObjects (1,000 a request)
//!                                        ──► prefixes (a device's folder): list + DeleteObjects
//!                                        ──► forget the keys deleted (one DELETE … IN)
//! ```
//!
//! Each round is bounded (a few batches, a time budget), so one round never holds a job
//! lease for long and a deleted device with millions of objects is worked through over
//! rounds. Only the holder of the job's lease runs it ([`crate::db::leases`]).

use std::time::{Duration, Instant};

use eyrie_protocol::clock::unix_ms;

use crate::db;
use crate::metrics;
use crate::state::AppState;

/// Recordings expired per batch.
const EXPIRE_BATCH: i64 = 5000;
/// Keys taken from the deletion queue per batch.
const DELETION_BATCH: i64 = 1000;
/// How long one round may keep at it.
const ROUND_BUDGET: Duration = Duration::from_secs(5);

/// Delete recordings past retention (rows now, objects through the queue); returns how
/// many rows went.
pub async fn expire(state: &AppState) -> anyhow::Result<usize> {
    let Some(days) = state.config.retention_days else {
        return Ok(0);
    };
    let t0 = Instant::now();
    let mut total = 0;
    while t0.elapsed() < ROUND_BUDGET {
        let now = unix_ms();
        let cutoff = now - i64::from(days) * 24 * 3600 * 1000;
        let n = db::retention::expire_recordings(&state.db, cutoff, EXPIRE_BATCH, now).await?;
        total += n;
        if (n as i64) < EXPIRE_BATCH {
            break;
        }
    }
    if total > 0 {
        tracing::info!(count = total, "retention removed recordings");
    }
    Ok(total)
}

/// Drain the deletion queue (bounded per round); returns how many objects went.
pub async fn drain(state: &AppState) -> anyhow::Result<usize> {
    let t0 = Instant::now();
    let mut total = 0;
    while t0.elapsed() < ROUND_BUDGET {
        let queued = db::deletions::oldest(&state.db, DELETION_BATCH).await?;
        if queued.is_empty() {
            break;
        }
        let (prefixes, keys): (Vec<String>, Vec<String>) =
            queued.iter().cloned().partition(|k| k.ends_with('/'));
        let failed = state.store.delete_many(&keys).await?;
        let mut done: Vec<String> = keys.into_iter().filter(|k| !failed.contains(k)).collect();
        let mut deleted = done.len();
        for prefix in prefixes {
            let page: Vec<String> = state
                .store
                .list(&prefix, 1000)
                .await?
                .into_iter()
                .map(|o| o.key)
                .collect();
            if page.is_empty() {
                done.push(prefix);
            } else {
                let failed = state.store.delete_many(&page).await?;
                deleted += page.len() - failed.len();
            }
        }
        metrics::OBJECTS_DELETED.add(deleted as u64);
        total += deleted;
        db::retention::deletions_done(&state.db, &done).await?;
        if !failed.is_empty() {
            tracing::warn!(
                count = failed.len(),
                "the store kept objects queued for deletion"
            );
            break;
        }
        if (queued.len() as i64) < DELETION_BATCH {
            break;
        }
    }
    Ok(total)
}
