//! The wire form of a message and the checks every receiver makes.
//!
//! A payload is one JSON object: the version `v`, the `type`, then the message's fields
//! (`{"v":1,"type":"bye","session_id":"…","reason":"…"}`); [`encode`] writes exactly that
//! from a [`ToCamera`] or a [`ToViewer`]. [`decode`] checks, in this order, so that each
//! refusal says the most useful thing:
//!
//! ```text
//!   size ≤ 64 KiB ─► JSON with a numeric v ─► v = 1 ─► type of this direction ─► fields ─► ranges
//!      TooLarge         Malformed        UnsupportedVersion   UnknownType /      Malformed   BadField
//!                                                             WrongDirection
//! ```
//!
//! It is generic over the direction the caller receives ([`Message`]), so the camera asks
//! for `ToCamera` and the viewer for `ToViewer`; a message of the other direction is
//! refused with [`SignallingError::WrongDirection`], never handed over. Unknown fields are
//! ignored (fields are only ever added within a version).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{
    Direction, MAX_CANDIDATE_BYTES, MAX_MESSAGE_BYTES, MAX_MLINE_INDEX, MAX_PROOF_BYTES,
    MAX_SDP_BYTES, MAX_SESSION_ID_LEN, MAX_TEXT_BYTES, SIGNALLING_VERSION, ToCamera, ToViewer,
};

/// Why a message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignallingError {
    #[error("message of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("message is not valid JSON or lacks a field: {0}")]
    Malformed(String),
    #[error("signalling version {0} is not supported")]
    UnsupportedVersion(u32),
    #[error("message type {0:?} is unknown")]
    UnknownType(String),
    /// A known message, but one only the other side receives (e.g. an `answer` sent to
    /// a camera).
    #[error("message type {kind:?} goes {}; only {expected} messages are taken here", expected.reverse())]
    WrongDirection { kind: String, expected: Direction },
    #[error("field {0} is out of range")]
    BadField(&'static str),
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::ToCamera {}
    impl Sealed for super::ToViewer {}
}

/// One direction's messages: [`ToCamera`] or [`ToViewer`]. Sealed: there are exactly two.
pub trait Message: Serialize + DeserializeOwned + sealed::Sealed {
    /// Which way these messages go.
    const DIRECTION: Direction;
    /// The session this message belongs to.
    fn session_id(&self) -> &str;
    /// The wire `type` name, for logs.
    fn kind(&self) -> &'static str;
    /// Field ranges (`docs/signalling.md` §3).
    fn validate(&self) -> Result<(), SignallingError>;
}

impl Message for ToCamera {
    const DIRECTION: Direction = Direction::ViewerToCamera;

    fn session_id(&self) -> &str {
        ToCamera::session_id(self)
    }

    fn kind(&self) -> &'static str {
        ToCamera::kind(self)
    }

    fn validate(&self) -> Result<(), SignallingError> {
        check_session_id(self.session_id())?;
        match self {
            ToCamera::Offer(o) => {
                check_sdp(&o.sdp)?;
                if o.ticket.len() > crate::ticket::MAX_TICKET_LEN || o.ticket.contains('.') {
                    return Err(SignallingError::BadField("ticket"));
                }
                check_len(&o.ticket_proof, MAX_PROOF_BYTES, "ticket_proof")
            }
            ToCamera::Candidate {
                sdp_mline_index,
                candidate,
                ..
            } => check_candidate(*sdp_mline_index, candidate),
            ToCamera::Heartbeat { .. } | ToCamera::Control { .. } => Ok(()),
            ToCamera::Bye { reason, .. } => check_len(reason, MAX_TEXT_BYTES, "reason"),
        }
    }
}

impl Message for ToViewer {
    const DIRECTION: Direction = Direction::CameraToViewer;

    fn session_id(&self) -> &str {
        ToViewer::session_id(self)
    }

    fn kind(&self) -> &'static str {
        ToViewer::kind(self)
    }

    fn validate(&self) -> Result<(), SignallingError> {
        check_session_id(self.session_id())?;
        match self {
            ToViewer::Answer { sdp, proof, .. } => {
                check_sdp(sdp)?;
                check_len(proof, MAX_PROOF_BYTES, "proof")
            }
            ToViewer::Candidate {
                sdp_mline_index,
                candidate,
                ..
            } => check_candidate(*sdp_mline_index, candidate),
            ToViewer::State { .. } | ToViewer::Busy { .. } => Ok(()),
            ToViewer::Error { message, .. } => check_len(message, MAX_TEXT_BYTES, "message"),
            ToViewer::Bye { reason, .. } => check_len(reason, MAX_TEXT_BYTES, "reason"),
        }
    }
}

fn check_session_id(id: &str) -> Result<(), SignallingError> {
    if valid_session_id(id) {
        Ok(())
    } else {
        Err(SignallingError::BadField("session_id"))
    }
}

fn check_sdp(sdp: &str) -> Result<(), SignallingError> {
    if sdp.is_empty() {
        return Err(SignallingError::BadField("sdp"));
    }
    check_len(sdp, MAX_SDP_BYTES, "sdp")
}

fn check_candidate(sdp_mline_index: u32, candidate: &str) -> Result<(), SignallingError> {
    check_len(candidate, MAX_CANDIDATE_BYTES, "candidate")?;
    if sdp_mline_index > MAX_MLINE_INDEX {
        return Err(SignallingError::BadField("sdp_mline_index"));
    }
    Ok(())
}

fn check_len(s: &str, max: usize, field: &'static str) -> Result<(), SignallingError> {
    if s.len() > max {
        Err(SignallingError::BadField(field))
    } else {
        Ok(())
    }
}

/// True for 8–64 characters from `[A-Za-z0-9_-]`.
pub fn valid_session_id(id: &str) -> bool {
    (8..=MAX_SESSION_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Serialize, Deserialize)]
struct Envelope<M> {
    v: u32,
    #[serde(flatten)]
    msg: M,
}

/// What is read before the body: the version (so a future version with new types is
/// reported as such) and the type (so a message of the other direction is named as such).
#[derive(Deserialize)]
struct Header {
    v: u32,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The wire form of `msg`: `{"v":1,"type":…,…}`.
pub(super) fn encode<M: Serialize>(msg: &M) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        v: SIGNALLING_VERSION,
        msg,
    })
    .expect("signalling messages always serialize")
}

/// Parse and check one message of direction `M`: size first, then JSON, version, type
/// and field ranges. The camera calls it for [`ToCamera`], the viewer for [`ToViewer`].
pub fn decode<M: Message>(payload: &[u8]) -> Result<M, SignallingError> {
    if payload.len() > MAX_MESSAGE_BYTES {
        return Err(SignallingError::TooLarge(payload.len()));
    }
    let malformed = |e: serde_json::Error| SignallingError::Malformed(e.to_string());
    let head: Header = serde_json::from_slice(payload).map_err(malformed)?;
    if head.v != SIGNALLING_VERSION {
        return Err(SignallingError::UnsupportedVersion(head.v));
    }
    // A missing `type` is left to the body's parse, which names the field.
    if let Some(kind) = head.kind {
        let expected = M::DIRECTION;
        if !expected.kinds().contains(&kind.as_str()) {
            return Err(if expected.reverse().kinds().contains(&kind.as_str()) {
                SignallingError::WrongDirection { kind, expected }
            } else {
                SignallingError::UnknownType(kind)
            });
        }
    }
    let env: Envelope<M> = serde_json::from_slice(payload).map_err(malformed)?;
    env.msg.validate()?;
    Ok(env.msg)
}
