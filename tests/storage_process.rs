//! Cloud storage with the real `eyrie camera` process: its control commands over the
//! control socket, and a SIGKILL while uploads are stuck, then a restart — what was
//! spooled before the kill arrives, nothing is lost. And a real camera: a PipeWire video
//! source in a PipeWire session of the test's own, found, recorded, taken away and brought
//! back (`pipewire_support`).

mod pipewire_support;
mod storage_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use eyrie_protocol::api::RecordingPolicy;
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
    start_camera_on(base, state, code, "test", None)
}

/// `eyrie camera` with `--source source`, in the PipeWire session `pw` when given.
fn start_camera_on(
    base: &str,
    state: &Path,
    code: Option<&str>,
    source: &str,
    pw: Option<&pipewire_support::PipeWire>,
) -> Camera {
    let mut c = eyrie();
    if let Some(pw) = pw {
        pw.env(&mut c);
    }
    c.args([
        "camera",
        "--cloud",
        base,
        "--source",
        source,
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
/// The start times of the spooled entries of `kind` (`segment` or `snapshot`; a snapshot's
/// start is the time it was taken).
fn spooled_kind(state: &Path, kind: &str) -> Vec<i64> {
    let dir: PathBuf = state.join("spool").join("pending");
    let mut v: Vec<i64> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .filter_map(|p| std::fs::read(p).ok())
                .filter_map(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
                .filter(|m| m["kind"] == kind)
                .filter_map(|m| m["start_ms"].as_i64())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
}

/// The spooled recording segments' start times.
fn spooled(state: &Path) -> Vec<i64> {
    spooled_kind(state, "segment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_process_commands_and_sigkill_lose_no_spooled_segment() {
    let _heavy = heavy().await;
    let cloud = Cloud::start(RecordingPolicy::None).await;
    let (device, code) = cloud.new_device("Shed").await;
    cloud.set_mode_of(device, RecordingPolicy::Continuous).await;
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
    // A snapshot answers once it is uploaded.
    assert_eq!(stdout(&control(state.path(), &["snapshot"])), "uploaded");

    // The store goes away: segments pile up in the spool while uploads keep failing; a
    // snapshot taken now waits in the spool too, and says so (exit 0: nothing is lost).
    cloud.store.down().await;
    assert_eq!(stdout(&control(state.path(), &["snapshot"])), "queued");
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
    let snapshot_waiting = spooled_kind(state.path(), "snapshot");
    assert_eq!(
        snapshot_waiting.len(),
        1,
        "the queued snapshot is in the spool: {snapshot_waiting:?}"
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
    // The snapshot queued while the store was down arrives as a snapshot.
    let t0 = std::time::Instant::now();
    let mut snaps = Vec::new();
    while t0.elapsed() < Duration::from_secs(30) {
        snaps = snapshots_of(&cloud, channel).await;
        if snapshot_waiting.iter().all(|s| snaps.contains(s)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        snapshot_waiting.iter().all(|s| snaps.contains(s)),
        "the snapshot spooled before the kill is listed: {snapshot_waiting:?} (listed {snaps:?})"
    );
    let st = status(state.path());
    assert_eq!(st["dropped"], 0, "{st}");
}

/// When the snapshots of `channel` from the last hour were taken.
async fn snapshots_of(cloud: &Cloud, channel: uuid::Uuid) -> Vec<i64> {
    cloud
        .listing_of(channel, "snapshots")
        .await
        .iter()
        .filter_map(|s| s["taken_at_ms"].as_i64())
        .collect()
}

/// Every recording listed in `channel` that overlaps `[from, to)`.
async fn recordings_between(
    cloud: &Cloud,
    channel: uuid::Uuid,
    from: i64,
) -> Vec<serde_json::Value> {
    cloud
        .recordings_of(channel)
        .await
        .into_iter()
        .filter(|r| r["end_ms"].as_i64().unwrap_or(0) > from)
        .collect()
}

/// The manual events of `channel` in the last hour, as the timeline reads them.
async fn events_of(cloud: &Cloud, channel: uuid::Uuid) -> Vec<serde_json::Value> {
    let now = now_ms();
    let url = format!(
        "{}/api/v1/channels/{channel}/events?start_ms={}&end_ms={}",
        cloud.base,
        now - 3_600_000,
        now + 60_000
    );
    let r = cloud
        .http
        .get(url)
        .bearer_auth(&cloud.user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    v["events"].as_array().cloned().unwrap_or_default()
}

/// Event store mode driven by the control socket, as a person would from a shell: a
/// manual event (start, synchronous stop) is recorded, flagged and reported; `record-now`
/// records a fixed-length one; `audio off` leaves audio out; bad commands are refused and
/// change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_process_event_commands_record_flagged_events() {
    let _heavy = heavy().await;
    let cloud = Cloud::start(RecordingPolicy::None).await;
    let (device, code) = cloud.new_device("Porch door").await;
    cloud.set_mode_of(device, RecordingPolicy::Event).await;
    let state = tempfile::tempdir().unwrap();
    let _camera = start_camera(&cloud.base, state.path(), Some(&code));
    let creds_path = state.path().join("credentials.json");
    let t0 = std::time::Instant::now();
    while !(creds_path.exists() && state.path().join("control.sock").exists())
        && t0.elapsed() < Duration::from_secs(30)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let creds: eyrie_protocol::api::DeviceCredentials =
        serde_json::from_slice(&std::fs::read(&creds_path).expect("activated")).unwrap();
    let channel = creds.channels.main;
    let t0 = std::time::Instant::now();
    while status(state.path())["store_mode"] != "event" && t0.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(stdout(&control(state.path(), &["store-mode"])), "event");

    // Bad input: refused with a reason, nothing recorded.
    for bad in [
        &["record-now", "-3"][..],
        &["record-now", "soon"],
        &["pre-record", "-1"],
    ] {
        let o = control(state.path(), bad);
        assert!(!o.status.success(), "{bad:?} was accepted");
        assert!(!o.stderr.is_empty(), "{bad:?} refused without a reason");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        cloud.recordings_of(channel).await.is_empty(),
        "event mode recorded without an event"
    );

    // A manual event, audio off, stopped synchronously: when `event-stop` returns the
    // event's last segment is spooled, and it reaches the cloud flagged as an event.
    stdout(&control(state.path(), &["audio", "off"]));
    stdout(&control(state.path(), &["pre-record", "1"]));
    let asked = now_ms();
    stdout(&control(state.path(), &["event-start"]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stdout(&control(state.path(), &["event-stop"]));
    let stopped = now_ms();
    let mut first = Vec::new();
    for _ in 0..60 {
        first = recordings_between(&cloud, channel, asked - 5_000).await;
        if first
            .iter()
            .any(|r| r["end_ms"].as_i64().unwrap_or(0) >= stopped - 1_500)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!first.is_empty(), "the manual event was never listed");
    assert!(first.iter().all(|r| r["event"] == true), "{first:?}");
    let start = first[0]["start_ms"].as_i64().unwrap();
    assert!(
        start <= asked && start >= asked - 1_000 - 1_500,
        "pre-record 1 s with 1 s GOPs: event asked at {asked}, recording starts at {start}"
    );
    for r in &first {
        let bytes = cloud.download(r).await;
        let ts = cloud
            .decrypt_as_viewer(device, &bytes)
            .await
            .expect("event segment decrypts");
        let p = probe(&ts);
        assert!(p.video && p.first_key, "{p:?}");
        assert!(
            !p.audio,
            "audio off, yet the event segment has audio: {p:?}"
        );
    }
    let events = events_of(&cloud, channel).await;
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "manual" && e["end_ms"].as_i64().is_some()),
        "the manual event was not reported with its end: {events:?}"
    );

    // `record-now 2` (audio back on): one more flagged event of about two seconds.
    stdout(&control(state.path(), &["audio", "on"]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = now_ms();
    stdout(&control(state.path(), &["record-now", "2"]));
    let mut second = Vec::new();
    for _ in 0..60 {
        second = recordings_between(&cloud, channel, before).await;
        let covered = second
            .iter()
            .map(|r| r["end_ms"].as_i64().unwrap_or(0))
            .max()
            .unwrap_or(0);
        if covered >= before + 2_000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!second.is_empty(), "record-now recorded nothing");
    assert!(second.iter().all(|r| r["event"] == true), "{second:?}");
    let bytes = cloud.download(second.last().unwrap()).await;
    let p = probe(&cloud.decrypt_as_viewer(device, &bytes).await.unwrap());
    assert!(p.audio, "audio on again, yet no audio track: {p:?}");
    let st = status(state.path());
    assert_eq!(st["dropped"], 0, "{st}");
}

/// The channel of the camera activated into `state` (waits ≤ 30 s for its credentials).
async fn main_channel(state: &Path) -> uuid::Uuid {
    let creds_path = state.join("credentials.json");
    let t0 = std::time::Instant::now();
    while !creds_path.exists() && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let creds: eyrie_protocol::api::DeviceCredentials =
        serde_json::from_slice(&std::fs::read(&creds_path).expect("activated")).unwrap();
    creds.channels.main
}

/// Wait (≤ `within`) for recordings of `channel` not yet in `seen` to hold frames drawn
/// by the publisher at or after `since` (Unix ms); returns the pixel clocks of every
/// frame of the new recordings.
async fn frames_recorded_since(
    cloud: &Cloud,
    device: uuid::Uuid,
    channel: uuid::Uuid,
    seen: &mut std::collections::HashSet<String>,
    since: u64,
    within: Duration,
) -> Vec<Option<u64>> {
    let t0 = std::time::Instant::now();
    let mut clocks = Vec::new();
    while t0.elapsed() < within {
        for rec in cloud.recordings_of(channel).await {
            let id = rec["id"].to_string();
            if !seen.insert(id) {
                continue;
            }
            let sealed = cloud.download(&rec).await;
            let ts = cloud
                .decrypt_as_viewer(device, &sealed)
                .await
                .expect("recording decrypts");
            clocks.extend(pipewire_support::pixel_clocks_of_ts(&ts));
        }
        if clocks.iter().flatten().filter(|&&c| c >= since).count() >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    clocks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn camera_process_records_a_pipewire_camera_that_vanishes_and_returns() {
    use pipewire_support::{PipeWire, Publisher};
    if let Some(why) = pipewire_support::unavailable() {
        eprintln!("SKIP camera_process_records_a_pipewire_camera_that_vanishes_and_returns: {why}");
        return;
    }
    let _heavy = heavy().await;
    let started = std::time::Instant::now();
    let pw = PipeWire::start();
    const NODE: &str = "eyrie-test-cam";
    let list_sources = || {
        let mut c = eyrie();
        pw.env(&mut c);
        stdout(&c.args(["camera", "--list-sources"]).output().unwrap())
    };
    // No node yet: none listed, and the camera, started for it anyway (a camera service
    // that comes up before the program publishing its camera), waits for it.
    let listed = list_sources();
    assert!(
        !listed.contains("pipewire:"),
        "a PipeWire camera before there is one: {listed}"
    );
    let cloud = Cloud::start(RecordingPolicy::None).await;
    let (device, code) = cloud.new_device("Garden").await;
    cloud.set_mode_of(device, RecordingPolicy::Continuous).await;
    let state = tempfile::tempdir().unwrap();
    let mut camera = start_camera_on(
        &cloud.base,
        state.path(),
        Some(&code),
        &format!("pipewire:{NODE}"),
        Some(&pw),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let first_at = eyrie_client::pixel_clock::now_unix_ms();
    let publisher = Publisher::start(&pw, NODE);

    // (a) The camera finds the node: listed first.
    let mut listed = String::new();
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        listed = list_sources();
        if listed.contains(&format!("pipewire:{NODE}")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        listed
            .lines()
            .next()
            .is_some_and(|l| l.starts_with(&format!("pipewire:{NODE}\t"))),
        "the PipeWire node is listed first: {listed}"
    );

    // (b) It records the node's frames: the publisher's pixel clocks come out of the
    // cloud's recordings.
    let channel = main_channel(state.path()).await;
    let mut seen = std::collections::HashSet::new();
    let before = frames_recorded_since(
        &cloud,
        device,
        channel,
        &mut seen,
        first_at,
        Duration::from_secs(30),
    )
    .await;
    let now = eyrie_client::pixel_clock::now_unix_ms();
    let from_node: Vec<u64> = before
        .iter()
        .flatten()
        .copied()
        .filter(|&c| c >= first_at && c <= now)
        .collect();
    assert!(
        from_node.len() >= 10,
        "recordings hold frames of the PipeWire node: {} of {} frames carry its clock",
        from_node.len(),
        before.len()
    );
    let recorded_once = started.elapsed();
    // … and streams them: a live viewer decodes the node's pixel clock, fresh.
    let owner = &cloud.viewer.as_ref().expect("the owner's installation").api;
    let live = pipewire_support::live_clock(owner, device, Duration::from_secs(20))
        .await
        .expect("a live view of the PipeWire camera");
    let age = eyrie_client::pixel_clock::now_unix_ms() as i64 - live as i64;
    assert!(
        live >= first_at && (0..3000).contains(&age),
        "the live view shows the node's frames: clock {live}, {age} ms old"
    );

    // (c) The node vanishes (its program quits) for longer than the stall timer, and
    // comes back: the camera keeps running and records it again.
    drop(publisher);
    let gone_at = eyrie_client::pixel_clock::now_unix_ms();
    tokio::time::sleep(eyrie_camera::capture::STALL + Duration::from_secs(2)).await;
    assert!(
        camera.0.try_wait().unwrap().is_none(),
        "the camera process died while its camera was away"
    );
    let back_at = eyrie_client::pixel_clock::now_unix_ms();
    let _publisher = Publisher::start(&pw, NODE);
    let after = frames_recorded_since(
        &cloud,
        device,
        channel,
        &mut seen,
        back_at,
        Duration::from_secs(30),
    )
    .await;
    let resumed: Vec<u64> = after
        .iter()
        .flatten()
        .copied()
        .filter(|&c| c >= back_at)
        .collect();
    assert!(
        resumed.len() >= 10,
        "after the node came back the recordings hold its frames again: {} of {} frames \
         drawn after {back_at}",
        resumed.len(),
        after.len()
    );
    let live_back = pipewire_support::live_clock(owner, device, Duration::from_secs(20))
        .await
        .expect("a live view after the node came back");
    assert!(
        live_back >= back_at,
        "the live view after the return shows new frames: clock {live_back}, back at {back_at}"
    );
    let in_gap: Vec<u64> = before
        .iter()
        .chain(&after)
        .flatten()
        .copied()
        .filter(|&c| c > gone_at + 500 && c < back_at)
        .collect();
    assert!(
        in_gap.is_empty(),
        "frames drawn while the node was away: {in_gap:?}"
    );
    let latency = resumed.first().map(|&c| c - back_at);
    eprintln!(
        "pipewire: first recording after {:.1} s; live frame {age} ms old; back after the node returned: first frame drawn {latency:?} ms after the restart; {} frames before, {} after; whole test {:.1} s",
        recorded_once.as_secs_f64(),
        from_node.len(),
        resumed.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        camera.0.try_wait().unwrap().is_none(),
        "the camera process is still running"
    );
}
