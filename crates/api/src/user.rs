//! The user's half of the API: accounts, devices, live tickets, recordings, events,
//! clips and snapshots — what the app and the tests call with a session token.

use std::time::Duration;

use eyrie_protocol::api::*;
use reqwest::Method;
use uuid::Uuid;

use crate::{ApiClient, ApiError};

impl ApiClient {
    // ── ops ──
    pub async fn health(&self) -> Result<Health, ApiError> {
        let url = format!("{}/healthz", self.base_url());
        let resp = self.call_url::<()>(Method::GET, url, None, false).await?;
        Ok(resp.json().await?)
    }

    // ── accounts ──
    pub async fn register(&self, username: &str, password: &str) -> Result<User, ApiError> {
        let body = RegisterRequest {
            username: username.into(),
            password: password.into(),
        };
        self.json(Method::POST, "/accounts", &body).await
    }

    /// Log in; use `with_token(resp.token)` afterwards.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResponse, ApiError> {
        let body = LoginRequest {
            username: username.into(),
            password: password.into(),
        };
        self.json(Method::POST, "/login", &body).await
    }

    pub async fn logout(&self) -> Result<(), ApiError> {
        self.empty(Method::POST, "/logout").await
    }

    pub async fn me(&self) -> Result<User, ApiError> {
        self.get("/me").await
    }

    // ── devices ──
    pub async fn create_device(&self, name: &str) -> Result<CreateDeviceResponse, ApiError> {
        let body = CreateDeviceRequest { name: name.into() };
        self.json(Method::POST, "/devices", &body).await
    }

    pub async fn devices(&self) -> Result<DeviceList, ApiError> {
        self.get("/devices").await
    }

    pub async fn device(&self, id: Uuid) -> Result<Device, ApiError> {
        self.get(&format!("/devices/{id}")).await
    }

    pub async fn rename_device(&self, id: Uuid, name: &str) -> Result<Device, ApiError> {
        let body = RenameDeviceRequest { name: name.into() };
        self.json(Method::PATCH, &format!("/devices/{id}"), &body)
            .await
    }

    pub async fn delete_device(&self, id: Uuid) -> Result<(), ApiError> {
        self.empty(Method::DELETE, &format!("/devices/{id}")).await
    }

    /// The device's store mode (owner or the device).
    pub async fn store_mode(&self, id: Uuid) -> Result<RecordingPolicy, ApiError> {
        let b: StoreModeBody = self.get(&format!("/devices/{id}/store-mode")).await?;
        Ok(b.store_mode)
    }

    pub async fn set_store_mode(
        &self,
        id: Uuid,
        mode: RecordingPolicy,
    ) -> Result<RecordingPolicy, ApiError> {
        let body = StoreModeBody { store_mode: mode };
        let b: StoreModeBody = self
            .json(Method::PUT, &format!("/devices/{id}/store-mode"), &body)
            .await?;
        Ok(b.store_mode)
    }

    /// Ask the camera for a snapshot on its next heartbeat (owner); 409 when it is offline.
    pub async fn request_snapshot(&self, id: Uuid) -> Result<SnapshotRequestAccepted, ApiError> {
        let path = format!("/devices/{id}/snapshot-request");
        self.json(Method::POST, &path, &serde_json::json!({})).await
    }

    /// The device's recording keys this client can open, newest first (owner or the
    /// device): legacy keys as served, content keys unwrapped with the client's viewer key
    /// ([`ApiClient::with_viewer_keys`], [`ApiClient::open_keys`]).
    pub async fn recording_keys(&self, id: Uuid) -> Result<RecordingKeyList, ApiError> {
        self.open_keys(id, self.viewer_keys()).await
    }

    /// Claim the camera showing `code` (camera-first set-up).
    pub async fn claim(&self, code: &str, name: &str) -> Result<Device, ApiError> {
        let body = ClaimRequest {
            code: code.into(),
            name: name.into(),
        };
        self.json(Method::POST, "/devices/claim", &body).await
    }

    // ── live ──
    pub async fn ticket(
        &self,
        device: Uuid,
        ttl_secs: Option<u64>,
    ) -> Result<TicketResponse, ApiError> {
        let path = format!("/devices/{device}/tickets");
        self.json(Method::POST, &path, &TicketRequest { ttl_secs })
            .await
    }

    pub async fn ice_servers(&self, device: Uuid) -> Result<IceServersResponse, ApiError> {
        self.get(&format!("/devices/{device}/ice-servers")).await
    }

    // ── recordings and events ──
    pub async fn recordings(
        &self,
        channel: Uuid,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<RecordingList, ApiError> {
        self.get(&format!(
            "/channels/{channel}/recordings?start_ms={start_ms}&end_ms={end_ms}"
        ))
        .await
    }

    pub async fn events(
        &self,
        channel: Uuid,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<EventList, ApiError> {
        self.get(&format!(
            "/channels/{channel}/events?start_ms={start_ms}&end_ms={end_ms}"
        ))
        .await
    }

    // ── clips ──
    pub async fn create_clip(
        &self,
        channel: Uuid,
        req: &CreateClipRequest,
    ) -> Result<Clip, ApiError> {
        self.json(Method::POST, &format!("/channels/{channel}/clips"), req)
            .await
    }

    pub async fn clip(&self, id: Uuid) -> Result<Clip, ApiError> {
        self.get(&format!("/clips/{id}")).await
    }

    pub async fn clips(&self, device: Option<Uuid>) -> Result<ClipList, ApiError> {
        match device {
            Some(d) => self.get(&format!("/clips?device_id={d}")).await,
            None => self.get("/clips").await,
        }
    }

    pub async fn delete_clip(&self, id: Uuid) -> Result<(), ApiError> {
        self.empty(Method::DELETE, &format!("/clips/{id}")).await
    }

    /// Poll a clip until it leaves `in_progress` or `timeout` passes.
    pub async fn wait_clip(&self, id: Uuid, timeout: Duration) -> Result<Clip, ApiError> {
        let t0 = std::time::Instant::now();
        loop {
            let c = self.clip(id).await?;
            if c.status != ClipStatus::InProgress || t0.elapsed() >= timeout {
                return Ok(c);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // ── snapshots (the app keeps its own, the camera its; both read them) ──
    /// A slot for the snapshot `image`: where to PUT it (with the slot's signed headers,
    /// as [`ApiClient::put_presigned`] does), then [`ApiClient::confirm_snapshot`].
    pub async fn create_snapshot(
        &self,
        channel: Uuid,
        taken_at_ms: Option<i64>,
        image: &[u8],
    ) -> Result<SnapshotSlot, ApiError> {
        use sha2::Digest as _;
        let sha256 = sha2::Sha256::digest(image)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let body = CreateSnapshotRequest {
            taken_at_ms,
            size: Some(image.len() as u64),
            sha256: Some(sha256),
        };
        self.snapshot_slot(channel, &body).await
    }

    /// A slot for a snapshot described by `req` (size and SHA-256 required).
    pub async fn snapshot_slot(
        &self,
        channel: Uuid,
        req: &CreateSnapshotRequest,
    ) -> Result<SnapshotSlot, ApiError> {
        let path = format!("/channels/{channel}/snapshots");
        self.json(Method::POST, &path, req).await
    }

    /// The image is in the store: the snapshot is complete.
    pub async fn confirm_snapshot(&self, id: Uuid) -> Result<Snapshot, ApiError> {
        let path = format!("/snapshots/{id}/confirm");
        self.json(Method::POST, &path, &serde_json::json!({})).await
    }

    pub async fn snapshot(&self, id: Uuid) -> Result<Snapshot, ApiError> {
        self.get(&format!("/snapshots/{id}")).await
    }

    pub async fn snapshots(
        &self,
        channel: Uuid,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<SnapshotList, ApiError> {
        self.get(&format!(
            "/channels/{channel}/snapshots?start_ms={start_ms}&end_ms={end_ms}"
        ))
        .await
    }

    pub async fn delete_snapshot(&self, id: Uuid) -> Result<(), ApiError> {
        self.empty(Method::DELETE, &format!("/snapshots/{id}"))
            .await
    }
}
