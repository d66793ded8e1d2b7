//! MQTT signalling between a viewer and a camera (`docs/signalling.md`).
//!
//! A live session is negotiated over the MQTT broker the cloud names; media then flows
//! peer to peer over WebRTC. Everything here is plain data plus the topic scheme:
//!
//! ```text
//!   viewer                        broker                         camera
//!     │ publish <prefix>/in/<viewer>   │   subscribe <prefix>/in/+   │
//!     │ ── offer{ticket, sdp} ───────► │ ──────────────────────────► │ verify ticket, limit
//!     │ ◄────────────────────────────  │ ◄── answer{sdp, proof} ──── │ (or busy / error)
//!     │   subscribe <prefix>/out/<viewer>   publish <prefix>/out/<viewer>
//!     │ ◄──── candidate ──────────────────────── candidate ────────► │ trickle ICE
//!     │ ── heartbeat / control / bye ───────────────────────────────►│
//!                                     <prefix>/status  (retained "online"/"offline", LWT)
//! ```
//!
//! `<prefix>` is the device's topic prefix from the cloud (`eyrie/<device_id>`), `<viewer>`
//! the viewer's MQTT user name. The camera always answers on the `out` topic named by the
//! last level of the topic the message came in on, never on an address found in the
//! message, so broker ACLs (`pattern write eyrie/+/in/%u`, `pattern read eyrie/+/out/%u`)
//! decide who can talk as whom.
//!
//! Every message is one JSON object `{"v": 1, "type": "...", ...}`. Messages larger than
//! [`MAX_MESSAGE_BYTES`], of another version, of an unknown type or with out-of-range
//! fields are refused by [`decode`]; receivers log and drop them.
//!
//! End-to-end authentication does not rest on the broker. The cloud's [`crate::ticket`]
//! is `head.sig` with `sig = HMAC-SHA256(device_secret, head)`; the viewer got it over
//! HTTPS and the camera can recompute `sig` from `head`. So `sig` is a per-ticket secret
//! that only the ticket holder and the device know, and it never goes on the broker:
//!
//! - the offer carries the ticket's `head` and [`offer_proof`] = MAC(sig, session id,
//!   offer DTLS fingerprint): the camera knows the offer comes from the ticket holder, and
//!   a ticket seen on the broker cannot be reused by anyone else;
//! - the answer carries [`answer_proof`] = MAC(sig, session id, both fingerprints): the
//!   viewer knows the answer comes from the device, so a broker or another client cannot
//!   put itself in the middle of the DTLS handshake (the viewer refuses a forged answer).

use serde::{Deserialize, Serialize};

/// Version of the messages this code writes and accepts.
pub const SIGNALLING_VERSION: u32 = 1;
/// Largest message accepted, bytes (an SDP offer with three media is ~5 KiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest SDP accepted, bytes.
pub const MAX_SDP_BYTES: usize = 48 * 1024;
/// Largest ICE candidate line accepted, bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// Session ids: 8–64 characters from `[A-Za-z0-9_-]`.
pub const MAX_SESSION_ID_LEN: usize = 64;
/// Seconds between viewer heartbeats.
pub const HEARTBEAT_INTERVAL_SECS: u64 = 10;
/// Seconds without a heartbeat (or any message) after which the camera ends a session.
pub const HEARTBEAT_TIMEOUT_SECS: u64 = 30;
/// Seconds without media flowing after which the camera ends a session (seed: 20 min).
pub const NO_DATA_TIMEOUT_SECS: u64 = 20 * 60;

/// The `message` of an `error` with code [`ErrorCode::Privacy`].
pub const PRIVACY_MESSAGE: &str = "privacy mode on";

/// Which encoded stream a session watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// The sub stream, 640×360.
    #[default]
    Sd,
    /// The main stream, 1280×720.
    Hd,
}

