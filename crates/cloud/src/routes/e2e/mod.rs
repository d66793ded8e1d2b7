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

fn to_json<T: serde::Serialize>(v: &T) -> ApiResult<String> {
    serde_json::to_string(v).map_err(|e| ApiError::Internal(format!("does not serialise: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> ApiResult<T> {
    serde_json::from_str(s)
        .map_err(|_| ApiError::Internal("stored pairing state unreadable".into()))
}

mod content_keys;
mod installations;
mod pairing;
mod sets;

pub use content_keys::*;
pub use installations::*;
pub use pairing::*;
pub use sets::*;
