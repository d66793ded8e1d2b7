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
//! The MQTT link reconnects by itself (broker restarts); the media keeps flowing peer to
//! peer meanwhile, heartbeats resume on the new connection, and controls sent while the
//! broker was away are delivered when it is back.
//!
//! Nothing blocks the caller's thread: [`LiveViewer::connect`] returns once the pipeline
//! is built; everything else happens on the tokio runtime and GStreamer threads.

mod pipeline;

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc;

use eyrie_protocol::api::TicketResponse;
use eyrie_protocol::signalling::{self, Control, ErrorCode, Message, Stream, topics};

use crate::mqtt_link::{self, LinkEvent, LinkOptions};

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
    /// The broker connection dropped (media may still flow) / came back.
    SignallingLost,
    SignallingRestored,
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
        }
    }
}

enum Internal {
    Offer(String),
    LocalCandidate(u32, String),
    FirstFrame,
    Connected,
    Failed(String),
}

/// One live session. Dropping it sends `bye` (best effort) and frees everything.
pub struct LiveViewer {
    session_id: String,
    to_camera: String,
    link: std::sync::Arc<mqtt_link::Link>,
    pipeline: gst::Pipeline,
    talk_valve: Option<gst::Element>,
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
        } = config;
        let (head, key) = signalling::split_ticket(&ticket.ticket)
            .ok_or_else(|| ViewerError::AuthFailed("the ticket is malformed".into()))?;
        let head = head.to_owned();
        let session_id = random_session_id();
        let me = ticket.mqtt.username.clone();
        let prefix = ticket.mqtt.topic_prefix.clone();
        let to_camera = topics::to_device(&prefix, &me);
        let (stun, turn) = crate::rtc::ice_urls(&ticket.ice_servers);

        let (itx, mut irx) = mpsc::unbounded_channel::<Internal>();
        let ff = itx.clone();
        let built = pipeline::build(
            stun.as_deref(),
            &turn,
            latency_ms,
            video_sink,
            audio_sink,
            talk_source,
            move || {
                let _ = ff.send(Internal::FirstFrame);
            },
        )?;
        let webrtc = built.webrtc.clone();

        let tx = itx.clone();
        eyrie_rtc::rtc::on_ice_candidate(&webrtc, move |mline, cand| {
            let _ = tx.send(Internal::LocalCandidate(mline, cand));
        });
        let tx = itx.clone();
        webrtc.connect_notify(Some("connection-state"), move |w, _| {
            let state = w.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
            match state {
                gst_webrtc::WebRTCPeerConnectionState::Connected => {
                    let _ = tx.send(Internal::Connected);
                }
                gst_webrtc::WebRTCPeerConnectionState::Failed => {
                    let _ = tx.send(Internal::Failed("ICE/DTLS connection failed".into()));
                }
                _ => {}
            }
        });

        let (link, mut link_rx) = mqtt_link::start(
            &ticket.mqtt,
            LinkOptions {
                subscriptions: vec![topics::to_viewer(&prefix, &me), topics::status(&prefix)],
                tls_ca: mqtt_ca,
                ..Default::default()
            },
        )
        .map_err(|e| ViewerError::Signalling(e.to_string()))?;
        let link = std::sync::Arc::new(link);

        built
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| ViewerError::Media(format!("cannot start: {e}")))?;

        // Make the offer.
        let tx = itx.clone();
        let w = webrtc.downgrade();
        let on_offer = gst::Promise::with_change_func(move |reply| {
            let Some(webrtc) = w.upgrade() else { return };
            let offer = match reply {
                Ok(Some(r)) => r.get::<gst_webrtc::WebRTCSessionDescription>("offer").ok(),
                _ => None,
            };
            match offer {
                Some(offer) => {
                    webrtc.emit_by_name::<()>(
                        "set-local-description",
                        &[&offer, &None::<gst::Promise>],
                    );
                    let sdp = offer
                        .sdp()
                        .as_text()
                        .map(|s| s.to_string())
                        .unwrap_or_default();
                    let _ = tx.send(Internal::Offer(sdp));
                }
                None => {
                    let _ = tx.send(Internal::Failed(format!("no offer: {reply:?}")));
                }
            }
        });
        webrtc.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &on_offer]);

        let (etx, erx) = mpsc::unbounded_channel();
        let _ = etx.send(ViewerEvent::Stage(Stage::EstablishingChannel));
        let sid = session_id.clone();
        let l = link.clone();
        let tc = to_camera.clone();
        let task = tokio::spawn(async move {
            let mut s = SessionTask {
                sid,
                key,
                head,
                to_camera: tc,
                link: l,
                webrtc,
                events: etx,
                offer_fp: None,
                offer_sent: None,
                answered: false,
                pending: Vec::new(),
                camera_online: None,
                playing: false,
                stream,
            };
            let mut heartbeat = tokio::time::interval(heartbeat_interval);
            heartbeat.tick().await;
            let deadline = tokio::time::sleep(answer_timeout);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    i = irx.recv() => match i {
                        Some(i) => if s.internal(i).await.is_err() { break },
                        None => break,
                    },
                    e = link_rx.recv() => match e {
                        Some(e) => if s.link_event(e).is_err() { break },
                        None => break,
                    },
                    _ = heartbeat.tick() => {
                        s.send(Message::Heartbeat { session_id: s.sid.clone() }).await;
                    }
                    () = &mut deadline, if !s.answered => {
                        let err = if s.camera_online == Some(true) { ViewerError::Timeout } else { ViewerError::Offline };
                        let _ = s.events.send(ViewerEvent::Error(err));
                        s.send(Message::Bye { session_id: s.sid.clone(), reason: "timeout".into() }).await;
                        break;
                    }
                }
            }
        });
        Ok((
            LiveViewer {
                session_id,
                to_camera,
                link,
                pipeline: built.pipeline,
                talk_valve: built.talk_valve,
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
        let msg = Message::Control {
            session_id: self.session_id.clone(),
            control,
        };
        if let Err(e) = self.link.try_publish(&self.to_camera, msg.encode()) {
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
        if let Some(v) = &self.talk_valve {
            v.set_property("drop", !on);
        }
        self.control(Control::Talk { on });
    }

    /// The receive pipeline (for a GTK page that wants its bus or clock).
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// Say bye and free everything.
    pub async fn close(self) {
        let bye = Message::Bye {
            session_id: self.session_id.clone(),
            reason: "viewer closed".into(),
        };
        let _ = self.link.publish(&self.to_camera, bye.encode()).await;
        // Let the bye leave before the link goes.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for LiveViewer {
    fn drop(&mut self) {
        let bye = Message::Bye {
            session_id: self.session_id.clone(),
            reason: "viewer closed".into(),
        };
        let _ = self.link.try_publish(&self.to_camera, bye.encode());
        self.task.abort();
        let _ = self.pipeline.set_state(gst::State::Null);
        // The link's own task is aborted when the last Arc goes; give the bye a moment.
        let link = self.link.clone();
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

struct SessionTask {
    sid: String,
    key: Vec<u8>,
    head: String,
    to_camera: String,
    link: std::sync::Arc<mqtt_link::Link>,
    webrtc: gst::Element,
    events: mpsc::UnboundedSender<ViewerEvent>,
    offer_fp: Option<String>,
    offer_sent: Option<Instant>,
    answered: bool,
    /// Remote candidates that came before the answer was checked.
    pending: Vec<(u32, String)>,
    camera_online: Option<bool>,
    playing: bool,
    stream: Stream,
}

/// `Err(())`: the session is over.
type Flow = Result<(), ()>;

impl SessionTask {
    async fn send(&self, msg: Message) {
        if let Err(e) = self.link.publish(&self.to_camera, msg.encode()).await {
            tracing::warn!("signalling send failed: {e}");
        }
    }

    fn fail(&self, e: ViewerError) -> Flow {
        tracing::info!(session = %self.sid, "live session failed: {e}");
        let _ = self.events.send(ViewerEvent::Error(e));
        Err(())
    }

    async fn internal(&mut self, i: Internal) -> Flow {
        match i {
            Internal::Offer(sdp) => {
                let Some(fp) = signalling::sdp_fingerprint(&sdp).map(str::to_owned) else {
                    return self.fail(ViewerError::Media("offer without fingerprint".into()));
                };
                let proof = signalling::offer_proof(&self.key, &self.sid, &fp);
                self.offer_fp = Some(fp);
                self.offer_sent = Some(Instant::now());
                self.send(Message::Offer {
                    session_id: self.sid.clone(),
                    ticket: self.head.clone(),
                    ticket_proof: proof,
                    sdp,
                    stream: self.stream,
                    audio: true,
                })
                .await;
            }
            Internal::LocalCandidate(mline, candidate) => {
                self.send(Message::Candidate {
                    session_id: self.sid.clone(),
                    sdp_mline_index: mline,
                    candidate,
                })
                .await;
            }
            Internal::Connected => {
                if !self.playing {
                    let _ = self
                        .events
                        .send(ViewerEvent::Stage(Stage::RetrievingStream));
                }
            }
            Internal::FirstFrame => {
                self.playing = true;
                let since = self.offer_sent.map(|t| t.elapsed()).unwrap_or_default();
                let _ = self
                    .events
                    .send(ViewerEvent::FirstFrame { since_offer: since });
                let _ = self.events.send(ViewerEvent::Stage(Stage::Playing));
            }
            Internal::Failed(why) => return self.fail(ViewerError::Media(why)),
        }
        Ok(())
    }

    fn link_event(&mut self, e: LinkEvent) -> Flow {
        match e {
            LinkEvent::Connected => {
                if self.offer_sent.is_some() {
                    let _ = self.events.send(ViewerEvent::SignallingRestored);
                }
                Ok(())
            }
            // Before the answer, a refused broker certificate will not fix itself in time:
            // say so rather than wait for the answer timeout.
            LinkEvent::Disconnected(why)
                if !self.answered && why.starts_with(mqtt_link::TLS_REFUSED) =>
            {
                self.fail(ViewerError::Signalling(why))
            }
            LinkEvent::Disconnected(_) => {
                let _ = self.events.send(ViewerEvent::SignallingLost);
                Ok(())
            }
            LinkEvent::Message { topic, payload } => {
                if topic.ends_with("/status") {
                    let online = payload.as_ref() == b"online";
                    self.camera_online = Some(online);
                    if !online && !self.answered {
                        return self.fail(ViewerError::Offline);
                    }
                    return Ok(());
                }
                match signalling::decode(&payload) {
                    Ok(m) if m.session_id() == self.sid => self.message(m),
                    Ok(_) => Ok(()), // another session of the same user
                    Err(e) => {
                        tracing::warn!("signalling message dropped: {e}");
                        Ok(())
                    }
                }
            }
        }
    }

    fn message(&mut self, m: Message) -> Flow {
        match m {
            Message::Answer { sdp, proof, .. } => {
                if self.answered {
                    return Ok(());
                }
                let offer_fp = self.offer_fp.clone().unwrap_or_default();
                let ok = signalling::sdp_fingerprint(&sdp).is_some_and(|fp| {
                    signalling::verify_answer_proof(&self.key, &self.sid, fp, &offer_fp, &proof)
                });
                if !ok {
                    return self.fail(ViewerError::ForgedAnswer);
                }
                let desc = crate::rtc::description(gst_webrtc::WebRTCSDPType::Answer, &sdp)
                    .map_err(|e| ViewerError::BadRequest(e.to_string()));
                let desc = match desc {
                    Ok(d) => d,
                    Err(e) => return self.fail(e),
                };
                self.answered = true;
                self.webrtc
                    .emit_by_name::<()>("set-remote-description", &[&desc, &None::<gst::Promise>]);
                for (mline, c) in self.pending.drain(..) {
                    self.webrtc
                        .emit_by_name::<()>("add-ice-candidate", &[&mline, &c]);
                }
            }
            Message::Candidate {
                sdp_mline_index,
                candidate,
                ..
            } => {
                if candidate.is_empty() {
                } else if self.answered {
                    self.webrtc
                        .emit_by_name::<()>("add-ice-candidate", &[&sdp_mline_index, &candidate]);
                } else if self.pending.len() < 64 {
                    self.pending.push((sdp_mline_index, candidate));
                }
            }
            Message::Busy { max_sessions, .. } => {
                return self.fail(ViewerError::Busy { max: max_sessions });
            }
            Message::Error { code, message, .. } => {
                let e = match code {
                    ErrorCode::AuthFailed => ViewerError::AuthFailed(message),
                    ErrorCode::Busy => ViewerError::Busy { max: 0 },
                    ErrorCode::Offline => ViewerError::Offline,
                    ErrorCode::Privacy => ViewerError::Privacy,
                    _ => ViewerError::BadRequest(message),
                };
                return self.fail(e);
            }
            Message::Bye { reason, .. } => {
                let _ = self.events.send(ViewerEvent::Ended { reason });
                return Err(());
            }
            Message::State {
                stream,
                audio,
                talk,
                ..
            } => {
                let _ = self.events.send(ViewerEvent::State {
                    stream,
                    audio,
                    talk,
                });
            }
            other => tracing::debug!(
                kind = other.kind(),
                "message a viewer does not take; dropped"
            ),
        }
        Ok(())
    }
}
