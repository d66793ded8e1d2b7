//! Who is calling: a user (session token from login) or a device (device token from
//! activation). Both are opaque random bearer tokens, stored as SHA-256 digests; the
//! prefix tells which table to look in (`eyu_` sessions, `eyd_` devices). Extractors:
//! [`Caller`] for either, [`UserAuth`] and [`DeviceAuth`] for routes only one may call
//! (the other kind gets 403, a missing or unknown token 401).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use eyrie_protocol::clock::unix_ms;
use uuid::Uuid;

use crate::crypto::digest;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

pub const USER_TOKEN_PREFIX: &str = "eyu_";
pub const DEVICE_TOKEN_PREFIX: &str = "eyd_";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    User(Uuid),
    Device(Uuid),
}

/// A user, with their id.
#[derive(Debug, Clone)]
pub struct UserAuth(pub Uuid);

/// A device, with its id.
#[derive(Debug, Clone)]
pub struct DeviceAuth(pub Uuid);

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))
}

/// Resolve a bearer token.
pub async fn resolve(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let unknown = || ApiError::Unauthorized("unknown or expired token".into());
    let hash = digest(token);
    let now = unix_ms();
    if token.starts_with(USER_TOKEN_PREFIX) {
        let user = db::accounts::session_user(&state.db, &hash, now)
            .await?
            .ok_or_else(unknown)?;
        Ok(Caller::User(user))
    } else if token.starts_with(DEVICE_TOKEN_PREFIX) {
        let (id, seen) = db::devices::by_token(&state.db, &hash)
            .await?
            .ok_or_else(unknown)?;
        if seen.is_none_or(|s| now - s > 15_000) {
            db::devices::touch(&state.db, &id, now).await?;
        }
        Ok(Caller::Device(id))
    } else {
        Err(unknown())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        resolve(state, token).await
    }
}

impl FromRequestParts<AppState> for UserAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::User(id) => Ok(UserAuth(id)),
            Caller::Device(_) => Err(ApiError::Forbidden("this call is for users".into())),
        }
    }
}

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, state).await? {
            Caller::Device(id) => Ok(DeviceAuth(id)),
            Caller::User(_) => Err(ApiError::Forbidden("this call is for devices".into())),
        }
    }
}

/// The raw bearer token of a request (logout needs it).
pub fn token_of(parts: &axum::http::HeaderMap) -> Option<&str> {
    parts
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}
