//! Live sessions: the camera's side of live view and two-way talk.
//!
//! The [`LiveManager`] receives every signalling message addressed to the camera (the
//! MQTT task hands them over with the viewer's name taken from the topic) and keeps the
//! table of [`LiveSession`]s. What it receives is a [`ToCamera`] — the decoder has
//! already refused anything only a viewer takes — and what it sends is a [`ToViewer`],
//! so it can neither mishandle an `answer` nor send a viewer an `offer`. For an offer it checks, in this order and before spending
//! anything on media: the message itself (size, fields — done by the decoder), the
//! ticket (signature with the device secret, device, expiry, version), the viewer's
//! proof of holding the ticket, replay (a ticket opens one session), and the session
//! limit (seed: `max_client_num`; refused with `busy` and the limit). Only then does it
//! build the session's `webrtcbin` pipeline ([`session`]), apply the offer and answer
//! with a proof keyed by the ticket so the viewer can tell the real camera ([`offer`]).
//!
//! Signalling versions: [`LiveManager::receive`] takes version 1 (clear) and version 2
//! (sealed, `docs/signalling.md` §7). A session speaks the version of its offer for its
//! whole life — its [`Wire`] seals or encodes every reply, its `Opener` opens the
//! viewer's boxes and refuses replays — and a message of the other version naming it is
//! dropped. Boxes are sealed on the one task that publishes ([`Outgoing::payload`]), so
//! their sequence numbers leave in order. Dropped messages and offers refused for their
//! ticket are logged at most ten a second ([`wire`]): a flood costs little.
//!
//! Sessions end on `bye` (at once), on a heartbeat silence of 30 s, after 20 minutes
//! with no media flowing, when ICE has failed for [`RESTART_GRACE`] without a restart, or
//! when the camera stops; every end frees the pipeline right away, so a viewer that leaves
//! and comes back does not hold two slots.
//!
//! A viewer whose network changed sends a `restart` in its open session
//! ([`LiveManager::restart`], `docs/signalling.md` §5.1): `webrtcbin` cannot restart ICE
//! in place, so the session gets a fresh pipeline — new ICE agent and DTLS, the same slot,
//! ticket key, wire, stream, sound and talk — and the old one is freed.
//!
//! Privacy mode (the owner paused the camera): while it is on, an offer that passes the
//! ticket checks is refused with `error privacy`, and turning it on ends every open
//! session with that same error, so a viewer shows "privacy mode on" rather than a
//! picture or a generic failure. The manager learns of it through [`LiveManager::set_privacy`]
//! or by following the capture's switch ([`LiveManager::follow_privacy`], read on every
//! offer and every reaper tick).
//!
//! Everything the app wants to show — live start/stop, stream switches, talk start/stop
//! and level, the viewer count — goes out as [`LiveEvent`]s on a broadcast channel and
//! to the log.
//!
//! Threads: `handle` runs on the MQTT task; `webrtcbin` answers and candidates come back
//! on GStreamer threads and go out through an unbounded channel; media never waits on
//! any of these.

mod events;
mod ice;
mod offer;
mod reaper;
mod repair;
mod session;
mod wire;

use reaper::WeakManager;

pub use events::{LiveError, LiveEvent};
use eyrie_rtc::drop_log::DropLog;
pub use ice::{IceServers, IceUrls};
pub use session::Speaker;
pub use wire::{Outgoing, Wire};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gstreamer::prelude::*;

use eyrie_protocol::signalling::{
    self, Control, Incoming, Opener, SealedBox, Stream, ToCamera, ToViewer,
};

use crate::capture::Rings;

/// Limits and identity of the live side.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub device_id: String,
    /// The device secret (verifies tickets).
    pub device_secret: Vec<u8>,
    /// Most viewers at once (default 5).
    pub max_sessions: usize,
    pub heartbeat_timeout: Duration,
    pub no_data_timeout: Duration,
    pub speaker: Speaker,
    /// STUN/TURN servers, kept fresh from the cloud by the node ([`IceServers::follow`]).
    pub ice: IceServers,
    /// CA certificates (PEM) the signalling link trusts for `mqtts`; `None`: the system's.
    pub mqtt_ca: Option<Vec<u8>>,
}

