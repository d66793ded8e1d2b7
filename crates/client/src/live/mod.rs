//! The viewer's live engine: one [`LiveViewer`] is one live session with one camera.
//!
//! Given a ticket from the cloud (`POST /api/v1/devices/{id}/tickets`), it connects to the
//! broker the ticket names, builds the receive pipeline ([`pipeline`]), sends an offer
//! carrying the ticket's claims and a proof of holding it, trickles ICE both ways, checks
//! the camera's answer proof (a forged answer is refused before it touches `webrtcbin`),
//! and hands decoded video to the sink the caller gave. Progress goes out as the seed's
//! stages — establishing the encrypted channel, retrieving the video stream, playing —
//! and failures as typed [`ViewerError`]s (busy, auth failed, offline, timeout, privacy
//! mode on, …), all on one channel of [`ViewerEvent`]s, so a GTK page only has to watch
//! that channel.
//!
//! Signalling is version 2 (`docs/signalling.md` §7): everything the viewer sends is
//! sealed by one `outbox::Outbox` with the session's key, and it takes only the camera's boxes
//! for its session (plus, before the answer, a clear `error auth_failed`).
//!
//! The MQTT link reconnects by itself (broker restarts); the media keeps flowing peer to
//! peer meanwhile, heartbeats resume on the new connection, and controls sent while the
//! broker was away are delivered when it is back.
//!
//! When the viewer's own network changes (an address it gathered on goes away), the
//! picture stops for 3 s, or a working connection fails, the session restarts ICE by
//! itself ([`restart`]): [`ViewerEvent::Reconnecting`], then a fresh peer connection in
//! the same signalling session under the same ticket, then [`Stage::Playing`] again.
//!
//! Nothing blocks the caller's thread: [`LiveViewer::connect`] returns once the pipeline
//! is built; everything else happens on the tokio runtime and GStreamer threads.

mod outbox;
mod path;
mod peer;
mod pipeline;
mod restart;
mod session;

pub use path::{CandidateType, IcePath};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use tokio::sync::mpsc;

use eyrie_protocol::api::TicketResponse;
use eyrie_protocol::signalling::{self, Control, Stream, ToCamera, topics};

use crate::mqtt_link::{self, LinkOptions};
use outbox::Outbox;
use restart::{IceSet, Recovery};
use session::{Internal, SessionTask, Timing};

/// The seed's stages, shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Signalling, ICE and DTLS: "Establishing encrypted channel".
    EstablishingChannel,
    /// Connected, waiting for the first picture: "Retrieving video stream".
    RetrievingStream,
    /// The first frame is decoded.
    Playing,
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewerError {
    #[error("the camera is busy: it already serves {max} viewers")]
    Busy { max: u32 },
    #[error("the camera refused the ticket: {0}")]
    AuthFailed(String),
    #[error("the camera is offline")]
    Offline,
    /// The owner paused the camera (privacy mode): no picture until it is turned off.
    /// Comes instead of an answer, or ends a session that was playing.
    #[error("privacy mode on")]
    Privacy,
    #[error("the camera did not answer in time")]
    Timeout,
    #[error("an answer that did not come from the camera was refused")]
    ForgedAnswer,
    #[error("the camera did not understand the request: {0}")]
    BadRequest(String),
    #[error("signalling: {0}")]
    Signalling(String),
    #[error("media: {0}")]
    Media(String),
}

/// What the session reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewerEvent {
    Stage(Stage),
    /// First decoded frame, with the time since the offer was sent.
    FirstFrame {
        since_offer: Duration,
    },
    /// The camera confirmed the session's state (after the offer or a control).
    State {
        stream: Stream,
        audio: bool,
        talk: bool,
    },
    /// The session lost its way to the camera (the network changed, the picture
    /// stopped, the connection failed) and renegotiates by itself, in the same session
    /// under the same ticket; `Stage(Playing)` follows once frames flow again, or an
    /// `Error` if they do not.
    Reconnecting {
        reason: String,
    },
    /// The broker connection dropped (media may still flow) / came back.
    SignallingLost,
    SignallingRestored,
    /// The way the media goes (the selected ICE pair): once connected, and again when
    /// it changes. [`IcePath::label`] is what the app shows ("Direct" / "Relayed").
    Path(IcePath),
    /// The session is over (bye from the camera, or [`LiveViewer::close`]).
    Ended {
        reason: String,
    },
    Error(ViewerError),
}

