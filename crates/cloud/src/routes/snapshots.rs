//! Snapshots: create (→ presigned PUT), confirm (HEAD), list with GETs, get, delete.
//! Users create `client` snapshots, devices `agent` ones; both for channels they own.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eyrie_protocol::api::{
    CreateSnapshotRequest, ErrorBody, RangeQuery, Snapshot, SnapshotList, SnapshotSlot,
    SnapshotSource, SnapshotStatus,
};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::accounts::parse_uuid;
use super::{channel_for, check_range, keys};
use crate::auth::Caller;
use crate::db::{new_id, now_ms};
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

/// Largest snapshot accepted at confirmation.
pub const MAX_SNAPSHOT_BYTES: u64 = 10 * 1024 * 1024;

fn snapshot_from(state: &AppState, r: &AnyRow) -> ApiResult<(Snapshot, String)> {
    let status = match r.try_get::<String, _>("status")?.as_str() {
        "pending" => SnapshotStatus::Pending,
        "complete" => SnapshotStatus::Complete,
        _ => SnapshotStatus::Unknown,
    };
    let source = match r.try_get::<String, _>("source")?.as_str() {
        "client" => SnapshotSource::Client,
        "agent" => SnapshotSource::Agent,
        _ => SnapshotSource::Unknown,
    };
    let key: String = r.try_get("object_key")?;
    Ok((
        Snapshot {
            id: parse_uuid(&r.try_get::<String, _>("id")?)?,
            channel_id: parse_uuid(&r.try_get::<String, _>("channel_id")?)?,
            taken_at_ms: r.try_get("taken_at_ms")?,
            source,
            status,
            size: r
                .try_get::<Option<i64>, _>("size")?
                .map(|s| s.max(0) as u64),
            download: (status == SnapshotStatus::Complete).then(|| state.store.presign_get(&key)),
        },
        key,
    ))
}

const SNAP_COLUMNS: &str =
    "s.id, s.channel_id, s.taken_at_ms, s.source, s.status, s.size, s.object_key";

/// Load a snapshot the caller may see, else 404.
async fn snapshot_for(
    state: &AppState,
    caller: &Caller,
    id: &Uuid,
) -> ApiResult<(Snapshot, String)> {
    let sql = format!(
        "SELECT {SNAP_COLUMNS}, c.device_id, d.owner_id FROM snapshots s JOIN channels c ON c.id = s.channel_id \
         JOIN devices d ON d.id = c.device_id WHERE s.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(ApiError::NotFound("snapshot"))?;
    let allowed = match caller {
        Caller::User(u) => &row.try_get::<String, _>("owner_id")? == u,
        Caller::Device(d) => &row.try_get::<String, _>("device_id")? == d,
    };
    if !allowed {
        return Err(ApiError::NotFound("snapshot"));
    }
    snapshot_from(state, &row)
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
    let taken_at_ms = req.taken_at_ms.unwrap_or_else(now_ms);
    if taken_at_ms < 0 {
        return Err(ApiError::bad("taken_at_ms must be non-negative"));
    }
    let source = match caller {
        Caller::User(_) => SnapshotSource::Client,
        Caller::Device(_) => SnapshotSource::Agent,
    };
    let id = new_id();
    let key = keys::snapshot(&c.device_id, &c.id, &id);
    sqlx::query(
        "INSERT INTO snapshots (id, channel_id, object_key, taken_at_ms, source, status, created_ms) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
    )
    .bind(&id)
    .bind(&c.id)
    .bind(&key)
    .bind(taken_at_ms)
    .bind(if source == SnapshotSource::Agent { "agent" } else { "client" })
    .bind(now_ms())
    .execute(&state.db.pool)
    .await?;
    let upload = state.store.presign_put(&key);
    Ok((
        StatusCode::CREATED,
        Json(SnapshotSlot {
            snapshot: Snapshot {
                id: parse_uuid(&id)?,
                channel_id: channel,
                taken_at_ms,
                source,
                status: SnapshotStatus::Pending,
                size: None,
                download: None,
            },
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
    let (mut snap, key) = snapshot_for(&state, &caller, &id).await?;
    if snap.status == SnapshotStatus::Complete {
        return Ok(Json(snap));
    }
    let size = match state.store.head(&key).await? {
        None => return Err(ApiError::Conflict("snapshot image not uploaded yet".into())),
        Some(s) if s > MAX_SNAPSHOT_BYTES || s == 0 => {
            state.store.delete(&key).await?;
            return Err(ApiError::bad("snapshot image must be 1 byte to 10 MiB"));
        }
        Some(s) => s,
    };
    sqlx::query("UPDATE snapshots SET status = 'complete', size = $1 WHERE id = $2")
        .bind(size as i64)
        .bind(id.to_string())
        .execute(&state.db.pool)
        .await?;
    snap.status = SnapshotStatus::Complete;
    snap.size = Some(size);
    snap.download = Some(state.store.presign_get(&key));
    Ok(Json(snap))
}

/// One snapshot.
#[utoipa::path(get, path = "/api/v1/snapshots/{id}", tag = "snapshots",
    responses((status = 200, body = Snapshot), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Snapshot>> {
    Ok(Json(snapshot_for(&state, &caller, &id).await?.0))
}

/// Delete a snapshot and its image.
#[utoipa::path(delete, path = "/api/v1/snapshots/{id}", tag = "snapshots",
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let (_, key) = snapshot_for(&state, &caller, &id).await?;
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("DELETE FROM snapshots WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    crate::workers::queue_deletion(&mut tx, &key).await?;
    tx.commit().await?;
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
    let sql = format!(
        "SELECT {SNAP_COLUMNS} FROM snapshots s WHERE s.channel_id = $1 AND s.status = 'complete' \
         AND s.taken_at_ms >= $2 AND s.taken_at_ms < $3 ORDER BY s.taken_at_ms DESC LIMIT 1000"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&c.id)
        .bind(q.start_ms)
        .bind(q.end_ms)
        .fetch_all(&state.db.pool)
        .await?;
    let snapshots = rows
        .iter()
        .map(|r| snapshot_from(&state, r).map(|(s, _)| s))
        .collect::<ApiResult<_>>()?;
    Ok(Json(SnapshotList { snapshots }))
}
