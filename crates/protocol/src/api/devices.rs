//! Accounts, devices, set-up (pairing and activation) and live view (tickets, ICE).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

// ───────────────────────────── accounts ─────────────────────────────

/// `POST /api/v1/accounts` (no auth) → 201 [`User`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// 3–64 characters: letters, digits, `.`, `_`, `-`, `@`; unique, case-insensitive.
    pub username: String,
    /// 8–256 characters.
    pub password: String,
}

/// `POST /api/v1/login` (no auth) → [`LoginResponse`]. Rate-limited per user name and
/// per client address: 429 `too_many_requests` after repeated failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// Answer to a login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// Session token: send as `Authorization: Bearer <token>`. `POST /api/v1/logout` ends it.
    pub token: String,
    pub user: User,
    /// Unix seconds after which the token is refused.
    pub expires_at: i64,
}

/// A user account (`GET /api/v1/me`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub created_ms: i64,
}

// ───────────────────────────── devices ─────────────────────────────

/// What the cloud keeps of a device's recordings: its "subscription". On the wire and in
/// the API documents it is the device's `store_mode` (schema `StoreMode`); in the code it
/// is a policy, so that "mode" keeps meaning camera mode alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = StoreMode))]
#[serde(rename_all = "snake_case")]
pub enum RecordingPolicy {
    /// Upload every segment, all the time.
    Continuous,
    /// Upload only segments around events (pre-record + event + post-record).
    #[default]
    Event,
    /// Upload nothing; live view only.
    None,
}

impl RecordingPolicy {
    /// The wire name (`continuous`, `event`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingPolicy::Continuous => "continuous",
            RecordingPolicy::Event => "event",
            RecordingPolicy::None => "none",
        }
    }
}

impl std::str::FromStr for RecordingPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "continuous" => Ok(RecordingPolicy::Continuous),
            "event" => Ok(RecordingPolicy::Event),
            "none" => Ok(RecordingPolicy::None),
            other => Err(format!("unknown store mode {other:?}")),
        }
    }
}

/// Which stream of a device a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// The high-definition stream (recorded).
    Main,
    /// The low-resolution stream (grids, thumbnails, poor links).
    Sub,
    #[serde(other)]
    Unknown,
}

/// One stream of a device. Recordings, events, clips and snapshots hang off a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Channel {
    pub id: Uuid,
    pub kind: ChannelKind,
}

/// A camera as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Device {
    pub id: Uuid,
    pub name: String,
    pub store_mode: RecordingPolicy,
    /// The device has activated (holds its credentials).
    pub activated: bool,
    /// A heartbeat or any device-authenticated call arrived in the last 90 seconds.
    pub online: bool,
    /// Unix milliseconds of the last heartbeat or device call, if any.
    pub last_seen_ms: Option<i64>,
    /// Segments the camera reported as dropped (its spool overflowed), from heartbeats.
    pub dropped_segments: u64,
    /// The main and sub channels (created with the device).
    pub channels: Vec<Channel>,
    pub created_ms: i64,
}

/// `GET /api/v1/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceList {
    pub devices: Vec<Device>,
}

/// `POST /api/v1/devices` (user): register a device, user-first set-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateDeviceRequest {
    /// 1–64 characters, shown in the camera list.
    pub name: String,
}

/// Answer to [`CreateDeviceRequest`]: type the code into the camera, which calls
/// `POST /api/v1/activate {activation_code}` once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateDeviceResponse {
    pub device: Device,
    /// Single use, expires at `activation_expires_at`.
    pub activation_code: String,
    /// Unix seconds.
    pub activation_expires_at: i64,
}

/// `PATCH /api/v1/devices/{id}` (user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RenameDeviceRequest {
    pub name: String,
}

/// `GET`/`PUT /api/v1/devices/{id}/store-mode` (GET: owner or the device; PUT: owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoreModeBody {
    pub store_mode: RecordingPolicy,
}

/// `POST /api/v1/devices/{id}/heartbeat` (the device itself), every 30 s or so. Marks the
/// device online; all fields optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatRequest {
    /// Segments waiting in the camera's upload spool.
    #[serde(default)]
    pub queued_segments: Option<u64>,
    /// Segments dropped since the camera started (total, not a delta).
    #[serde(default)]
    pub dropped_segments: Option<u64>,
}

/// Answer to a heartbeat: what the camera should currently do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatResponse {
    pub store_mode: RecordingPolicy,
    /// Set when the owner asked for a snapshot (`POST /api/v1/devices/{id}/snapshot-request`)
    /// since the last heartbeat: when they asked, unix ms. Handed out once; the camera
    /// answers by uploading a snapshot (source `agent`) as soon as it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_requested_ms: Option<i64>,
}

/// Answer to `POST /api/v1/devices/{id}/snapshot-request` (owner) → 202: the camera is
/// asked to take a snapshot on its next heartbeat; it appears in the channel's snapshot
/// listing (source `agent`, `taken_at_ms` ≥ `requested_at_ms`) once uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotRequestAccepted {
    pub requested_at_ms: i64,
}

// ───────────────────────────── set-up: pairing and activation ─────────────────────────────

/// `POST /api/v1/pairings` (no auth, body optional): camera-first set-up. The camera shows
/// `code`, the user enters it in the app (`POST /api/v1/devices/claim`), the camera polls
/// `POST /api/v1/activate {pairing_token}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingRequest {
    /// Optional name the camera suggests (e.g. its host name); the claim's name wins.
    #[serde(default)]
    pub name_hint: Option<String>,
}

