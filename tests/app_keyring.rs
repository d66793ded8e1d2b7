//! The app under Xvfb keeps its session in the desktop's Secret Service: a real
//! gnome-keyring-daemon on a private D-Bus session bus of this test (its own runtime and
//! data directories, an unlocked "login" keyring), the embedded cloud in this process.
//!
//! 1. The app signs in through its connect page → the token is in the keyring (found with
//!    `secret-tool`, and it works against the API) and `session.json` holds no token.
//! 2. The app started again restores the session from the keyring and lists the cameras.
//! 3. With no Secret Service reachable, the token goes to the 0600 file instead.
//! 4. A keyring that starts a few seconds after the app (D-Bus activation at login, a
//!    session that starts its daemons late) gets the token: kept in the file at first, it
//!    moves into the keyring when the service appears, and the file loses it.
//! 5. Each installation's end-to-end key (`docs/keys.md`) is a keyring item of its own,
//!    in no file, and survives signing out; the first installation shows the recovery
//!    key once; a second one is not allowed until the first confirms its number, a third
//!    one allows itself with the recovery key (a wrong one changes nothing).
//!
//! The private bus has no service activation: on a Debian desktop the session bus knows
//! `org.freedesktop.secrets` from `/usr/share/dbus-1/services`, so the first Secret Service
//! call (the readiness check's `secret-tool`) used to start a *second* gnome-keyring-daemon
//! while the test's own one was still starting. Whichever took the bus name first won;
//! when the activated one won (every time on a fresh machine, where the test's daemon is
//! slower because it creates the login keyring first), the app met a keyring whose "login"
//! collection was locked, its unlock prompt was dismissed (there is no prompter), and the
//! token went to the file. Without activation only the test's daemon can own the name,
//! and readiness is checked without calling the service (`NameHasOwner`, then the login
//! collection's `Locked` property).

mod gui_app;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_client::api::ApiClient;
use eyrie_testkit::cloud::PASSWORD;
use eyrie_testkit::{Backend, TestCloud};

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

/// A private session bus, and gnome-keyring's secret component on it once started.
struct Keyring {
    env: Vec<(&'static str, PathBuf)>,
    bus: String,
    _daemons: Vec<Child>,
}

impl Keyring {
    /// The bus alone: nothing owns `org.freedesktop.secrets` yet, and nothing will be
    /// activated for it.
    fn bus(dir: &Path) -> Keyring {
        for tool in [
            "dbus-daemon",
            "dbus-send",
            "gnome-keyring-daemon",
            "secret-tool",
        ] {
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
        // A session bus without <servicedir>s (and without the standard ones that
        // `--session` would add): no D-Bus activation.
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{bus}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#
            ),
        )
        .unwrap();
        let dbus = Child(
            Command::new("dbus-daemon")
                .args(["--nofork", "--nopidfile"])
                .arg(format!("--config-file={}", config.display()))
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
        Keyring {
            env,
            bus,
            _daemons: vec![dbus],
        }
    }

    /// The bus with an unlocked "login" keyring on it, ready.
    fn start(dir: &Path) -> Keyring {
        let mut k = Keyring::bus(dir);
        k.start_daemon();
        k
    }

