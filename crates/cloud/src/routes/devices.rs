//! Devices: register (user-first set-up), list, get, rename, delete, store mode,
//! heartbeat, recording keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eyrie_protocol::api::{
    CreateDeviceRequest, CreateDeviceResponse, Device, DeviceList, ErrorBody, HeartbeatRequest,
    HeartbeatResponse, RecordingKey, RecordingKeyList, RenameDeviceRequest,
    SnapshotRequestAccepted, StoreModeBody,
};
use eyrie_protocol::clock::{unix_ms, unix_secs};
use uuid::Uuid;

use super::{device_for, device_json};
use crate::auth::{Caller, DeviceAuth, UserAuth};
use crate::crypto::digest;
use crate::db;
use crate::db::devices::NewDevice;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::state::AppState;
use crate::store::keys;

/// How long an activation code from `POST /devices` stays valid.
pub const ACTIVATION_TTL_S: i64 = 24 * 3600;
/// Alphabet of human-typed codes (no 0/O, 1/I/L).
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A fresh 8-character code shown as `XXXX-XXXX`.
pub fn new_code() -> String {
    let mut raw = [0u8; 8];
    rand::fill(&mut raw);
    let chars: String = raw
        .iter()
        .map(|b| CODE_ALPHABET[*b as usize % CODE_ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Canonical form of a typed code: upper case, dash and spaces removed.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

pub fn valid_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::bad("name must be 1-64 printable characters"));
    }
    Ok(name.to_owned())
}

/// A device to make for `owner` now (its activation code, if any, valid for a day).
pub fn new_device<'a>(owner: &'a Uuid, name: &'a str, code_hash: Option<&'a str>) -> NewDevice<'a> {
    let now = unix_ms();
    NewDevice {
        owner,
        name,
        activation_code_hash: code_hash,
        activation_expires_ms: now + ACTIVATION_TTL_S * 1000,
        now_ms: now,
    }
}

/// Register a device; the answer carries its one-time activation code.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", request_body = CreateDeviceRequest,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 201, body = CreateDeviceResponse), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiJson(req): ApiJson<CreateDeviceRequest>,
) -> ApiResult<(StatusCode, Json<CreateDeviceResponse>)> {
    let name = valid_name(&req.name)?;
    let code = new_code();
    let code_hash = digest(&normalize_code(&code));
    let d = db::devices::create(&state.db, &new_device(&uid, &name, Some(&code_hash))).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateDeviceResponse {
            device: device_json(&state, &d).await?,
            activation_code: code,
            activation_expires_at: unix_secs() + ACTIVATION_TTL_S,
        }),
    ))
}

/// The caller's devices, by name.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 200, body = DeviceList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
) -> ApiResult<Json<DeviceList>> {
    let rows = db::devices::list_for_owner(&state.db, &uid).await?;
    let mut devices = Vec::with_capacity(rows.len());
    for d in &rows {
        devices.push(device_json(&state, d).await?);
    }
    Ok(Json(DeviceList { devices }))
}

/// One device (its owner, or the device itself).
#[utoipa::path(get, path = "/api/v1/devices/{id}", tag = "devices",
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Device>> {
    let d = device_for(&state, &caller, &id).await?;
    Ok(Json(device_json(&state, &d).await?))
}

/// Rename a device.
#[utoipa::path(patch, path = "/api/v1/devices/{id}", tag = "devices", request_body = RenameDeviceRequest,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 200, body = Device), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn rename(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RenameDeviceRequest>,
) -> ApiResult<Json<Device>> {
    let mut d = device_for(&state, &Caller::User(uid), &id).await?;
    let name = valid_name(&req.name)?;
    db::devices::rename(&state.db, &d.id, &name).await?;
    d.name = name;
    Ok(Json(device_json(&state, &d).await?))
}

