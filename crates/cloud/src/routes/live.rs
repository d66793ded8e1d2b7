//! Live view support: signalling tickets, MQTT credentials and ICE servers.
//!
//! A ticket is `eyrie_protocol::ticket` claims (user, device, expiry, nonce) signed with the
//! device secret, which the cloud keeps sealed under its master key; the camera checks it
//! offline. Viewer broker logins are random passwords stored as digests with a 12 h expiry
//! (`mqtt_logins`); device logins are the MQTT password from activation. TURN credentials
//! follow coturn's REST API: `username = "<expiry>:<id>"`,
//! `credential = base64(HMAC-SHA1(static-auth-secret, username))`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use eyrie_protocol::api::{
    ErrorBody, IceServer, IceServersResponse, MqttConnection, TicketRequest, TicketResponse,
};
use eyrie_protocol::clock::{unix_ms, unix_secs};
use eyrie_protocol::ticket::{MAX_TICKET_LIFETIME_SECS, TicketClaims};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use uuid::Uuid;

use super::device_for;
use crate::auth::{Caller, UserAuth};
use crate::crypto::{digest, random_token};
use crate::db;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::state::AppState;

/// Viewer broker logins last this long.
pub const VIEWER_MQTT_TTL_MS: i64 = 12 * 3600 * 1000;

/// Topic prefix of a device.
pub fn topic_prefix(device: &Uuid) -> String {
    format!("eyrie/{device}")
}

/// Broker connection for a device (password issued at activation).
pub fn mqtt_for_device(state: &AppState, device: &Uuid, password: String) -> MqttConnection {
    MqttConnection {
        host: state.broker_host(),
        port: state.broker.port,
        tls: state.broker.tls,
        username: device.to_string(),
        password,
        client_id: format!("eyrie-dev-{device}"),
        topic_prefix: topic_prefix(device),
    }
}

fn turn_credentials(secret: &str, exp: i64, who: &Uuid) -> (String, String) {
    let username = format!("{exp}:{who}");
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(username.as_bytes());
    (username, STANDARD.encode(mac.finalize().into_bytes()))
}

/// STUN and (with a secret) TURN servers for `who`; returns them and their expiry.
pub fn ice_for(state: &AppState, who: &Uuid) -> (Vec<IceServer>, i64) {
    let ice = &state.config.ice;
    let mut out = Vec::new();
    if !ice.stun_urls.is_empty() {
        out.push(IceServer {
            urls: ice.stun_urls.clone(),
            username: None,
            credential: None,
        });
    }
    let mut exp = unix_secs() + 365 * 24 * 3600;
    if let Some(secret) = &ice.turn_secret
        && !ice.turn_urls.is_empty()
    {
        exp = unix_secs() + ice.turn_ttl.as_secs() as i64;
        let (username, credential) = turn_credentials(secret, exp, who);
        out.push(IceServer {
            urls: ice.turn_urls.clone(),
            username: Some(username),
            credential: Some(credential),
        });
    }
    (out, exp)
}

/// A ticket's lifetime: the one asked for (two minutes if none), within 10 s and
/// [`MAX_TICKET_LIFETIME_SECS`].
pub fn ticket_ttl(req: &TicketRequest) -> u64 {
    req.ttl_secs
        .unwrap_or(120)
        .clamp(10, MAX_TICKET_LIFETIME_SECS)
}

