//! End-to-end keys (`docs/keys.md`, `docs/api.md` §13): key sets, the pairing check
//! relayed between camera and viewer, content keys wrapped to viewer keys, installations
//! asking to be admitted.
//!
//! The cloud stores what these carry and checks their shape; it can read no key. The one
//! thing it verifies cryptographically is the key set chain (`eyrie_protocol::e2e::
//! keyset`): version 1 signed by one of its members, every later one by a member of the
//! latest stored, so a stolen session can post nothing a member did not sign — and a
//! reader checks the same again anyway.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eyrie_protocol::api::{
    AddWraps, CameraHello, ErrorBody, Installation, InstallationList, KeySetList, KeySetStatement,
    NewContentKey, NewInstallation, PairingOutcome, PairingOutcomeRequest, PairingState,
    RecordingKey, ViewerAnswer, ViewerPublic, WrappedKey,
};
use eyrie_protocol::clock::unix_ms;
use eyrie_protocol::e2e::KeyError;
use eyrie_protocol::e2e::keyset::{KeySet, KeySetBody};
use serde::Deserialize;
use uuid::Uuid;

use super::{check_time, device_for};
use crate::auth::{Caller, DeviceAuth, UserAuth};
use crate::db;
use crate::db::e2e::{InstallationRow, NewStatement, WrapRow};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::state::AppState;

/// Largest request body of these routes (a key set body is at most 16 KiB, its base64
/// form about 22 KiB; 64 wraps about 10 KiB).
pub const MAX_BODY_BYTES: usize = 32 * 1024;
/// Most wraps in one request.
pub const MAX_WRAPS: usize = 64;
/// Most installation requests a user has waiting at once.
pub const MAX_INSTALLATIONS: i64 = 16;

/// `?since=N`: versions above N (default 0).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SinceQuery {
    /// Only statements with a version above this one (default 0: all).
    #[serde(default)]
    pub since: u64,
}

/// `?viewer_key=ID`: whose wraps to serve.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewerKeyQuery {
    /// Viewer key id (16 lowercase hex): content keys come with the wrap for it.
    #[serde(default)]
    pub viewer_key: Option<String>,
}

/// 16 lowercase hex characters: a content key id or a viewer key id.
fn is_key_id(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn key_id(what: &str, s: &str) -> ApiResult<()> {
    if is_key_id(s) {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "{what} must be 16 lowercase hex characters"
        )))
    }
}

/// base64url without padding of exactly `len` bytes.
fn b64_of_len(what: &str, s: &str, len: usize) -> ApiResult<()> {
    match URL_SAFE_NO_PAD.decode(s) {
        Ok(v) if v.len() == len => Ok(()),
        _ => Err(ApiError::bad(format!(
            "{what} must be {len} bytes, base64url without padding"
        ))),
    }
}

/// base64url without padding of 1 to `max` bytes.
fn b64_up_to(what: &str, s: &str, max: usize) -> ApiResult<()> {
    if !s.is_empty() && s.len() <= max.div_ceil(3) * 4 && URL_SAFE_NO_PAD.decode(s).is_ok() {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "{what} must be 1 to {max} bytes, base64url without padding"
        )))
    }
}

/// A list of wraps: 1 to [`MAX_WRAPS`], well-formed, one per viewer key.
fn check_wraps(wraps: &[WrappedKey]) -> ApiResult<Vec<WrapRow>> {
    if wraps.is_empty() || wraps.len() > MAX_WRAPS {
        return Err(ApiError::bad(format!(
            "wraps must hold 1 to {MAX_WRAPS} keys"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::with_capacity(wraps.len());
    for w in wraps {
        key_id("viewer_key_id", &w.viewer_key_id)?;
        b64_of_len("enc", &w.enc, 32)?;
        b64_of_len("ct", &w.ct, 48)?;
        if !seen.insert(w.viewer_key_id.as_str()) {
            return Err(ApiError::bad("two wraps for one viewer key"));
        }
        rows.push(WrapRow {
            viewer_key_id: w.viewer_key_id.clone(),
            enc: w.enc.clone(),
            ct: w.ct.clone(),
        });
    }
    Ok(rows)
}

/// A stored statement, read back.
fn stored_set(json: &str) -> ApiResult<KeySet> {
    let statement: KeySetStatement = serde_json::from_str(json)
        .map_err(|_| ApiError::Internal("stored key set statement unreadable".into()))?;
    let body = statement
        .read_body()
        .map_err(|_| ApiError::Internal("stored key set body unreadable".into()))?;
    Ok(KeySet { body, statement })
}

async fn statements(state: &AppState, user: &Uuid, since: u64) -> ApiResult<KeySetList> {
    let rows = db::e2e::statements_since(&state.db, user, since).await?;
    let statements = rows
        .iter()
        .map(|r| stored_set(&r.statement).map(|s| s.statement))
        .collect::<ApiResult<_>>()?;
    Ok(KeySetList { statements })
}

/// The members of the user's key set `version` (None: no such version).
async fn members(state: &AppState, user: &Uuid, version: u64) -> ApiResult<Option<KeySetBody>> {
    match db::e2e::statement(&state.db, user, version).await? {
        Some(json) => Ok(Some(stored_set(&json)?.body)),
        None => Ok(None),
    }
}

// ───────────────────────────── key sets ─────────────────────────────

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

// ───────────────────────────── pairing check ─────────────────────────────

fn to_json<T: serde::Serialize>(v: &T) -> ApiResult<String> {
    serde_json::to_string(v).map_err(|e| ApiError::Internal(format!("does not serialise: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> ApiResult<T> {
    serde_json::from_str(s)
        .map_err(|_| ApiError::Internal("stored pairing state unreadable".into()))
}

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

// ───────────────────────────── content keys ─────────────────────────────

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

// ───────────────────────────── installations ─────────────────────────────

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
    let name = super::devices::valid_name(&req.name)?;
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
