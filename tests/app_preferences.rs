//! Preferences, used the way a person (or a screen reader user) uses them: the app runs
//! under Xvfb against the real embedded cloud with a real `eyrie camera` paired to it;
//! the test opens Preferences through `app.preferences` on D-Bus, finds its way with the
//! Tab key — asking AT-SPI which control has the focus, the way Orca would say it — and
//! changes things with the keyboard:
//!
//! - Live View → "Start in HD" switched on: the key is written (GSettings key file), and
//!   the next live view opened plays the camera's main stream (1280×720 frames, where it
//!   played the 640×360 sub stream before).
//! - Cameras → the camera's name typed and applied: the cloud has the new name (REST).
//! - An empty name: a toast says what is wrong and the cloud keeps the name.
//!
//! Every control the window shows has an accessible name. A screenshot of the window is
//! left at `$TMPDIR/eyrie-preferences.png` for a person to look at.
//!
//! Run with `dbus-run-session -- cargo test --features eyrie/test-hooks --test app_preferences`.

mod a11y_support;
mod gui_app;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use a11y_support::{Node, Tree, walk_once, walk_until};
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

fn focused(tree: &Tree, want: &dyn Fn(&Node) -> bool) -> bool {
    tree.0
        .iter()
        .any(|n| want(n) && n.states.iter().any(|s| s == "focused"))
}

/// Press Tab until AT-SPI says a control `want` accepts has the keyboard focus.
fn tab_to(x: &[(String, String)], pid: u32, what: &str, want: &dyn Fn(&Node) -> bool) {
    let mut seen = Vec::new();
    for _ in 0..40 {
        if let Some(tree) = walk_once(pid) {
            if focused(&tree, want) {
                return;
            }
            seen.push(
                tree.0
                    .iter()
                    .filter(|n| n.states.iter().any(|s| s == "focused"))
                    .map(|n| tree.describe(n))
                    .collect::<Vec<_>>()
                    .join(" + "),
            );
        }
        gui_app::actions::keyboard(x, &["Tab"], None);
        std::thread::sleep(Duration::from_millis(150));
    }
    panic!("Tab never reached {what}; the focus went {seen:#?}");
}

/// Into the camera's name field: GTK 4.8 reports no focused state for the text of an
/// entry row, so Tab goes to the control after it, the cloud recording choice, and
/// Shift+Tab comes back until no control says it has the focus (past the row's apply
/// button, when it shows).
fn to_name_field(x: &[(String, String)], pid: u32) {
    tab_to(x, pid, "the cloud recording choice", &|n| {
        n.role == "combo box" && n.name == "Cloud Recording"
    });
    for _ in 0..3 {
        gui_app::actions::keyboard(x, &["shift+Tab"], None);
        std::thread::sleep(Duration::from_millis(150));
        let tree = walk_until(pid, 5, |_| true);
        if !focused(&tree, &|_| true) {
            return;
        }
    }
    panic!("Shift+Tab from the cloud recording choice never reached the name's text");
}

/// A control named `name`, whatever role this GTK and AT-SPI give it (a switch is a
/// "toggle button" before AT-SPI had a switch role).
fn has_control(tree: &Tree, name: &str) -> bool {
    tree.0.iter().any(|n| n.is_control() && n.name == name)
}

fn is_button(n: &Node, name: &str) -> bool {
    n.name == name
        && matches!(
            n.role.as_str(),
            "page tab" | "push button" | "toggle button" | "radio button"
        )
}