/// How to open a session.
pub struct ViewerConfig {
    pub ticket: TicketResponse,
    pub stream: Stream,
    /// Receives decoded video (an appsink in tests, gtk4paintablesink in the app).
    pub video_sink: gst::Element,
    /// Receives the camera's decoded audio; `None`: discarded.
    pub audio_sink: Option<gst::Element>,
    /// Microphone for talk (`None`: no talk track).
    pub talk_source: Option<gst::Element>,
    /// Receive jitter-buffer latency (ms).
    pub latency_ms: u32,
    /// How long to wait for the answer.
    pub answer_timeout: Duration,
    pub heartbeat_interval: Duration,
    /// CA certificates (PEM) to trust when the ticket's broker uses TLS; `None`: the
    /// system's bundle.
    pub mqtt_ca: Option<Vec<u8>>,
    /// The owner's API client: a restart after the ticket's TURN credentials expired
    /// gets fresh ones from it (`GET /api/v1/devices/{id}/ice-servers`) — not a new
    /// ticket. `None`: restarts keep the ticket's servers.
    pub ice_servers_from: Option<crate::api::ApiClient>,
}

impl ViewerConfig {
    pub fn new(ticket: TicketResponse, video_sink: gst::Element) -> Self {
        Self {
            ticket,
            stream: Stream::Sd,
            video_sink,
            audio_sink: None,
            talk_source: None,
            latency_ms: 50,
            answer_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(signalling::HEARTBEAT_INTERVAL_SECS),
            mqtt_ca: None,
            ice_servers_from: None,
        }
    }
}

/// One live session. Dropping it sends `bye` (best effort) and frees everything.
pub struct LiveViewer {
    session_id: String,
    outbox: Arc<Outbox>,
    pipeline: gst::Pipeline,
    talk_valve: Option<gst::Element>,
    talking: Arc<AtomicBool>,
    internal: mpsc::UnboundedSender<Internal>,
    task: tokio::task::JoinHandle<()>,
}

impl LiveViewer {
    /// Start a session. Needs a tokio runtime. Events arrive on the returned channel.
    pub fn connect(
        config: ViewerConfig,
    ) -> Result<(LiveViewer, mpsc::UnboundedReceiver<ViewerEvent>), ViewerError> {
        let ViewerConfig {
            ticket,
            stream,
            video_sink,
            audio_sink,
            talk_source,
            latency_ms,
            answer_timeout,
            heartbeat_interval,
            mqtt_ca,
            ice_servers_from,
        } = config;
        let (head, key) = signalling::split_ticket(&ticket.ticket)
            .ok_or_else(|| ViewerError::AuthFailed("the ticket is malformed".into()))?;
        let head = head.to_owned();
        let session_id = random_session_id();
        let me = ticket.mqtt.username.clone();
        let prefix = ticket.mqtt.topic_prefix.clone();
        let to_camera = topics::to_device(&prefix, &me);
        let ice = IceSet::new(&ticket.ice_servers);

        let (itx, irx) = mpsc::unbounded_channel::<Internal>();
        let ff = itx.clone();
        let built = pipeline::build(latency_ms, video_sink, audio_sink, talk_source, move || {
            let _ = ff.send(Internal::FirstFrame);
        })?;
        let webrtc = built.add_peer("webrtc0", ice.stun.as_deref(), &ice.turn)?;

        let link_options = LinkOptions {
            subscriptions: vec![topics::to_viewer(&prefix, &me), topics::status(&prefix)],
            tls_ca: mqtt_ca,
            ..Default::default()
        };
        let (link, link_rx) = mqtt_link::start(&ticket.mqtt, link_options.clone())
            .map_err(|e| ViewerError::Signalling(e.to_string()))?;
        let link = Arc::new(link);

        built
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| ViewerError::Media(format!("cannot start: {e}")))?;
        peer::start(&webrtc, 0, &itx);

