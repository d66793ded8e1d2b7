//! The live stream's link to the viewer engine of `eyrie_client`.
//!
//! This adapter is the only place that knows the engine's API. It turns the wishes of an
//! [`EyrieLiveStream`](super::stream::EyrieLiveStream) (start with this sink, mute, talk,
//! SD/HD, stop) into engine calls on the tokio runtime and the engine's progress into
//! [`LiveEvent`]s the stream understands. Failures are classified here into the cases a
//! person can act on ([`Failure`]).
//!
//! ```text
//!  EyrieLiveStream ──start_with(sink)──► tokio task: ticket ─► LiveViewer::connect
//!        ▲                                   │ webrtcbin ! … ! videoconvert ! sink
//!        └──── LiveEvent (async-channel) ◄───┘ ViewerEvent → Stage / Playing / Failed
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eyrie_client::live::{
    LiveViewer, Stage as ClientStage, ViewerConfig, ViewerError, ViewerEvent,
};
use eyrie_protocol::api::Device;
use eyrie_protocol::signalling::Stream;
use gstreamer::prelude::*;
use gtk::glib;

use super::{audio, tickets};

use crate::gui::cloud::Cloud;
use crate::gui::session::Session;
use crate::i18n::{gettext, gettext_f, ngettext_f};
use crate::spawn_tokio;

/// Receive jitter-buffer latency. It dominates the time to the first frame on a good
/// network (GStreamer's default is 200 ms); 50 ms still absorbs ordinary Wi-Fi jitter.
const LATENCY_MS: u32 = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    Sd,
    Hd,
}

/// Where a connection attempt is; the seed's wording is shown to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, glib::Enum)]
#[enum_type(name = "EyrieLiveStage")]
pub enum Stage {
    /// Asking the cloud for a ticket.
    Ticket,
    /// Signalling and DTLS: "Establishing an encrypted channel".
    EncryptedChannel,
    /// Connected, waiting for the first frame: "Retrieving video stream".
    VideoStream,
}

