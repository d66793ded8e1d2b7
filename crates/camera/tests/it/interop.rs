//! A viewer written from `docs/signalling.md` alone, as someone else's WebRTC stack would
//! be: a plain MQTT client (rumqttc), the JSON written by hand, and the offer a browser
//! makes. `chromium-offer.sdp` is written by hand in the shape Chromium 1xx sends for a
//! `recvonly` video and a `sendrecv` audio transceiver (no Chromium on the build hosts to
//! capture one): VP8 first, H.264 in four profiles with both packetization modes and rtx
//! after each, AV1, VP9, red/ulpfec, Opus as 111 with red, G.722, PCMU/A, CN and DTMF,
//! Chromium's `a=extmap`s, BUNDLE. The camera must answer with H.264 it sends
//! (packetization-mode=1, constrained baseline) and Opus, under the offer's numbers,
//! and then say the session's state.

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

use crate::common::*;
use eyrie_protocol::api::TicketResponse;

const CHROMIUM_OFFER: &str = include_str!("chromium-offer.sdp");

/// A signed-in MQTT client for the ticket's login, subscribed to its `out` topic.
async fn docs_client(
    t: &TicketResponse,
) -> (
    AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<(Instant, Value)>,
) {
    let m = &t.mqtt;
    let mut mo = MqttOptions::new(m.client_id.clone(), m.host.clone(), m.port);
    mo.set_credentials(m.username.clone(), m.password.clone());
    mo.set_max_packet_size(200_000, 200_000);
    let (client, mut el) = AsyncClient::new(mo, 64);
    client
        .subscribe(
            format!("{}/out/{}", m.topic_prefix, m.username),
            QoS::AtLeastOnce,
        )
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let mut subscribed_tx = Some(subscribed_tx);
    tokio::spawn(async move {
        while let Ok(ev) = el.poll().await {
            match ev {
                Event::Incoming(Packet::SubAck(_)) => {
                    if let Some(s) = subscribed_tx.take() {
                        let _ = s.send(());
                    }
                }
                Event::Incoming(Packet::Publish(p)) => {
                    if let Ok(v) = serde_json::from_slice::<Value>(&p.payload) {
                        let _ = tx.send((Instant::now(), v));
                    }
                }
                _ => {}
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(5), subscribed)
        .await
        .expect("subscribed")
        .unwrap();
    (client, rx)
}

/// The offer message for `sdp`, with `P_offer` keyed by `K`, the ticket's decoded `sig`.
fn offer_message(t: &TicketResponse, sid: &str, sdp: &str) -> Vec<u8> {
    let (head, key) = eyrie_protocol::signalling::split_ticket(&t.ticket).expect("head.sig");
    let fp = sdp
        .lines()
        .find_map(|l| l.strip_prefix("a=fingerprint:"))
        .expect("fingerprint")
        .trim();
    let proof = eyrie_protocol::signalling::offer_proof(&key, sid, fp);
    serde_json::to_vec(&json!({
        "v": 1, "type": "offer", "session_id": sid, "ticket": head,
        "ticket_proof": proof, "sdp": sdp, "stream": "sd", "audio": true,
    }))
    .unwrap()
}

/// The `a=fmtp` parameters of payload `pt` in `sdp`.
fn fmtp<'a>(sdp: &'a str, pt: &str) -> &'a str {
    let prefix = format!("a=fmtp:{pt} ");
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix(prefix.as_str()))
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chromium_offer_gets_h264_and_opus_under_its_numbers_then_the_state() {
    init_logs();
    let broker = Mosquitto::start();
    let _cam = camera(broker.connection(DEVICE, &prefix()), |_| {});
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = viewer_ticket(&broker);
    let (client, mut rx) = docs_client(&t).await;
    let sid = format!("chromium{}{}", rand_suffix(), rand_suffix());
    let offer = CHROMIUM_OFFER.replace('\n', "\r\n");
    let inbox = format!("{}/in/{}", t.mqtt.topic_prefix, t.mqtt.username);
    let sent = Instant::now();
    client
        .publish(
            &inbox,
            QoS::AtLeastOnce,
            false,
            offer_message(&t, &sid, &offer),
        )
        .await
        .unwrap();

    // Everything for this session until the answer and a state have come (or 10 s).
    let mut seen: Vec<(Instant, Value)> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let kind = |v: &Value| v["type"].as_str().unwrap_or("").to_owned();
    while !(seen.iter().any(|(_, v)| kind(v) == "answer")
        && seen.iter().any(|(_, v)| kind(v) == "state"))
    {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((at, v))) if v["session_id"] == sid.as_str() => seen.push((at, v)),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let kinds: Vec<String> = seen.iter().map(|(_, v)| kind(v)).collect();
    let (answered, answer) = seen
        .iter()
        .find(|(_, v)| kind(v) == "answer")
        .unwrap_or_else(|| panic!("no answer: {kinds:?}"));
    let answer = answer["sdp"].as_str().unwrap().to_owned();
    let lines: Vec<&str> = answer.lines().map(str::trim_end).collect();

    // Video: one H.264 format, the offer's number for packetization-mode=1 in the
    // profile the camera encodes (constrained baseline), sent only.
    let video = lines
        .iter()
        .find(|l| l.starts_with("m=video "))
        .unwrap_or_else(|| panic!("no video:\n{answer}"));
    let vpts: Vec<&str> = video.split(' ').skip(3).collect();
    assert_eq!(vpts.len(), 1, "one video format: {video}\n{answer}");
    let vpt = vpts[0];
    assert!(
        lines.contains(&format!("a=rtpmap:{vpt} H264/90000").as_str()),
        "{answer}"
    );
    let offered = fmtp(&offer, vpt);
    assert!(
        offered.contains("packetization-mode=1") && offered.contains("profile-level-id=42e01f"),
        "the camera picked {vpt} ({offered}); it sends constrained baseline in mode 1:\n{answer}"
    );
    // Audio: Opus under the offer's 111, both ways (a sendrecv transceiver is talk).
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("m=audio ") && l.ends_with(" 111")),
        "{answer}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.eq_ignore_ascii_case("a=rtpmap:111 OPUS/48000/2")),
        "{answer}"
    );
    assert!(lines.contains(&"a=sendonly"), "{answer}");
    assert!(lines.contains(&"a=sendrecv"), "{answer}");
    assert!(!answer.contains("a=inactive"), "{answer}");
    assert!(lines.contains(&"a=group:BUNDLE 0 1"), "{answer}");
    assert!(answer.contains("a=fingerprint:"), "{answer}");

    // The state the docs promise after every accepted offer's answer: what the offer asked.
    let (stated, state) = seen
        .iter()
        .find(|(_, v)| kind(v) == "state")
        .unwrap_or_else(|| panic!("no state after the answer: {kinds:?}"));
    assert!(
        stated >= answered,
        "the state follows the answer: {kinds:?}"
    );
    assert_eq!(
        (
            state["stream"].as_str(),
            state["audio"].as_bool(),
            state["talk"].as_bool()
        ),
        (Some("sd"), Some(true), Some(false)),
        "{state}"
    );
    eprintln!(
        "chromium offer: answer {:?} after the offer, state {:?} after the answer",
        *answered - sent,
        *stated - *answered
    );
    let bye = json!({"v": 1, "type": "bye", "session_id": sid, "reason": "done"});
    client
        .publish(&inbox, QoS::AtLeastOnce, false, bye.to_string())
        .await
        .unwrap();
}

