//! The app's D-Bus actions, called the way a desktop integration calls them
//! (`docs/desktop-actions.md`): `gdbus call … org.gtk.Actions.Activate`.
//!
//! The viewer runs non-unique (a kiosk, a demo and a viewer may run side by side), so it
//! does not own its application id on the bus: the app is found by its process id
//! (`GetConnectionUnixProcessID`) on the session bus it was started on, which is read from
//! its environment (a bench starts each viewer under a `dbus-run-session` of its own).

use std::process::Command;
use std::time::{Duration, Instant};

/// The application's object path (from its id, `io.github.eyrie.Eyrie`).
pub const APP_PATH: &str = "/io/github/eyrie/Eyrie";

/// One running app on its session bus.
pub struct AppBus {
    /// The bus address, when it is not this process's own session bus.
    address: Option<String>,
    /// The app's unique connection name (`:1.42`).
    pub name: String,
}

fn single_quoted(text: &str) -> Vec<String> {
    text.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

impl AppBus {
    /// Wait up to `secs` for process `pid` to export its actions on the session bus.
    pub fn wait(pid: u32, secs: u64) -> Option<Self> {
        let address = bus_address_of(pid);
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            let probe = Self {
                address: address.clone(),
                name: "org.freedesktop.DBus".into(),
            };
            let names = probe
                .call(
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.ListNames",
                    &[],
                )
                .map(|out| single_quoted(&out))
                .unwrap_or_default();
            for name in names.into_iter().filter(|n| n.starts_with(':')) {
                let owner = probe
                    .call(
                        "/org/freedesktop/DBus",
                        "org.freedesktop.DBus.GetConnectionUnixProcessID",
                        &[&name],
                    )
                    .ok()
                    .and_then(|o| {
                        // "(uint32 1234,)"
                        o.split_whitespace()
                            .nth(1)?
                            .trim_end_matches([',', ')'])
                            .parse::<u32>()
                            .ok()
                    });
                if owner != Some(pid) {
                    continue;
                }
                let app = Self {
                    address: address.clone(),
                    name,
                };
                if app.actions(APP_PATH).iter().any(|a| a == "open-camera") {
                    return Some(app);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    }

    fn gdbus(&self) -> Command {
        let mut c = Command::new("gdbus");
        if let Some(a) = &self.address {
            c.env("DBUS_SESSION_BUS_ADDRESS", a);
        }
        c
    }

    /// `gdbus call` a method with GVariant-text arguments; its output, or why it failed.
    pub fn call(&self, path: &str, method: &str, args: &[&str]) -> Result<String, String> {
        let out = self
            .gdbus()
            .args(["call", "--session", "--dest", &self.name])
            .args(["--object-path", path, "--method", method])
            .args(args)
            .output()
            .map_err(|e| format!("gdbus: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The action names exported at `path`.
    pub fn actions(&self, path: &str) -> Vec<String> {
        self.call(path, "org.gtk.Actions.List", &[])
            .map(|o| single_quoted(&o))
            .unwrap_or_default()
    }

    /// The object paths of the app's windows, newest first.
    pub fn windows(&self) -> Vec<String> {
        let Ok(out) = self
            .gdbus()
            .args(["introspect", "--session", "--dest", &self.name])
            .args(["--object-path", &format!("{APP_PATH}/window")])
            .output()
        else {
            return Vec::new();
        };
        let mut ids: Vec<u32> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().strip_prefix("node "))
            .filter_map(|l| l.trim_end_matches(['{', ' ']).parse().ok())
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.into_iter()
            .map(|id| format!("{APP_PATH}/window/{id}"))
            .collect()
    }

    /// Activate `action` at `path` with an optional parameter in GVariant text
    /// (`"'abc'"`, `"int64 5"`, `"('id', int64 5)"`, `"true"`).
    pub fn activate(&self, path: &str, action: &str, param: Option<&str>) -> Result<(), String> {
        let param = param.map_or("[]".to_owned(), |p| format!("[<{p}>]"));
        self.call(
            path,
            "org.gtk.Actions.Activate",
            &[&format!("'{action}'"), &param, "{}"],
        )
        .map(drop)
    }

    /// `app.<action>`.
    pub fn app(&self, action: &str, param: Option<&str>) -> Result<(), String> {
        self.activate(APP_PATH, action, param)
    }

    /// `win.<action>` of the newest window that has it, waiting up to `secs` for one.
    pub fn win(&self, action: &str, param: Option<&str>, secs: u64) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(path) = self
                .windows()
                .into_iter()
                .find(|p| self.actions(p).iter().any(|a| a == action))
            {
                return self.activate(&path, action, param);
            }
            if Instant::now() > deadline {
                return Err(format!("no window has win.{action}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The session bus `pid` was started on, when it differs from ours.
fn bus_address_of(pid: u32) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let theirs = environ
        .split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix("DBUS_SESSION_BUS_ADDRESS="))?
        .to_owned();
    (std::env::var("DBUS_SESSION_BUS_ADDRESS").ok().as_deref() != Some(theirs.as_str()))
        .then_some(theirs)
}

/// Type on the keyboard of the X server that `x` names (its `DISPLAY` and `XAUTHORITY`;
/// empty: ours): `keys` are xdotool key names (`ctrl+a`, `Tab`, `Return`), then `text` is
/// typed as characters.
pub fn keyboard(x: &[(String, String)], keys: &[&str], text: Option<&str>) {
    let xdotool = |args: &[&str]| {
        let mut c = Command::new("xdotool");
        c.envs(x.iter().map(|(k, v)| (k, v)));
        let status = c
            .args(args)
            .status()
            .expect("xdotool (apt install xdotool)");
        assert!(status.success(), "xdotool {args:?} failed");
    };
    for key in keys {
        xdotool(&["key", key]);
        std::thread::sleep(Duration::from_millis(150));
    }
    if let Some(t) = text {
        xdotool(&["type", "--delay", "30", t]);
    }
}
