//! `signalling_v1` and `signalling_v2`: what arrives on a camera's inbox or a viewer's
//! outbox topic (`eyrie_protocol::signalling`). Anyone the broker lets publish there
//! controls these bytes: before the ticket is checked, that is any viewer of the
//! camera's owner, or the broker itself.
//!
//! Oracles, version 1 ([`v1`]):
//! - [`decode`] in both directions never panics; what it accepts passes its own field
//!   checks, has a `type` of the direction asked for, and [`decode_wire`] reads the same
//!   payload as the same version-1 message;
//! - a message either side can build goes through the wire unchanged: what was accepted,
//!   encoded again, decodes to the same message and encodes to the same bytes (when that
//!   encoding is within the size limit);
//! - a refusal for the wrong direction names a `type` of the other direction, which the
//!   other direction then does not call unknown.
//!
//! Oracles, version 2 ([`v2`]):
//! - arbitrary bytes through [`decode_wire`] in both directions never panic; only a
//!   camera's `error auth_failed` is taken in clear; a box opens (under the fixed key K of
//!   the seeds) only to a message of its own session and ticket, and the same box is then
//!   refused as a replay;
//! - a valid box (one of [`messages`], sealed after 0–3 others) with the fuzzer's edits
//!   applied — to its clear fields (`v`, `type`, `session_id`, `ticket`, `seq`), to the
//!   bytes inside `box` (flips, cuts) or to the raw JSON — never opens to another message:
//!   it is refused, or it opens to exactly the message sealed.

use std::fmt::Debug;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eyrie_protocol::signalling::{
    Control, ErrorCode, Incoming, MAX_MESSAGE_BYTES, Message, Offer, Opener, Sealer,
    SignallingError, Stream, ToCamera, ToViewer, decode, decode_wire,
};

/// The ticket key (K) of every seed box.
pub const K: [u8; 32] = [7; 32];
/// The session of every seed message.
pub const SID: &str = "q2VsessionX01";

/// The wire form of a message, whichever direction.
pub trait Encode: Message + Debug + PartialEq + Clone {
    fn wire(&self) -> Vec<u8>;
}

impl Encode for ToCamera {
    fn wire(&self) -> Vec<u8> {
        self.encode()
    }
}

impl Encode for ToViewer {
    fn wire(&self) -> Vec<u8> {
        self.encode()
    }
}

/// Version 1: one fuzz input; panics on a finding.
pub fn v1(data: &[u8]) {
    let cam = decode::<ToCamera>(data);
    let view = decode::<ToViewer>(data);
    if let Ok(m) = &cam {
        accepted_v1(data, m);
    }
    if let Ok(m) = &view {
        accepted_v1(data, m);
    }
    wrong_direction_is_the_other(&cam, &view);
    wrong_direction_is_the_other(&view, &cam);
    // decode_wire reads a version-1 payload as decode does.
    wire_agrees(data, &cam);
    wire_agrees(data, &view);
}

fn accepted_v1<M: Encode>(data: &[u8], m: &M) {
    assert!(
        M::DIRECTION.kinds().contains(&m.kind()),
        "{} accepted as {}",
        m.kind(),
        M::DIRECTION
    );
    assert_eq!(
        m.validate(),
        Ok(()),
        "decode accepted what validate refuses"
    );
    let wire = m.wire();
    if wire.len() > MAX_MESSAGE_BYTES {
        // Defaults filled in (`"audio":true`, `"reason":""`) can push a message that
        // arrived just under the limit over it; no side sends such a message.
        assert!(
            data.len() + 64 > MAX_MESSAGE_BYTES,
            "encoding grew by more than defaults"
        );
        return;
    }
    let again: M = decode(&wire)
        .unwrap_or_else(|e| panic!("an accepted message does not decode again: {e}: {m:?}"));
    assert_eq!(&again, m, "the message changed on the way through the wire");
    assert_eq!(again.wire(), wire, "encoding is not stable");
}

fn wrong_direction_is_the_other<A: Debug, B: Debug>(
    this: &Result<A, SignallingError>,
    other: &Result<B, SignallingError>,
) {
    if let Err(SignallingError::WrongDirection { kind, .. }) = this {
        assert!(
            !matches!(
                other,
                Err(SignallingError::UnknownType(_) | SignallingError::WrongDirection { .. })
            ),
            "{kind:?} is of neither direction: {other:?}"
        );
    }
}