    /// Start gnome-keyring-daemon and wait until its "login" collection is unlocked. A
    /// password on stdin creates and unlocks the "login" keyring (the default one).
    fn start_daemon(&mut self) {
        let mut keyring = Command::new("gnome-keyring-daemon");
        keyring
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut gk = keyring.spawn().expect("gnome-keyring-daemon");
        {
            use std::io::Write;
            let mut stdin = gk.stdin.take().unwrap();
            stdin.write_all(b"test-login-password").unwrap();
        }
        self._daemons.insert(0, Child(gk));
        let t0 = Instant::now();
        loop {
            let owned = self.dbus_send(&[
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ]);
            if owned.contains("boolean true") {
                let locked = self.dbus_send(&[
                    "--dest=org.freedesktop.secrets",
                    "/org/freedesktop/secrets/collection/login",
                    "org.freedesktop.DBus.Properties.Get",
                    "string:org.freedesktop.Secret.Collection",
                    "string:Locked",
                ]);
                if locked.contains("boolean false") {
                    return;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "gnome-keyring did not come up with an unlocked login keyring: {owned}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn dbus_send(&self, args: &[&str]) -> String {
        let out = Command::new("dbus-send")
            .arg(format!("--bus={}", self.bus))
            .args(["--print-reply", "--reply-timeout=2000"])
            .args(args)
            .output()
            .expect("dbus-send");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn secret_tool(&self, args: &[&str]) -> Command {
        let mut c = Command::new("secret-tool");
        c.args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .envs(self.env.iter().map(|(k, v)| (*k, v)));
        c
    }

    /// The installation key the keyring keeps for `email` (hex of the seed), if any.
    fn seed_of(&self, email: &str) -> Option<String> {
        let out = self
            .secret_tool(&[
                "lookup",
                "xdg:schema",
                "io.github.eyrie.Eyrie.Session",
                "email",
                email,
                "kind",
                "viewer-key",
            ])
            .output()
            .unwrap();
        let seed = String::from_utf8(out.stdout).unwrap();
        (out.status.success() && !seed.is_empty()).then_some(seed)
    }

    /// The app's environment on this desktop, its session file at `session`.
    fn app_env(&self, session: &Path) -> Vec<(&'static str, String)> {
        let mut envs: Vec<(&str, String)> = self
            .env
            .iter()
            .map(|(k, v)| (*k, v.display().to_string()))
            .collect();
        envs.push(("DBUS_SESSION_BUS_ADDRESS", self.bus.clone()));
        envs.push(("EYRIE_SESSION_FILE", session.display().to_string()));
        envs
    }

    /// The token the keyring keeps for `email`, if any.
    fn token_of(&self, email: &str) -> Option<String> {
        let out = self
            .secret_tool(&[
                "lookup",
                "xdg:schema",
                "io.github.eyrie.Eyrie.Session",
                "email",
                email,
                // Not the installation's key, which shares the schema and account.
                "kind",
                "session",
            ])
            .output()
            .unwrap();
        let token = String::from_utf8(out.stdout).unwrap();
        (out.status.success() && !token.is_empty()).then_some(token)
    }
}

/// The app under Xvfb; stopped when dropped.
fn start_app(envs: &[(&str, String)], report: &Path) -> gui_app::App {
    let _ = std::fs::remove_file(report);
    let mut cmd = gui_app::command("1024x700x24");
    cmd.env("EYRIE_TEST_REPORT", report)
        .env("GSK_RENDERER", "cairo")
        .env("RUST_LOG", "info")
        .envs(envs.iter().map(|(k, v)| (*k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    gui_app::App::spawn(&mut cmd)
}

/// The report's lines once `done` holds (or `secs` pass).
async fn wait_for(
    report: &Path,
    secs: u64,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let ev = events(report);
        if done(&ev) || Instant::now() > deadline {
            return ev;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The embedded cloud with the account "dana" (password [`PASSWORD`]) and one camera,
/// "Hall".
async fn cloud_with_dana() -> TestCloud {
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    cloud
        .account("dana")
        .await
        .create_device("Hall")
        .await
        .expect("device");
    cloud
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
    let mut app = start_app(envs, report);
    if let Some((server, user, password)) = sign_in {
        tokio::task::block_in_place(|| gui_app::sign_in(&app, report, server, user, password));
    }
    let ev = wait_for(report, secs, done).await;
    app.stop();
    ev
}

fn named<'a>(ev: &'a [serde_json::Value], name: &str) -> Option<&'a serde_json::Value> {
    ev.iter().find(|e| e["event"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn the_session_token_lives_in_the_keyring_and_restores_the_session() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cloud = cloud_with_dana().await;
    let base = cloud.base.clone();
    let api = ApiClient::new(base.clone());
    let keyring = Keyring::start(&dir.path().join("desktop"));
    let session = dir.path().join("session.json");
    let report = dir.path().join("report.jsonl");
    let envs = keyring.app_env(&session);

    // 1. Sign in through the connect page.
    let dana = Some((base.as_str(), "dana", PASSWORD));
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
    let token = keyring.token_of("dana").expect("the keyring holds it");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_keyring_that_starts_after_the_app_gets_the_token_from_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cloud = cloud_with_dana().await;
    let base = cloud.base.clone();
    let mut keyring = Keyring::bus(&dir.path().join("desktop"));
    let session = dir.path().join("session.json");
    let report = dir.path().join("report.jsonl");
    let envs = keyring.app_env(&session);
    let mut app = start_app(&envs, &report);
    tokio::task::block_in_place(|| {
        gui_app::sign_in(&app, &report, &base, "dana", PASSWORD);
    });

    // No Secret Service yet: signed in, the token kept in the file for now.
    let ev = wait_for(&report, 40, |ev| named(ev, "session-kept").is_some()).await;
    let kept = named(&ev, "session-kept").unwrap_or_else(|| panic!("no session kept: {ev:?}"));
    assert_eq!(kept["data"]["in"], "file", "{ev:?}");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&session).expect("session file")).unwrap();
    assert!(
        file["token"].as_str().is_some_and(|t| !t.is_empty()),
        "{file}"
    );

    // The keyring comes a few seconds later, while the app runs.
    tokio::time::sleep(Duration::from_secs(3)).await;
    keyring.start_daemon();
    let moved = |ev: &[serde_json::Value]| {
        ev.iter()
            .any(|e| e["event"] == "session-kept" && e["data"]["in"] == "keyring")
    };
    let ev = wait_for(&report, 30, moved).await;
    app.stop();
    assert!(moved(&ev), "the token stayed in the file: {ev:?}");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&session).expect("session file")).unwrap();
    assert!(
        file.get("token").is_none(),
        "the file lost the token: {file}"
    );
    assert_eq!(file["email"], "dana");
    let token = keyring.token_of("dana").expect("the keyring holds it");
    let me = ApiClient::new(base)
        .with_token(token)
        .me()
        .await
        .expect("the moved token works");
    assert_eq!(me.username, "dana");

    // Started again: the session comes back from the keyring.
    let envs = keyring.app_env(&session);
    let ev = run_app(&envs, None, &report, 40, |ev| {
        named(ev, "cameras").is_some()
    })
    .await;
    let cameras = named(&ev, "cameras").unwrap_or_else(|| panic!("not restored: {ev:?}"));
    assert_eq!(cameras["data"][0]["name"], "Hall", "{cameras}");
}

/// The report's lines once an event `name` satisfies `ok` (or `secs` pass); that event.
async fn wait_event(
    report: &Path,
    secs: u64,
    name: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let found = |ev: &[serde_json::Value]| {
        ev.iter()
            .find(|e| e["event"] == name && ok(&e["data"]))
            .cloned()
    };
    let ev = wait_for(report, secs, |ev| found(ev).is_some()).await;
    found(&ev).unwrap_or_else(|| panic!("no {name} in {}: {ev:#?}", report.display()))
}

/// Files under `dir` that contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(p),
                Ok(t)
                    if t.is_file()
                        && std::fs::read(&p).is_ok_and(|b| {
                            String::from_utf8_lossy(&b)
                                .to_lowercase()
                                .contains(&needle.to_lowercase())
                        }) =>
                {
                    hits.push(p);
                }
                _ => {}
            }
        }
    }
    hits
}

/// One installation: its own desktop (XDG dirs, keyring), session file and report.
struct Installation {
    keyring: Keyring,
    session: PathBuf,
    report: PathBuf,
}

impl Installation {
    fn new(dir: &Path) -> Self {
        Installation {
            keyring: Keyring::start(dir),
            session: dir.join("config/eyrie/session.json"),
            report: dir.join("report.jsonl"),
        }
    }

