//! The camera node end to end, against the embedded cloud (REST, rumqttd, in-process S3):
//! enrolment with an activation code, the owner's commands through the control socket's
//! codec, privacy reaching capture, live side and recording from one command, and the
//! ordered stop — the segment being recorded when `stop()` is called is finished and
//! spooled before `stop()` returns, not lost.

use crate::common;

use std::path::Path;
use std::time::Duration;

use eyrie_camera::control;
use eyrie_camera::live::LiveEvent;
use eyrie_camera::node::{Command, CommandError, Enrolment};
use eyrie_camera::{CameraEvent, CameraNode, NodeConfig};
use eyrie_protocol::api::RecordingPolicy;
use eyrie_protocol::clock::unix_ms;
use eyrie_testkit::e2e::TestViewer;
use eyrie_testkit::{Backend, TestCloud};

/// (start_ms, end_ms) of every segment waiting in the spool.
fn spooled_segments(state: &Path) -> Vec<(i64, i64)> {
    let Ok(dir) = std::fs::read_dir(state.join("spool").join("pending")) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| std::fs::read(p).ok())
        .filter_map(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
        .filter(|m| m["kind"] == "segment")
        .filter_map(|m| Some((m["start_ms"].as_i64()?, m["end_ms"].as_i64()?)))
        .collect()
}

