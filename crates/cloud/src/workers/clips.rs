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
//! offsets let a client cut it without parsing. A claim ([`crate::db::leases`]) lasts one
//! lease and is renewed while the clip is worked on, so a clip whose instance died is
//! picked up by another within a lease; the CAS on finish decides, so a clip is never
//! finished twice.

use eyrie_protocol::api::ClipPart;
use eyrie_protocol::clock::unix_ms;
use futures::StreamExt as _;
use uuid::Uuid;

use crate::db;
use crate::metrics;
use crate::routes::recordings::gaps;
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
/// Clips taken per round.
const PER_ROUND: usize = 8;

/// One pass over the clips waiting for work: claim one at a time (each instance gets a
/// different one), work on it while renewing the claim.
pub async fn round(state: &AppState) -> anyhow::Result<()> {
    let instance = &state.config.instance_id;
    let lease = state.config.lease.as_millis() as i64;
    for _ in 0..PER_ROUND {
        let now = unix_ms();
        let Some(id) = db::leases::claim_clip(&state.db, instance, now, now + lease).await? else {
            break;
        };
        let outcome = tokio::select! {
            r = work(state, &id) => r,
            lost = keep_claim(state, &id) => Err(lost),
        };
        if let Err(e) = outcome {
            tracing::warn!(clip = %id, "clip assembly failed, will retry: {e}");
            db::clips::release(&state.db, &id, instance).await?;
        }
    }
    Ok(())
}

/// Renew the claim on `id` every third of the lease; returns only when it was lost.
async fn keep_claim(state: &AppState, id: &Uuid) -> anyhow::Error {
    let lease = state.config.lease;
    loop {
        tokio::time::sleep(lease / 3).await;
        let until = unix_ms() + lease.as_millis() as i64;
        match db::leases::renew_clip(&state.db, id, &state.config.instance_id, until).await {
            Ok(true) => {}
            Ok(false) => return anyhow::anyhow!("the claim was lost"),
            Err(e) => tracing::warn!(clip = %id, "renewing the claim: {e}"),
        }
    }
}

async fn fail(state: &AppState, id: &Uuid, reason: &str) -> db::Result<()> {
    db::clips::fail(&state.db, id, &state.config.instance_id, reason, unix_ms()).await?;
    metrics::CLIPS_FAILED.inc();
    tracing::info!(clip = %id, reason, "clip failed");
    Ok(())
}

async fn work(state: &AppState, id: &Uuid) -> anyhow::Result<()> {
    #[cfg(feature = "test-hooks")]
    if let Some(ms) = std::env::var("EYRIE_TEST_CLIP_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        // Lets a test catch this instance in the middle of a clip (and kill it there).
        tracing::info!(clip = %id, ms, "test hook: pausing in the middle of a clip");
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let Some(clip) = db::clips::by_id(&state.db, id).await? else {
        return Ok(());
    };
    let (start, end) = (clip.start_ms, clip.end_ms);
    let recs =
        db::recordings::complete_in_range(&state.db, &clip.channel_id, start, end, 1000).await?;
    let holes = gaps(start, end, recs.iter().map(|(r, _)| (r.start_ms, r.end_ms)));
    if let Some(g) = holes.first() {
        if unix_ms() > clip.deadline_ms {
            let reason = if recs.is_empty() {
                "no recording covers the range".to_owned()
            } else {
                format!("no recording from {} to {} (unix ms)", g.start_ms, g.end_ms)
            };
            fail(state, id, &reason).await?;
        } else {
            db::clips::release(&state.db, id, &state.config.instance_id).await?;
        }
        return Ok(());
    }
    let key = clip.object_key;
    let (parts, size) = assemble(state, &key, &recs).await?;
    let instance = &state.config.instance_id;
    if db::clips::finish(&state.db, id, instance, size, &parts, unix_ms()).await? {
        metrics::CLIPS_FINISHED.inc();
        tracing::info!(clip = %id, size, segments = parts.len(), "clip finished");
    } else if !db::clips::exists(&state.db, id).await? {
        // Deleted meanwhile: do not leave the object behind.
        state.store.delete(&key).await?;
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
