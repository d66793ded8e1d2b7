//! End-to-end keys (`docs/keys.md`, `docs/api.md` §13): key sets, the pairing check,
//! content keys and installations. The user half is what an app installation calls with
//! its session token, the device half what the camera calls.

use eyrie_protocol::api::*;
use eyrie_protocol::e2e::viewer::ViewerKeys;
use eyrie_protocol::e2e::wrap;
use reqwest::Method;
use uuid::Uuid;

use crate::{ApiClient, ApiError};

impl ApiClient {
    // ── user ──

    /// The caller's key set statements above `since`, oldest first.
    pub async fn keyset(&self, since: u64) -> Result<KeySetList, ApiError> {
        self.get(&format!("/keyset?since={since}")).await
    }

    /// Post the next key set statement.
    pub async fn post_keyset(
        &self,
        statement: &KeySetStatement,
    ) -> Result<KeySetStatement, ApiError> {
        self.json(Method::POST, "/keyset", statement).await
    }

    /// Where `device`'s pairing check stands (owner or the device).
    pub async fn pairing_state(&self, device: Uuid) -> Result<PairingState, ApiError> {
        self.get(&format!("/devices/{device}/pairing")).await
    }

    /// The viewer's answer to the camera's hello (owner).
    pub async fn answer_pairing(
        &self,
        device: Uuid,
        answer: &ViewerAnswer,
    ) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/pairing/viewer");
        self.call(Method::PUT, &path, Some(answer), false)
            .await
            .map(drop)
    }

    /// More wraps of an existing content key (owner).
    pub async fn add_wraps(
        &self,
        device: Uuid,
        key_id: &str,
        wraps: Vec<WrappedKey>,
    ) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/content-keys/{key_id}/wraps");
        self.call(Method::POST, &path, Some(&AddWraps { wraps }), false)
            .await
            .map(drop)
    }

    /// Ask to be admitted as an installation of the signed-in user.
    pub async fn request_installation(
        &self,
        name: &str,
        public: &ViewerPublic,
    ) -> Result<Installation, ApiError> {
        let body = NewInstallation {
            name: name.into(),
            public: public.clone(),
        };
        self.json(Method::POST, "/installations", &body).await
    }

    /// Installations waiting to be admitted.
    pub async fn installations(&self) -> Result<InstallationList, ApiError> {
        self.get("/installations").await
    }

    /// Dismiss an installation request.
    pub async fn dismiss_installation(&self, id: &str) -> Result<(), ApiError> {
        self.empty(Method::DELETE, &format!("/installations/{id}"))
            .await
    }

    /// The device's recording keys as the cloud serves them to viewer key `viewer_key`
    /// (content keys wrapped to it; legacy keys in the clear), newest first.
    pub async fn wrapped_keys(
        &self,
        device: Uuid,
        viewer_key: Option<&str>,
    ) -> Result<RecordingKeyList, ApiError> {
        match viewer_key {
            Some(v) => {
                self.get(&format!("/devices/{device}/keys?viewer_key={v}"))
                    .await
            }
            None => self.get(&format!("/devices/{device}/keys")).await,
        }
    }

    /// The device's keys that `me` can open, newest first: legacy keys as served, content
    /// keys unwrapped into [`RecordingKey::key`] (in memory only). A content key not
    /// wrapped to `me` (made before this installation was admitted) keeps `key` empty.
    pub async fn open_keys(
        &self,
        device: Uuid,
        me: Option<&ViewerKeys>,
    ) -> Result<RecordingKeyList, ApiError> {
        let mut list = self.wrapped_keys(device, me.map(ViewerKeys::id)).await?;
        let device_id = device.to_string();
        for k in &mut list.keys {
            if let (Some(w), Some(me)) = (&k.wrapped, me) {
                match wrap::unwrap(w, me, &device_id, &k.key_id) {
                    Ok(key) => k.key = Some(key.to_base64url()),
                    Err(e) => tracing::warn!(key_id = %k.key_id, "content key does not open: {e}"),
                }
            }
        }
        Ok(list)
    }

    // ── device ──

    /// The owner's key set statements above `since` (the device).
    pub async fn device_keyset(&self, device: Uuid, since: u64) -> Result<KeySetList, ApiError> {
        self.get(&format!("/devices/{device}/keyset?since={since}"))
            .await
    }

    /// Start a pairing check (the device).
    pub async fn pairing_hello(&self, device: Uuid, hello: &CameraHello) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/pairing/camera");
        self.call(Method::PUT, &path, Some(hello), false)
            .await
            .map(drop)
    }

    /// Report the check's outcome (the device).
    pub async fn pairing_outcome(
        &self,
        device: Uuid,
        outcome: PairingOutcome,
    ) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/pairing/outcome");
        self.call(
            Method::PUT,
            &path,
            Some(&PairingOutcomeRequest { outcome }),
            false,
        )
        .await
        .map(drop)
    }

    /// Register a content key, wrapped to the current key set (the device).
    pub async fn post_content_key(
        &self,
        device: Uuid,
        key: &NewContentKey,
    ) -> Result<(), ApiError> {
        let path = format!("/devices/{device}/content-keys");
        self.call(Method::POST, &path, Some(key), false)
            .await
            .map(drop)
    }
}
