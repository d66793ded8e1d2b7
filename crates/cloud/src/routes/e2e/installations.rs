//! Installations asking to be admitted to the key set, and their dismissal.

use super::*;

fn installation_json(r: InstallationRow) -> ApiResult<Installation> {
    let public: ViewerPublic = serde_json::from_str(&r.public)
        .map_err(|_| ApiError::Internal("stored installation key unreadable".into()))?;
    Ok(Installation {
        id: r.key_id,
        name: r.name,
        public,
        created_ms: r.created_ms,
    })
}

/// Ask to be admitted as an installation of the caller; a second request with the same
/// key replaces the first.
#[utoipa::path(post, path = "/api/v1/installations", tag = "keys", request_body = NewInstallation,
    responses((status = 201, body = Installation),
        (status = 400, body = ErrorBody, description = "malformed name or public key"),
        (status = 403, body = ErrorBody, description = "a device calling a user route"),
        (status = 409, body = ErrorBody, description = "16 requests are waiting already"),
        (status = 413, body = ErrorBody, description = "body larger than 32 KiB")),
    security(("bearer" = [])))]
pub async fn request_installation(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiJson(req): ApiJson<NewInstallation>,
) -> ApiResult<(StatusCode, Json<Installation>)> {
    let name = crate::routes::devices::valid_name(&req.name)?;
    let id = req
        .public
        .check()
        .and_then(|()| req.public.id())
        .map_err(|e| ApiError::bad(format!("public: {e}")))?;
    let now = unix_ms();
    let waiting = db::e2e::installations(&state.db, &uid, now).await?;
    if !waiting.iter().any(|w| w.key_id == id) && waiting.len() as i64 >= MAX_INSTALLATIONS {
        return Err(ApiError::Conflict(format!(
            "{MAX_INSTALLATIONS} installation requests are waiting already: admit or dismiss one"
        )));
    }
    let row = InstallationRow {
        key_id: id,
        name,
        public: to_json(&req.public)?,
        created_ms: now,
    };
    db::e2e::put_installation(&state.db, &uid, &row).await?;
    Ok((StatusCode::CREATED, Json(installation_json(row)?)))
}

/// Installation requests of the last 24 hours not yet admitted or dismissed, newest first.
#[utoipa::path(get, path = "/api/v1/installations", tag = "keys",
    responses((status = 200, body = InstallationList),
        (status = 403, body = ErrorBody, description = "a device calling a user route")),
    security(("bearer" = [])))]
pub async fn installations(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
) -> ApiResult<Json<InstallationList>> {
    let rows = db::e2e::installations(&state.db, &uid, unix_ms()).await?;
    Ok(Json(InstallationList {
        installations: rows
            .into_iter()
            .map(installation_json)
            .collect::<ApiResult<_>>()?,
    }))
}

/// Dismiss an installation request.
#[utoipa::path(delete, path = "/api/v1/installations/{id}", tag = "keys",
    params(("id" = String, Path, description = "the installation's viewer key id, 16 lowercase hex characters")),
    responses((status = 204, description = "dismissed"),
        (status = 403, body = ErrorBody, description = "a device calling a user route"),
        (status = 404, body = ErrorBody, description = "no such request waiting")),
    security(("bearer" = [])))]
pub async fn dismiss_installation(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    key_id("installation id", &id)?;
    if !db::e2e::dismiss_installation(&state.db, &uid, &id, unix_ms()).await? {
        return Err(ApiError::NotFound("installation request"));
    }
    Ok(StatusCode::NO_CONTENT)
}
