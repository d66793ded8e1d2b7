//! Device set-up, both ways round (COMMON contract, `docs/api.md` "Setting up a camera").
//!
//! ```text
//!  user-first:   app  POST /devices {name} ─► {device, activation_code}
//!                cam  POST /activate {activation_code} ─► DeviceCredentials (once)
//!  camera-first: cam  POST /pairings ─► {code, pairing_token, expires_at}   (shows code)
//!                app  POST /devices/claim {code, name} ─► Device
//!                cam  POST /activate {pairing_token} ─► 202 … 202 ─► DeviceCredentials (once)
//! ```
//!
//! Activation is a compare-and-set (`activated = 0 → 1`), so two racing calls cannot both
//! receive credentials; a used or expired code answers 410.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eyrie_protocol::api::{
    ActivateRequest, ActivationPending, ClaimRequest, Device, DeviceChannels, DeviceCredentials,
    ErrorBody, PairingRequest, PairingResponse,
};
use sqlx::Row as _;

use super::devices::{insert_device, new_code, new_recording_key, normalize_code, valid_name};
use super::{DEVICE_COLUMNS, DeviceRow, device_json};
use crate::auth::{DEVICE_TOKEN_PREFIX, UserAuth};
use crate::crypto::{digest, random_token};
use crate::db::now_ms;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::state::AppState;

/// Unclaimed pairings expire after this long.
pub const PAIRING_TTL_MS: i64 = 10 * 60 * 1000;

/// Start camera-first set-up.
#[utoipa::path(post, path = "/api/v1/pairings", tag = "setup", request_body = PairingRequest,
    responses((status = 201, body = PairingResponse)))]
