//! The one error type of the API: every handler returns `Result<_, ApiError>` and the
//! client always gets a JSON [`ErrorBody`] with a stable code. Internal causes (database,
//! object store) are logged here with their detail and answered with a generic message,
//! so nothing internal — and no secret — leaks into a response.
//!
//! Some answers are made by axum itself, not by a handler: 405 for a method a route does
//! not have (no body), 413 from a raw-body extractor (`text/plain`), any other
//! extractor's rejection. [`json_errors`], a layer over the whole router, gives each of
//! them the same JSON shape by its status, keeping axum's text as the message and its
//! headers (`Allow`, `Retry-After`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use eyrie_protocol::api::{ErrorBody, ErrorCode};

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("too many attempts, retry in {0} s")]
    TooManyRequests(u64),
    #[error("database: {0}")]
    Database(#[from] crate::db::Error),
    #[error("object store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A service the answer depends on (the message broker) cannot be reached; nothing
    /// was changed and the same request can be sent again.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }

    fn parts(&self) -> (StatusCode, ErrorCode, String) {
        match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest, m.clone()),
            ApiError::Unauthorized(m) => {
                (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, m.clone())
            }
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden, m.clone()),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound, self.to_string()),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, ErrorCode::Conflict, m.clone()),
            ApiError::Gone(m) => (StatusCode::GONE, ErrorCode::Gone, m.clone()),
            ApiError::PayloadTooLarge(m) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                m.clone(),
            ),
            ApiError::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                self.to_string(),
            ),
            ApiError::Database(e) if e.is_unavailable() => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "database unavailable".into(),
            ),
            ApiError::Database(_) | ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::Internal,
                "internal error".into(),
            ),
            ApiError::Store(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                "object store unavailable".into(),
            ),
            ApiError::Unavailable(m) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::Unavailable,
                m.clone(),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut resp = (status, Json(ErrorBody { code, message })).into_response();
        let retry_after = match self {
            ApiError::TooManyRequests(secs) => Some(secs),
            ApiError::Unavailable(_) => Some(BROKER_RETRY_AFTER_S),
            _ => None,
        };
        if let Some(secs) = retry_after
            && let Ok(v) = secs.to_string().parse()
        {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        resp
    }
}

/// Turn axum's extractor rejections (bad JSON, bad query, bad path) into our JSON errors.
pub fn rejection(err: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest(err.to_string())
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The `Retry-After` of a 503 for an unreachable broker (its administration link
/// reconnects within a few seconds of the broker coming back).
const BROKER_RETRY_AFTER_S: u64 = 5;

/// A failed broker change: an unreachable or silent broker is a 503 the client may
/// retry (the route has undone its own change); a refused command is our bug or the
/// broker's misconfiguration, a 500.
impl From<crate::mqtt::dynsec::DynSecError> for ApiError {
    fn from(e: crate::mqtt::dynsec::DynSecError) -> Self {
        use crate::mqtt::dynsec::DynSecError;
        match e {
            DynSecError::Link(_) | DynSecError::Timeout(_) => {
                tracing::warn!(error = %e, "message broker unreachable");
                ApiError::Unavailable("the message broker is unreachable; try again".into())
            }
            DynSecError::Refused { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge(e.body_text());
        }
        // A missing content type (415) and a body of the wrong shape (422) are malformed
        // requests like any other: 400, as docs/api.md says.
        rejection(e.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        rejection(e.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        rejection(e.body_text())
    }
}

/// `Json<T>` whose rejection is an [`ApiError`] (JSON body, code `bad_request`).
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Query<T>` whose rejection is an [`ApiError`].
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Path<T>` whose rejection is an [`ApiError`].
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// The code of an answer with this status.
fn code_of(status: StatusCode) -> ErrorCode {
    match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        409 => ErrorCode::Conflict,
        410 => ErrorCode::Gone,
        413 => ErrorCode::PayloadTooLarge,
        429 => ErrorCode::TooManyRequests,
        503 => ErrorCode::Unavailable,
        500..=599 => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    }
}

/// Layer: an error answer that is not JSON (made by axum, not by a handler) becomes the
/// documented [`ErrorBody`], same status, same headers.
pub async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if text.is_empty() || status.is_server_error() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text
    };
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    let body = Json(ErrorBody {
        code: code_of(status),
        message,
    });
    let mut out = (status, body).into_response();
    out.headers_mut().extend(parts.headers);
    out
}

/// An optional JSON body: empty means `T::default()`, anything else must parse.
pub fn optional_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("invalid JSON body: {e}")))
}
