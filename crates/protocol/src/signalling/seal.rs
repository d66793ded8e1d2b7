//! Version 2: every message in an AEAD box, so the broker sees who talks to whom and
//! when, but no SDP, no address and no control (`docs/signalling.md` §7).
//!
//! ```text
//!   K (32 bytes, the ticket's sig)            salt = session_id
//!     └─ HKDF-SHA256 ─┬─ info "eyrie-sig/2 viewer-to-camera" ─► AES-256-GCM key (ToCamera)
//!                     └─ info "eyrie-sig/2 camera-to-viewer" ─► AES-256-GCM key (ToViewer)
//!
//!   inner  = the version-1 JSON of the message ({"v":1,"type":"candidate",…}), ≤ 46 KiB
//!   nonce  = 00 00 00 00 ‖ seq (u64 big-endian)      seq: 0, 1, 2, … per direction
//!   aad    = frame(["eyrie-sig/2", type, session_id, seq in decimal, ticket head or ""])
//!   wire   = {"v":2,"type":"sealed","session_id":…,"seq":…,"box":base64url(ct ‖ tag)}
//!            {"v":2,"type":"offer","session_id":…,"ticket":<head>,"seq":…,"box":…}
//! ```
//!
//! A [`Sealer`] and an [`Opener`] are typed by the direction they carry, like the rest
//! of signalling: a viewer holds a `Sealer<ToCamera>` and an `Opener<ToViewer>`, a
//! camera the reverse, and the key follows from the type, so a side cannot seal with the
//! other direction's key. [`Opener::open`] checks, in order: the session, the sequence
//! number (a number not above the last one accepted is a replay, refused before any
//! cryptography), the tag (wrong key, tampered or truncated box), then the inner message
//! with every version-1 check of [`super::decode`], and that its `session_id` (and an
//! offer's `ticket`) are the clear ones. Only a message that passes all of that moves the
//! sequence number on, so junk can neither end a session nor make it skip good messages.
//!
//! The keys are per session (the session id is HKDF's salt), so a sequence number never
//! repeats under one key even when a viewer offers twice with one ticket.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::codec::{Message, SignallingError};
use super::{Direction, ToCamera, ToViewer};

/// The version of sealed signalling.
pub const SEALED_VERSION: u32 = 2;
/// Largest inner (version-1) message a box may hold: its box in base64url plus the clear
/// fields stays under [`super::MAX_MESSAGE_BYTES`] (46 KiB + 16 → 62,827 characters,
/// leaving 2.7 KiB for a 1 KiB ticket head, a 64-character session id and the rest).
pub const MAX_INNER_BYTES: usize = 46 * 1024;
/// AES-GCM tag length.
const TAG_BYTES: usize = 16;
/// HKDF `info` of the key for viewer → camera messages.
pub const INFO_VIEWER_TO_CAMERA: &str = "eyrie-sig/2 viewer-to-camera";
/// HKDF `info` of the key for camera → viewer messages.
pub const INFO_CAMERA_TO_VIEWER: &str = "eyrie-sig/2 camera-to-viewer";
/// First part of every box's associated data.
pub const AAD_LABEL: &str = "eyrie-sig/2";

/// The key for one direction of one session: HKDF-SHA256 with the session id as salt,
/// `key` (K, the ticket's decoded signature) as input keying material, and the
/// direction's info string; 32 bytes.
pub fn direction_key(key: &[u8], session_id: &str, direction: Direction) -> [u8; 32] {
    let info = match direction {
        Direction::ViewerToCamera => INFO_VIEWER_TO_CAMERA,
        Direction::CameraToViewer => INFO_CAMERA_TO_VIEWER,
    };
    let mut okm = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(Some(session_id.as_bytes()), key)
        .expand(info.as_bytes(), &mut okm)
        .expect("32 bytes is a valid HKDF-SHA256 length");
    okm
}

/// The 96-bit nonce of box `seq`: four zero bytes, then `seq` big-endian.
fn nonce(seq: u64) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&seq.to_be_bytes());
    Nonce::from(n)
}

