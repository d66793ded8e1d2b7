//! The app's handle on the cloud's REST API (`docs/api.md`).
//!
//! A `Cloud` is cheap to clone and is moved into futures that run on the shared tokio
//! runtime; it never touches widgets. Errors come back as [`CloudError`], which knows how
//! to say what went wrong in words a person understands ([`CloudError::user_message`]).
//!
//! The requests are plain `reqwest` calls on the shared DTOs of `eyrie_protocol::api`.

use std::time::Duration;

use eyrie_protocol::api::{
    ClaimRequest, CreateSnapshotRequest, Device, DeviceList, ErrorBody, ErrorCode, Event,
    EventList, LoginRequest, LoginResponse, RegisterRequest, RenameDeviceRequest, Snapshot,
    SnapshotList, SnapshotSlot, TicketRequest, TicketResponse, User,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::i18n::{gettext, gettext_f};

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("the cloud answered {status}: {message}")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    #[error("cannot reach the cloud: {0}")]
    Network(String),
    #[error("unexpected answer from the cloud: {0}")]
    Decode(String),
}

impl CloudError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            Self::Api {
                code: ErrorCode::Unauthorized,
                ..
            }
        )
    }

    /// What to tell the person, translated.
    pub fn user_message(&self) -> String {
        match self {
            Self::Api {
                code: ErrorCode::Unauthorized,
                ..
            } => gettext("The user name or password is not right"),
            Self::Api {
                code: ErrorCode::Conflict,
                ..
            } => gettext("That already exists; try signing in instead"),
            Self::Api {
                code: ErrorCode::NotFound,
                ..
            } => gettext("Not found: the code may be wrong, or the camera was removed"),
            Self::Api {
                code: ErrorCode::Gone,
                ..
            } => gettext("That code has expired; ask the camera for a new one"),
            Self::Api {
                code: ErrorCode::TooManyRequests,
                ..
            } => gettext("Too many attempts; wait a minute and try again"),
            Self::Api {
                code: ErrorCode::BadRequest,
                message,
                ..
            } => gettext_f("The cloud refused this: {reason}", &[("reason", message)]),
            Self::Api {
                code: ErrorCode::Unavailable,
                ..
            } => gettext("The cloud is having trouble with its storage; try again later"),
            Self::Api { .. } | Self::Decode(_) => {
                gettext("The cloud had a problem; try again later")
            }
            Self::Network(_) => {
                gettext("Cannot reach the cloud; check the address and your network")
            }
        }
    }
}

impl From<reqwest::Error> for CloudError {
    fn from(e: reqwest::Error) -> Self {
        if e.is_decode() {
            Self::Decode(e.to_string())
        } else {
            Self::Network(e.to_string())
        }
    }
}

