//! The camera of camera mode, in this process.
//!
//! Camera mode runs exactly what `eyrie camera` runs — `eyrie_camera::Camera` (capture,
//! rings, live sessions, signalling) and `eyrie_camera::storage::CloudStorage` (recorder,
//! spool, uploader) — on the shared tokio runtime, so the window is one more front end of
//! the same engine and not a second implementation. The owner's commands (privacy,
//! audio recording, record now) go through the storage's [`ControlTarget`], the very code
//! behind the camera's control socket, so the window and `eyrie camera privacy on` cannot
//! disagree about what a command means.
//!
//! Set-up is camera-first pairing (`docs/api.md` §5): without stored credentials the
//! camera asks the cloud for a pairing code (`POST /api/v1/pairings`), the window shows it,
//! and the camera polls until somebody claims it in the app; the credentials are then kept
//! (mode 0600) in the camera's state directory, and the next start needs no code.
//!
//! ```text
//!  window ──Command──► task (tokio) ─► setup::credentials ──code──► ModeEvent::Pairing
//!                          │           Camera::start ─► CloudStorage::init ─► ControlTarget
//!                          └─ every second: viewers, privacy, StorageStatus ─► ModeEvent::Status
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use eyrie_camera::capture::{CaptureConfig, Rings, Source};
use eyrie_camera::live::{LiveConfig, LiveEvent, Speaker};
use eyrie_camera::storage::control::{ControlCommand, ControlTarget, OnOff};
use eyrie_camera::storage::{CloudStorage, StorageConfig, StorageStatus, cloud};
use eyrie_camera::{Camera, CameraConfig, CameraEvent};

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
    Status(Status),
    /// A command's answer, for a toast, when it was refused.
    Refused(String),
    /// The camera stopped for good (the message says why).
    Failed(String),
}

/// A reading of the running camera.
#[derive(Debug, Clone)]
pub struct Status {
    pub viewers: usize,
    pub privacy: bool,
    /// `None` when cloud storage could not start (the message is in `storage_error`).
    pub storage: Option<StorageStatus>,
    pub storage_error: Option<String>,
}

#[derive(Debug)]
pub enum Command {
    Privacy(bool),
    RecordAudio(bool),
    /// A manual event of this many seconds.
    RecordNow(f64),
}

/// Where and what to run.
#[derive(Debug, Clone)]
pub struct ModeConfig {
    pub cloud: String,
    pub state_dir: PathBuf,
    pub source: Source,
}

/// The running camera; dropping it (or [`ModeHandle::stop`]) stops everything.
pub struct ModeHandle {
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl ModeHandle {
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Stop the camera: storage flushes what it can (≤ 3 s), the camera says offline.
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
    let task = spawn_tokio!(async move {
        if let Err(e) = run(config, &events, rx).await {
            tracing::warn!("camera mode stopped: {e:#}");
            let _ = events.send(ModeEvent::Failed(format!("{e:#}"))).await;
        }
    });
    ModeHandle { commands, task }
}

async fn run(
    config: ModeConfig,
    events: &async_channel::Sender<ModeEvent>,
    mut commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
) -> anyhow::Result<()> {
    let code_events = events.clone();
    let pairing = eyrie_camera::setup::credentials(&config.cloud, &config.state_dir, None, |c| {
        let _ = code_events.try_send(ModeEvent::Pairing(c.to_owned()));
    });
    // Closing the window while the code is shown ends the pairing too.
    let (creds, cloud_ca) = tokio::select! {
        c = pairing => c?,
        () = async { while commands.recv().await.is_some() {} } => return Ok(()),
    };
    let device_id = creds.device_id.to_string();
    events
        .send(ModeEvent::Paired {
            device_id: device_id.clone(),
        })
        .await?;

    let mut live = LiveConfig::new(device_id, creds.secret_bytes().to_vec());
    live.mqtt_ca = cloud_ca.clone();
    live.speaker = if std::path::Path::new("/dev/snd").exists() {
        Speaker::Auto
    } else {
        Speaker::None
    };
    let camera = Camera::start(CameraConfig {
        capture: CaptureConfig {
            source: config.source.clone().resolve(),
            ..Default::default()
        },
        live,
        mqtt: creds.mqtt.clone(),
    })?;
    events
        .send(ModeEvent::Running(camera.rings().clone()))
        .await?;

    let storage = (|| {
        let scfg = StorageConfig::from_credentials(&creds, config.state_dir.join("spool"))?;
        let http = cloud::http_client(&cloud::TlsOptions {
            ca_pem: cloud_ca,
            ..Default::default()
        })?;
        let link: eyrie_protocol::trust::CloudLink = config.cloud.parse()?;
        let client =
            cloud::CloudClient::new(http, link.base(), &creds.device_token, creds.device_id)?;
        anyhow::Ok(Arc::new(CloudStorage::init(scfg, camera.rings(), client)?))
    })();
    let (target, storage_error) = match storage {
        Ok(storage) => {
            let privacy = camera.privacy();
            let target = Arc::new(ControlTarget {
                storage,
                privacy: Box::new(move |on| privacy.set(on)),
            });
            (Some(target), None)
        }
        Err(e) => {
            tracing::warn!("camera mode: cloud storage is off: {e:#}");
            (None, Some(format!("{e:#}")))
        }
    };

    let mut camera_events = camera.events();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let status = |camera: &eyrie_camera::CameraHandle| Status {
        viewers: camera.live().session_count(),
        privacy: camera.privacy().is_on(),
        storage: target.as_ref().map(|t| t.storage.status()),
        storage_error: storage_error.clone(),
    };
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                let answer = execute(&camera, target.as_ref(), command).await;
                if let Some(refused) = answer.strip_prefix("error ") {
                    let _ = events.send(ModeEvent::Refused(refused.to_owned())).await;
                }
                let _ = events.send(ModeEvent::Status(status(&camera))).await;
            }
            event = camera_events.recv() => match event {
                Ok(CameraEvent::Live(LiveEvent::Viewers(_))) => {
                    let _ = events.send(ModeEvent::Status(status(&camera))).await;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
            _ = tick.tick() => {
                if events.send(ModeEvent::Status(status(&camera))).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Some(target) = target
        && let Ok(target) = Arc::try_unwrap(target)
        && let Ok(storage) = Arc::try_unwrap(target.storage)
    {
        let _ = tokio::time::timeout(Duration::from_secs(3), storage.uninit()).await;
    }
    camera.stop().await;
    Ok(())
}

async fn execute(
    camera: &eyrie_camera::CameraHandle,
    target: Option<&Arc<ControlTarget>>,
    command: Command,
) -> String {
    let on_off = |on: bool| if on { OnOff::On } else { OnOff::Off };
    let Some(target) = target else {
        // Without storage, privacy still blanks the picture and mutes the microphone.
        return match command {
            Command::Privacy(on) => {
                camera.privacy().set(on);
                "ok".into()
            }
            _ => "error cloud recording is not running".into(),
        };
    };
    let command = match command {
        Command::Privacy(on) => ControlCommand::Privacy { state: on_off(on) },
        Command::RecordAudio(on) => ControlCommand::Audio { state: on_off(on) },
        Command::RecordNow(secs) => ControlCommand::RecordNow { secs },
    };
    target.execute(command).await
}
