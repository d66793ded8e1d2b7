//! Snapshots: create (→ presigned PUT), confirm (HEAD), list with GETs, get, delete.
//! Users create `client` snapshots, devices `agent` ones; both for channels they own.
//!
//! As for recordings, the slot request announces the image's size and SHA-256 and both
//! are signed into the PUT ([`crate::store::Store::presign_put`]), so the URL cannot be
//! replayed with another image; confirm checks the stored object against the size.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eyrie_protocol::api::{
    CreateSnapshotRequest, ErrorBody, RangeQuery, Snapshot, SnapshotList, SnapshotSlot,
    SnapshotSource, SnapshotStatus,
};
use eyrie_protocol::clock::unix_ms;
use uuid::Uuid;

use super::{channel_for, check_range};
use crate::auth::Caller;
use crate::db::{self, new_id, snapshots::SnapshotRow};
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;
use crate::store::keys;

/// Largest snapshot accepted at confirmation.
pub const MAX_SNAPSHOT_BYTES: u64 = 10 * 1024 * 1024;
/// Most snapshots in a listing.
const MAX_LIST_ITEMS: i64 = 1000;

/// The API view of a snapshot: a complete one carries a presigned GET.
fn snapshot_json(state: &AppState, s: SnapshotRow) -> Snapshot {
    let download =
        (s.status == SnapshotStatus::Complete).then(|| state.store.presign_get(&s.object_key));
    Snapshot {
        id: s.id,
        channel_id: s.channel_id,
        taken_at_ms: s.taken_at_ms,
        source: s.source,
        status: s.status,
        size: s.size,
        download,
    }
}

/// Load a snapshot the caller may see, else 404.
async fn snapshot_for(state: &AppState, caller: &Caller, id: &Uuid) -> ApiResult<SnapshotRow> {
    db::snapshots::by_id(&state.db, id)
        .await?
        .filter(|s| super::may_use(caller, &s.owner_id, &s.device_id))
        .map(|s| s.snapshot)
        .ok_or(ApiError::NotFound("snapshot"))
}

/// The checks of a snapshot request at `now_ms`: when it was taken (now if not said),
/// its size and digest.
pub fn check_snapshot(req: &CreateSnapshotRequest, now_ms: i64) -> ApiResult<(i64, u64, [u8; 32])> {
    let taken_at_ms = req.taken_at_ms.unwrap_or(now_ms);
    super::check_time("taken_at_ms", taken_at_ms)?;
    let (size, digest) =
        super::recordings::announced(req.size, req.sha256.as_deref(), MAX_SNAPSHOT_BYTES)?;
    Ok((taken_at_ms, size, digest))
}

/// Make a snapshot entry and a presigned PUT for its image.
#[utoipa::path(post, path = "/api/v1/channels/{id}/snapshots", tag = "snapshots", request_body = CreateSnapshotRequest,
    responses((status = 201, body = SnapshotSlot), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(channel): ApiPath<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<SnapshotSlot>)> {
    let c = channel_for(&state, &caller, &channel).await?;
    let req: CreateSnapshotRequest = crate::error::optional_json(&body)?;
    let (taken_at_ms, size, digest) = check_snapshot(&req, unix_ms())?;
    let source = match caller {
        Caller::User(_) => SnapshotSource::Client,
        Caller::Device(_) => SnapshotSource::Agent,
    };
    let id = new_id();
    let row = SnapshotRow {
        id,
        channel_id: c.id,
        taken_at_ms,
        source,
        status: SnapshotStatus::Pending,
        size: Some(size),
        object_key: keys::snapshot(&c.device_id, &c.id, &id),
    };
    db::snapshots::insert_pending(&state.db, &row, unix_ms()).await?;
    let upload = state.store.presign_put(&row.object_key, size, &digest);
    Ok((
        StatusCode::CREATED,
        Json(SnapshotSlot {
            snapshot: snapshot_json(&state, row),
            upload,
        }),
    ))
}

/// The image is uploaded: check it and mark the snapshot complete.
#[utoipa::path(post, path = "/api/v1/snapshots/{id}/confirm", tag = "snapshots",
    responses((status = 200, body = Snapshot), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Snapshot>> {
    let mut snap = snapshot_for(&state, &caller, &id).await?;
    if snap.status == SnapshotStatus::Complete {
        return Ok(Json(snapshot_json(&state, snap)));
    }
    let size = match state.store.head(&snap.object_key).await? {
        None => return Err(ApiError::Conflict("snapshot image not uploaded yet".into())),
        Some(s) if s > MAX_SNAPSHOT_BYTES || s == 0 => {
            state.store.delete(&snap.object_key).await?;
            return Err(ApiError::bad("snapshot image must be 1 byte to 10 MiB"));
        }
        // Only a slot from before signed uploads has no announced size.
        Some(s) if snap.size.is_some_and(|want| want != s) => {
            return Err(ApiError::Conflict(format!(
                "snapshot image has {s} bytes, its slot was asked for {}",
                snap.size.unwrap_or_default()
            )));
        }
        Some(s) => s,
    };
    db::snapshots::mark_complete(&state.db, &snap.id, size).await?;
    snap.status = SnapshotStatus::Complete;
    snap.size = Some(size);
    Ok(Json(snapshot_json(&state, snap)))
}

/// One snapshot.
#[utoipa::path(get, path = "/api/v1/snapshots/{id}", tag = "snapshots",
    responses((status = 200, body = Snapshot), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Snapshot>> {
    Ok(Json(snapshot_json(
        &state,
        snapshot_for(&state, &caller, &id).await?,
    )))
}

/// Delete a snapshot and its image.
#[utoipa::path(delete, path = "/api/v1/snapshots/{id}", tag = "snapshots",
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let snap = snapshot_for(&state, &caller, &id).await?;
    db::snapshots::delete(&state.db, &snap.id, &snap.object_key, unix_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Complete snapshots taken in a range, newest first.
#[utoipa::path(get, path = "/api/v1/channels/{id}/snapshots", tag = "snapshots", params(RangeQuery),
    responses((status = 200, body = SnapshotList), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(channel): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> ApiResult<Json<SnapshotList>> {
    let c = channel_for(&state, &caller, &channel).await?;
    check_range(q.start_ms, q.end_ms, i64::MAX)?;
    let rows =
        db::snapshots::complete_in_range(&state.db, &c.id, q.start_ms, q.end_ms, MAX_LIST_ITEMS)
            .await?;
    let snapshots = rows.into_iter().map(|s| snapshot_json(&state, s)).collect();
    Ok(Json(SnapshotList { snapshots }))
}
