//! Live view end to end on one machine: camera (test pattern) ⇄ mosquitto ⇄ viewer.

mod common;

use std::time::Duration;

use common::*;
use eyrie_client::live::{Stage, ViewerError, ViewerEvent};
use eyrie_protocol::signalling::Stream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_frame_carries_the_capture_clock() {
    init_logs();
    let broker = Mosquitto::start(false);
    let cam = camera(broker.mqtt(DEVICE, &prefix()), |_| {});
    // Let the rings fill a GOP.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let t = ticket(broker.mqtt("viewer-1", &prefix()), SECRET, now_s() + 60);
    let (v, mut rx, seen) = viewer(t, Stream::Sd, false);
    let ev = wait_event(&mut rx, Duration::from_secs(15), |e| {
        matches!(e, ViewerEvent::FirstFrame { .. } | ViewerEvent::Error(_))
    })
    .await;
    let Some(ViewerEvent::FirstFrame { since_offer }) = ev else {
        panic!("no first frame: {ev:?}");
    };
    eprintln!("first frame {since_offer:?} after the offer");
    assert_eq!(
        wait_event(&mut rx, Duration::from_secs(2), |e| matches!(
            e,
            ViewerEvent::Stage(_)
        ))
        .await,
        Some(ViewerEvent::Stage(Stage::Playing))
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let s = seen.lock().unwrap().clone();
    assert!(s.frames > 5, "{s:?}");
    assert_eq!(s.size, Some((640, 360)));
    let (capture, arrival) = s.clock.expect("pixel clock decodes from received frames");
    let g2g = arrival as i64 - capture as i64;
    eprintln!("glass-to-glass {g2g} ms");
    assert!((0..2000).contains(&g2g), "capture clock is sane: {g2g} ms");
    assert_eq!(cam.live().session_count(), 1);
    v.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        cam.live().session_count(),
        0,
        "bye frees the session at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_and_expired_tickets_are_refused() {
    init_logs();
    let broker = Mosquitto::start(false);
    let cam = camera(broker.mqtt(DEVICE, &prefix()), |_| {});
    tokio::time::sleep(Duration::from_millis(500)).await;
    for t in [
        ticket(
            broker.mqtt("viewer-1", &prefix()),
            "not-the-secret",
            now_s() + 60,
        ),
        ticket(broker.mqtt("viewer-1", &prefix()), SECRET, now_s() - 1),
    ] {
        let (_v, mut rx, _) = viewer(t, Stream::Sd, false);
        let ev = wait_event(&mut rx, Duration::from_secs(10), |e| {
            matches!(e, ViewerEvent::Error(_))
        })
        .await;
        assert!(
            matches!(ev, Some(ViewerEvent::Error(ViewerError::AuthFailed(_)))),
            "{ev:?}"
        );
    }
    assert_eq!(cam.live().session_count(), 0);
}