/// The camera's name in the cloud.
async fn name_in_cloud(user: &eyrie_client::api::ApiClient, device: uuid::Uuid) -> String {
    user.device(device).await.expect("GET device").name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferences_change_the_live_view_default_and_a_camera_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let base = cloud.base.clone();
    let user = cloud.account("pia").await;
    let token = user.token().expect("signed in").to_owned();
    let created = user.create_device("porch").await.expect("device");
    let device = created.device.id;
    let installation = eyrie_testkit::e2e::TestViewer::new(&user)
        .await
        .expect("the account's installation");
    let code = installation.pairing_code_for(device, &created.activation_code);
    let _camera = Child(
        Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .args(["camera", "--cloud", &base, "--source", "test"])
            .args(["--speaker", "none", "--fps", "5"])
            .arg("--state-dir")
            .arg(dir.path().join("camera"))
            .args(["--activation-code", &code])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("eyrie camera starts"),
    );

    let session = dir.path().join("session.json");
    std::fs::write(
        &session,
        serde_json::to_vec(&serde_json::json!({
            "server": base, "email": "pia", "token": token,
        }))
        .unwrap(),
    )
    .unwrap();
    gui_app::keep_viewer_key(&session, &base, "pia", installation.me.seed());
    let report = dir.path().join("report.jsonl");
    let config = dir.path().join("config");
    let mut cmd = gui_app::command("1280x800x24");
    cmd.env("EYRIE_TEST_REPORT", &report)
        .env("EYRIE_SESSION_FILE", &session)
        .env("EYRIE_SECRET_STORE", "file")
        .env("GSETTINGS_BACKEND", "keyfile")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", &config)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .env_remove("GTK_A11Y")
        .env_remove("NO_AT_BRIDGE")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let app = gui_app::App::spawn(&mut cmd);
    let bus = app.bus(60);
    let pid = app.pid().expect("eyrie runs");
    let x = app.x_server();

    // Preferences, through the action the menu and Ctrl+, use; the cameras arrive.
    bus.app("preferences", None).expect("app.preferences");
    let tree = walk_until(pid, 40, |t| {
        has_control(t, "Start in HD") && t.find("text", "Name").is_some()
    });
    assert!(
        has_control(&tree, "Start in HD") && tree.find("text", "Name").is_some(),
        "the preferences never showed the live view default and the camera's name: {:?}",
        tree.names()
    );
    let unnamed = tree.unnamed();
    assert!(
        unnamed.is_empty(),
        "preferences: {} control(s) or image(s) without an accessible name:\n  {}",
        unnamed.len(),
        unnamed.join("\n  ")
    );

    // Live View → Start in HD, on the keyboard.
    let keyfile = config.join("glib-2.0/settings/keyfile");
    let prefer_hd = || {
        std::fs::read_to_string(&keyfile)
            .unwrap_or_default()
            .lines()
            .any(|l| l.trim() == "prefer-hd=true")
    };
    assert!(!prefer_hd(), "HD is not the default");
    tab_to(&x, pid, "the Live View page's tab", &|n| {
        is_button(n, "Live View")
    });
    gui_app::actions::keyboard(&x, &["space"], None);
    tab_to(&x, pid, "the Start in HD switch", &|n| {
        n.is_control() && n.name == "Start in HD"
    });
    gui_app::actions::keyboard(&x, &["space"], None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !prefer_hd() {
        assert!(
            Instant::now() < deadline,
            "the switch did not write prefer-hd=true to {keyfile:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Cameras → the name, typed and applied with Enter.
    tab_to(&x, pid, "the Cameras page's tab", &|n| {
        is_button(n, "Cameras")
    });
    gui_app::actions::keyboard(&x, &["space"], None);
    to_name_field(&x, pid);
    gui_app::actions::keyboard(&x, &["ctrl+a"], Some("Porch Door"));
    gui_app::actions::keyboard(&x, &["Return"], None);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let name = name_in_cloud(&user, device).await;
        if name == "Porch Door" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the cloud still calls the camera {name:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // An empty name: said so, nothing changed.
    to_name_field(&x, pid);
    gui_app::actions::keyboard(&x, &["ctrl+a", "BackSpace", "Return"], None);
    let said = walk_until(pid, 15, |t| {
        t.0.iter().any(|n| n.name.contains("1 to 64 characters"))
    });
    assert!(
        said.0.iter().any(|n| n.name.contains("1 to 64 characters")),
        "no error shown for an empty name (the app toasted {:?}); the window says {:?}",
        events(&report)
            .iter()
            .filter(|e| e["event"] == "preferences-toast")
            .collect::<Vec<_>>(),
        said.names()
    );
    gui_app::screenshot(&app, &std::env::temp_dir().join("eyrie-preferences.png"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        name_in_cloud(&user, device).await,
        "Porch Door",
        "an empty name changed the camera's name"
    );

    // The live view reads the new default: the camera opens on its HD stream.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !user.device(device).await.expect("GET device").online {
        assert!(Instant::now() < deadline, "the camera never came online");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bus.win("open-camera", Some(&format!("'{device}'")), 10)
        .expect("win.open-camera");
    let deadline = Instant::now() + Duration::from_secs(90);
    let frame = loop {
        if let Some(f) = events(&report).into_iter().find(|e| e["event"] == "frame") {
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "the live view never showed a frame"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(
        frame["data"]["paintable"],
        serde_json::json!([1280, 720]),
        "the live view did not start on the HD stream: {frame}"
    );
}
