//! Recordings: upload slot → presigned PUT → notice (HEAD-checked) → complete; listing a
//! range with presigned GETs and explicit gaps.
//!
//! ```text
//!  camera ── POST /channels/{c}/recordings {…, size, sha256} ──► row `uploading` (size and
//!            digest kept), key built here, PUT URL with Content-Length and checksum signed
//!  camera ── PUT bytes + signed headers ────► store (refuses any other body)
//!  camera ── POST /recordings/{r}/complete {size, sha256} ─► same as the slot? HEAD (size,
//!            checksum where reported) ─► `complete`
//!  (notice lost?  the reconciler lists the day folder and completes it — workers/reconcile.rs)
//! ```
//!
//! Signing the size and digest into the URL is what stops a replayed PUT — before or
//! after `complete` — from changing a recording on any S3 store: the URL can only ever
//! write the bytes the row describes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eyrie_protocol::api::{
    ErrorBody, Gap, RangeQuery, Recording, RecordingList, RecordingPolicy, RecordingStatus,
    UploadNotice, UploadSlot, UploadSlotRequest,
};
use eyrie_protocol::clock::unix_ms;
use uuid::Uuid;

use super::{channel_for, check_range};
use crate::auth::{Caller, DeviceAuth};
use crate::db::{self, new_id};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;
use crate::store::keys;

/// Longest segment accepted.
pub use crate::db::recordings::MAX_SEGMENT_MS;
/// Longest listing range.
pub const MAX_LIST_MS: i64 = 7 * 24 * 3600 * 1000;
/// Most recordings in one listing.
pub const MAX_LIST_ITEMS: usize = 10_000;
/// Holes shorter than this between segments are not reported as gaps.
pub const GAP_TOLERANCE_MS: i64 = 250;

/// The size and raw SHA-256 an upload slot request announces; 400 when missing (a client
/// older than signed uploads) or malformed.
pub(crate) fn announced(
    size: Option<u64>,
    sha256: Option<&str>,
    max_size: u64,
) -> ApiResult<(u64, [u8; 32])> {
    let (Some(size), Some(sha256)) = (size, sha256) else {
        return Err(ApiError::bad(
            "size and sha256 of the object to upload are required (the upload URL is signed \
             for exactly those bytes); a client that does not send them is too old",
        ));
    };
    if size == 0 || size > max_size {
        return Err(ApiError::bad(format!("size must be 1 to {max_size} bytes")));
    }
    let digest = parse_sha256(sha256)
        .ok_or_else(|| ApiError::bad("sha256 must be 64 lowercase hex characters"))?;
    Ok((size, digest))
}

/// 64 lowercase hex characters as 32 bytes.
pub fn parse_sha256(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

/// Largest segment accepted (a 10-minute segment at a high bitrate is far below).
pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;

/// The checks of an upload slot request: its range, key id, size and digest.
pub fn check_upload_slot(req: &UploadSlotRequest) -> ApiResult<(u64, [u8; 32])> {
    check_range(req.start_ms, req.end_ms, MAX_SEGMENT_MS)?;
    if let Some(k) = &req.key_id
        && (k.is_empty()
            || k.len() > 64
            || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(ApiError::bad("key_id must be 1-64 letters, digits or '-'"));
    }
    announced(req.size, req.sha256.as_deref(), MAX_SEGMENT_BYTES)
}

/// Ask for an upload slot for one segment.
#[utoipa::path(post, path = "/api/v1/channels/{id}/recordings", tag = "recordings", request_body = UploadSlotRequest,
    responses((status = 201, body = UploadSlot), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody, description = "the device's store mode is `none`"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`key_id` names no key of this device")),
    security(("bearer" = [])))]
pub async fn upload_slot(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(channel): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UploadSlotRequest>,
) -> ApiResult<(StatusCode, Json<UploadSlot>)> {
    let c = channel_for(&state, &Caller::Device(dev), &channel).await?;
    if c.store_mode == RecordingPolicy::None {
        return Err(ApiError::Forbidden(
            "store mode is none: this device's recordings are not stored (live view only); \
             upload nothing until the store mode changes"
                .into(),
        ));
    }
    let (size, digest) = check_upload_slot(&req)?;
    if let Some(k) = &req.key_id
        && !db::e2e::key_known(&state.db, &c.device_id, k).await?
    {
        return Err(ApiError::Conflict(
            "key_id names no key of this device: register the content key first".into(),
        ));
    }
    let id = new_id();
    let key = keys::recording(&c.device_id, &c.id, req.start_ms, &id);
    let slot = db::recordings::NewSlot {
        id: &id,
        channel: &c.id,
        start_ms: req.start_ms,
        end_ms: req.end_ms,
        object_key: &key,
        event: req.event,
        key_id: req.key_id.as_deref(),
        size,
        sha256: req.sha256.as_deref().unwrap_or_default(),
        now_ms: unix_ms(),
    };
    db::recordings::insert_slot(&state.db, &slot).await?;
    let upload = state.store.presign_put(&key, size, &digest);
    Ok((
        StatusCode::CREATED,
        Json(UploadSlot {
            recording_id: id,
            object_key: key,
            upload,
        }),
    ))
}

