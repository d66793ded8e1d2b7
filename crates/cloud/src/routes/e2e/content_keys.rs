//! Content keys: registered by the device, wrapped to every viewer key of a key set.

use super::*;

/// Register a content key wrapped to every key of a key set version (the device).
#[utoipa::path(post, path = "/api/v1/devices/{id}/content-keys", tag = "keys", request_body = NewContentKey,
    responses((status = 201, description = "content key stored"),
        (status = 400, body = ErrorBody, description = "malformed: key id, time, no wraps or more than 64, a wrap for a key not in that key set version"),
        (status = 403, body = ErrorBody, description = "a user calling a device route"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the key id exists for this device, or the owner has no such key set version"),
        (status = 413, body = ErrorBody, description = "body larger than 32 KiB")),
    security(("bearer" = [])))]
pub async fn post_content_key(
    State(state): State<AppState>,
    DeviceAuth(dev): DeviceAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(req): ApiJson<NewContentKey>,
) -> ApiResult<StatusCode> {
    let d = device_for(&state, &Caller::Device(dev), &id).await?;
    key_id("key_id", &req.key_id)?;
    check_time("created_ms", req.created_ms)?;
    let wraps = check_wraps(&req.wraps)?;
    let Some(set) = members(&state, &d.owner_id, req.keyset_version).await? else {
        return Err(ApiError::Conflict(format!(
            "the owner has no key set version {}",
            req.keyset_version
        )));
    };
    if let Some(w) = wraps
        .iter()
        .find(|w| !set.keys.iter().any(|m| m.id == w.viewer_key_id))
    {
        return Err(ApiError::bad(format!(
            "viewer key {} is not in key set version {}",
            w.viewer_key_id, req.keyset_version
        )));
    }
    if db::e2e::key_known(&state.db, &d.id, &req.key_id).await? {
        return Err(ApiError::Conflict(
            "the key id exists for this device".into(),
        ));
    }
    match db::e2e::insert_content_key(
        &state.db,
        &d.id,
        &req.key_id,
        req.created_ms,
        req.keyset_version,
        &wraps,
    )
    .await
    {
        Ok(()) => Ok(StatusCode::CREATED),
        Err(db::Error::Duplicate) => Err(ApiError::Conflict(
            "the key id exists for this device".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Wraps of a content key for more viewer keys, each a member of the owner's latest key
/// set (owner): adds, or replaces the wrap for the same viewer key.
#[utoipa::path(post, path = "/api/v1/devices/{id}/content-keys/{key_id}/wraps", tag = "keys", request_body = AddWraps,
    params(("key_id" = String, Path, description = "the content key id, 16 lowercase hex characters")),
    responses((status = 204, description = "wraps stored"),
        (status = 400, body = ErrorBody, description = "malformed: no wraps or more than 64, a wrap for a key not in the latest key set"),
        (status = 403, body = ErrorBody, description = "a device calling a user route"),
        (status = 404, body = ErrorBody, description = "no such device, or no such content key of it"),
        (status = 413, body = ErrorBody, description = "body larger than 32 KiB")),
    security(("bearer" = [])))]
pub async fn add_wraps(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath((id, content_key)): ApiPath<(Uuid, String)>,
    ApiJson(req): ApiJson<AddWraps>,
) -> ApiResult<StatusCode> {
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    key_id("key_id", &content_key)?;
    let wraps = check_wraps(&req.wraps)?;
    let latest = match db::e2e::latest_statement(&state.db, &d.owner_id).await? {
        Some(row) => stored_set(&row.statement)?.body,
        None => return Err(ApiError::bad("the owner has no key set")),
    };
    if let Some(w) = wraps
        .iter()
        .find(|w| !latest.keys.iter().any(|m| m.id == w.viewer_key_id))
    {
        return Err(ApiError::bad(format!(
            "viewer key {} is not in the latest key set",
            w.viewer_key_id
        )));
    }
    if !db::e2e::add_wraps(&state.db, &d.id, &content_key, &wraps).await? {
        return Err(ApiError::NotFound("content key"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The device's content keys for [`super::devices::keys`], newest first, each with the
/// wrap for `viewer_key` when there is one.
pub async fn content_keys(
    state: &AppState,
    device: &Uuid,
    viewer_key: Option<&str>,
) -> ApiResult<Vec<RecordingKey>> {
    if let Some(v) = viewer_key {
        key_id("viewer_key", v)?;
    }
    let rows = db::e2e::content_keys(&state.db, device, viewer_key).await?;
    Ok(rows
        .into_iter()
        .map(|r| RecordingKey {
            key_id: r.key_id,
            key: None,
            wrapped: r.wrap.map(|w| WrappedKey {
                viewer_key_id: w.viewer_key_id,
                enc: w.enc,
                ct: w.ct,
            }),
            keyset_version: Some(r.keyset_version),
            algorithm: "AES-256-GCM".into(),
            created_ms: r.created_ms,
        })
        .collect())
}
