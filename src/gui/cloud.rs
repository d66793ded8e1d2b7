//! The app's handle on the cloud's REST API (`docs/api.md`).
//!
//! A `Cloud` is cheap to clone and is moved into futures that run on the shared tokio
//! runtime; it never touches widgets. The requests themselves are
//! `eyrie_client::api::ApiClient`'s (one implementation of the REST API for the app, the
//! camera and the tests); this module adds what only the app needs: one pooled HTTP client
//! per cloud for the whole process (a new `reqwest::Client` loads the CA roots and opens
//! new connections, tens of milliseconds on the path of the first live frame), a few
//! conveniences over the raw calls, and [`CloudError`], which knows how to say what went
//! wrong in words a person understands ([`CloudError::user_message`]).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use eyrie_client::api::{ApiClient, ApiError};
use eyrie_client::snapshot::{SnapshotError, SnapshotOpener};
use eyrie_protocol::api::{
    Device, ErrorCode, Event, LoginResponse, Snapshot, TicketResponse, User,
};
use eyrie_protocol::clock::unix_ms;
use eyrie_protocol::trust::TrustError;
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
    /// A plain `http://` address that is not on this machine: refused before sending.
    #[error("not encrypted: {0}")]
    NotEncrypted(String),
    /// The cloud's CA is not the one the link pins.
    #[error("not the cloud of the link: {0}")]
    WrongCloud(String),
    /// The cloud's certificate is not one this app trusts (no pin, or no CA to check).
    #[error("the cloud is not trusted: {0}")]
    Untrusted(String),
    /// Sealed under a key this installation cannot open (made before it was allowed to
    /// read recordings), or altered.
    #[error("cannot be opened on this computer")]
    Locked,
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
            Self::NotEncrypted(_) => gettext(
                "This address is not encrypted. Use the https:// cloud link that “eyrie cloud” printed; it ends in #ca=sha256:…",
            ),
            Self::WrongCloud(_) => gettext(
                "The cloud at this address is not the one the link is for. Check the link, or ask whoever runs the cloud for it again.",
            ),
            Self::Untrusted(_) => gettext(
                "The cloud’s certificate is not trusted. Paste the cloud link that “eyrie cloud” printed; it ends in #ca=sha256:…",
            ),
            Self::Locked => gettext(
                "This cannot be opened on this computer: it was recorded before this computer was allowed to read recordings (allow it from another computer, or enter your recovery key), or it was altered.",
            ),
        }
    }
}

impl From<SnapshotError> for CloudError {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Api(e) => e.into(),
            SnapshotError::Undecryptable => Self::Locked,
            e => Self::Decode(e.to_string()),
        }
    }
}

impl From<ApiError> for CloudError {
    fn from(e: ApiError) -> Self {
        match e {
            e if e.is_certificate() => Self::Untrusted(e.to_string()),
            ApiError::Http(e) if e.is_decode() => Self::Decode(e.to_string()),
            ApiError::Trust(e @ TrustError::Plain { .. }) => Self::NotEncrypted(e.to_string()),
            ApiError::Trust(e @ TrustError::PinMismatch { .. }) => Self::WrongCloud(e.to_string()),
            ApiError::Trust(e) => Self::Untrusted(e.to_string()),
            ApiError::Http(e) => Self::Network(e.to_string()),
            ApiError::Status { status, body } => Self::Api {
                status,
                code: body.code,
                message: body.message,
            },
            ApiError::Store(status) => Self::Api {
                status,
                code: ErrorCode::Unknown,
                message: "the store refused the transfer".into(),
            },
            e @ (ApiError::CaFile { .. } | ApiError::File { .. }) => Self::Decode(e.to_string()),
        }
    }
}

