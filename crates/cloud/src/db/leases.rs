//! Leases: how N instances on one database share the background work, each job done by
//! one instance at a time and taken over when that instance dies.
//!
//! Two kinds:
//!
//! - **Job leases** (`job_leases`): a periodic job with one worker at a time (the
//!   reconciler, retention, the deletion queue, sweeps). An instance takes or renews the
//!   lease with one upsert that only succeeds when nobody else holds it unexpired, runs a
//!   round, and renews it next round; a dead holder stops renewing and after the lease
//!   time another instance's upsert succeeds.
//! - **Item leases** (`clips.claimed_by`/`claim_until_ms`): one clip per claim. On
//!   PostgreSQL the next clip is picked with `FOR UPDATE SKIP LOCKED`, so instances
//!   claiming at the same moment each get a different clip instead of queueing on one
//!   row; on SQLite (one writer) the same `UPDATE … WHERE id IN (SELECT … LIMIT 1)` is
//!   atomic by itself. The worker renews the claim while it works
//!   ([`renew_clip`]); finishing is a compare-and-set on the holder, so an instance
//!   that lost its claim (paused past the lease) cannot finish a clip twice.
//!
//! ```text
//!   instance A ── take(job) ✓ ── round ── take ✓ ── round ── ✗ SIGKILL
//!   instance B ── take(job) ✗ ──────────── take ✗ ─────────── … lease runs out … take ✓ ── round
//! ```

use uuid::Uuid;

use super::{Backend, Db, Result, uuid_at};

/// Take or renew the lease on `job` for `holder` until `until_ms`; true when held.
pub async fn take(db: &Db, job: &str, holder: &str, now_ms: i64, until_ms: i64) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
            "INSERT INTO job_leases (name, holder, until_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
             WHERE job_leases.holder = excluded.holder OR job_leases.until_ms < $4",
        )
        .bind(job)
        .bind(holder)
        .bind(until_ms)
        .bind(now_ms),
    )
    .await
}

/// Give a job lease back (a stopping instance), so another takes it over at once.
pub async fn release(db: &Db, job: &str, holder: &str) -> Result<()> {
    sqlx::query("DELETE FROM job_leases WHERE name = $1 AND holder = $2")
        .bind(job)
        .bind(holder)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Who holds `job`, until when (none if nobody ever took it).
pub async fn holder(db: &Db, job: &str) -> Result<Option<(String, i64)>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT holder, until_ms FROM job_leases WHERE name = $1")
            .bind(job)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row)
}

/// Claim the oldest `in_progress` clip nobody holds at `now_ms` for `holder` until
/// `until_ms`; its id, or None when there is none.
pub async fn claim_clip(db: &Db, holder: &str, now_ms: i64, until_ms: i64) -> Result<Option<Uuid>> {
    // PostgreSQL may run an `IN (SELECT … LIMIT 1)` more than once within one UPDATE
    // (and claim two rows), so there the pick is a CTE, run once, its row locked and
    // other instances' locked rows skipped. SQLite has one writer and runs the subquery
    // once.
    let sql = match db.backend() {
        Backend::Postgres => {
            "WITH next AS (SELECT id FROM clips WHERE status = 'in_progress' \
             AND (claimed_by IS NULL OR claim_until_ms < $1) ORDER BY created_ms LIMIT 1 \
             FOR UPDATE SKIP LOCKED) \
             UPDATE clips SET claimed_by = $2, claim_until_ms = $3 FROM next \
             WHERE clips.id = next.id RETURNING clips.id AS id"
        }
        Backend::Sqlite => {
            "UPDATE clips SET claimed_by = $1, claim_until_ms = $2 WHERE id = \
             (SELECT id FROM clips WHERE status = 'in_progress' \
              AND (claimed_by IS NULL OR claim_until_ms < $3) ORDER BY created_ms LIMIT 1) \
             RETURNING id"
        }
    };
    // Placeholders ascend in order of first use in both texts, so the binding order
    // differs. fetch_all: the statement's result is read to its end.
    let q = sqlx::query(sql);
    let q = match db.backend() {
        Backend::Postgres => q.bind(now_ms).bind(holder).bind(until_ms),
        Backend::Sqlite => q.bind(holder).bind(until_ms).bind(now_ms),
    };
    let rows = q.fetch_all(&db.pool).await?;
    rows.first().map(|r| uuid_at(r, "id")).transpose()
}

/// Extend `holder`'s claim on a clip it still holds; false when it lost it.
pub async fn renew_clip(db: &Db, id: &Uuid, holder: &str, until_ms: i64) -> Result<bool> {
    super::changed_one(
        db,
        sqlx::query(
            "UPDATE clips SET claim_until_ms = $1 WHERE id = $2 AND claimed_by = $3 \
             AND status = 'in_progress'",
        )
        .bind(until_ms)
        .bind(super::text(id))
        .bind(holder),
    )
    .await
}
