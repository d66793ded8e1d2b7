//! Helpers shared by the foundation tests (`tests/foundation*.rs`).

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The default app id; meson's `base_id`.
pub const APP_ID: &str = "io.github.eyrie.Eyrie";

/// The top of the source tree.
pub fn source_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(rel: &str) -> String {
    let path = source_root().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The GSettings path of an app id: `io.github.eyrie.Eyrie` → `/io/github/eyrie/Eyrie/`.
pub fn schema_path(app_id: &str) -> String {
    format!("/{}/", app_id.replace('.', "/"))
}

/// Fill a data template the way meson does for the default profile.
pub fn configure(template: &str, bindir: &Path) -> String {
    let out = template
        .replace("@APP_ID@", APP_ID)
        .replace("@SCHEMA_PATH@", &schema_path(APP_ID))
        .replace("@BINDIR@", &bindir.display().to_string());
    assert!(
        !out.contains("@APP_ID@") && !out.contains("@SCHEMA_PATH@") && !out.contains("@BINDIR@"),
        "a placeholder was left unfilled"
    );
    out
}

/// Run a command, panicking with a clear message when the program is missing.
pub fn run(cmd: &mut Command) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {program} ({e}); build-aux/setup installs the tools the tests need")
    })
}

/// Run a command and panic with its output unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let description = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{description} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `eyrie` binary cargo built for this test run.
pub fn eyrie_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_eyrie"))
}

/// Cargo's target dir and profile dir name (`debug`/`release`) of this test run, read
/// from where cargo put the `eyrie` binary (`<target>/<profile>/eyrie`).
pub fn target_dir_and_profile() -> (PathBuf, String) {
    let bin = eyrie_bin();
    let profile_dir = bin.parent().expect("the binary sits in a profile dir");
    let profile = profile_dir
        .file_name()
        .expect("profile dir name")
        .to_string_lossy()
        .into_owned();
    let target = profile_dir
        .parent()
        .expect("the profile dir sits in the target dir");
    (target.to_path_buf(), profile)
}

/// `CARGO_HOME` for nested cargo runs: the caller's, or the usual default.
pub fn cargo_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return PathBuf::from(home);
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cargo")
}

pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    without_test_env(&mut cmd);
    cmd
}

/// Drop the variables cargo sets for the running test binary (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`, `OUT_DIR`, …) from a command that runs cargo again. Build scripts watch
/// some of them (ring: `rerun-if-env-changed=CARGO_MANIFEST_DIR`, `OUT_DIR`, …): seen in
/// a nested build, they made every later cargo run of the suite rebuild ring, rustls and
/// everything above them (~75 s each time).
pub fn without_test_env(cmd: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let set_for_test = ["CARGO_MANIFEST_", "CARGO_PKG_", "CARGO_BIN_", "CARGO_CFG_"]
            .iter()
            .any(|p| key.starts_with(p))
            || matches!(
                key,
                "OUT_DIR"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            );
        if set_for_test {
            cmd.env_remove(key);
        }
    }
    cmd
}
