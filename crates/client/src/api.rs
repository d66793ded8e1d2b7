//! Typed async client of the cloud REST API (`docs/api.md`), used by the app, the camera
//! and the tests. One method per endpoint, DTOs from `eyrie_protocol::api`; every non-2xx
//! answer becomes [`ApiError::Status`] carrying the server's [`ErrorBody`].
//!
//! The client holds one bearer token (a user session or a device token) and is cheap to
//! clone (reqwest pools connections). Presigned URLs are plain HTTP: [`ApiClient::put_presigned`]
//! and [`ApiClient::get_presigned`] send them without any `Authorization` header.
//!
//! The client is made from a cloud link (`https://host:8470#ca=sha256:…`, or a plain
//! `http://` URL on loopback). Before its first request it checks the plain rule and, for
//! a pinned link, fetches and checks the cloud's CA ([`eyrie_rtc::trust`]); from then on
//! every request — API and presigned URLs — trusts that CA and no other.

use std::sync::Arc;

use eyrie_protocol::api::*;
use eyrie_protocol::trust::{CloudLink, TrustError};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach the cloud: {0}")]
    Http(#[from] reqwest::Error),
    #[error("cloud answered {status}: {}", body.message)]
    Status { status: u16, body: ErrorBody },
    #[error("object store answered {0}")]
    Store(u16),
    #[error(transparent)]
    Trust(#[from] eyrie_protocol::trust::TrustError),
}

impl ApiError {
    /// The HTTP status for [`ApiError::Status`] / [`ApiError::Store`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } | ApiError::Store(status) => Some(*status),
            ApiError::Http(_) | ApiError::Trust(_) => None,
        }
    }

    /// The server's error code, if the server answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Status { body, .. } => Some(body.code),
            _ => None,
        }
    }
}

/// What `POST /api/v1/activate` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activation {
    /// Credentials (shown once).
    Ready(Box<DeviceCredentials>),
    /// Pairing not claimed yet; poll again.
    Pending(ActivationPending),
}

/// A client of one cloud, with one optional bearer token.
#[derive(Debug, Clone)]
pub struct ApiClient {
    trusted: Arc<tokio::sync::OnceCell<Trusted>>,
    link: Result<CloudLink, TrustError>,
    base: String,
    token: Option<String>,
}

/// The HTTP client once trust is settled, and the CA it trusts (for the broker too).
#[derive(Debug)]
struct Trusted {
    http: reqwest::Client,
    ca_pem: Option<Vec<u8>>,
}

impl ApiClient {
    /// `link` is the cloud link, e.g. `https://192.168.1.5:8470#ca=sha256:…` or
    /// `http://127.0.0.1:8470`. A bad link fails every call with [`ApiError::Trust`].
    pub fn new(link: impl Into<String>) -> Self {
        let text: String = link.into();
        let link = text.parse::<CloudLink>();
        let base = match &link {
            Ok(l) => l.base().to_owned(),
            Err(_) => text.trim_end_matches('/').to_owned(),
        };
        Self {
            trusted: Arc::default(),
            link,
            base,
            token: None,
        }
    }

    /// A client of `link` that trusts `ca_pem` (a CA checked earlier and kept, e.g. with
    /// the session) without asking the cloud for it again.
    pub fn with_ca(link: impl Into<String>, ca_pem: Option<Vec<u8>>) -> Self {
        let c = Self::new(link);
        if let Ok(http) = Self::build(ca_pem.as_deref()) {
            let _ = c.trusted.set(Trusted { http, ca_pem });
        }
        c
    }

    fn build(ca_pem: Option<&[u8]>) -> Result<reqwest::Client, ApiError> {
        Ok(eyrie_rtc::trust::http_builder(ca_pem)?
            .timeout(std::time::Duration::from_secs(30))
            .build()?)
    }

    async fn trusted(&self) -> Result<&Trusted, ApiError> {
        self.trusted
            .get_or_try_init(|| async {
                let link = self.link.clone()?;
                link.check()?;
                let ca_pem = eyrie_rtc::trust::fetch_ca(&link).await?;
                let http = Self::build(ca_pem.as_deref())?;
                Ok::<_, ApiError>(Trusted { http, ca_pem })
            })
            .await
    }

