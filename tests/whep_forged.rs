//! The cloud checks the camera's answer proof before a WHEP player sees the answer: a
//! "camera" that can seal (it has the device secret) but answers with a proof that does
//! not check gets the player a 502 and a sealed `bye`, never its SDP.

mod whep_support;

use std::time::Duration;

use eyrie_protocol::signalling::{
    self, Incoming, Opener, Sealer, ToCamera, ToViewer, split_ticket, ticket_key,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use whep_support::{CHROMIUM_OFFER, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_answer_never_reaches_the_player() {
    let w = world(2, false).await;
    let m = &w.creds.mqtt;
    let mut mo = MqttOptions::new(m.client_id.clone(), m.host.clone(), m.port);
    mo.set_credentials(m.username.clone(), m.password.clone());
    mo.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = AsyncClient::new(mo, 16);
    let prefix = m.topic_prefix.clone();
    client
        .subscribe(format!("{prefix}/in/+"), QoS::AtLeastOnce)
        .await
        .unwrap();
    client
        .publish(format!("{prefix}/status"), QoS::AtLeastOnce, true, "online")
        .await
        .unwrap();
    let secret = w.creds.secret.clone();
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<ToCamera>();
    let c = client.clone();
    let fake = tokio::spawn(async move {
        let mut opener: Option<Opener<ToCamera>> = None;
        loop {
            let Ok(Event::Incoming(Packet::Publish(p))) = events.poll().await else {
                continue;
            };
            let viewer = p.topic.rsplit('/').next().unwrap().to_owned();
            let Ok(Incoming::Sealed(b)) = signalling::decode_wire::<ToCamera>(&p.payload) else {
                continue;
            };
            if let Some(head) = &b.ticket {
                let (key, _) = ticket_key(secret.as_bytes(), head);
                let mut o = Opener::<ToCamera>::new(&key, &b.session_id);
                let Ok(ToCamera::Offer(offer)) = o.open(&b) else {
                    continue;
                };
                opener = Some(o);
                let _ = seen_tx.send(ToCamera::Offer(offer.clone()));
                // An answer with a real-looking SDP but a proof made with another key.
                let sdp = CHROMIUM_OFFER.replace("a=setup:actpass", "a=setup:active");
                let forged = ToViewer::Answer {
                    session_id: offer.session_id.clone(),
                    proof: signalling::answer_proof(
                        &[9u8; 32],
                        &offer.session_id,
                        signalling::sdp_fingerprint(&sdp).unwrap(),
                        signalling::sdp_fingerprint(&offer.sdp).unwrap(),
                    ),
                    sdp,
                };
                let payload = Sealer::<ToViewer>::new(&key, &offer.session_id)
                    .seal(&forged)
                    .unwrap();
                c.publish(
                    format!("{prefix}/out/{viewer}"),
                    QoS::AtLeastOnce,
                    false,
                    payload,
                )
                .await
                .unwrap();
            } else if let Some(o) = opener.as_mut()
                && let Ok(m) = o.open(&b)
            {
                let _ = seen_tx.send(m);
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;

    let r = w
        .post(w.device, Some(&w.token), "application/sdp", CHROMIUM_OFFER)
        .await;
    assert_eq!(r.status(), 502);
    let body = r.text().await.unwrap();
    assert!(body.contains("proof"), "{body}");
    assert!(
        !body.contains("v=0"),
        "no SDP of the forger reaches the player"
    );
    assert_eq!(w.cloud.state.whep.session_count(), 0);

    // The offer the forger saw was a real one (a valid ticket for this device), and the
    // cloud said bye after refusing the answer.
    let offer = tokio::time::timeout(Duration::from_secs(2), seen_rx.recv())
        .await
        .unwrap()
        .unwrap();
    let ToCamera::Offer(offer) = offer else {
        panic!("the offer first")
    };
    let (_, full) = ticket_key(w.creds.secret.as_bytes(), &offer.ticket);
    let claims = eyrie_protocol::ticket::verify(
        &full,
        w.creds.secret.as_bytes(),
        &w.device.to_string(),
        eyrie_protocol::clock::unix_secs() as u64,
    )
    .expect("a valid ticket for this device");
    assert!(split_ticket(&full).is_some());
    eprintln!("ticket for user {}", claims.user_id);
    assert!(offer.sdp.contains("a=fingerprint:"));
    let bye = tokio::time::timeout(Duration::from_secs(2), seen_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(bye, ToCamera::Bye { .. }), "{bye:?}");
    fake.abort();
}
