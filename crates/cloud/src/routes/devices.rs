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
    SnapshotRequestAccepted, StoreMode, StoreModeBody,
};
use sqlx::Row as _;
use uuid::Uuid;

use super::{DEVICE_COLUMNS, DeviceRow, device_for, device_json, keys};
use crate::auth::{Caller, DeviceAuth, UserAuth};
use crate::crypto::digest;
use crate::db::{new_id, now_ms, now_s};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::state::AppState;

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

/// Insert a device (not activated) and its main and sub channels.
pub async fn insert_device(
    state: &AppState,
    owner: &str,
    name: &str,
    activation_code_hash: Option<&str>,
) -> ApiResult<DeviceRow> {
    let id = new_id();
    let now = now_ms();
    let mut tx = state.db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO devices (id, owner_id, name, store_mode, activated, activation_code_hash, \
         activation_expires_ms, dropped_segments, created_ms) VALUES ($1, $2, $3, $4, 0, $5, $6, 0, $7)",
    )
    .bind(&id)
    .bind(owner)
    .bind(name)
    .bind(StoreMode::default().as_str())
    .bind(activation_code_hash)
    .bind(now + ACTIVATION_TTL_S * 1000)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    for kind in ["main", "sub"] {
        sqlx::query("INSERT INTO channels (id, device_id, kind) VALUES ($1, $2, $3)")
            .bind(new_id())
            .bind(&id)
            .bind(kind)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(DeviceRow {
        id,
        owner_id: owner.into(),
        name: name.into(),
        store_mode: StoreMode::default(),
        activated: false,
        last_seen_ms: None,
        dropped_segments: 0,
        created_ms: now,
    })
}

/// Register a device; the answer carries its one-time activation code.
#[utoipa::path(post, path = "/api/v1/devices", tag = "devices", request_body = CreateDeviceRequest,
    responses((status = 201, body = CreateDeviceResponse), (status = 400, body = ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiJson(req): ApiJson<CreateDeviceRequest>,
) -> ApiResult<(StatusCode, Json<CreateDeviceResponse>)> {
    let name = valid_name(&req.name)?;
    let code = new_code();
    let d = insert_device(&state, &uid, &name, Some(&digest(&normalize_code(&code)))).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreateDeviceResponse {
            device: device_json(&state, &d).await?,
            activation_code: code,
            activation_expires_at: now_s() + ACTIVATION_TTL_S,
        }),
    ))
}

