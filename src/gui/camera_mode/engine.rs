//! The camera of camera mode, in this process.
//!
//! Camera mode runs exactly what `eyrie camera` runs — an `eyrie_camera::CameraNode`
//! (capture, live sessions, signalling, cloud storage) — on the shared tokio runtime, so
//! the window is one more front end of the same engine and not a second implementation.
//! The owner's switches (privacy, audio recording, record now) are the node's own
//! [`Command`]s, the very ones `eyrie camera privacy on` sends through the control socket,
//! and a refusal comes back as a typed `CommandError` whose words the window toasts.
//!
//! Set-up is camera-first pairing (`docs/api.md` §5): without stored credentials the
//! node's enrolment asks the cloud for a pairing code (`POST /api/v1/pairings`), the window
//! shows it, and the camera polls until somebody claims it in the app; the credentials are
//! then kept (mode 0600) in the camera's state directory, and the next start needs no code.
//!
//! ```text
//!  window ──Command──► task (tokio) ─► Enrolment::enrol ──code──► ModeEvent::Pairing
//!                          │           CameraNode::start ─► ModeEvent::Running(rings)
//!                          ├─ Command ─► CameraNode::execute ─► CommandError ─► ModeEvent::Refused
//!                          ├─ Home Assistant settings ─► CameraNode::start/stop_homeassistant
//!                          │     bridge state ─► ModeEvent::HomeAssistant
//!                          └─ every second: CameraNode::status ─► ModeEvent::Status
//! ```

use std::path::PathBuf;
use std::time::Duration;

use eyrie_camera::capture::{Rings, Source};
use eyrie_camera::homeassistant::{BridgeState, HomeAssistantSettings};
use eyrie_camera::live::{LiveEvent, Speaker};
pub use eyrie_camera::node::Command;
use eyrie_camera::node::{Enrolment, NodeStatus};
use eyrie_camera::{CameraEvent, CameraNode, NodeConfig};

use crate::spawn_tokio;

/// What the window hears from the camera.
#[derive(Debug)]
pub enum ModeEvent {
    /// Not paired yet: show this code; the camera waits for somebody to claim it.
    Pairing(String),
    /// Paired (or credentials were already there); the camera is starting.
    Paired {
        device_id: String,
    },
    /// Capture runs; the rings feed the local preview.
    Running(Rings),
    Status(NodeStatus),
    /// A command was refused: why, for a toast.
    Refused(String),
    /// The camera stopped for good (the message says why).
    Failed(String),
    /// The Home Assistant bridge's connection (`None`: no bridge runs).
    HomeAssistant(Option<BridgeState>),
}

/// Where and what to run.
#[derive(Debug, Clone)]
pub struct ModeConfig {
    pub cloud: String,
    pub state_dir: PathBuf,
    pub source: Source,
    /// Publish Home Assistant discovery from the start.
    pub homeassistant: Option<HomeAssistantSettings>,
}

/// The running camera; dropping it (or [`ModeHandle::stop`]) stops everything.
pub struct ModeHandle {
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    homeassistant: tokio::sync::mpsc::UnboundedSender<Option<HomeAssistantSettings>>,
    task: tokio::task::JoinHandle<()>,
}

impl ModeHandle {
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Publish to Home Assistant with these settings, or stop (`None`).
    pub fn set_homeassistant(&self, settings: Option<HomeAssistantSettings>) {
        let _ = self.homeassistant.send(settings);
    }

    /// Stop the camera in the node's order (live sessions end, the segment in progress is
    /// spooled, capture stops), waiting at most 6 s for it.
    pub fn stop(self) {
        drop(self.commands);
        let task = self.task;
        spawn_tokio!(async move {
            if tokio::time::timeout(Duration::from_secs(6), task)
                .await
                .is_err()
            {
                tracing::warn!("camera mode did not stop in time");
            }
        });
    }
}

