//! Events you can see (issue #21, item 2), black box: the app under Xvfb against the real
//! embedded cloud with a real `eyrie camera --source test` paired to it. The camera's
//! motion detection runs at its most sensitive (the test pattern's ball always moves), so
//! it reports a motion event by itself with a snapshot; `eyrie camera record-now` and
//! `eyrie camera snapshot` on its control socket add a manual event and a snapshot.
//!
//! - The timeline (`app.open-timeline` on D-Bus) draws the motion event and the manual
//!   event on its activity track and every snapshot as a square, each at its instant
//!   (the ruler reports what it drew, `timeline-markers`); the pointer over a snapshot's
//!   square shows that snapshot, decrypted (`timeline-hover`); its "Today" list has both
//!   events, and the manual event's play button, pressed over AT-SPI as a screen reader
//!   does, plays the recordings from that event (the player's `SeekDone`).
//! - Notifications reach a notification server on the session bus (this test's own
//!   `org.gtk.Notifications`, `events_support/notifications.py`, what GNOME Shell
//!   serves): the first event's has the camera's snapshot as its icon (JPEG bytes);
//!   events within the camera's cool-down raise none and are summed up in one
//!   notification when it ends ("2 more events since …"); with `app.do-not-disturb` on,
//!   nothing is sent.
//!
//! Run with `dbus-run-session -- cargo test --features test-hooks --test app_events`.

mod a11y_support;
mod gui_app;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_client::api::ApiClient;
use eyrie_protocol::api::{ChannelKind, Event, EventKind, RecordingPolicy, RecordingStatus};
use eyrie_testkit::{Backend, TestCloud};
use uuid::Uuid;

/// Each test runs a camera, an app and an X server: one at a time on a small machine.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn named(ev: &[serde_json::Value], name: &str) -> Vec<serde_json::Value> {
    ev.iter().filter(|e| e["event"] == name).cloned().collect()
}

