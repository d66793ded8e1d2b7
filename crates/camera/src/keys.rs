//! The camera's end-to-end keys (`docs/keys.md`): it learns its owner's key set through
//! the pairing check, makes its content keys, wraps each to every key of the set, and
//! follows the set as installations come and go.
//!
//! ```text
//!  credentials ─► legacy key in them? ── yes ─► seal under it (format 1), nothing else
//!                        │ no
//!                 e2e-keys.json? ── yes ─► the key set it followed + its content key
//!                        │ no
//!                 pairing check with the 12-character code (pairing-code file)
//!                        ▼
//!                 pinned key set ─► content key ─► POST wrapped ─► KeyCell (format 2)
//!  every FOLLOW_EVERY: statements above our version ─► changed, or key a day old ─► rotate
//! ```
//!
//! A new content key is used only once the cloud has it (wrapped): segments under a key
//! nobody could unwrap would be lost. The state file holds the followed statement and the
//! current content key, mode 0600; the camera never holds an older content key.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use eyrie_api::ApiClient;
use eyrie_protocol::api::{DeviceCredentials, NewContentKey, PairingOutcome};
use eyrie_protocol::e2e::KeyError;
use eyrie_protocol::e2e::keyset::{KeySet, KeySetStatement};
use eyrie_protocol::e2e::pairing::CameraPairing;
use eyrie_protocol::e2e::wrap;
use eyrie_protocol::segment::{KeyId, SegmentKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::setup::{self, PAIRING_CODE_FILE, SetupError};
use crate::storage::sealing::{KeyCell, SealingKey};

/// Where the followed key set and the current content key are kept.
pub const STATE_FILE: &str = "e2e-keys.json";
/// How often the camera asks for newer key sets.
pub const FOLLOW_EVERY: Duration = Duration::from_secs(10);
/// A content key's longest life.
pub const ROTATE_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How often the pairing state is asked about while the check waits for the app.
const PAIRING_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("cloud: {0}")]
    Cloud(#[from] eyrie_api::ApiError),
    #[error("keys: {0}")]
    Key(#[from] KeyError),
    #[error(
        "this camera has no recording key and no pairing code: it was set up with an 8-character code; \
         remove it in the app and set it up again with the 12-character code"
    )]
    NoCode,
    #[error("stored keys in {0} are not valid")]
    BadState(PathBuf),
}

/// What the camera's window shows while the check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingProgress {
    /// Waiting for the app to answer.
    Waiting,
    /// An answer did not match the code: someone between the two, or a mistyped code.
    Refused,
    Verified,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    keyset: KeySetStatement,
    content: StoredContent,
}

#[derive(Clone, Serialize, Deserialize)]
struct StoredContent {
    key_id: String,
    key: String,
    created_ms: i64,
    keyset_version: u64,
}

/// The camera's sealing key and, for end-to-end keys, the task that keeps it current.
#[derive(Clone, Debug)]
pub struct CameraKeys {
    cell: KeyCell,
    keeper: Option<Arc<Keeper>>,
}

