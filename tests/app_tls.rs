//! The app under Xvfb against a cloud that serves TLS with its own CA: signed in through
//! the connect page with the cloud link (`https://…#ca=sha256:…`), it lists the camera,
//! plays it live (the broker checked against the same CA) and keeps the link with the
//! session; `eyrie camera` paired through the same link.

mod gui_app;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_client::api::ApiClient;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_signs_in_with_the_cloud_link_and_plays_over_tls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = eyrie_cloud::config::Config::embedded(dir.path().join("cloud"));
    config.password = eyrie_cloud::crypto::PasswordParams {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };
    config.tls.mode = eyrie_cloud::config::TlsMode::On;
    let app = eyrie_cloud::startup::Application::build(config)
        .await
        .expect("cloud");
    let link = app.cloud_link().expect("a link").to_string();
    tokio::spawn(app.run_until_stopped());

    let api = ApiClient::new(link.clone());
    api.register("erin", "correct horse battery")
        .await
        .expect("register");
    let user = api.with_token(
        api.login("erin", "correct horse battery")
            .await
            .expect("login")
            .token,
    );
    let created = user.create_device("porch").await.expect("device");
    let device = created.device.id;
    // The camera's 12-character code; the account's installation answers its pairing
    // check (`docs/keys.md` §4).
    let code = eyrie_testkit::e2e::TestViewer::new(&user)
        .await
        .expect("the account's installation")
        .pairing_code_for(device, &created.activation_code);
    let state = dir.path().join("camera");
    let _camera = Child(
        Command::new(env!("CARGO_BIN_EXE_eyrie"))
            .args(["camera", "--cloud", &link, "--source", "test"])
            .args(["--speaker", "none", "--fps", "15"])
            .arg("--state-dir")
            .arg(&state)
            .args(["--activation-code", &code])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("eyrie camera starts"),
    );

    // The app: the connect page filled in with the link, as a person pastes it.
    let session = dir.path().join("session.json");
    let report = dir.path().join("report.jsonl");
    let mut cmd = gui_app::command("1280x800x24");
    cmd.env("EYRIE_TEST_REPORT", &report)
        .env("EYRIE_SESSION_FILE", &session)
        .env("EYRIE_SECRET_STORE", "file")
        .env("GSK_RENDERER", "cairo")
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut viewer = gui_app::App::spawn(&mut cmd);
    tokio::task::block_in_place(|| {
        gui_app::sign_in(&viewer, &report, &link, "erin", "correct horse battery");
        let bus = viewer.bus(30);
        let listed = Instant::now();
        while listed.elapsed() < Duration::from_secs(30)
            && !events(&report).iter().any(|e| e["event"] == "cameras")
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        bus.app("open-camera", Some(&format!("'{device}'")))
            .expect("app.open-camera");
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut ev = Vec::new();
    while Instant::now() < deadline {
        ev = events(&report);
        let frames = ev
            .iter()
            .filter(|e| e["event"] == "frame" && e["data"]["n"].as_u64().unwrap_or(0) >= 3)
            .count();
        if frames > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    viewer.stop();
    let names: Vec<&str> = ev.iter().filter_map(|e| e["event"].as_str()).collect();
    assert!(
        names.contains(&"session-kept"),
        "signed in through the link: {names:?}"
    );
    assert!(
        ev.iter()
            .any(|e| e["event"] == "frame" && e["data"]["n"].as_u64().unwrap_or(0) >= 3),
        "the live view plays over TLS signalling: {names:?}"
    );
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&session).expect("session file")).unwrap();
    assert_eq!(
        kept["server"],
        link.as_str(),
        "the link is kept, pin and all"
    );
}