/// Machine-readable reasons in an [`Message::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The ticket is missing, malformed, badly signed, for another device, expired or replayed.
    AuthFailed,
    /// The camera has reached its session limit (also sent as [`Message::Busy`]).
    Busy,
    /// The camera is not connected (sent by viewers' own logic, never by a camera).
    Offline,
    /// The message could not be understood (bad SDP, unknown session…).
    BadRequest,
    /// The camera failed on its side (pipeline error).
    Internal,
    /// The owner has paused the camera for privacy: no picture and no sound leave it until
    /// privacy mode is turned off. Sent for an offer while paused, and to every open
    /// session when the pause starts (the camera then frees the session).
    Privacy,
    /// A code this side does not know yet.
    #[serde(other)]
    Unknown,
}

/// A viewer's request to change the running session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Control {
    /// Switch to the other stream; takes effect at its next keyframe, no renegotiation.
    SetStream { stream: Stream },
    /// Send the camera's audio or not.
    Audio { on: bool },
    /// Start or stop two-way talk: the camera plays what arrives on the viewer's audio
    /// track only between `talk {on: true}` and `talk {on: false}`.
    Talk { on: bool },
}

/// One signalling message. On the wire: `{"v":1,"type":"offer",...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    /// Viewer → camera: open a session.
    Offer {
        session_id: String,
        /// The claims part of the cloud's ticket: everything before the `.` of its wire
        /// form ([`split_ticket`]). The signature stays with the viewer.
        ticket: String,
        /// [`offer_proof`] with the ticket's signature as key.
        ticket_proof: String,
        /// SDP offer: video `recvonly` (H.264), audio `sendrecv` (Opus; the viewer's
        /// track carries talk audio).
        sdp: String,
        /// Stream to start with.
        #[serde(default)]
        stream: Stream,
        /// Send the camera's audio from the start.
        #[serde(default = "yes")]
        audio: bool,
    },
    /// Camera → viewer: the session is accepted.
    Answer {
        session_id: String,
        sdp: String,
        /// [`answer_proof`] over this session, the answer's and the offer's fingerprints,
        /// keyed with the ticket's signature.
        proof: String,
    },
    /// Either way: one trickled ICE candidate; an empty `candidate` means end of candidates.
    Candidate {
        session_id: String,
        sdp_mline_index: u32,
        candidate: String,
    },
    /// Either way: the session is over; free everything.
    Bye {
        session_id: String,
        #[serde(default)]
        reason: String,
    },
    /// Camera → viewer: refused, the camera already serves `max_sessions` viewers.
    Busy {
        session_id: String,
        max_sessions: u32,
    },
    /// Camera → viewer: refused or failed.
    Error {
        session_id: String,
        code: ErrorCode,
        #[serde(default)]
        message: String,
    },
    /// Viewer → camera, every [`HEARTBEAT_INTERVAL_SECS`]: still here.
    Heartbeat { session_id: String },
    /// Viewer → camera: change the session.
    Control {
        session_id: String,
        control: Control,
    },
    /// Camera → viewer: the session's state after an offer or a control.
    State {
        session_id: String,
        stream: Stream,
        audio: bool,
        talk: bool,
    },
}

fn yes() -> bool {
    true
}

#[derive(Serialize, Deserialize)]
struct Envelope<M> {
    v: u32,
    #[serde(flatten)]
    msg: M,
}

/// Why a message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignallingError {
    #[error("message of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("message is not valid JSON or has an unknown type: {0}")]
    Malformed(String),
    #[error("signalling version {0} is not supported")]
    UnsupportedVersion(u32),
    #[error("field {0} is out of range")]
    BadField(&'static str),
}

impl Message {
    /// The session this message belongs to.
    pub fn session_id(&self) -> &str {
        match self {
            Message::Offer { session_id, .. }
            | Message::Answer { session_id, .. }
            | Message::Candidate { session_id, .. }
            | Message::Bye { session_id, .. }
            | Message::Busy { session_id, .. }
            | Message::Error { session_id, .. }
            | Message::Heartbeat { session_id }
            | Message::Control { session_id, .. }
            | Message::State { session_id, .. } => session_id,
        }
    }

