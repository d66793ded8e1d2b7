//! Unit tests of version-2 boxes ([`super`]): round trips, tampering, replays, keys,
//! truncation, sizes, what may go clear, and the docs' worked example.

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
    let (mut to_viewer, mut at_viewer) = (Sealer::<ToViewer>::new(&K, SID), Opener::new(&K, SID));
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
