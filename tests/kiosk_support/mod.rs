//! A house for the kiosk to live in, made of real processes that a test can restart:
//! mosquitto (the MQTT broker), `eyrie cloud` (its own API, SQLite and S3 store, using
//! that broker), N × `eyrie camera --source test`, and `eyrie --kiosk` under Xvfb, signed
//! in through a saved session and configured through a GSettings key file. Shared by
//! `tests/kiosk_soak.rs` and `benches/kiosk.rs`.
//!
//! ```text
//!  mosquitto :M ◄──MQTT── eyrie camera × N ──WebRTC──► eyrie --kiosk (Xvfb)
//!       ▲                     │ activation                 │ tickets, devices
//!       └──── eyrie cloud :A ◄┘◄───────────────────────────┘
//! ```

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eyrie_client::api::ApiClient;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_port(port: u16, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A child process stopped (SIGTERM, then SIGKILL) when dropped or restarted.
pub struct Proc {
    child: Option<Child>,
}

impl Proc {
    pub fn new(child: Child) -> Self {
        Self { child: Some(child) }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGKILL: a crash or a power cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

pub struct House {
    pub exe: PathBuf,
    pub dir: tempfile::TempDir,
    pub rt: tokio::runtime::Runtime,
    pub broker_port: u16,
    pub api_port: u16,
    pub s3_port: u16,
    pub broker: Proc,
    pub cloud: Proc,
    pub cameras: Vec<(String, Proc)>,
    pub camera_fps: u32,
    pub token: String,
}

impl House {
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Broker, cloud, an account and `cameras` activated test-pattern cameras.
    pub fn start(exe: &Path, cameras: usize, camera_fps: u32) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio");
        let (broker_port, api_port, s3_port) = (free_port(), free_port(), free_port());
        let mut house = Self {
            exe: exe.to_owned(),
            rt,
            broker_port,
            api_port,
            s3_port,
            broker: Proc { child: None },
            cloud: Proc { child: None },
            cameras: Vec::new(),
            camera_fps,
            token: String::new(),
            dir,
        };
        house.start_broker();
        house.start_cloud();
        let api = ApiClient::new(house.api_url());
        let token = house.rt.block_on(async {
            api.register("kiosk", "a wall full of cameras")
                .await
                .expect("register");
            api.login("kiosk", "a wall full of cameras")
                .await
                .expect("login")
                .token
        });
        house.token = token.clone();
        let user = api.with_token(token);
        let viewer = {
            let _rt = house.rt.enter();
            house
                .rt
                .block_on(eyrie_testkit::e2e::TestViewer::new(&user))
                .expect("viewer installation")
        };
        for i in 0..cameras {
            let created = house
                .rt
                .block_on(user.create_device(&format!("Camera {}", i + 1)))
                .expect("create device");
            let id = created.device.id.to_string();
            let code = {
                let _rt = house.rt.enter();
                viewer.pairing_code_for(created.device.id, &created.activation_code)
            };
            let proc = house.spawn_camera(i, Some(&code));
            house.cameras.push((id, proc));
        }
        house
    }

    pub fn start_broker(&mut self) {
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n",
                self.broker_port
            ),
        )
        .expect("mosquitto.conf");
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (apt install mosquitto)");
        self.broker = Proc::new(child);
        assert!(wait_port(self.broker_port, 10), "mosquitto did not listen");
    }

    pub fn restart_broker(&mut self) {
        self.broker.stop(Duration::from_secs(3));
        std::thread::sleep(Duration::from_secs(1));
        self.start_broker();
    }

    pub fn start_cloud(&mut self) {
        let child = Command::new(&self.exe)
            .arg("cloud")
            .args(["--listen", &format!("127.0.0.1:{}", self.api_port)])
            .args(["--s3-listen", &format!("127.0.0.1:{}", self.s3_port)])
            .args(["--mqtt-host", "127.0.0.1"])
            .args(["--mqtt-port", &self.broker_port.to_string()])
            .arg("--data-dir")
            .arg(self.dir.path().join("cloud"))
            .env("RUST_LOG", log_level())
            .stdout(Stdio::null())
            .stderr(log_file("cloud"))
            .spawn()
            .expect("eyrie cloud");
        self.cloud = Proc::new(child);
        assert!(wait_port(self.api_port, 30), "the cloud did not listen");
    }

    pub fn restart_cloud(&mut self) {
        self.cloud.stop(Duration::from_secs(5));
        std::thread::sleep(Duration::from_secs(1));
        self.start_cloud();
    }

    fn spawn_camera(&self, index: usize, code: Option<&str>) -> Proc {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("camera")
            .args(["--cloud", &self.api_url()])
            .args(["--source", "test", "--speaker", "none"])
            .args(["--fps", &self.camera_fps.to_string()])
            // A moving test pattern is all motion: no motion events (they would bring
            // cameras to the front); tests post their own events.
            .args(["--motion-sensitivity", "0"])
            .arg("--state-dir")
            .arg(self.dir.path().join(format!("camera-{index}")))
            .env("RUST_LOG", log_level())
            .stdout(Stdio::null())
            .stderr(log_file(&format!("camera-{index}")));
        if let Some(code) = code {
            cmd.args(["--activation-code", code]);
        }
        Proc::new(cmd.spawn().expect("eyrie camera"))
    }

    /// Kill camera `index` (a power cut), wait `down`, start it again.
    pub fn restart_camera(&mut self, index: usize, down: Duration) {
        self.cameras[index].1.kill();
        std::thread::sleep(down);
        let proc = self.spawn_camera(index, None);
        self.cameras[index].1 = proc;
    }

    pub fn camera_ids(&self) -> Vec<String> {
        self.cameras.iter().map(|(id, _)| id.clone()).collect()
    }

    /// Start `eyrie --kiosk` signed in, with these GSettings values (GVariant text).
    pub fn start_kiosk(&self, screen: &Screen, settings: &[(&str, String)], report: &Path) -> Proc {
        self.start_kiosk_with_env(screen, settings, report, &[])
    }

    /// A kiosk's `$XDG_CONFIG_HOME`: the saved session of this house's account and these
    /// GSettings values (GVariant text) in the key file `GSETTINGS_BACKEND=keyfile` reads.
    pub fn write_kiosk_config(&self, config: &Path, settings: &[(&str, String)]) {
        std::fs::create_dir_all(config.join("eyrie")).expect("config dir");
        std::fs::create_dir_all(config.join("glib-2.0/settings")).expect("settings dir");
        let session = serde_json::json!({
            "server": self.api_url(),
            "email": "kiosk",
            "token": self.token,
        });
        std::fs::write(config.join("eyrie/session.json"), session.to_string()).expect("session");
        let mut keyfile = String::from("[io/github/eyrie/Eyrie]\n");
        for (k, v) in settings {
            keyfile.push_str(&format!("{k}={v}\n"));
        }
        std::fs::write(config.join("glib-2.0/settings/keyfile"), keyfile).expect("keyfile");
    }

    /// [`Self::start_kiosk`] with extra environment (test hooks).
    pub fn start_kiosk_with_env(
        &self,
        screen: &Screen,
        settings: &[(&str, String)],
        report: &Path,
        env: &[(&str, &str)],
    ) -> Proc {
        let config = self.dir.path().join("kiosk-config");
        self.write_kiosk_config(&config, settings);
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--kiosk")
            .env("DISPLAY", &screen.display)
            .env("EYRIE_TEST_REPORT", report)
            .env("GSK_RENDERER", "cairo")
            .env("GSETTINGS_BACKEND", "keyfile")
            .env("XDG_CONFIG_HOME", &config)
            .env("XDG_DATA_HOME", self.dir.path().join("kiosk-data"))
            .env("RUST_LOG", log_level())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(log_file("kiosk"));
        Proc::new(cmd.spawn().expect("eyrie --kiosk"))
    }
}

