//! The app under Xvfb, black box: `eyrie demo` (embedded cloud + test-pattern camera) signs
//! in, lists the camera, opens live view and renders real frames, talks to the camera,
//! takes a snapshot that shows up in the gallery, and recovers after the camera restarts.
//! The test presses what a person would through the app's D-Bus actions (`win.talk`,
//! `win.snapshot`, `win.gallery`; the demo camera is stopped with the test-only
//! `app.test-demo-camera`), and the app reports what it shows through `EYRIE_TEST_REPORT`
//! (one JSON object per line; the `test-hooks` feature).

mod gui_app;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Run `eyrie demo` under Xvfb; `drive` presses buttons through D-Bus (it may wait on the
/// report), then the app runs until `done` holds or `secs` pass.
fn run_demo(
    drive: impl FnOnce(&gui_app::actions::AppBus, &Path),
    secs: u64,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.jsonl");
    let mut cmd = gui_app::command("1280x800x24");
    cmd.arg("demo")
        .env("EYRIE_TEST_REPORT", &report)
        .env("EYRIE_DEMO_SOURCE", "test")
        .env("EYRIE_TALK_SOURCE", "test")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut app = gui_app::App::spawn(&mut cmd);
    let deadline = Instant::now() + Duration::from_secs(secs);
    drive(&app.bus(30), &report);
    while Instant::now() < deadline && !done(&events(&report)) {
        std::thread::sleep(Duration::from_millis(200));
    }
    app.stop();
    events(&report)
}

/// The first `name` event, waiting up to `secs` for it.
fn wait_event(report: &Path, name: &str, secs: u64) -> Option<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(e) = events(report).into_iter().find(|e| e["event"] == name) {
            return Some(e);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn named<'a>(ev: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    ev.iter().filter(|e| e["event"] == name).collect()
}

#[test]
fn demo_signs_in_lists_the_camera_and_renders_live_frames_and_talks() {
    // Talk for three seconds once video plays.
    let talk = |app: &gui_app::actions::AppBus, report: &Path| {
        if wait_event(report, "playing", 30).is_some() {
            app.win("talk", Some("true"), 5).expect("win.talk");
            std::thread::sleep(Duration::from_secs(3));
            app.win("talk", Some("false"), 5).expect("win.talk");
        }
    };
    let ev = run_demo(talk, 40, |ev| {
        named(ev, "frame").len() >= 4
            && ev
                .iter()
                .filter(|e| {
                    e["event"] == "camera"
                        && e["data"]["event"]
                            .as_str()
                            .is_some_and(|s| s.contains("TalkLevel"))
                })
                .count()
                >= 3
    });
    assert!(!named(&ev, "window-shown").is_empty(), "no window: {ev:?}");
    let cameras = named(&ev, "cameras");
    assert_eq!(
        cameras.first().map(|c| c["data"][0]["name"].clone()),
        Some("Demo Camera".into()),
        "{ev:?}"
    );
    let stages: Vec<_> = named(&ev, "stage")
        .iter()
        .map(|s| s["data"]["stage"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        stages.contains(&"EncryptedChannel".to_owned())
            && stages.contains(&"VideoStream".to_owned()),
        "{stages:?}"
    );
    let frames = named(&ev, "frame");
    assert!(frames.len() >= 4, "too few frames rendered: {ev:?}");
    for f in &frames {
        assert_eq!(f["data"]["paintable"], serde_json::json!([640, 360]), "{f}");
        // A test pattern with a clock: not a uniform (black or empty) picture.
        assert!(
            f["data"]["colours"].as_u64().unwrap_or(0) >= 2,
            "uniform frame: {f}"
        );
    }
    let sums: std::collections::HashSet<_> = frames
        .iter()
        .map(|f| f["data"]["checksum"].as_u64())
        .collect();
    assert!(sums.len() >= 2, "the picture never changed: {frames:?}");
    // Talk: the microphone level shows in the app and the camera decodes our audio.
    assert!(
        named(&ev, "mic-level")
            .iter()
            .any(|m| m["data"]["level"].as_f64().unwrap_or(0.0) > 0.1),
        "no mic level"
    );
    let heard = ev
        .iter()
        .filter(|e| {
            e["event"] == "camera"
                && e["data"]["event"]
                    .as_str()
                    .is_some_and(|s| s.contains("TalkLevel"))
        })
        .count();
    assert!(heard >= 3, "the camera heard no talk: {heard}");
}

#[test]
fn snapshot_taken_in_live_view_shows_in_the_gallery() {
    // A snapshot 1.5 s into the video, then the camera's gallery.
    let snap = |app: &gui_app::actions::AppBus, report: &Path| {
        if wait_event(report, "playing", 30).is_some() {
            std::thread::sleep(Duration::from_millis(1500));
            app.win("snapshot", None, 5).expect("win.snapshot");
            let camera = wait_event(report, "cameras", 5).expect("cameras listed")["data"][0]["id"]
                .as_str()
                .expect("camera id")
                .to_owned();
            if wait_event(report, "snapshot", 10).is_some() {
                app.win("gallery", Some(&format!("'{camera}'")), 5)
                    .expect("win.gallery");
            }
        }
    };
    let ev = run_demo(snap, 40, |ev| {
        named(ev, "gallery").iter().any(|g| {
            g["data"]["snapshots"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
    });
    let snap = named(&ev, "snapshot");
    assert_eq!(snap.len(), 1, "no snapshot saved: {ev:?}");
    let id = snap[0]["data"]["id"].clone();
    let gallery = named(&ev, "gallery");
    let listed = gallery
        .iter()
        .flat_map(|g| {
            g["data"]["snapshots"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect::<Vec<_>>();
    let item = listed
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("snapshot {id} not in gallery: {gallery:?}"));
    assert!(
        item["bytes"].as_u64().unwrap_or(0) > 1000,
        "image not downloaded: {item}"
    );
}

#[test]
fn camera_stopped_shows_a_failure_then_recovers_by_itself() {
    // The demo camera stopped 2 s into the video and started again 4 s later.
    let restart = |app: &gui_app::actions::AppBus, report: &Path| {
        if wait_event(report, "playing", 30).is_some() {
            std::thread::sleep(Duration::from_secs(2));
            app.app("test-demo-camera", Some("false"))
                .expect("app.test-demo-camera");
            std::thread::sleep(Duration::from_secs(4));
            app.app("test-demo-camera", Some("true"))
                .expect("app.test-demo-camera");
        }
    };
    let ev = run_demo(restart, 60, |ev| {
        let restarted = ev
            .iter()
            .position(|e| e["event"] == "test-camera" && e["data"]["running"] == true);
        restarted.is_some_and(|i| ev[i..].iter().any(|e| e["event"] == "playing"))
    });
    let stop = ev
        .iter()
        .position(|e| e["event"] == "test-camera" && e["data"]["running"] == false)
        .expect("camera never stopped");
    let failed = ev[stop..]
        .iter()
        .position(|e| e["event"] == "failed")
        .map(|i| i + stop)
        .unwrap_or_else(|| panic!("no failure shown: {ev:?}"));
    let title = ev[failed]["data"]["title"].as_str().unwrap_or("");
    assert!(
        ["Camera Offline", "Video Stopped", "Connection Lost"].contains(&title),
        "{title}"
    );
    assert!(
        ev[failed..].iter().any(|e| e["event"] == "playing"),
        "never recovered: {ev:?}"
    );
}

/// The metainfo's screenshots are taken from the running app, so they stay current.
#[test]
fn screenshots_are_taken_and_are_not_blank() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(top.join("build-aux/screenshots"))
        .arg(env!("CARGO_BIN_EXE_eyrie"))
        .status()
        .expect("run build-aux/screenshots");
    assert!(status.success());
    for name in [
        "welcome",
        "cameras",
        "live",
        "timeline",
        "preferences",
        "camera-mode",
    ] {
        let png = top.join(format!("data/screenshots/{name}.png"));
        let meta = std::fs::metadata(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
        // A blank window compresses to a few KiB; a real one is far larger.
        assert!(
            meta.len() > 20_000,
            "{} looks blank ({} bytes)",
            png.display(),
            meta.len()
        );
    }
}
