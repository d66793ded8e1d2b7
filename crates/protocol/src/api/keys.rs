//! End-to-end keys on the wire (`docs/keys.md`, `docs/api.md` §13): key sets, the pairing
//! check relayed by the cloud, content keys wrapped to viewer keys, and installations
//! waiting to be admitted. The cloud stores all of it and can read none of the keys.

use serde::{Deserialize, Serialize};

pub use crate::e2e::keyset::KeySetStatement;
pub use crate::e2e::pairing::{CameraHello, ViewerAnswer};
pub use crate::e2e::viewer::ViewerPublic;
pub use crate::e2e::wrap::WrappedKey;

/// `GET /api/v1/keyset` (user) and `GET /api/v1/devices/{id}/keyset` (the device):
/// the owner's key set statements with a version above `?since=` (default 0), oldest
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeySetList {
    pub statements: Vec<KeySetStatement>,
}

/// Where a device's pairing check stands: `GET /api/v1/devices/{id}/pairing`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingState {
    /// The camera's opening, once it posted one.
    pub camera: Option<CameraHello>,
    /// The viewer's answer to that opening.
    pub viewer: Option<ViewerAnswer>,
    /// What the camera concluded.
    pub outcome: Option<PairingOutcome>,
}

/// The camera's conclusion of a pairing check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PairingOutcome {
    /// The answer matched the code: the camera pinned the key set.
    Verified,
    /// It did not: someone between the two (or a mistyped code) — the camera keeps no key
    /// set from it.
    Refused,
}

/// `PUT /api/v1/devices/{id}/pairing/outcome` (the device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingOutcomeRequest {
    pub outcome: PairingOutcome,
}

/// `POST /api/v1/devices/{id}/content-keys` (the device): a new content key, wrapped to
/// every key of the key set version it names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewContentKey {
    /// 16 lowercase hex characters, as in segment headers.
    pub key_id: String,
    pub created_ms: i64,
    pub keyset_version: u64,
    pub wraps: Vec<WrappedKey>,
}

/// `POST /api/v1/devices/{id}/content-keys/{key_id}/wraps` (owner): wraps for more viewer
/// keys (an installation admitting a new one, or one restored with the recovery key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddWraps {
    pub wraps: Vec<WrappedKey>,
}

/// `POST /api/v1/installations` (user): an installation asking to be admitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewInstallation {
    /// What the user will see ("Kitchen tablet"), 1–64 printable characters.
    pub name: String,
    pub public: ViewerPublic,
}

/// An installation waiting for admission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Installation {
    /// Its viewer key id.
    pub id: String,
    pub name: String,
    pub public: ViewerPublic,
    pub created_ms: i64,
}

/// `GET /api/v1/installations` (user): the requests of the last 24 hours not yet admitted
/// or dismissed, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstallationList {
    pub installations: Vec<Installation>,
}