        let (etx, erx) = mpsc::unbounded_channel();
        let _ = etx.send(ViewerEvent::Stage(Stage::EstablishingChannel));
        let outbox = Arc::new(Outbox::new(link, to_camera, &key, &session_id));
        let talking = Arc::new(AtomicBool::new(false));
        let pipeline = built.pipeline.clone();
        let talk_valve = built.talk_valve.clone();
        let recovery = Recovery::new(
            (ticket.mqtt.clone(), link_options),
            ice,
            ice_servers_from.map(|api| (api, ticket.device_id)),
            talking.clone(),
        );
        let task = tokio::spawn(
            SessionTask {
                sid: session_id.clone(),
                opener: signalling::Opener::new(&key, &session_id),
                key,
                head,
                outbox: outbox.clone(),
                built,
                webrtc,
                events: etx,
                stream,
                offer_fp: None,
                offer_sent: None,
                answered: false,
                pending: Vec::new(),
                camera_online: None,
                playing: false,
                connected: false,
                path: None,
                internal: itx.clone(),
                drops: Default::default(),
                recovery,
            }
            .run(
                irx,
                link_rx,
                Timing {
                    heartbeat_interval,
                    answer_timeout,
                },
            ),
        );
        Ok((
            LiveViewer {
                session_id,
                outbox,
                pipeline,
                talk_valve,
                talking,
                internal: itx,
                task,
            },
            erx,
        ))
    }

    /// This session's id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    fn control(&self, control: Control) {
        let msg = ToCamera::Control {
            session_id: self.session_id.clone(),
            control,
        };
        if let Err(e) = self.outbox.send(&msg) {
            tracing::warn!("control not sent: {e}");
        }
    }

    /// Switch SD/HD (at the camera's next keyframe).
    pub fn set_stream(&self, stream: Stream) {
        self.control(Control::SetStream { stream });
    }

    /// Receive the camera's audio or not.
    pub fn set_audio(&self, on: bool) {
        self.control(Control::Audio { on });
    }

    /// Start or stop talking (needs a talk source in the config).
    pub fn talk(&self, on: bool) {
        self.talking.store(on, Ordering::SeqCst);
        if let Some(v) = &self.talk_valve {
            v.set_property("drop", !on);
        }
        self.control(Control::Talk { on });
    }

    /// Restart ICE now, as after a change of network the engine noticed itself: for a
    /// caller that learns of one first (GLib's `GNetworkMonitor`, a resume from sleep).
    /// `ViewerEvent::Reconnecting`, then `Stage(Playing)`, follow; nothing happens before
    /// the camera's first answer or while a restart is under way.
    pub fn reconnect(&self, why: &str) {
        let _ = self.internal.send(Internal::Reconnect(why.to_owned()));
    }

    /// The receive pipeline (for a GTK page that wants its bus or clock).
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// Say bye and free everything.
    pub async fn close(self) {
        let bye = ToCamera::Bye {
            session_id: self.session_id.clone(),
            reason: "viewer closed".into(),
        };
        let _ = self.outbox.send(&bye);
        // Let the bye leave before the link goes.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for LiveViewer {
    fn drop(&mut self) {
        let bye = ToCamera::Bye {
            session_id: self.session_id.clone(),
            reason: "viewer closed".into(),
        };
        let _ = self.outbox.send(&bye);
        self.task.abort();
        let _ = self.pipeline.set_state(gst::State::Null);
        // The link's own task is aborted when the last Arc goes; give the bye a moment.
        let link = self.outbox.link();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                drop(link);
            });
        }
    }
}

fn random_session_id() -> String {
    use base64::Engine as _;
    let raw: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}
