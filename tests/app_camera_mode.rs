//! The camera-mode window under Xvfb, black box: it shows a pairing code, the test claims
//! that code through the API like the app's "Add a camera" does, and the window then runs
//! the camera: its preview renders real frames of the camera's own stream, it reports the
//! store mode and upload state, and the account lists the camera online. With a PipeWire
//! camera of the test's own, the webcam picker lists it, selects it, and follows it as it
//! vanishes and comes back.

mod gui_app;
mod pipewire_support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use eyrie_testkit::{Backend, TestCloud};

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn wait_for<T>(
    report: &Path,
    secs: u64,
    mut found: impl FnMut(&[serde_json::Value]) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(t) = found(&events(report)) {
            return Some(t);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_mode_shows_a_code_pairs_and_previews_its_stream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let base = cloud.base.clone();
    let user = cloud.account("dave").await;
    let token = user.token().expect("signed in").to_owned();
    // The account's installation that answers the camera's pairing check; it made the
    // key set before the app signed in.
    let installation = eyrie_testkit::e2e::TestViewer::new(&user)
        .await
        .expect("the account's installation");

    // The app is signed in to this cloud; camera mode pairs with the same one.
    let session = dir.path().join("session.json");
    std::fs::write(
        &session,
        serde_json::to_vec(&serde_json::json!({
            "server": base, "email": "dave", "token": token,
        }))
        .expect("json"),
    )
    .expect("session file");
    let report = dir.path().join("report.jsonl");
    let mut cmd = gui_app::command("1280x900x24");
    cmd.env("EYRIE_TEST_REPORT", &report)
        .env("EYRIE_SESSION_FILE", &session)
        .env("EYRIE_SECRET_STORE", "file")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut viewer = gui_app::App::spawn(&mut cmd);
    // "Use this computer as a camera", as the menu (or Ctrl+Shift+M) does.
    tokio::task::block_in_place(|| {
        viewer
            .bus(30)
            .app("camera-mode", None)
            .expect("app.camera-mode");
    });

    let outcome = async {
        let code = wait_for(&report, 40, |ev| {
            ev.iter()
                .find_map(|e| e["data"]["pairing_code"].as_str().map(str::to_owned))
        })
        .await
        .ok_or("no pairing code shown")?;
        // 12 characters: the claim code the cloud knows, and the check that only the
        // camera and the viewer see (`docs/keys.md` §4).
        let (claim, _) = eyrie_protocol::e2e::pairing::split(&code)
            .ok_or(format!("not a 12-character code: {code}"))?;
        let device = user
            .claim(&claim, "Desk")
            .await
            .map_err(|e| format!("claim {claim}: {e}"))?;
        drop(installation.pair_in_background(device.id, &code));
        // After pairing: frames of the camera's own stream (640×360 sub), not blank.
        let frames = wait_for(&report, 40, |ev| {
            let running = ev.iter().position(|e| e["data"]["running"] == true)?;
            let frames: Vec<_> = ev[running..]
                .iter()
                .filter(|e| e["event"] == "camera-mode-frame")
                .cloned()
                .collect();
            (frames.len() >= 3).then_some(frames)
        })
        .await
        .ok_or("no preview frames after pairing")?;
        let status = wait_for(&report, 20, |ev| {
            ev.iter()
                .rev()
                .find(|e| e["event"] == "camera-mode-status" && !e["data"]["storage"].is_null())
                .map(|e| e["data"].clone())
        })
        .await
        .ok_or("no storage status shown")?;
        let online = {
            let mut online = false;
            for _ in 0..50 {
                let list = user.devices().await.map_err(|e| e.to_string())?;
                if list.devices.iter().any(|d| d.id == device.id && d.online) {
                    online = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            online
        };
        Ok::<_, String>((frames, status, online))
    }
    .await;
    viewer.stop();

    let (frames, status, online) = outcome.unwrap_or_else(|e| panic!("{e}: {:?}", events(&report)));
    for f in &frames {
        assert_eq!(
            (f["data"]["width"].as_u64(), f["data"]["height"].as_u64()),
            (Some(640), Some(360)),
            "{f}"
        );
        assert!(
            f["data"]["colours"].as_u64().unwrap_or(0) >= 2,
            "uniform preview: {f}"
        );
    }
    let sums: std::collections::HashSet<_> = frames
        .iter()
        .map(|f| f["data"]["checksum"].as_u64())
        .collect();
    assert!(sums.len() >= 2, "the preview never changed: {frames:?}");
    assert!(
        status["storage"]["store_mode"].is_string(),
        "no store mode: {status}"
    );
    assert_eq!(status["privacy"], false, "{status}");
    assert!(online, "the paired camera is not online in the account");
}

/// The picker's lists as the window reported them (`camera-mode-devices`), in order.
fn device_lists(ev: &[serde_json::Value]) -> Vec<serde_json::Value> {
    ev.iter()
        .filter(|e| e["event"] == "camera-mode-devices")
        .map(|e| e["data"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_mode_picker_follows_a_pipewire_camera_that_vanishes_and_returns() {
    if let Some(why) = pipewire_support::unavailable() {
        eprintln!(
            "SKIP camera_mode_picker_follows_a_pipewire_camera_that_vanishes_and_returns: {why}"
        );
        return;
    }
    // Two cameras: the picker must keep the one chosen, not just the first one there.
    const NODES: [&str; 2] = ["eyrie-test-cam", "eyrie-other-cam"];
    let pw = pipewire_support::PipeWire::start();
    let mut publishers: Vec<Option<pipewire_support::Publisher>> = NODES
        .iter()
        .map(|n| Some(pipewire_support::Publisher::start(&pw, n)))
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.jsonl");
    let mut cmd = gui_app::command("1280x900x24");
    pw.env_pipewire_only(&mut cmd);
    cmd.env("EYRIE_TEST_REPORT", &report)
        .env("EYRIE_SECRET_STORE", "file")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut viewer = gui_app::App::spawn(&mut cmd);
    tokio::task::block_in_place(|| {
        viewer
            .bus(30)
            .app("camera-mode", None)
            .expect("app.camera-mode");
    });
    let lists = |l: &serde_json::Value, node: &str| {
        l["video"]
            .as_array()
            .is_some_and(|v| v.iter().any(|s| *s == format!("pipewire:{node}")))
    };
    let outcome = async {
        // Both listed, PipeWire cameras first; one of them selected (the engine runs it).
        let chosen = wait_for(&report, 30, |ev| {
            device_lists(ev).into_iter().find_map(|l| {
                (NODES.iter().all(|n| lists(&l, n)))
                    .then(|| l["selected"].as_str().map(str::to_owned))
                    .flatten()
            })
        })
        .await
        .ok_or("the two PipeWire cameras were never listed with one selected")?;
        let index = NODES
            .iter()
            .position(|n| chosen == format!("pipewire:{n}"))
            .ok_or(format!("selected {chosen}, not a PipeWire camera"))?;
        // The preview shows it: 1280×720 frames of the node (colour bars), through the
        // window's own `pipewiresrc`.
        wait_for(&report, 20, |ev| {
            ev.iter()
                .find(|e| {
                    e["event"] == "camera-mode-frame"
                        && e["data"]["width"] == 1280
                        && e["data"]["height"] == 720
                        && e["data"]["colours"].as_u64().unwrap_or(0) >= 2
                })
                .map(|_| ())
        })
        .await
        .ok_or("no preview frames of the PipeWire camera")?;
        // Its program quits: the list follows (device-removed), and the picker does not
        // jump to the other camera.
        let seen = device_lists(&events(&report)).len();
        publishers[index] = None;
        let away = wait_for(&report, 20, |ev| {
            device_lists(ev)[seen..]
                .iter()
                .find(|l| !lists(l, NODES[index]) && lists(l, NODES[1 - index]))
                .cloned()
        })
        .await
        .ok_or("the vanished camera stayed in the list")?;
        if !away["selected"].is_null() {
            return Err(format!(
                "the picker switched cameras while {chosen} was away: {away}"
            ));
        }
        // It comes back: listed and selected again (device-added).
        let seen = device_lists(&events(&report)).len();
        publishers[index] = Some(pipewire_support::Publisher::start(&pw, NODES[index]));
        wait_for(&report, 20, |ev| {
            device_lists(ev)[seen..]
                .iter()
                .any(|l| l["selected"] == chosen.as_str())
                .then_some(())
        })
        .await
        .ok_or(format!("{chosen} came back but was not selected again"))?;
        Ok::<_, String>(())
    }
    .await;
    viewer.stop();
    if let Err(e) = outcome {
        panic!("{e}: {:?}", device_lists(&events(&report)));
    }
}
