//! The kiosk's data files: the autostart entry validates, the systemd user unit verifies
//! and starts the real binary with options it has, so does the cage unit (a system unit;
//! `tests/kiosk_cage.rs` runs its command), meson installs them, and every
//! `kiosk…` settings key the code reads exists in the schema (GSettings aborts the process
//! on an unknown key, so a typo would crash the kiosk at start).

use std::path::Path;
use std::process::Command;

const APP_ID: &str = "io.github.eyrie.Eyrie";

fn top() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(top().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn bindir() -> String {
    Path::new(env!("CARGO_BIN_EXE_eyrie"))
        .parent()
        .expect("bin dir")
        .display()
        .to_string()
}

#[test]
fn autostart_entry_validates_and_starts_the_kiosk() {
    let dir = tempfile::tempdir().unwrap();
    let entry = read("data/eyrie-kiosk.desktop.in")
        .replace("@APP_ID@", APP_ID)
        .replace("@BINDIR@", &bindir());
    assert!(!entry.contains('@'), "unsubstituted placeholder:\n{entry}");
    let path = dir.path().join("eyrie-kiosk.desktop");
    std::fs::write(&path, &entry).unwrap();
    let out = Command::new("desktop-file-validate")
        .arg(&path)
        .output()
        .expect("desktop-file-validate");
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && report.trim().is_empty(),
        "desktop-file-validate:\n{report}"
    );
    assert!(
        entry.contains(&format!("Exec={}/eyrie --kiosk\n", bindir())),
        "{entry}"
    );
}

#[test]
fn user_unit_verifies_and_its_options_exist() {
    let dir = tempfile::tempdir().unwrap();
    let unit = read("data/eyrie-kiosk.service.in").replace("@BINDIR@", &bindir());
    let path = dir.path().join("eyrie-kiosk.service");
    std::fs::write(&path, &unit).unwrap();
    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(&path)
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .expect("systemd-analyze");
    let report = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "systemd-analyze --user verify:\n{report}"
    );
    // The options in ExecStart exist (a renamed flag would make the unit restart for ever).
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let help = Command::new(env!("CARGO_BIN_EXE_eyrie"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in exec.split_whitespace().filter(|w| w.starts_with("--")) {
        assert!(help.contains(flag), "eyrie has no {flag}:\n{help}");
    }
}

#[test]
fn cage_unit_verifies_and_runs_the_kiosk() {
    let dir = tempfile::tempdir().unwrap();
    let unit = read("data/eyrie-kiosk-cage@.service.in").replace("@BINDIR@", &bindir());
    assert!(!unit.contains("@BINDIR@"), "{unit}");
    // An instance of the template, as `systemctl enable eyrie-kiosk-cage@wall.service` makes.
    let path = dir.path().join("eyrie-kiosk-cage@wall.service");
    std::fs::write(&path, &unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze");
    let report = String::from_utf8_lossy(&out.stderr).to_string();
    // verify passes units with unknown keys; it names them on stderr.
    assert!(
        out.status.success() && report.trim().is_empty(),
        "systemd-analyze verify:\n{report}"
    );
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    assert!(
        exec.starts_with("/usr/bin/cage ")
            && exec.ends_with(&format!("-- {}/eyrie --kiosk", bindir())),
        "{exec}"
    );
}

#[test]
fn meson_installs_the_kiosk_files() {
    let meson = read("data/meson.build");
    for file in [
        "eyrie-kiosk.desktop.in",
        "eyrie-kiosk.service.in",
        "eyrie-kiosk-cage@.service.in",
    ] {
        assert!(
            meson.contains(&format!("'{file}'")),
            "data/meson.build does not install {file}"
        );
    }
}

#[test]
fn every_kiosk_key_the_code_reads_is_in_the_schema() {
    let schema = read("data/io.github.eyrie.Eyrie.gschema.xml.in");
    let mut keys = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(top().join("src/gui/kiosk")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut rest = text.as_str();
        while let Some(i) = rest.find("\"kiosk") {
            let tail = &rest[i + 1..];
            let end = tail.find('"').unwrap_or(0);
            let key = &tail[..end];
            // Test reports are named kiosk-… too; they are not settings.
            let report = rest[..i].trim_end().ends_with("report(");
            if !report
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
            {
                keys.insert(key.to_owned());
            }
            rest = &tail[end..];
        }
    }
    assert!(keys.len() >= 10, "found too few keys: {keys:?}");
    for key in &keys {
        assert!(
            schema.contains(&format!("<key name=\"{key}\"")),
            "the kiosk reads `{key}`, which the schema lacks"
        );
    }
}
