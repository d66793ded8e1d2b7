//! Clip assembly.
//!
//! ```text
//!  clip `in_progress` ──claim (CAS on claimed_by/claim_until)──► this instance
//!     │ complete recordings overlapping the range, sorted
//!     ├─ gaps left and deadline not reached ─► release the claim, wait for notices
//!     ├─ gaps left after the deadline ───────► `failed` + reason
//!     └─ covered ─┬─ ≥ 2 segments, all but the last ≥ 5 MiB:
//!                 │    multipart upload, part N = UploadPartCopy of segment N (in the store)
//!                 └─ otherwise, or the store does not copy parts (501 / NotImplemented):
//!                      GET each segment ─► 8 MiB buffer ─► PUT (small) or multipart parts
//!                  ─► `finished` (CAS on claimed_by), parts manifest with byte offsets
//! ```
//!
//! At the camera's real settings a 30 s main-stream segment is ~7.5 MB, above S3's 5 MiB
//! minimum part size, so clips are normally assembled by copy: the bytes never leave the
//! store and the cloud's time is a few requests per segment. Otherwise memory stays
//! bounded by one part buffer whatever the clip's length: segments are streamed through,
//! never held whole. Segments are encrypted on the camera and
//! self-delimiting, so the clip object is their plain concatenation; the manifest's
//! offsets let a client cut it without parsing. A claim expires, so a clip whose instance
//! died is picked up by another; a lost race only wastes work — the CAS on finish decides.

use eyrie_protocol::api::ClipPart;
use futures::StreamExt as _;
use sqlx::Row as _;

use crate::db::now_ms;
use crate::metrics;
use crate::routes::clips::CLIP_COLUMNS;
use crate::routes::recordings::{complete_in_range, gaps};
use crate::state::AppState;

/// Multipart part size (S3 wants ≥ 5 MiB for all parts but the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;
/// S3's smallest part but the last: segments below it cannot be copied part for part.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// S3's largest part number.
const MAX_PARTS: usize = 10_000;
/// Logged once when the store turns UploadPartCopy down.
static COPY_REFUSED_LOGGED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
/// How long a claim holds.
const CLAIM_MS: i64 = 5 * 60 * 1000;
/// Clips looked at per round.
const PER_ROUND: i64 = 8;

/// One pass over the clips waiting for work.
pub async fn round(state: &AppState) -> anyhow::Result<()> {
    let now = now_ms();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT id FROM clips WHERE status = 'in_progress' AND (claimed_by IS NULL OR claim_until_ms < $1) \
         ORDER BY created_ms LIMIT {PER_ROUND}"
    )))
    .bind(now)
    .fetch_all(&state.db.pool)
    .await?;
    for r in &rows {
        let id: String = r.try_get("id")?;
        if !claim(state, &id).await? {
            continue;
        }
        if let Err(e) = work(state, &id).await {
            tracing::warn!(clip = %id, "clip assembly failed, will retry: {e}");
            release(state, &id).await?;
        }
    }
    Ok(())
}

async fn claim(state: &AppState, id: &str) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    Ok(sqlx::query(
        "UPDATE clips SET claimed_by = $1, claim_until_ms = $2 WHERE id = $3 AND status = 'in_progress' \
         AND (claimed_by IS NULL OR claim_until_ms < $4)",
    )
    .bind(&state.config.instance_id)
    .bind(now + CLAIM_MS)
    .bind(id)
    .bind(now)
    .execute(&state.db.pool)
    .await?
    .rows_affected()
        == 1)
}

async fn release(state: &AppState, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE clips SET claimed_by = NULL, claim_until_ms = NULL WHERE id = $1 AND claimed_by = $2")
        .bind(id)
        .bind(&state.config.instance_id)
        .execute(&state.db.pool)
        .await?;
    Ok(())
}

