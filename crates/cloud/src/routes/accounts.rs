//! Accounts: register, login (rate-limited), logout, me.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use eyrie_protocol::api::{LoginRequest, LoginResponse, RegisterRequest, User};
use sqlx::Row as _;
use uuid::Uuid;

use crate::auth::{USER_TOKEN_PREFIX, UserAuth};
use crate::crypto::{digest, random_token};
use crate::db::{new_id, now_ms};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::ratelimit;
use crate::state::AppState;

fn valid_username(u: &str) -> bool {
    (3..=64).contains(&u.chars().count())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

pub(crate) fn parse_uuid(s: &str) -> ApiResult<Uuid> {
    s.parse()
        .map_err(|_| ApiError::Internal("stored id is not a UUID".into()))
}

async fn hash_password(state: &AppState, password: String) -> ApiResult<String> {
    let params = state.config.password;
    tokio::task::spawn_blocking(move || params.hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)
}

/// Register an account.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = RegisterRequest,
    responses((status = 201, body = User), (status = 400, body = eyrie_protocol::api::ErrorBody), (status = 409, body = eyrie_protocol::api::ErrorBody)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    if !valid_username(&req.username) {
        return Err(ApiError::bad(
            "username must be 3-64 characters: letters, digits, '.', '_', '-', '@'",
        ));
    }
    if !(8..=256).contains(&req.password.chars().count()) {
        return Err(ApiError::bad("password must be 8-256 characters"));
    }
    let lc = req.username.to_lowercase();
    let hash = hash_password(&state, req.password).await?;
    let id = new_id();
    let now = now_ms();
    let res = sqlx::query(
        "INSERT INTO users (id, username, username_lc, password_hash, created_ms) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(&req.username)
    .bind(&lc)
    .bind(&hash)
    .bind(now)
    .execute(&state.db.pool)
    .await;
    match res {
        Ok(_) => Ok((
            StatusCode::CREATED,
            Json(User {
                id: parse_uuid(&id)?,
                username: req.username,
                created_ms: now,
            }),
        )),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Err(ApiError::Conflict("username is taken".into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Log in: answers a session token.
#[utoipa::path(post, path = "/api/v1/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = eyrie_protocol::api::ErrorBody), (status = 429, body = eyrie_protocol::api::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let lc = req.username.to_lowercase();
    let keys = ratelimit::keys(&lc, peer.ip());
    if let Some(secs) = ratelimit::check(&state, &keys).await? {
        crate::metrics::LOGIN_FAILURES.inc();
        return Err(ApiError::TooManyRequests(secs));
    }
    let row = sqlx::query(
        "SELECT id, username, password_hash, created_ms FROM users WHERE username_lc = $1",
    )
    .bind(&lc)
    .fetch_optional(&state.db.pool)
    .await?;
    // Verify against a dummy hash when the user is unknown, so timing does not tell.
    let (phc, user) = match &row {
        Some(r) => (r.try_get::<String, _>("password_hash")?, true),
        None => (state.dummy_hash.clone(), false),
    };
    let params = state.config.password;
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || params.verify(&password, &phc))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(row) = row.filter(|_| ok && user) else {
        ratelimit::record_failure(&state, &keys).await?;
        return Err(ApiError::Unauthorized("wrong username or password".into()));
    };
    let user_id: String = row.try_get("id")?;
    let token = format!("{USER_TOKEN_PREFIX}{}", random_token(32));
    let now = now_ms();
    let expires_ms = now + state.config.session_ttl.as_millis() as i64;
    sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_ms, created_ms) VALUES ($1, $2, $3, $4)")
        .bind(digest(&token))
        .bind(&user_id)
        .bind(expires_ms)
        .bind(now)
        .execute(&state.db.pool)
        .await?;
    Ok(Json(LoginResponse {
        token,
        user: User {
            id: parse_uuid(&user_id)?,
            username: row.try_get("username")?,
            created_ms: row.try_get("created_ms")?,
        },
        expires_at: expires_ms / 1000,
    }))
}

/// End the session of the token used.
#[utoipa::path(post, path = "/api/v1/logout", tag = "accounts", responses((status = 204)),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    UserAuth(_): UserAuth,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    if let Some(token) = crate::auth::token_of(&headers) {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(digest(token))
            .execute(&state.db.pool)
            .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", responses((status = 200, body = User)),
    security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, UserAuth(uid): UserAuth) -> ApiResult<Json<User>> {
    let row = sqlx::query("SELECT username, created_ms FROM users WHERE id = $1")
        .bind(&uid)
        .fetch_optional(&state.db.pool)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(User {
        id: parse_uuid(&uid)?,
        username: row.try_get("username")?,
        created_ms: row.try_get("created_ms")?,
    }))
}
