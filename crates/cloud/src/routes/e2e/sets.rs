//! Key sets: the signed chain of statements naming a user's viewer keys.

use super::*;

/// The caller's key set statements above `since`, oldest first.
#[utoipa::path(get, path = "/api/v1/keyset", tag = "keys", params(SinceQuery),
    responses((status = 200, body = KeySetList),
        (status = 403, body = ErrorBody, description = "a device calling a user route")),
    security(("bearer" = [])))]
pub async fn keyset(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiQuery(q): ApiQuery<SinceQuery>,
) -> ApiResult<Json<KeySetList>> {
    Ok(Json(statements(&state, &uid, q.since).await?))
}

/// Post the next key set statement: version 1 signed by one of its members, or the latest
/// version + 1 signed by a member of the latest. Dismisses the installation requests of the
/// keys it lists.
#[utoipa::path(post, path = "/api/v1/keyset", tag = "keys", request_body = KeySetStatement,
    responses((status = 201, body = KeySetStatement),
        (status = 400, body = ErrorBody, description = "malformed statement or body, ids that do not match their keys, bad signature"),
        (status = 403, body = ErrorBody, description = "`user_id` is not the caller, or a device calling a user route"),
        (status = 409, body = ErrorBody, description = "the version is not the latest + 1, or the signer is not a member of the latest version"),
        (status = 413, body = ErrorBody, description = "body larger than 32 KiB")),
    security(("bearer" = [])))]
pub async fn post_keyset(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiJson(statement): ApiJson<KeySetStatement>,
) -> ApiResult<(StatusCode, Json<KeySetStatement>)> {
    let body = statement
        .read_body()
        .map_err(|e| ApiError::bad(format!("key set statement: {e}")))?;
    if body.user_id != uid.to_string() {
        return Err(ApiError::Forbidden(
            "the key set names another user than the caller".into(),
        ));
    }
    let latest = db::e2e::latest_statement(&state.db, &uid).await?;
    let verified = match &latest {
        None => KeySet::first(statement.clone(), &body.user_id),
        Some(row) => stored_set(&row.statement)?.next(statement.clone()),
    };
    match verified {
        Ok(_) => {}
        Err(e @ (KeyError::NotNext { .. } | KeyError::UnknownSigner(_))) if latest.is_some() => {
            return Err(ApiError::Conflict(e.to_string()));
        }
        Err(e @ KeyError::NotNext { .. }) => {
            return Err(ApiError::Conflict(format!(
                "{e}: the first key set is version 1"
            )));
        }
        Err(KeyError::OtherUser) => {
            return Err(ApiError::Forbidden(
                "the key set names another user than the caller".into(),
            ));
        }
        Err(e) => return Err(ApiError::bad(format!("key set statement: {e}"))),
    }
    let json = serde_json::to_string(&statement)
        .map_err(|e| ApiError::Internal(format!("statement does not serialise: {e}")))?;
    let ids: Vec<String> = body.keys.iter().map(|k| k.id.clone()).collect();
    let new = NewStatement {
        user: &uid,
        version: body.version,
        statement: &json,
        signer: &statement.signer,
        members: &ids,
        now_ms: unix_ms(),
    };
    match db::e2e::insert_statement(&state.db, &new).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(statement))),
        Err(db::Error::Duplicate) => Err(ApiError::Conflict(format!(
            "key set version {} exists already",
            body.version
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The owner's key set statements above `since`, oldest first (the device or its owner).
#[utoipa::path(get, path = "/api/v1/devices/{id}/keyset", tag = "keys", params(SinceQuery),
    responses((status = 200, body = KeySetList), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn device_keyset(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<SinceQuery>,
) -> ApiResult<Json<KeySetList>> {
    let d = device_for(&state, &caller, &id).await?;
    Ok(Json(statements(&state, &d.owner_id, q.since).await?))
}
