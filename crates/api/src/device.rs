//! The device's half of the API: set-up (pairing, activation), then, with the device
//! token, heartbeats, upload slots and notices, events and snapshots.
//!
//! [`DeviceClient`] is an [`ApiClient`] bound to one device, with the calls the camera's
//! storage makes in the camera's words.

use std::path::Path;

use eyrie_protocol::api::*;
use eyrie_protocol::trust::CloudLink;
use reqwest::{Method, StatusCode};
use uuid::Uuid;

use crate::{ApiClient, ApiError};

/// What `POST /api/v1/activate` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// Credentials (shown once).
    Ready(Box<DeviceCredentials>),
    /// The pairing is not claimed yet; ask again.
    Pending(ActivationPending),
    /// The code or pairing is unknown, used or expired (404/410): it never will be ready.
    Gone,
}

impl ApiClient {
    /// Camera-first set-up: start a pairing (no auth); show its code to the user.
    pub async fn pairing(&self, name_hint: Option<&str>) -> Result<PairingResponse, ApiError> {
        let body = PairingRequest {
            name_hint: name_hint.map(Into::into),
        };
        self.json(Method::POST, "/pairings", &body).await
    }

    /// Activate with a code (user-first) or a pairing token (camera-first). Asking again
    /// is harmless, so the request is repeated by the retry policy.
    pub async fn activate(&self, req: &ActivateRequest) -> Result<Activation, ApiError> {
        let resp = match self.call(Method::POST, "/activate", Some(req), true).await {
            Ok(resp) => resp,
            Err(e) if matches!(e.status(), Some(404 | 410)) => return Ok(Activation::Gone),
            Err(e) => return Err(e),
        };
        if resp.status() == StatusCode::ACCEPTED {
            Ok(Activation::Pending(resp.json().await?))
        } else {
            Ok(Activation::Ready(Box::new(resp.json().await?)))
        }
    }

    /// The device is alive; the answer carries the store mode and snapshot requests.
    pub async fn heartbeat(
        &self,
        id: Uuid,
        req: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ApiError> {
        let path = format!("/devices/{id}/heartbeat");
        let resp = self.call(Method::POST, &path, Some(req), true).await?;
        Ok(resp.json().await?)
    }

    /// Where to PUT a segment, then [`ApiClient::complete_recording`].
    pub async fn upload_slot(
        &self,
        channel: Uuid,
        req: &UploadSlotRequest,
    ) -> Result<UploadSlot, ApiError> {
        let path = format!("/channels/{channel}/recordings");
        self.json(Method::POST, &path, req).await
    }

    /// The segment is in the store, with this size and SHA-256.
    pub async fn complete_recording(
        &self,
        id: Uuid,
        notice: &UploadNotice,
    ) -> Result<Recording, ApiError> {
        let path = format!("/recordings/{id}/complete");
        self.json(Method::POST, &path, notice).await
    }

    pub async fn start_event(
        &self,
        channel: Uuid,
        kind: EventKind,
        start_ms: i64,
    ) -> Result<Event, ApiError> {
        let path = format!("/channels/{channel}/events");
        self.json(Method::POST, &path, &EventStart { kind, start_ms })
            .await
    }

    pub async fn end_event(&self, id: Uuid, end_ms: i64) -> Result<Event, ApiError> {
        let path = format!("/events/{id}/end");
        self.json(Method::POST, &path, &EventEnd { end_ms }).await
    }
}

/// The API as one device uses it, with its token.
#[derive(Clone)]
pub struct DeviceClient {
    api: ApiClient,
    device_id: Uuid,
}

impl std::fmt::Debug for DeviceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceClient")
            .field("base", &self.api.base_url())
            .field("device", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl DeviceClient {
    /// `http` must already trust the cloud's CA; `base` is the cloud link or its
    /// `scheme://host:port`, refused here if it is plain HTTP off loopback.
    pub fn new(
        http: reqwest::Client,
        base: &str,
        token: &str,
        device_id: Uuid,
    ) -> Result<Self, ApiError> {
        let link: CloudLink = base.parse()?;
        Ok(Self::from_api(
            ApiClient::with_http(&link, http)?.with_token(token),
            device_id,
        ))
    }

    /// A client that already carries the device token.
    pub fn from_api(api: ApiClient, device_id: Uuid) -> Self {
        Self { api, device_id }
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    pub async fn store_mode(&self) -> Result<RecordingPolicy, ApiError> {
        self.api.store_mode(self.device_id).await
    }

    /// Report the spool (segments queued and dropped); learn the store mode.
    pub async fn heartbeat(
        &self,
        queued: u64,
        dropped: u64,
    ) -> Result<HeartbeatResponse, ApiError> {
        let req = HeartbeatRequest {
            queued_segments: Some(queued),
            dropped_segments: Some(dropped),
        };
        self.api.heartbeat(self.device_id, &req).await
    }

    pub async fn upload_slot(
        &self,
        channel: Uuid,
        req: &UploadSlotRequest,
    ) -> Result<UploadSlot, ApiError> {
        self.api.upload_slot(channel, req).await
    }

    pub async fn complete(
        &self,
        recording: Uuid,
        notice: &UploadNotice,
    ) -> Result<Recording, ApiError> {
        self.api.complete_recording(recording, notice).await
    }

    pub async fn event_start(
        &self,
        channel: Uuid,
        kind: EventKind,
        start_ms: i64,
    ) -> Result<Event, ApiError> {
        self.api.start_event(channel, kind, start_ms).await
    }

    pub async fn event_end(&self, event: Uuid, end_ms: i64) -> Result<Event, ApiError> {
        self.api.end_event(event, end_ms).await
    }

    /// A slot for a snapshot image of `size` bytes with this SHA-256 (lowercase hex).
    pub async fn snapshot_slot(
        &self,
        channel: Uuid,
        taken_at_ms: i64,
        size: u64,
        sha256: &str,
    ) -> Result<SnapshotSlot, ApiError> {
        let req = CreateSnapshotRequest {
            taken_at_ms: Some(taken_at_ms),
            size: Some(size),
            sha256: Some(sha256.to_owned()),
        };
        self.api.snapshot_slot(channel, &req).await
    }

    pub async fn snapshot_confirm(&self, snapshot: Uuid) -> Result<Snapshot, ApiError> {
        self.api.confirm_snapshot(snapshot).await
    }

    /// Stream the file at `path` to a presigned PUT URL (with its signed headers) as an
    /// encrypted segment.
    pub async fn put_file(&self, url: &PresignedUrl, path: &Path) -> Result<(), ApiError> {
        let kind = eyrie_protocol::segment::CONTENT_TYPE;
        self.api.put_presigned_file(url, path, kind).await
    }
}