impl LiveConfig {
    pub fn new(device_id: impl Into<String>, device_secret: impl Into<Vec<u8>>) -> Self {
        Self {
            device_id: device_id.into(),
            device_secret: device_secret.into(),
            max_sessions: 5,
            heartbeat_timeout: Duration::from_secs(signalling::HEARTBEAT_TIMEOUT_SECS),
            no_data_timeout: Duration::from_secs(signalling::NO_DATA_TIMEOUT_SECS),
            speaker: Speaker::None,
            ice: IceServers::default(),
            mqtt_ca: None,
        }
    }
}

/// One viewer's session.
pub struct LiveSession {
    viewer: String,
    media: session::Media,
    shown: Arc<Mutex<Shown>>,
    last_heard: Instant,
    /// How replies go (the offer's version).
    wire: Wire,
    /// Version 2: opens the viewer's boxes and refuses replays. `None`: a version-1
    /// session, which takes only clear messages.
    opener: Option<Opener<ToCamera>>,
    /// The ticket's key K' (checks a `restart`'s proof, proves the answers to it).
    key: Vec<u8>,
    /// The last restart taken (0: none yet, the offer).
    generation: u32,
    /// Since when ICE/DTLS has been failed (the reaper waits [`RESTART_GRACE`] for a
    /// restart before it ends the session).
    failed_since: Option<Instant>,
}

/// How long a session whose connection failed waits for its viewer's `restart` before it
/// is ended (a viewer that changed networks needs a moment to notice and renegotiate; a
/// viewer that is gone stops its heartbeats too).
pub const RESTART_GRACE: Duration = Duration::from_secs(15);

/// What a session's `state` message says. Shared with the answer callback (a GStreamer
/// thread), which sends the first `state` right after the answer: a viewer learns the
/// session's HD/SD, sound and talk from the start, not only after its first control.
/// Whoever sends a `state` holds this lock while sending, so a control's `state` and the
/// answer's can never arrive in the wrong order. Nothing else is locked under it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shown {
    stream: Stream,
    audio: bool,
    talk: bool,
}

impl Shown {
    fn message(self, session_id: &str) -> ToViewer {
        ToViewer::State {
            session_id: session_id.to_owned(),
            stream: self.stream,
            audio: self.audio,
            talk: self.talk,
        }
    }
}