pub async fn pairing(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<PairingResponse>)> {
    let req: PairingRequest = crate::error::optional_json(&body)?;
    let hint = req
        .name_hint
        .map(|h| h.chars().take(64).collect::<String>());
    let token = random_token(32);
    let expires_ms = now_ms() + PAIRING_TTL_MS;
    // Drop stale pairings now and then so codes stay unique and the table small.
    sqlx::query("DELETE FROM pairings WHERE expires_ms < $1")
        .bind(now_ms() - 24 * 3600 * 1000)
        .execute(&state.db.pool)
        .await?;
    for _ in 0..5 {
        let code = new_code();
        let res = sqlx::query(
            "INSERT INTO pairings (token_hash, code, name_hint, expires_ms, consumed) VALUES ($1, $2, $3, $4, 0)",
        )
        .bind(digest(&token))
        .bind(normalize_code(&code))
        .bind(&hint)
        .bind(expires_ms)
        .execute(&state.db.pool)
        .await;
        match res {
            Ok(_) => {
                return Ok((
                    StatusCode::CREATED,
                    Json(PairingResponse {
                        code,
                        pairing_token: token,
                        expires_at: expires_ms / 1000,
                    }),
                ));
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Internal(
        "could not find a free pairing code".into(),
    ))
}

/// Claim a camera that shows a pairing code.
#[utoipa::path(post, path = "/api/v1/devices/claim", tag = "setup", request_body = ClaimRequest,
    responses((status = 201, body = Device), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn claim(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiJson(req): ApiJson<ClaimRequest>,
) -> ApiResult<(StatusCode, Json<Device>)> {
    let name = valid_name(&req.name)?;
    let code = normalize_code(&req.code);
    let row = sqlx::query("SELECT expires_ms, device_id FROM pairings WHERE code = $1")
        .bind(&code)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(ApiError::NotFound("pairing code"))?;
    let expires_ms: i64 = row.try_get("expires_ms")?;
    let device_id: Option<String> = row.try_get("device_id")?;
    if device_id.is_some() || expires_ms < now_ms() {
        return Err(ApiError::Gone(
            "pairing code expired or already used".into(),
        ));
    }
    let d = insert_device(&state, &uid, &name, None).await?;
    let won =
        sqlx::query("UPDATE pairings SET device_id = $1 WHERE code = $2 AND device_id IS NULL")
            .bind(&d.id)
            .bind(&code)
            .execute(&state.db.pool)
            .await?
            .rows_affected()
            == 1;
    if !won {
        sqlx::query("DELETE FROM channels WHERE device_id = $1")
            .bind(&d.id)
            .execute(&state.db.pool)
            .await?;
        sqlx::query("DELETE FROM devices WHERE id = $1")
            .bind(&d.id)
            .execute(&state.db.pool)
            .await?;
        return Err(ApiError::Gone("pairing code already used".into()));
    }
    Ok((StatusCode::CREATED, Json(device_json(&state, &d).await?)))
}

/// Activate a device: credentials once, 202 while a pairing waits for its claim.
#[utoipa::path(post, path = "/api/v1/activate", tag = "setup", request_body = ActivateRequest,
    responses((status = 200, body = DeviceCredentials), (status = 202, body = ActivationPending),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn activate(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ActivateRequest>,
) -> ApiResult<Response> {
    let now = now_ms();
    match (req.activation_code, req.pairing_token) {
        (Some(code), None) => {
            let sql = format!(
                "SELECT {DEVICE_COLUMNS}, activation_expires_ms FROM devices WHERE activation_code_hash = $1"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(digest(&normalize_code(&code)))
                .fetch_optional(&state.db.pool)
                .await?
                .ok_or(ApiError::NotFound("activation code"))?;
            let d = DeviceRow::from_row(&row)?;
            let exp: Option<i64> = row.try_get("activation_expires_ms")?;
            if d.activated || exp.is_some_and(|e| e < now) {
                return Err(ApiError::Gone(
                    "activation code expired or already used".into(),
                ));
            }
            Ok(Json(credentials(&state, &d).await?).into_response())
        }
        (None, Some(token)) => {
            let row = sqlx::query(
                "SELECT expires_ms, device_id, consumed FROM pairings WHERE token_hash = $1",
            )
            .bind(digest(&token))
            .fetch_optional(&state.db.pool)
            .await?
            .ok_or(ApiError::NotFound("pairing"))?;
            let expires_ms: i64 = row.try_get("expires_ms")?;
            let device_id: Option<String> = row.try_get("device_id")?;
            let consumed = row.try_get::<i64, _>("consumed")? != 0;
            if consumed {
                return Err(ApiError::Gone("pairing already activated".into()));
            }
            let Some(device_id) = device_id else {
                if expires_ms < now {
                    return Err(ApiError::Gone("pairing expired unclaimed".into()));
                }
                return Ok((
                    StatusCode::ACCEPTED,
                    Json(ActivationPending {
                        status: "pending".into(),
                        expires_at: expires_ms / 1000,
                    }),
                )
                    .into_response());
            };
            if expires_ms + PAIRING_TTL_MS < now {
                return Err(ApiError::Gone("pairing expired".into()));
            }
            let won = sqlx::query(
                "UPDATE pairings SET consumed = 1 WHERE token_hash = $1 AND consumed = 0",
            )
            .bind(digest(&token))
            .execute(&state.db.pool)
            .await?
            .rows_affected()
                == 1;
            if !won {
                return Err(ApiError::Gone("pairing already activated".into()));
            }
            let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&device_id)
                .fetch_optional(&state.db.pool)
                .await?
                .ok_or(ApiError::Gone("the claimed device was deleted".into()))?;
            let d = DeviceRow::from_row(&row)?;
            Ok(Json(credentials(&state, &d).await?).into_response())
        }
        _ => Err(ApiError::bad(
            "give exactly one of activation_code and pairing_token",
        )),
    }
}

/// Issue a device's secrets (compare-and-set on `activated`) and build its credentials.
async fn credentials(state: &AppState, d: &DeviceRow) -> ApiResult<DeviceCredentials> {
    let secret = random_token(32);
    let token = format!("{DEVICE_TOKEN_PREFIX}{}", random_token(32));
    let mqtt_password = random_token(24);
    let mut tx = state.db.pool.begin().await?;
    let won = sqlx::query(
        "UPDATE devices SET activated = 1, token_hash = $1, secret_sealed = $2, mqtt_password_hash = $3, \
         last_seen_ms = $4 WHERE id = $5 AND activated = 0",
    )
    .bind(digest(&token))
    .bind(state.master.wrap(&format!("device-secret:{}", d.id), secret.as_bytes()))
    .bind(digest(&mqtt_password))
    .bind(now_ms())
    .bind(&d.id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !won {
        return Err(ApiError::Gone("device already activated".into()));
    }
    let key = new_recording_key(state, &mut tx, &d.id).await?;
    tx.commit().await?;
    let rows = sqlx::query("SELECT id, kind FROM channels WHERE device_id = $1")
        .bind(&d.id)
        .fetch_all(&state.db.pool)
        .await?;
    let mut main = None;
    let mut sub = None;
    for r in &rows {
        let id = super::accounts::parse_uuid(&r.try_get::<String, _>("id")?)?;
        match r.try_get::<String, _>("kind")?.as_str() {
            "main" => main = Some(id),
            "sub" => sub = Some(id),
            _ => {}
        }
    }
    let (Some(main), Some(sub)) = (main, sub) else {
        return Err(ApiError::Internal("device has no main/sub channel".into()));
    };
    Ok(DeviceCredentials {
        device_id: super::accounts::parse_uuid(&d.id)?,
        name: d.name.clone(),
        device_secret: secret,
        device_token: token,
        channels: DeviceChannels { main, sub },
        mqtt: crate::routes::live::mqtt_for_device(state, &d.id, mqtt_password),
        recording_key: key,
        store_mode: d.store_mode,
    })
}
