//! The device's side of the cloud API used by cloud storage.
//!
//! Thin typed calls over `reqwest` with the device token (`docs/api.md`): store mode,
//! upload slots and notices, events, snapshot slots, heartbeats. Every URL the camera
//! sends media or tokens to goes through [`check_url`] first: HTTPS is verified against
//! the system roots (or only the configured CA file), and plain HTTP is refused unless the
//! host is a loopback address — so a misconfigured or tampered presigned URL can never
//! make the camera upload in the clear. Redirects are not followed for the same reason.

use std::path::PathBuf;
use std::time::Duration;

use eyrie_protocol::api::{
    CreateSnapshotRequest, Event, EventEnd, EventKind, EventStart, HeartbeatRequest,
    HeartbeatResponse, Recording, SnapshotSlot, StoreMode, StoreModeBody, UploadNotice, UploadSlot,
    UploadSlotRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// How the camera checks servers.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Trust only the certificates in this PEM file instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Trust only this CA (PEM): the cloud's own, pinned by the cloud link; wins over
    /// `ca_file`.
    pub ca_pem: Option<Vec<u8>>,
}

impl TlsOptions {
    /// The CA to trust as PEM (`ca_pem`, else the file's contents), None: system roots.
    pub fn ca_pem_or_file(&self) -> Result<Option<Vec<u8>>, ApiError> {
        if let Some(pem) = &self.ca_pem {
            return Ok(Some(pem.clone()));
        }
        self.ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|e| ApiError::CaFile {
                    path: path.clone(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }
}

/// Why a cloud or store call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("refusing plain HTTP to {0}: only loopback hosts may be reached without TLS")]
    InsecureUrl(String),
    #[error("invalid URL {0:?}")]
    BadUrl(String),
    #[error("cannot read the CA file {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("cannot reach {0}")]
    Transport(String),
    #[error("{what} answered HTTP {status}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
    #[error("unexpected answer from {what}: {reason}")]
    Decode { what: &'static str, reason: String },
}

impl ApiError {
    /// Worth trying again later (network, server trouble, throttling, expired URLs).
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Transport(_) => true,
            ApiError::Status { status, .. } => {
                // 400/403 from a store: an expired presigned URL (Garage says 400, AWS 403);
                // 401/403 from the cloud: credentials may come back; 409: object missing.
                matches!(status, 400 | 401 | 403 | 408 | 409 | 425 | 429) || *status >= 500
            }
            _ => false,
        }
    }
}

/// Refuse any URL that would carry data in the clear to a non-loopback host (the rule of
/// [`eyrie_protocol::trust::check_plain`]).
pub fn check_url(raw: &str) -> Result<url::Url, ApiError> {
    let url = url::Url::parse(raw).map_err(|_| ApiError::BadUrl(raw.to_string()))?;
    match eyrie_protocol::trust::check_plain(raw) {
        Ok(()) => Ok(url),
        Err(eyrie_protocol::trust::TrustError::Plain { host, .. }) => {
            Err(ApiError::InsecureUrl(host))
        }
        Err(_) => Err(ApiError::BadUrl(raw.to_string())),
    }
}

/// The HTTP client for the cloud and the store.
pub fn http_client(tls: &TlsOptions) -> Result<reqwest::Client, ApiError> {
    let ca = tls.ca_pem_or_file()?;
    let ca_err = |reason: String| ApiError::CaFile {
        path: tls
            .ca_file
            .clone()
            .filter(|_| tls.ca_pem.is_none())
            .unwrap_or_else(|| PathBuf::from("(the cloud's CA)")),
        reason,
    };
    // http_builder parses the PEM and refuses one without a certificate.
    eyrie_rtc::trust::http_builder(ca.as_deref())
        .map_err(|e| ca_err(e.to_string()))?
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| ApiError::Transport(e.to_string()))
}

/// The device's cloud API client.
#[derive(Clone)]
pub struct CloudClient {
    http: reqwest::Client,
    base: url::Url,
    token: String,
    device_id: Uuid,
}