/// The associated data of a box: its clear fields, framed as the proofs frame their
/// parts (each part's length as a big-endian u64, then its bytes).
pub fn associated_data(kind: &str, session_id: &str, seq: u64, ticket: &str) -> Vec<u8> {
    crate::ticket::frame(&[AAD_LABEL, kind, session_id, &seq.to_string(), ticket])
}

/// A version-2 message as it arrives: the clear fields and the box, not yet opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBox {
    pub session_id: String,
    pub seq: u64,
    /// The ticket head, for an `offer` (the camera needs it to find the key).
    pub ticket: Option<String>,
    sealed: Vec<u8>,
}

impl SealedBox {
    /// The wire `type`: `offer` or `sealed`.
    pub fn kind(&self) -> &'static str {
        if self.ticket.is_some() {
            "offer"
        } else {
            "sealed"
        }
    }
}

/// The wire form of a version-2 box.
#[derive(Serialize, Deserialize)]
pub(super) struct BoxWire {
    pub v: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    pub seq: u64,
    #[serde(rename = "box")]
    pub sealed: String,
}

impl BoxWire {
    /// Range checks, then the box decoded. `type` is already known to be `sealed` or
    /// `offer` (with a ticket) of the receiving direction.
    pub(super) fn into_box(self) -> Result<SealedBox, SignallingError> {
        if !super::valid_session_id(&self.session_id) {
            return Err(SignallingError::BadField("session_id"));
        }
        match (&self.ticket, self.kind.as_str()) {
            (Some(t), "offer")
                if t.len() <= crate::ticket::MAX_TICKET_LEN
                    && !t.contains('.')
                    && !t.is_empty() => {}
            (None, "sealed") => {}
            _ => return Err(SignallingError::BadField("ticket")),
        }
        // base64 grows 4/3: anything longer cannot hold an allowed inner message.
        if self.sealed.len() > (MAX_INNER_BYTES + TAG_BYTES).div_ceil(3) * 4 {
            return Err(SignallingError::BadField("box"));
        }
        let sealed = URL_SAFE_NO_PAD
            .decode(&self.sealed)
            .map_err(|_| SignallingError::BadField("box"))?;
        if sealed.len() < TAG_BYTES {
            return Err(SignallingError::BadField("box"));
        }
        Ok(SealedBox {
            session_id: self.session_id,
            seq: self.seq,
            ticket: self.ticket,
            sealed,
        })
    }
}

/// Seals one session's messages of direction `M` (its own key and sequence numbers).
pub struct Sealer<M: Message> {
    cipher: Aes256Gcm,
    session_id: String,
    next_seq: u64,
    _direction: std::marker::PhantomData<fn(M)>,
}

impl<M: Message> Sealer<M> {
    /// The sealer of session `session_id` under the ticket key `key` (K).
    pub fn new(key: &[u8], session_id: &str) -> Self {
        Self {
            cipher: Aes256Gcm::new(&direction_key(key, session_id, M::DIRECTION).into()),
            session_id: session_id.to_owned(),
            next_seq: 0,
            _direction: std::marker::PhantomData,
        }
    }

    /// The wire form of `msg` in a box with the next sequence number. Refused if the
    /// message is of another session or its version-1 form is over [`MAX_INNER_BYTES`].
    pub fn seal(&mut self, msg: &M) -> Result<Vec<u8>, SignallingError> {
        if msg.session_id() != self.session_id {
            return Err(SignallingError::BadField("session_id"));
        }
        let inner = super::codec::encode(msg);
        if inner.len() > MAX_INNER_BYTES {
            return Err(SignallingError::TooLarge(inner.len()));
        }
        Ok(self.seal_inner(&inner, msg.offer_ticket()))
    }