    /// The wire `type` name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Offer { .. } => "offer",
            Message::Answer { .. } => "answer",
            Message::Candidate { .. } => "candidate",
            Message::Bye { .. } => "bye",
            Message::Busy { .. } => "busy",
            Message::Error { .. } => "error",
            Message::Heartbeat { .. } => "heartbeat",
            Message::Control { .. } => "control",
            Message::State { .. } => "state",
        }
    }

    /// Serialize with the version field.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(&Envelope {
            v: SIGNALLING_VERSION,
            msg: self,
        })
        .expect("signalling messages always serialize")
    }

    fn validate(&self) -> Result<(), SignallingError> {
        if !valid_session_id(self.session_id()) {
            return Err(SignallingError::BadField("session_id"));
        }
        match self {
            Message::Offer {
                sdp,
                ticket,
                ticket_proof,
                ..
            } => {
                if sdp.len() > MAX_SDP_BYTES || sdp.is_empty() {
                    return Err(SignallingError::BadField("sdp"));
                }
                if ticket.len() > crate::ticket::MAX_TICKET_LEN || ticket.contains('.') {
                    return Err(SignallingError::BadField("ticket"));
                }
                if ticket_proof.len() > 128 {
                    return Err(SignallingError::BadField("ticket_proof"));
                }
            }
            Message::Answer { sdp, proof, .. } => {
                if sdp.len() > MAX_SDP_BYTES || sdp.is_empty() {
                    return Err(SignallingError::BadField("sdp"));
                }
                if proof.len() > 128 {
                    return Err(SignallingError::BadField("proof"));
                }
            }
            Message::Candidate {
                candidate,
                sdp_mline_index,
                ..
            } => {
                if candidate.len() > MAX_CANDIDATE_BYTES {
                    return Err(SignallingError::BadField("candidate"));
                }
                if *sdp_mline_index > 16 {
                    return Err(SignallingError::BadField("sdp_mline_index"));
                }
            }
            Message::Bye { reason, .. }
            | Message::Error {
                message: reason, ..
            } if reason.len() > 1024 => {
                return Err(SignallingError::BadField("message"));
            }
            _ => {}
        }
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

/// Parse and check one message: size first, then JSON, version, type and field ranges.
pub fn decode(payload: &[u8]) -> Result<Message, SignallingError> {
    if payload.len() > MAX_MESSAGE_BYTES {
        return Err(SignallingError::TooLarge(payload.len()));
    }
    // Read the version before the body so a future version with new types is reported
    // as such rather than as "unknown type".
    #[derive(Deserialize)]
    struct V {
        v: u32,
    }
    let v: V =
        serde_json::from_slice(payload).map_err(|e| SignallingError::Malformed(e.to_string()))?;
    if v.v != SIGNALLING_VERSION {
        return Err(SignallingError::UnsupportedVersion(v.v));
    }
    let env: Envelope<Message> =
        serde_json::from_slice(payload).map_err(|e| SignallingError::Malformed(e.to_string()))?;
    env.msg.validate()?;
    Ok(env.msg)
}

/// Split a ticket's wire form into the claims part (sent in the offer) and the decoded
/// signature (the per-ticket key the viewer keeps). `None` if it is not `head.sig`.
pub fn split_ticket(ticket: &str) -> Option<(&str, Vec<u8>)> {
    use base64::Engine as _;
    let (head, sig) = ticket.split_once('.')?;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .ok()?;
    Some((head, key))
}

/// The camera's side of [`split_ticket`]: the per-ticket key for a claims part,
/// `HMAC-SHA256(device_secret, head)`, and the full ticket to [`crate::ticket::verify`].
pub fn ticket_key(device_secret: &[u8], head: &str) -> (Vec<u8>, String) {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(device_secret)
        .expect("HMAC takes keys of any length");
    m.update(head.as_bytes());
    let key = m.finalize().into_bytes().to_vec();
    let full = format!(
        "{head}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key)
    );
    (key, full)
}

/// The viewer's proof in an offer: `device_proof(key, ["eyrie-offer/1", session_id,
/// offer_fingerprint])` with `key` the ticket's signature. Fingerprints are the
/// `a=fingerprint:` values of the SDPs (e.g. `sha-256 AB:CD:…`), see [`sdp_fingerprint`].
pub fn offer_proof(key: &[u8], session_id: &str, offer_fingerprint: &str) -> String {
    crate::ticket::device_proof(key, &["eyrie-offer/1", session_id, offer_fingerprint])
}

/// Check an [`offer_proof`].
pub fn verify_offer_proof(
    key: &[u8],
    session_id: &str,
    offer_fingerprint: &str,
    proof: &str,
) -> bool {
    crate::ticket::verify_device_proof(
        key,
        &["eyrie-offer/1", session_id, offer_fingerprint],
        proof,
    )
}

/// The device's proof in an answer: `device_proof(key, ["eyrie-answer/1", session_id,
/// answer_fingerprint, offer_fingerprint])` with `key` the ticket's signature.
pub fn answer_proof(
    key: &[u8],
    session_id: &str,
    answer_fingerprint: &str,
    offer_fingerprint: &str,
) -> String {
    crate::ticket::device_proof(
        key,
        &[
            "eyrie-answer/1",
            session_id,
            answer_fingerprint,
            offer_fingerprint,
        ],
    )
}

/// Check an [`answer_proof`].
pub fn verify_answer_proof(
    key: &[u8],
    session_id: &str,
    answer_fingerprint: &str,
    offer_fingerprint: &str,
    proof: &str,
) -> bool {
    crate::ticket::verify_device_proof(
        key,
        &[
            "eyrie-answer/1",
            session_id,
            answer_fingerprint,
            offer_fingerprint,
        ],
        proof,
    )
}

/// The first `a=fingerprint:` value of an SDP (session or media level), trimmed.
pub fn sdp_fingerprint(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim().strip_prefix("a=fingerprint:"))
        .map(str::trim)
}

