//! The camera between tenants: a ticket is good only over its own user's login, and
//! junk parked in the camera's inbox (retained, larger than any signalling message)
//! neither keeps it off the broker nor stays there.

use crate::common;

use std::time::Duration;

use common::*;
use eyrie_camera::CameraEvent;
use eyrie_client::live::{ViewerError, ViewerEvent};
use eyrie_protocol::signalling::Stream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_offered_over_another_users_login_is_refused() {
    init_logs();
    let broker = Mosquitto::start();
    let cam = camera(broker.connection(DEVICE, &prefix()), |_| {});
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A valid ticket of user 1, offered by viewer-2 (the topic and login of another user).
    let t = ticket(
        broker.connection("viewer-2", &prefix()),
        SECRET,
        now_s() + 60,
    );
    let (_v, mut rx, _) = viewer(t, Stream::Sd, false);
    let ev = wait_event(&mut rx, Duration::from_secs(10), |e| {
        matches!(e, ViewerEvent::Error(_) | ViewerEvent::FirstFrame { .. })
    })
    .await;
    assert!(
        matches!(&ev, Some(ViewerEvent::Error(ViewerError::AuthFailed(m))) if m.contains("another user")),
        "{ev:?}"
    );
    assert_eq!(cam.live().session_count(), 0);
}

/// `mosquitto_pub` a retained `payload` to `topic` on `broker` (anonymous).
fn park(broker: &Mosquitto, topic: &str, payload: &[u8]) {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), payload).unwrap();
    let ok = std::process::Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-q",
            "1",
            "-r",
            "-t",
            topic,
            "-f",
        ])
        .arg(f.path())
        .status()
        .expect("mosquitto_pub (apt install mosquitto-clients)");
    assert!(ok.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_junk_in_the_inbox_neither_loops_the_camera_nor_stays() {
    init_logs();
    // A broker without the documented size limit, so the camera itself must cope.
    let broker = Mosquitto::start();
    let inbox = format!("{}/in/viewer-9", prefix());
    park(&broker, &inbox, &vec![b'x'; 70 * 1024]);
    park(&broker, &format!("{}/in/viewer-8", prefix()), b"not json");
    let cam = camera(broker.connection(DEVICE, &prefix()), |_| {});
    let mut events = cam.events();
    let mut ups = 0;
    let mut downs = 0;
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Ok(e)) = tokio::time::timeout_at(until, events.recv()).await {
        match e {
            CameraEvent::Signalling(true) => ups += 1,
            CameraEvent::Signalling(false) => downs += 1,
            _ => {}
        }
    }
    assert_eq!((ups, downs), (1, 0), "the camera connected once and stayed");
    // The camera cleared what was parked: a newcomer finds nothing retained.
    let o = std::process::Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &broker.port.to_string(),
            "-t",
            &format!("{}/in/+", prefix()),
            "-v",
            "-W",
            "2",
        ])
        .output()
        .expect("mosquitto_sub");
    let left = String::from_utf8_lossy(&o.stdout);
    assert!(
        left.is_empty(),
        "retained junk left in the inbox: {} bytes",
        left.len()
    );
    // And it still answers its owner.
    let t = viewer_ticket(&broker);
    let (v, mut rx, _) = viewer(t, Stream::Sd, false);
    let ev = wait_event(&mut rx, Duration::from_secs(15), |e| {
        matches!(e, ViewerEvent::FirstFrame { .. } | ViewerEvent::Error(_))
    })
    .await;
    assert!(matches!(ev, Some(ViewerEvent::FirstFrame { .. })), "{ev:?}");
    v.close().await;
}