    /// Box `inner` (checked) with the next sequence number.
    fn seal_inner(&mut self, inner: &[u8], ticket: Option<&str>) -> Vec<u8> {
        let seq = self.next_seq;
        let kind = if ticket.is_some() { "offer" } else { "sealed" };
        let aad = associated_data(kind, &self.session_id, seq, ticket.unwrap_or(""));
        let sealed = self
            .cipher
            .encrypt(
                &nonce(seq),
                Payload {
                    msg: inner,
                    aad: &aad,
                },
            )
            .expect("AES-GCM seals any message under 64 GiB");
        self.next_seq += 1;
        serde_json::to_vec(&BoxWire {
            v: SEALED_VERSION,
            kind: kind.to_owned(),
            session_id: self.session_id.clone(),
            ticket: ticket.map(str::to_owned),
            seq,
            sealed: URL_SAFE_NO_PAD.encode(sealed),
        })
        .expect("a box always serializes")
    }
}

/// Opens one session's boxes of direction `M` and refuses replays.
pub struct Opener<M: Message> {
    cipher: Aes256Gcm,
    session_id: String,
    /// The highest sequence number accepted so far.
    last_seq: Option<u64>,
    _direction: std::marker::PhantomData<fn() -> M>,
}

impl<M: Message> Opener<M> {
    /// The opener of session `session_id` under the ticket key `key` (K).
    pub fn new(key: &[u8], session_id: &str) -> Self {
        Self {
            cipher: Aes256Gcm::new(&direction_key(key, session_id, M::DIRECTION).into()),
            session_id: session_id.to_owned(),
            last_seq: None,
            _direction: std::marker::PhantomData,
        }
    }

    /// Open `b`: session, replay, tag, then the inner message's own checks. Nothing
    /// changes unless it succeeds.
    pub fn open(&mut self, b: &SealedBox) -> Result<M, SignallingError> {
        if b.session_id != self.session_id {
            return Err(SignallingError::BadField("session_id"));
        }
        if let Some(last) = self.last_seq
            && b.seq <= last
        {
            return Err(SignallingError::Replayed { seq: b.seq, last });
        }
        let aad = associated_data(
            b.kind(),
            &b.session_id,
            b.seq,
            b.ticket.as_deref().unwrap_or(""),
        );
        let inner = self
            .cipher
            .decrypt(
                &nonce(b.seq),
                Payload {
                    msg: &b.sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| SignallingError::Unopenable)?;
        if inner.len() > MAX_INNER_BYTES {
            return Err(SignallingError::TooLarge(inner.len()));
        }
        let msg: M = super::decode(&inner)?;
        if msg.session_id() != b.session_id {
            return Err(SignallingError::Mismatch("session_id"));
        }
        if msg.offer_ticket() != b.ticket.as_deref() {
            return Err(SignallingError::Mismatch("ticket"));
        }
        self.last_seq = Some(b.seq);
        Ok(msg)
    }
}

/// A message as it arrived on a topic, version 1 or 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming<M> {
    /// A version-1 message, in clear.
    V1(M),
    /// A version-2 message sent in clear: only a camera's `error auth_failed` (it is sent
    /// before the camera trusts any key; see [`clear_v2`]).
    ClearV2(M),
    /// A version-2 box, to open with the session's [`Opener`].
    Sealed(SealedBox),
}

/// The only version-2 message that goes in clear: a camera's `error` with code
/// `auth_failed`, for an offer whose ticket or box it could not check (or a ticket
/// already used). Its wire form is the version-1 one with `"v":2`.
pub fn clear_v2(msg: &ToViewer) -> Vec<u8> {
    debug_assert!(
        ToViewer::may_go_clear(msg),
        "only auth_failed goes in clear"
    );
    super::codec::encode_version(msg, SEALED_VERSION)
}

impl ToCamera {
    /// Viewers never send anything in clear in version 2.
    pub(super) fn may_go_clear(&self) -> bool {
        false
    }
}

impl ToViewer {
    /// Whether this message may travel in clear in version 2 ([`clear_v2`]).
    pub(super) fn may_go_clear(&self) -> bool {
        matches!(
            self,
            ToViewer::Error {
                code: super::ErrorCode::AuthFailed,
                ..
            }
        )
    }
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