fn wire_agrees<M: Encode>(data: &[u8], v1: &Result<M, SignallingError>) {
    let wire = decode_wire::<M>(data);
    match (v1, &wire) {
        (Ok(m), Ok(Incoming::V1(w))) => assert_eq!(m, w, "decode_wire read another message"),
        (Ok(m), other) => panic!("decode took {m:?}, decode_wire gave {other:?}"),
        (Err(_), Ok(Incoming::V1(w))) => panic!("decode_wire took {w:?} that decode refuses"),
        (Err(_), _) => {}
    }
}

/// Version 2: one fuzz input; panics on a finding.
pub fn v2(data: &[u8]) {
    arbitrary_boxes::<ToCamera>(data);
    arbitrary_boxes::<ToViewer>(data);
    edited_box(data);
}

fn arbitrary_boxes<M: Encode>(data: &[u8]) {
    let b = match decode_wire::<M>(data) {
        Ok(Incoming::Sealed(b)) => b,
        Ok(Incoming::ClearV2(m)) => {
            assert!(m.may_go_clear(), "{m:?} taken in clear in version 2");
            return;
        }
        Ok(Incoming::V1(m)) => {
            assert_eq!(decode::<M>(data).as_ref(), Ok(&m));
            return;
        }
        Err(_) => return,
    };
    assert_eq!(b.kind() == "offer", b.ticket.is_some());
    let mut opener = Opener::<M>::new(&K, &b.session_id);
    if let Ok(m) = opener.open(&b) {
        assert_eq!(
            m.session_id(),
            b.session_id,
            "opened a box of another session"
        );
        assert_eq!(
            m.offer_ticket(),
            b.ticket.as_deref(),
            "opened a box of another ticket"
        );
        assert!(
            matches!(opener.open(&b), Err(SignallingError::Replayed { .. })),
            "a box opened twice"
        );
    }
}

/// Messages of both directions, as the seeds and [`edited_box`] seal them.
pub fn messages() -> (Vec<ToCamera>, Vec<ToViewer>) {
    let sid = || SID.to_owned();
    let cam = vec![
        ToCamera::Offer(Offer {
            session_id: sid(),
            ticket: "eyJ2IjoxfQ".into(),
            ticket_proof: "proof".into(),
            sdp: "v=0\r\nc=IN IP4 192.0.2.7\r\na=fingerprint:sha-256 AB\r\n".into(),
            stream: Stream::Hd,
            audio: false,
        }),
        ToCamera::Candidate {
            session_id: sid(),
            sdp_mline_index: 1,
            candidate: "candidate:1 1 UDP 2122260223 192.0.2.7 40000 typ host".into(),
        },
        ToCamera::Heartbeat { session_id: sid() },
        ToCamera::Control {
            session_id: sid(),
            control: Control::SetStream { stream: Stream::Hd },
        },
        ToCamera::Control {
            session_id: sid(),
            control: Control::Talk { on: true },
        },
        ToCamera::Bye {
            session_id: sid(),
            reason: "viewer closed".into(),
        },
    ];
    let view = vec![
        ToViewer::Answer {
            session_id: sid(),
            sdp: "v=0\r\na=fingerprint:sha-256 CD\r\n".into(),
            proof: "p".into(),
        },
        ToViewer::Candidate {
            session_id: sid(),
            sdp_mline_index: 0,
            candidate: String::new(),
        },
        ToViewer::State {
            session_id: sid(),
            stream: Stream::Sd,
            audio: true,
            talk: false,
        },
        ToViewer::Busy {
            session_id: sid(),
            max_sessions: 5,
        },
        ToViewer::Error {
            session_id: sid(),
            code: ErrorCode::Privacy,
            message: "privacy mode on".into(),
        },
        ToViewer::Bye {
            session_id: sid(),
            reason: "heartbeat timeout".into(),
        },
    ];
    (cam, view)
}

/// The wire form of `msg` sealed under K after `before` heartbeat-sized messages.
fn seal_after<M: Encode>(msg: &M, before: usize, filler: &M) -> Vec<u8> {
    let mut s = Sealer::<M>::new(&K, SID);
    for _ in 0..before {
        s.seal(filler).expect("filler seals");
    }
    s.seal(msg).expect("message seals")
}

/// Every message of [`messages`] sealed after 0–3 others, made once (sealing is
/// deterministic: fixed key, session and sequence numbers).
struct Sealed {
    cam: Vec<(ToCamera, [Vec<u8>; 4])>,
    view: Vec<(ToViewer, [Vec<u8>; 4])>,
}

