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
use uuid::Uuid;

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

/// What the cloud keeps of a device's recordings: its "subscription".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StoreMode {
    /// Upload every segment, all the time.
    Continuous,
    /// Upload only segments around events (pre-record + event + post-record).
    #[default]
    Event,
    /// Upload nothing; live view only.
    None,
}

impl StoreMode {
    /// The wire name (`continuous`, `event`, `none`).
    pub fn as_str(self) -> &'static str {
        match self {
            StoreMode::Continuous => "continuous",
            StoreMode::Event => "event",
            StoreMode::None => "none",
        }
    }
}

impl std::str::FromStr for StoreMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "continuous" => Ok(StoreMode::Continuous),
            "event" => Ok(StoreMode::Event),
            "none" => Ok(StoreMode::None),
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
    pub store_mode: StoreMode,
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
    pub store_mode: StoreMode,
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
    pub store_mode: StoreMode,
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

/// The AES-256-GCM key a device encrypts its recordings with (`docs/segment-format.md`).
/// Generated by the cloud at activation, kept wrapped under the server's master key and
/// handed to the device and to its owner's viewers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordingKey {
    /// Short id written in every segment header: 16 lowercase hex characters.
    pub key_id: String,
    /// The 32 key bytes, base64url without padding.
    pub key: String,
    /// Always `"AES-256-GCM"`.
    pub algorithm: String,
    pub created_ms: i64,
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
    /// The current recording key.
    pub recording_key: RecordingKey,
    pub store_mode: StoreMode,
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

// ───────────────────────────── presigned URLs ─────────────────────────────

/// A presigned object-store request: one object, one method, short expiry. Send it as is
/// (no `Authorization` header); for PUT send the bytes as the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresignedUrl {
    /// `GET`, `PUT` or `HEAD`.
    pub method: String,
    pub url: String,
    /// Unix seconds.
    pub expires_at: i64,
}

// ───────────────────────────── recordings ─────────────────────────────

/// `POST /api/v1/channels/{channel_id}/recordings` (the device owning the channel): ask for
/// an upload slot for one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadSlotRequest {
    /// Unix ms of the segment's first frame.
    pub start_ms: i64,
    /// Unix ms just past its last frame; `0 < end_ms - start_ms <= 600_000`.
    pub end_ms: i64,
    /// The segment overlaps an event (store mode `event`, or marked in `continuous`).
    #[serde(default)]
    pub event: bool,
    /// Key id written in the segment header (None: not encrypted).
    #[serde(default)]
    pub key_id: Option<String>,
}

/// Where to upload one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadSlot {
    pub recording_id: Uuid,
    /// Chosen by the server; informational.
    pub object_key: String,
    /// Presigned PUT.
    pub upload: PresignedUrl,
}

/// `POST /api/v1/recordings/{recording_id}/complete` (the device): the upload finished.
/// The cloud checks the object with HEAD (exists, same size) and answers the completed
/// [`Recording`]; 409 `conflict` when the object is missing or of another size. Repeating
/// a notice for a complete recording answers it again (idempotent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadNotice {
    /// Bytes uploaded.
    pub size: u64,
    /// SHA-256 of the uploaded bytes, 64 lowercase hex characters.
    pub sha256: String,
}

/// State of a recording row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecordingStatus {
    /// Slot handed out, object not confirmed yet.
    Uploading,
    /// Object present and checked.
    Complete,
    #[serde(other)]
    Unknown,
}

/// One recorded segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recording {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub start_ms: i64,
    pub end_ms: i64,
    pub status: RecordingStatus,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub event: bool,
    pub key_id: Option<String>,
    /// Presigned GET (listings of complete recordings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<PresignedUrl>,
}

/// A stretch of the requested range with no complete recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Gap {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// `GET /api/v1/channels/{channel_id}/recordings?start_ms=…&end_ms=…` (owner, or the
/// device): complete recordings overlapping `[start_ms, end_ms)`, sorted by start, each
/// with a presigned GET, and the gaps between them (and at both ends) made explicit.
/// The range may span at most 7 days; at most 10 000 recordings are returned, and when
/// there are more `next_start_ms` says where to continue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordingList {
    pub channel_id: Uuid,
    pub start_ms: i64,
    pub end_ms: i64,
    pub recordings: Vec<Recording>,
    pub gaps: Vec<Gap>,
    #[serde(default)]
    pub next_start_ms: Option<i64>,
}

/// Query of the time-range listings (recordings, events, snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RangeQuery {
    pub start_ms: i64,
    pub end_ms: i64,
}

// ───────────────────────────── events ─────────────────────────────

/// What started an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Motion,
    Manual,
    Sound,
    #[serde(other)]
    Unknown,
}