/// Delete a device with all its media (objects are removed in the background).
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices",
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    if let Some(broker) = &state.broker_admin {
        // Off the broker at once: its login is deleted, which disconnects it. First, so
        // that an unreachable broker leaves the device whole (503, try again) rather
        // than deleted here and still logged in there; removing it twice is harmless.
        broker.device_removed(&d.id, &d.owner_id).await?;
    }
    db::devices::delete(&state.db, &d.id, &keys::device_prefix(&d.id), unix_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the cloud keeps of this device's recordings.
#[utoipa::path(get, path = "/api/v1/devices/{id}/store-mode", tag = "devices",
    responses((status = 200, body = StoreModeBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn get_store_mode(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<StoreModeBody>> {
    let d = device_for(&state, &caller, &id).await?;
    Ok(Json(StoreModeBody {
        store_mode: d.store_mode,
    }))
}

/// Change the store mode; the camera learns it from its next heartbeat.
#[utoipa::path(put, path = "/api/v1/devices/{id}/store-mode", tag = "devices", request_body = StoreModeBody,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 200, body = StoreModeBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_store_mode(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<StoreModeBody>,
) -> ApiResult<Json<StoreModeBody>> {
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    db::devices::set_store_mode(&state.db, &d.id, req.store_mode).await?;
    Ok(Json(req))
}

/// The device says it is alive (and how its spool is doing).
#[utoipa::path(post, path = "/api/v1/devices/{id}/heartbeat", tag = "devices", request_body = HeartbeatRequest,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a user calling a device route"), (status = 200, body = HeartbeatResponse), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn heartbeat(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<Json<HeartbeatResponse>> {
    let d = device_for(&state, &Caller::Device(dev), &id).await?;
    let req: HeartbeatRequest = crate::error::optional_json(&body)?;
    let dropped = req
        .dropped_segments
        .map_or(d.dropped_segments, |n| n.min(i64::MAX as u64) as i64);
    // A pending snapshot request is handed out once (see `db::devices::heartbeat`).
    let snapshot_requested_ms =
        db::devices::heartbeat(&state.db, &d.id, unix_ms(), dropped).await?;
    Ok(Json(HeartbeatResponse {
        store_mode: d.store_mode,
        snapshot_requested_ms,
    }))
}

/// Ask the camera for a snapshot now (e.g. a fresh thumbnail). The camera hears of it on
/// its next heartbeat and uploads one (source `agent`); 409 when the camera has not been
/// seen recently (it would not hear of it).
#[utoipa::path(post, path = "/api/v1/devices/{id}/snapshot-request", tag = "devices",
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 202, body = SnapshotRequestAccepted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn request_snapshot(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<SnapshotRequestAccepted>)> {
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    let now = unix_ms();
    let online = d
        .last_seen_ms
        .is_some_and(|t| now - t <= super::ONLINE_WINDOW_MS);
    if !d.activated || !online {
        return Err(ApiError::Conflict(
            "the camera is offline; it cannot take a snapshot now".into(),
        ));
    }
    db::devices::request_snapshot(&state.db, &d.id, now).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SnapshotRequestAccepted {
            requested_at_ms: now,
        }),
    ))
}

/// Every recording key of a device, newest first (owner or the device): content keys
/// with the wrap for `viewer_key` (`docs/api.md` §13), legacy keys in the clear.
#[utoipa::path(get, path = "/api/v1/devices/{id}/keys", tag = "devices", params(super::e2e::ViewerKeyQuery),
    responses((status = 200, body = RecordingKeyList), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    crate::error::ApiQuery(q): crate::error::ApiQuery<super::e2e::ViewerKeyQuery>,
) -> ApiResult<Json<RecordingKeyList>> {
    let d = device_for(&state, &caller, &id).await?;
    let content = super::e2e::content_keys(&state, &d.id, q.viewer_key.as_deref()).await?;
    let rows = db::keys::recording_keys(&state.db, &d.id).await?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in rows {
        let raw = state
            .master
            .unwrap(&format!("recording-key:{}", r.key_id), &r.key_sealed)
            .ok_or_else(|| {
                ApiError::Internal("recording key does not unseal (wrong master key?)".into())
            })?;
        keys.push(RecordingKey {
            key_id: r.key_id,
            key: Some(URL_SAFE_NO_PAD.encode(raw)),
            wrapped: None,
            keyset_version: None,
            algorithm: "AES-256-GCM".into(),
            created_ms: r.created_ms,
        });
    }
    keys.extend(content);
    keys.sort_by_key(|k| std::cmp::Reverse(k.created_ms));
    Ok(Json(RecordingKeyList { keys }))
}
