//! Foundation checks that build or run things: the meson distribution build installs a
//! complete tree, the headless `eyrie` links no GTK, and the app opens its window under
//! Xvfb.
//!
//! The meson and headless checks run cargo again in this test run's target dir, so
//! that only the `eyrie` crate is rebuilt and every dependency is reused. Both rewrite
//! `<target>/<profile>/eyrie`, which the window test runs, hence the lock: the tests of
//! this file take turns, and the headless check puts the normal binary back afterwards.

// The window test and its X helpers exist only with the viewer.
#![cfg_attr(not(feature = "gui"), allow(unused_imports))]
mod foundation_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use foundation_support::{
    APP_ID, cargo, cargo_home, eyrie_bin, run, run_ok, source_root, target_dir_and_profile, text,
    without_test_env,
};

static BINARY_LOCK: Mutex<()> = Mutex::new(());

fn lock_binary() -> MutexGuard<'static, ()> {
    BINARY_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The cargo feature flags this test run was built with, to rebuild the same binary.
/// The binary the other tests run must be put back with the same features, or the GUI
/// tests that follow lose the `test-hooks` reports they read.
fn feature_args() -> &'static [&'static str] {
    if cfg!(feature = "test-hooks") {
        &["--features", "test-hooks"]
    } else if cfg!(feature = "gui") {
        &[]
    } else {
        &["--no-default-features"]
    }
}

fn cargo_build(target: &Path, profile: &str, extra: &[&str]) {
    let mut cmd = cargo();
    cmd.current_dir(source_root())
        .env("CARGO_TARGET_DIR", target)
        .args(["build", "--quiet", "--bin", "eyrie"])
        .args(extra);
    if profile == "release" {
        cmd.arg("--release");
    }
    run_ok(&mut cmd);
}

fn ldd(bin: &Path) -> String {
    let out = run_ok(Command::new("ldd").arg(bin));
    text(&out.stdout)
}

fn links_gtk(ldd_output: &str) -> bool {
    ldd_output
        .lines()
        .any(|l| l.contains("libgtk-4") || l.contains("libadwaita-1"))
}

