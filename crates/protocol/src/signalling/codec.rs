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

use super::seal::{BoxWire, Incoming, SEALED_VERSION};
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
    /// Version 2: the box does not open under this session's key (wrong key, tampered,
    /// truncated, or its clear fields were changed).
    #[error("sealed box does not open")]
    Unopenable,
    /// Version 2: a sequence number not above the last one accepted.
    #[error("sealed box {seq} replayed (last accepted {last})")]
    Replayed { seq: u64, last: u64 },
    /// Version 2: the opened message's field differs from the clear one.
    #[error("sealed message's {0} differs from the clear one")]
    Mismatch(&'static str),
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
    /// An offer's ticket head (which version 2 carries in clear too).
    fn offer_ticket(&self) -> Option<&str>;
    /// Whether version 2 lets this message go in clear ([`super::seal::clear_v2`]).
    fn may_go_clear(&self) -> bool;
}

impl Message for ToCamera {
    const DIRECTION: Direction = Direction::ViewerToCamera;

    fn session_id(&self) -> &str {
        ToCamera::session_id(self)
    }

    fn kind(&self) -> &'static str {
        ToCamera::kind(self)
    }

    fn offer_ticket(&self) -> Option<&str> {
        match self {
            ToCamera::Offer(o) => Some(&o.ticket),
            _ => None,
        }
    }

    fn may_go_clear(&self) -> bool {
        ToCamera::may_go_clear(self)
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
            ToCamera::Restart(r) => {
                check_sdp(&r.sdp)?;
                if r.generation == 0 {
                    return Err(SignallingError::BadField("generation"));
                }
                check_len(&r.proof, MAX_PROOF_BYTES, "proof")
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

    fn offer_ticket(&self) -> Option<&str> {
        None
    }

    fn may_go_clear(&self) -> bool {
        ToViewer::may_go_clear(self)
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
    encode_version(msg, SIGNALLING_VERSION)
}

/// `msg` with version `v` (2 only for [`super::seal::clear_v2`]).
pub(super) fn encode_version<M: Serialize>(msg: &M, v: u32) -> Vec<u8> {
    serde_json::to_vec(&Envelope { v, msg }).expect("signalling messages always serialize")
}

/// Parse and check one version-1 message of direction `M`: size first, then JSON,
/// version, type and field ranges. The inside of every version-2 box is checked with it
/// too ([`super::seal::Opener::open`]).
pub fn decode<M: Message>(payload: &[u8]) -> Result<M, SignallingError> {
    let head = header(payload)?;
    if head.v != SIGNALLING_VERSION {
        return Err(SignallingError::UnsupportedVersion(head.v));
    }
    body::<M>(payload, head.kind)
}

/// Parse and check one message of either version as it arrives on a topic: the same
/// order as [`decode`], the version deciding between a version-1 message, the one clear
/// version-2 message ([`Incoming::ClearV2`]) and a box. The camera calls it for
/// [`ToCamera`], the viewer for [`ToViewer`]; a box is opened by the session's
/// [`super::seal::Opener`].
pub fn decode_wire<M: Message>(payload: &[u8]) -> Result<Incoming<M>, SignallingError> {
    let head = header(payload)?;
    match head.v {
        SIGNALLING_VERSION => body(payload, head.kind).map(Incoming::V1),
        SEALED_VERSION => {
            let kind = head.kind.unwrap_or_default();
            let offer = M::DIRECTION == Direction::ViewerToCamera && kind == "offer";
            if kind == "sealed" || offer {
                let wire: BoxWire = serde_json::from_slice(payload)
                    .map_err(|e| SignallingError::Malformed(e.to_string()))?;
                return wire.into_box().map(Incoming::Sealed);
            }
            let msg: M = body(payload, Some(kind))?;
            if !msg.may_go_clear() {
                return Err(SignallingError::BadField("type"));
            }
            Ok(Incoming::ClearV2(msg))
        }
        v => Err(SignallingError::UnsupportedVersion(v)),
    }
}

/// Size, then the version and type.
fn header(payload: &[u8]) -> Result<Header, SignallingError> {
    if payload.len() > MAX_MESSAGE_BYTES {
        return Err(SignallingError::TooLarge(payload.len()));
    }
    serde_json::from_slice(payload).map_err(|e| SignallingError::Malformed(e.to_string()))
}

/// Type of this direction, then the fields and their ranges.
fn body<M: Message>(payload: &[u8], kind: Option<String>) -> Result<M, SignallingError> {
    // A missing `type` is left to the body's parse, which names the field.
    if let Some(kind) = kind {
        let expected = M::DIRECTION;
        if !expected.kinds().contains(&kind.as_str()) {
            return Err(if expected.reverse().kinds().contains(&kind.as_str()) {
                SignallingError::WrongDirection { kind, expected }
            } else {
                SignallingError::UnknownType(kind)
            });
        }
    }
    let env: Envelope<M> =
        serde_json::from_slice(payload).map_err(|e| SignallingError::Malformed(e.to_string()))?;
    env.msg.validate()?;
    Ok(env.msg)
}