async fn fail(state: &AppState, id: &str, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE clips SET status = 'failed', reason = $1, finished_ms = $2, claimed_by = NULL \
         WHERE id = $3 AND claimed_by = $4 AND status = 'in_progress'",
    )
    .bind(reason)
    .bind(now_ms())
    .bind(id)
    .bind(&state.config.instance_id)
    .execute(&state.db.pool)
    .await?;
    metrics::CLIPS_FAILED.inc();
    tracing::info!(clip = %id, reason, "clip failed");
    Ok(())
}

async fn work(state: &AppState, id: &str) -> anyhow::Result<()> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CLIP_COLUMNS} FROM clips WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&state.db.pool)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let channel: String = row.try_get("channel_id")?;
    let start: i64 = row.try_get("start_ms")?;
    let end: i64 = row.try_get("end_ms")?;
    let deadline: i64 = row.try_get("deadline_ms")?;
    let key: String = row.try_get("object_key")?;
    let recs = complete_in_range(state, &channel, start, end, 1000)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let holes = gaps(start, end, recs.iter().map(|(r, _)| (r.start_ms, r.end_ms)));
    if let Some(g) = holes.first() {
        if now_ms() > deadline {
            let reason = if recs.is_empty() {
                "no recording covers the range".to_owned()
            } else {
                format!("no recording from {} to {} (unix ms)", g.start_ms, g.end_ms)
            };
            fail(state, id, &reason).await?;
        } else {
            release(state, id).await?;
        }
        return Ok(());
    }
    let (parts, size) = assemble(state, &key, &recs).await?;
    let done = sqlx::query(
        "UPDATE clips SET status = 'finished', size = $1, parts = $2, finished_ms = $3, claimed_by = NULL \
         WHERE id = $4 AND claimed_by = $5 AND status = 'in_progress'",
    )
    .bind(size as i64)
    .bind(serde_json::to_string(&parts)?)
    .bind(now_ms())
    .bind(id)
    .bind(&state.config.instance_id)
    .execute(&state.db.pool)
    .await?
    .rows_affected();
    if done == 1 {
        metrics::CLIPS_FINISHED.inc();
        tracing::info!(clip = %id, size, segments = parts.len(), "clip finished");
    } else {
        // Deleted (or taken over) meanwhile: do not leave the object behind.
        let still = sqlx::query("SELECT 1 AS x FROM clips WHERE id = $1")
            .bind(id)
            .fetch_optional(&state.db.pool)
            .await?;
        if still.is_none() {
            state.store.delete(&key).await?;
        }
    }
    Ok(())
}

type Recs = [(eyrie_protocol::api::Recording, String)];

/// Concatenate the segments into `key`; returns the manifest and total size.
async fn assemble(
    state: &AppState,
    key: &str,
    recs: &Recs,
) -> anyhow::Result<(Vec<ClipPart>, u64)> {
    if copyable(recs) {
        if let Some(done) = assemble_by_copy(state, key, recs).await? {
            return Ok(done);
        }
        if !COPY_REFUSED_LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::info!("the store does not do UploadPartCopy: clips are streamed through");
        }
    }
    assemble_by_stream(state, key, recs).await
}

/// Whether each segment can be one copied part: at least two, every one but the last at
/// least S3's minimum part size, sizes known.
fn copyable(recs: &Recs) -> bool {
    let Some((_, init)) = recs.split_last() else {
        return false;
    };
    !init.is_empty()
        && recs.len() <= MAX_PARTS
        && recs.iter().all(|(r, _)| r.size.is_some())
        && init
            .iter()
            .all(|(r, _)| r.size.is_some_and(|s| s >= MIN_PART_BYTES))
}

fn manifest(recs: &Recs) -> (Vec<ClipPart>, u64) {
    let mut offset = 0;
    let parts = recs
        .iter()
        .map(|(rec, _)| {
            let size = rec.size.unwrap_or(0);
            let part = ClipPart {
                recording_id: rec.id,
                offset,
                size,
                start_ms: rec.start_ms,
                end_ms: rec.end_ms,
                key_id: rec.key_id.clone(),
            };
            offset += size;
            part
        })
        .collect();
    (parts, offset)
}