fn sealed() -> &'static Sealed {
    static SEALED: std::sync::OnceLock<Sealed> = std::sync::OnceLock::new();
    SEALED.get_or_init(|| {
        let (cam, view) = messages();
        Sealed {
            cam: sealed_all(&cam),
            view: sealed_all(&view),
        }
    })
}

/// Each of `msgs` sealed after 0–3 copies of `msgs[2]` (a heartbeat or a state).
fn sealed_all<M: Encode>(msgs: &[M]) -> Vec<(M, [Vec<u8>; 4])> {
    msgs.iter()
        .map(|m| {
            (
                m.clone(),
                std::array::from_fn(|n| seal_after(m, n, &msgs[2])),
            )
        })
        .collect()
}

fn edited_box(data: &[u8]) {
    let [pick, before, ops @ ..] = data else {
        return;
    };
    let s = sealed();
    let n = usize::from(*pick) % (s.cam.len() + s.view.len());
    let before = usize::from(*before % 4);
    if n < s.cam.len() {
        let (m, wires) = &s.cam[n];
        edit_and_open(m, &wires[before], ops);
    } else {
        let (m, wires) = &s.view[n - s.cam.len()];
        edit_and_open(m, &wires[before], ops);
    }
}

fn edit_and_open<M: Encode>(msg: &M, orig: &[u8], ops: &[u8]) {
    let edited = apply_edits(orig, ops);
    // Edits that cancel out (or none) leave the same JSON object, perhaps reordered.
    let same = serde_json::from_slice::<serde_json::Value>(&edited).ok()
        == serde_json::from_slice::<serde_json::Value>(orig).ok();
    let opened = match decode_wire::<M>(&edited) {
        Ok(Incoming::Sealed(b)) => Opener::<M>::new(&K, SID).open(&b),
        Ok(other) => panic!("an edited box (same: {same}) was taken as {other:?}"),
        Err(e) => Err(e),
    };
    match opened {
        Ok(m) => assert_eq!(&m, msg, "an edited box opened to another message"),
        Err(e) => assert!(!same, "the valid box did not open: {e}"),
    }
}

/// The box `wire` with `ops` applied: 3-byte operations `[op, a, b]`.
fn apply_edits(wire: &[u8], ops: &[u8]) -> Vec<u8> {
    if ops.is_empty() {
        return wire.to_vec();
    }
    let mut v: serde_json::Value = serde_json::from_slice(wire).expect("a box is JSON");
    let mut raw: Vec<(usize, u8)> = Vec::new();
    let mut sealed = URL_SAFE_NO_PAD
        .decode(v["box"].as_str().expect("box"))
        .expect("base64url");
    for op in ops.chunks_exact(3) {
        let (a, b) = (usize::from(op[1]), op[2]);
        let obj = v.as_object_mut().expect("a box is an object");
        match op[0] % 9 {
            // Flip bits inside the box (ciphertext or tag).
            0 if !sealed.is_empty() => {
                let i = a % sealed.len();
                sealed[i] ^= b.max(1);
            }
            // Cut the box.
            1 => sealed.truncate(a),
            // Add bytes to the box.
            2 => sealed.extend(std::iter::repeat_n(b, a % 17 + 1)),
            // Change the sequence number.
            3 => {
                let seq = obj["seq"].as_u64().unwrap_or(0);
                obj["seq"] = (seq ^ (u64::from(b) << ((a % 8) * 8))).into();
            }
            // Change one character of the session id.
            4 => {
                let mut sid: Vec<u8> = obj["session_id"].as_str().unwrap_or("").bytes().collect();
                const ALPHABET: &[u8] =
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                if sid.is_empty() {
                    sid.push(b'a');
                }
                let i = a % sid.len();
                sid[i] = ALPHABET[usize::from(b) % ALPHABET.len()];
                obj["session_id"] = String::from_utf8_lossy(&sid).into_owned().into();
            }
            // Turn an offer into a plain box or back.
            5 => {
                if obj.remove("ticket").is_some() {
                    obj["type"] = "sealed".into();
                } else {
                    obj["type"] = "offer".into();
                    obj.insert("ticket".into(), "eyJ2IjoxfQ".into());
                }
            }
            // Change the ticket head.
            6 => {
                let mut t = obj
                    .get("ticket")
                    .and_then(|t| t.as_str())
                    .unwrap_or("")
                    .to_owned();
                t.insert(a % (t.len() + 1), char::from(b'A' + b % 26));
                obj.insert("ticket".into(), t.into());
            }
            // Another version.
            7 => obj["v"] = u64::from(b % 4).into(),
            // A raw byte of the JSON, applied last.
            _ => raw.push((a, b)),
        }
    }
    v["box"] = URL_SAFE_NO_PAD.encode(&sealed).into();
    let mut out = serde_json::to_vec(&v).expect("JSON");
    for (a, b) in raw {
        let i = a % out.len();
        out[i] ^= b;
    }
    out
}

