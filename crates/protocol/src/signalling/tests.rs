use std::collections::BTreeSet;

use super::*;

/// The protocol as written for third parties; the types must speak exactly this.
const DOC: &str = include_str!("../../../../docs/signalling.md");

/// A session id that passes the rules, for the doc's `q2V…` / `…` placeholders.
const SID: &str = "q2VsessionX01";

/// The JSON examples of the fenced block under `heading`, one message per entry (the doc
/// wraps long ones onto an indented next line).
fn doc_block(heading: &str) -> Vec<String> {
    let after = DOC
        .split_once(heading)
        .unwrap_or_else(|| panic!("docs/signalling.md has no {heading:?}"))
        .1;
    let block = after
        .split_once("```json\n")
        .expect("a json block follows")
        .1
        .split_once("```")
        .expect("the block ends")
        .0;
    let mut out: Vec<String> = Vec::new();
    for line in block.lines() {
        if line.starts_with('{') {
            out.push(line.trim_end().to_owned());
        } else if !line.trim().is_empty() {
            out.last_mut()
                .expect("a continuation follows a message")
                .push_str(line.trim());
        }
    }
    out.into_iter().map(|m| fill_placeholders(&m)).collect()
}

/// The examples written inline in the text (`` `{"v":1,...}` ``), e.g. the privacy error.
fn doc_inline() -> Vec<String> {
    DOC.split('`')
        .filter(|s| s.starts_with("{\"v\":1"))
        .map(fill_placeholders)
        .collect()
}

