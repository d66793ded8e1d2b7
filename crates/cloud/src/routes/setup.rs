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
    ActivateRequest, ActivationPending, ChannelKind, ClaimRequest, Device, DeviceChannels,
    DeviceCredentials, ErrorBody, PairingRequest, PairingResponse,
};
use eyrie_protocol::clock::unix_ms;

use super::device_json;
use super::devices::{new_code, new_device, normalize_code, valid_name};
use crate::auth::{DEVICE_TOKEN_PREFIX, UserAuth};
use crate::crypto::{digest, random_token};
use crate::db::{self, devices::DeviceRow};
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
    let expires_ms = unix_ms() + PAIRING_TTL_MS;
    // Drop stale pairings now and then so codes stay unique and the table small.
    db::pairings::sweep(&state.db, unix_ms() - 24 * 3600 * 1000).await?;
    let token_hash = digest(&token);
    for _ in 0..5 {
        let code = new_code();
        let stored = normalize_code(&code);
        match db::pairings::create(&state.db, &token_hash, &stored, hint.as_deref(), expires_ms)
            .await
        {
            Ok(()) => {
                return Ok((
                    StatusCode::CREATED,
                    Json(PairingResponse {
                        code,
                        pairing_token: token,
                        expires_at: expires_ms / 1000,
                    }),
                ));
            }
            Err(db::Error::Duplicate) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Internal(
        "could not find a free pairing code".into(),
    ))
}

/// Claim a camera that shows a pairing code.
#[utoipa::path(post, path = "/api/v1/devices/claim", tag = "setup", request_body = ClaimRequest,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 201, body = Device), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn claim(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiJson(req): ApiJson<ClaimRequest>,
) -> ApiResult<(StatusCode, Json<Device>)> {
    let name = valid_name(&req.name)?;
    let code = normalize_code(&req.code);
    let pairing = db::pairings::by_code(&state.db, &code)
        .await?
        .ok_or(ApiError::NotFound("pairing code"))?;
    if pairing.device_id.is_some() || pairing.expires_ms < unix_ms() {
        return Err(ApiError::Gone(
            "pairing code expired or already used".into(),
        ));
    }
    let Some(d) = db::pairings::claim(&state.db, &code, &new_device(&uid, &name, None)).await?
    else {
        return Err(ApiError::Gone("pairing code already used".into()));
    };
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
    let now = unix_ms();
    match (req.activation_code, req.pairing_token) {
        (Some(code), None) => {
            let (d, exp) =
                db::devices::by_activation_code(&state.db, &digest(&normalize_code(&code)))
                    .await?
                    .ok_or(ApiError::NotFound("activation code"))?;
            if d.activated || exp.is_some_and(|e| e < now) {
                return Err(ApiError::Gone(
                    "activation code expired or already used".into(),
                ));
            }
            Ok(Json(credentials(&state, &d).await?).into_response())
        }
        (None, Some(token)) => {
            let token_hash = digest(&token);
            let pairing = db::pairings::by_token(&state.db, &token_hash)
                .await?
                .ok_or(ApiError::NotFound("pairing"))?;
            if pairing.consumed {
                return Err(ApiError::Gone("pairing already activated".into()));
            }
            let Some(device_id) = pairing.device_id else {
                if pairing.expires_ms < now {
                    return Err(ApiError::Gone("pairing expired unclaimed".into()));
                }
                return Ok((
                    StatusCode::ACCEPTED,
                    Json(ActivationPending {
                        status: "pending".into(),
                        expires_at: pairing.expires_ms / 1000,
                    }),
                )
                    .into_response());
            };
            if pairing.expires_ms + PAIRING_TTL_MS < now {
                return Err(ApiError::Gone("pairing expired".into()));
            }
            if !db::pairings::consume(&state.db, &token_hash).await? {
                return Err(ApiError::Gone("pairing already activated".into()));
            }
            let d = db::devices::by_id(&state.db, &device_id)
                .await?
                .ok_or(ApiError::Gone("the claimed device was deleted".into()))?;
            match credentials(&state, &d).await {
                Ok(creds) => Ok(Json(creds).into_response()),
                Err(e @ ApiError::Unavailable(_)) => {
                    // Nothing was activated: the camera's next poll may try again.
                    db::pairings::unconsume(&state.db, &token_hash).await?;
                    Err(e)
                }
                Err(e) => Err(e),
            }
        }
        _ => Err(ApiError::bad(
            "give exactly one of activation_code and pairing_token",
        )),
    }
}

/// Issue a device's secrets (compare-and-set on `activated`) and build its credentials.
/// No recording key: the camera makes its own content keys after the pairing check and
/// the cloud only ever holds them wrapped (`docs/keys.md`).
async fn credentials(state: &AppState, d: &DeviceRow) -> ApiResult<DeviceCredentials> {
    let secret = random_token(32);
    let token = format!("{DEVICE_TOKEN_PREFIX}{}", random_token(32));
    let mqtt_password = random_token(24);
    let activation = db::devices::Activation {
        token_hash: &digest(&token),
        secret_sealed: &state
            .master
            .wrap(&format!("device-secret:{}", d.id), secret.as_bytes()),
        mqtt_password_hash: &digest(&mqtt_password),
        now_ms: unix_ms(),
        key: None,
    };
    if !db::devices::activate(&state.db, &d.id, &activation).await? {
        return Err(ApiError::Gone("device already activated".into()));
    }
    if let Some(broker) = &state.broker_admin
        && let Err(e) = broker
            .device_activated(&d.id, &d.owner_id, &mqtt_password)
            .await
    {
        // Without its broker login the camera could never come online, and a second
        // try would find the device activated: undo the activation so the same code
        // (or pairing) works again once the broker is back.
        db::devices::undo_activation(&state.db, &d.id, activation.token_hash).await?;
        return Err(e.into());
    }
    let channels = db::devices::channels(&state.db, &d.id).await?;
    let of_kind = |k| channels.iter().find(|c| c.kind == k).map(|c| c.id);
    let (Some(main), Some(sub)) = (of_kind(ChannelKind::Main), of_kind(ChannelKind::Sub)) else {
        return Err(ApiError::Internal("device has no main/sub channel".into()));
    };
    Ok(DeviceCredentials {
        device_id: d.id,
        name: d.name.clone(),
        device_secret: secret,
        device_token: token,
        channels: DeviceChannels { main, sub },
        mqtt: crate::routes::live::mqtt_for_device(state, &d.id, mqtt_password),
        recording_key: None,
        store_mode: d.store_mode,
    })
}
