//! The camera-mode window's Home Assistant switch under Xvfb, black box: with the switch
//! on in the settings (what the window saves when you turn it on), the paired camera
//! publishes its discovery on a real mosquitto, the window shows "Connected", and a
//! privacy command from Home Assistant's side (`mosquitto_pub`) flips the window's own
//! privacy switch — the node, the window and Home Assistant agree.

mod gui_app;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_testkit::{Backend, Mosquitto, TestCloud};

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn wait_for<T>(
    report: &Path,
    secs: u64,
    mut found: impl FnMut(&[serde_json::Value]) -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(t) = found(&events(report)) {
            return Some(t);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// The first message on `topic` (retained ones included), within `secs`.
fn first_message(port: u16, topic: &str, secs: u32) -> Option<String> {
    let out = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic])
        .args(["-C", "1", "-W", &secs.to_string()])
        .output()
        .expect("mosquitto_sub (apt install mosquitto-clients)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_assistant_switch_publishes_discovery_and_takes_commands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = Mosquitto::start();
    let port = broker.port;
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let user = cloud.account("hazel").await;
    let token = user.token().expect("signed in").to_owned();
    let installation = eyrie_testkit::e2e::TestViewer::new(&user)
        .await
        .expect("the account's installation");
    let session = dir.path().join("session.json");
    std::fs::write(
        &session,
        serde_json::to_vec(&serde_json::json!({
            "server": cloud.base, "email": "hazel", "token": token,
        }))
        .expect("json"),
    )
    .expect("session file");
    // The switch was left on, with this broker: the settings the window saves.
    let config = dir.path().join("config");
    let keyfile = config.join("glib-2.0/settings/keyfile");
    std::fs::create_dir_all(keyfile.parent().unwrap()).unwrap();
    std::fs::write(
        &keyfile,
        format!(
            "[io/github/eyrie/Eyrie]\ncamera-mode-homeassistant=true\n\
             camera-mode-homeassistant-url='mqtt://127.0.0.1:{port}'\n"
        ),
    )
    .unwrap();

    let report = dir.path().join("report.jsonl");
    let mut cmd = gui_app::command("1280x900x24");
    cmd.env("EYRIE_TEST_REPORT", &report)
        .env("EYRIE_SESSION_FILE", &session)
        .env("EYRIE_SECRET_STORE", "file")
        .env("GSETTINGS_BACKEND", "keyfile")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", &config)
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut viewer = gui_app::App::spawn(&mut cmd);
    tokio::task::block_in_place(|| {
        viewer
            .bus(30)
            .app("camera-mode", None)
            .expect("app.camera-mode");
    });

    let outcome = async {
        let code = wait_for(&report, 40, |ev| {
            ev.iter()
                .find_map(|e| e["data"]["pairing_code"].as_str().map(str::to_owned))
        })
        .await
        .ok_or("no pairing code shown")?;
        let (claim, _) = eyrie_protocol::e2e::pairing::split(&code)
            .ok_or(format!("not a 12-character code: {code}"))?;
        let device = user
            .claim(&claim, "Desk")
            .await
            .map_err(|e| format!("claim {claim}: {e}"))?;
        drop(installation.pair_in_background(device.id, &code));
        wait_for(&report, 60, |ev| {
            ev.iter()
                .any(|e| {
                    e["event"] == "camera-mode-homeassistant"
                        && e["data"]["state"] == "Some(Connected)"
                })
                .then_some(())
        })
        .await
        .ok_or("the window never said Connected")?;
        let doc = tokio::task::block_in_place(|| {
            first_message(port, "homeassistant/switch/+/privacy/config", 10)
        })
        .ok_or("no privacy switch discovered")?;
        let doc: serde_json::Value =
            serde_json::from_str(&doc).map_err(|e| format!("{e}: {doc}"))?;
        let whep = format!("{}/api/v1/devices/{}/whep", cloud.base, device.id);
        if doc["device"]["configuration_url"] != whep.as_str() {
            return Err(format!("configuration URL is not {whep}: {doc}"));
        }
        let command = doc["command_topic"].as_str().ok_or("no command topic")?;
        let ok = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
            .args(["-t", command, "-m", "ON"])
            .status()
            .map_err(|e| e.to_string())?;
        if !ok.success() {
            return Err("mosquitto_pub failed".into());
        }
        wait_for(&report, 15, |ev| {
            ev.iter()
                .any(|e| e["event"] == "camera-mode-status" && e["data"]["privacy"] == true)
                .then_some(())
        })
        .await
        .ok_or("the window's privacy switch did not follow Home Assistant's command")?;
        Ok::<_, String>(())
    }
    .await;
    viewer.stop();
    outcome.unwrap_or_else(|e| {
        let brief: Vec<_> = events(&report)
            .into_iter()
            .filter(|e| e["event"] != "camera-mode-frame")
            .collect();
        panic!("{e}: {brief:?}")
    });
}
