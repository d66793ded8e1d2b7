//! Clips: a user asks for a range of a channel; the clip assembler (workers::clips) turns
//! it into one object. Here: create, get, list, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use eyrie_protocol::api::{Clip, ClipList, ClipStatus, CreateClipRequest, ErrorBody};
use eyrie_protocol::clock::unix_ms;
use serde::Deserialize;
use uuid::Uuid;

use super::{channel_for, check_range};
use crate::auth::{Caller, UserAuth};
use crate::db::{self, clips::ClipRow, new_id};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;
use crate::store::keys;

/// Longest clip.
pub const MAX_CLIP_MS: i64 = 3_600_000;
/// Most clips in a listing.
const MAX_LIST_ITEMS: i64 = 500;

/// The API view of a clip: a finished one carries a presigned GET.
fn clip_json(state: &AppState, c: ClipRow) -> Clip {
    let download =
        (c.status == ClipStatus::Finished).then(|| state.store.presign_get(&c.object_key));
    Clip {
        id: c.id,
        channel_id: c.channel_id,
        device_id: c.device_id,
        name: c.name,
        start_ms: c.start_ms,
        end_ms: c.end_ms,
        status: c.status,
        reason: c.reason,
        size: c.size,
        parts: c.parts,
        created_ms: c.created_ms,
        finished_ms: c.finished_ms,
        download,
    }
}

/// The checks of a clip request at `now_ms`: a range of at most [`MAX_CLIP_MS`] that
/// starts before now (a minute of clock skew allowed), and a valid name if any.
pub fn check_clip(req: &CreateClipRequest, now_ms: i64) -> ApiResult<Option<String>> {
    check_range(req.start_ms, req.end_ms, MAX_CLIP_MS)?;
    if req.start_ms > now_ms + 60_000 {
        return Err(ApiError::bad("a clip must start before now"));
    }
    req.name
        .as_deref()
        .map(super::devices::valid_name)
        .transpose()
}

/// Ask for a clip of a channel's range.
#[utoipa::path(post, path = "/api/v1/channels/{id}/clips", tag = "clips", request_body = CreateClipRequest,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 202, body = Clip), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(channel): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CreateClipRequest>,
) -> ApiResult<(StatusCode, Json<Clip>)> {
    let c = channel_for(&state, &Caller::User(uid), &channel).await?;
    let now = unix_ms();
    let name = check_clip(&req, now)?;
    let id = new_id();
    let row = ClipRow {
        id,
        channel_id: c.id,
        device_id: c.device_id,
        owner_id: uid,
        name,
        start_ms: req.start_ms,
        end_ms: req.end_ms,
        status: ClipStatus::InProgress,
        reason: None,
        object_key: keys::clip(&c.device_id, &c.id, &id),
        size: None,
        parts: vec![],
        created_ms: now,
        finished_ms: None,
        deadline_ms: now.max(req.end_ms) + state.config.clip_wait.as_millis() as i64,
    };
    db::clips::insert(&state.db, &row).await?;
    state.clip_kick.notify_one();
    Ok((StatusCode::ACCEPTED, Json(clip_json(&state, row))))
}

async fn clip_for(state: &AppState, uid: &Uuid, id: &Uuid) -> ApiResult<ClipRow> {
    db::clips::for_owner(&state.db, id, uid)
        .await?
        .ok_or(ApiError::NotFound("clip"))
}

/// One clip (poll it until `finished` or `failed`).
#[utoipa::path(get, path = "/api/v1/clips/{id}", tag = "clips",
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 200, body = Clip), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Clip>> {
    Ok(Json(clip_json(&state, clip_for(&state, &uid, &id).await?)))
}

/// Filter of the clip list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClipFilter {
    pub device_id: Option<Uuid>,
}

/// The caller's clips, newest first (at most 500).
#[utoipa::path(get, path = "/api/v1/clips", tag = "clips", params(ClipFilter),
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 200, body = ClipList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiQuery(f): ApiQuery<ClipFilter>,
) -> ApiResult<Json<ClipList>> {
    let rows =
        db::clips::list_for_owner(&state.db, &uid, f.device_id.as_ref(), MAX_LIST_ITEMS).await?;
    let clips = rows.into_iter().map(|c| clip_json(&state, c)).collect();
    Ok(Json(ClipList { clips }))
}

/// Delete a clip and its object.
#[utoipa::path(delete, path = "/api/v1/clips/{id}", tag = "clips",
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let clip = clip_for(&state, &uid, &id).await?;
    db::clips::delete(&state.db, &clip.id, &clip.object_key, unix_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
