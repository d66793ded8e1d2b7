//! A session restarted in place (`docs/signalling.md` §5.1), on one machine: camera (test
//! pattern) ⇄ mosquitto ⇄ viewer. The network lab moves a real viewer to a new address
//! (`tests/nat_netchange.rs`); here the viewer is told to restart
//! (`LiveViewer::reconnect`, what a caller does on GLib's network-changed) so the
//! protocol's rules are checked fast: the same session on the camera, its slot counted
//! once, talk and stream kept, frames again.

use crate::common;

use std::time::Duration;

use common::*;
use eyrie_camera::CameraEvent;
use eyrie_camera::live::LiveEvent;
use eyrie_client::live::{Stage, ViewerError, ViewerEvent};
use eyrie_protocol::signalling::Stream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_session_its_slot_and_its_stream() {
    init_logs();
    let broker = Mosquitto::start();
    let cam = camera(broker.connection(DEVICE, &prefix()), |c| c.max_sessions = 1);
    let mut camera_events = cam.events();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (v, mut rx, seen) = viewer(viewer_ticket(&broker), Stream::Sd, false);
    first_frame(&mut rx).await;
    v.set_stream(Stream::Hd);
    let hd = wait_event(&mut rx, Duration::from_secs(5), |e| {
        matches!(
            e,
            ViewerEvent::State {
                stream: Stream::Hd,
                ..
            }
        )
    })
    .await;
    assert!(hd.is_some(), "the camera confirms HD");

    v.reconnect("test");
    let ev = wait_event(&mut rx, Duration::from_secs(2), |e| {
        matches!(e, ViewerEvent::Reconnecting { .. } | ViewerEvent::Error(_))
    })
    .await;
    assert!(
        matches!(ev, Some(ViewerEvent::Reconnecting { .. })),
        "{ev:?}"
    );
    let before = seen.lock().unwrap().frames;
    let t0 = std::time::Instant::now();
    let ev = wait_event(&mut rx, Duration::from_secs(8), |e| {
        matches!(
            e,
            ViewerEvent::Stage(Stage::Playing) | ViewerEvent::Error(_)
        )
    })
    .await;
    assert_eq!(ev, Some(ViewerEvent::Stage(Stage::Playing)), "live again");
    eprintln!("restarted in {:?}", t0.elapsed());
    // The answer to the restart is followed by the session's state: still HD.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let s = seen.lock().unwrap().clone();
    assert!(s.frames > before + 3, "frames after the restart: {s:?}");
    assert_eq!(s.size, Some((1280, 720)), "the session kept its stream");
    // One session, restarted, not a second one; its slot still the only one.
    assert_eq!(cam.live().session_count(), 1);
    let mut starts = 0;
    let mut restarted = false;
    while let Ok(e) = camera_events.try_recv() {
        match e {
            CameraEvent::Live(LiveEvent::LiveStart { session_id, .. }) => {
                assert_eq!(session_id, v.session_id());
                starts += 1;
            }
            CameraEvent::Live(LiveEvent::Restarted {
                session_id,
                generation,
            }) => {
                assert_eq!((session_id.as_str(), generation), (v.session_id(), 1));
                restarted = true;
            }
            _ => {}
        }
    }
    assert_eq!((starts, restarted), (1, true));
    let (_v2, mut rx2, _) = viewer(viewer_ticket(&broker), Stream::Sd, false);
    let busy = wait_event(&mut rx2, Duration::from_secs(10), |e| {
        matches!(e, ViewerEvent::Error(_))
    })
    .await;
    assert_eq!(busy, Some(ViewerEvent::Error(ViewerError::Busy { max: 1 })));
    v.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        cam.live().session_count(),
        0,
        "bye frees the restarted session"
    );
}