/// `EYRIE_HOUSE_LOGS=<dir>`: the cloud's, the cameras' and the kiosk's logs (at `info`)
/// are appended to `<dir>/<name>.log`, to see why a run went wrong; else they are dropped
/// (at `warn`).
pub fn log_file(name: &str) -> Stdio {
    let Some(dir) = std::env::var_os("EYRIE_HOUSE_LOGS") else {
        return Stdio::null();
    };
    std::fs::create_dir_all(&dir).expect("log dir");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(Path::new(&dir).join(format!("{name}.log")))
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

pub fn log_level() -> &'static str {
    if std::env::var_os("EYRIE_HOUSE_LOGS").is_some() {
        "info"
    } else {
        "warn"
    }
}

/// A private 1280×720 X server (Xvfb), so that the kiosk covers a known screen whatever
/// display the test itself runs under, and `xdotool`/`import` can reach it.
pub struct Screen {
    pub display: String,
    _xvfb: Proc,
}

impl Screen {
    pub fn start() -> Self {
        use std::io::Read;
        let mut child = Command::new("Xvfb")
            .args([
                "-screen",
                "0",
                "1280x720x24",
                "-nolisten",
                "tcp",
                "-displayfd",
                "1",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt install xvfb)");
        let mut out = child.stdout.take().expect("Xvfb stdout");
        let mut number = String::new();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != b'\n' {
            number.push(byte[0] as char);
        }
        let number = number.trim().to_owned();
        assert!(!number.is_empty(), "Xvfb gave no display number");
        Self {
            display: format!(":{number}"),
            _xvfb: Proc::new(child),
        }
    }

    /// Click at (x, y) of the screen.
    pub fn click(&self, x: u32, y: u32) {
        let status = Command::new("xdotool")
            .env("DISPLAY", &self.display)
            .args(["mousemove", &x.to_string(), &y.to_string(), "click", "1"])
            .status()
            .expect("xdotool (apt install xdotool)");
        assert!(status.success(), "xdotool click failed");
    }

    /// Press the pointer's button at (x, y), hold it for `hold`, let go.
    pub fn press(&self, x: u32, y: u32, hold: std::time::Duration) {
        let status = Command::new("xdotool")
            .env("DISPLAY", &self.display)
            .args([
                "mousemove",
                &x.to_string(),
                &y.to_string(),
                "mousedown",
                "1",
            ])
            .args([
                "sleep",
                &format!("{:.2}", hold.as_secs_f64()),
                "mouseup",
                "1",
            ])
            .status()
            .expect("xdotool (apt install xdotool)");
        assert!(status.success(), "xdotool press failed");
    }

    /// Type on the keyboard: `keys` are xdotool key names (`ctrl+comma`, `Return`), `text`
    /// is typed as characters.
    #[allow(dead_code)]
    pub fn keys(&self, keys: &[&str], text: Option<&str>) {
        let mut cmd = Command::new("xdotool");
        cmd.env("DISPLAY", &self.display);
        match text {
            Some(t) => cmd.args(["type", "--delay", "40", t]),
            None => cmd.arg("key").args(keys),
        };
        let status = cmd.status().expect("xdotool (apt install xdotool)");
        assert!(status.success(), "xdotool failed");
    }

    /// Save the whole screen as a PNG.
    pub fn screenshot(&self, path: &Path) {
        let status = Command::new("import")
            .env("DISPLAY", &self.display)
            .args(["-window", "root"])
            .arg(path)
            .status()
            .expect("import (apt install imagemagick)");
        assert!(status.success(), "import failed");
    }
}

/// The app's reports so far.
pub fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Whether every camera showed a live frame (its pixel clock under 2 s old, the stale
/// threshold, when it reached the screen) captured at or after `since_unix_ms`.
pub fn all_live_since(ev: &[serde_json::Value], cameras: &[String], since_unix_ms: u64) -> bool {
    cameras
        .iter()
        .all(|c| live_since(ev, c, since_unix_ms).is_some())
}

/// Capture time of the first live frame of `camera` captured at or after `since_unix_ms`.
pub fn live_since(ev: &[serde_json::Value], camera: &str, since_unix_ms: u64) -> Option<u64> {
    ev.iter()
        .filter(|e| e["event"] == "kiosk-frame" && e["data"]["camera"] == camera)
        .filter(|e| {
            e["data"]["age_ms"]
                .as_i64()
                .is_some_and(|a| (-500..2000).contains(&a))
        })
        .filter_map(|e| e["data"]["clock_ms"].as_u64())
        .find(|&c| c >= since_unix_ms)
}

pub fn now_ms() -> u64 {
    eyrie_client::pixel_clock::now_unix_ms()
}

/// Wait until `cond` holds on the reports, or `secs` pass; the time it took.
pub fn wait_for(
    report: &Path,
    secs: u64,
    cond: impl Fn(&[serde_json::Value]) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if cond(&events(report)) {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// The kiosk process's pid (it reports it; under xvfb-run it is not our child).
pub fn kiosk_pid(ev: &[serde_json::Value]) -> Option<u32> {
    ev.iter()
        .find(|e| e["event"] == "kiosk-shown")
        .and_then(|e| e["data"]["pid"].as_u64())
        .map(|p| p as u32)
}

/// Resident memory of `pid`, MiB.
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// CPU time (user + system) of `pid` so far, seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ: 100 on Linux.
    Some((utime + stime) / 100.0)
}