impl std::fmt::Debug for CloudClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudClient")
            .field("base", &self.base.as_str())
            .field("device", &self.device_id)
            .finish()
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl CloudClient {
    pub fn new(
        http: reqwest::Client,
        base: &str,
        token: &str,
        device_id: Uuid,
    ) -> Result<Self, ApiError> {
        let base = check_url(base.trim_end_matches('/'))?;
        Ok(Self {
            http,
            base,
            token: token.to_string(),
            device_id,
        })
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn device_id(&self) -> Uuid {
        self.device_id
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base.as_str().trim_end_matches('/'))
    }

    async fn call<R: DeserializeOwned>(
        &self,
        what: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<R, ApiError> {
        let resp = req
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| ApiError::Transport(format!("{what}: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(ApiError::Status {
                what,
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            });
        }
        resp.json::<R>().await.map_err(|e| ApiError::Decode {
            what,
            reason: e.to_string(),
        })
    }

    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        what: &'static str,
        path: &str,
        body: &B,
    ) -> Result<R, ApiError> {
        self.call(what, self.http.post(self.url(path)).json(body))
            .await
    }

    pub async fn store_mode(&self) -> Result<StoreMode, ApiError> {
        let path = format!("/devices/{}/store-mode", self.device_id);
        let b: StoreModeBody = self
            .call("store mode", self.http.get(self.url(&path)))
            .await?;
        Ok(b.store_mode)
    }

    pub async fn heartbeat(
        &self,
        queued: u64,
        dropped: u64,
    ) -> Result<HeartbeatResponse, ApiError> {
        let path = format!("/devices/{}/heartbeat", self.device_id);
        let body = HeartbeatRequest {
            queued_segments: Some(queued),
            dropped_segments: Some(dropped),
        };
        self.post("heartbeat", &path, &body).await
    }

    pub async fn upload_slot(
        &self,
        channel: Uuid,
        req: &UploadSlotRequest,
    ) -> Result<UploadSlot, ApiError> {
        self.post(
            "upload slot",
            &format!("/channels/{channel}/recordings"),
            req,
        )
        .await
    }

    pub async fn complete(
        &self,
        recording: Uuid,
        notice: &UploadNotice,
    ) -> Result<Recording, ApiError> {
        self.post(
            "upload notice",
            &format!("/recordings/{recording}/complete"),
            notice,
        )
        .await
    }

    pub async fn event_start(
        &self,
        channel: Uuid,
        kind: EventKind,
        start_ms: i64,
    ) -> Result<Event, ApiError> {
        self.post(
            "event start",
            &format!("/channels/{channel}/events"),
            &EventStart { kind, start_ms },
        )
        .await
    }

    pub async fn event_end(&self, event: Uuid, end_ms: i64) -> Result<Event, ApiError> {
        self.post(
            "event end",
            &format!("/events/{event}/end"),
            &EventEnd { end_ms },
        )
        .await
    }

    pub async fn snapshot_slot(
        &self,
        channel: Uuid,
        taken_at_ms: i64,
    ) -> Result<SnapshotSlot, ApiError> {
        let body = CreateSnapshotRequest {
            taken_at_ms: Some(taken_at_ms),
        };
        self.post(
            "snapshot slot",
            &format!("/channels/{channel}/snapshots"),
            &body,
        )
        .await
    }

    pub async fn snapshot_confirm(&self, snapshot: Uuid) -> Result<serde_json::Value, ApiError> {
        self.post(
            "snapshot confirm",
            &format!("/snapshots/{snapshot}/confirm"),
            &serde_json::json!({}),
        )
        .await
    }

    /// Now in unix ms (what the cloud's timestamps use).
    pub fn now_ms() -> i64 {
        unix_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check_url("http://127.0.0.1:9000/b/k?X-Amz=1").is_ok());
        assert!(check_url("http://localhost:9000/").is_ok());
        assert!(check_url("http://[::1]:9000/").is_ok());
        assert!(check_url("https://s3.example.com/b/k").is_ok());
        let err = check_url("http://s3.example.com/b/k").unwrap_err();
        assert!(matches!(err, ApiError::InsecureUrl(_)));
        assert!(err.to_string().contains("refusing plain HTTP"));
        assert!(matches!(
            check_url("http://10.0.0.1/"),
            Err(ApiError::InsecureUrl(_))
        ));
        assert!(matches!(
            check_url("ftp://127.0.0.1/"),
            Err(ApiError::BadUrl(_))
        ));
        assert!(matches!(check_url("not a url"), Err(ApiError::BadUrl(_))));
    }

    #[test]
    fn bad_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = http_client(&TlsOptions {
            ca_file: Some(path),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, ApiError::CaFile { .. }), "{err}");
        let err = http_client(&TlsOptions {
            ca_file: Some(dir.path().join("missing.pem")),
            ..Default::default()
        })
        .unwrap_err();
        assert!(matches!(err, ApiError::CaFile { .. }), "{err}");
    }
}