/// Issue a signalling ticket for one of the caller's devices.
#[utoipa::path(post, path = "/api/v1/devices/{id}/tickets", tag = "live", request_body = TicketRequest,
    responses((status = 403, body = eyrie_protocol::api::ErrorBody, description = "a device calling a user route"), (status = 200, body = TicketResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn ticket(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<Json<TicketResponse>> {
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    if !d.activated {
        return Err(ApiError::Conflict("device is not activated yet".into()));
    }
    let req: TicketRequest = crate::error::optional_json(&body)?;
    let ttl = ticket_ttl(&req);
    let secret = db::keys::device_secret(&state.db, &d.id)
        .await?
        .and_then(|s| state.master.unwrap(&format!("device-secret:{}", d.id), &s))
        .ok_or_else(|| ApiError::Internal("device secret does not unseal".into()))?;
    let exp = unix_secs() as u64 + ttl;
    let ticket = TicketClaims::new(uid.to_string(), d.id.to_string(), exp).sign(&secret);
    // A broker login for this viewer.
    let username = format!("viewer-{uid}");
    let password = match &state.broker_admin {
        // An external mosquitto: one password per user, kept by the broker.
        Some(broker) => broker.viewer_password(&state.master, &uid).await?,
        None => {
            let password = random_token(24);
            db::live::sweep_viewer_logins(&state.db, unix_ms()).await?;
            db::live::add_viewer_login(
                &state.db,
                &digest(&password),
                &username,
                &uid,
                unix_ms() + VIEWER_MQTT_TTL_MS,
            )
            .await?;
            password
        }
    };
    crate::metrics::TICKETS.inc();
    let (ice_servers, _) = ice_for(&state, &uid);
    Ok(Json(TicketResponse {
        ticket,
        expires_at: exp as i64,
        device_id: id,
        mqtt: MqttConnection {
            host: state.broker_host(),
            port: state.broker.port,
            tls: state.broker.tls,
            username,
            password,
            client_id: format!("eyrie-viewer-{}", random_token(9)),
            topic_prefix: super::live::topic_prefix(&d.id),
        },
        ice_servers,
    }))
}

/// ICE servers for a device (the device itself, or its owner).
#[utoipa::path(get, path = "/api/v1/devices/{id}/ice-servers", tag = "live",
    responses((status = 200, body = IceServersResponse), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
pub async fn ice_servers(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<IceServersResponse>> {
    let d = device_for(&state, &caller, &id).await?;
    let (ice_servers, expires_at) = ice_for(&state, &d.id);
    Ok(Json(IceServersResponse {
        ice_servers,
        expires_at,
    }))
}

/// An id exactly as ids are stored (lower-case hyphenated), or None: a broker user name
/// in another spelling of a UUID names no one.
fn stored_id(s: &str) -> Option<Uuid> {
    s.parse::<Uuid>().ok().filter(|u| u.to_string() == s)
}

/// Check a broker login: a device (username = device id, activation MQTT password) or a
/// viewer (username `viewer-<user id>`, password from a ticket answer, not expired).
pub async fn check_mqtt_login(state: &AppState, username: &str, password: &str) -> bool {
    if password.is_empty() || password.len() > 256 || username.len() > 128 {
        return false;
    }
    let hash = digest(password);
    let ok = if let Some(uid) = username.strip_prefix("viewer-") {
        match stored_id(uid) {
            Some(uid) => db::live::viewer_login_valid(&state.db, &hash, &uid, unix_ms())
                .await
                .unwrap_or(false),
            None => false,
        }
    } else {
        match stored_id(username) {
            Some(id) => db::devices::mqtt_password_matches(&state.db, &id, &hash)
                .await
                .unwrap_or(false),
            None => false,
        }
    };
    if !ok {
        crate::metrics::MQTT_LOGINS_REFUSED.inc();
    }
    ok
}

/// Body of `POST /api/v1/mqtt/auth` (the shape of mosquitto-go-auth's HTTP backend).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MqttAuthRequest {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub clientid: Option<String>,
}

/// For external brokers: 200 when the login is valid, 403 otherwise.
#[utoipa::path(post, path = "/api/v1/mqtt/auth", tag = "live", request_body = MqttAuthRequest,
    responses((status = 200, description = "a valid login"),
        (status = 403, body = eyrie_protocol::api::ErrorBody, description = "not a valid login")))]
pub async fn mqtt_auth(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<MqttAuthRequest>,
) -> StatusCode {
    if check_mqtt_login(&state, &req.username, &req.password).await {
        StatusCode::OK
    } else {
        StatusCode::FORBIDDEN
    }
}