/// Start: pair if needed, then run camera and storage until stopped.
pub fn start(config: ModeConfig, events: async_channel::Sender<ModeEvent>) -> ModeHandle {
    let (commands, rx) = tokio::sync::mpsc::unbounded_channel();
    let (homeassistant, ha_rx) = tokio::sync::mpsc::unbounded_channel();
    let task = spawn_tokio!(async move {
        if let Err(e) = run(config, &events, rx, ha_rx).await {
            tracing::warn!("camera mode stopped: {e:#}");
            let _ = events.send(ModeEvent::Failed(format!("{e:#}"))).await;
        }
    });
    ModeHandle {
        commands,
        homeassistant,
        task,
    }
}

/// The next state of the Home Assistant bridge; pending while none runs.
async fn bridge_changed(
    state: &mut Option<tokio::sync::watch::Receiver<BridgeState>>,
) -> Option<BridgeState> {
    let Some(rx) = state else {
        return std::future::pending().await;
    };
    match rx.changed().await {
        Ok(()) => Some(rx.borrow_and_update().clone()),
        Err(_) => {
            *state = None;
            None
        }
    }
}

async fn run(
    config: ModeConfig,
    events: &async_channel::Sender<ModeEvent>,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
    mut homeassistant: tokio::sync::mpsc::UnboundedReceiver<Option<HomeAssistantSettings>>,
) -> anyhow::Result<()> {
    let enrolment = Enrolment {
        cloud: config.cloud.clone(),
        state_dir: config.state_dir.clone(),
        activation_code: None,
        ca_file: None,
    };
    let code_events = events.clone();
    let pairing = enrolment.enrol(|c| {
        let _ = code_events.try_send(ModeEvent::Pairing(c.to_owned()));
    });
    // Closing the window while the code is shown ends the pairing too.
    let enrolled = tokio::select! {
        e = pairing => e?,
        () = async { while commands.recv().await.is_some() {} } => return Ok(()),
    };
    events
        .send(ModeEvent::Paired {
            device_id: enrolled.credentials.device_id.to_string(),
        })
        .await?;

    let mut node_config = NodeConfig::new(config.state_dir);
    node_config.capture.source = config.source.resolve();
    node_config.speaker = Speaker::Auto;
    let mut camera = CameraNode::start(node_config, enrolled)?;
    events
        .send(ModeEvent::Running(camera.rings().clone()))
        .await?;
    if let Some(settings) = config.homeassistant
        && let Err(e) = camera.start_homeassistant(settings).await
    {
        let _ = events.send(ModeEvent::Refused(e.to_string())).await;
    }
    let mut bridge = camera.homeassistant_state();
    if let Some(rx) = &bridge {
        let now = rx.borrow().clone();
        let _ = events.send(ModeEvent::HomeAssistant(Some(now))).await;
    }

    let mut camera_events = camera.events();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                if let Err(refused) = camera.execute(command).await {
                    let _ = events.send(ModeEvent::Refused(refused.to_string())).await;
                }
                let _ = events.send(ModeEvent::Status(camera.status().await)).await;
            }
            settings = homeassistant.recv() => {
                let Some(settings) = settings else { break };
                match settings {
                    Some(s) => {
                        if let Err(e) = camera.start_homeassistant(s).await {
                            let _ = events.send(ModeEvent::Refused(e.to_string())).await;
                        }
                    }
                    None => camera.stop_homeassistant().await,
                }
                bridge = camera.homeassistant_state();
                let now = bridge.as_ref().map(|rx| rx.borrow().clone());
                let _ = events.send(ModeEvent::HomeAssistant(now)).await;
            }
            state = bridge_changed(&mut bridge) => {
                let _ = events.send(ModeEvent::HomeAssistant(state)).await;
            }
            event = camera_events.recv() => match event {
                Ok(CameraEvent::Live(LiveEvent::Viewers(_))) => {
                    let _ = events.send(ModeEvent::Status(camera.status().await)).await;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
            _ = tick.tick() => {
                if events.send(ModeEvent::Status(camera.status().await)).await.is_err() {
                    break;
                }
            }
        }
    }
    camera.stop().await;
    Ok(())
}
