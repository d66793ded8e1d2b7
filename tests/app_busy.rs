//! The app under Xvfb, black box: a camera already serving its limit of viewers (five
//! `eyrie_client` viewers held by this test) makes the app's live view say "busy", with
//! the limit, in words a person understands.
//!
//! Set-up: the embedded cloud in this process, `eyrie camera --source test` as a child
//! activated with a code, a saved session for the plain viewer (`EYRIE_SESSION_FILE`); the
//! test opens the camera through the app's D-Bus action `app.open-camera`, as a
//! notification or a desktop integration does.

mod gui_app;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_client::api::ApiClient;
use eyrie_client::live::{LiveViewer, ViewerConfig, ViewerEvent};
use eyrie_testkit::{Backend, TestCloud};
use gstreamer as gst;

const LIMIT: usize = 5;

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

/// One viewer that has its first frame, or `None` when the camera did not serve it.
async fn watch(user: &ApiClient, device: uuid::Uuid) -> Option<LiveViewer> {
    let ticket = user.ticket(device, None).await.ok()?;
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .build()
        .ok()?;
    let mut cfg = ViewerConfig::new(ticket, sink);
    cfg.answer_timeout = Duration::from_secs(5);
    let (viewer, mut rx) = LiveViewer::connect(cfg).ok()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while let Ok(Some(e)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        match e {
            ViewerEvent::FirstFrame { .. } => return Some(viewer),
            ViewerEvent::Error(_) | ViewerEvent::Ended { .. } => break,
            _ => {}
        }
    }
    viewer.close().await;
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixth_viewer_sees_busy_with_the_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let base = cloud.base.clone();
    let user = cloud.account("carol").await;
    let token = user.token().expect("signed in").to_owned();
    let created = user.create_device("porch").await.expect("device");
    let device = created.device.id;
    // The camera's 12-character code; the account's installation answers its pairing
    // check (`docs/keys.md` §4).
    let code = eyrie_testkit::e2e::TestViewer::new(&user)
        .await
        .expect("the account's installation")
        .pairing_code_for(device, &created.activation_code);

    let state = dir.path().join("camera");
    let _camera = Child(
        Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .args(["camera", "--cloud", &base, "--source", "test"])
            .args(["--speaker", "none", "--fps", "15"])
            .args(["--max-sessions", &LIMIT.to_string()])
            .arg("--state-dir")
            .arg(&state)
            .args(["--activation-code", &code])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("eyrie camera starts"),
    );

    // Fill the camera: the first viewer also waits for it to activate and connect.
    gst::init().expect("gstreamer");
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while held.len() < LIMIT && Instant::now() < deadline {
        match watch(&user, device).await {
            Some(v) => held.push(v),
            None => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    assert_eq!(
        held.len(),
        LIMIT,
        "the camera did not serve {LIMIT} viewers"
    );

    // The app, signed in with a saved session, opens the camera.
    let session = dir.path().join("session.json");
    std::fs::write(
        &session,
        serde_json::to_vec(&serde_json::json!({
            "server": base, "email": "carol", "token": token,
        }))
        .expect("json"),
    )
    .expect("session file");
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
    tokio::task::block_in_place(|| {
        viewer
            .bus(30)
            .app("open-camera", Some(&format!("'{device}'")))
            .expect("app.open-camera");
    });
    let deadline = Instant::now() + Duration::from_secs(40);
    let busy = loop {
        let ev = events(&report);
        if let Some(f) = ev
            .iter()
            .find(|e| e["event"] == "failed")
            .map(|e| e["data"].clone())
        {
            break Some((f, ev));
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    viewer.stop();
    for v in held {
        v.close().await;
    }

    let (failed, ev) = busy.unwrap_or_else(|| panic!("no failure shown: {:?}", events(&report)));
    assert_eq!(failed["title"], "Camera Busy", "{failed} {ev:?}");
    let description = failed["description"].as_str().unwrap_or("");
    assert!(
        description.contains(&format!("{LIMIT} viewers")),
        "the limit is not said: {description}"
    );
    assert!(
        ev.iter().all(|e| e["event"] != "playing"),
        "a sixth viewer played: {ev:?}"
    );
}
