//! A snapshot the camera took — an encrypted JPEG (`docs/segment-format.md`) — shows on the
//! camera's card in the app under Xvfb, decrypted with the device's key; it used to be
//! handed to the image loader sealed and the card kept its generic icon. (The gallery and
//! the timeline open snapshots through the same `SnapshotOpener`; `tests/storage_e2e.rs`
//! checks what it opens.) The card then keeps showing the newest snapshot: one the camera
//! takes while the list is open replaces the picture by itself, within the list's refresh
//! (30 s), with nothing pressed.

mod gui_app;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_protocol::api::SnapshotSource;
use eyrie_testkit::{Backend, TestCloud};

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_snapshot_shows_on_its_card() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let base = cloud.base.clone();
    let user = cloud.account("fay").await;
    let token = user.token().expect("signed in").to_owned();
    let created = user.create_device("garden").await.expect("device");
    let device = created.device.id;
    let main = created
        .device
        .channels
        .iter()
        .find(|c| c.kind == eyrie_protocol::api::ChannelKind::Main)
        .expect("main channel")
        .id;
    // The account's installation, which answers the camera's pairing check; the app below
    // runs as that same installation (its key in the app's key file), so it can open
    // what the camera seals.
    let installation = eyrie_testkit::e2e::TestViewer::new(&user)
        .await
        .expect("the account's installation");
    let code = installation.pairing_code_for(device, &created.activation_code);
    let _camera = Child(
        Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .args(["camera", "--cloud", &base, "--source", "test"])
            .args(["--speaker", "none", "--fps", "15", "--store-mode-poll", "1"])
            .arg("--state-dir")
            .arg(dir.path().join("camera"))
            .args(["--activation-code", &code])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("eyrie camera starts"),
    );

    // The owner asks the camera for a snapshot (the gallery's camera button does this).
    let deadline = Instant::now() + Duration::from_secs(60);
    let snapshot = loop {
        let _ = user.request_snapshot(device).await;
        let now = eyrie_client::pixel_clock::now_unix_ms() as i64;
        let list = user
            .snapshots(main, now - 600_000, now + 60_000)
            .await
            .expect("snapshots");
        if let Some(s) = list.snapshots.into_iter().next() {
            break s;
        }
        assert!(Instant::now() < deadline, "the camera took no snapshot");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(snapshot.source, SnapshotSource::Agent);
    let sealed = user
        .get_presigned(snapshot.download.as_ref().unwrap())
        .await
        .unwrap();
    assert!(
        sealed.starts_with(&eyrie_protocol::segment::MAGIC),
        "the camera's snapshot is stored encrypted"
    );

    // The app lists the camera; its card shows the picture.
    let session = dir.path().join("session.json");
    std::fs::write(
        &session,
        serde_json::to_vec(&serde_json::json!({
            "server": base, "email": "fay", "token": token,
        }))
        .unwrap(),
    )
    .unwrap();
    gui_app::keep_viewer_key(&session, &base, "fay", installation.me.seed());
    let report = dir.path().join("report.jsonl");
    let mut cmd = gui_app::command("1280x800x24");
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
    let deadline = Instant::now() + Duration::from_secs(40);
    let thumbnail = loop {
        let ev = events(&report);
        if let Some(t) = ev
            .iter()
            .find(|e| e["event"] == "thumbnail" && e["data"]["device"] == device.to_string())
        {
            break Some(t.clone());
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let thumbnail = thumbnail.expect("the card shows the camera's snapshot");
    assert_eq!(
        thumbnail["data"]["size"],
        serde_json::json!([1280, 720]),
        "the main stream's picture: {thumbnail}"
    );
    let shown = thumbnail["data"]["snapshot"]
        .as_str()
        .expect("the snapshot the card shows")
        .to_owned();

    // A newer snapshot, taken while the list is open: the card shows it by itself.
    loop {
        let _ = user.request_snapshot(device).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = eyrie_client::pixel_clock::now_unix_ms() as i64;
        let list = user
            .snapshots(main, now - 600_000, now + 60_000)
            .await
            .expect("snapshots");
        if list.snapshots.iter().any(|s| s.id.to_string() != shown) {
            break;
        }
        assert!(
            Instant::now() < deadline + Duration::from_secs(60),
            "no second snapshot"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(45);
    let refreshed = loop {
        let ev = events(&report);
        if ev.iter().any(|e| {
            e["event"] == "thumbnail"
                && e["data"]["device"] == device.to_string()
                && e["data"]["snapshot"].is_string()
                && e["data"]["snapshot"] != shown.as_str()
        }) {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    viewer.stop();
    assert!(
        refreshed,
        "the card still shows the older snapshot: {:?}",
        events(&report)
    );
}