/// The caller's devices, by name.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices",
    responses((status = 200, body = DeviceList)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
) -> ApiResult<Json<DeviceList>> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE owner_id = $1 ORDER BY name, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&uid)
        .fetch_all(&state.db.pool)
        .await?;
    let mut devices = Vec::with_capacity(rows.len());
    for r in &rows {
        devices.push(device_json(&state, &DeviceRow::from_row(r)?).await?);
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
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn rename(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<RenameDeviceRequest>,
) -> ApiResult<Json<Device>> {
    let mut d = device_for(&state, &Caller::User(uid), &id).await?;
    let name = valid_name(&req.name)?;
    sqlx::query("UPDATE devices SET name = $1 WHERE id = $2")
        .bind(&name)
        .bind(&d.id)
        .execute(&state.db.pool)
        .await?;
    d.name = name;
    Ok(Json(device_json(&state, &d).await?))
}

/// Delete a device with all its media (objects are removed in the background).
#[utoipa::path(delete, path = "/api/v1/devices/{id}", tag = "devices",
    responses((status = 204), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    let mut tx = state.db.pool.begin().await?;
    for sql in [
        "DELETE FROM recordings WHERE channel_id IN (SELECT id FROM channels WHERE device_id = $1)",
        "DELETE FROM events WHERE channel_id IN (SELECT id FROM channels WHERE device_id = $1)",
        "DELETE FROM snapshots WHERE channel_id IN (SELECT id FROM channels WHERE device_id = $1)",
        "DELETE FROM clips WHERE device_id = $1",
        "DELETE FROM recording_keys WHERE device_id = $1",
        "DELETE FROM channels WHERE device_id = $1",
        "DELETE FROM devices WHERE id = $1",
    ] {
        sqlx::query(sql).bind(&d.id).execute(&mut *tx).await?;
    }
    crate::workers::queue_deletion(&mut tx, &keys::device_prefix(&d.id)).await?;
    tx.commit().await?;
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
    responses((status = 200, body = StoreModeBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn set_store_mode(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<StoreModeBody>,
) -> ApiResult<Json<StoreModeBody>> {
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    sqlx::query("UPDATE devices SET store_mode = $1 WHERE id = $2")
        .bind(req.store_mode.as_str())
        .bind(&d.id)
        .execute(&state.db.pool)
        .await?;
    Ok(Json(req))
}

/// The device says it is alive (and how its spool is doing).
#[utoipa::path(post, path = "/api/v1/devices/{id}/heartbeat", tag = "devices", request_body = HeartbeatRequest,
    responses((status = 200, body = HeartbeatResponse), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
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
    sqlx::query("UPDATE devices SET last_seen_ms = $1, dropped_segments = $2 WHERE id = $3")
        .bind(now_ms())
        .bind(dropped)
        .bind(&d.id)
        .execute(&state.db.pool)
        .await?;
    // A pending snapshot request is handed out once: cleared only if it is still the one
    // read, so two racing heartbeats cannot both take it (and a newer request survives).
    let asked: Option<i64> =
        sqlx::query_scalar("SELECT snapshot_requested_ms FROM devices WHERE id = $1")
            .bind(&d.id)
            .fetch_optional(&state.db.pool)
            .await?
            .flatten();
    let mut snapshot_requested_ms = None;
    if let Some(t) = asked {
        let cleared = sqlx::query(
            "UPDATE devices SET snapshot_requested_ms = NULL WHERE id = $1 AND snapshot_requested_ms = $2",
        )
        .bind(&d.id)
        .bind(t)
        .execute(&state.db.pool)
        .await?;
        if cleared.rows_affected() == 1 {
            snapshot_requested_ms = Some(t);
        }
    }
    Ok(Json(HeartbeatResponse {
        store_mode: d.store_mode,
        snapshot_requested_ms,
    }))
}

/// Ask the camera for a snapshot now (e.g. a fresh thumbnail). The camera hears of it on
/// its next heartbeat and uploads one (source `agent`); 409 when the camera has not been
/// seen recently (it would not hear of it).
#[utoipa::path(post, path = "/api/v1/devices/{id}/snapshot-request", tag = "devices",
    responses((status = 202, body = SnapshotRequestAccepted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("bearer" = [])))]
pub async fn request_snapshot(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, Json<SnapshotRequestAccepted>)> {
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    let now = now_ms();
    let online = d
        .last_seen_ms
        .is_some_and(|t| now - t <= super::ONLINE_WINDOW_MS);
    if !d.activated || !online {
        return Err(ApiError::Conflict(
            "the camera is offline; it cannot take a snapshot now".into(),
        ));
    }
    sqlx::query("UPDATE devices SET snapshot_requested_ms = $1 WHERE id = $2")
        .bind(now)
        .bind(&d.id)
        .execute(&state.db.pool)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SnapshotRequestAccepted {
            requested_at_ms: now,
        }),
    ))
}

/// Generate and store a new recording key for a device; returns it in clear.
pub async fn new_recording_key(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    device: &str,
) -> ApiResult<RecordingKey> {
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    let mut kid = [0u8; 8];
    rand::fill(&mut kid);
    let key_id = hex::encode(kid);
    let now = now_ms();
    sqlx::query("INSERT INTO recording_keys (key_id, device_id, key_sealed, created_ms) VALUES ($1, $2, $3, $4)")
        .bind(&key_id)
        .bind(device)
        .bind(state.master.wrap(&format!("recording-key:{key_id}"), &raw))
        .bind(now)
        .execute(conn)
        .await?;
    Ok(RecordingKey {
        key_id,
        key: URL_SAFE_NO_PAD.encode(raw),
        algorithm: "AES-256-GCM".into(),
        created_ms: now,
    })
}

/// Every recording key of a device, newest first (owner or the device).
#[utoipa::path(get, path = "/api/v1/devices/{id}/keys", tag = "devices",
    responses((status = 200, body = RecordingKeyList), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn keys(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<RecordingKeyList>> {
    let d = device_for(&state, &caller, &id).await?;
    let rows = sqlx::query(
        "SELECT key_id, key_sealed, created_ms FROM recording_keys WHERE device_id = $1 ORDER BY created_ms DESC",
    )
    .bind(&d.id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut keys = Vec::with_capacity(rows.len());
    for r in &rows {
        let key_id: String = r.try_get("key_id")?;
        let sealed: String = r.try_get("key_sealed")?;
        let raw = state
            .master
            .unwrap(&format!("recording-key:{key_id}"), &sealed)
            .ok_or_else(|| {
                ApiError::Internal("recording key does not unseal (wrong master key?)".into())
            })?;
        keys.push(RecordingKey {
            key_id,
            key: URL_SAFE_NO_PAD.encode(raw),
            algorithm: "AES-256-GCM".into(),
            created_ms: r.try_get("created_ms")?,
        });
    }
    Ok(Json(RecordingKeyList { keys }))
}
