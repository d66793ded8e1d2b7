//! [`NodeHandle`]: how a running node carries out commands.
//!
//! The handle holds what commands act on — the capture's privacy switch, the live
//! session table and cloud storage — and nothing that runs: the node itself keeps the
//! capture and the signalling link. Storage sits behind an async read-write lock: each
//! command holds a read guard for as long as it uses storage (a synchronous `event-stop`
//! up to 30 s, on a blocking thread), and [`CameraNode::stop`](super::CameraNode::stop)
//! takes the write side, so the segment in progress is flushed only once no command is
//! using storage any more, and no command can start after that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use super::command::{Command, CommandError, Reply, SnapshotOutcome};
use crate::capture::PrivacySwitch;
use crate::live::LiveManager;
use crate::storage::{CloudStorage, StorageStatus};

/// How long `Snapshot` waits for its upload before answering `Queued`.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(10);

/// A reading of the running camera.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeStatus {
    /// Live sessions open now.
    pub viewers: usize,
    pub privacy: bool,
    /// `None` when cloud storage is not running (the reason is in `storage_error`).
    pub storage: Option<StorageStatus>,
    pub storage_error: Option<String>,
}

struct Shared {
    storage: Arc<RwLock<Option<CloudStorage>>>,
    storage_error: Option<String>,
    privacy: PrivacySwitch,
    live: LiveManager,
    stopping: AtomicBool,
}

/// Carries out commands on a running node. Cheap to clone; every clone refuses commands
/// with [`CommandError::Stopping`] once the node stops.
#[derive(Clone)]
pub struct NodeHandle {
    shared: Arc<Shared>,
}

/// Storage, for as long as one command uses it.
type StorageGuard = OwnedRwLockReadGuard<Option<CloudStorage>, CloudStorage>;

impl NodeHandle {
    pub(super) fn new(
        storage: Option<CloudStorage>,
        storage_error: Option<String>,
        privacy: PrivacySwitch,
        live: LiveManager,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                storage: Arc::new(RwLock::new(storage)),
                storage_error,
                privacy,
                live,
                stopping: AtomicBool::new(false),
            }),
        }
    }

    /// From now on every command is refused.
    pub(super) fn refuse_commands(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
    }

    /// Wait until no command uses storage, and take it.
    pub(super) async fn take_storage(&self) -> Option<CloudStorage> {
        self.shared.storage.write().await.take()
    }

    fn accepting(&self) -> Result<(), CommandError> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            Err(CommandError::Stopping)
        } else {
            Ok(())
        }
    }

    /// Storage for one command.
    async fn storage(&self) -> Result<StorageGuard, CommandError> {
        self.accepting()?;
        let guard = self.shared.storage.clone().read_owned().await;
        OwnedRwLockReadGuard::try_map(guard, Option::as_ref).map_err(|_| {
            if self.shared.stopping.load(Ordering::SeqCst) {
                CommandError::Stopping
            } else {
                CommandError::StorageOff(self.shared.storage_error.clone())
            }
        })
    }

    /// What the camera is doing now.
    pub async fn status(&self) -> NodeStatus {
        let storage = self.shared.storage.read().await;
        NodeStatus {
            viewers: self.shared.live.session_count(),
            privacy: self.shared.privacy.is_on(),
            storage: storage.as_ref().map(CloudStorage::status),
            storage_error: self.shared.storage_error.clone(),
        }
    }

    /// Cloud storage's event starts and ends (motion among them); `None` when storage is
    /// not running.
    pub async fn storage_notices(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<crate::storage::recorder::Notice>> {
        self.shared
            .storage
            .read()
            .await
            .as_ref()
            .map(CloudStorage::notices)
    }

    /// Privacy mode: the capture's card and mute, the live side (sessions end with
    /// `error privacy`, offers refused), then recording's pause — or all three undone.
    pub async fn set_privacy(&self, on: bool) -> Result<(), CommandError> {
        self.accepting()?;
        self.shared.privacy.set(on);
        self.shared.live.set_privacy(on);
        let storage = self.shared.storage.read().await;
        match storage.as_ref() {
            Some(s) if on => s.pause()?,
            Some(s) => s.resume()?,
            None => {}
        }
        Ok(())
    }

    /// Carry out one command.
    pub async fn execute(&self, command: Command) -> Result<Reply, CommandError> {
        tracing::info!(?command, "camera command");
        if let Command::Privacy(on) = command {
            return self.set_privacy(on).await.map(|()| Reply::Done);
        }
        let st = self.storage().await?;
        match command {
            Command::Status => Ok(Reply::Status(st.status())),
            Command::StoreMode => Ok(Reply::StoreMode(st.store_mode())),
            Command::EventStart => done(st.event_start()),
            Command::EventStop { wait: false } => done(st.event_stop_async()),
            Command::EventStop { wait: true } => {
                blocking(st, |s| s.event_stop()).await??;
                Ok(Reply::Done)
            }
            Command::RecordNow(length) => {
                st.event_start()?;
                drop(st);
                let handle = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(length).await;
                    // Gone when the node stopped: stopping ends the event with the segment.
                    if let Ok(st) = handle.storage().await
                        && let Err(e) = st.event_stop_async()
                    {
                        tracing::warn!(%e, "record-now: could not stop the event");
                    }
                });
                Ok(Reply::Done)
            }
            Command::RecordAudio(on) => done(st.set_audio(on)),
            Command::PreRecord(d) => done(st.set_pre_record(d)),
            Command::Snapshot => self.snapshot(st).await,
            Command::Privacy(_) => unreachable!("handled above"),
        }
    }

    async fn snapshot(&self, st: StorageGuard) -> Result<Reply, CommandError> {
        // Listen before taking it, so a fast upload is not missed.
        let outcomes = st.upload_outcomes();
        let name = blocking(st, CloudStorage::snapshot).await??;
        let Some(mut outcomes) = outcomes else {
            return Ok(Reply::Snapshot(SnapshotOutcome::Queued));
        };
        let ended = async {
            loop {
                match outcomes.recv().await {
                    Ok((n, r)) if n == name => return Some(r),
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return None,
                }
            }
        };
        match tokio::time::timeout(SNAPSHOT_WAIT, ended).await {
            Ok(Some(Ok(()))) => Ok(Reply::Snapshot(SnapshotOutcome::Uploaded)),
            Ok(Some(Err(e))) => Err(CommandError::SnapshotDropped(e)),
            // Offline or slow: it stays spooled and goes up when it can.
            Ok(None) | Err(_) => Ok(Reply::Snapshot(SnapshotOutcome::Queued)),
        }
    }
}

fn done(r: Result<(), crate::storage::StorageError>) -> Result<Reply, CommandError> {
    r.map(|()| Reply::Done).map_err(CommandError::from)
}

/// Run a blocking storage call on a blocking thread, the read guard held until it ends.
async fn blocking<T: Send + 'static>(
    st: StorageGuard,
    f: impl FnOnce(&CloudStorage) -> T + Send + 'static,
) -> Result<T, CommandError> {
    tokio::task::spawn_blocking(move || f(&st))
        .await
        .map_err(|e| CommandError::Aborted(e.to_string()))
}
