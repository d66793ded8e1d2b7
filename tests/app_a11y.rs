//! Accessibility, as a screen reader meets the app: `eyrie demo` runs under Xvfb with the
//! accessibility bus of its session (at-spi-bus-launcher, started on demand by the
//! session bus the test runs under), and the test walks its AT-SPI tree
//! ([`a11y_support`]): the sign-in page, the camera list and the live view (GTK keeps the
//! pages of the window's stack in the tree), then the timeline, then Preferences. Every button, toggle and
//! entry must have a name, and every image one too unless it is the picture of a named
//! control. The walk has to find the app's real widgets — the known buttons of each page —
//! or it proves nothing.
//!
//! The live view announces its state: the stream's state in words ("Live", or what
//! failed) is the accessible description of the live picture and of the view, which a
//! screen reader reads out when it changes (GTK 4.8 has no `announce()`); the test stops
//! the demo camera and sees the description change.
//!
//! Run with `dbus-run-session -- cargo test --features eyrie/test-hooks --test app_a11y`.

mod a11y_support;
mod gui_app;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use a11y_support::{Tree, walk_until};

fn has_event(report: &Path, name: &str) -> bool {
    std::fs::read_to_string(report)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|e| e["event"] == name)
}

fn wait_event(report: &Path, name: &str, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if has_event(report, name) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// `eyrie demo` under Xvfb, its report file, its temp dir.
fn start_demo(lang: Option<(&str, &str)>) -> (gui_app::App, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = gui_app::command("1280x800x24");
    cmd.arg("demo")
        .env("EYRIE_TEST_REPORT", dir.path().join("report.jsonl"))
        .env("EYRIE_DEMO_SOURCE", "test")
        .env("EYRIE_TALK_SOURCE", "test")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        // GTK would skip AT-SPI with GTK_A11Y=none; and no other screen reader settings.
        .env_remove("GTK_A11Y")
        .env_remove("NO_AT_BRIDGE")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some((language, lang)) = lang {
        cmd.env("LANGUAGE", language)
            .env("LANG", lang)
            .env("LC_ALL", lang);
    }
    (gui_app::App::spawn(&mut cmd), dir)
}

fn assert_named(tree: &Tree, page: &str) {
    let unnamed = tree.unnamed();
    assert!(
        unnamed.is_empty(),
        "{page}: {} control(s) or image(s) without an accessible name:\n  {}",
        unnamed.len(),
        unnamed.join("\n  ")
    );
}

fn assert_has(tree: &Tree, page: &str, role: &str, names: &[&str]) {
    for name in names {
        assert!(
            tree.find(role, name).is_some(),
            "{page}: no {role} {name:?} in the AT-SPI tree; the walk did not reach the app's \
             widgets. Named: {:?}",
            tree.0
                .iter()
                .filter(|n| n.is_control() && n.is_named())
                .map(|n| format!("{} {:?}", n.role, n.name))
                .collect::<Vec<_>>()
        );
    }
}

/// The live picture: the image whose name is "Live video of …".
/// "Live", or "Live · Direct" / "Live · Relayed" once the media path is known.
fn says_live(description: &str) -> bool {
    description == "Live" || description.starts_with("Live · ")
}

fn live_picture_description(tree: &Tree) -> Option<String> {
    tree.0
        .iter()
        .find(|n| n.role == "image" && n.name.starts_with("Live video of "))
        .map(|n| n.description.clone())
}

#[test]
fn every_control_on_the_main_pages_has_a_name_and_the_live_view_announces_its_state() {
    let (app, dir) = start_demo(None);
    let report = dir.path().join("report.jsonl");
    let bus = app.bus(60);
    let pid = app.pid().expect("eyrie runs");
    assert!(wait_event(&report, "playing", 60), "the demo never played");

    // Sign-in page, camera list and live view: all in the window's stack.
    let tree = walk_until(pid, 30, |t| {
        live_picture_description(t).is_some_and(|d| says_live(&d)) && t.has_name("Take Snapshot")
    });
    assert_has(
        &tree,
        "sign-in page",
        "push button",
        &["Sign In", "Create Account"],
    );
    assert_has(&tree, "sign-in page", "text", &["Cloud Link", "Email"]);
    assert_has(
        &tree,
        "camera list",
        "push button",
        &["Demo Camera, Online", "Add Camera"],
    );
    assert_has(&tree, "header bar", "push button", &["Main Menu"]);
    assert_has(
        &tree,
        "live view",
        "push button",
        // GTK 4.8 shows toggle buttons as push buttons (with a "pressed" state).
        &[
            "Back to Cameras",
            "Snapshots",
            "Fullscreen",
            "Take Snapshot",
            "Hold to Talk",
            "Mute",
            "Talk",
            "HD",
        ],
    );
    assert_named(&tree, "sign-in page, camera list and live view");
    let said = live_picture_description(&tree);
    assert!(
        said.as_deref().is_some_and(says_live),
        "the live picture does not say the stream is live: {said:?}"
    );

    // The state change is announced: the camera goes away, the description follows.
    bus.app("test-demo-camera", Some("false"))
        .expect("app.test-demo-camera");
    let gone = walk_until(pid, 45, |t| {
        live_picture_description(t).is_some_and(|d| !d.is_empty() && !says_live(&d))
    });
    let said = live_picture_description(&gone).unwrap_or_default();
    assert!(
        !said.is_empty() && !says_live(&said),
        "the live view did not announce that the camera went away (description {said:?})"
    );
    bus.app("test-demo-camera", Some("true"))
        .expect("app.test-demo-camera");
    let back = walk_until(pid, 60, |t| {
        live_picture_description(t).is_some_and(|d| says_live(&d))
    });
    assert!(
        live_picture_description(&back).is_some_and(|d| says_live(&d)),
        "the live view did not announce that the camera came back (after {said:?})"
    );

    // The timeline.
    bus.win("timeline", None, 10).expect("win.timeline");
    let tree = walk_until(pid, 30, |t| {
        t.has_name("Zoom In") && t.has_name("Create Clip")
    });
    assert_has(
        &tree,
        "timeline",
        "push button",
        &[
            "Previous Event",
            "Next Event",
            "Zoom In",
            "Zoom Out",
            "Create Clip",
        ],
    );
    assert_named(&tree, "timeline");

    // Preferences (every page is in the tree; the cameras' rows come from the cloud).
    bus.app("preferences", None).expect("app.preferences");
    let switch = |t: &Tree, name: &str| t.0.iter().any(|n| n.is_control() && n.name == name);
    let tree = walk_until(pid, 30, |t| {
        switch(t, "Start in HD") && t.find("text", "Name").is_some()
    });
    for name in ["Start in HD", "Start Muted"] {
        assert!(switch(&tree, name), "preferences: no switch {name:?}");
    }
    assert_has(&tree, "preferences", "text", &["Name"]);
    assert_named(&tree, "preferences");
}
