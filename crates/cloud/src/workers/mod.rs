//! Background work, run by every instance and safe with N instances on one database:
//! each job is done by one instance at a time and taken over when that instance dies,
//! through leases in the database ([`crate::db::leases`]).
//!
//! | job | unit of work | lease |
//! |---|---|---|
//! | [`clips`] assembly | one clip | the clip's claim, `FOR UPDATE SKIP LOCKED` on PostgreSQL, renewed while working |
//! | [`reconcile`] uploads and snapshots | a round | job lease `reconcile` |
//! | [`retention`] expiry | a round of 5,000-row batches | job lease `retention` |
//! | [`retention`] deletion queue | a round of 1,000-key `DeleteObjects` | job lease `deletions` |
//! | sweeps (login limits) | a round | job lease `sweeps` |
//!
//! Snapshot requests need no worker: the heartbeat that hands one to its camera clears
//! it with a compare-and-set, so each is handed out once whichever instance answers.
//!
//! A job lease lasts [`crate::Config::lease`] (30 s by default) and its holder renews it
//! every round, so a job stays with one instance while it lives; a dead holder's job
//! moves to another instance within one lease. A clip claim is renewed every third of
//! the lease while the clip is being assembled; finishing is a compare-and-set on the
//! holder, so nothing is finished twice.
//!
//! The loop wakes on a timer and, for clips, on `clip_kick` (a recording completed or a
//! clip was created), so a clip finishes within a fraction of a second of its last notice.

pub mod clips;
pub mod reconcile;
pub mod retention;

use std::time::Duration;

use eyrie_protocol::clock::unix_ms;
use tokio::sync::watch;

use crate::db;
use crate::state::AppState;

/// The job leases (names in `job_leases`).
pub const JOBS: [&str; 4] = ["reconcile", "retention", "deletions", "sweeps"];

/// Run until `stop` flips; give the leases back when stopping.
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
                if holds(&state, "reconcile").await
                    && let Err(e) = reconcile::round(&state).await
                {
                    tracing::warn!("reconciler: {e}");
                }
                if slow_round % 5 == 1 {
                    if holds(&state, "retention").await
                        && let Err(e) = retention::expire(&state).await
                    {
                        tracing::warn!("retention: {e}");
                    }
                    if holds(&state, "deletions").await
                        && let Err(e) = retention::drain(&state).await
                    {
                        tracing::warn!("deletions: {e}");
                    }
                    if holds(&state, "sweeps").await
                        && let Err(e) = crate::ratelimit::sweep(&state).await
                    {
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
    for job in JOBS {
        let _ = db::leases::release(&state.db, job, &state.config.instance_id).await;
    }
}

/// Take or renew this instance's lease on `job`; false when another instance holds it
/// (or the database cannot say).
pub async fn holds(state: &AppState, job: &str) -> bool {
    let now = unix_ms();
    let until = now + state.config.lease.as_millis() as i64;
    match db::leases::take(&state.db, job, &state.config.instance_id, now, until).await {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(job, "job lease: {e}");
            false
        }
    }
}

/// Delete recordings past retention and drain the deletion queue now (the demo and the
/// tests; the loop does it every few rounds).
pub async fn retention(state: &AppState) -> anyhow::Result<()> {
    retention::expire(state).await?;
    retention::drain(state).await.map(drop)
}

/// Drain the deletion queue now.
pub async fn deletions(state: &AppState) -> anyhow::Result<()> {
    retention::drain(state).await.map(drop)
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
