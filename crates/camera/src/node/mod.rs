//! The camera node: one running camera, whoever runs it.
//!
//! `eyrie camera`, the app's camera-mode window and `eyrie demo` all run the same thing,
//! so it is built in one place. A [`CameraNode`] owns every part of a camera — capture
//! and its rings, the live sessions and their signalling link ([`crate::camera`]), cloud
//! storage ([`crate::storage`]) and, when asked for, the control socket
//! ([`crate::control`]) — and the front ends only configure it ([`NodeConfig`]), enrol it
//! ([`Enrolment`]), send it [`Command`]s and read [`Reply`]s, [`CommandError`]s, its
//! [`NodeStatus`] and its events.
//!
//! ```text
//!  Enrolment::enrol ─► Enrolled (credentials, CA, cloud client)
//!                          │
//!  NodeConfig ─► CameraNode::start
//!                 ├─ Camera: Capture ─► Rings ─► LiveManager ◄─► MQTT link
//!                 ├─ CloudStorage (reads the rings) ─► spool ─► uploads
//!                 └─ control socket ─ line ─► control::decode ─┐
//!  window / demo / run ── Command ──────────────────────────────┴─► NodeHandle::execute
//!                                                                   └─► Reply | CommandError
//! ```
//!
//! Privacy is one call, [`NodeHandle::set_privacy`], whoever asks: the capture shows the
//! card and mutes the microphone, the live side ends every session with `error privacy`
//! and refuses offers, and recording pauses — all three, in that order, before it
//! answers, so nothing private is encoded, sent or recorded after the answer.
//!
//! Stopping is one ordered call, [`CameraNode::stop`]: (1) stop accepting — commands are
//! refused from here on, Home Assistant hears `offline` and the control socket closes; (2) end the live sessions and say
//! `offline`; (3) flush storage — wait for any command still running, then finish the
//! segment in progress and spool it (it uploads on the next start), stop the uploads;
//! (4) stop capture. Storage is held behind a lock that commands read and `stop` takes
//! for writing, so nothing has to guess whether somebody still holds a reference.

mod command;
mod enrol;
mod handle;

pub use command::{
    Command, CommandError, MAX_PRE_RECORD, MAX_RECORD_NOW, Reply, SnapshotOutcome, seconds,
};
pub use enrol::{Enrolled, Enrolment};
pub use handle::{NodeHandle, NodeStatus};

use std::path::PathBuf;
use std::time::Duration;

use eyrie_protocol::api::RecordingPolicy;
use tokio::sync::{broadcast, watch};

use crate::camera::{Camera, CameraConfig, CameraError, CameraEvent, CameraHandle};
use crate::capture::{CaptureConfig, Rings};
use crate::homeassistant::{BridgeState, HomeAssistant, HomeAssistantError, HomeAssistantSettings};
use crate::live::{LiveConfig, Speaker};
use crate::storage::cli::StorageArgs;
use crate::storage::{CloudStorage, StorageConfig, StorageError};
use crate::{control, setup};

/// How to run a node (everything but who it is, which enrolment says).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where credentials, the cloud's CA, the spool and the control socket live.
    pub state_dir: PathBuf,
    pub capture: CaptureConfig,
    /// Most viewers at once; more get `busy`.
    pub max_sessions: usize,
    /// Silence from a viewer after which its session is closed.
    pub heartbeat_timeout: Duration,
    /// Where talk audio plays (`Auto` becomes `None` on a machine without a sound card).
    pub speaker: Speaker,
    /// Cloud storage's knobs, the same `eyrie camera` takes on its command line.
    pub storage: StorageArgs,
    /// Store mode until the cloud's first heartbeat answers; `None`: the credentials'.
    pub store_mode: Option<RecordingPolicy>,
    /// Refuse to start without cloud storage (`eyrie camera`); otherwise the node runs
    /// live only and says why in [`NodeStatus::storage_error`].
    pub storage_required: bool,
    /// Start in privacy mode.
    pub privacy: bool,
    /// Listen on `<state dir>/control.sock` for `eyrie camera <command>`.
    pub control_socket: bool,
    /// Publish Home Assistant MQTT discovery on the user's broker (`docs/home-assistant.md`).
    pub homeassistant: Option<HomeAssistantSettings>,
}

