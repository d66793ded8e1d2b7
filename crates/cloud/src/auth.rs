//! Who is calling: a user (session token from login) or a device (device token from
//! activation). Both are opaque random bearer tokens, stored as SHA-256 digests; the
//! prefix tells which table to look in (`eyu_` sessions, `eyd_` devices). Extractors:
//! [`Caller`] for either, [`UserAuth`] and [`DeviceAuth`] for routes only one may call
//! (the other kind gets 403, a missing or unknown token 401).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sqlx::Row as _;

use crate::crypto::digest;
use crate::db::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

pub const USER_TOKEN_PREFIX: &str = "eyu_";
pub const DEVICE_TOKEN_PREFIX: &str = "eyd_";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Caller {
    User(String),
    Device(String),
}

/// A user, with their id.
#[derive(Debug, Clone)]
pub struct UserAuth(pub String);

/// A device, with its id.
#[derive(Debug, Clone)]
pub struct DeviceAuth(pub String);

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
    let now = now_ms();
    if token.starts_with(USER_TOKEN_PREFIX) {
        let row =
            sqlx::query("SELECT user_id FROM sessions WHERE token_hash = $1 AND expires_ms > $2")
                .bind(&hash)
                .bind(now)
                .fetch_optional(&state.db.pool)
                .await?
                .ok_or_else(unknown)?;
        Ok(Caller::User(row.try_get("user_id")?))
    } else if token.starts_with(DEVICE_TOKEN_PREFIX) {
        let row = sqlx::query(
            "SELECT id, last_seen_ms FROM devices WHERE token_hash = $1 AND activated = 1",
        )
        .bind(&hash)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or_else(unknown)?;
        let id: String = row.try_get("id")?;
        let seen: Option<i64> = row.try_get("last_seen_ms")?;
        if seen.is_none_or(|s| now - s > 15_000) {
            sqlx::query("UPDATE devices SET last_seen_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(&state.db.pool)
                .await?;
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