#[derive(Debug)]
struct Keeper {
    task: tokio::task::JoinHandle<()>,
    set: Arc<std::sync::Mutex<KeySet>>,
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CameraKeys {
    /// The key segments and snapshots are sealed under now.
    pub fn cell(&self) -> &KeyCell {
        &self.cell
    }

    /// The key set version the camera wraps to (None: a legacy key).
    pub fn keyset_version(&self) -> Option<u64> {
        self.keeper
            .as_ref()
            .map(|k| k.set.lock().unwrap_or_else(|e| e.into_inner()).version())
    }

    /// The keys of an enrolled camera: its legacy key, its stored end-to-end state, or a
    /// pairing check now (waits for the app; `progress` hears how it goes).
    pub async fn establish(
        creds: &DeviceCredentials,
        api: &ApiClient,
        state_dir: &Path,
        progress: impl Fn(PairingProgress),
    ) -> Result<Self, KeysError> {
        if let Some(legacy) = &creds.recording_key {
            let key = SegmentKey::from_base64url(legacy.key.as_deref().unwrap_or_default())
                .map_err(|_| KeyError::Malformed("legacy key"))?;
            let id = KeyId::from_hex(&legacy.key_id)
                .map_err(|_| KeyError::Malformed("legacy key id"))?;
            return Ok(Self {
                cell: KeyCell::new(SealingKey::legacy(key, id)),
                keeper: None,
            });
        }
        let device = creds.device_id;
        let path = state_dir.join(STATE_FILE);
        let (set, content) = match load(&path)? {
            Some(stored) => {
                let user = stored.keyset.read_body()?.user_id;
                (KeySet::pinned(stored.keyset, &user)?, Some(stored.content))
            }
            None => {
                let code = std::fs::read_to_string(state_dir.join(PAIRING_CODE_FILE))
                    .map_err(|_| KeysError::NoCode)?;
                let set = pair(api, device, code.trim(), &progress).await?;
                (set, None)
            }
        };
        let keeper = Rotation {
            api: api.clone(),
            device,
            state_dir: state_dir.to_owned(),
        };
        let (set, content) = match content {
            Some(c) => (set, c),
            None => {
                let c = keeper.new_content_key(&set).await?;
                keeper.save(&set, &c)?;
                let _ = std::fs::remove_file(state_dir.join(PAIRING_CODE_FILE));
                (set, c)
            }
        };
        let cell = KeyCell::new(sealing(&content)?);
        let set = Arc::new(std::sync::Mutex::new(set));
        let task = tokio::spawn(keeper.run(set.clone(), content, cell.clone()));
        Ok(Self {
            cell,
            keeper: Some(Arc::new(Keeper { task, set })),
        })
    }
}

fn load(path: &Path) -> Result<Option<Stored>, KeysError> {
    match std::fs::read(path) {
        Ok(raw) => serde_json::from_slice(&raw)
            .map(Some)
            .map_err(|_| KeysError::BadState(path.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(KeysError::BadState(path.to_owned())),
    }
}

fn sealing(c: &StoredContent) -> Result<SealingKey, KeysError> {
    let key = SegmentKey::from_base64url(&c.key).map_err(|_| KeyError::Malformed("content key"))?;
    let id = KeyId::from_hex(&c.key_id).map_err(|_| KeyError::Malformed("content key id"))?;
    Ok(SealingKey::content(key, id))
}

/// Run pairing attempts until one passes. A refused answer starts a new attempt, so the
/// person can try again from the app.
async fn pair(
    api: &ApiClient,
    device: Uuid,
    code: &str,
    progress: &impl Fn(PairingProgress),
) -> Result<KeySet, KeysError> {
    loop {
        let pairing = CameraPairing::start(code)?;
        retrying(|| api.pairing_hello(device, pairing.hello())).await?;
        progress(PairingProgress::Waiting);
        tracing::info!(%device, "pairing check: waiting for the app");
        let answer = loop {
            tokio::time::sleep(PAIRING_POLL).await;
            match api.pairing_state(device).await {
                Ok(st) => match st.viewer {
                    Some(a) if a.attempt == pairing.hello().attempt => break a,
                    _ => {}
                },
                Err(e) if e.is_retryable() => tracing::debug!(%e, "pairing state"),
                Err(e) => return Err(e.into()),
            }
        };
        let statements = retrying(|| api.device_keyset(device, 0)).await?.statements;
        let statement = statements.into_iter().find(|s| {
            s.read_body()
                .map(|b| b.version == answer.keyset_version)
                .unwrap_or(false)
        });
        let checked = statement.ok_or(KeyError::PairingMismatch).and_then(|s| {
            let user = s.read_body()?.user_id;
            pairing.finish(&answer, s, &device.to_string(), &user)
        });
        match checked {
            Ok(set) => {
                retrying(|| api.pairing_outcome(device, PairingOutcome::Verified)).await?;
                progress(PairingProgress::Verified);
                tracing::info!(%device, version = set.version(), keys = set.body.keys.len(), "pairing check passed");
                return Ok(set);
            }
            Err(e) => {
                tracing::error!(
                    %device,
                    "pairing check FAILED ({e}): the viewer keys the cloud relayed did not come from whoever \
                     typed this camera's code; nothing of them is kept, and nothing is recorded until a check passes"
                );
                retrying(|| api.pairing_outcome(device, PairingOutcome::Refused)).await?;
                progress(PairingProgress::Refused);
            }
        }
    }
}

/// Call `f` until it succeeds or fails for good (the cloud away for a while is waited for).
async fn retrying<T, F, Fut>(mut f: F) -> Result<T, eyrie_api::ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, eyrie_api::ApiError>>,
{
    let mut backoff = eyrie_api::Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        match f().await {
            Err(e) if e.is_retryable() => {
                tracing::warn!(%e, "cloud unavailable; trying again");
                tokio::time::sleep(backoff.next_delay()).await;
            }
            other => return other,
        }
    }
}

struct Rotation {
    api: ApiClient,
    device: Uuid,
    state_dir: PathBuf,
}

impl Rotation {
    /// Make a content key, wrap it to every key of `set` and register it.
    async fn new_content_key(&self, set: &KeySet) -> Result<StoredContent, KeysError> {
        let key = SegmentKey::generate();
        let key_id = KeyId(rand::random()).to_hex();
        let device = self.device.to_string();
        let wraps = set
            .body
            .keys
            .iter()
            .map(|m| wrap::wrap(&key, &m.public, &device, &key_id))
            .collect::<Result<Vec<_>, _>>()?;
        let created_ms = eyrie_protocol::clock::unix_ms();
        let body = NewContentKey {
            key_id: key_id.clone(),
            created_ms,
            keyset_version: set.version(),
            wraps,
        };
        retrying(|| self.api.post_content_key(self.device, &body)).await?;
        tracing::info!(device = %self.device, %key_id, version = set.version(), "new content key");
        Ok(StoredContent {
            key_id,
            key: key.to_base64url(),
            created_ms,
            keyset_version: set.version(),
        })
    }

    fn save(&self, set: &KeySet, c: &StoredContent) -> Result<(), KeysError> {
        let raw = serde_json::to_vec(&Stored {
            keyset: set.statement.clone(),
            content: c.clone(),
        })
        .map_err(SetupError::from)?;
        setup::write_private(&self.state_dir, STATE_FILE, &raw)?;
        Ok(())
    }

    /// Follow the key set; make a new content key when it changed or the key is old.
    async fn run(
        self,
        set: Arc<std::sync::Mutex<KeySet>>,
        mut content: StoredContent,
        cell: KeyCell,
    ) {
        loop {
            tokio::time::sleep(FOLLOW_EVERY).await;
            let current = set.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let followed = match self.api.device_keyset(self.device, current.version()).await {
                Ok(list) => match current.follow(&list.statements) {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::error!(device = %self.device, "the cloud served a key set nobody of ours signed ({e}); keeping version {}", current.version());
                        current.clone()
                    }
                },
                Err(e) => {
                    tracing::debug!(%e, "cannot ask for key sets");
                    continue;
                }
            };
            let age = eyrie_protocol::clock::unix_ms() - content.created_ms;
            let changed = followed.version() != content.keyset_version;
            if !changed && age < ROTATE_AFTER.as_millis() as i64 {
                continue;
            }
            match self.new_content_key(&followed).await {
                Ok(c) => match sealing(&c) {
                    Ok(k) => {
                        if let Err(e) = self.save(&followed, &c) {
                            tracing::warn!(%e, "cannot keep the new content key; using it anyway");
                        }
                        cell.set(k);
                        *set.lock().unwrap_or_else(|e| e.into_inner()) = followed;
                        content = c;
                    }
                    Err(e) => tracing::warn!(%e, "content key"),
                },
                Err(e) => {
                    tracing::warn!(%e, "cannot register a new content key; sealing under the current one");
                }
            }
        }
    }
}