fn fill_placeholders(m: &str) -> String {
    m.replace("q2V…", SID)
        .replace(r#""session_id":"…""#, &format!(r#""session_id":"{SID}""#))
}

/// The `type`s the topic table of §2 lists for the topic ending in `topic_tail`.
fn doc_table_kinds(topic_tail: &str) -> BTreeSet<String> {
    let row = DOC
        .lines()
        .find(|l| l.starts_with(&format!("| `<prefix>/{topic_tail}")))
        .unwrap_or_else(|| panic!("no table row for {topic_tail}"));
    let content = row.trim_end_matches('|').rsplit('|').next().unwrap();
    content.split(',').map(|s| s.trim().to_owned()).collect()
}

fn kinds(d: Direction) -> BTreeSet<String> {
    d.kinds().iter().map(|s| (*s).to_owned()).collect()
}

/// Decode as `M`, encode again: the same bytes.
fn round_trip<M: Message + std::fmt::Debug>(raw: &str) -> M {
    let m: M = decode(raw.as_bytes()).unwrap_or_else(|e| panic!("{raw}: {e}"));
    let again = super::codec::encode(&m);
    assert_eq!(String::from_utf8(again).unwrap(), raw, "re-encoded {m:?}");
    m
}

#[test]
fn every_example_of_the_doc_round_trips_byte_for_byte() {
    let to_camera = doc_block("### viewer → camera");
    let to_viewer = doc_block("### camera → viewer");
    assert_eq!(to_camera.len(), 8, "{to_camera:#?}");
    assert_eq!(to_viewer.len(), 6, "{to_viewer:#?}");

    let mut seen = BTreeSet::new();
    for raw in &to_camera {
        let m = round_trip::<ToCamera>(raw);
        assert_eq!(m.session_id(), SID);
        assert_eq!(m.encode(), raw.as_bytes());
        seen.insert(m.kind().to_owned());
    }
    assert_eq!(seen, kinds(Direction::ViewerToCamera));
    assert_eq!(seen, doc_table_kinds("in/"));

    let mut seen = BTreeSet::new();
    for raw in to_viewer.iter().chain(&doc_inline()) {
        let m = round_trip::<ToViewer>(raw);
        assert_eq!(m.session_id(), SID);
        assert_eq!(m.encode(), raw.as_bytes());
        seen.insert(m.kind().to_owned());
    }
    assert_eq!(seen, kinds(Direction::CameraToViewer));
    assert_eq!(seen, doc_table_kinds("out/"));
}

#[test]
fn the_docs_examples_decode_to_the_fields_they_show() {
    let to_camera = doc_block("### viewer → camera");
    assert_eq!(
        ToCamera::decode(to_camera[0].as_bytes()).unwrap(),
        ToCamera::Offer(Offer {
            session_id: SID.into(),
            ticket: "<head>".into(),
            ticket_proof: "<P_offer>".into(),
            sdp: "v=0…".into(),
            stream: Stream::Sd,
            audio: true,
        })
    );
    assert_eq!(
        ToCamera::decode(to_camera[1].as_bytes()).unwrap(),
        ToCamera::Restart(Restart {
            session_id: SID.into(),
            generation: 1,
            proof: "<P_restart>".into(),
            sdp: "v=0…".into(),
        })
    );
    assert_eq!(
        ToCamera::decode(to_camera[6].as_bytes()).unwrap(),
        ToCamera::Control {
            session_id: SID.into(),
            control: Control::Talk { on: true },
        }
    );
    let privacy = &doc_inline()[0];
    assert_eq!(
        ToViewer::decode(privacy.as_bytes()).unwrap(),
        ToViewer::Error {
            session_id: SID.into(),
            code: ErrorCode::Privacy,
            message: PRIVACY_MESSAGE.into(),
        }
    );
}

#[test]
fn a_message_of_the_other_direction_is_refused_by_name() {
    for raw in doc_block("### camera → viewer") {
        let kind = serde_json::from_str::<serde_json::Value>(&raw).unwrap()["type"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = ToCamera::decode(raw.as_bytes());
        if Direction::ViewerToCamera.kinds().contains(&kind.as_str()) {
            // `candidate` and `bye` go both ways, with the same fields.
            assert_eq!(r.unwrap().encode(), raw.as_bytes());
        } else {
            assert_eq!(
                r,
                Err(SignallingError::WrongDirection {
                    kind: kind.clone(),
                    expected: Direction::ViewerToCamera
                }),
                "{raw}"
            );
        }
    }
    for raw in doc_block("### viewer → camera") {
        let r = ToViewer::decode(raw.as_bytes());
        match r {
            Ok(m) => assert!(["candidate", "bye"].contains(&m.kind())),
            Err(e) => assert!(
                matches!(
                    &e,
                    SignallingError::WrongDirection {
                        expected: Direction::CameraToViewer,
                        ..
                    }
                ),
                "{raw}: {e}"
            ),
        }
    }
    let e = ToCamera::decode(
        br#"{"v":1,"type":"answer","session_id":"abcdefgh","sdp":"v=0","proof":"p"}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"message type "answer" goes camera → viewer; only viewer → camera messages are taken here"#
    );
}

#[test]
fn every_variant_encodes_with_a_type_of_its_direction() {
    let sid = || "abcdefgh".to_owned();
    let to_camera = [
        offer(),
        ToCamera::Restart(Restart {
            session_id: sid(),
            generation: 3,
            proof: "p".into(),
            sdp: "v=0".into(),
        }),
        ToCamera::Candidate {
            session_id: sid(),
            sdp_mline_index: 1,
            candidate: String::new(),
        },
        ToCamera::Heartbeat { session_id: sid() },
        ToCamera::Control {
            session_id: sid(),
            control: Control::Audio { on: false },
        },
        ToCamera::Bye {
            session_id: sid(),
            reason: String::new(),
        },
    ];
    for m in to_camera {
        let v: serde_json::Value = serde_json::from_slice(&m.encode()).unwrap();
        assert_eq!(v["type"], m.kind());
        assert!(Direction::ViewerToCamera.kinds().contains(&m.kind()));
        assert_eq!(ToCamera::decode(&m.encode()).unwrap(), m);
    }
    let to_viewer = [
        ToViewer::Answer {
            session_id: sid(),
            sdp: "v=0".into(),
            proof: "p".into(),
        },
        ToViewer::Candidate {
            session_id: sid(),
            sdp_mline_index: 0,
            candidate: "candidate:1".into(),
        },
        ToViewer::State {
            session_id: sid(),
            stream: Stream::Hd,
            audio: false,
            talk: true,
        },
        ToViewer::Busy {
            session_id: sid(),
            max_sessions: 5,
        },
        ToViewer::Error {
            session_id: sid(),
            code: ErrorCode::Internal,
            message: "x".into(),
        },
        ToViewer::Bye {
            session_id: sid(),
            reason: "heartbeat timeout".into(),
        },
    ];
    for m in to_viewer {
        let v: serde_json::Value = serde_json::from_slice(&m.encode()).unwrap();
        assert_eq!(v["type"], m.kind());
        assert!(Direction::CameraToViewer.kinds().contains(&m.kind()));
        assert_eq!(ToViewer::decode(&m.encode()).unwrap(), m);
    }
}

fn offer() -> ToCamera {
    ToCamera::Offer(Offer {
        session_id: "abcdefgh1234".into(),
        ticket: "t".into(),
        ticket_proof: "p".into(),
        sdp: "v=0\r\na=fingerprint:sha-256 AA:BB\r\n".into(),
        stream: Stream::Hd,
        audio: true,
    })
}

#[test]
fn round_trip_and_wire_form() {
    let m = offer();
    let raw = m.encode();
    let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(v["v"], 1);
    assert_eq!(v["type"], "offer");
    assert_eq!(v["stream"], "hd");
    assert_eq!(ToCamera::decode(&raw).unwrap(), m);
    // Defaults of an offer that leaves out `stream` and `audio`.
    let short = br#"{"v":1,"type":"offer","session_id":"abcdefgh","ticket":"t","ticket_proof":"p","sdp":"v=0"}"#;
    let ToCamera::Offer(o) = ToCamera::decode(short).unwrap() else {
        panic!("not an offer")
    };
    assert_eq!((o.stream, o.audio), (Stream::Sd, true));
    let c = ToCamera::Control {
        session_id: "abcdefgh1234".into(),
        control: Control::SetStream { stream: Stream::Sd },
    };
    let raw = c.encode();
    assert!(String::from_utf8_lossy(&raw).contains(r#""action":"set_stream""#));
    assert_eq!(ToCamera::decode(&raw).unwrap(), c);
    // An error code from a later camera is accepted as unknown.
    let e = ToViewer::decode(br#"{"v":1,"type":"error","session_id":"abcdefgh","code":"moved"}"#);
    assert!(matches!(
        e,
        Ok(ToViewer::Error {
            code: ErrorCode::Unknown,
            ..
        })
    ));
}

#[test]
fn refusals() {
    assert!(matches!(
        ToCamera::decode(b"{"),
        Err(SignallingError::Malformed(_))
    ));
    assert_eq!(
        ToCamera::decode(br#"{"v":1,"type":"launch","session_id":"abcdefgh"}"#),
        Err(SignallingError::UnknownType("launch".into()))
    );
    assert!(matches!(
        ToViewer::decode(br#"{"v":1,"session_id":"abcdefgh"}"#),
        Err(SignallingError::Malformed(_))
    ));
    assert_eq!(
        ToCamera::decode(br#"{"v":2,"type":"bye","session_id":"abcdefgh"}"#),
        Err(SignallingError::UnsupportedVersion(2))
    );
    assert_eq!(
        ToViewer::decode(br#"{"v":1,"type":"bye","session_id":"a/b"}"#),
        Err(SignallingError::BadField("session_id"))
    );
    // A field missing from a known type is named.
    let e = ToViewer::decode(br#"{"v":1,"type":"busy","session_id":"abcdefgh"}"#).unwrap_err();
    assert!(e.to_string().contains("max_sessions"), "{e}");
    let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
    assert!(matches!(
        ToCamera::decode(&big),
        Err(SignallingError::TooLarge(_))
    ));
    let m = ToCamera::Candidate {
        session_id: "abcdefgh".into(),
        sdp_mline_index: 0,
        candidate: "x".repeat(MAX_CANDIDATE_BYTES + 1),
    };
    assert_eq!(
        ToCamera::decode(&m.encode()),
        Err(SignallingError::BadField("candidate"))
    );
    let m = ToViewer::Candidate {
        session_id: "abcdefgh".into(),
        sdp_mline_index: MAX_MLINE_INDEX + 1,
        candidate: String::new(),
    };
    assert_eq!(
        ToViewer::decode(&m.encode()),
        Err(SignallingError::BadField("sdp_mline_index"))
    );
    let m = ToViewer::Bye {
        session_id: "abcdefgh".into(),
        reason: "x".repeat(MAX_TEXT_BYTES + 1),
    };
    assert_eq!(
        ToViewer::decode(&m.encode()),
        Err(SignallingError::BadField("reason"))
    );
    let ToCamera::Offer(mut o) = offer() else {
        unreachable!()
    };
    o.ticket = "head.sig".into();
    assert_eq!(
        ToCamera::decode(&ToCamera::Offer(o.clone()).encode()),
        Err(SignallingError::BadField("ticket"))
    );
    o.ticket = "head".into();
    o.sdp = String::new();
    assert_eq!(
        ToCamera::decode(&ToCamera::Offer(o).encode()),
        Err(SignallingError::BadField("sdp"))
    );
    // Unknown extra fields are ignored (fields are only ever added).
    assert!(
        ToCamera::decode(br#"{"v":1,"type":"heartbeat","session_id":"abcdefgh","x":1}"#).is_ok()
    );
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
    assert_eq!(topics::to_device("eyrie/d", "u1"), "eyrie/d/in/u1");
    assert_eq!(topics::to_viewer("eyrie/d", "u1"), "eyrie/d/out/u1");
    assert_eq!(topics::device_inbox_filter("eyrie/d"), "eyrie/d/in/+");
}

#[test]
fn a_restart_needs_a_generation_above_zero_and_its_proof_binds_it() {
    let zero = br#"{"v":1,"type":"restart","session_id":"abcdefgh","generation":0,"proof":"p","sdp":"v=0"}"#;
    assert_eq!(
        ToCamera::decode(zero),
        Err(SignallingError::BadField("generation"))
    );
    let empty =
        br#"{"v":1,"type":"restart","session_id":"abcdefgh","generation":1,"proof":"p","sdp":""}"#;
    assert_eq!(
        ToCamera::decode(empty),
        Err(SignallingError::BadField("sdp"))
    );
    let key = [7u8; 32];
    let p = restart_proof(&key, "abcdefgh", 2, "sha-256 AB");
    assert!(verify_restart_proof(&key, "abcdefgh", 2, "sha-256 AB", &p));
    assert!(!verify_restart_proof(&key, "abcdefgh", 3, "sha-256 AB", &p));
    assert!(!verify_restart_proof(&key, "abcdefgh", 2, "sha-256 CD", &p));
    assert!(!verify_restart_proof(
        &[8u8; 32],
        "abcdefgh",
        2,
        "sha-256 AB",
        &p
    ));
    // Not an offer proof either: the label differs.
    assert!(!verify_offer_proof(&key, "abcdefgh", "sha-256 AB", &p));
}
