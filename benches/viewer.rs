//! Viewer figures, from the real `eyrie` binary under Xvfb and a D-Bus session of its own
//! (the one cargo built for this bench, with the `test-hooks` feature) reading its
//! `EYRIE_TEST_REPORT`:
//!
//! - `app_start_ms`: launch → first window shown (no session: the welcome page), median of 3;
//! - `live_click_to_frame_ms`: the live view asked to open (the app's `app.open-camera`
//!   D-Bus action — what a card's click activates — one second after the camera list
//!   shows, as a person clicks) → first frame on screen, median of 5 launches against a
//!   running camera (`_max` beside it);
//! - `viewer_rss_mb`: the viewer process alone (the cloud runs in this bench, the camera
//!   is its own `eyrie camera` process) 3 s into one live view.
//!
//! Last line: one JSON object.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_client::api::ApiClient;

#[path = "../tests/gui_app/actions.rs"]
#[allow(dead_code)]
mod actions;

fn eyrie() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    dir.join("eyrie")
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run the viewer under its own Xvfb until `until` is reported; with `open`, open that
/// camera through D-Bus that long after the camera list shows; then, with `rss`, read the
/// viewer's resident memory 3 s later. The whole process group ends with it.
fn run_viewer(
    env: &[(&str, String)],
    open: Option<(&str, Duration)>,
    until: &str,
    secs: u64,
    rss: bool,
) -> (Vec<serde_json::Value>, Option<f64>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("r.jsonl");
    let mut cmd = Command::new("xvfb-run");
    cmd.args([
        "-a",
        "-s",
        "-screen 0 1280x800x24",
        "dbus-run-session",
        "--",
    ])
    .arg(eyrie())
    .env("EYRIE_TEST_REPORT", &report)
    .env("EYRIE_SECRET_STORE", "file")
    .env("GSK_RENDERER", "cairo")
    .env("XDG_CONFIG_HOME", dir.path().join("c"))
    .env("XDG_DATA_HOME", dir.path().join("d"))
    .env("RUST_LOG", "error")
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    // Its own process group, so xvfb-run, Xvfb and eyrie all end together below.
    .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("xvfb-run eyrie");
    let group = child.id();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut mem = None;
    let mut open = open;
    while Instant::now() < deadline {
        if let Some((camera, delay)) = open
            && events(&report).iter().any(|e| e["event"] == "cameras")
        {
            open = None;
            let bus = viewer_pid(group).and_then(|pid| actions::AppBus::wait(pid, 10));
            std::thread::sleep(delay);
            if let Some(bus) = bus {
                let _ = bus.app("open-camera", Some(&format!("'{camera}'")));
            }
        }
        if events(&report).iter().any(|e| e["event"] == until) {
            if rss {
                std::thread::sleep(Duration::from_secs(3));
                mem = rss_mb(group);
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The viewer first, while its display is still there, so it closes like a window
    // close (its live session says bye to the camera); then the rest of the group.
    if let Some(pid) = viewer_pid(group) {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let t = Instant::now();
        while Path::new(&format!("/proc/{pid}/status")).exists()
            && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{group}")])
        .status();
    let _ = child.wait();
    (events(&report), mem)
}

/// The `eyrie` process in process group `group` (xvfb-run's child).
fn viewer_pid(group: u32) -> Option<u32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            // "pid (comm) state ppid pgrp …"
            let f: Vec<&str> = rest.split_whitespace().collect();
            let live = f.first().is_some_and(|s| *s != "Z");
            (head.ends_with("(eyrie") && live && f.get(2)?.parse::<u32>().ok()? == group)
                .then_some(pid)
        })
}

/// Resident memory of the `eyrie` process in process group `group`, MiB.
fn rss_mb(group: u32) -> Option<f64> {
    let pid = viewer_pid(group)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

fn round(v: Option<f64>) -> Option<f64> {
    v.map(|x| (x * 10.0).round() / 10.0)
}

fn main() {
    let starts: Vec<f64> = (0..3)
        .filter_map(|_| {
            let (ev, _) = run_viewer(&[], None, "window-shown", 20, false);
            ev.iter()
                .find(|e| e["event"] == "window-shown")
                .and_then(|e| e["t_ms"].as_f64())
        })
        .collect();
    println!("app start (launch → window shown), ms: {starts:.0?}");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let (base, token, device) = rt.block_on(async {
        let mut config = eyrie_cloud::config::Config::embedded(dir.path().join("cloud"));
        config.password = eyrie_cloud::crypto::PasswordParams {
            m_cost_kib: 256,
            t_cost: 1,
            p_cost: 1,
        };
        let app = eyrie_cloud::startup::Application::build(config)
            .await
            .expect("cloud");
        let base = app.api_url();
        tokio::spawn(app.run_until_stopped());
        let api = ApiClient::new(base.clone());
        api.register("bench", "correct horse battery")
            .await
            .expect("register");
        let login = api
            .login("bench", "correct horse battery")
            .await
            .expect("login");
        let user = api.with_token(login.token.clone());
        let created = user.create_device("porch").await.expect("device");
        (base, login.token, created)
    });
    let _camera = Child(
        Command::new(eyrie())
            .args(["camera", "--cloud", &base, "--source", "test"])
            .args(["--speaker", "none", "--motion-sensitivity", "0"])
            .arg("--state-dir")
            .arg(dir.path().join("camera"))
            .args(["--activation-code", &device.activation_code])
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("eyrie camera"),
    );
    let session = dir.path().join("session.json");
    std::fs::write(
        &session,
        serde_json::to_vec(&serde_json::json!({
            "server": base, "email": "bench", "token": token,
        }))
        .expect("json"),
    )
    .expect("session file");
    let env = [("EYRIE_SESSION_FILE", session.display().to_string())];
    let camera = device.device.id.to_string();
    // The camera's first start (activation, encoders) is not the viewer's: wait for it
    // to serve one viewer before timing.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(60) {
        let (ev, _) = run_viewer(&env, Some((&camera, Duration::ZERO)), "frame", 20, false);
        if ev.iter().any(|e| e["event"] == "frame") {
            break;
        }
    }
    let mut clicks = Vec::new();
    let mut rss = None;
    let click = Some((camera.as_str(), Duration::from_secs(1)));
    for i in 0..5 {
        let (ev, mem) = run_viewer(&env, click, "frame", 30, i == 4);
        if let Some(ms) = ev
            .iter()
            .find(|e| e["event"] == "frame")
            .and_then(|e| e["data"]["since_start_ms"].as_f64())
        {
            clicks.push(ms);
        }
        rss = rss.or(mem);
    }
    println!("live click → first frame on screen, ms: {clicks:.0?} (goal ≤ 400)");
    println!("viewer RSS, one live view, viewer process alone: {rss:.1?} MiB");
    let click_max = clicks.iter().copied().reduce(f64::max);
    println!(
        "{}",
        serde_json::json!({
            "app_start_ms": round(median(starts)),
            "live_click_to_frame_ms": round(median(clicks.clone())),
            "live_click_to_frame_max_ms": round(click_max),
            "live_click_samples": clicks.len(),
            "viewer_rss_mb": round(rss),
        })
    );
}
