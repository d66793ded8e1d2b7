//! The three WHEP requests: `POST` an offer, `PATCH` trickled candidates, `DELETE` the
//! session (`docs/api.md` §14). Every refusal is a JSON `ErrorBody` with the status the
//! document names; nothing is kept for a refused request.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eyrie_protocol::api::{ErrorBody, ErrorCode};
use eyrie_protocol::signalling::{self, Stream};
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::relay::{self, OfferRequest, Refusal};
use super::{Command, Entry, lock};
use crate::auth::{Caller, UserAuth};
use crate::db;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::routes::device_for;
use crate::state::AppState;

/// `?stream=hd|sd`.
#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WhepQuery {
    /// `hd` (1280×720, default) or `sd` (640×360).
    pub stream: Option<String>,
}

fn refuse(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    let mut r = (
        status,
        axum::Json(ErrorBody {
            code,
            message: message.into(),
        }),
    )
        .into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(super::BUSY_RETRY_SECS),
        );
    }
    r
}

fn retry_after(mut r: Response, secs: u64) -> Response {
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

fn content_type_is(headers: &HeaderMap, want: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
}

/// One `Link` header value per ICE server URL (RFC 9725 §4.6).
fn link_headers(state: &AppState, owner: &Uuid) -> Vec<HeaderValue> {
    let (servers, _) = crate::routes::live::ice_for(state, owner);
    let mut out = Vec::new();
    for s in servers {
        for url in &s.urls {
            let mut v = format!("<{url}>; rel=\"ice-server\"");
            if let (Some(u), Some(c)) = (&s.username, &s.credential) {
                v.push_str(&format!(
                    "; username=\"{u}\"; credential=\"{c}\"; credential-type=\"password\""
                ));
            }
            if let Ok(h) = HeaderValue::from_str(&v) {
                out.push(h);
            }
        }
    }
    out
}

/// Open a session on one of the caller's cameras.
#[utoipa::path(post, path = "/api/v1/devices/{id}/whep", tag = "whep",
    params(WhepQuery),
    request_body(content = String, content_type = "application/sdp", description = "the player's SDP offer"),
    responses(
        (status = 201, body = String, content_type = "application/sdp", description = "the camera's SDP answer with its candidates; headers Location, ETag, Link (rel=ice-server), Server-Timing"),
        (status = 400, body = ErrorBody, description = "not a usable offer, or a bad stream"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "a device token"),
        (status = 404, body = ErrorBody, description = "no such device, or not the caller's"),
        (status = 409, body = ErrorBody, description = "device not activated"),
        (status = 415, body = ErrorBody, description = "Content-Type is not application/sdp"),
        (status = 429, body = ErrorBody, description = "too many offers or sessions; Retry-After"),
        (status = 502, body = ErrorBody, description = "the camera's answer failed its proof, or the camera failed"),
        (status = 503, body = ErrorBody, description = "camera busy (its viewer limit), privacy mode, or signalling unavailable; Retry-After"),
        (status = 504, body = ErrorBody, description = "camera offline or no answer in 10 s")),
    security(("bearer" = [])))]
pub async fn offer(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<WhepQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let stream = match q.stream.as_deref() {
        None | Some("hd") => Stream::Hd,
        Some("sd") => Stream::Sd,
        Some(_) => return Err(ApiError::bad("stream must be hd or sd")),
    };
    let d = device_for(&state, &Caller::User(uid), &id).await?;
    if !content_type_is(&headers, "application/sdp") {
        return Ok(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadRequest,
            "the offer must be sent as Content-Type: application/sdp",
        ));
    }
    if !d.activated {
        return Err(ApiError::Conflict("device is not activated yet".into()));
    }
    let sdp = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad("the offer is not UTF-8 text"))?
        .to_owned();
    let info = super::sdp::check_offer(&sdp).map_err(ApiError::BadRequest)?;
    let sdp = super::sdp::unify_bundle(&sdp);
    if let Err(secs) = state.whep.take_post(uid) {
        return Ok(retry_after(
            ApiError::TooManyRequests(secs).into_response(),
            secs,
        ));
    }
    if state.whep.sessions_of(uid) >= super::MAX_SESSIONS_PER_USER {
        return Ok(refuse(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyRequests,
            format!(
                "at most {} WHEP sessions at once; DELETE one first",
                super::MAX_SESSIONS_PER_USER
            ),
        ));
    }
    let secret = db::keys::device_secret(&state.db, &d.id)
        .await?
        .and_then(|s| state.master.unwrap(&format!("device-secret:{}", d.id), &s))
        .ok_or_else(|| ApiError::Internal("device secret does not unseal".into()))?;
    let opened = match relay::open(
        &state,
        OfferRequest {
            owner: uid,
            device: d.id,
            secret,
            sdp,
            stream,
            talk: info.talk,
        },
    )
    .await
    {
        Ok(o) => o,
        Err(r) => return Ok(refusal(r)),
    };
    let session = crate::crypto::random_token(16);
    let etag = format!("\"{}\"", crate::crypto::random_token(9));
    let (tx, rx) = mpsc::unbounded_channel();
    lock(&state.whep.sessions).insert(
        session.clone(),
        Entry {
            owner: uid,
            etag: etag.clone(),
            mids: info.mids,
            ufrag: info.ufrag,
            relayed: 0,
            commands: tx,
        },
    );
    let answer = opened.answer.clone();
    let camera_ms = opened.camera_wait.as_secs_f64() * 1000.0;
    tokio::spawn(opened.run(state.clone(), session.clone(), rx));
    let mut resp = (StatusCode::CREATED, answer).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sdp"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/whep/{session}")) {
        h.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    for l in link_headers(&state, &uid) {
        h.append(header::LINK, l);
    }
    let cloud_ms = started.elapsed().as_secs_f64() * 1000.0 - camera_ms;
    if let Ok(v) = HeaderValue::from_str(&format!(
        "cloud;dur={cloud_ms:.2}, camera;dur={camera_ms:.2}"
    )) {
        h.insert("server-timing", v);
    }
    crate::metrics::TICKETS.inc();
    tracing::info!(device = %d.id, cloud_ms, camera_ms, "whep session opened");
    Ok(resp)
}

