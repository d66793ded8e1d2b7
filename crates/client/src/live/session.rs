//! The session task: one tokio task per [`super::LiveViewer`] that owns the signalling
//! half of the session.
//!
//! ```text
//!   webrtcbin / first-frame probe ── Internal ──┐
//!   MQTT link (out topic, status) ── LinkEvent ─┼─► SessionTask ── ToCamera ──► <prefix>/in/<viewer>
//!   heartbeat tick · answer deadline ───────────┘        │
//!                                                         └── ViewerEvent ──► the caller
//! ```
//!
//! It sends what only a viewer sends ([`ToCamera`]) and takes what only a camera sends
//! ([`ToViewer`]), so its `match` on a received message covers the camera's vocabulary
//! and nothing else. Every handler says whether the session goes on ([`Flow`]); the first
//! [`Flow::End`] ends the task, which is how a failure, a `bye` or the answer deadline
//! closes the session.
//!
//! It also keeps the session alive across a change of network ([`super::restart`]): a
//! tick every [`TICK`] looks for a local address that went away, media that stopped, and
//! a restart that takes too long; a failed connection after one that worked restarts too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc;

use eyrie_protocol::signalling::{
    self, ErrorCode, Incoming, Offer, Opener, Stream, ToCamera, ToViewer,
};

use super::outbox::Outbox;
use super::pipeline::Built;
use super::restart::Recovery;
use super::{Stage, ViewerError, ViewerEvent};
use crate::mqtt_link::{self, LinkEvent};

/// What the GStreamer side tells the session task. Peer events carry the generation of
/// the `webrtcbin` that sent them ([`super::peer`]); those of a replaced one are dropped.
pub(super) enum Internal {
    /// `webrtcbin` made the offer (SDP text).
    Offer(u32, String),
    /// A local ICE candidate: (generation, m-line, candidate).
    LocalCandidate(u32, u32, String),
    /// A decoded frame after [`super::pipeline::FrameWatch::arm`]: the first one, or the
    /// first after a restart.
    FirstFrame,
    Connected(u32),
    /// The selected ICE pair, read from webrtcbin's statistics.
    Path(Option<super::IcePath>),
    Failed(u32, String),
    /// Fresh ICE servers for a restart (`None`: the fetch failed; keep the ticket's).
    IceServers(u32, Option<eyrie_protocol::api::IceServersResponse>),
    /// The caller knows the network changed ([`super::LiveViewer::reconnect`]).
    Reconnect(String),
    /// A background refresh of the ICE servers came back (`None`: it failed).
    IceRefreshed(Option<eyrie_protocol::api::IceServersResponse>),
}

/// How often the session checks its network, its media and a restart under way.
pub(super) const TICK: Duration = Duration::from_millis(250);

/// Whether the session task goes on after one event.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    /// The session is over (failed, ended by the camera, or timed out).
    End,
}

/// The timers of a session.
pub(super) struct Timing {
    pub heartbeat_interval: Duration,
    pub answer_timeout: Duration,
}

pub(super) struct SessionTask {
    pub sid: String,
    /// The per-ticket key (the ticket's signature); never sent.
    pub key: Vec<u8>,
    /// The ticket's claims part, sent in the offer.
    pub head: String,
    /// Seals and sends to the camera.
    pub outbox: Arc<Outbox>,
    /// Opens the camera's boxes for this session and refuses replays.
    pub opener: Opener<ToViewer>,
    /// The pipeline: chains, talk valve, frame watch.
    pub built: Built,
    /// The current peer connection, of generation `recovery.generation`.
    pub webrtc: gst::Element,
    pub events: mpsc::UnboundedSender<ViewerEvent>,
    pub stream: Stream,
    pub offer_fp: Option<String>,
    pub offer_sent: Option<Instant>,
    pub answered: bool,
    /// Remote candidates that came before the answer was checked.
    pub pending: Vec<(u32, String)>,
    pub camera_online: Option<bool>,
    pub playing: bool,
    /// ICE/DTLS connected: the path is read every [`super::path::PATH_POLL`].
    pub connected: bool,
    /// The last path reported.
    pub path: Option<super::IcePath>,
    /// For replies from GStreamer threads (the statistics).
    pub internal: mpsc::UnboundedSender<Internal>,
    /// Dropped messages, logged at most ten a second (junk in the outbox is not ours to
    /// stop: a device login or the broker's operator can write there).
    pub drops: eyrie_rtc::drop_log::DropLog,
    /// Restarts: the network watch, the link and ICE servers to rebuild with.
    pub recovery: Recovery,
}