fn lock_shown(shown: &Mutex<Shown>) -> MutexGuard<'_, Shown> {
    shown
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads whether privacy mode is on (e.g. the capture's privacy switch).
pub type PrivacySource = Arc<dyn Fn() -> bool + Send + Sync>;

struct Inner {
    sessions: HashMap<String, LiveSession>,
    /// Accepted ticket nonces → expiry (unix s), to refuse replays.
    nonces: HashMap<String, u64>,
    /// Privacy mode as last applied.
    privacy: bool,
    /// Followed on every offer and reaper tick.
    privacy_source: Option<PrivacySource>,
    /// Says what was dropped or refused, without a line per message under a flood.
    drops: DropLog,
}

/// The session table and its rules. Cheap to clone.
#[derive(Clone)]
pub struct LiveManager {
    inner: Arc<Mutex<Inner>>,
    config: Arc<LiveConfig>,
    rings: Rings,
    events: tokio::sync::broadcast::Sender<LiveEvent>,
    out: tokio::sync::mpsc::UnboundedSender<Outgoing>,
}

impl LiveManager {
    /// A manager over `rings`; replies go to `out`. Starts the timeout reaper (needs a
    /// tokio runtime) and makes the DTLS certificate now rather than on the first offer.
    pub fn new(
        config: LiveConfig,
        rings: Rings,
        events: tokio::sync::broadcast::Sender<LiveEvent>,
        out: tokio::sync::mpsc::UnboundedSender<Outgoing>,
    ) -> Self {
        eyrie_rtc::rtc::prewarm_dtls();
        let m = Self {
            inner: Arc::new(Mutex::new(Inner {
                sessions: HashMap::new(),
                nonces: HashMap::new(),
                privacy: false,
                privacy_source: None,
                drops: DropLog::default(),
            })),
            config: Arc::new(config),
            rings,
            events,
            out,
        };
        let weak = Arc::downgrade(&m.inner);
        let reaper = m.clone_with_weak();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                if weak.upgrade().is_none() {
                    break;
                }
                reaper.reap();
            }
        });
        m
    }

    // The reaper holds its own clone; the weak check above ends it once every other
    // clone is gone — so it must not keep `inner` alive by itself: it only upgrades.
    fn clone_with_weak(&self) -> WeakManager {
        WeakManager {
            inner: Arc::downgrade(&self.inner),
            config: self.config.clone(),
            events: self.events.clone(),
            out: self.out.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sessions open now.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }

    /// Turn privacy mode on or off. On: every open session ends with `error privacy`
    /// (no picture leaves the camera from then on) and offers are refused the same way
    /// until it is turned off.
    pub fn set_privacy(&self, on: bool) {
        self.clone_with_weak().apply_privacy(on);
    }

    /// Whether privacy mode is on now (following the source, if one is set).
    pub fn privacy(&self) -> bool {
        let inner = self.lock();
        match &inner.privacy_source {
            Some(f) => f(),
            None => inner.privacy,
        }
    }

    /// Follow a privacy switch: read on every offer and every reaper tick (500 ms), so
    /// turning it on ends open sessions within half a second.
    pub fn follow_privacy(&self, source: impl Fn() -> bool + Send + Sync + 'static) {
        let source: PrivacySource = Arc::new(source);
        let on = source();
        self.lock().privacy_source = Some(source);
        self.set_privacy(on);
    }

    /// Subscribe to events.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }

    fn emit(&self, e: LiveEvent) {
        emit(&self.events, e);
    }

    fn reply(&self, viewer: &str, wire: &Wire, msg: ToViewer) {
        let _ = self.out.send(Outgoing {
            viewer: viewer.to_owned(),
            msg,
            wire: wire.clone(),
        });
    }

    /// Handle one payload from `viewer` (the last level of the topic it came in on), of
    /// either version: a version-1 message as it is, a version-2 offer after its ticket
    /// and box check out ([`Self::sealed_offer`]), any other box once its session's key
    /// opens it. Anything refused is logged and dropped; it never touches a session.
    pub fn receive(&self, viewer: &str, payload: &[u8]) {
        let opened = match signalling::decode_wire::<ToCamera>(payload) {
            Ok(Incoming::V1(msg)) => return self.dispatch(viewer, msg, false),
            Ok(Incoming::Sealed(b)) if b.ticket.is_some() => return self.sealed_offer(viewer, b),
            Ok(Incoming::Sealed(b)) => self.open(viewer, &b),
            Ok(Incoming::ClearV2(m)) => Err(format!("{} in clear", m.kind())),
            Err(e) => Err(e.to_string()),
        };
        match opened {
            Ok(msg) => self.dispatch(viewer, msg, true),
            Err(why) => {
                let why = format!("{why} ({} bytes)", payload.len());
                self.lock().drops.dropped(viewer, &why);
            }
        }
    }

    /// A box's message, opened with its session's key (only `viewer`'s own sessions).
    fn open(&self, viewer: &str, b: &SealedBox) -> Result<ToCamera, String> {
        let mut inner = self.lock();
        let s = own(&mut inner, &b.session_id, viewer, true)
            .ok_or_else(|| format!("box for no sealed session of {viewer}"))?;
        let opener = s.opener.as_mut().expect("own(…, true) has an opener");
        opener.open(b).map_err(|e| e.to_string())
    }

    /// Act on one message; `sealed`: it came in a box of its session (a version-2
    /// session takes nothing else, a version-1 session nothing but clear messages).
    fn dispatch(&self, viewer: &str, msg: ToCamera, sealed: bool) {
        match msg {
            ToCamera::Offer(offer) if !sealed => self.offer(viewer, offer),
            ToCamera::Offer(_) => {} // an offer box is opened by sealed_offer only
            ToCamera::Restart(r) => self.restart(viewer, r, sealed),
            ToCamera::Candidate {
                session_id,
                sdp_mline_index,
                candidate,
            } => {
                let mut inner = self.lock();
                if let Some(s) = own(&mut inner, &session_id, viewer, sealed) {
                    s.last_heard = Instant::now();
                    if !candidate.is_empty() {
                        s.media.webrtc.emit_by_name::<()>(
                            "add-ice-candidate",
                            &[&sdp_mline_index, &candidate],
                        );
                    }
                }
            }
            ToCamera::Heartbeat { session_id } => {
                if let Some(s) = own(&mut self.lock(), &session_id, viewer, sealed) {
                    s.last_heard = Instant::now();
                }
            }
            ToCamera::Control {
                session_id,
                control,
            } => self.control(viewer, &session_id, control, sealed),
            ToCamera::Bye { session_id, reason } => {
                let known = own(&mut self.lock(), &session_id, viewer, sealed).is_some();
                if known {
                    self.close(&session_id, &format!("bye from viewer {reason}"), false);
                }
            }
        }
    }

    fn control(&self, viewer: &str, sid: &str, control: Control, sealed: bool) {
        let mut inner = self.lock();
        let Some(s) = own(&mut inner, sid, viewer, sealed) else {
            return;
        };
        s.last_heard = Instant::now();
        let shown = s.shown.clone();
        let mut shown = lock_shown(&shown);
        let event = match control {
            Control::SetStream { stream } => {
                let _ = s.media.feed.send(session::FeedCmd::SetStream(stream));
                shown.stream = stream;
                tracing::info!(session = sid, ?stream, "resolution change");
                LiveEvent::StreamChanged {
                    session_id: sid.to_owned(),
                    stream,
                }
            }
            Control::Audio { on } => {
                let _ = s.media.feed.send(session::FeedCmd::Audio(on));
                shown.audio = on;
                LiveEvent::AudioChanged {
                    session_id: sid.to_owned(),
                    on,
                }
            }
            Control::Talk { on } => {
                s.media.talk_valve.set_property("drop", !on);
                shown.talk = on;
                tracing::info!(session = sid, on, "talk");
                if on {
                    LiveEvent::TalkStart {
                        session_id: sid.to_owned(),
                    }
                } else {
                    LiveEvent::TalkStop {
                        session_id: sid.to_owned(),
                    }
                }
            }
        };
        self.reply(viewer, &s.wire, shown.message(sid));
        drop(shown);
        drop(inner);
        self.emit(event);
    }

    /// End a session now. `tell_viewer`: send it a `bye` (timeouts, shutdown).
    pub fn close(&self, sid: &str, reason: &str, tell_viewer: bool) {
        self.clone_with_weak().close(sid, reason, tell_viewer);
    }

    /// End every session (camera shutting down).
    pub fn close_all(&self, reason: &str) {
        let ids: Vec<String> = self.lock().sessions.keys().cloned().collect();
        for id in ids {
            self.close(&id, reason, true);
        }
    }
}

