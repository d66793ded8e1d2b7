//! REST request and response bodies of the cloud service (`docs/api.md`).
//!
//! The cloud never carries media: it answers with metadata and with presigned URLs that
//! the camera and the viewer use to talk to the object store directly. Everything here is
//! plain serde data so that the cloud (server), `eyrie_client::api` (the typed client used
//! by the app, the camera and the tests) and third-party clients share one definition.
//!
//! Conventions, the same on every endpoint:
//! - Paths live under `/api/v1`. JSON in and out, `snake_case` field names and enum values.
//! - Ids are UUIDs written as strings.
//! - Media times (`start_ms`, `end_ms`, `taken_at_ms`, …) are **unix milliseconds** (i64).
//!   Expiries (`expires_at`) are **unix seconds**, like the ticket's `exp`.
//! - Users authenticate with `Authorization: Bearer <token>` from [`LoginResponse`];
//!   devices with `Authorization: Bearer <device_token>` from [`DeviceCredentials`].
//! - Every error answers a 4xx/5xx status with an [`ErrorBody`].
//! - A user sees only their own devices and media, a device only itself and its own
//!   channels; anything else answers 404 `not_found`, never 403, so ids do not leak.
//!
//! Compatibility: fields are only ever added. Clients must ignore fields they do not know;
//! enums carry an `unknown` catch-all where new values may appear.

use serde::{Deserialize, Serialize};

/// Prefix of every API path.
pub const API_PREFIX: &str = "/api/v1";

// ───────────────────────────── errors ─────────────────────────────

/// Body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Machine-readable reason.
    pub code: ErrorCode,
    /// Human-readable explanation (English, never contains secrets).
    pub message: String,
}

/// Machine-readable error reasons, one per HTTP status family the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed body, query or path, or a value out of range.
    BadRequest,
    /// 401: no, unknown or expired bearer token; wrong user name or password.
    Unauthorized,
    /// 403: authenticated but the wrong kind of caller (a device on a user-only route…).
    Forbidden,
    /// 404: no such thing, or not yours.
    NotFound,
    /// 405: the route exists but not with this method (the `Allow` header lists them).
    MethodNotAllowed,
    /// 409: the request conflicts with the current state (name taken, object missing or of
    /// the wrong size on a completion notice, snapshot not uploaded yet…).
    Conflict,
    /// 410: an activation code or pairing that expired or was already used.
    Gone,
    /// 413: body too large.
    PayloadTooLarge,
    /// 429: too many attempts (login rate limit); retry later.
    TooManyRequests,
    /// 500: a bug or an unexpected failure.
    Internal,
    /// 503: the database or the object store is unreachable.
    Unavailable,
    /// A code this client does not know yet.
    #[serde(other)]
    Unknown,
}

// ───────────────────────────── health ─────────────────────────────

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `"ok"` when the database answers.
    pub status: String,
    /// Crate version of the server.
    pub version: String,
}

mod devices;
mod keys;
mod media;

pub use devices::*;
pub use keys::*;
pub use media::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_are_snake_case_and_tolerant() {
        assert_eq!(
            serde_json::to_string(&RecordingPolicy::Continuous).unwrap(),
            "\"continuous\""
        );
        assert_eq!(
            serde_json::to_string(&ClipStatus::InProgress).unwrap(),
            "\"in_progress\""
        );
        let c: ClipStatus = serde_json::from_str("\"exploded\"").unwrap();
        assert_eq!(c, ClipStatus::Unknown);
        assert!(serde_json::from_str::<RecordingPolicy>("\"sometimes\"").is_err());
        let e: ErrorBody =
            serde_json::from_str(r#"{"code":"not_found","message":"no such device"}"#).unwrap();
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(
            "event".parse::<RecordingPolicy>(),
            Ok(RecordingPolicy::Event)
        );
    }

    #[test]
    fn optional_bodies_accept_empty_objects() {
        let a: ActivateRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(a, ActivateRequest::default());
        let t: TicketRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(t.ttl_secs, None);
    }
}
