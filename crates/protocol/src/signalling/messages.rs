//! The two vocabularies of signalling, one type per direction.
//!
//! ```text
//!   viewer ── ToCamera ──► <prefix>/in/<viewer>  ──► camera
//!          offer · restart · candidate · heartbeat · control · bye
//!   viewer ◄── ToViewer ── <prefix>/out/<viewer> ◄── camera
//!          answer · candidate · state · busy · error · bye
//! ```
//!
//! Both are serde enums tagged by `type` (like gst-plugins-rs' webrtc `protocol` crate's
//! incoming and outgoing messages), wrapped with the version by [`super::codec`]. The two
//! messages that go both ways, `candidate` and `bye`, have the same fields in both enums,
//! so their wire form does not depend on who sent them.

use serde::{Deserialize, Serialize};

use super::{Control, ErrorCode, Stream};

/// Which way a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Published by a viewer on `<prefix>/in/<viewer>`: [`ToCamera`].
    ViewerToCamera,
    /// Published by the camera on `<prefix>/out/<viewer>`: [`ToViewer`].
    CameraToViewer,
}

impl Direction {
    /// The wire `type`s of this direction, as `docs/signalling.md` lists them.
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            Direction::ViewerToCamera => &[
                "offer",
                "restart",
                "candidate",
                "heartbeat",
                "control",
                "bye",
            ],
            Direction::CameraToViewer => &["answer", "candidate", "state", "busy", "error", "bye"],
        }
    }

    /// The other way.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ViewerToCamera => Direction::CameraToViewer,
            Direction::CameraToViewer => Direction::ViewerToCamera,
        }
    }
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::ViewerToCamera => "viewer → camera",
            Direction::CameraToViewer => "camera → viewer",
        })
    }
}

/// A viewer's request to open a session: `{"v":1,"type":"offer",...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub session_id: String,
    /// The claims part of the cloud's ticket: everything before the `.` of its wire form
    /// ([`super::split_ticket`]). The signature stays with the viewer.
    pub ticket: String,
    /// [`super::offer_proof`] with the ticket's signature as key.
    pub ticket_proof: String,
    /// SDP offer: video `recvonly` (H.264), audio `sendrecv` (Opus; the viewer's track
    /// carries talk audio).
    pub sdp: String,
    /// Stream to start with.
    #[serde(default)]
    pub stream: Stream,
    /// Send the camera's audio from the start.
    #[serde(default = "yes")]
    pub audio: bool,
}

fn yes() -> bool {
    true
}

/// A viewer's new peer connection for a session that is already open
/// (`{"v":1,"type":"restart",...}`, `docs/signalling.md` §5.1): its network changed, or
/// its media stopped, so it made a fresh `webrtcbin` — new ICE credentials, new
/// candidates — and asks the camera for a fresh one too, in the same session, under the
/// same ticket. The camera answers with an ordinary `answer` (and `state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restart {
    pub session_id: String,
    /// 1 for the session's first restart, then 2, 3, …: the camera takes a restart only
    /// with a number above the last one it took (the offer counts as 0).
    pub generation: u32,
    /// [`super::restart_proof`] over the session, `generation` and this SDP's
    /// fingerprint, keyed with the ticket's signature.
    pub proof: String,
    /// SDP offer, as in [`Offer::sdp`].
    pub sdp: String,
}

/// Viewer → camera, on `<prefix>/in/<viewer>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToCamera {
    /// Open a session.
    Offer(Offer),
    /// Renegotiate an open session with a fresh peer connection (ICE restart).
    Restart(Restart),
    /// One trickled ICE candidate; an empty `candidate` means end of candidates.
    Candidate {
        session_id: String,
        sdp_mline_index: u32,
        candidate: String,
    },
    /// Every [`super::HEARTBEAT_INTERVAL_SECS`]: still here.
    Heartbeat { session_id: String },
    /// Change the session.
    Control {
        session_id: String,
        control: Control,
    },
    /// The viewer is gone; free everything.
    Bye {
        session_id: String,
        #[serde(default)]
        reason: String,
    },
}

/// Camera → viewer, on `<prefix>/out/<viewer>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToViewer {
    /// The session is accepted.
    Answer {
        session_id: String,
        sdp: String,
        /// [`super::answer_proof`] over this session, the answer's and the offer's
        /// fingerprints, keyed with the ticket's signature.
        proof: String,
    },
    /// One trickled ICE candidate; an empty `candidate` means end of candidates.
    Candidate {
        session_id: String,
        sdp_mline_index: u32,
        candidate: String,
    },
    /// The session's state after an offer or a control.
    State {
        session_id: String,
        stream: Stream,
        audio: bool,
        talk: bool,
    },
    /// Refused: the camera already serves `max_sessions` viewers.
    Busy {
        session_id: String,
        max_sessions: u32,
    },
    /// Refused or failed.
    Error {
        session_id: String,
        code: ErrorCode,
        #[serde(default)]
        message: String,
    },
    /// The camera ended the session; free everything.
    Bye {
        session_id: String,
        #[serde(default)]
        reason: String,
    },
}

impl ToCamera {
    /// The session this message belongs to.
    pub fn session_id(&self) -> &str {
        match self {
            ToCamera::Offer(o) => &o.session_id,
            ToCamera::Restart(r) => &r.session_id,
            ToCamera::Candidate { session_id, .. }
            | ToCamera::Heartbeat { session_id }
            | ToCamera::Control { session_id, .. }
            | ToCamera::Bye { session_id, .. } => session_id,
        }
    }

    /// The wire `type` name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ToCamera::Offer(_) => "offer",
            ToCamera::Restart(_) => "restart",
            ToCamera::Candidate { .. } => "candidate",
            ToCamera::Heartbeat { .. } => "heartbeat",
            ToCamera::Control { .. } => "control",
            ToCamera::Bye { .. } => "bye",
        }
    }

    /// The wire form, with the version field.
    pub fn encode(&self) -> Vec<u8> {
        super::codec::encode(self)
    }

    /// Parse and check a message a viewer sent ([`super::decode`]).
    pub fn decode(payload: &[u8]) -> Result<Self, super::SignallingError> {
        super::decode(payload)
    }
}

impl ToViewer {
    /// The session this message belongs to.
    pub fn session_id(&self) -> &str {
        match self {
            ToViewer::Answer { session_id, .. }
            | ToViewer::Candidate { session_id, .. }
            | ToViewer::State { session_id, .. }
            | ToViewer::Busy { session_id, .. }
            | ToViewer::Error { session_id, .. }
            | ToViewer::Bye { session_id, .. } => session_id,
        }
    }

    /// The wire `type` name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ToViewer::Answer { .. } => "answer",
            ToViewer::Candidate { .. } => "candidate",
            ToViewer::State { .. } => "state",
            ToViewer::Busy { .. } => "busy",
            ToViewer::Error { .. } => "error",
            ToViewer::Bye { .. } => "bye",
        }
    }

    /// The wire form, with the version field.
    pub fn encode(&self) -> Vec<u8> {
        super::codec::encode(self)
    }

    /// Parse and check a message the camera sent ([`super::decode`]).
    pub fn decode(payload: &[u8]) -> Result<Self, super::SignallingError> {
        super::decode(payload)
    }
}