impl NodeConfig {
    /// Defaults: test pattern, 5 viewers, storage as `eyrie camera` defaults it, optional.
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            state_dir,
            capture: CaptureConfig::default(),
            max_sessions: 5,
            heartbeat_timeout: Duration::from_secs(
                eyrie_protocol::signalling::HEARTBEAT_TIMEOUT_SECS,
            ),
            speaker: Speaker::None,
            storage: StorageArgs::default(),
            store_mode: None,
            storage_required: false,
            privacy: false,
            control_socket: false,
            homeassistant: None,
        }
    }
}

/// Why a node could not enrol or start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    #[error(transparent)]
    Cloud(#[from] crate::storage::link::ApiError),
    #[error(transparent)]
    Camera(#[from] CameraError),
    #[error("cloud storage: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error(transparent)]
    Keys(#[from] crate::keys::KeysError),
    #[error(transparent)]
    HomeAssistant(#[from] HomeAssistantError),
}

/// A running camera. [`CameraNode::stop`] stops it in order; dropping it stops it too,
/// but without waiting for the segment in progress.
pub struct CameraNode {
    handle: NodeHandle,
    camera: Option<CameraHandle>,
    control: Option<(tokio::task::JoinHandle<()>, PathBuf)>,
    device_id: uuid::Uuid,
    /// `{cloud}/api/v1/devices/{id}/whep`: where a WHEP player (Home Assistant's) plays it.
    whep_url: String,
    homeassistant: Option<HomeAssistant>,
}

impl CameraNode {
    /// Start capture, live sessions, storage and (if configured) the control socket.
    /// Needs a tokio runtime.
    pub fn start(config: NodeConfig, enrolled: Enrolled) -> Result<Self, NodeError> {
        let creds = &enrolled.credentials;
        let mut live = LiveConfig::new(creds.device_id.to_string(), creds.secret_bytes().to_vec());
        live.max_sessions = config.max_sessions;
        live.heartbeat_timeout = config.heartbeat_timeout;
        live.speaker = match config.speaker.clone() {
            Speaker::Auto if !std::path::Path::new("/dev/snd").exists() => {
                tracing::warn!("no sound card: talk audio is decoded but not played");
                Speaker::None
            }
            s => s,
        };
        // The CA the cloud and the store are checked with also checks an `mqtts` broker
        // (a self-hosted cloud has one CA for all three).
        live.mqtt_ca = enrolled.ca_pem.clone();
        // STUN/TURN from the cloud, refreshed before the TURN credentials expire.
        let cloud = enrolled.cloud.clone();
        live.ice.follow(move || {
            let cloud = cloud.clone();
            async move { cloud.api().ice_servers(cloud.device_id()).await }
        });
        let camera = Camera::start(CameraConfig {
            capture: config.capture.clone(),
            live,
            mqtt: creds.mqtt.clone(),
        })?;
        // Private from the first frame: before storage, which starts paused.
        camera.privacy().set(config.privacy);
        camera.live().set_privacy(config.privacy);

        let (storage, storage_error) = match start_storage(&config, &enrolled, camera.rings()) {
            Ok(s) => (Some(s), None),
            Err(e) if config.storage_required => return Err(e.into()),
            Err(e) => {
                tracing::warn!("cloud storage is off: {e}");
                (None, Some(e.to_string()))
            }
        };
        let handle = NodeHandle::new(
            storage,
            storage_error,
            camera.privacy(),
            camera.live().clone(),
        );
        let control = if config.control_socket {
            let path = control::socket_path(&config.state_dir);
            Some((control::serve(&path, handle.clone())?, path))
        } else {
            None
        };
        let mut node = Self {
            handle,
            camera: Some(camera),
            control,
            device_id: creds.device_id,
            whep_url: enrolled
                .cloud
                .api()
                .url(&format!("/devices/{}/whep", creds.device_id)),
            homeassistant: None,
        };
        if let Some(settings) = config.homeassistant {
            node.spawn_homeassistant(settings)?;
        }
        Ok(node)
    }

    /// Publish Home Assistant discovery on `settings`' broker, in place of any bridge
    /// running already (which says `offline` and disconnects first, so that its last
    /// will cannot arrive after the new bridge's `online`). The broker being down or
    /// refusing the login is not an error: the bridge keeps trying and
    /// [`CameraNode::homeassistant_state`] says so.
    pub async fn start_homeassistant(
        &mut self,
        settings: HomeAssistantSettings,
    ) -> Result<(), HomeAssistantError> {
        self.stop_homeassistant().await;
        self.spawn_homeassistant(settings)
    }

    fn spawn_homeassistant(
        &mut self,
        settings: HomeAssistantSettings,
    ) -> Result<(), HomeAssistantError> {
        let identity = crate::homeassistant::Identity {
            device_id: self.device_id,
            name: settings.name.clone(),
            whep_url: self.whep_url.clone(),
            discovery_prefix: settings.discovery_prefix.clone(),
        };
        let bridge = HomeAssistant::start(
            settings,
            identity,
            self.handle.clone(),
            self.rings().clone(),
        )?;
        self.homeassistant = Some(bridge);
        Ok(())
    }

    /// Stop publishing to Home Assistant (it says `offline` first).
    pub async fn stop_homeassistant(&mut self) {
        if let Some(bridge) = self.homeassistant.take() {
            bridge.stop().await;
        }
    }

    /// The Home Assistant bridge's connection, while one runs.
    pub fn homeassistant_state(&self) -> Option<watch::Receiver<BridgeState>> {
        self.homeassistant.as_ref().map(HomeAssistant::state)
    }

    /// The URL a WHEP player opens this camera's live view with.
    pub fn whep_url(&self) -> &str {
        &self.whep_url
    }

    /// The device id the cloud gave this camera.
    pub fn device_id(&self) -> uuid::Uuid {
        self.device_id
    }

    /// A handle that carries out commands (cheap to clone; refused once stopping).
    pub fn handle(&self) -> &NodeHandle {
        &self.handle
    }

    /// Carry out one command.
    pub async fn execute(&self, command: Command) -> Result<Reply, CommandError> {
        self.handle.execute(command).await
    }

    /// Privacy mode on or off (capture, live sessions and recording together).
    pub async fn set_privacy(&self, on: bool) -> Result<(), CommandError> {
        self.handle.set_privacy(on).await
    }

    /// What the camera is doing now.
    pub async fn status(&self) -> NodeStatus {
        self.handle.status().await
    }

    /// Signalling up/down and live events.
    pub fn events(&self) -> broadcast::Receiver<CameraEvent> {
        self.camera().events()
    }

    /// The encoded streams (a local preview reads the sub ring).
    pub fn rings(&self) -> &Rings {
        self.camera().rings()
    }

    fn camera(&self) -> &CameraHandle {
        self.camera
            .as_ref()
            .expect("the camera is present until stop() consumes the node")
    }

    /// Stop in order: stop accepting, end live sessions, flush storage, stop capture.
    pub async fn stop(mut self) {
        self.handle.refuse_commands();
        self.stop_homeassistant().await;
        self.close_control().await;
        let camera = self.camera.take();
        if let Some(camera) = &camera {
            camera.end_live().await;
        }
        if let Some(storage) = self.handle.take_storage().await {
            storage.uninit().await;
        }
        drop(camera);
        tracing::info!(device = %self.device_id, "camera stopped");
    }

    async fn close_control(&mut self) {
        if let Some((task, path)) = self.control.take() {
            task.abort();
            let _ = task.await;
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for CameraNode {
    fn drop(&mut self) {
        self.handle.refuse_commands();
        if let Some((task, path)) = self.control.take() {
            task.abort();
            let _ = std::fs::remove_file(path);
        }
    }
}

fn start_storage(
    config: &NodeConfig,
    enrolled: &Enrolled,
    rings: &Rings,
) -> Result<CloudStorage, StorageError> {
    let creds = &enrolled.credentials;
    let defaults = StorageConfig::from_credentials(
        creds,
        config.state_dir.join("spool"),
        enrolled.keys.cell().clone(),
    )?;
    let mut scfg = config.storage.apply(defaults, &config.state_dir)?;
    scfg.fps = config.capture.fps.max(1);
    scfg.start_paused = config.privacy;
    if let Some(mode) = config.store_mode {
        scfg.initial_mode = mode;
    }
    CloudStorage::init(scfg, rings, enrolled.cloud.clone())
}
