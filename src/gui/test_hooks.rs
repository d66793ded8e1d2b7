//! Reports for the black-box tests and the benchmark.
//!
//! When `EYRIE_TEST_REPORT` names a file, the app appends one JSON object per line to it at
//! the moments a test wants to observe from outside: the window drawn, the camera list
//! shown, live-view stage changes, frames rendered (with size and sampled pixels), talk
//! level, snapshots. Without the variable every call is a no-op.

use std::io::Write;
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

static START: LazyLock<Instant> = LazyLock::new(Instant::now);

static FILE: LazyLock<Option<Mutex<std::fs::File>>> = LazyLock::new(|| {
    let path = std::env::var_os("EYRIE_TEST_REPORT")?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .ok()
        .map(Mutex::new)
});

/// Whether reports are being written (lets callers skip expensive measurements).
pub fn enabled() -> bool {
    FILE.is_some()
}

/// Mark the process start; call early so `t_ms` counts from launch.
pub fn mark_start() {
    LazyLock::force(&START);
}

/// Append `{"event": event, "t_ms": …, "data": data}`.
pub fn report(event: &str, data: &serde_json::Value) {
    let Some(file) = FILE.as_ref() else { return };
    let line = serde_json::json!({
        "event": event,
        "t_ms": START.elapsed().as_secs_f64() * 1000.0,
        "data": data,
    });
    if let Ok(mut f) = file.lock() {
        let _ = writeln!(f, "{line}");
        let _ = f.flush();
    }
}

/// `EYRIE_TEST_OPEN_CAMERA=<device id>`: open that camera's live view as soon as the
/// camera list has it (tests that run the plain viewer with a saved session).
pub fn camera_to_open() -> Option<String> {
    std::env::var("EYRIE_TEST_OPEN_CAMERA")
        .ok()
        .filter(|s| !s.is_empty())
}

/// `EYRIE_TEST_OPEN_DELAY_MS=<ms>`: open [`camera_to_open`] that long after the list shows
/// it, as a person would click (the benchmark's "click → frame" starts at the click, not
/// at the launch).
pub fn open_delay() -> std::time::Duration {
    std::env::var("EYRIE_TEST_OPEN_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(std::time::Duration::ZERO, std::time::Duration::from_millis)
}

/// `EYRIE_TEST_CAMERA_MODE=1`: open the camera-mode window at start.
pub fn open_camera_mode() -> bool {
    std::env::var("EYRIE_TEST_CAMERA_MODE").is_ok_and(|v| v == "1")
}

/// `EYRIE_TEST_SIGN_IN=<server> <user> <password>`: with no saved session, fill in the
/// connect page and press "Sign In" as a person would (the sign-in and keyring tests).
pub fn sign_in() -> Option<(String, String, String)> {
    let v = std::env::var("EYRIE_TEST_SIGN_IN").ok()?;
    let mut parts = v.splitn(3, ' ');
    Some((
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
        parts.next()?.to_owned(),
    ))
}

/// `EYRIE_TEST_TIMELINE`: `1` clicks the ruler once recordings are listed; `clips` does
/// that and then drives the clip list (zoom, select → clip, export, cancelled export,
/// delete) through the same widgets a person uses.
pub fn timeline_script() -> Option<String> {
    if !enabled() {
        return None;
    }
    std::env::var("EYRIE_TEST_TIMELINE")
        .ok()
        .filter(|v| v == "1" || v == "clips")
}

/// `EYRIE_TEST_EXPORT_TO=<dir>`: exports go to `<dir>/<n>.mp4` instead of asking with a
/// file chooser (which a test cannot answer).
pub fn export_dir() -> Option<std::path::PathBuf> {
    if !enabled() {
        return None;
    }
    std::env::var_os("EYRIE_TEST_EXPORT_TO").map(std::path::PathBuf::from)
}
