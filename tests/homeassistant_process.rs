//! `eyrie camera --homeassistant` as a process: options refused before anything starts,
//! discovery on a mosquitto that checks logins (the password read from a file, never
//! from the command line), and a SIGKILL leaving the broker to say `offline` — the last
//! will, retained, as Home Assistant's availability needs.

mod storage_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use eyrie_protocol::api::RecordingPolicy;
use eyrie_testkit::Mosquitto;
use storage_support::*;

struct Camera(std::process::Child);

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn camera(base: &str, state: &Path, code: &str, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eyrie"));
    c.args([
        "camera",
        "--cloud",
        base,
        "--source",
        "test",
        "--speaker",
        "none",
    ])
    .args(["--fps", "15", "--motion-sensitivity", "0"])
    .arg("--state-dir")
    .arg(state)
    .args(["--activation-code", code])
    .args(extra);
    c
}

/// The retained message on `topic`, as a newcomer gets it (`mosquitto_sub`, a client we
/// did not write; empty when there is none).
fn retained(port: u16, topic: &str) -> String {
    let out = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-u", "hass", "-P", "hass", "-t", topic])
        .args(["--retained-only", "-C", "1", "-W", "1"])
        .output()
        .expect("mosquitto_sub (apt install mosquitto-clients)");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// [`retained`], waiting up to `secs` for it to equal `want`; the last one read.
fn retained_becomes(port: u16, topic: &str, want: &str, secs: u64) -> Option<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut last = None;
    while std::time::Instant::now() < deadline {
        let got = retained(port, topic);
        if got == want {
            return Some(got);
        }
        last = Some(got);
        std::thread::sleep(Duration::from_millis(200));
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_camera_process_publishes_discovery_and_its_kill_says_offline() {
    let _heavy = heavy().await;
    let cloud = Cloud::start(RecordingPolicy::None).await;
    let broker = Mosquitto::with_acl(
        &["cam", "hass"],
        "user cam\ntopic readwrite homeassistant/#\ntopic readwrite eyrie-ha/#\n\
         user hass\ntopic readwrite homeassistant/#\ntopic readwrite eyrie-ha/#\n",
    );
    let port = broker.port;
    let state = tempfile::tempdir().unwrap();
    let (device, code) = cloud.new_device("Gate").await;
    let url = format!("mqtt://cam@127.0.0.1:{port}");

    // Bad options stop the camera before it enrols, with the reason.
    for (args, why) in [
        (
            vec!["--homeassistant", "mqtt://192.0.2.2:1"],
            "--homeassistant-allow-plain",
        ),
        (vec!["--homeassistant", "http://127.0.0.1"], "mqtt or mqtts"),
        (
            vec![
                "--homeassistant",
                url.as_str(),
                "--homeassistant-password-file",
                "/nonexistent/pw",
            ],
            "password file",
        ),
    ] {
        let out = camera(&cloud.base, state.path(), &code, &args)
            .stdout(Stdio::null())
            .output()
            .expect("eyrie camera runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(err.contains(why), "{args:?}: {err}");
        assert!(
            !state.path().join("credentials.json").exists(),
            "{args:?}: it enrolled before refusing"
        );
    }

    // The password from a file; the broker checks it.
    let pw = state.path().join("ha-password");
    std::fs::write(&pw, "cam\n").unwrap();
    let mut proc = Camera(
        camera(
            &cloud.base,
            state.path(),
            &code,
            &[
                "--homeassistant",
                &url,
                "--homeassistant-password-file",
                pw.to_str().unwrap(),
                "--homeassistant-name",
                "Gate",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("eyrie camera starts"),
    );
    let avail = format!("eyrie-ha/{device}/availability");
    let got = tokio::task::block_in_place(|| retained_becomes(port, &avail, "online", 60));
    assert_eq!(got.as_deref(), Some("online"));
    let node = format!("eyrie_{}", device.simple());
    let doc = tokio::task::block_in_place(|| {
        retained(
            port,
            &format!("homeassistant/button/{node}/record_now/config"),
        )
    });
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("a discovery document");
    assert_eq!(doc["device"]["name"], "Gate", "{doc}");
    assert_eq!(doc["payload_press"], "PRESS", "{doc}");

    // SIGKILL: no goodbye; the broker publishes the will.
    proc.0.kill().unwrap();
    proc.0.wait().unwrap();
    let got = tokio::task::block_in_place(|| retained_becomes(port, &avail, "offline", 40));
    assert_eq!(got.as_deref(), Some("offline"), "the last will");
}