#[test]
fn headless_binary_links_no_gtk() {
    let _guard = lock_binary();
    let (target, profile) = target_dir_and_profile();
    let bin = eyrie_bin();

    cargo_build(&target, &profile, &["--no-default-features"]);
    let headless = ldd(&bin);
    let help = run_ok(Command::new(&bin).arg("--help"));
    let viewer = run(Command::new(&bin)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY"));

    // Put this test run's binary back before judging, so other tests see it whatever happens.
    cargo_build(&target, &profile, feature_args());
    let restored = ldd(&bin);

    assert!(
        headless.contains("libc.so"),
        "ldd printed no libraries:\n{headless}"
    );
    assert!(
        !links_gtk(&headless),
        "the headless eyrie links GTK or libadwaita:\n{headless}"
    );
    let help = text(&help.stdout);
    assert!(
        help.contains("cloud") && help.contains("camera"),
        "the headless eyrie lacks a role:\n{help}"
    );
    assert!(
        !viewer.status.success(),
        "the headless eyrie claims to open the viewer"
    );
    assert!(
        text(&viewer.stderr).contains("gui"),
        "the headless eyrie does not say why there is no viewer"
    );
    if cfg!(feature = "gui") {
        assert!(
            links_gtk(&restored),
            "the viewer build lost GTK: the check above proves nothing"
        );
    }
}

#[test]
fn meson_builds_and_installs_a_complete_tree() {
    let _guard = lock_binary();
    let (target, profile) = target_dir_and_profile();
    let tmp = tempfile::tempdir().unwrap();
    let build = tmp.path().join("build");
    let dest = tmp.path().join("dest");
    let buildtype = if profile == "release" {
        "release"
    } else {
        "debug"
    };
    let meson = |args: &[&str]| {
        let mut cmd = Command::new("meson");
        without_test_env(&mut cmd)
            .args(args)
            .env("EYRIE_CARGO_TARGET_DIR", &target)
            .env("CARGO_HOME", cargo_home())
            .env_remove("CARGO_TARGET_DIR");
        run_ok(&mut cmd)
    };
    let build_s = build.to_str().expect("utf-8 temp path");
    let src_s = source_root()
        .to_str()
        .expect("utf-8 source path")
        .to_owned();
    let mut setup = vec![
        "setup",
        build_s,
        &src_s,
        "--prefix=/usr",
        "-Dprofile=default",
    ];
    let buildtype_arg = format!("--buildtype={buildtype}");
    setup.push(&buildtype_arg);
    if !cfg!(feature = "gui") {
        setup.push("-Dgui=false");
    }
    meson(&setup);
    meson(&["compile", "-C", build_s]);
    // Every ninja run calls cargo again (it decides what is stale); once is enough.
    meson(&[
        "test",
        "-C",
        build_s,
        "--no-rebuild",
        "--suite",
        "data",
        "--print-errorlogs",
    ]);
    let dest_arg = format!("--destdir={}", dest.display());
    meson(&["install", "-C", build_s, "--no-rebuild", &dest_arg]);
    // Meson's cargo put its own `eyrie` (feature `meson`) at the binary path the other
    // tests run; put this test run's back.
    cargo_build(&target, &profile, feature_args());

    let usr = dest.join("usr");
    let bin = usr.join("bin/eyrie");
    let version = run_ok(Command::new(&bin).arg("--version"));
    assert!(
        text(&version.stdout).contains(env!("CARGO_PKG_VERSION")),
        "installed eyrie --version"
    );
    let units = usr.join("lib/systemd/system");
    for role in ["cloud", "camera"] {
        let unit = std::fs::read_to_string(units.join(format!("eyrie-{role}.service")))
            .unwrap_or_else(|e| panic!("eyrie-{role}.service not installed: {e}"));
        assert!(
            unit.contains(&format!("ExecStart=/usr/bin/eyrie {role}")),
            "unit runs the installed binary"
        );
    }
    if !cfg!(feature = "gui") {
        return;
    }
    let share = usr.join("share");
    let desktop = share.join(format!("applications/{APP_ID}.desktop"));
    let metainfo = share.join(format!("metainfo/{APP_ID}.metainfo.xml"));
    let schemas = share.join("glib-2.0/schemas");
    for file in [
        desktop.clone(),
        metainfo.clone(),
        schemas.join(format!("{APP_ID}.gschema.xml")),
        share.join(format!("icons/hicolor/scalable/apps/{APP_ID}.svg")),
        share.join(format!("icons/hicolor/symbolic/apps/{APP_ID}-symbolic.svg")),
    ] {
        assert!(file.is_file(), "{} is not installed", file.display());
    }
    run_ok(Command::new("desktop-file-validate").arg(&desktop));
    run_ok(
        Command::new("appstreamcli")
            .args(["validate", "--no-net"])
            .arg(&metainfo),
    );
    run_ok(
        Command::new("glib-compile-schemas")
            .args(["--strict", "--dry-run"])
            .arg(&schemas),
    );

    // The development profile configures everything under its own id.
    let devel = tmp.path().join("build-devel");
    let devel_s = devel.to_str().expect("utf-8 temp path");
    meson(&[
        "setup",
        devel_s,
        &src_s,
        "--prefix=/usr",
        "-Dprofile=development",
    ]);
    let devel_id = format!("{APP_ID}.Devel");
    let devel_schema = std::fs::read_to_string(devel.join(format!("data/{devel_id}.gschema.xml")))
        .expect("the Devel schema is configured");
    assert!(devel_schema.contains(&format!(
        "<schema id=\"{devel_id}\" path=\"/io/github/eyrie/Eyrie/Devel/\">"
    )));
}

/// Start a private X server and return it with its display name (`:N`).
#[cfg(feature = "gui")]
fn start_xvfb() -> (std::process::Child, String) {
    let mut xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start Xvfb; build-aux/setup installs it");
    let mut line = String::new();
    BufReader::new(xvfb.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("Xvfb reports its display");
    let number = line.trim();
    assert!(!number.is_empty(), "Xvfb did not report a display");
    (xvfb, format!(":{number}"))
}

#[cfg(feature = "gui")]
fn stop_group(child: &mut std::process::Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.wait();
}

/// Names of the visible top-level windows on `display` whose title contains `title`.
#[cfg(feature = "gui")]
fn visible_windows(display: &str, title: &str) -> Vec<String> {
    let Ok(out) = Command::new("xdotool")
        .env("DISPLAY", display)
        .args([
            "search",
            "--onlyvisible",
            "--name",
            title,
            "getwindowname",
            "%@",
        ])
        .output()
    else {
        panic!("cannot run xdotool; build-aux/setup installs it");
    };
    text(&out.stdout).lines().map(str::to_owned).collect()
}

#[cfg(feature = "gui")]
#[test]
fn app_shows_its_window_under_xvfb() {
    use std::os::unix::process::CommandExt as _;

    let _guard = lock_binary();
    let (mut xvfb, display) = start_xvfb();
    let home = tempfile::tempdir().unwrap();
    let mut app = Command::new("dbus-run-session");
    app.arg("--")
        .arg(eyrie_bin())
        .env("DISPLAY", &display)
        .env("GDK_BACKEND", "x11")
        .env("GSK_RENDERER", "cairo")
        .env("GSETTINGS_BACKEND", "memory")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut app = app
        .spawn()
        .expect("cannot start dbus-run-session; build-aux/setup installs dbus");

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut windows = Vec::new();
    let mut exited = None;
    while Instant::now() < deadline {
        windows = visible_windows(&display, "Eyrie");
        if !windows.is_empty() {
            break;
        }
        if let Ok(Some(status)) = app.try_wait() {
            exited = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop_group(&mut app);
    let stderr = app.stderr.take().map(|mut s| {
        let mut buf = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut buf);
        buf
    });
    let _ = xvfb.kill();
    let _ = xvfb.wait();

    assert!(
        exited.is_none(),
        "eyrie exited ({exited:?}) before showing a window:\n{stderr:?}"
    );
    assert!(
        windows.iter().any(|w| w.contains("Eyrie")),
        "no visible window titled Eyrie within 30 s; stderr:\n{}",
        stderr.unwrap_or_default()
    );
}