/// The upload is done: check the object and mark the recording complete.
#[utoipa::path(post, path = "/api/v1/recordings/{id}/complete", tag = "recordings", request_body = UploadNotice,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a user calling a device route"), (status = 200, body = Recording), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn complete(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<UploadNotice>,
) -> ApiResult<Json<Recording>> {
    let Some(digest) = parse_sha256(&req.sha256) else {
        return Err(ApiError::bad("sha256 must be 64 lowercase hex characters"));
    };
    let (mut rec, key) = db::recordings::for_device(&state.db, &id, &dev)
        .await?
        .ok_or(ApiError::NotFound("recording"))?;
    if rec.status == RecordingStatus::Complete {
        if rec.size == Some(req.size) && rec.sha256.as_deref().is_none_or(|s| s == req.sha256) {
            return Ok(Json(rec));
        }
        return Err(ApiError::Conflict(
            "recording already complete with other size or digest".into(),
        ));
    }
    // The slot's announced size and digest (absent only on slots from before signed uploads).
    if rec.size.is_some_and(|s| s != req.size)
        || rec.sha256.as_deref().is_some_and(|s| s != req.sha256)
    {
        return Err(ApiError::Conflict(
            "notice does not match the size and sha256 the upload slot was asked for".into(),
        ));
    }
    match state.store.head_object(&key).await? {
        None => {
            return Err(ApiError::Conflict(
                "object not found in the store: upload it first".into(),
            ));
        }
        Some(h) if h.size != req.size => {
            return Err(ApiError::Conflict(format!(
                "object has {} bytes, notice says {}",
                h.size, req.size
            )));
        }
        Some(h) if h.sha256.is_some_and(|s| s != digest) => {
            return Err(ApiError::Conflict(
                "object's SHA-256 in the store differs from the notice".into(),
            ));
        }
        Some(_) => {}
    }
    let size = i64::try_from(req.size).map_err(|_| ApiError::bad("size too large"))?;
    db::recordings::mark_complete(&state.db, &id, size, &req.sha256, unix_ms()).await?;
    crate::metrics::RECORDINGS_COMPLETED.inc();
    state.clip_kick.notify_one();
    rec.status = RecordingStatus::Complete;
    rec.size = Some(req.size);
    rec.sha256 = Some(req.sha256);
    Ok(Json(rec))
}

/// The holes in `[start, end)` not covered by the sorted `recs`.
pub fn gaps(start: i64, end: i64, recs: impl IntoIterator<Item = (i64, i64)>) -> Vec<Gap> {
    let mut out = Vec::new();
    let mut cursor = start;
    for (s, e) in recs {
        if s > cursor.saturating_add(GAP_TOLERANCE_MS) {
            out.push(Gap {
                start_ms: cursor,
                end_ms: s.min(end),
            });
        }
        cursor = cursor.max(e);
        if cursor >= end {
            break;
        }
    }
    if cursor.saturating_add(GAP_TOLERANCE_MS) < end {
        out.push(Gap {
            start_ms: cursor,
            end_ms: end,
        });
    }
    out
}

/// List a channel's recordings over a range.
#[utoipa::path(get, path = "/api/v1/channels/{id}/recordings", tag = "recordings", params(RangeQuery),
    responses((status = 200, body = RecordingList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(channel): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<RecordingList>> {
    let c = channel_for(&state, &caller, &channel).await?;
    check_range(q.start_ms, q.end_ms, MAX_LIST_MS)?;
    let mut rows = db::recordings::complete_in_range(
        &state.db,
        &c.id,
        q.start_ms,
        q.end_ms,
        MAX_LIST_ITEMS + 1,
    )
    .await?;
    let mut next_start_ms = None;
    let mut end = q.end_ms;
    if rows.len() > MAX_LIST_ITEMS {
        rows.truncate(MAX_LIST_ITEMS);
        let last_end = rows.last().map_or(q.end_ms, |(r, _)| r.end_ms);
        next_start_ms = Some(last_end);
        end = last_end.min(q.end_ms);
    }
    let gaps = gaps(
        q.start_ms,
        end,
        rows.iter().map(|(r, _)| (r.start_ms, r.end_ms)),
    );
    let sign = state.store.get_signer();
    let recordings = rows
        .into_iter()
        .map(|(mut r, key)| {
            r.download = Some(sign(&key));
            r
        })
        .collect();
    Ok(Json(RecordingList {
        channel_id: channel,
        start_ms: q.start_ms,
        end_ms: q.end_ms,
        recordings,
        gaps,
        next_start_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_finding() {
        assert_eq!(
            gaps(0, 100_000, []),
            vec![Gap {
                start_ms: 0,
                end_ms: 100_000
            }]
        );
        let g = gaps(0, 90_000, [(0, 30_000), (30_100, 60_000), (70_000, 95_000)]);
        assert_eq!(
            g,
            vec![Gap {
                start_ms: 60_000,
                end_ms: 70_000
            }]
        );
        let g = gaps(10_000, 90_000, [(0, 30_000), (40_000, 50_000)]);
        assert_eq!(
            g,
            vec![
                Gap {
                    start_ms: 30_000,
                    end_ms: 40_000
                },
                Gap {
                    start_ms: 50_000,
                    end_ms: 90_000
                }
            ]
        );
    }
}
