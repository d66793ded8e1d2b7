//! Live view through the real cloud: the embedded cloud (`eyrie_cloud::Application`, its
//! rumqttd broker and its ticket endpoint), a camera that pairs with it through the
//! set-up contract (camera-first: pairing code, claim, activation) and stores its
//! credentials 0600, and a viewer that gets its ticket from the API.

use crate::common;

use std::time::Duration;

use common::*;
use eyrie_camera::capture::{CaptureConfig, Source};
use eyrie_camera::live::{LiveConfig, Speaker};
use eyrie_camera::{Camera, CameraConfig};
use eyrie_client::live::ViewerEvent;
use eyrie_protocol::signalling::Stream;
use eyrie_testkit::{Backend, TestCloud};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_then_watch_through_the_embedded_cloud() {
    init_logs();
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let base = cloud.base.clone();
    let user = cloud.account("alice").await;

    // Camera-first set-up: the camera pairs (printing its code), the user claims it.
    let state = tempfile::tempdir().unwrap();
    let (code_tx, mut code_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let st = state.path().to_owned();
    let b = base.clone();
    let setup = tokio::spawn(async move {
        eyrie_camera::setup::credentials(&b, &st, None, move |code| {
            let _ = code_tx.send(code.to_owned());
        })
        .await
    });
    let code = tokio::time::timeout(Duration::from_secs(10), code_rx.recv())
        .await
        .unwrap()
        .unwrap();
    // The cloud sees the claim part (8 characters) only; the check stays with the two ends.
    let (claim, _) = eyrie_protocol::e2e::pairing::split(&code).expect("a 12-character code");
    let device = user.claim(&claim, "porch").await.unwrap();
    let creds = tokio::time::timeout(Duration::from_secs(15), setup)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(creds.device_id, device.id);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(state.path().join("credentials.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "credentials are private");
    // A second start reads them back without the cloud.
    let again = eyrie_camera::setup::load(state.path()).unwrap().unwrap();
    assert_eq!(again, creds);

    let mut live = LiveConfig::new(creds.device_id.to_string(), creds.secret_bytes().to_vec());
    live.speaker = Speaker::None;
    let cam = Camera::start(CameraConfig {
        capture: CaptureConfig {
            source: Source::Test,
            ..Default::default()
        },
        live,
        mqtt: creds.mqtt.clone(),
    })
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let ticket = user.ticket(device.id, None).await.unwrap();
    let (v, mut rx, seen) = viewer(ticket.clone(), Stream::Sd, false);
    let ev = wait_event(&mut rx, Duration::from_secs(15), |e| {
        matches!(e, ViewerEvent::FirstFrame { .. } | ViewerEvent::Error(_))
    })
    .await;
    assert!(matches!(ev, Some(ViewerEvent::FirstFrame { .. })), "{ev:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(seen.lock().unwrap().clock.is_some(), "pixel clock decodes");
    assert_eq!(cam.live().session_count(), 1);

    // The same ticket cannot open a second session (replay). Its broker login carries the
    // first viewer's client id, so the two links take turns kicking each other off the
    // broker and the refusal may need a few of the link's back-offs to get through.
    let (_v2, mut rx2, _) = viewer(ticket, Stream::Sd, false);
    let ev = wait_event(&mut rx2, Duration::from_secs(30), |e| {
        matches!(e, ViewerEvent::Error(_))
    })
    .await;
    assert!(
        matches!(
            ev,
            Some(ViewerEvent::Error(
                eyrie_client::live::ViewerError::AuthFailed(_)
            ))
        ),
        "{ev:?}"
    );
    assert_eq!(cam.live().session_count(), 1);
    v.close().await;
}