/// The answer for an offer the camera did not take.
fn refusal(r: Refusal) -> Response {
    use signalling::ErrorCode as Sig;
    match r {
        Refusal::Busy { max } => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            if max > 0 {
                format!("camera busy: it serves at most {max} viewers at once")
            } else {
                "camera busy".to_owned()
            },
        ),
        Refusal::Offline => refuse(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Unavailable,
            "camera offline",
        ),
        Refusal::Timeout => refuse(
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Unavailable,
            "the camera did not answer in time",
        ),
        Refusal::Forged => refuse(
            StatusCode::BAD_GATEWAY,
            ErrorCode::Internal,
            "the answer's proof does not check: it is not the camera's",
        ),
        Refusal::Camera(Sig::Privacy, _) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            signalling::PRIVACY_MESSAGE,
        ),
        Refusal::Camera(Sig::BadRequest, m) => refuse(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("the camera refused the offer: {m}"),
        ),
        Refusal::Camera(code, m) => refuse(
            StatusCode::BAD_GATEWAY,
            ErrorCode::Internal,
            format!("the camera refused the offer ({code:?}): {m}"),
        ),
        Refusal::Broker(e) => {
            tracing::warn!("whep: signalling broker: {e}");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "signalling unavailable",
            )
        }
    }
}

/// The session `id` if `uid` owns it: its command channel, ETag, m-lines and ufrag.
type Owned = (
    mpsc::UnboundedSender<Command>,
    String,
    Vec<String>,
    Option<String>,
);

fn owned(state: &AppState, uid: Uuid, id: &str) -> Result<Owned, ApiError> {
    let table = lock(&state.whep.sessions);
    match table.get(id) {
        Some(e) if e.owner == uid => Ok((
            e.commands.clone(),
            e.etag.clone(),
            e.mids.clone(),
            e.ufrag.clone(),
        )),
        _ => Err(ApiError::NotFound("WHEP session")),
    }
}

/// Trickle the player's candidates to the camera.
#[utoipa::path(patch, path = "/api/v1/whep/{session}", tag = "whep",
    params(("session" = String, Path, description = "the opaque id from the POST's Location")),
    request_body(content = String, content_type = "application/trickle-ice-sdpfrag"),
    responses((status = 204, description = "relayed to the camera"),
        (status = 400, body = ErrorBody, description = "not a usable fragment"),
        (status = 404, body = ErrorBody, description = "no such session, or not the caller's"),
        (status = 412, body = ErrorBody, description = "If-Match does not match the ETag"),
        (status = 415, body = ErrorBody, description = "Content-Type is not application/trickle-ice-sdpfrag"),
        (status = 422, body = ErrorBody, description = "an ICE restart (new ufrag): not supported, POST a new offer"),
        (status = 429, body = ErrorBody, description = "the session relayed 64 candidate lines already")),
    security(("bearer" = [])))]
pub async fn trickle(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (tx, etag, mids, ufrag) = owned(&state, uid, &id)?;
    if !content_type_is(&headers, "application/trickle-ice-sdpfrag") {
        return Ok(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadRequest,
            "candidates must be sent as Content-Type: application/trickle-ice-sdpfrag",
        ));
    }
    if let Some(m) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
        && m.trim() != "*"
        && m.trim() != etag
    {
        return Ok(refuse(
            StatusCode::PRECONDITION_FAILED,
            ErrorCode::Conflict,
            "If-Match does not match this session's ETag",
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad("not UTF-8 text"))?;
    let frag = super::sdp::parse_fragment(text, &mids).map_err(ApiError::BadRequest)?;
    if let (Some(new), Some(old)) = (&frag.ufrag, &ufrag)
        && new != old
    {
        return Ok(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadRequest,
            "ICE restarts are not supported: DELETE this session and POST a new offer",
        ));
    }
    if !frag.candidates.is_empty() {
        let within = match lock(&state.whep.sessions).get_mut(&id) {
            Some(e) if e.relayed + frag.candidates.len() <= super::MAX_SESSION_CANDIDATES => {
                e.relayed += frag.candidates.len();
                true
            }
            Some(_) => false,
            None => return Err(ApiError::NotFound("WHEP session")),
        };
        if !within {
            return Ok(refuse(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                format!(
                    "at most {} candidates per session",
                    super::MAX_SESSION_CANDIDATES
                ),
            ));
        }
        let _ = tx.send(Command::Candidates(frag.candidates));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// End a session.
#[utoipa::path(delete, path = "/api/v1/whep/{session}", tag = "whep",
    params(("session" = String, Path, description = "the opaque id from the POST's Location")),
    responses((status = 200, description = "ended; the camera frees it at once"),
        (status = 404, body = ErrorBody, description = "no such session, or not the caller's")),
    security(("bearer" = [])))]
pub async fn close(
    State(state): State<AppState>,
    UserAuth(uid): UserAuth,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let entry = {
        let mut table = lock(&state.whep.sessions);
        match table.get(&id) {
            Some(e) if e.owner == uid => table.remove(&id),
            _ => None,
        }
    };
    let entry = entry.ok_or(ApiError::NotFound("WHEP session"))?;
    let _ = entry.commands.send(Command::Close);
    Ok(StatusCode::OK)
}
