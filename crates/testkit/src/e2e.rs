//! The viewer's side of end-to-end keys for tests (`docs/keys.md`): a test account gets a
//! real viewer installation key and key set, answers cameras' pairing checks with the same
//! code the camera was given, and can play a camera's part for tests that upload
//! segments by hand. All of it goes through the documented REST calls
//! (`eyrie_api::keys`), nothing through the database.

use std::sync::Arc;
use std::time::Duration;

use eyrie_api::ApiClient;
use eyrie_api::keys::{E2eError, answer_pairing, viewer_keyset};
use eyrie_protocol::api::NewContentKey;
use eyrie_protocol::e2e::keyset::KeySet;
use eyrie_protocol::e2e::pairing;
use eyrie_protocol::e2e::viewer::{RecoveryKey, ViewerKeys};
use eyrie_protocol::e2e::wrap;
use eyrie_protocol::segment::{KeyId, SegmentKey};
use uuid::Uuid;

/// How long a test waits for a camera to answer its pairing check.
pub const PAIRING_TIMEOUT: Duration = Duration::from_secs(90);

/// A viewer installation of a test account.
#[derive(Clone)]
pub struct TestViewer {
    /// Signed in, opening content keys with [`Self::me`].
    pub api: ApiClient,
    pub user_id: String,
    pub me: Arc<ViewerKeys>,
    pub set: KeySet,
    /// Shown once when this installation made the account's first key set.
    pub recovery: Option<RecoveryKey>,
}

impl TestViewer {
    /// The account's first installation (makes the key set), or a later one (then it is
    /// not admitted: [`E2eError::NotAdmitted`]).
    pub async fn new(api: &ApiClient) -> Result<Self, E2eError> {
        let user_id = api.me().await?.id.to_string();
        let me = Arc::new(ViewerKeys::generate());
        let (set, recovery) = viewer_keyset(api, &user_id, &me, "Test viewer").await?;
        Ok(Self {
            api: api.with_viewer_keys(me.clone()),
            user_id,
            me,
            set,
            recovery,
        })
    }

    /// The 12-character code a camera shows or is given: `claim` plus a fresh check.
    pub fn code(claim: &str) -> String {
        pairing::display(claim, &pairing::new_check())
    }

    /// Answer `device`'s pairing check with `code` in the background (the camera is being
    /// started with the same code).
    pub fn pair_in_background(
        &self,
        device: Uuid,
        code: &str,
    ) -> tokio::task::JoinHandle<Result<(), E2eError>> {
        let (api, set, code) = (self.api.clone(), self.set.clone(), code.to_owned());
        tokio::spawn(
            async move { answer_pairing(&api, device, &code, &set, PAIRING_TIMEOUT).await },
        )
    }

    /// The code to give a camera set up with `activation_code`, with this installation
    /// answering its pairing check in the background (detached: the camera's start is what
    /// the test waits for).
    pub fn pairing_code_for(&self, device: Uuid, activation_code: &str) -> String {
        let code = Self::code(activation_code);
        drop(self.pair_in_background(device, &code));
        code
    }

    /// Play a camera's part for `device` (a test that uploads segments by hand): make a
    /// content key, register it wrapped to this account's key set with the device's token,
    /// and return it.
    pub async fn content_key_for(
        &self,
        device_api: &ApiClient,
        device: Uuid,
    ) -> Result<(KeyId, SegmentKey), E2eError> {
        let key = SegmentKey::generate();
        let key_id = KeyId(rand::random());
        let wraps = self
            .set
            .body
            .keys
            .iter()
            .map(|m| wrap::wrap(&key, &m.public, &device.to_string(), &key_id.to_hex()))
            .collect::<Result<Vec<_>, _>>()?;
        let body = NewContentKey {
            key_id: key_id.to_hex(),
            created_ms: eyrie_protocol::clock::unix_ms(),
            keyset_version: self.set.version(),
            wraps,
        };
        device_api.post_content_key(device, &body).await?;
        Ok((key_id, key))
    }
}