    /// Start the app and sign in as dana.
    fn start_signed_in(&self, base: &str) -> gui_app::App {
        let app = start_app(&self.keyring.app_env(&self.session), &self.report);
        tokio::task::block_in_place(|| {
            gui_app::sign_in(&app, &self.report, base, "dana", PASSWORD);
        });
        app
    }
}

fn shots_dir(dir: &Path) -> PathBuf {
    let d = std::env::var_os("EYRIE_SHOTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("shots"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn keys(x: &[(String, String)], keys: &[&str], text: Option<&str>) {
    tokio::task::block_in_place(|| gui_app::actions::keyboard(x, keys, text));
}

async fn member_ids(api: &ApiClient) -> Vec<String> {
    let statements = api.keyset(0).await.expect("key set").statements;
    let last = statements.last().expect("a key set");
    last.read_body()
        .expect("body")
        .keys
        .into_iter()
        .map(|k| k.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn each_installation_keeps_its_own_key_and_is_allowed_by_another_or_the_recovery_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shots = shots_dir(dir.path());
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    let dana = cloud.account("dana").await;
    dana.create_device("Hall").await.expect("device");
    let base = cloud.base.clone();

    // 1. The first installation: a new key, in the keyring and in no file; the account's
    //    key set is made and the recovery key shown once.
    let a = Installation::new(&dir.path().join("a"));
    let app_a = a.start_signed_in(&base);
    let recovery = wait_event(&a.report, 60, "recovery-key", |_| true).await;
    let recovery = recovery["data"]["key"].as_str().unwrap().to_owned();
    let key_a = wait_event(&a.report, 5, "viewer-key", |_| true).await;
    assert_eq!(key_a["data"]["in"], "keyring", "{key_a}");
    assert_eq!(key_a["data"]["new"], true, "{key_a}");
    let id_a = key_a["data"]["id"].as_str().unwrap().to_owned();
    let seed = a
        .keyring
        .seed_of("dana")
        .expect("the keyring holds the key");
    assert_eq!(seed.len(), 64, "hex of 32 bytes");
    let mut raw = [0u8; 32];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = u8::from_str_radix(&seed[2 * i..2 * i + 2], 16).unwrap();
    }
    assert_eq!(
        eyrie_protocol::e2e::viewer::ViewerKeys::from_seed(raw).id(),
        id_a
    );
    assert_eq!(
        files_containing(dir.path(), &seed),
        Vec::<PathBuf>::new(),
        "the seed is in no file"
    );
    let key_file = std::fs::read_to_string(a.session.with_file_name("viewer-keys.json"))
        .expect("the key file names the key");
    assert!(
        key_file.contains(&id_a) && !key_file.contains("seed"),
        "{key_file}"
    );
    assert_eq!(
        member_ids(&dana).await.len(),
        2,
        "this computer and the recovery key"
    );
    std::thread::sleep(Duration::from_secs(1));
    gui_app::screenshot(&app_a, &shots.join("1-recovery-key.png"));
    // It closes only once ticked: Escape first does nothing.
    let xa = app_a.x_server();
    keys(&xa, &["Escape"], None);
    std::thread::sleep(Duration::from_millis(500));
    assert!(named(&events(&a.report), "recovery-key-confirmed").is_none());
    keys(&xa, &["alt+w", "alt+d"], None);
    wait_event(&a.report, 10, "recovery-key-confirmed", |_| true).await;

    // 2. A second installation of the same account: not allowed, says so with its number.
    let b = Installation::new(&dir.path().join("b"));
    let app_b = b.start_signed_in(&base);
    let banner = wait_event(&b.report, 60, "keys-banner", |_| true).await;
    let number_b = banner["data"]["fingerprint"].as_str().unwrap().to_owned();
    let key_b = wait_event(&b.report, 5, "viewer-key", |_| true).await;
    let id_b = key_b["data"]["id"].as_str().unwrap().to_owned();
    assert_ne!(id_a, id_b);
    assert!(named(&events(&b.report), "recovery-key").is_none());
    std::thread::sleep(Duration::from_secs(1));
    gui_app::screenshot(&app_b, &shots.join("2-not-allowed.png"));

    // 3. The first one is asked, shows the same number, and allows it.
    let bus_a = tokio::task::block_in_place(|| app_a.bus(30));
    bus_a
        .win("check-installations", None, 10)
        .expect("win.check-installations");
    let asked = wait_event(&a.report, 20, "installation-request", |d| {
        d["id"] == id_b.as_str()
    })
    .await;
    assert_eq!(asked["data"]["fingerprint"], number_b.as_str(), "{asked}");
    std::thread::sleep(Duration::from_secs(1));
    gui_app::screenshot(&app_a, &shots.join("3-allow.png"));
    keys(&xa, &["alt+a"], None);
    wait_event(&a.report, 30, "installation-admitted", |d| {
        d["id"] == id_b.as_str()
    })
    .await;
    assert!(member_ids(&dana).await.contains(&id_b));
    // The second one notices on its next refresh; the banner goes.
    let bus_b = tokio::task::block_in_place(|| app_b.bus(30));
    bus_b.win("refresh", None, 10).expect("win.refresh");
    wait_event(&b.report, 20, "keyset", |d| d["member"] == true).await;
    drop(app_b);

    // 4. A third one allows itself with the recovery key; a wrong key changes nothing.
    let c = Installation::new(&dir.path().join("c"));
    let app_c = c.start_signed_in(&base);
    wait_event(&c.report, 60, "keys-banner", |_| true).await;
    let key_c = wait_event(&c.report, 5, "viewer-key", |_| true).await;
    let id_c = key_c["data"]["id"].as_str().unwrap().to_owned();
    let xc = app_c.x_server();
    let bus_c = tokio::task::block_in_place(|| app_c.bus(30));
    let before = dana.keyset(0).await.unwrap().statements.len();
    let wrong = eyrie_protocol::e2e::viewer::RecoveryKey::generate().to_text();
    bus_c.win("recover", None, 10).expect("win.recover");
    std::thread::sleep(Duration::from_secs(1));
    keys(&xc, &[], Some(&wrong));
    keys(&xc, &["Return"], None);
    wait_event(&c.report, 30, "recover-failed", |_| true).await;
    std::thread::sleep(Duration::from_secs(1));
    gui_app::screenshot(&app_c, &shots.join("4-wrong-recovery-key.png"));
    assert_eq!(dana.keyset(0).await.unwrap().statements.len(), before);
    keys(&xc, &["Return"], None);
    bus_c.win("recover", None, 10).expect("win.recover");
    std::thread::sleep(Duration::from_secs(1));
    keys(&xc, &[], Some(&recovery.to_lowercase()));
    keys(&xc, &["Return"], None);
    wait_event(&c.report, 30, "recovered", |_| true).await;
    assert!(member_ids(&dana).await.contains(&id_c));
    std::thread::sleep(Duration::from_secs(1));
    gui_app::screenshot(&app_c, &shots.join("5-recovered.png"));
    drop(app_c);

    // 5. Signing out and in again keeps the first installation's key (and its place).
    bus_a.win("sign-out", None, 10).expect("win.sign-out");
    assert!(
        a.keyring.seed_of("dana").is_some(),
        "the key outlives the session"
    );
    tokio::task::block_in_place(|| gui_app::sign_in(&app_a, &a.report, &base, "dana", PASSWORD));
    let again = wait_event(&a.report, 60, "viewer-key", |d| d["new"] == false).await;
    assert_eq!(again["data"]["id"], id_a.as_str());
    wait_event(&a.report, 20, "keyset", |d| {
        d["member"] == true && d["made"] == false
    })
    .await;
    let recoveries = events(&a.report)
        .iter()
        .filter(|e| e["event"] == "recovery-key")
        .count();
    assert_eq!(recoveries, 1, "the recovery key is shown once");
    // Its menu: this computer's number and the members (b and c removable).
    bus_a
        .win("installations", None, 10)
        .expect("win.installations");
    let listed = wait_event(&a.report, 10, "installations", |_| true).await;
    assert_eq!(
        listed["data"]["members"].as_array().map(Vec::len),
        Some(4),
        "{listed}"
    );
    std::thread::sleep(Duration::from_secs(1));
    gui_app::screenshot(&app_a, &shots.join("6-installations.png"));
    keys(&xa, &["Escape"], None);
    bus_a
        .win("remove-installation", Some(&format!("'{id_b}'")), 10)
        .expect("win.remove-installation");
    std::thread::sleep(Duration::from_secs(1));
    keys(&xa, &["alt+r"], None);
    wait_event(&a.report, 30, "installation-removed", |d| {
        d["id"] == id_b.as_str()
    })
    .await;
    assert!(!member_ids(&dana).await.contains(&id_b));
    drop(app_a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn a_camera_added_with_its_twelve_character_code_is_paired_and_a_wrong_check_is_refused() {
    use eyrie_camera::node::Enrolment;
    let dir = tempfile::tempdir().expect("temp dir");
    let shots = shots_dir(dir.path());
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    cloud.account("dana").await;
    let base = cloud.base.clone();
    let a = Installation::new(&dir.path().join("a"));
    let app = a.start_signed_in(&base);
    wait_event(&a.report, 60, "recovery-key", |_| true).await;
    let x = app.x_server();
    keys(&x, &["alt+w", "alt+d"], None);
    wait_event(&a.report, 10, "recovery-key-confirmed", |_| true).await;
    let bus = tokio::task::block_in_place(|| app.bus(30));

    // A camera shows its 12 characters (camera-first set-up).
    let camera = |name: &str| {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let enrolment = Enrolment {
            cloud: base.clone(),
            state_dir: dir.path().join(name),
            activation_code: None,
            ca_file: None,
        };
        let task = tokio::spawn(async move {
            enrolment
                .enrol(move |code| {
                    let _ = tx.send(code.to_owned());
                })
                .await
        });
        (task, rx)
    };
    let add = |code: &str| {
        bus.win("add-camera", None, 10).expect("win.add-camera");
        std::thread::sleep(Duration::from_secs(1));
        keys(&x, &["ctrl+a"], Some(code));
    };

    // 1. A mistyped check: claimed (the first eight match), refused by the camera.
    let (first, mut codes) = camera("cam1");
    let code = tokio::time::timeout(Duration::from_secs(30), codes.recv())
        .await
        .expect("the camera shows a code")
        .unwrap();
    assert_eq!(code.len(), 14, "{code}");
    // Not a code at all first: said inline.
    add("ABCD-EFGH-IJK0");
    wait_event(&a.report, 10, "add-camera-code", |d| d["error"].is_string()).await;
    std::thread::sleep(Duration::from_millis(500));
    gui_app::screenshot(&app, &shots.join("7-add-camera-wrong-code.png"));
    let last = code.chars().last().unwrap();
    let other = if last == 'A' { 'B' } else { 'A' };
    let mistyped = format!("{}{other}", &code[..13]);
    keys(&x, &["ctrl+a"], Some(&mistyped));
    wait_event(&a.report, 10, "add-camera-code", |d| d["valid"] == true).await;
    keys(&x, &["alt+a"], None);
    wait_event(&a.report, 10, "camera-pairing", |d| d["stage"] == "waiting").await;
    std::thread::sleep(Duration::from_millis(500));
    gui_app::screenshot(&app, &shots.join("8-add-camera-waiting.png"));
    let outcome = wait_for(&a.report, 150, |ev| {
        ev.iter()
            .any(|e| e["event"] == "camera-pairing" && e["data"]["outcome"].is_string())
    })
    .await;
    if first.is_finished() {
        panic!("the camera stopped: {:?}", first.await.map(|r| r.err()));
    }
    assert!(
        outcome
            .iter()
            .any(|e| e["event"] == "camera-pairing" && e["data"]["outcome"] == "refused"),
        "{outcome:#?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    gui_app::screenshot(&app, &shots.join("9-add-camera-refused.png"));
    keys(&x, &["Return"], None);

    // 2. Another camera, its code typed right: added and paired.
    let (second, mut codes) = camera("cam2");
    let code = tokio::time::timeout(Duration::from_secs(30), codes.recv())
        .await
        .expect("the camera shows a code")
        .unwrap();
    add(&code.to_lowercase());
    wait_event(&a.report, 10, "add-camera-code", |d| d["valid"] == true).await;
    keys(&x, &["alt+a"], None);
    let paired = wait_event(&a.report, 60, "camera-pairing", |d| {
        d["outcome"] == "verified"
    })
    .await;
    let enrolled = tokio::time::timeout(Duration::from_secs(30), second)
        .await
        .expect("the camera finished its set-up")
        .unwrap()
        .expect("enrolled");
    assert_eq!(
        paired["data"]["device"],
        enrolled.credentials.device_id.to_string().as_str()
    );
    assert_eq!(enrolled.keys.keyset_version(), Some(1));
    std::thread::sleep(Duration::from_millis(500));
    gui_app::screenshot(&app, &shots.join("10-add-camera-paired.png"));
    drop(app);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]

async fn recordings_made_before_this_computer_was_allowed_are_explained_in_plain_words() {
    use eyrie_protocol::segment::{DEFAULT_CHUNK_SIZE, KeyId, SegmentKey, encrypt_to_vec};
    let dir = tempfile::tempdir().expect("temp dir");
    let shots = shots_dir(dir.path());
    let cloud = TestCloud::spawn(Backend::Sqlite).await;
    // Another installation of dana's made the key set; the camera's content key is
    // wrapped to it (and the recovery key) only.
    let (_, token) = cloud.user("dana").await;
    let creds = cloud.device(&token, "Hall").await;
    let device = creds["device_id"].as_str().unwrap().to_owned();
    let key_id = KeyId::from_hex(creds["recording_key"]["key_id"].as_str().unwrap()).unwrap();
    let key = SegmentKey::from_base64url(creds["recording_key"]["key"].as_str().unwrap()).unwrap();
    let dev = creds["device_token"].as_str().unwrap();
    let ch = creds["channels"]["main"].as_str().unwrap();
    let start = eyrie_protocol::clock::unix_ms() - 120_000;
    for i in 0..3 {
        let (s, e) = (start + i * 6_000, start + (i + 1) * 6_000);
        let body = encrypt_to_vec(b"not a picture", &key, key_id, DEFAULT_CHUNK_SIZE).unwrap();
        let (status, slot) = cloud
            .post(
                &format!("/api/v1/channels/{ch}/recordings"),
                Some(dev),
                serde_json::json!({"start_ms": s, "end_ms": e, "key_id": key_id.to_hex(),
                       "size": body.len(), "sha256": eyrie_testkit::cloud::sha256(&body)}),
            )
            .await;
        assert_eq!(status, 201, "{slot}");
        assert!(
            cloud
                .put_upload(&slot["upload"], &body)
                .await
                .status()
                .is_success()
        );
        let id = slot["recording_id"].as_str().unwrap();
        let (status, v) = cloud
            .post(
                &format!("/api/v1/recordings/{id}/complete"),
                Some(dev),
                serde_json::json!({"size": body.len(), "sha256": eyrie_testkit::cloud::sha256(&body)}),
            )
            .await;
        assert!(status < 300, "{v}");
    }

    // A clip of those recordings, made by the cloud from the sealed segments.
    let owner = ApiClient::new(cloud.base.clone()).with_token(token.clone());
    let clip = owner
        .create_clip(
            ch.parse().unwrap(),
            &eyrie_protocol::api::CreateClipRequest {
                start_ms: start,
                end_ms: start + 18_000,
                name: None,
            },
        )
        .await
        .expect("clip");
    let deadline = Instant::now() + Duration::from_secs(30);
    while owner.clip(clip.id).await.expect("clip").status
        != eyrie_protocol::api::ClipStatus::Finished
    {
        assert!(Instant::now() < deadline, "the clip was not made");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // This computer signs in: not allowed yet; the timeline says why nothing plays.
    let a = Installation::new(&dir.path().join("a"));
    let app = a.start_signed_in(&cloud.base);
    wait_event(&a.report, 60, "keys-banner", |_| true).await;
    let bus = tokio::task::block_in_place(|| app.bus(30));
    bus.app(
        "open-timeline",
        Some(&format!("('{device}', int64 {})", start + 1_000)),
    )
    .expect("app.open-timeline");
    let locked = wait_event(&a.report, 60, "timeline-locked", |_| true).await;
    assert_eq!(locked["data"]["key_id"], key_id.to_hex().as_str());
    std::thread::sleep(Duration::from_millis(800));
    gui_app::screenshot(&app, &shots.join("11-timeline-locked.png"));
    // Its export says the same, not "failed".
    wait_event(&a.report, 20, "timeline-clips", |_| true).await;
    let out = dir.path().join("clip.mp4");
    bus.win(
        "export-clip-to",
        Some(&format!("('{}', '{}')", clip.id, out.display())),
        10,
    )
    .expect("win.export-clip-to");
    wait_event(&a.report, 30, "timeline-export-locked", |_| true).await;
    assert!(!out.exists());
    drop(app);
}