/// Seeds for version 1: the docs' examples of both directions, plus refusals.
pub fn seeds_v1() -> Vec<(String, Vec<u8>)> {
    let (cam, view) = messages();
    let mut out: Vec<(String, Vec<u8>)> = cam
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("to-camera-{i}-{}", m.kind()), m.wire()))
        .chain(
            view.iter()
                .enumerate()
                .map(|(i, m)| (format!("to-viewer-{i}-{}", m.kind()), m.wire())),
        )
        .collect();
    let sdp = include_str!("../../crates/camera/tests/it/chromium-offer.sdp");
    let chromium = ToCamera::Offer(Offer {
        session_id: "ZmFrZS1zZXNzaW9uLWlk".into(),
        ticket: "eyJ1IjoiMSIsImQiOiIyIiwiZXhwIjoxLCJuIjoiYWJjIn0".into(),
        ticket_proof: "x".repeat(43),
        sdp: sdp.replace('\n', "\r\n"),
        stream: Stream::Sd,
        audio: true,
    });
    out.push(("to-camera-chromium-offer".into(), chromium.wire()));
    for (name, text) in [
        (
            "wrong-version",
            r#"{"v":3,"type":"heartbeat","session_id":"q2VsessionX01"}"#,
        ),
        (
            "unknown-type",
            r#"{"v":1,"type":"ping","session_id":"q2VsessionX01"}"#,
        ),
        (
            "defaults",
            r#"{"v":1,"type":"bye","session_id":"q2VsessionX01"}"#,
        ),
        (
            "unknown-code",
            r#"{"v":1,"type":"error","session_id":"q2VsessionX01","code":"melted"}"#,
        ),
        (
            "escapes",
            r#"{"v":1,"type":"bye","session_id":"q2VsessionX01","reason":"\u00e9\n\"\\\/","extra":[1,{"a":null}]}"#,
        ),
        ("no-type", r#"{"v":1,"session_id":"q2VsessionX01"}"#),
    ] {
        out.push((name.into(), text.as_bytes().to_vec()));
    }
    out
}

/// Seeds for version 2: every message sealed (arbitrary-bytes oracle), the clear
/// `auth_failed`, the docs' worked example, and edit scripts for the edited-box oracle.
pub fn seeds_v2() -> Vec<(String, Vec<u8>)> {
    let (cam, view) = messages();
    let mut out = Vec::new();
    for (i, m) in cam.iter().enumerate() {
        out.push((
            format!("box-to-camera-{i}-{}", m.kind()),
            seal_after(m, i % 3, &cam[2]),
        ));
    }
    for (i, m) in view.iter().enumerate() {
        out.push((
            format!("box-to-viewer-{i}-{}", m.kind()),
            seal_after(m, i % 3, &view[2]),
        ));
    }
    let auth_failed = ToViewer::Error {
        session_id: SID.into(),
        code: ErrorCode::AuthFailed,
        message: "ticket has expired".into(),
    };
    out.push((
        "clear-auth-failed".into(),
        eyrie_protocol::signalling::clear_v2(&auth_failed),
    ));
    out.push((
        "docs-example".into(),
        br#"{"v":2,"type":"sealed","session_id":"q2VsessionX01","seq":0,"box":"BKryIfj8FH4P5dVovIX9an0DX9XzIyk9Ird5gUNJ0LpuGQxDwNHpB3UyNwZaWNDzViag8We8mwy6-yJMgkDD1VzDj3MIwpI"}"#.to_vec(),
    ));
    for (name, script) in [
        ("edit-none-offer", vec![0u8, 0]),
        ("edit-flip-tag", vec![1, 2, 0, 200, 1]),
        ("edit-seq", vec![2, 1, 3, 0, 1]),
        ("edit-session", vec![3, 0, 4, 3, 7]),
        ("edit-offer-to-sealed", vec![0, 0, 5, 0, 0]),
        ("edit-ticket", vec![0, 1, 6, 2, 5]),
        ("edit-cut-and-raw", vec![7, 2, 1, 20, 0, 8, 11, 1]),
    ] {
        out.push((name.into(), script));
    }
    out
}