impl SessionTask {
    /// Run until the session ends or both channels close.
    pub async fn run(
        mut self,
        mut internal: mpsc::UnboundedReceiver<Internal>,
        mut link: mpsc::UnboundedReceiver<LinkEvent>,
        timing: Timing,
    ) {
        enum Wake {
            Internal(Option<Internal>),
            Link(Option<LinkEvent>),
            Heartbeat,
            NoAnswer,
            PathPoll,
            Tick,
        }
        let mut heartbeat = tokio::time::interval(timing.heartbeat_interval);
        heartbeat.tick().await;
        let deadline = tokio::time::sleep(timing.answer_timeout);
        tokio::pin!(deadline);
        let mut path_poll = tokio::time::interval(super::path::PATH_POLL);
        path_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The first negotiation has its answer deadline; a restart has its own.
            let first = self.recovery.generation == 0;
            let wake = tokio::select! {
                i = internal.recv() => Wake::Internal(i),
                e = link.recv() => Wake::Link(e),
                _ = heartbeat.tick() => Wake::Heartbeat,
                () = &mut deadline, if first && !self.answered => Wake::NoAnswer,
                _ = path_poll.tick(), if self.connected => Wake::PathPoll,
                _ = tick.tick() => Wake::Tick,
            };
            let flow = match wake {
                Wake::Internal(Some(i)) => self.internal(i).await,
                Wake::Link(Some(e)) => self.link_event(e),
                Wake::Internal(None) | Wake::Link(None) => Flow::End,
                Wake::Heartbeat => {
                    self.send(ToCamera::Heartbeat {
                        session_id: self.sid.clone(),
                    })
                    .await;
                    Flow::Continue
                }
                Wake::NoAnswer => self.no_answer().await,
                Wake::PathPoll => {
                    self.read_path();
                    Flow::Continue
                }
                Wake::Tick => self.tick(),
            };
            if flow == Flow::End {
                break;
            }
            // A restart opened a new broker connection: listen to it instead.
            if let Some(new) = self.recovery.new_link.take() {
                link = new;
            }
        }
    }

    pub(super) async fn send(&self, msg: ToCamera) {
        if let Err(e) = self.outbox.send(&msg) {
            tracing::warn!("signalling send failed: {e}");
        }
    }

    pub(super) fn fail(&self, e: ViewerError) -> Flow {
        tracing::info!(session = %self.sid, "live session failed: {e}");
        let _ = self.events.send(ViewerEvent::Error(e));
        Flow::End
    }

    async fn no_answer(&self) -> Flow {
        let err = if self.camera_online == Some(true) {
            ViewerError::Timeout
        } else {
            ViewerError::Offline
        };
        let _ = self.events.send(ViewerEvent::Error(err));
        self.send(ToCamera::Bye {
            session_id: self.sid.clone(),
            reason: "timeout".into(),
        })
        .await;
        Flow::End
    }

    async fn internal(&mut self, i: Internal) -> Flow {
        let current = self.recovery.generation;
        match i {
            Internal::Offer(generation, _)
            | Internal::LocalCandidate(generation, ..)
            | Internal::Connected(generation)
            | Internal::Failed(generation, _)
            | Internal::IceServers(generation, _)
                if generation != current =>
            {
                // A replaced peer (or a restart superseded) on its way out.
            }
            Internal::Offer(_, sdp) if current > 0 => return self.restart_offer(sdp).await,
            Internal::Offer(_, sdp) => {
                let Some(fp) = signalling::sdp_fingerprint(&sdp).map(str::to_owned) else {
                    return self.fail(ViewerError::Media("offer without fingerprint".into()));
                };
                let ticket_proof = signalling::offer_proof(&self.key, &self.sid, &fp);
                self.offer_fp = Some(fp);
                self.offer_sent = Some(Instant::now());
                self.send(ToCamera::Offer(Offer {
                    session_id: self.sid.clone(),
                    ticket: self.head.clone(),
                    ticket_proof,
                    sdp,
                    stream: self.stream,
                    audio: true,
                }))
                .await;
            }
            Internal::LocalCandidate(_, mline, candidate) => {
                if self.recovery.holds_candidates() {
                    self.recovery.hold(mline, candidate);
                } else {
                    self.send(ToCamera::Candidate {
                        session_id: self.sid.clone(),
                        sdp_mline_index: mline,
                        candidate,
                    })
                    .await;
                }
            }
            Internal::Connected(_) => {
                self.connected = true;
                self.recovery.connected_once = true;
                self.read_path();
                if !self.playing {
                    let _ = self
                        .events
                        .send(ViewerEvent::Stage(Stage::RetrievingStream));
                }
            }
            Internal::FirstFrame if self.recovery.restarting() => self.recovered(),
            Internal::FirstFrame => {
                self.playing = true;
                let since = self.offer_sent.map(|t| t.elapsed()).unwrap_or_default();
                let _ = self
                    .events
                    .send(ViewerEvent::FirstFrame { since_offer: since });
                let _ = self.events.send(ViewerEvent::Stage(Stage::Playing));
            }
            Internal::Path(Some(path)) if self.path.as_ref() != Some(&path) => {
                tracing::info!(session = %self.sid, "live media path: {path}");
                self.path = Some(path.clone());
                let _ = self.events.send(ViewerEvent::Path(path));
            }
            Internal::Path(_) => {}
            // A connection that worked and failed: the network under it went away.
            Internal::Failed(_, why) if self.recovery.connected_once && self.answered => {
                return self.start_restart(&why);
            }
            Internal::Failed(_, why) => return self.fail(ViewerError::Media(why)),
            Internal::IceServers(_, servers) => return self.ice_servers_fetched(servers),
            // Before the first answer there is nothing to restart: the offer is on its way.
            Internal::Reconnect(why) if self.answered => return self.start_restart(&why),
            Internal::Reconnect(_) => {}
            Internal::IceRefreshed(fresh) => self.ice_refreshed(fresh),
        }
        Flow::Continue
    }

    /// Asks webrtcbin for the selected pair; the answer comes back as [`Internal::Path`].
    pub(super) fn read_path(&self) {
        let tx = self.internal.clone();
        super::path::query(&self.webrtc, move |path| {
            let _ = tx.send(Internal::Path(path));
        });
    }

    fn link_event(&mut self, e: LinkEvent) -> Flow {
        match e {
            LinkEvent::Connected => {
                if self.offer_sent.is_some() {
                    let _ = self.events.send(ViewerEvent::SignallingRestored);
                }
                self.link_up();
                Flow::Continue
            }
            // Before the answer, a refused broker certificate or login will not fix itself
            // in time: say so rather than wait for the answer timeout (or call it offline).
            LinkEvent::Disconnected(why)
                if !self.answered
                    && (why.starts_with(mqtt_link::TLS_REFUSED)
                        || why.starts_with(mqtt_link::LOGIN_REFUSED)) =>
            {
                self.fail(ViewerError::Signalling(why))
            }
            LinkEvent::Disconnected(_) => {
                let _ = self.events.send(ViewerEvent::SignallingLost);
                Flow::Continue
            }
            LinkEvent::Message { topic, payload } => {
                if topic.ends_with("/status") {
                    let online = payload.as_ref() == b"online";
                    self.camera_online = Some(online);
                    if !online && !self.answered {
                        return self.fail(ViewerError::Offline);
                    }
                    return Flow::Continue;
                }
                match self.open(&payload) {
                    Ok(Some(m)) => self.message(m),
                    Ok(None) => Flow::Continue, // another session of the same user
                    Err(e) => {
                        self.drops.dropped(&self.sid, &e.to_string());
                        Flow::Continue
                    }
                }
            }
        }
    }

    /// The camera's message for this session, if `payload` is one: a box this
    /// session's key opens, or — before the answer only — the one clear version-2
    /// message, `error auth_failed` (the camera could not check the ticket, so it had no
    /// key to seal with). Version-1 messages are not taken: this viewer offered in
    /// version 2, so a clear message was not written by the camera.
    fn open(&mut self, payload: &[u8]) -> Result<Option<ToViewer>, String> {
        match signalling::decode_wire::<ToViewer>(payload).map_err(|e| e.to_string())? {
            Incoming::Sealed(b) if b.session_id != self.sid => Ok(None),
            Incoming::Sealed(b) => self.opener.open(&b).map(Some).map_err(|e| e.to_string()),
            Incoming::ClearV2(m) if m.session_id() != self.sid => Ok(None),
            Incoming::ClearV2(m) if !self.answered => Ok(Some(m)),
            Incoming::ClearV2(m) => Err(format!("clear {} after the answer", m.kind())),
            Incoming::V1(m) if m.session_id() != self.sid => Ok(None),
            Incoming::V1(m) => Err(format!("version-1 {} for a version-2 session", m.kind())),
        }
    }

    fn message(&mut self, m: ToViewer) -> Flow {
        match m {
            ToViewer::Answer { sdp, proof, .. } => return self.answer(&sdp, &proof),
            ToViewer::Candidate {
                sdp_mline_index,
                candidate,
                ..
            } => {
                if candidate.is_empty() || (self.recovery.restarting() && !self.answered) {
                    // End of candidates; or, during a restart before its answer, a
                    // candidate of the camera's old connection (the camera sends each
                    // connection's answer before its candidates).
                } else if self.answered {
                    self.webrtc
                        .emit_by_name::<()>("add-ice-candidate", &[&sdp_mline_index, &candidate]);
                } else if self.pending.len() < 64 {
                    self.pending.push((sdp_mline_index, candidate));
                }
            }
            ToViewer::Busy { max_sessions, .. } => {
                return self.fail(ViewerError::Busy { max: max_sessions });
            }
            ToViewer::Error { code, message, .. } => {
                let e = match code {
                    ErrorCode::AuthFailed => ViewerError::AuthFailed(message),
                    ErrorCode::Busy => ViewerError::Busy { max: 0 },
                    ErrorCode::Offline => ViewerError::Offline,
                    ErrorCode::Privacy => ViewerError::Privacy,
                    ErrorCode::BadRequest | ErrorCode::Internal | ErrorCode::Unknown => {
                        ViewerError::BadRequest(message)
                    }
                };
                return self.fail(e);
            }
            ToViewer::Bye { reason, .. } => {
                let _ = self.events.send(ViewerEvent::Ended { reason });
                return Flow::End;
            }
            ToViewer::State {
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
        }
        Flow::Continue
    }

    /// Check the camera's proof, then apply the answer and the candidates held back.
    fn answer(&mut self, sdp: &str, proof: &str) -> Flow {
        if self.answered || self.offer_fp.is_none() {
            return Flow::Continue;
        }
        let offer_fp = self.offer_fp.clone().unwrap_or_default();
        let ok = signalling::sdp_fingerprint(sdp).is_some_and(|fp| {
            signalling::verify_answer_proof(&self.key, &self.sid, fp, &offer_fp, proof)
        });
        if !ok {
            return self.fail(ViewerError::ForgedAnswer);
        }
        let desc = match crate::rtc::description(gst_webrtc::WebRTCSDPType::Answer, sdp) {
            Ok(d) => d,
            Err(e) => return self.fail(ViewerError::BadRequest(e.to_string())),
        };
        self.answered = true;
        self.webrtc
            .emit_by_name::<()>("set-remote-description", &[&desc, &None::<gst::Promise>]);
        for (mline, c) in self.pending.drain(..) {
            self.webrtc
                .emit_by_name::<()>("add-ice-candidate", &[&mline, &c]);
        }
        if self.recovery.restarting() {
            // The next decoded frame is the new connection's.
            self.built.frames.arm();
        }
        Flow::Continue
    }
}
