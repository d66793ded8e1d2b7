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
mod tests {
    use super::super::{Control, ErrorCode, Offer, Stream, decode_wire};
    use super::*;

    const K: [u8; 32] = [7; 32];
    const SID: &str = "q2VsessionX01";

    fn heartbeat() -> ToCamera {
        ToCamera::Heartbeat {
            session_id: SID.into(),
        }
    }

    fn offer() -> ToCamera {
        ToCamera::Offer(Offer {
            session_id: SID.into(),
            ticket: "eyJ2IjoxfQ".into(),
            ticket_proof: "proof".into(),
            sdp: "v=0\r\nc=IN IP4 192.0.2.7\r\na=fingerprint:sha-256 AB\r\n".into(),
            stream: Stream::Hd,
            audio: false,
        })
    }

    fn boxed<M: Message + std::fmt::Debug>(wire: &[u8]) -> SealedBox {
        match decode_wire::<M>(wire) {
            Ok(Incoming::Sealed(b)) => b,
            other => panic!("not a box: {other:?}"),
        }
    }

    fn json(wire: &[u8]) -> serde_json::Value {
        serde_json::from_slice(wire).unwrap()
    }

    /// Re-encode a box with one clear field changed.
    fn edit(wire: &[u8], f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut v = json(wire);
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn round_trip_both_ways_and_nothing_inner_in_clear() {
        let (mut to_cam, mut at_cam) = (Sealer::<ToCamera>::new(&K, SID), Opener::new(&K, SID));
        let (mut to_viewer, mut at_viewer) =
            (Sealer::<ToViewer>::new(&K, SID), Opener::new(&K, SID));
        let o = to_cam.seal(&offer()).unwrap();
        let text = String::from_utf8(o.clone()).unwrap();
        assert!(!text.contains("v=0") && !text.contains("192.0.2.7") && !text.contains("proof"));
        let v = json(&o);
        assert_eq!(
            (v["v"].as_u64(), v["type"].as_str()),
            (Some(2), Some("offer"))
        );
        assert_eq!(
            (v["ticket"].as_str(), v["seq"].as_u64()),
            (Some("eyJ2IjoxfQ"), Some(0))
        );
        assert_eq!(at_cam.open(&boxed::<ToCamera>(&o)), Ok(offer()));

        let control = ToCamera::Control {
            session_id: SID.into(),
            control: Control::Talk { on: true },
        };
        let c = to_cam.seal(&control).unwrap();
        assert_eq!(json(&c)["type"], "sealed");
        assert_eq!(json(&c)["seq"], 1);
        assert!(json(&c).get("ticket").is_none());
        assert_eq!(at_cam.open(&boxed::<ToCamera>(&c)), Ok(control));

        let cand = ToViewer::Candidate {
            session_id: SID.into(),
            sdp_mline_index: 0,
            candidate: "candidate:1 1 UDP 2122260223 192.0.2.7 40000 typ host".into(),
        };
        let w = to_viewer.seal(&cand).unwrap();
        assert!(!String::from_utf8_lossy(&w).contains("192.0.2.7"));
        assert_eq!(at_viewer.open(&boxed::<ToViewer>(&w)), Ok(cand));
        // An offer never goes to a viewer, a box type does not pass as another direction.
        assert!(matches!(
            decode_wire::<ToViewer>(&o),
            Err(SignallingError::WrongDirection { .. })
        ));
    }

    #[test]
    fn tampered_boxes_and_clear_fields_do_not_open_and_change_nothing() {
        let mut s = Sealer::<ToCamera>::new(&K, SID);
        let o = s.seal(&offer()).unwrap();
        let hb = s.seal(&heartbeat()).unwrap();
        let mut at_cam = Opener::<ToCamera>::new(&K, SID);
        let flipped = edit(&hb, |v| {
            let b = v["box"].as_str().unwrap().to_owned();
            let mut raw = URL_SAFE_NO_PAD.decode(b).unwrap();
            raw[3] ^= 1;
            v["box"] = URL_SAFE_NO_PAD.encode(raw).into();
        });
        let later_seq = edit(&hb, |v| v["seq"] = 9.into());
        let other_ticket = edit(&o, |v| v["ticket"] = "eyJ2IjoyfQ".into());
        for bad in [&flipped, &later_seq, &other_ticket] {
            let b = boxed::<ToCamera>(bad);
            assert_eq!(at_cam.open(&b), Err(SignallingError::Unopenable), "{b:?}");
        }
        // Another session's id in clear: refused by this session, and by that session.
        let moved = edit(&hb, |v| v["session_id"] = "otherSession1".into());
        assert_eq!(
            at_cam.open(&boxed::<ToCamera>(&moved)),
            Err(SignallingError::BadField("session_id"))
        );
        assert_eq!(
            Opener::<ToCamera>::new(&K, "otherSession1").open(&boxed::<ToCamera>(&moved)),
            Err(SignallingError::Unopenable)
        );
        // None of that moved the sequence on: the real ones still open, in order.
        assert_eq!(at_cam.open(&boxed::<ToCamera>(&o)), Ok(offer()));
        assert_eq!(at_cam.open(&boxed::<ToCamera>(&hb)), Ok(heartbeat()));
    }

    #[test]
    fn replays_and_older_boxes_are_refused_before_opening() {
        let mut s = Sealer::<ToCamera>::new(&K, SID);
        let first = s.seal(&heartbeat()).unwrap();
        let second = s.seal(&heartbeat()).unwrap();
        let mut at_cam = Opener::<ToCamera>::new(&K, SID);
        assert!(at_cam.open(&boxed::<ToCamera>(&second)).is_ok());
        assert_eq!(
            at_cam.open(&boxed::<ToCamera>(&second)),
            Err(SignallingError::Replayed { seq: 1, last: 1 })
        );
        assert_eq!(
            at_cam.open(&boxed::<ToCamera>(&first)),
            Err(SignallingError::Replayed { seq: 0, last: 1 })
        );
        // Junk with a huge number is refused without moving the sequence on.
        let junk = edit(&second, |v| v["seq"] = u64::MAX.into());
        assert_eq!(
            at_cam.open(&boxed::<ToCamera>(&junk)),
            Err(SignallingError::Unopenable)
        );
        let third = s.seal(&heartbeat()).unwrap();
        assert!(at_cam.open(&boxed::<ToCamera>(&third)).is_ok());
    }

    #[test]
    fn the_wrong_direction_or_ticket_key_does_not_open() {
        let hb = Sealer::<ToCamera>::new(&K, SID).seal(&heartbeat()).unwrap();
        // The same bytes read as a camera's box: the camera → viewer key fails.
        let b = boxed::<ToViewer>(&hb);
        assert_eq!(
            Opener::<ToViewer>::new(&K, SID).open(&b),
            Err(SignallingError::Unopenable)
        );
        assert_ne!(
            direction_key(&K, SID, Direction::ViewerToCamera),
            direction_key(&K, SID, Direction::CameraToViewer)
        );
        // Another ticket's key.
        assert_eq!(
            Opener::<ToCamera>::new(&[8; 32], SID).open(&boxed::<ToCamera>(&hb)),
            Err(SignallingError::Unopenable)
        );
    }

    #[test]
    fn truncated_boxes_are_refused() {
        let hb = Sealer::<ToCamera>::new(&K, SID).seal(&heartbeat()).unwrap();
        let raw = URL_SAFE_NO_PAD
            .decode(json(&hb)["box"].as_str().unwrap())
            .unwrap();
        let cut = |n: usize| {
            let part = URL_SAFE_NO_PAD.encode(&raw[..n]);
            edit(&hb, |v| v["box"] = part.into())
        };
        assert_eq!(
            decode_wire::<ToCamera>(&cut(TAG_BYTES - 1)),
            Err(SignallingError::BadField("box"))
        );
        for n in [TAG_BYTES, raw.len() - 1] {
            assert_eq!(
                Opener::<ToCamera>::new(&K, SID).open(&boxed::<ToCamera>(&cut(n))),
                Err(SignallingError::Unopenable)
            );
        }
        let not_base64 = edit(&hb, |v| v["box"] = "*".into());
        assert_eq!(
            decode_wire::<ToCamera>(&not_base64),
            Err(SignallingError::BadField("box"))
        );
    }

    #[test]
    fn an_inner_field_that_differs_from_the_clear_one_is_refused() {
        // Made by hand: a box for SID holding another session's heartbeat.
        let cipher = Aes256Gcm::new(&direction_key(&K, SID, Direction::ViewerToCamera).into());
        let inner = ToCamera::Heartbeat {
            session_id: "otherSession1".into(),
        }
        .encode();
        let aad = associated_data("sealed", SID, 0, "");
        let sealed = cipher
            .encrypt(
                &nonce(0),
                Payload {
                    msg: &inner,
                    aad: &aad,
                },
            )
            .unwrap();
        let wire = format!(
            r#"{{"v":2,"type":"sealed","session_id":"{SID}","seq":0,"box":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(sealed)
        );
        assert_eq!(
            Opener::<ToCamera>::new(&K, SID).open(&boxed::<ToCamera>(wire.as_bytes())),
            Err(SignallingError::Mismatch("session_id"))
        );
    }

    #[test]
    fn the_largest_inner_message_fits_the_broker_limit() {
        // A big offer: the longest ticket head, an SDP filling the inner limit.
        let ToCamera::Offer(mut o) = offer() else {
            unreachable!()
        };
        o.session_id = "s".repeat(64);
        o.ticket = "t".repeat(crate::ticket::MAX_TICKET_LEN);
        o.sdp = String::new();
        let empty = ToCamera::Offer(o.clone()).encode().len();
        o.sdp = "x".repeat(MAX_INNER_BYTES - empty);
        let big = ToCamera::Offer(o.clone());
        assert_eq!(big.encode().len(), MAX_INNER_BYTES);
        let wire = Sealer::<ToCamera>::new(&K, &o.session_id)
            .seal(&big)
            .unwrap();
        assert!(
            wire.len() <= super::super::MAX_MESSAGE_BYTES,
            "{} bytes",
            wire.len()
        );
        assert!(matches!(
            decode_wire::<ToCamera>(&wire),
            Ok(Incoming::Sealed(_))
        ));
        // One byte more is refused at the sender.
        o.sdp.push('x');
        assert_eq!(
            Sealer::<ToCamera>::new(&K, &o.session_id).seal(&ToCamera::Offer(o)),
            Err(SignallingError::TooLarge(MAX_INNER_BYTES + 1))
        );
    }

    #[test]
    fn only_auth_failed_goes_in_clear() {
        let auth = ToViewer::Error {
            session_id: SID.into(),
            code: ErrorCode::AuthFailed,
            message: "ticket has expired".into(),
        };
        let wire = clear_v2(&auth);
        assert!(wire.starts_with(br#"{"v":2,"type":"error""#));
        assert_eq!(decode_wire::<ToViewer>(&wire), Ok(Incoming::ClearV2(auth)));
        let privacy = br#"{"v":2,"type":"error","session_id":"q2VsessionX01","code":"privacy"}"#;
        let bye = br#"{"v":2,"type":"bye","session_id":"q2VsessionX01"}"#;
        for clear in [&privacy[..], &bye[..]] {
            assert_eq!(
                decode_wire::<ToViewer>(clear),
                Err(SignallingError::BadField("type"))
            );
        }
        let hb = br#"{"v":2,"type":"heartbeat","session_id":"q2VsessionX01"}"#;
        assert_eq!(
            decode_wire::<ToCamera>(hb),
            Err(SignallingError::BadField("type"))
        );
        // Version 1 still decodes as version 1.
        let v1 = heartbeat().encode();
        assert_eq!(decode_wire::<ToCamera>(&v1), Ok(Incoming::V1(heartbeat())));
        assert_eq!(
            decode_wire::<ToCamera>(br#"{"v":3,"type":"sealed"}"#),
            Err(SignallingError::UnsupportedVersion(3))
        );
    }
}

#[cfg(test)]
mod worked_example {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// `docs/signalling.md` §7.5 spells out one box byte by byte; it must stay true.
    #[test]
    fn the_docs_worked_example_is_what_the_code_seals() {
        let doc = include_str!("../../../../docs/signalling.md");
        let k = [7u8; 32];
        let sid = "q2VsessionX01";
        let key = direction_key(&k, sid, Direction::ViewerToCamera);
        let aad = associated_data("sealed", sid, 0, "");
        let wire = Sealer::<ToCamera>::new(&k, sid)
            .seal(&ToCamera::Heartbeat {
                session_id: sid.into(),
            })
            .unwrap();
        let wire = String::from_utf8(wire).unwrap();
        println!("key {}\naad {}\nwire {wire}", hex(&key), hex(&aad));
        for want in [hex(&key), hex(&aad), wire] {
            assert!(doc.contains(&want), "docs/signalling.md lacks {want}");
        }
    }
}
