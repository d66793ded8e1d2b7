//! The app under Xvfb keeps its session in the desktop's Secret Service: a real
//! gnome-keyring-daemon on a private D-Bus session bus of this test (its own runtime and
//! data directories, an unlocked "login" keyring), the embedded cloud in this process.
//!
//! 1. The app signs in through its connect page → the token is in the keyring (found with
//!    `secret-tool`, and it works against the API) and `session.json` holds no token.
//! 2. The app started again restores the session from the keyring and lists the cameras.
//! 3. With no Secret Service reachable, the token goes to the 0600 file instead.

mod gui_app;

use std::path::{Path, PathBuf};
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

/// A private session bus with gnome-keyring's secret component on it.
struct Keyring {
    env: Vec<(&'static str, PathBuf)>,
    bus: String,
    _daemons: Vec<Child>,
}

impl Keyring {
    fn start(dir: &Path) -> Keyring {
        for tool in ["dbus-daemon", "gnome-keyring-daemon", "secret-tool"] {
            assert!(
                Command::new("sh")
                    .args(["-c", &format!("command -v {tool}")])
                    .stdout(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success()),
                "{tool} is missing (build-aux/setup installs dbus, gnome-keyring and libsecret-tools)"
            );
        }
        let runtime = dir.join("runtime");
        std::fs::create_dir_all(&runtime).unwrap();
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let env = vec![
            ("XDG_RUNTIME_DIR", runtime.clone()),
            ("XDG_DATA_HOME", dir.join("data")),
            ("XDG_CONFIG_HOME", dir.join("config")),
            ("HOME", dir.join("home")),
        ];
        for (_, p) in &env {
            std::fs::create_dir_all(p).unwrap();
        }
        let socket = runtime.join("bus");
        let bus = format!("unix:path={}", socket.display());
        let dbus = Child(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--nopidfile"])
                .arg(format!("--address={bus}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("dbus-daemon"),
        );
        let t0 = Instant::now();
        while !socket.exists() {
            assert!(t0.elapsed() < Duration::from_secs(10), "the bus came up");
            std::thread::sleep(Duration::from_millis(50));
        }
        // A password on stdin creates and unlocks the "login" keyring (the default one).
        let mut keyring = Command::new("gnome-keyring-daemon");
        keyring
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .envs(env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut gk = keyring.spawn().expect("gnome-keyring-daemon");
        {
            use std::io::Write;
            let mut stdin = gk.stdin.take().unwrap();
            stdin.write_all(b"test-login-password").unwrap();
        }
        let k = Keyring {
            env,
            bus,
            _daemons: vec![Child(gk), dbus],
        };
        // Ready when a lookup answers (found nothing: exit status 1, not a bus error).
        let t0 = Instant::now();
        loop {
            let out = k
                .secret_tool(&["lookup", "xdg:schema", "none"])
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stderr).trim().is_empty() {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "gnome-keyring did not come up: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        k
    }

    fn secret_tool(&self, args: &[&str]) -> Command {
        let mut c = Command::new("secret-tool");
        c.args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .envs(self.env.iter().map(|(k, v)| (*k, v)));
        c
    }
}

/// Run the app until `done` says so (or `secs` pass), signing in on its connect page with
/// `sign_in` (server, user, password) typed on the keyboard; returns the report lines.
async fn run_app(
    envs: &[(&str, String)],
    sign_in: Option<(&str, &str, &str)>,
    report: &Path,
    secs: u64,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let _ = std::fs::remove_file(report);
    let mut cmd = gui_app::command("1024x700x24");
    cmd.env("EYRIE_TEST_REPORT", report)
        .env("GSK_RENDERER", "cairo")
        .env("RUST_LOG", "info")
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut app = gui_app::App::spawn(&mut cmd);
    let deadline = Instant::now() + Duration::from_secs(secs);
    if let Some((server, user, password)) = sign_in {
        tokio::task::block_in_place(|| gui_app::sign_in(report, server, user, password));
    }
    let ev = loop {
        let ev = events(report);
        if done(&ev) || Instant::now() > deadline {
            break ev;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    app.stop();
    ev
}

fn named<'a>(ev: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    ev.iter().find(|e| e["event"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_token_lives_in_the_keyring_and_restores_the_session() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = eyrie_cloud::config::Config::embedded(dir.path().join("cloud"));
    config.password = eyrie_cloud::crypto::PasswordParams {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };
    let cloud = eyrie_cloud::startup::Application::build(config)
        .await
        .expect("cloud");
    let base = cloud.api_url();
    tokio::spawn(cloud.run_until_stopped());
    let api = ApiClient::new(base.clone());
    api.register("dana", "correct horse battery")
        .await
        .expect("register");
    let login = api
        .login("dana", "correct horse battery")
        .await
        .expect("login");
    api.with_token(login.token)
        .create_device("Hall")
        .await
        .expect("device");

    let keyring = Keyring::start(&dir.path().join("desktop"));
    let session = dir.path().join("session.json");
    let report = dir.path().join("report.jsonl");
    let mut envs: Vec<(&str, String)> = keyring
        .env
        .iter()
        .map(|(k, v)| (*k, v.display().to_string()))
        .collect();
    envs.push(("DBUS_SESSION_BUS_ADDRESS", keyring.bus.clone()));
    envs.push(("EYRIE_SESSION_FILE", session.display().to_string()));

    // 1. Sign in through the connect page.
    let dana = Some((base.as_str(), "dana", "correct horse battery"));
    let ev = run_app(&envs, dana, &report, 40, |ev| {
        named(ev, "session-kept").is_some() && named(ev, "cameras").is_some()
    })
    .await;
    let kept = named(&ev, "session-kept").unwrap_or_else(|| panic!("no session kept: {ev:?}"));
    assert_eq!(kept["data"]["in"], "keyring", "{ev:?}");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&session).expect("session file")).unwrap();
    assert_eq!(file["server"], base.as_str());
    assert_eq!(file["email"], "dana");
    assert!(
        file.get("token").is_none(),
        "the token is not in the file: {file}"
    );
    let out = keyring
        .secret_tool(&[
            "lookup",
            "xdg:schema",
            "io.github.eyrie.Eyrie.Session",
            "email",
            "dana",
        ])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success() && !token.is_empty(),
        "the keyring holds it"
    );
    let me = api
        .with_token(token)
        .me()
        .await
        .expect("the kept token works");
    assert_eq!(me.username, "dana");

    // 2. Started again: signed in from the keyring, the camera listed.
    let ev = run_app(&envs, None, &report, 40, |ev| {
        named(ev, "cameras").is_some()
    })
    .await;
    let cameras = named(&ev, "cameras").unwrap_or_else(|| panic!("not restored: {ev:?}"));
    assert_eq!(cameras["data"][0]["name"], "Hall", "{cameras}");

    // 3. No Secret Service reachable: the token goes to the file, readable by us only.
    let fallback = dir.path().join("fallback.json");
    let mut third: Vec<(&str, String)> = envs
        .iter()
        .filter(|(k, _)| *k != "DBUS_SESSION_BUS_ADDRESS" && *k != "EYRIE_SESSION_FILE")
        .cloned()
        .collect();
    third.push((
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", dir.path().join("no-bus").display()),
    ));
    third.push(("EYRIE_SESSION_FILE", fallback.display().to_string()));
    let ev = run_app(&third, dana, &report, 40, |ev| {
        named(ev, "session-kept").is_some()
    })
    .await;
    let kept = named(&ev, "session-kept").unwrap_or_else(|| panic!("no session kept: {ev:?}"));
    assert_eq!(kept["data"]["in"], "file", "{ev:?}");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&fallback).expect("fallback file")).unwrap();
    assert!(file["token"].as_str().is_some_and(|t| !t.is_empty()));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&fallback).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}