async fn status_json(state: &Path) -> serde_json::Value {
    let raw = control::send(state, &Command::Status)
        .await
        .expect("status answers");
    serde_json::from_str(&raw).expect("status is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privacy_reaches_every_part_and_stop_spools_the_segment_in_progress() {
    common::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let base = cloud.base.clone();
    let user = cloud.account("erin").await;
    let created = user.create_device("Hall").await.unwrap();
    let code = TestViewer::new(&user)
        .await
        .unwrap()
        .pairing_code_for(created.device.id, &created.activation_code);
    user.set_store_mode(created.device.id, RecordingPolicy::Continuous)
        .await
        .unwrap();

    // Enrol (user-first: the activation code), then run with the control socket.
    let state = dir.path().join("camera");
    let enrolled = Enrolment {
        cloud: base.clone(),
        state_dir: state.clone(),
        activation_code: Some(code.clone()),
        ca_file: None,
    }
    .enrol(|code| panic!("an activation code needs no pairing, yet got {code}"))
    .await
    .expect("enrols");
    let channel = enrolled.credentials.channels.main;
    let mut config = NodeConfig::new(state.clone());
    config.capture.keyframe_interval = Duration::from_secs(1);
    config.capture.fps = 15;
    // One long segment: whatever the stop does not flush is simply missing.
    config.storage.segment_secs = 60.0;
    config.storage.motion_sensitivity = 0;
    config.store_mode = Some(RecordingPolicy::Continuous);
    config.storage_required = true;
    config.control_socket = true;
    let node = CameraNode::start(config, enrolled).expect("node starts");
    let mut events = node.events();

    // A second camera on the same state dir must not take the socket over.
    assert!(matches!(
        control::serve(&control::socket_path(&state), node.handle().clone()),
        Err(control::ControlError::InUse(_))
    ));
    assert!(node.status().await.storage.is_some());
    let wait_recording = async {
        for _ in 0..50 {
            if status_json(&state).await["recording"] == true {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(wait_recording.await, "{}", status_json(&state).await);

    // Bad input through the codec: refused with a reason, nothing changes.
    let refused = control::send(&state, &Command::PreRecord(Duration::from_secs(3600)))
        .await
        .expect_err("a pre-record longer than the ring is refused");
    assert!(
        refused.to_string().contains("longer than the ring buffer"),
        "{refused}"
    );

    // Privacy through the socket: when the answer comes, the capture shows the card,
    // the live side has switched (its event is already out, not on its next tick), and
    // recording pauses.
    // A broadcast receiver that fell behind (a loaded machine: the capture's events pile
    // up) answers `Lagged` once and then goes on; only `Empty` means drained.
    use tokio::sync::broadcast::error::TryRecvError;
    while !matches!(
        events.try_recv(),
        Err(TryRecvError::Empty | TryRecvError::Closed)
    ) {}
    assert_eq!(
        control::send(&state, &Command::Privacy(true))
            .await
            .unwrap(),
        ""
    );
    let mut live_heard = false;
    loop {
        match events.try_recv() {
            Ok(e) => live_heard |= e == CameraEvent::Live(LiveEvent::Privacy { on: true }),
            Err(TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
    assert!(live_heard, "the live side did not hear privacy on");
    assert!(node.status().await.privacy, "the capture is not private");
    let mut paused = false;
    for _ in 0..30 {
        paused = status_json(&state).await["paused"] == true;
        if paused {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(paused, "recording did not pause");
    assert!(matches!(
        node.execute(Command::Snapshot).await,
        Err(CommandError::Storage(_))
    ));

    // Back on, record a few seconds, stop: that segment is in the spool when stop returns.
    node.set_privacy(false).await.unwrap();
    assert!(!node.status().await.privacy);
    let resumed = unix_ms();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let handle = node.handle().clone();
    let stop_asked = unix_ms();
    node.stop().await;
    let flushed: Vec<_> = spooled_segments(&state)
        .into_iter()
        .filter(|(start, _)| *start >= resumed - 1_000)
        .collect();
    assert!(
        flushed
            .iter()
            .any(|(start, end)| end - start >= 2_000 && *end >= stop_asked - 1_500),
        "the segment in progress at stop is not spooled: {flushed:?} (resumed {resumed}, stop {stop_asked}, all {:?})",
        spooled_segments(&state)
    );
    assert!(
        !control::socket_path(&state).exists(),
        "the socket outlived the node"
    );
    assert!(matches!(
        handle.execute(Command::Status).await,
        Err(CommandError::Stopping)
    ));
    assert!(matches!(
        handle.set_privacy(true).await,
        Err(CommandError::Stopping)
    ));
    // The pause ended a segment before: that one went up (the node uploads while it runs).
    let listed = user
        .recordings(channel, resumed - 600_000, unix_ms() + 60_000)
        .await
        .unwrap();
    assert!(
        !listed.recordings.is_empty(),
        "nothing recorded before privacy reached the cloud"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_storage_still_runs_live_and_privacy_and_says_why() {
    common::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let base = cloud.base.clone();
    let user = cloud.account("finn").await;
    let created = user.create_device("Loft").await.unwrap();
    let code = TestViewer::new(&user)
        .await
        .unwrap()
        .pairing_code_for(created.device.id, &created.activation_code);
    let state = dir.path().join("camera");
    let enrolled = Enrolment {
        cloud: base,
        state_dir: state.clone(),
        activation_code: Some(code),
        ca_file: None,
    }
    .enrol(|_| {})
    .await
    .expect("enrols");

    // A pre-record longer than the ring: storage cannot start.
    let mut config = NodeConfig::new(state.clone());
    config.storage.pre_record = 3600.0;
    let mut required = config.clone();
    required.storage_required = true;
    assert!(CameraNode::start(required, enrolled.clone()).is_err());
    let node = CameraNode::start(config, enrolled).expect("starts live only");
    let status = node.status().await;
    assert!(status.storage.is_none());
    let why = status.storage_error.expect("says why");
    assert!(why.contains("longer than the ring buffer"), "{why}");
    let refused = node.execute(Command::RecordAudio(false)).await.unwrap_err();
    assert!(
        matches!(refused, CommandError::StorageOff(Some(_))),
        "{refused}"
    );
    node.set_privacy(true)
        .await
        .expect("privacy needs no storage");
    assert!(node.status().await.privacy);
    node.stop().await;
}

/// The store mode the owner sets reaches the camera's recorder, which logs the change the
/// right way round: an outside reader once found `from="continuous" to="event"` logged
/// when event mode became continuous.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_mode_change_is_logged_from_the_old_to_the_new() {
    let _log = common::LogWatch::start();
    let dir = tempfile::tempdir().unwrap();
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let user = cloud.account("frank").await;
    let created = user.create_device("Shed").await.unwrap();
    let device = created.device.id;
    let code = TestViewer::new(&user)
        .await
        .unwrap()
        .pairing_code_for(device, &created.activation_code);
    user.set_store_mode(device, RecordingPolicy::Event)
        .await
        .unwrap();
    let state = dir.path().join("camera");
    let enrolled = Enrolment {
        cloud: cloud.base.clone(),
        state_dir: state.clone(),
        activation_code: Some(code.clone()),
        ca_file: None,
    }
    .enrol(|code| panic!("an activation code needs no pairing, yet got {code}"))
    .await
    .expect("enrols");
    let mut config = NodeConfig::new(state.clone());
    config.storage.store_mode_poll = 0.2;
    config.storage.motion_sensitivity = 0;
    config.store_mode = Some(RecordingPolicy::Event);
    config.storage_required = true;
    let node = CameraNode::start(config, enrolled).expect("node starts");
    for (from, to) in [
        (RecordingPolicy::Event, RecordingPolicy::Continuous),
        (RecordingPolicy::Continuous, RecordingPolicy::Event),
    ] {
        let mark = common::log_mark();
        user.set_store_mode(device, to).await.unwrap();
        let line = common::wait_log(mark, &["store mode changed"], Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no store mode change to {to:?} logged"));
        let want = format!("from={:?} to={:?}", from.as_str(), to.as_str());
        assert!(line.contains(&want), "{want} logged as: {line}");
    }
    node.stop().await;
}