/// `POST /api/v1/channels/{channel_id}/events` (the device) → 201 [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventStart {
    pub kind: EventKind,
    pub start_ms: i64,
}

/// `POST /api/v1/events/{event_id}/end` (the device) → [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventEnd {
    pub end_ms: i64,
}

/// A marker on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub kind: EventKind,
    pub start_ms: i64,
    /// None while the event is going on.
    pub end_ms: Option<i64>,
}

/// `GET /api/v1/channels/{channel_id}/events?start_ms=…&end_ms=…`: events overlapping the
/// range, sorted by start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventList {
    pub events: Vec<Event>,
}

// ───────────────────────────── clips ─────────────────────────────

/// `POST /api/v1/channels/{channel_id}/clips` (owner) → 202 [`Clip`] `in_progress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateClipRequest {
    pub start_ms: i64,
    /// `0 < end_ms - start_ms <= 3 600 000` (one hour); may lie in the near future.
    pub end_ms: i64,
    #[serde(default)]
    pub name: Option<String>,
}

/// Life of a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClipStatus {
    /// Being assembled; some segments may still be uploading. Poll `GET /api/v1/clips/{id}`.
    InProgress,
    /// One object holds the concatenated segments; `download` is set.
    Finished,
    /// Cannot be made; `reason` says why.
    Failed,
    #[serde(other)]
    Unknown,
}

/// Where one segment lies inside a finished clip's object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClipPart {
    pub recording_id: Uuid,
    /// Byte offset in the clip object.
    pub offset: u64,
    pub size: u64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub key_id: Option<String>,
}

/// A user-defined range cut from the recordings into one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Clip {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub device_id: Uuid,
    pub name: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub status: ClipStatus,
    /// Why a clip failed.
    pub reason: Option<String>,
    /// Size of the clip object once finished.
    pub size: Option<u64>,
    /// The segments in the object, in order (empty until finished).
    pub parts: Vec<ClipPart>,
    pub created_ms: i64,
    pub finished_ms: Option<i64>,
    /// Presigned GET once finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<PresignedUrl>,
}

/// `GET /api/v1/clips?device_id=…` (owner): newest first; the filter is optional.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClipList {
    pub clips: Vec<Clip>,
}

// ───────────────────────────── snapshots ─────────────────────────────

/// Who took a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SnapshotSource {
    /// A viewer grabbed a frame.
    #[default]
    Client,
    /// The camera (agent) captured it.
    Agent,
    #[serde(other)]
    Unknown,
}

/// `POST /api/v1/channels/{channel_id}/snapshots` (owner or the device) → 201
/// [`SnapshotSlot`]. The source is `client` for users and `agent` for devices.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateSnapshotRequest {
    /// Unix ms the frame was taken (default: now).
    #[serde(default)]
    pub taken_at_ms: Option<i64>,
}

/// State of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    /// Entry made, image not confirmed.
    Pending,
    /// `POST /api/v1/snapshots/{id}/confirm` found the object.
    Complete,
    #[serde(other)]
    Unknown,
}

/// A single image of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub taken_at_ms: i64,
    pub source: SnapshotSource,
    pub status: SnapshotStatus,
    pub size: Option<u64>,
    /// Presigned GET when complete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download: Option<PresignedUrl>,
}

/// Answer to [`CreateSnapshotRequest`]: PUT the image (JPEG or PNG, ≤ 10 MiB) to `upload`,
/// then `POST /api/v1/snapshots/{id}/confirm` (→ [`Snapshot`], 409 if not uploaded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotSlot {
    pub snapshot: Snapshot,
    pub upload: PresignedUrl,
}

/// `GET /api/v1/channels/{channel_id}/snapshots?start_ms=…&end_ms=…`: complete snapshots
/// taken in the range, newest first, with presigned GETs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotList {
    pub snapshots: Vec<Snapshot>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_are_snake_case_and_tolerant() {
        assert_eq!(serde_json::to_string(&StoreMode::Continuous).unwrap(), "\"continuous\"");
        assert_eq!(serde_json::to_string(&ClipStatus::InProgress).unwrap(), "\"in_progress\"");
        let c: ClipStatus = serde_json::from_str("\"exploded\"").unwrap();
        assert_eq!(c, ClipStatus::Unknown);
        assert!(serde_json::from_str::<StoreMode>("\"sometimes\"").is_err());
        let e: ErrorBody =
            serde_json::from_str(r#"{"code":"not_found","message":"no such device"}"#).unwrap();
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!("event".parse::<StoreMode>(), Ok(StoreMode::Event));
    }

    #[test]
    fn optional_bodies_accept_empty_objects() {
        let a: ActivateRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(a, ActivateRequest::default());
        let t: TicketRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(t.ttl_secs, None);
    }
}
