//! The app's accessibility tree, read the way a screen reader reads it: over AT-SPI.
//!
//! `walk.py` (Debian's `gir1.2-atspi-2.0` through `python3-gi`) prints the tree of the
//! application with a given process id; the accessibility bus comes from the session
//! bus's `org.a11y.Bus` (at-spi-bus-launcher, started on demand), so the test runs under
//! `dbus-run-session` like the other GUI tests and the app inherits that bus.
//!
//! GTK 4.8 names an accessible that has no label after its type (`GtkImage`,
//! `GtkMenuButton`, `AdwGizmo`): for a screen reader such a name is as good as none, so
//! [`Node::is_named`] treats it as missing.

#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// Roles a person operates: each must have a name of its own.
pub const CONTROL_ROLES: &[&str] = &[
    "push button",
    "toggle button",
    "check box",
    "radio button",
    "switch",
    "text",
    "entry",
    "password text",
    "spin button",
    "combo box",
    "slider",
    "menu item",
];

/// One accessible object.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Node {
    pub id: usize,
    pub parent: Option<usize>,
    pub role: String,
    pub name: String,
    pub description: String,
    pub states: Vec<String>,
}

impl Node {
    /// A name a person can hear: not empty, and not GTK's type-name stand-in.
    pub fn is_named(&self) -> bool {
        let name = self.name.trim();
        !name.is_empty() && !is_type_name(name)
    }

    pub fn is_control(&self) -> bool {
        CONTROL_ROLES.contains(&self.role.as_str())
    }
}

/// `GtkImage`, `AdwGizmo`, `GtkFlowBoxChild`: what GTK 4.8 reports for an unnamed widget.
fn is_type_name(name: &str) -> bool {
    ["Gtk", "Adw", "Eyrie"].iter().any(|prefix| {
        name.strip_prefix(prefix).is_some_and(|rest| {
            rest.starts_with(|c: char| c.is_ascii_uppercase())
                && rest.chars().all(|c| c.is_ascii_alphanumeric())
        })
    })
}

/// The tree of one app.
#[derive(Debug, Clone)]
pub struct Tree(pub Vec<Node>);

impl Tree {
    /// The ancestors of `node`, nearest first.
    pub fn ancestors<'a>(&'a self, node: &Node) -> impl Iterator<Item = &'a Node> + 'a {
        let mut next = node.parent;
        std::iter::from_fn(move || {
            let n = &self.0[next?];
            next = n.parent;
            Some(n)
        })
    }

    /// Controls without a name, and images without one that are not part of a named
    /// control (the icon inside a labelled button is that button's picture).
    pub fn unnamed(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|n| !n.is_named())
            .filter(|n| {
                if n.is_control() {
                    // A menu button's inner button: its name is the outer one's.
                    return !self
                        .ancestors(n)
                        .next()
                        .is_some_and(|p| p.is_control() && p.is_named());
                }
                n.role == "image" && !self.ancestors(n).any(|a| a.is_control() && a.is_named())
            })
            .map(|n| self.describe(n))
            .collect()
    }

    /// `role "name" (description) in role "name" › …` for a failure message.
    pub fn describe(&self, n: &Node) -> String {
        let mut s = format!("{} {:?} ({:?})", n.role, n.name, n.description);
        for a in self
            .ancestors(n)
            .filter(|a| a.is_named() || a.role == "frame")
            .take(3)
        {
            s.push_str(&format!(" in {} {:?}", a.role, a.name));
        }
        s
    }

    /// The first node with this role and name.
    pub fn find(&self, role: &str, name: &str) -> Option<&Node> {
        self.0.iter().find(|n| n.role == role && n.name == name)
    }

    /// Every name in the tree (for failure messages and "is this text shown" checks).
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|n| n.name.as_str()).collect()
    }

    pub fn has_name(&self, name: &str) -> bool {
        self.0.iter().any(|n| n.name == name)
    }
}

/// Debian's Python, which has `gi` (a pyenv or venv `python3` first in PATH may not).
fn python() -> &'static str {
    if std::path::Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Walk the app with process id `pid` once; `None` while it is not on the bus.
pub fn walk_once(pid: u32) -> Option<Tree> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/a11y_support/walk.py");
    let out = Command::new(python())
        .arg(script)
        .arg(pid.to_string())
        .output()
        .expect("run tests/a11y_support/walk.py (python3-gi, gir1.2-atspi-2.0)");
    match out.status.code() {
        Some(0) => {}
        Some(2) => return None,
        _ => panic!(
            "walk.py failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
    let nodes = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("walk.py prints JSON lines"))
        .collect();
    Some(Tree(nodes))
}

/// Walk the app until `ready` holds for its tree (up to `secs`); the last tree either way.
pub fn walk_until(pid: u32, secs: u64, ready: impl Fn(&Tree) -> bool) -> Tree {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = None;
    loop {
        if let Some(tree) = walk_once(pid) {
            if ready(&tree) {
                return tree;
            }
            last = Some(tree);
        }
        if Instant::now() >= deadline {
            return last.unwrap_or_else(|| panic!("the app (pid {pid}) never showed up on AT-SPI"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Press the push button named `name` in the app with process id `pid` over AT-SPI (its
/// first action, "click"), waiting up to `secs` for it to show; whether it was pressed.
pub fn press(pid: u32, name: &str, secs: u64) -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/a11y_support/press.py");
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let out = Command::new(python())
            .arg(script)
            .arg(pid.to_string())
            .arg(name)
            .output()
            .expect("run tests/a11y_support/press.py (python3-gi, gir1.2-atspi-2.0)");
        match out.status.code() {
            Some(0) => return true,
            Some(2) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(500)),
            Some(2) => return false,
            _ => panic!(
                "press.py failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        }
    }
}
