//! Harness for the cloud-storage end-to-end tests: the real cloud (embedded store, SQLite)
//! on random loopback ports, a device activated on it, the test-pattern capture, and
//! helpers to list, download, decrypt and ffprobe what arrived.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use eyrie_camera::capture::{Capture, CaptureConfig, Source};
use eyrie_camera::storage::cloud::{CloudClient, TlsOptions, http_client};
use eyrie_camera::storage::{CloudStorage, StorageConfig};
use eyrie_cloud::{Application, Config};
use eyrie_protocol::api::{DeviceCredentials, StoreMode};
use eyrie_protocol::segment::{SegmentKey, decrypt_to_vec};
use serde_json::{Value, json};

/// Tests that run a capture pipeline hold this so they run one at a time.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn heavy() -> tokio::sync::MutexGuard<'static, ()> {
    HEAVY.lock().await
}

pub struct Cloud {
    pub base: String,
    pub http: reqwest::Client,
    pub user_token: String,
    pub creds: DeviceCredentials,
    pub stop: eyrie_cloud::startup::StopHandle,
    pub config: Config,
    pub dir: tempfile::TempDir,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn cloud_config(dir: &Path) -> Config {
    let mut c = Config::embedded(dir);
    c.password = eyrie_cloud::crypto::PasswordParams {
        m_cost_kib: 256,
        t_cost: 1,
        p_cost: 1,
    };
    c.tick = Duration::from_millis(200);
    c
}

pub async fn start_app(config: Config) -> (String, eyrie_cloud::startup::StopHandle) {
    let app = Application::build(config).await.expect("build cloud");
    let base = app.api_url();
    let stop = app.stop_handle();
    tokio::spawn(app.run_until_stopped());
    (base, stop)
}

async fn call(
    http: &reqwest::Client,
    m: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = http.request(m, url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("request");
    let s = r.status().as_u16();
    let t = r.text().await.unwrap_or_default();
    (s, serde_json::from_str(&t).unwrap_or(Value::Null))
}

impl Cloud {
    /// A cloud on fixed free ports (so it can be restarted on the same ones), a user and
    /// an activated device with the given store mode.
    pub async fn start(mode: StoreMode) -> Cloud {
        let dir = tempfile::tempdir().unwrap();
        let mut config = cloud_config(dir.path());
        let port = |_: ()| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
        };
        config.listen = port(());
        config.store = eyrie_cloud::StoreConfig::Embedded { listen: port(()) };
        let (base, stop) = start_app(config.clone()).await;
        let http = reqwest::Client::new();
        let p = |path: &str| format!("{base}/api/v1{path}");
        let (s, _) = call(
            &http,
            reqwest::Method::POST,
            p("/accounts"),
            None,
            Some(json!({"username":"alice","password":"correct horse"})),
        )
        .await;
        assert_eq!(s, 201);
        let (_, v) = call(
            &http,
            reqwest::Method::POST,
            p("/login"),
            None,
            Some(json!({"username":"alice","password":"correct horse"})),
        )
        .await;
        let user_token = v["token"].as_str().expect("token").to_owned();
        let (s, v) = call(
            &http,
            reqwest::Method::POST,
            p("/devices"),
            Some(&user_token),
            Some(json!({"name":"Porch"})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let code = v["activation_code"].as_str().unwrap().to_owned();
        let (s, v) = call(
            &http,
            reqwest::Method::POST,
            p("/activate"),
            None,
            Some(json!({"activation_code": code})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let creds: DeviceCredentials = serde_json::from_value(v).expect("credentials");
        let cloud = Cloud {
            base,
            http,
            user_token,
            creds,
            stop,
            config,
            dir,
        };
        cloud.set_mode(mode).await;
        cloud
    }

    pub async fn set_mode(&self, mode: StoreMode) {
        let url = format!(
            "{}/api/v1/devices/{}/store-mode",
            self.base, self.creds.device_id
        );
        let (s, v) = call(
            &self.http,
            reqwest::Method::PUT,
            url,
            Some(&self.user_token),
            Some(json!({"store_mode": mode})),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }

    pub fn client(&self) -> CloudClient {
        let http = http_client(&TlsOptions::default()).unwrap();
        CloudClient::new(
            http,
            &self.base,
            &self.creds.device_token,
            self.creds.device_id,
        )
        .unwrap()
    }

    pub fn key(&self) -> SegmentKey {
        SegmentKey::from_base64url(&self.creds.recording_key.key).unwrap()
    }

    /// Complete recordings of the main channel in the last hour, sorted by start.
    pub async fn recordings(&self) -> Vec<Value> {
        let now = now_ms();
        let url = format!(
            "{}/api/v1/channels/{}/recordings?start_ms={}&end_ms={}",
            self.base,
            self.creds.channels.main,
            now - 3_600_000,
            now + 60_000
        );
        let (s, v) = call(
            &self.http,
            reqwest::Method::GET,
            url,
            Some(&self.user_token),
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");
        v["recordings"].as_array().cloned().unwrap_or_default()
    }

    pub async fn download(&self, rec: &Value) -> Vec<u8> {
        let url = rec["download"]["url"].as_str().expect("download url");
        let r = self.http.get(url).send().await.unwrap();
        assert!(r.status().is_success());
        r.bytes().await.unwrap().to_vec()
    }

    /// Wait until at least `n` recordings are listed.
    pub async fn wait_recordings(&self, n: usize, within: Duration) -> Vec<Value> {
        let t0 = std::time::Instant::now();
        loop {
            let v = self.recordings().await;
            if v.len() >= n || t0.elapsed() > within {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

pub fn capture(keyframe_secs: f64) -> Capture {
    Capture::start(&CaptureConfig {
        source: Source::Test,
        fps: 30,
        keyframe_interval: Duration::from_secs_f64(keyframe_secs),
        ..CaptureConfig::default()
    })
    .expect("capture")
}

pub fn storage_config(
    cloud: &Cloud,
    spool: &Path,
    mode: StoreMode,
    segment: Duration,
) -> StorageConfig {
    let mut c = StorageConfig::from_credentials(&cloud.creds, spool.to_path_buf()).unwrap();
    c.segment_length = segment;
    c.initial_mode = mode;
    c.mode_poll = Duration::from_millis(500);
    c.motion = None;
    c.snapshot_on_event = false;
    c.upload.retry_initial = Duration::from_millis(200);
    c.upload.retry_max = Duration::from_secs(2);
    c
}

pub fn start_storage(cloud: &Cloud, cap: &Capture, config: StorageConfig) -> CloudStorage {
    CloudStorage::init(config, cap.rings(), cloud.client()).expect("storage init")
}

/// What ffprobe says of a decrypted segment.
#[derive(Debug)]
pub struct Probe {
    pub video: bool,
    pub audio: bool,
    pub start: f64,
    pub duration: f64,
    pub first_key: bool,
    pub frames: usize,
}

pub fn probe(ts: &[u8]) -> Probe {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seg.ts");
    std::fs::write(&path, ts).unwrap();
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let kind = |k: &str| streams.iter().any(|s| s["codec_type"] == k);
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=key_frame,pts_time,duration_time",
            "-of",
            "json",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe frames");
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    let frames = f["frames"].as_array().cloned().unwrap_or_default();
    let pts = |fr: &Value| {
        fr["pts_time"]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    let start = frames.first().map(pts).unwrap_or(f64::NAN);
    let last = frames.last().map(pts).unwrap_or(f64::NAN);
    Probe {
        video: kind("video"),
        audio: kind("audio"),
        start,
        // Video duration: last frame start + one frame.
        duration: last - start + 1.0 / 30.0,
        first_key: frames.first().is_some_and(|fr| fr["key_frame"] == 1),
        frames: frames.len(),
    }
}

pub fn decrypt(cloud: &Cloud, data: &[u8]) -> Vec<u8> {
    decrypt_to_vec(data, &cloud.key(), None).expect("segment decrypts")
}
