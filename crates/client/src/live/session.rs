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
use super::{Stage, ViewerError, ViewerEvent};
use crate::mqtt_link::{self, LinkEvent};

/// What the GStreamer side tells the session task.
pub(super) enum Internal {
    /// `webrtcbin` made the offer (SDP text).
    Offer(String),
    /// A local ICE candidate: (m-line, candidate).
    LocalCandidate(u32, String),
    FirstFrame,
    Connected,
    /// The selected ICE pair, read from webrtcbin's statistics.
    Path(Option<super::IcePath>),
    Failed(String),
}

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
}

impl SessionTask {
    /// Run until the session ends or both channels close.
    pub async fn run(
        mut self,
        mut internal: mpsc::UnboundedReceiver<Internal>,
        mut link: mpsc::UnboundedReceiver<LinkEvent>,
        timing: Timing,
    ) {
        let mut heartbeat = tokio::time::interval(timing.heartbeat_interval);
        heartbeat.tick().await;
        let deadline = tokio::time::sleep(timing.answer_timeout);
        tokio::pin!(deadline);
        let mut path_poll = tokio::time::interval(super::path::PATH_POLL);
        path_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let flow = tokio::select! {
                i = internal.recv() => match i {
                    Some(i) => self.internal(i).await,
                    None => Flow::End,
                },
                e = link.recv() => match e {
                    Some(e) => self.link_event(e),
                    None => Flow::End,
                },
                _ = heartbeat.tick() => {
                    self.send(ToCamera::Heartbeat { session_id: self.sid.clone() }).await;
                    Flow::Continue
                }
                () = &mut deadline, if !self.answered => self.no_answer().await,
                _ = path_poll.tick(), if self.connected => {
                    self.read_path();
                    Flow::Continue
                }
            };
            if flow == Flow::End {
                break;
            }
        }
    }

    async fn send(&self, msg: ToCamera) {
        if let Err(e) = self.outbox.send(&msg) {
            tracing::warn!("signalling send failed: {e}");
        }
    }

    fn fail(&self, e: ViewerError) -> Flow {
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
        match i {
            Internal::Offer(sdp) => {
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
            Internal::LocalCandidate(mline, candidate) => {
                self.send(ToCamera::Candidate {
                    session_id: self.sid.clone(),
                    sdp_mline_index: mline,
                    candidate,
                })
                .await;
            }
            Internal::Connected => {
                self.connected = true;
                self.read_path();
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
            Internal::Path(Some(path)) if self.path.as_ref() != Some(&path) => {
                tracing::info!(session = %self.sid, "live media path: {path}");
                self.path = Some(path.clone());
                let _ = self.events.send(ViewerEvent::Path(path));
            }
            Internal::Path(_) => {}
            Internal::Failed(why) => return self.fail(ViewerError::Media(why)),
        }
        Flow::Continue
    }

    /// Asks webrtcbin for the selected pair; the answer comes back as [`Internal::Path`].
    fn read_path(&self) {
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
                if candidate.is_empty() {
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
        if self.answered {
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
        Flow::Continue
    }
}
