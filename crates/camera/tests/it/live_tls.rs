//! Signalling over MQTT with TLS (`mqtts`): mosquitto shows a certificate from a CA made
//! for the test; camera and viewer trust that CA and play; a camera or a viewer trusting
//! another CA (or only the system's) never gets through, and the viewer says why.

use crate::common;

use std::time::Duration;

use common::tls::TestPki;
use common::*;
use eyrie_camera::CameraEvent;
use eyrie_client::live::{ViewerError, ViewerEvent};
use eyrie_client::mqtt_link::TLS_REFUSED;
use eyrie_protocol::signalling::Stream;

/// Wait for the camera's signalling link to report `up`, up to `timeout`.
async fn signalling(
    events: &mut tokio::sync::broadcast::Receiver<CameraEvent>,
    up: bool,
    timeout: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(CameraEvent::Signalling(u))) if u == up => return true,
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            _ => return false,
        }
    }
}

async fn refused(mut rx: tokio::sync::mpsc::UnboundedReceiver<ViewerEvent>) -> ViewerEvent {
    wait_event(&mut rx, Duration::from_secs(10), |e| {
        matches!(e, ViewerEvent::Error(_) | ViewerEvent::FirstFrame { .. })
    })
    .await
    .expect("the viewer reports an outcome")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_the_right_ca_plays_and_a_wrong_ca_is_refused() {
    init_logs();
    let pki = TestPki::generate();
    let broker = Mosquitto::with_tls(&pki.broker_files());
    let conn = broker.connection(DEVICE, &prefix());
    assert!(conn.tls);

    // A camera that trusts another CA never gets on the broker.
    let wrong = camera(conn.clone(), |c| c.mqtt_ca = Some(pki.wrong_ca_pem.clone()));
    let mut events = wrong.events();
    assert!(
        signalling(&mut events, false, Duration::from_secs(5)).await,
        "the camera reports the refused connection"
    );
    assert!(
        !signalling(&mut events, true, Duration::from_secs(2)).await,
        "a camera with the wrong CA connected"
    );
    drop(wrong);

    let cam = camera(broker.connection(DEVICE, &prefix()), |c| {
        c.mqtt_ca = Some(pki.ca_pem.clone());
    });
    let mut events = cam.events();
    assert!(signalling(&mut events, true, Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(800)).await;

    // The right CA: the whole session runs over mqtts.
    let t = viewer_ticket(&broker);
    let ca = pki.ca_pem.clone();
    let (v, rx, seen) = viewer_with(t, Stream::Sd, false, |c| c.mqtt_ca = Some(ca));
    let ev = refused(rx).await;
    assert!(matches!(ev, ViewerEvent::FirstFrame { .. }), "{ev:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen.lock().unwrap().frames > 0);
    assert_eq!(cam.live().session_count(), 1);
    v.close().await;

    // Another CA, or only the system's bundle: refused before any offer, and said so.
    for ca in [Some(pki.wrong_ca_pem.clone()), None] {
        let system = ca.is_none();
        let t = viewer_ticket(&broker);
        let (_v, rx, _) = viewer_with(t, Stream::Sd, false, |c| c.mqtt_ca = ca);
        match refused(rx).await {
            ViewerEvent::Error(ViewerError::Signalling(why)) => {
                assert!(why.starts_with(TLS_REFUSED), "system CAs {system}: {why}");
            }
            other => panic!("system CAs {system}: {other:?}"),
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cam.live().session_count(), 0);
}
