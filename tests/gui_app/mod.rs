//! The app under test: started under an X server of its own (`xvfb-run -a`) in a process
//! group of its own — never on the display the test runs under: two apps of one test
//! binary run at once, and keys typed for one must not land in the other — and stopped as a whole group — `xvfb-run` does not pass
//! SIGTERM on, so killing only it used to leave Xvfb (and, before the app learnt to die
//! with its parent, whole demos) running after a test. The test drives it through its
//! D-Bus actions and the keyboard ([`actions`]) and reads what it shows from its report
//! (the `test-hooks` feature).

#![allow(dead_code)]

pub mod actions;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// `eyrie` under `xvfb-run` with a screen of `screen` (e.g. `1280x800x24`).
pub fn command(screen: &str) -> Command {
    let mut c = Command::new("xvfb-run");
    c.args(["-a", "-s", &format!("-screen 0 {screen}")])
        .arg(env!("CARGO_BIN_EXE_eyrie"))
        .env_remove("WAYLAND_DISPLAY")
        .process_group(0)
        .env("EYRIE_DIE_WITH_PARENT", "1");
    c
}

/// A running app; stopped (TERM to the group, then KILL) when dropped.
pub struct App(Option<Child>);

impl App {
    pub fn spawn(cmd: &mut Command) -> Self {
        Self(Some(cmd.spawn().expect("start eyrie")))
    }

    /// The `eyrie` process: xvfb-run's `eyrie` in its process group.
    pub fn pid(&self) -> Option<u32> {
        let group = self.0.as_ref()?.id();
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .find_map(|entry| {
                let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
                let (head, rest) = stat.rsplit_once(')')?;
                // "pid (comm) state ppid pgrp …"
                let f: Vec<&str> = rest.split_whitespace().collect();
                (head.ends_with("(eyrie") && f.get(2)?.parse::<u32>().ok()? == group).then_some(pid)
            })
    }

    /// The app on its session bus, once it exports its actions (up to `secs`).
    pub fn bus(&self, secs: u64) -> actions::AppBus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let pid = loop {
            match self.pid() {
                Some(pid) => break pid,
                None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                None => panic!("eyrie did not start"),
            }
        };
        actions::AppBus::wait(pid, secs).expect("the app never exported its actions on D-Bus")
    }

    /// The app's X server: `DISPLAY` (`:99`…) and the `XAUTHORITY` xvfb-run made for it,
    /// read from the app's environment once it runs.
    pub fn x_server(&self) -> Vec<(String, String)> {
        let environ = self
            .pid()
            .and_then(|pid| std::fs::read(format!("/proc/{pid}/environ")).ok())
            .unwrap_or_default();
        environ
            .split(|b| *b == 0)
            .filter_map(|var| std::str::from_utf8(var).ok()?.split_once('='))
            .filter(|(k, _)| matches!(*k, "DISPLAY" | "XAUTHORITY"))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// SIGTERM to the app, xvfb-run and Xvfb; SIGKILL whatever is left after 10 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.0.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The group may outlive its leader (Xvfb exiting slowly): make sure it is gone.
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = child.wait();
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sign in as a person does, on the keyboard of the app's display alone (it needs no
/// D-Bus): once the window is shown (`report`), Alt+C ("_Connect to a Cloud"), then the cloud link, email and
/// password typed in (the email field has the focus; Shift+Tab reaches the link above it,
/// Tab goes down), and Enter in the password field.
pub fn sign_in(app: &App, report: &std::path::Path, server: &str, user: &str, password: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(report).is_ok_and(|r| r.contains("\"window-shown\"")) {
        assert!(Instant::now() < deadline, "the window never showed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let x = app.x_server();
    assert!(
        x.iter().any(|(k, _)| k == "DISPLAY"),
        "the app has no DISPLAY"
    );
    let display = &x;
    std::thread::sleep(Duration::from_millis(700));
    actions::keyboard(display, &["alt+c"], None);
    std::thread::sleep(Duration::from_millis(700));
    actions::keyboard(display, &["shift+Tab", "ctrl+a"], Some(server));
    actions::keyboard(display, &["Tab", "ctrl+a"], Some(user));
    actions::keyboard(display, &["Tab", "ctrl+a"], Some(password));
    actions::keyboard(display, &["Return"], None);
}

/// A picture of the app's whole X screen at `path` (PNG), for a person to look at.
pub fn screenshot(app: &App, path: &std::path::Path) {
    let status = Command::new("import")
        .envs(app.x_server())
        .args(["-window", "root"])
        .arg(path)
        .status()
        .expect("import (apt install imagemagick)");
    assert!(status.success(), "import failed");
}

/// Make the app started with session file `session` (and `EYRIE_SECRET_STORE=file`) the
/// installation whose key is `seed`: its key file (next to the session file) holds it for
/// `email` on `server`, as the app keeps a key where there is no keyring.
pub fn keep_viewer_key(session: &std::path::Path, server: &str, email: &str, seed: &[u8; 32]) {
    let id = eyrie_protocol::e2e::viewer::ViewerKeys::from_seed(*seed)
        .id()
        .to_owned();
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let file = serde_json::json!({
        "keys": [{ "server": server, "email": email, "id": id, "seed": hex }],
    });
    std::fs::write(
        session.with_file_name("viewer-keys.json"),
        serde_json::to_vec(&file).unwrap(),
    )
    .unwrap();
}