/// One multipart upload whose part N is a server-side copy of segment N. `None` when the
/// store does not copy parts (the upload is aborted; nothing is left behind).
async fn assemble_by_copy(
    state: &AppState,
    key: &str,
    recs: &Recs,
) -> anyhow::Result<Option<(Vec<ClipPart>, u64)>> {
    let uid = state.store.multipart_create(key).await?;
    let mut etags = Vec::with_capacity(recs.len());
    let copied: anyhow::Result<bool> = async {
        for (i, (_, rkey)) in recs.iter().enumerate() {
            let n = u16::try_from(i + 1).map_err(|_| anyhow::anyhow!("clip has too many parts"))?;
            match state.store.multipart_part_copy(key, &uid, n, rkey).await? {
                Some(etag) => etags.push(etag),
                None => return Ok(false),
            }
        }
        state.store.multipart_complete(key, &uid, &etags).await?;
        Ok(true)
    }
    .await;
    match copied {
        Ok(true) => {
            metrics::CLIP_PARTS_COPIED.add(recs.len() as u64);
            Ok(Some(manifest(recs)))
        }
        Ok(false) => {
            state.store.multipart_abort(key, &uid).await;
            Ok(None)
        }
        Err(e) => {
            state.store.multipart_abort(key, &uid).await;
            Err(e)
        }
    }
}

/// GET each segment through one part buffer into a PUT or a multipart upload.
async fn assemble_by_stream(
    state: &AppState,
    key: &str,
    recs: &Recs,
) -> anyhow::Result<(Vec<ClipPart>, u64)> {
    let mut parts = Vec::with_capacity(recs.len());
    let mut buf: Vec<u8> = Vec::with_capacity(PART_BYTES.min(1 << 20));
    let mut upload: Option<(String, Vec<String>)> = None;
    let mut offset = 0u64;
    let result: anyhow::Result<()> = async {
        for (rec, rkey) in recs {
            let resp = state.store.get(rkey).await?;
            let mut stream = resp.bytes_stream();
            let mut n = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                n += chunk.len() as u64;
                metrics::CLIP_BYTES_STREAMED.add(chunk.len() as u64);
                buf.extend_from_slice(&chunk);
                if buf.len() >= PART_BYTES {
                    flush(state, key, &mut upload, &mut buf).await?;
                }
            }
            parts.push(ClipPart {
                recording_id: rec.id,
                offset,
                size: n,
                start_ms: rec.start_ms,
                end_ms: rec.end_ms,
                key_id: rec.key_id.clone(),
            });
            offset += n;
        }
        match &mut upload {
            None => state.store.put(key, std::mem::take(&mut buf)).await?,
            Some(_) => {
                if !buf.is_empty() {
                    flush(state, key, &mut upload, &mut buf).await?;
                }
                if let Some((uid, etags)) = &upload {
                    state.store.multipart_complete(key, uid, etags).await?;
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if let Some((uid, _)) = &upload {
            state.store.multipart_abort(key, uid).await;
        }
        return Err(e);
    }
    Ok((parts, offset))
}

async fn flush(
    state: &AppState,
    key: &str,
    upload: &mut Option<(String, Vec<String>)>,
    buf: &mut Vec<u8>,
) -> anyhow::Result<()> {
    if upload.is_none() {
        *upload = Some((state.store.multipart_create(key).await?, Vec::new()));
    }
    if let Some((uid, etags)) = upload {
        let n = u16::try_from(etags.len() + 1)
            .map_err(|_| anyhow::anyhow!("clip has too many parts"))?;
        let body = std::mem::replace(buf, Vec::with_capacity(PART_BYTES));
        etags.push(state.store.multipart_part(key, uid, n, body).await?);
    }
    Ok(())
}