/// Wait up to `secs` for `pick` to find something (async: the cloud runs on this runtime).
async fn until<T>(secs: u64, mut pick: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(t) = pick() {
            return Some(t);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A cloud, an account with its installation, and one camera "porch" paired to it.
struct Rig {
    dir: tempfile::TempDir,
    _cloud: TestCloud,
    base: String,
    user: ApiClient,
    token: String,
    seed: [u8; 32],
    device: Uuid,
    channel: Uuid,
    code: String,
    camera: Option<Child>,
}

impl Rig {
    async fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cloud = TestCloud::spawn(Backend::Sqlite).await;
        let base = cloud.base.clone();
        let user = cloud.account(name).await;
        let token = user.token().expect("signed in").to_owned();
        let created = user.create_device("porch").await.expect("device");
        let device = created.device.id;
        let channel = created
            .device
            .channels
            .iter()
            .find(|c| c.kind == ChannelKind::Main)
            .expect("a main channel")
            .id;
        let installation = eyrie_testkit::e2e::TestViewer::new(&user)
            .await
            .expect("the account's installation");
        let code = installation.pairing_code_for(device, &created.activation_code);
        Self {
            dir,
            _cloud: cloud,
            base,
            user,
            token,
            seed: *installation.me.seed(),
            device,
            channel,
            code,
            camera: None,
        }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("camera")
    }

    /// `eyrie camera` with motion detection at its most sensitive, 2-second segments.
    fn start_camera(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .args(["camera", "--cloud", &self.base, "--source", "test"])
            .args([
                "--speaker",
                "none",
                "--fps",
                "15",
                "--keyframe-interval",
                "1",
            ])
            .args(["--segment-secs", "2", "--store-mode-poll", "0.5"])
            .args(["--motion-sensitivity", "100", "--motion-cooldown", "2"])
            .arg("--state-dir")
            .arg(self.state())
            .args(["--activation-code", &self.code])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("eyrie camera starts");
        self.camera = Some(Child(child));
    }

    /// `eyrie camera --state-dir … <words>` on the running camera's control socket.
    fn control(&self, words: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .arg("camera")
            .arg("--state-dir")
            .arg(self.state())
            .args(words)
            .output()
            .expect("eyrie camera <command> runs");
        assert!(
            out.status.success(),
            "eyrie camera {words:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    async fn events(&self) -> Vec<Event> {
        let now = eyrie_protocol::clock::unix_ms();
        self.user
            .events(self.channel, now - 3_600_000, now + 60_000)
            .await
            .map(|l| l.events)
            .unwrap_or_default()
    }

    /// The app signed in to this cloud, with `settings` in its GSettings key file.
    fn app(&self, settings: &[(&str, &str)]) -> (gui_app::App, PathBuf) {
        let session = self.dir.path().join("session.json");
        std::fs::write(
            &session,
            serde_json::to_vec(&serde_json::json!({
                "server": self.base, "email": "porch-owner", "token": self.token,
            }))
            .unwrap(),
        )
        .unwrap();
        gui_app::keep_viewer_key(&session, &self.base, "porch-owner", &self.seed);
        let config = self.dir.path().join("config");
        std::fs::create_dir_all(config.join("glib-2.0/settings")).unwrap();
        let mut keyfile = String::from("[io/github/eyrie/Eyrie]\n");
        for (k, v) in settings {
            keyfile.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(config.join("glib-2.0/settings/keyfile"), keyfile).unwrap();
        let report = self.dir.path().join("report.jsonl");
        let mut cmd = gui_app::command("1280x800x24");
        cmd.env("EYRIE_TEST_REPORT", &report)
            .env("EYRIE_SESSION_FILE", &session)
            .env("EYRIE_SECRET_STORE", "file")
            .env("GSETTINGS_BACKEND", "keyfile")
            .env("GSK_RENDERER", "cairo")
            .env("XDG_CONFIG_HOME", &config)
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("RUST_LOG", "warn")
            .env_remove("GTK_A11Y")
            .env_remove("NO_AT_BRIDGE")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        (gui_app::App::spawn(&mut cmd), report)
    }
}

/// Where the ruler drew marker `id`: (shape, x0, x1), checked against its instant.
fn drawn(ev: &[serde_json::Value], id: Uuid, start_ms: i64) -> Option<(String, f64, f64)> {
    named(ev, "timeline-markers").iter().rev().find_map(|r| {
        let d = &r["data"];
        let (v0, v1, w) = (
            d["view"][0].as_f64()?,
            d["view"][1].as_f64()?,
            d["width"].as_f64()?,
        );
        let m = d["markers"]
            .as_array()?
            .iter()
            .find(|m| m["id"] == id.to_string())?;
        assert_eq!(m["start_ms"], start_ms, "the marker's instant: {m}");
        let x0 = m["x0"].as_f64()?;
        let want = ((start_ms as f64 - v0) / (v1 - v0) * w).round();
        assert!(
            (x0 - want).abs() <= 1.0,
            "marker {m} at x {x0}, its instant is at x {want} of the view {d}"
        );
        Some((m["shape"].as_str()?.to_owned(), x0, m["x1"].as_f64()?))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ruler_marks_events_and_snapshots_and_today_plays_an_event() {
    let _serial = SERIAL.lock().await;
    let mut rig = Rig::new("ruth").await;
    rig.user
        .set_store_mode(rig.device, RecordingPolicy::Continuous)
        .await
        .expect("record continuously");
    rig.start_camera();

    // The camera sees motion by itself; then a manual event of two seconds and a snapshot.
    let mut motion = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    while motion.is_none() && Instant::now() < deadline {
        motion = rig
            .events()
            .await
            .into_iter()
            .find(|e| e.kind == EventKind::Motion);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let motion = motion.expect("the camera reported no motion event");
    tokio::task::block_in_place(|| rig.control(&["record-now", "2"]));
    assert_eq!(
        tokio::task::block_in_place(|| rig.control(&["snapshot"])),
        "uploaded"
    );
    let mut manual = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while manual.is_none() && Instant::now() < deadline {
        manual = rig
            .events()
            .await
            .into_iter()
            .find(|e| e.kind == EventKind::Manual && e.end_ms.is_some());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let manual = manual.expect("the manual event did not end");
    // Recorded and uploaded past the manual event's start (so it can be played).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = eyrie_protocol::clock::unix_ms();
        let recs = rig
            .user
            .recordings(rig.channel, now - 3_600_000, now + 60_000)
            .await
            .map(|l| l.recordings)
            .unwrap_or_default();
        if recs
            .iter()
            .any(|r| r.status == RecordingStatus::Complete && r.end_ms > manual.start_ms + 1_000)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recording of the manual event"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let now = eyrie_protocol::clock::unix_ms();
    let snapshots = rig
        .user
        .snapshots(rig.channel, now - 3_600_000, now + 60_000)
        .await
        .expect("snapshots")
        .snapshots;
    assert!(
        snapshots.len() >= 2,
        "the event and asked snapshots: {snapshots:?}"
    );

    let (app, report) = rig.app(&[("notifications-enabled", "false")]);
    let bus = tokio::task::block_in_place(|| app.bus(60));
    let pid = app.pid().expect("eyrie runs");
    bus.app(
        "open-timeline",
        Some(&format!("('{}', int64 0)", rig.device)),
    )
    .expect("app.open-timeline");

    // The ruler: the ongoing motion event a dot (or a bar once it ended), the manual
    // event a bar over its two seconds, every snapshot a square, each at its instant.
    let all_drawn = until(60, || {
        let ev = lines(&report);
        let m = drawn(&ev, motion.id, motion.start_ms)?;
        let e = drawn(&ev, manual.id, manual.start_ms)?;
        let s: Option<Vec<_>> = snapshots
            .iter()
            .map(|s| drawn(&ev, s.id, s.taken_at_ms))
            .collect();
        Some((m, e, s?))
    })
    .await;
    let ev = lines(&report);
    let (m, e, s) = all_drawn.unwrap_or_else(|| {
        panic!(
            "not every marker was drawn: {:?} (events {motion:?} {manual:?}, snapshots {snapshots:?})",
            named(&ev, "timeline-markers").last()
        )
    });
    eprintln!("drawn: motion {m:?}, manual {e:?}, snapshots {s:?}");
    assert!(m.0 == "dot" || m.0 == "bar", "the motion event: {m:?}");
    assert_eq!(e.0, "bar", "the manual event has a duration: {e:?}");
    assert!(e.2 > e.1, "the manual event's bar has a length: {e:?}");
    assert!(s.iter().all(|s| s.0 == "square"), "snapshots: {s:?}");

    // Hovering a snapshot's square shows that snapshot (downloaded and decrypted): the
    // pointer moved there on the app's X server, as a person's mouse would.
    let last = named(&lines(&report), "timeline-markers")
        .last()
        .cloned()
        .expect("markers reported");
    let d = &last["data"];
    let (ox, oy) = (
        d["origin"][0].as_f64().expect("the ruler's origin"),
        d["origin"][1].as_f64().expect("the ruler's origin"),
    );
    let track = d["tracks"]["snapshots"]
        .as_f64()
        .expect("the snapshot track");
    let pointed = s[s.len() - 1].1;
    let x = app.x_server();
    let xdotool = |args: &[&str]| {
        Command::new("xdotool")
            .envs(x.iter().map(|(k, v)| (k, v)))
            .args(args)
            .output()
            .expect("xdotool (apt install xdotool)")
    };
    let window =
        tokio::task::block_in_place(|| xdotool(&["search", "--name", "Timeline of porch"]));
    let window = String::from_utf8_lossy(&window.stdout)
        .lines()
        .last()
        .expect("the timeline's X window")
        .to_owned();
    let (px, py) = (
        (ox + pointed).round().to_string(),
        (oy + track).round().to_string(),
    );
    let hover = until(40, || {
        tokio::task::block_in_place(|| {
            xdotool(&["mousemove", "--window", &window, &px, &py]);
            std::thread::sleep(Duration::from_millis(100));
            xdotool(&["mousemove_relative", "--", "1", "0"]);
        });
        named(&lines(&report), "timeline-hover").first().cloned()
    })
    .await
    .unwrap_or_else(|| panic!("no snapshot shown on hover at {px},{py} of window {window}"));
    eprintln!("hover: {hover}");
    let shown = &hover["data"];
    let square = snapshots
        .iter()
        .find(|snap| shown["marker"] == snap.id.to_string())
        .unwrap_or_else(|| panic!("the hovered marker is a snapshot: {hover}"));
    let at = drawn(&lines(&report), square.id, square.taken_at_ms).unwrap();
    assert!(
        (at.1 - pointed).abs() <= 7.0,
        "the snapshot under the pointer: {at:?} {hover}"
    );
    assert!(
        shown["image"][0].as_i64().unwrap_or(0) >= 320
            && shown["image"][1].as_i64().unwrap_or(0) >= 180,
        "the snapshot's picture: {hover}"
    );

    // Today: both events listed, newest first, with their play buttons.
    let today = until(30, || {
        named(&lines(&report), "timeline-today")
            .into_iter()
            .rev()
            .find(|t| {
                let ids: Vec<_> = t["data"]["events"]
                    .as_array()
                    .map(|a| a.iter().map(|e| e["id"].clone()).collect())
                    .unwrap_or_default();
                ids.contains(&motion.id.to_string().into())
                    && ids.contains(&manual.id.to_string().into())
            })
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "today's list: {:?}",
            named(&lines(&report), "timeline-today")
        )
    });
    let rows = today["data"]["events"].as_array().unwrap().clone();
    let starts: Vec<i64> = rows.iter().filter_map(|r| r["start_ms"].as_i64()).collect();
    assert!(
        starts.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {rows:?}"
    );
    eprintln!("today: {rows:?}");
    let row = |id: Uuid| rows.iter().find(|r| r["id"] == id.to_string()).unwrap();
    assert_eq!(row(motion.id)["title"], "Motion", "{rows:?}");
    assert_eq!(row(manual.id)["title"], "Manual event", "{rows:?}");
    let button = row(manual.id)["button"].as_str().unwrap().to_owned();
    assert!(
        row(manual.id)["subtitle"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "the event's time: {rows:?}"
    );

    // The player is open; the manual event's play button, pressed over AT-SPI.
    until(60, || {
        named(&lines(&report), "timeline-player").first().cloned()
    })
    .await
    .expect("the timeline's player never opened");
    let pressed = tokio::task::block_in_place(|| a11y_support::press(pid, &button, 30));
    assert!(pressed, "no button named {button:?} on AT-SPI");
    let seek_done = |ev: &[serde_json::Value]| {
        named(ev, "timeline-notice").iter().find_map(|n| {
            let text = n["data"]["notice"].as_str()?;
            let target = text
                .strip_prefix("SeekDone { target_ms: ")?
                .split(',')
                .next()?
                .parse::<i64>()
                .ok()?;
            let frame = text
                .split("frame_ms: ")
                .nth(1)?
                .trim_end_matches(" }")
                .parse::<i64>()
                .ok()?;
            (target == manual.start_ms).then_some(frame)
        })
    };
    let frame = until(60, || seek_done(&lines(&report))).await;
    let ev = lines(&report);
    assert!(
        named(&ev, "timeline-seek")
            .iter()
            .any(|s| s["data"]["target_ms"] == manual.start_ms),
        "the button asked no seek to {}: {:?}",
        manual.start_ms,
        named(&ev, "timeline-seek")
    );
    let frame = frame.unwrap_or_else(|| {
        panic!(
            "the player never reached the event at {}: {:?}",
            manual.start_ms,
            named(&ev, "timeline-notice")
        )
    });
    eprintln!("played from {frame} for the event at {}", manual.start_ms);
    assert!(
        (frame - manual.start_ms).abs() <= 1_000,
        "the first frame shown ({frame}) is the event's ({})",
        manual.start_ms
    );
    drop(app);
}

/// The notification server's calls (`events_support/notifications.py`).
fn added(out: &Path) -> Vec<serde_json::Value> {
    lines(out)
        .into_iter()
        .filter(|l| l["method"] == "AddNotification")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_show_the_snapshot_keep_a_cooldown_and_respect_do_not_disturb() {
    const COOLDOWN: u64 = 12;
    let _serial = SERIAL.lock().await;
    let mut rig = Rig::new("nora").await;

    // The shell's notification server, before the app looks for one.
    let out = rig.dir.path().join("notifications.jsonl");
    let _server = Child(
        Command::new("/usr/bin/python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/events_support/notifications.py"
            ))
            .arg(&out)
            .spawn()
            .expect("python3-gi runs tests/events_support/notifications.py"),
    );
    until(10, || {
        lines(&out).iter().any(|l| l["ready"] == true).then_some(())
    })
    .await
    .expect("the notification server never owned org.gtk.Notifications");

    let (app, report) = rig.app(&[("notify-cooldown-seconds", &COOLDOWN.to_string())]);
    let bus = tokio::task::block_in_place(|| app.bus(60));
    until(30, || named(&lines(&report), "cameras").first().cloned())
        .await
        .expect("the cameras were never listed");
    // The app watches from now on: the camera starts and sees motion.
    rig.start_camera();

    let first = until(90, || added(&out).first().cloned()).await;
    let first_at = Instant::now();
    let cloud_events = rig.events().await;
    let first = first.unwrap_or_else(|| {
        panic!(
            "no notification: {:?} (events {cloud_events:?})",
            lines(&report)
                .iter()
                .filter(|e| e["event"].as_str().is_some_and(|n| n.starts_with("notif")))
                .collect::<Vec<_>>()
        )
    });
    eprintln!("first notification: {first}");
    assert_eq!(first["title"], "Motion at porch", "{first}");
    assert_eq!(first["default_action"], "app.open-camera", "{first}");
    assert_eq!(first["buttons"], 1, "Show in Timeline: {first}");
    assert_eq!(
        first["icon"]["type"], "bytes",
        "the snapshot as icon: {first}"
    );
    assert_eq!(
        first["icon"]["head"].as_str().map(|h| &h[..4]),
        Some("ffd8"),
        "a JPEG: {first}"
    );
    assert!(
        first["icon"]["bytes"].as_u64().unwrap_or(0) > 2_000,
        "a picture: {first}"
    );
    let sent = named(&lines(&report), "notification");
    assert_eq!(
        sent[0]["data"]["icon_bytes"], first["icon"]["bytes"],
        "the app's snapshot is the icon the server got: {sent:?}"
    );

    // Two manual events within the cool-down: held, no notification.
    tokio::task::block_in_place(|| rig.control(&["record-now", "1"]));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    tokio::task::block_in_place(|| rig.control(&["record-now", "1"]));
    until(COOLDOWN, || {
        (named(&lines(&report), "notification-held").len() >= 2).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("events were not held: {:?}", lines(&report)));
    assert_eq!(
        added(&out).len(),
        1,
        "no notification within the cool-down: {:?}",
        added(&out)
    );

    // The cool-down ends: one notification sums the held events up.
    let second = until(COOLDOWN + 20, || added(&out).get(1).cloned())
        .await
        .unwrap_or_else(|| panic!("the held events were never summed up: {:?}", lines(&report)));
    let waited = first_at.elapsed();
    eprintln!("after {waited:?}: {second}");
    assert!(
        waited >= Duration::from_secs(COOLDOWN - 1),
        "the summary came {waited:?} after the first, within the {COOLDOWN} s cool-down"
    );
    let ev = lines(&report);
    let held = named(&ev, "notification-held").len();
    let summary = named(&ev, "notification")
        .get(1)
        .cloned()
        .expect("the app's second notification");
    assert_eq!(
        summary["data"]["more"], held,
        "every held event counted: {ev:?}"
    );
    let body = second["body"].as_str().unwrap_or("");
    assert!(
        body.starts_with(&format!("{held} more events since ")),
        "the summary's words: {second}"
    );
    assert_eq!(
        second["id"], first["id"],
        "it replaces the camera's notification"
    );

    // Do not disturb, through the app's action on D-Bus: the key is set; an event
    // raises nothing, during what would be the cool-down or after it.
    assert!(
        bus.actions(gui_app::actions::APP_PATH)
            .iter()
            .any(|a| a == "do-not-disturb"),
        "app.do-not-disturb is exported"
    );
    bus.call(
        gui_app::actions::APP_PATH,
        "org.gtk.Actions.SetState",
        &["'do-not-disturb'", "<true>", "{}"],
    )
    .expect("SetState do-not-disturb");
    let keyfile = rig.dir.path().join("config/glib-2.0/settings/keyfile");
    until(10, || {
        std::fs::read_to_string(&keyfile)
            .is_ok_and(|k| k.contains("do-not-disturb=true"))
            .then_some(())
    })
    .await
    .expect("the action set the do-not-disturb key");
    let dropped_before = named(&lines(&report), "notification-dropped").len();
    tokio::task::block_in_place(|| rig.control(&["record-now", "1"]));
    until(20, || {
        (named(&lines(&report), "notification-dropped").len() > dropped_before).then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("the event was not seen: {:?}", lines(&report)));
    eprintln!("do not disturb: an event dropped");
    tokio::time::sleep(Duration::from_secs(COOLDOWN + 6)).await;
    assert_eq!(
        added(&out).len(),
        2,
        "nothing while do not disturb is on: {:?}",
        added(&out)
    );
    drop(app);
}