/// Found by the `offer_sdp` fuzz target: an offer naming H.264 under a number that is no
/// RTP payload type (`a=rtpmap:217 …`) made the camera set 217 on its payloader, whose
/// `pt` stops at 127 — a panic on the signalling task, after which the camera answered
/// nobody. Such an offer must get a reply like any other (an answer under a number that
/// is a payload type, or an error), not silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_with_a_payload_number_above_127_gets_a_reply() {
    init_logs();
    let broker = Mosquitto::start();
    let _cam = camera(broker.connection(DEVICE, &prefix()), |_| {});
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = viewer_ticket(&broker);
    let (client, mut rx) = docs_client(&t).await;
    let sid = format!("pt217{}{}", rand_suffix(), rand_suffix());
    // Constrained baseline in mode 1 (the camera's first choice) under 217 instead of 106.
    let offer = CHROMIUM_OFFER
        .replace(" 106 ", " 217 ")
        .replace(":106 ", ":217 ")
        .replace("apt=106", "apt=217")
        .replace('\n', "\r\n");
    assert!(offer.contains("a=rtpmap:217 H264/90000") && !offer.contains("106"));
    let inbox = format!("{}/in/{}", t.mqtt.topic_prefix, t.mqtt.username);
    client
        .publish(
            &inbox,
            QoS::AtLeastOnce,
            false,
            offer_message(&t, &sid, &offer),
        )
        .await
        .unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match rx.recv().await {
                Some((_, v)) if v["session_id"] == sid.as_str() => break Some(v),
                Some(_) => {}
                None => break None,
            }
        }
    })
    .await
    .ok()
    .flatten()
    .expect("a reply to the offer (the camera's signalling task is alive)");
    eprintln!("reply to an offer with H.264 under 217: {}", reply["type"]);
    if reply["type"] == "answer" {
        let answer = reply["sdp"].as_str().unwrap_or_default();
        let video = answer
            .lines()
            .map(str::trim_end)
            .find(|l| l.starts_with("m=video "))
            .unwrap_or_else(|| panic!("no video:\n{answer}"));
        let pt: u32 = video
            .rsplit(' ')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(999);
        assert!(pt <= 127, "video under {pt}: {video}");
    } else {
        assert_eq!(reply["type"], "error", "{reply}");
    }
    let bye = json!({"v": 1, "type": "bye", "session_id": sid, "reason": "done"});
    client
        .publish(&inbox, QoS::AtLeastOnce, false, bye.to_string())
        .await
        .unwrap();
}