    async fn http(&self) -> Result<&reqwest::Client, ApiError> {
        Ok(&self.trusted().await?.http)
    }

    /// The CA this client trusts (PEM; None: the system's roots), settling trust first.
    /// The broker is checked against the same CA.
    pub async fn ca_pem(&self) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(self.trusted().await?.ca_pem.clone())
    }

    /// The same client acting with `token` (session or device token).
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `scheme://host:port` of the cloud (without the pin).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The cloud link (with its pin, if any).
    pub fn link(&self) -> String {
        match &self.link {
            Ok(l) => l.to_string(),
            Err(_) => self.base.clone(),
        }
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, ApiError> {
        let mut rb = self
            .http()
            .await?
            .request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t);
        }
        Ok(rb)
    }

    async fn check(resp: reqwest::Response) -> Result<reqwest::Response, ApiError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(ErrorBody {
            code: ErrorCode::Unknown,
            message: text.chars().take(200).collect(),
        });
        Err(ApiError::Status {
            status: status.as_u16(),
            body,
        })
    }

    async fn send<T: DeserializeOwned>(&self, rb: reqwest::RequestBuilder) -> Result<T, ApiError> {
        Ok(Self::check(rb.send().await?).await?.json().await?)
    }

    async fn json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send(self.request(method, path).await?.json(body))
            .await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send(self.request(Method::GET, path).await?).await
    }

    async fn empty(&self, method: Method, path: &str) -> Result<(), ApiError> {
        Self::check(self.request(method, path).await?.send().await?)
            .await
            .map(|_| ())
    }

    // ── ops ──
    pub async fn health(&self) -> Result<Health, ApiError> {
        self.get("/healthz").await
    }

    // ── accounts ──
    pub async fn register(&self, username: &str, password: &str) -> Result<User, ApiError> {
        let body = RegisterRequest {
            username: username.into(),
            password: password.into(),
        };
        self.json(Method::POST, "/api/v1/accounts", &body).await
    }

    /// Log in; use `with_token(resp.token)` afterwards.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResponse, ApiError> {
        let body = LoginRequest {
            username: username.into(),
            password: password.into(),
        };
        self.json(Method::POST, "/api/v1/login", &body).await
    }

    pub async fn logout(&self) -> Result<(), ApiError> {
        self.empty(Method::POST, "/api/v1/logout").await
    }

    pub async fn me(&self) -> Result<User, ApiError> {
        self.get("/api/v1/me").await
    }

    // ── devices ──
    pub async fn create_device(&self, name: &str) -> Result<CreateDeviceResponse, ApiError> {
        self.json(
            Method::POST,
            "/api/v1/devices",
            &CreateDeviceRequest { name: name.into() },
        )
        .await
    }

    pub async fn devices(&self) -> Result<DeviceList, ApiError> {
        self.get("/api/v1/devices").await
    }

    pub async fn device(&self, id: Uuid) -> Result<Device, ApiError> {
        self.get(&format!("/api/v1/devices/{id}")).await
    }

    pub async fn rename_device(&self, id: Uuid, name: &str) -> Result<Device, ApiError> {
        let body = RenameDeviceRequest { name: name.into() };
        self.json(Method::PATCH, &format!("/api/v1/devices/{id}"), &body)
            .await
    }

    pub async fn delete_device(&self, id: Uuid) -> Result<(), ApiError> {
        self.empty(Method::DELETE, &format!("/api/v1/devices/{id}"))
            .await
    }

    pub async fn store_mode(&self, id: Uuid) -> Result<StoreMode, ApiError> {
        let b: StoreModeBody = self
            .get(&format!("/api/v1/devices/{id}/store-mode"))
            .await?;
        Ok(b.store_mode)
    }

    pub async fn set_store_mode(&self, id: Uuid, mode: StoreMode) -> Result<StoreMode, ApiError> {
        let b: StoreModeBody = self
            .json(
                Method::PUT,
                &format!("/api/v1/devices/{id}/store-mode"),
                &StoreModeBody { store_mode: mode },
            )
            .await?;
        Ok(b.store_mode)
    }

    /// Device only.
    pub async fn heartbeat(
        &self,
        id: Uuid,
        req: &HeartbeatRequest,
    ) -> Result<HeartbeatResponse, ApiError> {
        self.json(
            Method::POST,
            &format!("/api/v1/devices/{id}/heartbeat"),
            req,
        )
        .await
    }

    /// Ask the camera for a snapshot on its next heartbeat (owner); 409 when it is offline.
    pub async fn request_snapshot(&self, id: Uuid) -> Result<SnapshotRequestAccepted, ApiError> {
        self.json(
            Method::POST,
            &format!("/api/v1/devices/{id}/snapshot-request"),
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn recording_keys(&self, id: Uuid) -> Result<RecordingKeyList, ApiError> {
        self.get(&format!("/api/v1/devices/{id}/keys")).await
    }

    // ── set-up ──
    /// Camera-first: start a pairing (no auth).
    pub async fn pairing(&self, name_hint: Option<&str>) -> Result<PairingResponse, ApiError> {
        let body = PairingRequest {
            name_hint: name_hint.map(Into::into),
        };
        self.json(Method::POST, "/api/v1/pairings", &body).await
    }

    /// User: claim the camera showing `code`.
    pub async fn claim(&self, code: &str, name: &str) -> Result<Device, ApiError> {
        let body = ClaimRequest {
            code: code.into(),
            name: name.into(),
        };
        self.json(Method::POST, "/api/v1/devices/claim", &body)
            .await
    }

    /// Camera: activate with a code or a pairing token.
    pub async fn activate(&self, req: &ActivateRequest) -> Result<Activation, ApiError> {
        let resp = Self::check(
            self.request(Method::POST, "/api/v1/activate")
                .await?
                .json(req)
                .send()
                .await?,
        )
        .await?;
        if resp.status() == StatusCode::ACCEPTED {
            Ok(Activation::Pending(resp.json().await?))
        } else {
            Ok(Activation::Ready(Box::new(resp.json().await?)))
        }
    }

    // ── live ──
    pub async fn ticket(
        &self,
        device: Uuid,
        ttl_secs: Option<u64>,
    ) -> Result<TicketResponse, ApiError> {
        self.json(
            Method::POST,
            &format!("/api/v1/devices/{device}/tickets"),
            &TicketRequest { ttl_secs },
        )
        .await
    }

    pub async fn ice_servers(&self, device: Uuid) -> Result<IceServersResponse, ApiError> {
        self.get(&format!("/api/v1/devices/{device}/ice-servers"))
            .await
    }

    // ── recordings ──
    /// Device: ask for an upload slot.
    pub async fn upload_slot(
        &self,
        channel: Uuid,
        req: &UploadSlotRequest,
    ) -> Result<UploadSlot, ApiError> {
        self.json(
            Method::POST,
            &format!("/api/v1/channels/{channel}/recordings"),
            req,
        )
        .await
    }

    /// Device: the upload is done.
    pub async fn complete_recording(
        &self,
        id: Uuid,
        notice: &UploadNotice,
    ) -> Result<Recording, ApiError> {
        self.json(
            Method::POST,
            &format!("/api/v1/recordings/{id}/complete"),
            notice,
        )
        .await
    }

    pub async fn recordings(
        &self,
        channel: Uuid,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<RecordingList, ApiError> {
        self.get(&format!(
            "/api/v1/channels/{channel}/recordings?start_ms={start_ms}&end_ms={end_ms}"
        ))
        .await
    }

    // ── events ──
    pub async fn start_event(
        &self,
        channel: Uuid,
        kind: EventKind,
        start_ms: i64,
    ) -> Result<Event, ApiError> {
        self.json(
            Method::POST,
            &format!("/api/v1/channels/{channel}/events"),
            &EventStart { kind, start_ms },
        )
        .await
    }

    pub async fn end_event(&self, id: Uuid, end_ms: i64) -> Result<Event, ApiError> {
        self.json(
            Method::POST,
            &format!("/api/v1/events/{id}/end"),
            &EventEnd { end_ms },
        )
        .await
    }

    pub async fn events(
        &self,
        channel: Uuid,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<EventList, ApiError> {
        self.get(&format!(
            "/api/v1/channels/{channel}/events?start_ms={start_ms}&end_ms={end_ms}"
        ))
        .await
    }

    // ── clips ──
    pub async fn create_clip(
        &self,
        channel: Uuid,
        req: &CreateClipRequest,
    ) -> Result<Clip, ApiError> {
        self.json(
            Method::POST,
            &format!("/api/v1/channels/{channel}/clips"),
            req,
        )
        .await
    }

    pub async fn clip(&self, id: Uuid) -> Result<Clip, ApiError> {
        self.get(&format!("/api/v1/clips/{id}")).await
    }

    pub async fn clips(&self, device: Option<Uuid>) -> Result<ClipList, ApiError> {
        match device {
            Some(d) => self.get(&format!("/api/v1/clips?device_id={d}")).await,
            None => self.get("/api/v1/clips").await,
        }
    }

    pub async fn delete_clip(&self, id: Uuid) -> Result<(), ApiError> {
        self.empty(Method::DELETE, &format!("/api/v1/clips/{id}"))
            .await
    }

    /// Poll a clip until it leaves `in_progress` or `timeout` passes.
    pub async fn wait_clip(
        &self,
        id: Uuid,
        timeout: std::time::Duration,
    ) -> Result<Clip, ApiError> {
        let t0 = std::time::Instant::now();
        loop {
            let c = self.clip(id).await?;
            if c.status != ClipStatus::InProgress || t0.elapsed() >= timeout {
                return Ok(c);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    // ── snapshots ──
    pub async fn create_snapshot(
        &self,
        channel: Uuid,
        taken_at_ms: Option<i64>,
    ) -> Result<SnapshotSlot, ApiError> {
        self.json(
            Method::POST,
            &format!("/api/v1/channels/{channel}/snapshots"),
            &CreateSnapshotRequest { taken_at_ms },
        )
        .await
    }

    pub async fn confirm_snapshot(&self, id: Uuid) -> Result<Snapshot, ApiError> {
        self.send(
            self.request(Method::POST, &format!("/api/v1/snapshots/{id}/confirm"))
                .await?,
        )
        .await
    }

    pub async fn snapshot(&self, id: Uuid) -> Result<Snapshot, ApiError> {
        self.get(&format!("/api/v1/snapshots/{id}")).await
    }

    pub async fn snapshots(
        &self,
        channel: Uuid,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<SnapshotList, ApiError> {
        self.get(&format!(
            "/api/v1/channels/{channel}/snapshots?start_ms={start_ms}&end_ms={end_ms}"
        ))
        .await
    }

    pub async fn delete_snapshot(&self, id: Uuid) -> Result<(), ApiError> {
        self.empty(Method::DELETE, &format!("/api/v1/snapshots/{id}"))
            .await
    }

    // ── presigned URLs ──
    /// PUT `body` to a presigned URL (no Authorization header).
    pub async fn put_presigned(&self, url: &PresignedUrl, body: Vec<u8>) -> Result<(), ApiError> {
        let resp = self.http().await?.put(&url.url).body(body).send().await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(ApiError::Store(resp.status().as_u16()))
        }
    }

    /// GET a presigned URL's bytes.
    /// `len` bytes at `offset` of the object behind a presigned GET (an HTTP range
    /// request; a store that ignores the range still yields the right bytes).
    pub async fn get_presigned_range(
        &self,
        url: &PresignedUrl,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, ApiError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let resp = self
            .http()
            .await?
            .get(&url.url)
            .header(
                reqwest::header::RANGE,
                format!("bytes={offset}-{}", offset + len - 1),
            )
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ApiError::Store(status.as_u16()));
        }
        let body = resp.bytes().await?;
        if status == StatusCode::PARTIAL_CONTENT {
            return Ok(body.to_vec());
        }
        let (a, b) = (offset as usize, (offset + len) as usize);
        body.get(a..b)
            .map(<[u8]>::to_vec)
            .ok_or(ApiError::Store(416))
    }

    pub async fn get_presigned(&self, url: &PresignedUrl) -> Result<Vec<u8>, ApiError> {
        let resp = self.http().await?.get(&url.url).send().await?;
        if !resp.status().is_success() {
            return Err(ApiError::Store(resp.status().as_u16()));
        }
        Ok(resp.bytes().await?.to_vec())
    }
}
