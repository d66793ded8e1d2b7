//! Accounts: register, login (rate-limited), logout, me.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use eyrie_protocol::api::{LoginRequest, LoginResponse, RegisterRequest, User};
use eyrie_protocol::clock::unix_ms;

use crate::auth::{USER_TOKEN_PREFIX, UserAuth};
use crate::crypto::{digest, random_token};
use crate::db::{self, accounts::UserRow, new_id};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::ratelimit;
use crate::state::AppState;

fn valid_username(u: &str) -> bool {
    (3..=64).contains(&u.chars().count())
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

fn user_json(u: UserRow) -> User {
    User {
        id: u.id,
        username: u.username,
        created_ms: u.created_ms,
    }
}

async fn hash_password(state: &AppState, password: String) -> ApiResult<String> {
    let params = state.config.password;
    tokio::task::spawn_blocking(move || params.hash(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Internal)
}

/// The checks of a registration body, made before any rate limit or database work.
pub fn check_register(req: &RegisterRequest) -> ApiResult<()> {
    if !valid_username(&req.username) {
        return Err(ApiError::bad(
            "username must be 3-64 characters: letters, digits, '.', '_', '-', '@'",
        ));
    }
    if !(8..=256).contains(&req.password.chars().count()) {
        return Err(ApiError::bad("password must be 8-256 characters"));
    }
    Ok(())
}

/// Register an account.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = RegisterRequest,
    responses((status = 201, body = User), (status = 400, body = eyrie_protocol::api::ErrorBody), (status = 409, body = eyrie_protocol::api::ErrorBody),
        (status = 429, body = eyrie_protocol::api::ErrorBody, description = "registration limit of the client address")))]
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    check_register(&req)?;
    let ip = ratelimit::client_ip(peer, &headers, &state.config.trusted_proxies);
    ratelimit::take_registration(&state, ip).await?;
    let lc = req.username.to_lowercase();
    let hash = hash_password(&state, req.password).await?;
    let user = UserRow {
        id: new_id(),
        username: req.username,
        created_ms: unix_ms(),
    };
    match db::accounts::create_user(&state.db, &user, &lc, &hash).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(user_json(user)))),
        Err(db::Error::Duplicate) => Err(ApiError::Conflict("username is taken".into())),
        Err(e) => Err(e.into()),
    }
}

/// Log in: answers a session token.
#[utoipa::path(post, path = "/api/v1/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = eyrie_protocol::api::ErrorBody), (status = 429, body = eyrie_protocol::api::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let lc = req.username.to_lowercase();
    let ip = ratelimit::client_ip(peer, &headers, &state.config.trusted_proxies);
    let keys = ratelimit::LoginKeys::new(&lc, ip);
    // Reserved before the password is checked: concurrent guesses cannot all pass.
    ratelimit::take_login(&state, &keys).await?;
    let found = db::accounts::user_by_name(&state.db, &lc).await?;
    // Verify against a dummy hash when the user is unknown, so timing does not tell.
    let phc = match &found {
        Some((_, hash)) => hash.clone(),
        None => state.dummy_hash.clone(),
    };
    let params = state.config.password;
    let password = req.password;
    let ok = tokio::task::spawn_blocking(move || params.verify(&password, &phc))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some((user, _)) = found.filter(|_| ok) else {
        ratelimit::login_failed();
        return Err(ApiError::Unauthorized("wrong username or password".into()));
    };
    ratelimit::login_succeeded(&state, &keys).await?;
    let token = format!("{USER_TOKEN_PREFIX}{}", random_token(32));
    let now = unix_ms();
    let expires_ms = now + state.config.session_ttl.as_millis() as i64;
    db::accounts::create_session(&state.db, &digest(&token), &user.id, expires_ms, now).await?;
    Ok(Json(LoginResponse {
        token,
        user: user_json(user),
        expires_at: expires_ms / 1000,
    }))
}

/// End the session of the token used.
#[utoipa::path(post, path = "/api/v1/logout", tag = "accounts", responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 204)),
    security(("bearer" = [])))]
pub async fn logout(
    State(state): State<AppState>,
    UserAuth(_): UserAuth,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    if let Some(token) = crate::auth::token_of(&headers) {
        db::accounts::delete_session(&state.db, &digest(token)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 200, body = User)),
    security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, UserAuth(uid): UserAuth) -> ApiResult<Json<User>> {
    let user = db::accounts::user(&state.db, &uid)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    Ok(Json(user_json(user)))
}
