//! Presigned URLs, recordings, events, clips and snapshots.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

// ───────────────────────────── presigned URLs ─────────────────────────────

/// A presigned object-store request: one object, one method, short expiry. Send it as is
/// (no `Authorization` header) with every header of `headers`; for PUT send the bytes as
/// the body.
///
/// An upload's PUT has `Content-Length` and `x-amz-checksum-sha256` (the base64 SHA-256
/// of the object) signed into it, so the store takes only the exact bytes the slot was
/// asked for: a replay of the URL, before or after `complete`, can only write them again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresignedUrl {
    /// `GET`, `PUT` or `HEAD`.
    pub method: String,
    pub url: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// Headers the request must carry exactly as given (lower-case names), since they are
    /// signed into the URL. Empty for GETs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl PresignedUrl {
    /// The value of a signed header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
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
    /// Length of the segment file as it will be uploaded. Required: a request without
    /// `size` and `sha256` (a camera older than signed uploads) is refused with 400.
    #[serde(default)]
    pub size: Option<u64>,
    /// SHA-256 of the segment file, 64 lowercase hex characters. Required (see `size`).
    #[serde(default)]
    pub sha256: Option<String>,
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
/// `size` and `sha256` must be the ones the slot was asked for (else 409). The cloud
/// checks the object with HEAD (exists, same size, same SHA-256 where the store reports
/// it) and answers the completed [`Recording`]; 409 `conflict` when the object is missing
/// or differs. Repeating a notice for a complete recording answers it again (idempotent).
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
    /// Length of the image as it will be uploaded, 1 byte to 10 MiB. Required: a request
    /// without `size` and `sha256` is refused with 400.
    #[serde(default)]
    pub size: Option<u64>,
    /// SHA-256 of the image, 64 lowercase hex characters. Required (see `size`).
    #[serde(default)]
    pub sha256: Option<String>,
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

/// Answer to [`CreateSnapshotRequest`]: PUT the image (JPEG or PNG, ≤ 10 MiB; exactly the
/// size and SHA-256 asked for, with `upload.headers`) to `upload`, then
/// `POST /api/v1/snapshots/{id}/confirm` (→ [`Snapshot`], 409 if not uploaded or not the
/// image announced).
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