/// Topics, all under the device's prefix (`eyrie/<device_id>`).
pub mod topics {
    /// What the camera subscribes to: every viewer's inbox to it.
    pub fn device_inbox_filter(prefix: &str) -> String {
        format!("{prefix}/in/+")
    }
    /// Where viewer `viewer` (its MQTT user name) publishes to the camera.
    pub fn to_device(prefix: &str, viewer: &str) -> String {
        format!("{prefix}/in/{viewer}")
    }
    /// Where the camera publishes to viewer `viewer` (and what that viewer subscribes to).
    pub fn to_viewer(prefix: &str, viewer: &str) -> String {
        format!("{prefix}/out/{viewer}")
    }
    /// The device's retained presence topic: `online` / `offline` (last will).
    pub fn status(prefix: &str) -> String {
        format!("{prefix}/status")
    }
    /// The viewer a message to the camera came from: the last level of `<prefix>/in/<viewer>`.
    pub fn sender<'a>(prefix: &str, topic: &'a str) -> Option<&'a str> {
        let rest = topic.strip_prefix(prefix)?.strip_prefix("/in/")?;
        (!rest.is_empty() && !rest.contains(['/', '+', '#'])).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer() -> Message {
        Message::Offer {
            session_id: "abcdefgh1234".into(),
            ticket: "t".into(),
            ticket_proof: "p".into(),
            sdp: "v=0\r\na=fingerprint:sha-256 AA:BB\r\n".into(),
            stream: Stream::Hd,
            audio: true,
        }
    }

    #[test]
    fn round_trip_and_wire_form() {
        let m = offer();
        let raw = m.encode();
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["type"], "offer");
        assert_eq!(v["stream"], "hd");
        assert_eq!(decode(&raw).unwrap(), m);
        let c = Message::Control {
            session_id: "abcdefgh1234".into(),
            control: Control::SetStream { stream: Stream::Sd },
        };
        let raw = c.encode();
        assert!(String::from_utf8_lossy(&raw).contains(r#""action":"set_stream""#));
        assert_eq!(decode(&raw).unwrap(), c);
    }

    #[test]
    fn privacy_error_wire_form() {
        let m = Message::Error {
            session_id: "abcdefgh1234".into(),
            code: ErrorCode::Privacy,
            message: "privacy mode on".into(),
        };
        let raw = m.encode();
        assert!(String::from_utf8_lossy(&raw).contains(r#""code":"privacy""#));
        assert_eq!(decode(&raw).unwrap(), m);
    }

    #[test]
    fn refusals() {
        assert!(matches!(decode(b"{"), Err(SignallingError::Malformed(_))));
        assert!(matches!(
            decode(br#"{"v":1,"type":"launch","session_id":"abcdefgh"}"#),
            Err(SignallingError::Malformed(_))
        ));
        assert_eq!(
            decode(br#"{"v":2,"type":"bye","session_id":"abcdefgh"}"#),
            Err(SignallingError::UnsupportedVersion(2))
        );
        assert_eq!(
            decode(br#"{"v":1,"type":"bye","session_id":"a/b"}"#),
            Err(SignallingError::BadField("session_id"))
        );
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(decode(&big), Err(SignallingError::TooLarge(_))));
        let m = Message::Candidate {
            session_id: "abcdefgh".into(),
            sdp_mline_index: 0,
            candidate: "x".repeat(MAX_CANDIDATE_BYTES + 1),
        };
        assert_eq!(
            decode(&m.encode()),
            Err(SignallingError::BadField("candidate"))
        );
        // Unknown extra fields are ignored (fields are only ever added).
        assert!(decode(br#"{"v":1,"type":"heartbeat","session_id":"abcdefgh","x":1}"#).is_ok());
    }

    #[test]
    fn ticket_key_matches_the_cloud_signature() {
        let t = crate::ticket::TicketClaims::new("u", "d", 2_000).sign(b"secret");
        let (head, key) = split_ticket(&t).unwrap();
        let (key2, full) = ticket_key(b"secret", head);
        assert_eq!(key, key2);
        assert_eq!(full, t);
        let p = offer_proof(&key, "abcdefgh", "sha-256 AA");
        assert!(verify_offer_proof(&key2, "abcdefgh", "sha-256 AA", &p));
        let (other, _) = ticket_key(b"wrong", head);
        assert!(!verify_offer_proof(&other, "abcdefgh", "sha-256 AA", &p));
    }

    #[test]
    fn proof_and_topics() {
        let p = answer_proof(b"s", "abcdefgh", "sha-256 AA", "sha-256 BB");
        assert!(verify_answer_proof(
            b"s",
            "abcdefgh",
            "sha-256 AA",
            "sha-256 BB",
            &p
        ));
        assert!(!verify_answer_proof(
            b"s",
            "abcdefgh",
            "sha-256 AB",
            "sha-256 BB",
            &p
        ));
        assert!(!verify_answer_proof(
            b"t",
            "abcdefgh",
            "sha-256 AA",
            "sha-256 BB",
            &p
        ));
        assert_eq!(
            sdp_fingerprint("v=0\r\na=fingerprint:sha-256 AA:BB\r\n"),
            Some("sha-256 AA:BB")
        );
        assert_eq!(topics::sender("eyrie/d", "eyrie/d/in/u1"), Some("u1"));
        assert_eq!(topics::sender("eyrie/d", "eyrie/d/out/u1"), None);
        assert_eq!(topics::sender("eyrie/d", "eyrie/d/in/u1/x"), None);
    }
}
