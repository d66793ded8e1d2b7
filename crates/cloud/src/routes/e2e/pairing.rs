//! The pairing check, relayed between camera and viewer; the cloud sees neither secret.

use super::*;

/// Start a pairing check (the device): clears any answer and outcome.
#[utoipa::path(put, path = "/api/v1/devices/{id}/pairing/camera", tag = "keys", request_body = CameraHello,
    responses((status = 204, description = "check started"),
        (status = 403, body = ErrorBody, description = "a user calling a device route"),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody, description = "body larger than 32 KiB")),
    security(("bearer" = [])))]
pub async fn pairing_camera(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(hello): ApiJson<CameraHello>,
) -> ApiResult<StatusCode> {
    let d = device_for(&state, &Caller::Device(dev), &id).await?;
    b64_up_to("attempt", &hello.attempt, 32)?;
    b64_up_to("pake", &hello.pake, 64)?;
    db::e2e::pairing_start(
        &state.db,
        &d.id,
        &hello.attempt,
        &to_json(&hello)?,
        unix_ms(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Where the device's pairing check stands (the device or its owner).
#[utoipa::path(get, path = "/api/v1/devices/{id}/pairing", tag = "keys",
    responses((status = 200, body = PairingState), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pairing(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<PairingState>> {
    let d = device_for(&state, &caller, &id).await?;
    let row = db::e2e::pairing(&state.db, &d.id).await?;
    let outcome = match row.outcome.as_deref() {
        None => None,
        Some("verified") => Some(PairingOutcome::Verified),
        Some("refused") => Some(PairingOutcome::Refused),
        Some(_) => {
            return Err(ApiError::Internal(
                "stored pairing outcome unreadable".into(),
            ));
        }
    };
    Ok(Json(PairingState {
        camera: row.camera.as_deref().map(from_json).transpose()?,
        viewer: row.viewer.as_deref().map(from_json).transpose()?,
        outcome,
    }))
}

/// The viewer's answer to the camera's hello (owner).
#[utoipa::path(put, path = "/api/v1/devices/{id}/pairing/viewer", tag = "keys", request_body = ViewerAnswer,
    responses((status = 204, description = "answer stored"),
        (status = 403, body = ErrorBody, description = "a device calling a user route"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no hello yet, the attempt is not the hello's or was answered already, or the key set version does not exist"),
        (status = 413, body = ErrorBody, description = "body larger than 32 KiB")),
    security(("bearer" = [])))]
pub async fn pairing_viewer(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(answer): ApiJson<ViewerAnswer>,
) -> ApiResult<StatusCode> {
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    b64_up_to("attempt", &answer.attempt, 32)?;
    b64_up_to("pake", &answer.pake, 64)?;
    b64_of_len("mac", &answer.mac, 32)?;
    if db::e2e::statement(&state.db, &d.owner_id, answer.keyset_version)
        .await?
        .is_none()
    {
        return Err(ApiError::Conflict(format!(
            "no key set version {}",
            answer.keyset_version
        )));
    }
    let stored = db::e2e::pairing_answer(
        &state.db,
        &d.id,
        &answer.attempt,
        &to_json(&answer)?,
        unix_ms(),
    )
    .await?;
    if !stored {
        return Err(ApiError::Conflict(
            "no hello for this attempt waiting for an answer (none yet, a newer attempt, or \
             answered already)"
                .into(),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The camera's outcome of the check (the device).
#[utoipa::path(put, path = "/api/v1/devices/{id}/pairing/outcome", tag = "keys", request_body = PairingOutcomeRequest,
    responses((status = 204, description = "outcome stored"),
        (status = 403, body = ErrorBody, description = "a user calling a device route"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no answer yet"),
        (status = 413, body = ErrorBody, description = "body larger than 32 KiB")),
    security(("bearer" = [])))]
pub async fn pairing_outcome(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<PairingOutcomeRequest>,
) -> ApiResult<StatusCode> {
    let d = device_for(&state, &Caller::Device(dev), &id).await?;
    let outcome = match req.outcome {
        PairingOutcome::Verified => "verified",
        PairingOutcome::Refused => "refused",
    };
    if !db::e2e::pairing_outcome(&state.db, &d.id, outcome, unix_ms()).await? {
        return Err(ApiError::Conflict("the check has no answer yet".into()));
    }
    Ok(StatusCode::NO_CONTENT)
}
