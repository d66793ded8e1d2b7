//! Cloud storage with the real `eyrie camera` process: its control commands over the
//! control socket, and a SIGKILL while uploads are stuck, then a restart — what was
//! spooled before the kill arrives, nothing is lost.

mod storage_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use eyrie_protocol::api::StoreMode;
use storage_support::*;

struct Camera(std::process::Child);

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn eyrie() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eyrie"))
}

fn start_camera(base: &str, state: &Path, code: Option<&str>) -> Camera {
    let mut c = eyrie();
    c.args([
        "camera",
        "--cloud",
        base,
        "--source",
        "test",
        "--speaker",
        "none",
    ])
    .args([
        "--fps",
        "15",
        "--keyframe-interval",
        "1",
        "--segment-secs",
        "2",
    ])
    .args(["--store-mode-poll", "0.5", "--motion-sensitivity", "0"])
    .arg("--state-dir")
    .arg(state);
    if let Some(code) = code {
        c.args(["--activation-code", code]);
    }
    Camera(
        c.stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("eyrie camera starts"),
    )
}

/// `eyrie camera --state-dir S <words>`.
fn control(state: &Path, words: &[&str]) -> Output {
    eyrie()
        .arg("camera")
        .arg("--state-dir")
        .arg(state)
        .args(words)
        .output()
        .expect("eyrie camera <command> runs")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn status(state: &Path) -> serde_json::Value {
    serde_json::from_str(&stdout(&control(state, &["status"]))).expect("status is JSON")
}

/// The recorder applies commands between frames: wait (≤ 5 s) for `paused` to read `want`.
fn paused_becomes(state: &Path, want: bool) -> bool {
    for _ in 0..50 {
        if status(state)["paused"] == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Start times of the segments waiting in the spool (from their manifests).
fn spooled(state: &Path) -> Vec<i64> {
    let dir: PathBuf = state.join("spool").join("pending");
    let mut v: Vec<i64> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .filter_map(|p| std::fs::read(p).ok())
                .filter_map(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
                .filter_map(|m| m["start_ms"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_process_commands_and_sigkill_lose_no_spooled_segment() {
    let _heavy = heavy().await;
    let cloud = Cloud::start(StoreMode::None).await;
    let (device, code) = cloud.new_device("Shed").await;
    cloud.set_mode_of(device, StoreMode::Continuous).await;
    let state = tempfile::tempdir().unwrap();
    let mut camera = start_camera(&cloud.base, state.path(), Some(&code));

    // Activated, recording, uploading.
    let creds_path = state.path().join("credentials.json");
    let t0 = std::time::Instant::now();
    while !creds_path.exists() && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&creds_path).expect("activated")).unwrap();
    let channel: uuid::Uuid = creds["channels"]["main"].as_str().unwrap().parse().unwrap();
    let mut first = Vec::new();
    for _ in 0..80 {
        first = cloud.recordings_of(channel).await;
        if !first.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!first.is_empty(), "the camera process records and uploads");

    // Commands to the running camera.
    assert_eq!(
        stdout(&control(state.path(), &["store-mode"])),
        "continuous"
    );
    let st = status(state.path());
    assert_eq!(st["store_mode"], "continuous", "{st}");
    assert_eq!(st["paused"], false, "{st}");
    let refused = control(state.path(), &["pre-record", "3600"]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("longer than the ring buffer"), "{why}");
    stdout(&control(state.path(), &["pre-record", "3"]));
    stdout(&control(state.path(), &["privacy", "on"]));
    assert!(
        paused_becomes(state.path(), true),
        "privacy on pauses recording"
    );
    stdout(&control(state.path(), &["privacy", "off"]));
    assert!(paused_becomes(state.path(), false), "privacy off resumes");

    // The store goes away: segments pile up in the spool while uploads keep failing.
    cloud.store.down().await;
    let t0 = std::time::Instant::now();
    while spooled(state.path()).len() < 3 && t0.elapsed() < Duration::from_secs(40) {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let st = status(state.path());
    assert!(st["queued"].as_u64().unwrap_or(0) >= 3, "{st}");
    camera.0.kill().expect("SIGKILL");
    let _ = camera.0.wait();
    let waiting = spooled(state.path());
    assert!(
        waiting.len() >= 3,
        "segments spooled at the kill: {waiting:?}"
    );

    // Store back, camera restarted on the same state dir: the spool drains.
    cloud.store.up().await;
    let _camera = start_camera(&cloud.base, state.path(), None);
    let t0 = std::time::Instant::now();
    let mut listed = Vec::new();
    while t0.elapsed() < Duration::from_secs(90) {
        listed = cloud
            .recordings_of(channel)
            .await
            .iter()
            .filter_map(|r| r["start_ms"].as_i64())
            .collect::<Vec<_>>();
        if waiting.iter().all(|s| listed.contains(s)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let missing: Vec<_> = waiting.iter().filter(|s| !listed.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "spooled before the kill, never listed: {missing:?} (listed {listed:?})"
    );
    let st = status(state.path());
    assert_eq!(st["dropped"], 0, "{st}");
}