#[derive(Clone)]
pub struct Cloud {
    api: ApiClient,
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

/// The process's client of the cloud at `base` (connections pooled across calls).
fn shared(base: &str) -> ApiClient {
    static CLIENTS: OnceLock<Mutex<HashMap<String, ApiClient>>> = OnceLock::new();
    let base = base.trim_end_matches('/');
    let mut clients = CLIENTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    clients
        .entry(base.to_owned())
        .or_insert_with(|| ApiClient::new(base))
        .clone()
}

impl Cloud {
    /// A client of the cloud at `base`; with a session `token` it also carries this
    /// installation's key for that cloud ([`super::keys::current_for`]), so the recording
    /// keys it fetches come unwrapped.
    pub fn new(base: &str, token: Option<&str>) -> Self {
        let api = shared(base);
        Self {
            api: match token {
                Some(t) => {
                    let api = api.with_token(t);
                    match super::keys::current_for(base) {
                        Some(keys) => api.with_viewer_keys(keys),
                        None => api,
                    }
                }
                None => api,
            },
        }
    }

    /// The underlying typed client, for calls this wrapper does not repeat.
    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    pub async fn register(&self, username: &str, password: &str) -> Result<User, CloudError> {
        Ok(self.api.register(username, password).await?)
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResponse, CloudError> {
        Ok(self.api.login(username, password).await?)
    }

    pub async fn devices(&self) -> Result<Vec<Device>, CloudError> {
        Ok(self.api.devices().await?.devices)
    }

    pub async fn claim(&self, code: &str, name: &str) -> Result<Device, CloudError> {
        Ok(self.api.claim(code, name).await?)
    }

    pub async fn rename(&self, id: Uuid, name: &str) -> Result<(), CloudError> {
        self.api.rename_device(id, name).await?;
        Ok(())
    }

    pub async fn remove(&self, id: Uuid) -> Result<(), CloudError> {
        Ok(self.api.delete_device(id).await?)
    }

    pub async fn ticket(&self, id: Uuid) -> Result<TicketResponse, CloudError> {
        Ok(self.api.ticket(id, None).await?)
    }

    /// Ask the camera for a fresh snapshot; returns when it was asked (unix ms).
    pub async fn request_snapshot(&self, device: Uuid) -> Result<i64, CloudError> {
        Ok(self.api.request_snapshot(device).await?.requested_at_ms)
    }

    /// Complete snapshots of the last week, newest first.
    pub async fn snapshots(&self, channel: Uuid) -> Result<Vec<Snapshot>, CloudError> {
        let end = unix_ms() + 60_000;
        let start = end - 7 * 24 * 3600 * 1000 + 120_000;
        Ok(self.api.snapshots(channel, start, end).await?.snapshots)
    }

    /// What opens `device`'s snapshots (its keys, fetched once).
    pub async fn snapshot_opener(&self, device: Uuid) -> Result<SnapshotOpener, CloudError> {
        Ok(SnapshotOpener::new(&self.api, device).await?)
    }

    /// Keep a snapshot in the cloud: ask for a slot, PUT the image to the store, confirm.
    pub async fn upload_snapshot(
        &self,
        channel: Uuid,
        png: Vec<u8>,
    ) -> Result<Snapshot, CloudError> {
        let slot = self
            .api
            .create_snapshot(channel, Some(unix_ms()), &png)
            .await?;
        self.api.put_presigned(&slot.upload, png).await?;
        Ok(self.api.confirm_snapshot(slot.snapshot.id).await?)
    }

    /// Events on a channel that started at or after `since_ms`.
    pub async fn events_since(
        &self,
        channel: Uuid,
        since_ms: i64,
    ) -> Result<Vec<Event>, CloudError> {
        let end = unix_ms() + 60_000;
        let list = self.api.events(channel, since_ms, end).await?;
        Ok(list
            .events
            .into_iter()
            .filter(|e| e.start_ms >= since_ms)
            .collect())
    }

    pub async fn delete_snapshot(&self, id: Uuid) -> Result<(), CloudError> {
        Ok(self.api.delete_snapshot(id).await?)
    }
}
