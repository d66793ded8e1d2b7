//! The live view's link to the viewer engine of `eyrie_client`.
//!
//! This adapter is the only place that knows the engine's API. It turns the widget's
//! wishes (start with this sink, mute, talk, SD/HD, stop) into engine calls on the tokio
//! runtime and the engine's progress into [`LiveEvent`]s the widget understands. Failures
//! are classified here into the cases a person can act on ([`Failure`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eyrie_protocol::api::Device;

use crate::gui::cloud::Cloud;
use crate::gui::session::Session;
use crate::i18n::{gettext, gettext_f};
use crate::spawn_tokio;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Sd,
    Hd,
}

/// Where a connection attempt is; the seed's wording is shown to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Asking the cloud for a ticket.
    Ticket,
    /// Signalling and DTLS: "Establishing an encrypted channel".
    EncryptedChannel,
    /// Connected, waiting for the first frame: "Retrieving video stream".
    VideoStream,
}

/// Why a live view stopped, in the cases a person can act on.
#[derive(Debug, Clone)]
pub enum Failure {
    /// The camera already serves its maximum number of viewers.
    Busy { limit: Option<u32> },
    /// The cloud or the camera refused our ticket.
    AuthFailed,
    /// The camera does not answer.
    Offline,
    /// The camera's owner paused it.
    Privacy,
    /// Network trouble between us, the cloud and the camera.
    Network(String),
    /// Something on this computer is missing (a GStreamer plugin…).
    Setup(String),
    /// The stream ended on the camera's side.
    Ended,
}

impl Failure {
    /// Whether waiting and trying again can help.
    pub fn retries_by_itself(&self) -> bool {
        matches!(self, Self::Busy { .. } | Self::Offline | Self::Network(_) | Self::Ended | Self::Privacy)
    }

    /// Title, description and icon for the status page.
    pub fn explain(&self) -> (String, String, &'static str) {
        match self {
            Self::Busy { limit } => (
                gettext("Camera Busy"),
                match limit {
                    Some(n) => gettext_f(
                        "The camera is already showing its video to {limit} viewers, its limit. Try again when one of them stops watching.",
                        &[("limit", &n.to_string())],
                    ),
                    None => gettext("The camera is showing its video to as many viewers as it can. Try again when one of them stops watching."),
                },
                "system-users-symbolic",
            ),
            Self::AuthFailed => (
                gettext("Authentication Failed"),
                gettext("The camera did not accept this viewer. Sign out and in again, or pair the camera again."),
                "dialog-password-symbolic",
            ),
            Self::Offline => (
                gettext("Camera Offline"),
                gettext("The camera does not answer. Check that it is switched on and connected to the network."),
                "network-offline-symbolic",
            ),
            Self::Privacy => (
                gettext("Privacy Mode On"),
                gettext("The camera’s owner has paused it. Live video comes back when privacy mode is turned off."),
                "eye-not-looking-symbolic",
            ),
            Self::Network(_) => (
                gettext("Connection Lost"),
                gettext("The connection to the camera failed. Check your network."),
                "network-error-symbolic",
            ),
            Self::Setup(detail) => (
                gettext("Cannot Show Video"),
                gettext_f("This computer is missing a part needed for live video: {detail}", &[("detail", detail)]),
                "dialog-warning-symbolic",
            ),
            Self::Ended => (
                gettext("Video Stopped"),
                gettext("The camera stopped sending video."),
                "camera-disabled-symbolic",
            ),
        }
    }
}

#[derive(Debug)]
pub enum LiveEvent {
    Stage(Stage),
    /// Frames reach the sink.
    Playing,
    /// Microphone level while talking, 0.0–1.0.
    MicLevel(f64),
    Failed(Failure),
}

/// Controls one running attempt; dropping it does not stop it, [`LiveHandle::stop`] does.
pub struct LiveHandle {
    stopped: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveHandle {
    pub fn stop(self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.task.abort();
    }

    pub fn set_muted(&self, _muted: bool) {}

    pub fn set_talking(&self, _talking: bool) {}
}

/// Start an attempt: ticket from the cloud, then the engine with `sink`.
pub fn start(
    session: &Session,
    device: &Device,
    _quality: Quality,
    _sink: gstreamer::Element,
    events: async_channel::Sender<LiveEvent>,
) -> LiveHandle {
    let cloud = Cloud::new(&session.server, Some(&session.token));
    let device_id = device.id;
    let online = device.online;
    let stopped = Arc::new(AtomicBool::new(false));
    let task = spawn_tokio!(async move {
        let _ = events.send(LiveEvent::Stage(Stage::Ticket)).await;
        let failure = match cloud.ticket(device_id).await {
            Err(e) if e.is_unauthorized() => Failure::AuthFailed,
            Err(e) => Failure::Network(e.to_string()),
            Ok(_ticket) if !online => Failure::Offline,
            Ok(_ticket) => Failure::Setup(gettext("the live engine is not part of this build yet")),
        };
        let _ = events.send(LiveEvent::Failed(failure)).await;
    });
    LiveHandle { stopped, task }
}
