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

use eyrie_protocol::clock::unix_ms;

use crate::db;
use crate::metrics;
use crate::routes::snapshots::MAX_SNAPSHOT_BYTES;
use crate::state::AppState;
use crate::store::keys::recording_day_prefix;

/// Folders listed per round.
const PREFIXES_PER_ROUND: usize = 8;
/// Slots never uploaded are dropped after this long.
const ABANDON_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Uploading recordings looked at per round.
const RECORDINGS_PER_ROUND: i64 = 500;
/// Snapshots looked up per round.
const SNAPSHOTS_PER_ROUND: i64 = 32;

pub async fn round(state: &AppState) -> anyhow::Result<()> {
    recordings(state).await?;
    snapshots(state).await
}

async fn recordings(state: &AppState) -> anyhow::Result<()> {
    let now = unix_ms();
    let older_than = now - state.config.reconcile_after.as_millis() as i64;
    let rows =
        db::recordings::uploading_before(&state.db, older_than, RECORDINGS_PER_ROUND).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let mut by_prefix: BTreeMap<String, Vec<db::recordings::Uploading>> = BTreeMap::new();
    for r in rows {
        let Some(prefix) = recording_day_prefix(&r.object_key) else {
            continue;
        };
        by_prefix.entry(prefix.to_owned()).or_default().push(r);
    }
    let mut found = 0u64;
    for (prefix, pending) in by_prefix.into_iter().take(PREFIXES_PER_ROUND) {
        let listed = state.store.list(&prefix, 1000).await?;
        let sizes: BTreeMap<&str, u64> = listed.iter().map(|o| (o.key.as_str(), o.size)).collect();
        for r in pending {
            if let Some(size) = sizes.get(r.object_key.as_str()) {
                if db::recordings::complete_found(&state.db, &r.id, *size, now).await? {
                    found += 1;
                }
            } else if now - r.created_ms > ABANDON_AFTER_MS {
                db::recordings::drop_unuploaded(&state.db, &r.id).await?;
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
    let now = unix_ms();
    let older_than = now - state.config.reconcile_after.as_millis() as i64;
    // The newest waiting ones, and separately the day-old ones (so abandoned slots neither
    // crowd out recent ones nor wait forever).
    let mut rows = db::snapshots::pending_between(
        &state.db,
        now - ABANDON_AFTER_MS,
        older_than,
        true,
        SNAPSHOTS_PER_ROUND,
    )
    .await?;
    rows.extend(
        db::snapshots::pending_between(
            &state.db,
            0,
            (now - ABANDON_AFTER_MS).min(older_than),
            false,
            SNAPSHOTS_PER_ROUND,
        )
        .await?,
    );
    for r in &rows {
        match state.store.head(&r.object_key).await? {
            Some(size) if size > 0 && size <= MAX_SNAPSHOT_BYTES => {
                db::snapshots::complete_found(&state.db, &r.id, size).await?;
                tracing::info!(snapshot = %r.id, "reconciler completed a snapshot whose confirm was lost");
            }
            Some(_) => {
                // Empty or too large: the same refusal as a confirm.
                state.store.delete(&r.object_key).await?;
                db::snapshots::drop_pending(&state.db, &r.id).await?;
            }
            None if now - r.created_ms > ABANDON_AFTER_MS => {
                db::snapshots::drop_pending(&state.db, &r.id).await?;
            }
            None => {}
        }
    }
    Ok(())
}
