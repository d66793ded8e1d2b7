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
//! message, so the broker's rights (a viewer writes `eyrie/<device>/in/<itself>` only for
//! devices its user owns and reads only `eyrie/+/out/<itself>`; `docs/signalling.md`,
//! "Broker rights") decide who can talk as whom ([`topics`]).
//!
//! **Typed by direction.** The two topics carry two different vocabularies, and so do the
//! types ([`messages`]): [`ToCamera`] is everything a viewer may send (offer, restart,
//! candidate, heartbeat, control, bye) and [`ToViewer`] everything a camera may send (answer,
//! candidate, state, busy, error, bye). A side can only build what the other accepts, and
//! [`decode`] — generic over the direction it is asked for — refuses a message of the
//! other direction with [`SignallingError::WrongDirection`] before anyone matches on it.
//! So neither end has a "does not take this" branch: the compiler checks that each
//! handles exactly its own vocabulary. The wire is unchanged: one JSON object
//! `{"v": 1, "type": "...", ...}` per message, the same `type` names and fields in both
//! directions where they overlap (`candidate`, `bye`).
//!
//! Messages larger than [`MAX_MESSAGE_BYTES`], of another version, of an unknown type or
//! with out-of-range fields are refused by [`decode`] too ([`codec`]); receivers log and
//! drop them.
//!
//! End-to-end authentication does not rest on the broker ([`proof`]). The cloud's
//! [`crate::ticket`] is `head.sig` with `sig = HMAC-SHA256(device_secret, head)`; the
//! viewer got it over HTTPS and the camera can recompute `sig` from `head`. So `sig` is a
//! per-ticket secret that only the ticket holder and the device know, and it never goes
//! on the broker:
//!
//! - the offer carries the ticket's `head` and [`offer_proof`] = MAC(sig, session id,
//!   offer DTLS fingerprint): the camera knows the offer comes from the ticket holder, and
//!   a ticket seen on the broker cannot be reused by anyone else;
//! - the answer carries [`answer_proof`] = MAC(sig, session id, both fingerprints): the
//!   viewer knows the answer comes from the device, so a broker or another client cannot
//!   put itself in the middle of the DTLS handshake (the viewer refuses a forged answer).
//!
//! **Version 2** ([`seal`]) keeps all of that and hides it: each message travels as an
//! AES-256-GCM box under a per-session, per-direction key derived from `sig`, with a
//! sequence number that refuses replays, so the broker no longer reads SDPs, addresses or
//! controls. [`decode_wire`] reads either version; the inside of a box is a version-1
//! message checked by [`decode`]. Cameras take both versions, viewers send version 2.

pub mod codec;
pub mod messages;
pub mod proof;
pub mod seal;
pub mod topics;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use codec::{Message, SignallingError, decode, decode_wire, valid_session_id};
pub use messages::{Direction, Offer, Restart, ToCamera, ToViewer};
pub use proof::{
    answer_proof, offer_proof, restart_proof, sdp_fingerprint, split_ticket, ticket_key,
    verify_answer_proof, verify_offer_proof, verify_restart_proof,
};
pub use seal::{Incoming, MAX_INNER_BYTES, Opener, SEALED_VERSION, SealedBox, Sealer, clear_v2};

/// Version of the clear messages (and of what a version-2 box holds).
pub const SIGNALLING_VERSION: u32 = 1;
/// Largest message accepted, bytes (an SDP offer with three media is ~5 KiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest SDP accepted, bytes.
pub const MAX_SDP_BYTES: usize = 48 * 1024;
/// Largest ICE candidate line accepted, bytes.
pub const MAX_CANDIDATE_BYTES: usize = 1024;
/// Session ids: 8–64 characters from `[A-Za-z0-9_-]`.
pub const MAX_SESSION_ID_LEN: usize = 64;
/// Largest `proof` / `ticket_proof`, bytes.
pub const MAX_PROOF_BYTES: usize = 128;
/// Largest `reason` / `message`, bytes.
pub const MAX_TEXT_BYTES: usize = 1024;
/// Highest `sdp_mline_index` accepted.
pub const MAX_MLINE_INDEX: u32 = 16;
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

/// Machine-readable reasons in a [`ToViewer::Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The ticket is missing, malformed, badly signed, for another device, expired or replayed.
    AuthFailed,
    /// The camera has reached its session limit (also sent as [`ToViewer::Busy`]).
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