#[derive(Clone)]
pub struct Cloud {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

/// The device's main (HD) channel, where snapshots are kept.
pub fn main_channel(device: &Device) -> Option<Uuid> {
    use eyrie_protocol::api::ChannelKind;
    device
        .channels
        .iter()
        .find(|c| c.kind == ChannelKind::Main)
        .or_else(|| device.channels.first())
        .map(|c| c.id)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Cloud {
    pub fn new(base: &str, token: Option<&str>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.map(str::to_owned),
            http,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CloudError> {
        let resp = self.check(req).await?;
        let bytes = resp.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| CloudError::Decode(e.to_string()))
    }

    async fn check(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, CloudError> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = resp.bytes().await.unwrap_or_default();
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(b) => (b.code, b.message),
            Err(_) => (
                match status.as_u16() {
                    401 => ErrorCode::Unauthorized,
                    404 => ErrorCode::NotFound,
                    409 => ErrorCode::Conflict,
                    _ => ErrorCode::Unknown,
                },
                String::from_utf8_lossy(&bytes).into_owned(),
            ),
        };
        Err(CloudError::Api {
            status: status.as_u16(),
            code,
            message,
        })
    }

    fn post<B: Serialize>(&self, path: &str, body: &B) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).json(body)
    }

    pub async fn register(&self, username: &str, password: &str) -> Result<User, CloudError> {
        let body = RegisterRequest {
            username: username.into(),
            password: password.into(),
        };
        self.send(self.post("/accounts", &body)).await
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResponse, CloudError> {
        let body = LoginRequest {
            username: username.into(),
            password: password.into(),
        };
        self.send(self.post("/login", &body)).await
    }

    pub async fn devices(&self) -> Result<Vec<Device>, CloudError> {
        let list: DeviceList = self.send(self.http.get(self.url("/devices"))).await?;
        Ok(list.devices)
    }

    pub async fn claim(&self, code: &str, name: &str) -> Result<Device, CloudError> {
        let body = ClaimRequest {
            code: code.into(),
            name: name.into(),
        };
        self.send(self.post("/devices/claim", &body)).await
    }

    pub async fn rename(&self, id: Uuid, name: &str) -> Result<(), CloudError> {
        let body = RenameDeviceRequest { name: name.into() };
        self.check(
            self.http
                .patch(self.url(&format!("/devices/{id}")))
                .json(&body),
        )
        .await?;
        Ok(())
    }

    pub async fn remove(&self, id: Uuid) -> Result<(), CloudError> {
        self.check(self.http.delete(self.url(&format!("/devices/{id}"))))
            .await?;
        Ok(())
    }

    pub async fn ticket(&self, id: Uuid) -> Result<TicketResponse, CloudError> {
        self.send(self.post(
            &format!("/devices/{id}/tickets"),
            &TicketRequest { ttl_secs: None },
        ))
        .await
    }

    /// Complete snapshots of the last week, newest first.
    pub async fn snapshots(&self, channel: Uuid) -> Result<Vec<Snapshot>, CloudError> {
        let end = now_ms() + 60_000;
        let start = end - 7 * 24 * 3600 * 1000 + 120_000;
        let url = self.url(&format!(
            "/channels/{channel}/snapshots?start_ms={start}&end_ms={end}"
        ));
        let list: SnapshotList = self.send(self.http.get(url)).await?;
        Ok(list.snapshots)
    }

    /// The image bytes behind a snapshot's presigned GET.
    pub async fn download(&self, snapshot: &Snapshot) -> Result<Vec<u8>, CloudError> {
        let Some(get) = &snapshot.download else {
            return Err(CloudError::Decode("snapshot has no download URL".into()));
        };
        // Presigned: no Authorization header.
        let resp = self.http.get(&get.url).send().await?;
        if !resp.status().is_success() {
            return Err(CloudError::Api {
                status: resp.status().as_u16(),
                code: ErrorCode::Unknown,
                message: "store refused the download".into(),
            });
        }
        Ok(resp.bytes().await?.to_vec())
    }

    pub async fn latest_snapshot_image(
        &self,
        channel: Uuid,
    ) -> Result<Option<Vec<u8>>, CloudError> {
        let snaps = self.snapshots(channel).await?;
        match snaps.first() {
            Some(s) => Ok(Some(self.download(s).await?)),
            None => Ok(None),
        }
    }

    /// Keep a snapshot in the cloud: ask for a slot, PUT the image to the store, confirm.
    pub async fn upload_snapshot(
        &self,
        channel: Uuid,
        png: Vec<u8>,
    ) -> Result<Snapshot, CloudError> {
        let req = CreateSnapshotRequest {
            taken_at_ms: Some(now_ms()),
        };
        let slot: SnapshotSlot = self
            .send(self.post(&format!("/channels/{channel}/snapshots"), &req))
            .await?;
        let resp = self
            .http
            .put(&slot.upload.url)
            .header("content-type", "image/png")
            .body(png)
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(CloudError::Api {
                status: resp.status().as_u16(),
                code: ErrorCode::Unknown,
                message: "store refused the upload".into(),
            });
        }
        let id = slot.snapshot.id;
        self.send(
            self.http
                .post(self.url(&format!("/snapshots/{id}/confirm"))),
        )
        .await
    }

    /// Events on a channel that started at or after `since_ms`.
    pub async fn events_since(
        &self,
        channel: Uuid,
        since_ms: i64,
    ) -> Result<Vec<Event>, CloudError> {
        let end = now_ms() + 60_000;
        let url = self.url(&format!(
            "/channels/{channel}/events?start_ms={since_ms}&end_ms={end}"
        ));
        let list: EventList = self.send(self.http.get(url)).await?;
        Ok(list
            .events
            .into_iter()
            .filter(|e| e.start_ms >= since_ms)
            .collect())
    }

    pub async fn delete_snapshot(&self, id: Uuid) -> Result<(), CloudError> {
        self.check(self.http.delete(self.url(&format!("/snapshots/{id}"))))
            .await?;
        Ok(())
    }
}
