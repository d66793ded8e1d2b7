//! Live view over mosquitto with the per-user ACLs of docs/signalling.md, and a broker
//! restart in the middle of a session.

use crate::common;

use std::time::Duration;

use common::*;
use eyrie_client::live::ViewerEvent;
use eyrie_protocol::signalling::Stream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_keep_viewers_apart_and_the_session_survives_a_broker_restart() {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    init_logs();
    let mut broker = broker_with_logins();
    let cam = camera(broker.connection(DEVICE, &prefix()), |_| {});
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Another user listens in on viewer-1's replies: the broker must deliver nothing.
    let mut mo = MqttOptions::new("snoop", "127.0.0.1", broker.port);
    mo.set_credentials("viewer-2", "viewer-2");
    mo.set_max_packet_size(100_000, 100_000);
    let (snoop, mut el) = AsyncClient::new(mo, 16);
    snoop
        .subscribe(format!("{}/out/viewer-1", prefix()), QoS::AtLeastOnce)
        .await
        .unwrap();
    // Presence is readable by everybody: proves the snoop is logged in and subscribed.
    snoop
        .subscribe(format!("{}/status", prefix()), QoS::AtLeastOnce)
        .await
        .unwrap();
    let snooped = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let presence = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (sn, pr) = (snooped.clone(), presence.clone());
    let snoop_task = tokio::spawn(async move {
        while let Ok(ev) = el.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                if p.topic.ends_with("/status") {
                    pr.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else {
                    sn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    });

    let t = viewer_ticket(&broker);
    let (v, mut rx, seen) = viewer(t, Stream::Sd, false);
    first_frame(&mut rx).await;
    assert!(
        presence.load(std::sync::atomic::Ordering::Relaxed) >= 1,
        "snoop saw presence"
    );
    assert_eq!(
        snooped.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "ACL let another user read"
    );
    snoop_task.abort();

    // Broker restart: media keeps flowing, the link comes back by itself, controls work again.
    let frames_before = seen.lock().unwrap().frames;
    broker.restart();
    let lost = wait_event(&mut rx, Duration::from_secs(10), |e| {
        matches!(e, ViewerEvent::SignallingLost)
    })
    .await;
    assert!(lost.is_some(), "viewer noticed the broker going");
    let back = wait_event(&mut rx, Duration::from_secs(15), |e| {
        matches!(e, ViewerEvent::SignallingRestored)
    })
    .await;
    assert!(back.is_some(), "viewer reconnected by itself");
    assert!(
        seen.lock().unwrap().frames > frames_before + 10,
        "media kept flowing"
    );
    // The camera is back on the broker too (it may reconnect a little later).
    let mut switched = false;
    for _ in 0..10 {
        v.set_stream(Stream::Hd);
        if wait_event(&mut rx, Duration::from_secs(2), |e| {
            matches!(
                e,
                ViewerEvent::State {
                    stream: Stream::Hd,
                    ..
                }
            )
        })
        .await
        .is_some()
        {
            switched = true;
            break;
        }
    }
    assert!(switched, "controls reach the camera after the restart");
    assert_eq!(cam.live().session_count(), 1, "the session survived");
    v.close().await;
}
