//! Clips: a user asks for a range of a channel; the clip assembler (workers::clips) turns
//! it into one object. Here: create, get, list, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eyrie_protocol::api::{Clip, ClipList, ClipPart, ClipStatus, CreateClipRequest, ErrorBody};
use serde::Deserialize;
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::accounts::parse_uuid;
use super::{channel_for, check_range, keys};
use crate::auth::{Caller, UserAuth};
use crate::db::{new_id, now_ms};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

/// Longest clip.
pub const MAX_CLIP_MS: i64 = 3_600_000;

pub const CLIP_COLUMNS: &str = "id, channel_id, device_id, owner_id, name, start_ms, end_ms, status, reason, \
     object_key, size, parts, created_ms, finished_ms, deadline_ms";

/// A clip row and its object key.
pub fn clip_from(state: &AppState, r: &AnyRow) -> ApiResult<(Clip, String)> {
    let status = match r.try_get::<String, _>("status")?.as_str() {
        "in_progress" => ClipStatus::InProgress,
        "finished" => ClipStatus::Finished,
        "failed" => ClipStatus::Failed,
        _ => ClipStatus::Unknown,
    };
    let key: String = r.try_get("object_key")?;
    let parts: Vec<ClipPart> = r
        .try_get::<Option<String>, _>("parts")?
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default();
    Ok((
        Clip {
            id: parse_uuid(&r.try_get::<String, _>("id")?)?,
            channel_id: parse_uuid(&r.try_get::<String, _>("channel_id")?)?,
            device_id: parse_uuid(&r.try_get::<String, _>("device_id")?)?,
            name: r.try_get("name")?,
            start_ms: r.try_get("start_ms")?,
            end_ms: r.try_get("end_ms")?,
            status,
            reason: r.try_get("reason")?,
            size: r
                .try_get::<Option<i64>, _>("size")?
                .map(|s| s.max(0) as u64),
            parts,
            created_ms: r.try_get("created_ms")?,
            finished_ms: r.try_get("finished_ms")?,
            download: (status == ClipStatus::Finished).then(|| state.store.presign_get(&key)),
        },
        key,
    ))
}

/// Ask for a clip of a channel's range.
#[utoipa::path(post, path = "/api/v1/channels/{id}/clips", tag = "clips", request_body = CreateClipRequest,
    responses((status = 202, body = Clip), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(channel): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CreateClipRequest>,
) -> ApiResult<(StatusCode, Json<Clip>)> {
    let c = channel_for(&state, &Caller::User(uid.clone()), &channel).await?;
    check_range(req.start_ms, req.end_ms, MAX_CLIP_MS)?;
    let now = now_ms();
    if req.start_ms > now + 60_000 {
        return Err(ApiError::bad("a clip must start before now"));
    }
    let name = match req.name.as_deref() {
        Some(n) => Some(super::devices::valid_name(n)?),
        None => None,
    };
    let id = new_id();
    let key = keys::clip(&c.device_id, &c.id, &id);
    let deadline = now.max(req.end_ms) + state.config.clip_wait.as_millis() as i64;
    sqlx::query(
        "INSERT INTO clips (id, channel_id, device_id, owner_id, name, start_ms, end_ms, status, object_key, \
         created_ms, deadline_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, 'in_progress', $8, $9, $10)",
    )
    .bind(&id)
    .bind(&c.id)
    .bind(&c.device_id)
    .bind(&uid)
    .bind(&name)
    .bind(req.start_ms)
    .bind(req.end_ms)
    .bind(&key)
    .bind(now)
    .bind(deadline)
    .execute(&state.db.pool)
    .await?;
    state.clip_kick.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(Clip {
            id: parse_uuid(&id)?,
            channel_id: channel,
            device_id: parse_uuid(&c.device_id)?,
            name,
            start_ms: req.start_ms,
            end_ms: req.end_ms,
            status: ClipStatus::InProgress,
            reason: None,
            size: None,
            parts: vec![],
            created_ms: now,
            finished_ms: None,
            download: None,
        }),
    ))
}

async fn clip_for(state: &AppState, uid: &str, id: &Uuid) -> ApiResult<(Clip, String)> {
    let sql = format!("SELECT {CLIP_COLUMNS} FROM clips WHERE id = $1 AND owner_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .bind(uid)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(ApiError::NotFound("clip"))?;
    clip_from(state, &row)
}

/// One clip (poll it until `finished` or `failed`).
#[utoipa::path(get, path = "/api/v1/clips/{id}", tag = "clips",
    responses((status = 200, body = Clip), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Clip>> {
    Ok(Json(clip_for(&state, &uid, &id).await?.0))
}

/// Filter of the clip list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClipFilter {
    pub device_id: Option<Uuid>,
}

/// The caller's clips, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/clips", tag = "clips", params(ClipFilter),
    responses((status = 200, body = ClipList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiQuery(f): ApiQuery<ClipFilter>,
) -> ApiResult<Json<ClipList>> {
    let rows = match f.device_id {
        Some(d) => {
            let sql = format!(
                "SELECT {CLIP_COLUMNS} FROM clips WHERE owner_id = $1 AND device_id = $2 ORDER BY created_ms DESC LIMIT 500"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&uid)
                .bind(d.to_string())
                .fetch_all(&state.db.pool)
                .await?
        }
        None => {
            let sql = format!(
                "SELECT {CLIP_COLUMNS} FROM clips WHERE owner_id = $1 ORDER BY created_ms DESC LIMIT 500"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&uid)
                .fetch_all(&state.db.pool)
                .await?
        }
    };
    let clips = rows
        .iter()
        .map(|r| clip_from(&state, r).map(|c| c.0))
        .collect::<ApiResult<_>>()?;
    Ok(Json(ClipList { clips }))
}

/// Delete a clip and its object.
#[utoipa::path(delete, path = "/api/v1/clips/{id}", tag = "clips",
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let (_, key) = clip_for(&state, &uid, &id).await?;
    let mut tx = state.db.pool.begin().await?;
    sqlx::query("DELETE FROM clips WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    crate::workers::queue_deletion(&mut tx, &key).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