/// The session if it exists, belongs to `viewer` and speaks the version the message came
/// in (`sealed`: a box of version 2); others' ids, and a clear message for a sealed
/// session, are ignored.
fn own<'a>(
    inner: &'a mut Inner,
    sid: &str,
    viewer: &str,
    sealed: bool,
) -> Option<&'a mut LiveSession> {
    let Inner {
        sessions, drops, ..
    } = inner;
    match sessions.get_mut(sid) {
        Some(s) if s.viewer == viewer && s.opener.is_some() == sealed => Some(s),
        Some(s) if s.viewer == viewer => {
            drops.dropped(
                viewer,
                if sealed {
                    "a box for a version-1 session"
                } else {
                    "a clear message for a version-2 session"
                },
            );
            None
        }
        Some(_) => {
            drops.dropped(viewer, "a message for another viewer's session");
            None
        }
        None => {
            tracing::debug!(
                session = sid,
                viewer,
                "message for an unknown session dropped"
            );
            None
        }
    }
}

pub(super) fn emit(events: &tokio::sync::broadcast::Sender<LiveEvent>, e: LiveEvent) {
    if !matches!(e, LiveEvent::TalkLevel { .. }) {
        tracing::debug!(event = ?e, "live event");
    }
    let _ = events.send(e);
}