/// Answer to [`PairingRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PairingResponse {
    /// Short code for a human: 8 characters from `ABCDEFGHJKMNPQRSTUVWXYZ23456789`, shown as
    /// `XXXX-XXXX`; the claim accepts it with or without the dash, in any case.
    pub code: String,
    /// Secret the camera keeps to poll activation; never shown.
    pub pairing_token: String,
    /// Unix seconds; unclaimed pairings expire then (10 minutes).
    pub expires_at: i64,
}

/// `POST /api/v1/devices/claim` (user) → 201 [`Device`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClaimRequest {
    pub code: String,
    pub name: String,
}

/// `POST /api/v1/activate` (no auth): exactly one of the two fields.
///
/// - `activation_code` (user-first): 200 [`DeviceCredentials`] once, then 410.
/// - `pairing_token` (camera-first): 202 [`ActivationPending`] while unclaimed, then 200
///   [`DeviceCredentials`] once, then 410; 410 too once the pairing expired.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivateRequest {
    #[serde(default)]
    pub activation_code: Option<String>,
    #[serde(default)]
    pub pairing_token: Option<String>,
}

/// 202 answer to a pairing activation that nobody claimed yet: poll again in a few seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivationPending {
    /// Always `"pending"`.
    pub status: String,
    /// Unix seconds when the pairing expires.
    pub expires_at: i64,
}

/// The ids of a device's channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceChannels {
    pub main: Uuid,
    pub sub: Uuid,
}

/// How to reach the MQTT broker used for signalling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MqttConnection {
    pub host: String,
    pub port: u16,
    /// TLS (`mqtts`) when true, plain TCP otherwise.
    pub tls: bool,
    pub username: String,
    pub password: String,
    /// Use exactly this MQTT client id (the broker may refuse others).
    pub client_id: String,
    /// Topics of this device live under `<topic_prefix>/…` (`docs/signalling.md`);
    /// `eyrie/<device_id>` with the embedded broker.
    pub topic_prefix: String,
}

/// An AES-256-GCM key a device encrypts its recordings with (`docs/segment-format.md`).
///
/// A **content key** (`docs/keys.md`) is made by the camera and the cloud only ever holds
/// it wrapped to viewer keys: `wrapped` is the one for the viewer key the request named
/// (`?viewer_key=`), absent when there is none for it, and `key` is absent. A **legacy key**
/// (devices paired before end-to-end keys) was made by the cloud: `key` holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordingKey {
    /// Short id written in every segment header: 16 lowercase hex characters.
    pub key_id: String,
    /// A legacy key's 32 bytes, base64url without padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A content key sealed to the requesting viewer key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrapped: Option<crate::e2e::wrap::WrappedKey>,
    /// The key set version the camera wrapped a content key for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyset_version: Option<u64>,
    /// Always `"AES-256-GCM"`.
    pub algorithm: String,
    pub created_ms: i64,
}

impl RecordingKey {
    /// A key in the clear: a legacy key as served, or a content key once unwrapped.
    pub fn clear(key_id: String, key: &crate::segment::SegmentKey, created_ms: i64) -> Self {
        Self {
            key_id,
            key: Some(key.to_base64url()),
            wrapped: None,
            keyset_version: None,
            algorithm: "AES-256-GCM".into(),
            created_ms,
        }
    }
}

/// `GET /api/v1/devices/{id}/keys` (owner or the device): every key the device ever used,
/// newest first, so old recordings stay readable after a rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordingKeyList {
    pub keys: Vec<RecordingKey>,
}

/// What a camera receives once at activation. Store it (mode 0600); it is never shown again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceCredentials {
    pub device_id: Uuid,
    /// Name the owner gave the device.
    pub name: String,
    /// Shared with the cloud only: verifies signalling tickets and signs device proofs.
    /// The HMAC key is the UTF-8 bytes of this string as given ([`Self::secret_bytes`]).
    pub device_secret: String,
    /// Bearer token for the device's API calls.
    pub device_token: String,
    pub channels: DeviceChannels,
    pub mqtt: MqttConnection,
    /// Devices paired before end-to-end keys only: the cloud-made key. New devices make
    /// their own content keys after the pairing check (`docs/keys.md`) and get none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_key: Option<RecordingKey>,
    pub store_mode: RecordingPolicy,
}

impl DeviceCredentials {
    /// The key for [`crate::ticket::verify`] and [`crate::ticket::device_proof`].
    pub fn secret_bytes(&self) -> &[u8] {
        self.device_secret.as_bytes()
    }
}

// ───────────────────────────── live: tickets and ICE ─────────────────────────────

/// One STUN or TURN server, in the shape of WebRTC's `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceServer {
    /// `stun:host:port`, `turn:host:port?transport=udp`, `turns:…`.
    pub urls: Vec<String>,
    /// TURN only: `<expiry unix seconds>:<user id or device id>` (coturn REST API form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN only: base64(HMAC-SHA1(turn secret, username)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `POST /api/v1/devices/{id}/tickets` (owner) → [`TicketResponse`]. Body optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketRequest {
    /// Lifetime wanted, seconds; clamped to 10..=300 (default 120).
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// A short-lived permission to open one live session with one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketResponse {
    /// [`crate::ticket`] wire form, signed with the device secret; put it in the offer.
    pub ticket: String,
    /// Unix seconds (the ticket's `exp`).
    pub expires_at: i64,
    pub device_id: Uuid,
    /// Broker connection for this viewer (credentials valid at least until `expires_at`
    /// plus the session length the broker allows: 12 hours).
    pub mqtt: MqttConnection,
    pub ice_servers: Vec<IceServer>,
}

/// `GET /api/v1/devices/{id}/ice-servers` (the device, or its owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IceServersResponse {
    pub ice_servers: Vec<IceServer>,
    /// Unix seconds when TURN credentials in the list expire (far future without TURN).
    pub expires_at: i64,
}