impl Stage {
    /// What the person reads while this stage lasts.
    pub fn text(self) -> String {
        match self {
            Self::Ticket => gettext("Asking the cloud for permission"),
            Self::EncryptedChannel => gettext("Establishing an encrypted channel"),
            Self::VideoStream => gettext("Retrieving video stream"),
        }
    }
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
        matches!(
            self,
            Self::Busy { .. } | Self::Offline | Self::Network(_) | Self::Ended | Self::Privacy
        )
    }

    /// Title, description and icon for the status page.
    pub fn explain(&self) -> (String, String, &'static str) {
        match self {
            Self::Busy { limit } => (
                gettext("Camera Busy"),
                match limit {
                    Some(n) => ngettext_f(
                        "The camera is already showing its video to {limit} viewer, its limit. Try again when they stop watching.",
                        "The camera is already showing its video to {limit} viewers, its limit. Try again when one of them stops watching.",
                        u64::from(*n),
                        &[("limit", &n.to_string())],
                    ),
                    None => gettext(
                        "The camera is showing its video to as many viewers as it can. Try again when one of them stops watching.",
                    ),
                },
                "system-users-symbolic",
            ),
            Self::AuthFailed => (
                gettext("Authentication Failed"),
                gettext(
                    "The camera did not accept this viewer. Sign out and in again, or pair the camera again.",
                ),
                "dialog-password-symbolic",
            ),
            Self::Offline => (
                gettext("Camera Offline"),
                gettext(
                    "The camera does not answer. Check that it is switched on and connected to the network.",
                ),
                "network-offline-symbolic",
            ),
            Self::Privacy => (
                gettext("Privacy Mode On"),
                gettext(
                    "The camera’s owner has paused it. Live video comes back when privacy mode is turned off.",
                ),
                "eye-not-looking-symbolic",
            ),
            Self::Network(detail) => (
                gettext("Connection Lost"),
                gettext_f(
                    "The connection to the camera failed ({detail}). Check your network.",
                    &[("detail", detail)],
                ),
                "network-error-symbolic",
            ),
            Self::Setup(detail) => (
                gettext("Cannot Show Video"),
                gettext_f(
                    "This computer is missing a part needed for live video: {detail}",
                    &[("detail", detail)],
                ),
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
    /// The signalling link to the broker dropped (`false`) or came back (`true`);
    /// media keeps flowing meanwhile.
    Signalling(bool),
    /// The network under the session changed (or its picture stopped): the engine
    /// renegotiates by itself, without a new ticket; `Playing` follows when frames flow
    /// again.
    Reconnecting,
    /// The way the media goes, once known and when it changes: `true` through a TURN
    /// relay ("Relayed"), `false` peer to peer ("Direct").
    Path {
        relayed: bool,
    },
    Failed(Failure),
}

enum Command {
    Mute(bool),
    Talk(bool),
    Quality(Quality),
}

/// Live sessions still closing (saying bye to the camera). The app waits for them when it
/// shuts down: a process that exits first leaves the camera's slot taken until its
/// heartbeat timeout (~30 s), and a camera serves only a few viewers.
static CLOSING: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// Block (at most `limit`) until every live session stopped so far has said bye. Called
/// once, from the application's shutdown.
pub fn wait_for_closing(limit: std::time::Duration) {
    let tasks = CLOSING
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default();
    let tasks: Vec<_> = tasks.into_iter().filter(|t| !t.is_finished()).collect();
    if tasks.is_empty() {
        return;
    }
    crate::runtime::RUNTIME.block_on(async move {
        if tokio::time::timeout(limit, futures::future::join_all(tasks))
            .await
            .is_err()
        {
            tracing::debug!("live sessions did not close before exit");
        }
    });
}

/// Controls one running attempt; [`LiveHandle::stop`] ends it (and says bye).
pub struct LiveHandle {
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    talking: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveHandle {
    pub fn stop(self) {
        // Dropping the command sender ends the task's loop, which closes the session.
        drop(self.commands);
        let task = self.task;
        let closing = spawn_tokio!(async move {
            if tokio::time::timeout(std::time::Duration::from_secs(2), task)
                .await
                .is_err()
            {
                tracing::debug!("live session did not close in time");
            }
        });
        if let Ok(mut all) = CLOSING.lock() {
            all.retain(|t| !t.is_finished());
            all.push(closing);
        }
    }

    pub fn set_muted(&self, muted: bool) {
        let _ = self.commands.send(Command::Mute(muted));
    }

    pub fn set_talking(&self, talking: bool) {
        self.talking.store(talking, Ordering::SeqCst);
        let _ = self.commands.send(Command::Talk(talking));
    }

    pub fn set_quality(&self, quality: Quality) {
        let _ = self.commands.send(Command::Quality(quality));
    }
}

fn classify(error: &ViewerError) -> Failure {
    match error {
        ViewerError::Busy { max } => Failure::Busy { limit: Some(*max) },
        ViewerError::AuthFailed(_) | ViewerError::ForgedAnswer => Failure::AuthFailed,
        ViewerError::Offline | ViewerError::Timeout => Failure::Offline,
        ViewerError::Privacy => Failure::Privacy,
        ViewerError::BadRequest(e) | ViewerError::Signalling(e) => Failure::Network(e.clone()),
        ViewerError::Media(e) => Failure::Setup(e.clone()),
    }
}

/// What an attempt carries besides video. The kiosk's grid tiles take neither the
/// camera's sound nor a microphone (four tiles would open four of each).
#[derive(Debug, Clone, Copy)]
pub struct Media {
    pub audio: bool,
    pub talk: bool,
    /// How long to wait for the camera's answer (`None`: the engine's default). The kiosk
    /// waits less, so that an offer sent while a camera restarts is repeated sooner.
    pub answer_timeout: Option<std::time::Duration>,
}

/// [`start`] with a choice of sound and talk.
pub fn start_with(
    session: &Session,
    device: &Device,
    quality: Quality,
    media: Media,
    sink: gstreamer::Element,
    events: async_channel::Sender<LiveEvent>,
) -> LiveHandle {
    let cloud = Cloud::new(&session.server, Some(&session.token));
    let server = session.server.clone();
    let device_id = device.id;
    let talking = Arc::new(AtomicBool::new(false));
    let (commands, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let talk_flag = talking.clone();
    let task = spawn_tokio!(async move {
        // The ticket round trip and the sound devices (opening them can take tens of
        // milliseconds) run side by side, neither on the main loop.
        let audio_events = events.clone();
        let sound = tokio::task::spawn_blocking(move || {
            let (audio_sink, volume) = if media.audio {
                audio::output()
            } else {
                (None, None)
            };
            let talk_source = if media.talk {
                audio::talk_source(talk_flag, audio_events)
            } else {
                None
            };
            (audio_sink, volume, talk_source)
        });
        let (ticket, sound) = tokio::join!(tickets::take(&cloud, &server, device_id), sound);
        let ticket = match ticket {
            Ok(t) => t,
            Err(e) => {
                let failure = if e.is_unauthorized() {
                    Failure::AuthFailed
                } else {
                    Failure::Network(e.to_string())
                };
                let _ = events.send(LiveEvent::Failed(failure)).await;
                return;
            }
        };
        let (audio_sink, volume, talk_source) = sound.unwrap_or((None, None, None));
        let mut config = ViewerConfig::new(ticket, sink);
        config.latency_ms = LATENCY_MS;
        if let Some(timeout) = media.answer_timeout {
            config.answer_timeout = timeout;
        }
        config.stream = stream_of(quality);
        config.audio_sink = audio_sink;
        config.talk_source = talk_source;
        // The broker is checked against the CA the cloud was trusted with.
        config.mqtt_ca = cloud.api().ca_pem().await.ok().flatten();
        // A restart after the ticket's TURN credentials expired gets fresh ones here.
        config.ice_servers_from = Some(cloud.api().clone());
        let (viewer, mut viewer_events) = match LiveViewer::connect(config) {
            Ok(v) => v,
            Err(e) => {
                let _ = events.send(LiveEvent::Failed(classify(&e))).await;
                return;
            }
        };
        loop {
            tokio::select! {
                command = rx.recv() => match command {
                    Some(Command::Mute(m)) => {
                        if let Some(v) = &volume {
                            v.set_property("mute", m);
                        }
                        viewer.set_audio(!m);
                    }
                    Some(Command::Talk(t)) => viewer.talk(t),
                    Some(Command::Quality(q)) => viewer.set_stream(stream_of(q)),
                    None => break,
                },
                event = viewer_events.recv() => {
                    let Some(event) = event else {
                        let _ = events.send(LiveEvent::Failed(Failure::Ended)).await;
                        break;
                    };
                    let out = match event {
                        ViewerEvent::Stage(ClientStage::EstablishingChannel) => Some(LiveEvent::Stage(Stage::EncryptedChannel)),
                        ViewerEvent::Stage(ClientStage::RetrievingStream) => Some(LiveEvent::Stage(Stage::VideoStream)),
                        ViewerEvent::Stage(ClientStage::Playing) | ViewerEvent::FirstFrame { .. } => Some(LiveEvent::Playing),
                        ViewerEvent::Error(e) => Some(LiveEvent::Failed(classify(&e))),
                        ViewerEvent::Ended { reason } if reason.contains("privacy") => Some(LiveEvent::Failed(Failure::Privacy)),
                        ViewerEvent::Ended { .. } => Some(LiveEvent::Failed(Failure::Ended)),
                        ViewerEvent::Reconnecting { .. } => Some(LiveEvent::Reconnecting),
                        ViewerEvent::SignallingLost => Some(LiveEvent::Signalling(false)),
                        ViewerEvent::SignallingRestored => Some(LiveEvent::Signalling(true)),
                        ViewerEvent::Path(path) => Some(LiveEvent::Path { relayed: path.relayed() }),
                        _ => None,
                    };
                    if let Some(out) = out {
                        let failed = matches!(out, LiveEvent::Failed(_));
                        let _ = events.send(out).await;
                        if failed {
                            break;
                        }
                    }
                }
            }
        }
        viewer.close().await;
    });
    LiveHandle {
        commands,
        talking,
        task,
    }
}

fn stream_of(quality: Quality) -> Stream {
    match quality {
        Quality::Sd => Stream::Sd,
        Quality::Hd => Stream::Hd,
    }
}
