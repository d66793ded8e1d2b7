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
//!   is its own `eyrie camera` process) 3 s into one live view;
//! - `card_thumb_ms`: the camera list opened (the cameras page shown at launch) → every
//!   card shows its picture, for an account of 4 cameras that each took a snapshot
//!   (sealed JPEGs, 1280×720, opened with the account's installation key), median of 7
//!   launches (`_max` beside it). The 4 cameras are real `eyrie camera` processes, asked
//!   for a snapshot each through the cloud and stopped before the timing, so their
//!   encoders do not share the CPU with the viewer.
//!
//! Last line: one JSON object.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_client::api::ApiClient;

#[path = "../tests/gui_app/mod.rs"]
mod gui_app;

use gui_app::actions;

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

/// Run the viewer under its own Xvfb until `until` holds for its reports; with `open`, open that
/// camera through D-Bus that long after the camera list shows; then, with `rss`, read the
/// viewer's resident memory 3 s later. The whole process group ends with it.
fn run_viewer(
    env: &[(&str, String)],
    open: Option<(&str, Duration)>,
    until: &dyn Fn(&[serde_json::Value]) -> bool,
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
        if until(&events(&report)) {
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

/// Whether an `event` was reported.
fn seen(event: &'static str) -> impl Fn(&[serde_json::Value]) -> bool {
    move |ev| ev.iter().any(|e| e["event"] == event)
}

/// When (`t_ms`) the first `event` was reported whose data `matches`.
fn first_at(
    ev: &[serde_json::Value],
    event: &str,
    matches: impl Fn(&serde_json::Value) -> bool,
) -> Option<f64> {
    ev.iter()
        .find(|e| e["event"] == event && matches(&e["data"]))
        .and_then(|e| e["t_ms"].as_f64())
}

/// Camera list shown → the last of `devices`' cards shows its picture, ms.
fn cards_filled(ev: &[serde_json::Value], devices: &[String]) -> Option<f64> {
    let shown = first_at(ev, "camera-list-shown", |_| true)?;
    let mut last = shown;
    for id in devices {
        last = last.max(first_at(ev, "thumbnail", |d| d["device"] == id.as_str())?);
    }
    Some(last - shown)
}

/// A signed-in account with its installation (the viewer's key, which answers the
/// cameras' pairing checks) and its cameras, created in the cloud but not started.
struct Account {
    user: ApiClient,
    token: String,
    installation: eyrie_testkit::e2e::TestViewer,
    devices: Vec<eyrie_protocol::api::CreateDeviceResponse>,
}

fn account(rt: &tokio::runtime::Runtime, base: &str, email: &str, cameras: &[&str]) -> Account {
    rt.block_on(async {
        let api = ApiClient::new(base.to_owned());
        api.register(email, "correct horse battery")
            .await
            .expect("register");
        let login = api
            .login(email, "correct horse battery")
            .await
            .expect("login");
        let user = api.with_token(login.token.clone());
        let installation = eyrie_testkit::e2e::TestViewer::new(&user)
            .await
            .expect("the account's installation");
        let mut devices = Vec::new();
        for name in cameras {
            devices.push(user.create_device(name).await.expect("device"));
        }
        Account {
            user,
            token: login.token,
            installation,
            devices,
        }
    })
}

impl Account {
    /// Start the `i`th camera (`eyrie camera`, test pattern, no motion events) with its
    /// 12 characters, the installation answering its pairing check.
    fn start_camera(
        &self,
        rt: &tokio::runtime::Runtime,
        base: &str,
        dir: &Path,
        i: usize,
        fps: &str,
    ) -> Child {
        let created = &self.devices[i];
        let code = rt.block_on(async {
            self.installation
                .pairing_code_for(created.device.id, &created.activation_code)
        });
        Child(
            Command::new(eyrie())
                .args(["camera", "--cloud", base, "--source", "test", "--fps", fps])
                .args(["--speaker", "none", "--motion-sensitivity", "0"])
                .arg("--state-dir")
                .arg(dir.join(format!("camera-{}", created.device.id)))
                .args(["--activation-code", &code])
                .env("RUST_LOG", "error")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("eyrie camera"),
        )
    }

    /// The viewer's saved session for this account, its installation's key beside it.
    fn session_file(&self, base: &str, email: &str, dir: &Path) -> std::path::PathBuf {
        let session = dir.join(email).join("session.json");
        std::fs::create_dir_all(session.parent().expect("dir")).expect("session dir");
        std::fs::write(
            &session,
            serde_json::to_vec(&serde_json::json!({
                "server": base, "email": email, "token": self.token,
            }))
            .expect("json"),
        )
        .expect("session file");
        gui_app::keep_viewer_key(&session, base, email, self.installation.me.seed());
        session
    }
}

/// An account of four cameras that each took a snapshot: real `eyrie camera` processes,
/// paired with the account's installation (so their snapshots are sealed to it), asked
/// for a snapshot through the cloud, and stopped once every snapshot is stored. Returns
/// the session file for the viewer and the cameras' ids.
fn four_cameras_with_snapshots(
    rt: &tokio::runtime::Runtime,
    base: &str,
    dir: &Path,
) -> (std::path::PathBuf, Vec<String>) {
    let cards = account(rt, base, "cards", &["porch", "garden", "garage", "hall"]);
    let cameras: Vec<Child> = (0..cards.devices.len())
        .map(|i| cards.start_camera(rt, base, dir, i, "10"))
        .collect();
    rt.block_on(async {
        let deadline = Instant::now() + Duration::from_secs(120);
        for created in &cards.devices {
            let main = created
                .device
                .channels
                .iter()
                .find(|c| c.kind == eyrie_protocol::api::ChannelKind::Main)
                .expect("main channel")
                .id;
            loop {
                let now = eyrie_protocol::clock::unix_ms();
                let list = cards
                    .user
                    .snapshots(main, now - 600_000, now + 60_000)
                    .await;
                if list.is_ok_and(|l| l.snapshots.iter().any(|s| s.download.is_some())) {
                    break;
                }
                assert!(Instant::now() < deadline, "a camera took no snapshot");
                let _ = cards.user.request_snapshot(created.device.id).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    drop(cameras);
    let ids = cards
        .devices
        .iter()
        .map(|d| d.device.id.to_string())
        .collect();
    (cards.session_file(base, "cards", dir), ids)
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
            let (ev, _) = run_viewer(&[], None, &seen("window-shown"), 20, false);
            ev.iter()
                .find(|e| e["event"] == "window-shown")
                .and_then(|e| e["t_ms"].as_f64())
        })
        .collect();
    println!("app start (launch → window shown), ms: {starts:.0?}");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let base = rt.block_on(async {
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
        base
    });
    let bench = account(&rt, &base, "bench", &["porch"]);
    let porch_camera = bench.start_camera(&rt, &base, dir.path(), 0, "30");
    let session = bench.session_file(&base, "bench", dir.path());
    let env = [("EYRIE_SESSION_FILE", session.display().to_string())];
    let camera = bench.devices[0].device.id.to_string();
    // The camera's first start (activation, encoders) is not the viewer's: wait for it
    // to serve one viewer before timing.
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(60) {
        let (ev, _) = run_viewer(
            &env,
            Some((&camera, Duration::ZERO)),
            &seen("frame"),
            20,
            false,
        );
        if ev.iter().any(|e| e["event"] == "frame") {
            break;
        }
    }
    let mut clicks = Vec::new();
    let mut rss = None;
    let click = Some((camera.as_str(), Duration::from_secs(1)));
    for i in 0..5 {
        let (ev, mem) = run_viewer(&env, click, &seen("frame"), 30, i == 4);
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
    drop(porch_camera);

    let (cards_session, ids) = four_cameras_with_snapshots(&rt, &base, dir.path());
    let cards_env = [("EYRIE_SESSION_FILE", cards_session.display().to_string())];
    let filled = |ev: &[serde_json::Value]| cards_filled(ev, &ids).is_some();
    let thumbs: Vec<f64> = (0..7)
        .filter_map(|_| {
            let (ev, _) = run_viewer(&cards_env, None, &filled, 30, false);
            cards_filled(&ev, &ids)
        })
        .collect();
    println!("camera list shown → 4 cards show their snapshot, ms: {thumbs:.0?} (goal ≤ 500)");
    let thumb_max = thumbs.iter().copied().reduce(f64::max);
    let click_max = clicks.iter().copied().reduce(f64::max);
    println!(
        "{}",
        serde_json::json!({
            "app_start_ms": round(median(starts)),
            "live_click_to_frame_ms": round(median(clicks.clone())),
            "live_click_to_frame_max_ms": round(click_max),
            "live_click_samples": clicks.len(),
            "viewer_rss_mb": round(rss),
            "card_thumb_ms": round(median(thumbs.clone())),
            "card_thumb_max_ms": round(thumb_max),
            "card_thumb_samples": thumbs.len(),
        })
    );
}
