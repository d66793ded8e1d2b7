//! The timeline tests' own cloud: the real cloud (embedded store, SQLite) on random
//! loopback ports with a user and an activated device, the test-pattern capture, and the
//! camera's cloud storage recording into it. (A trimmed copy of the storage tests'
//! harness as it stood when these tests were written, so that its changes for the
//! storage tests' fault injection do not move under the timeline tests.)
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use eyrie_camera::capture::{Capture, CaptureConfig, Source};
use eyrie_camera::storage::cloud::{CloudClient, TlsOptions, http_client};
use eyrie_camera::storage::{CloudStorage, StorageConfig};
use eyrie_cloud::{Application, Config};
use eyrie_protocol::api::{DeviceCredentials, StoreMode};
use eyrie_protocol::segment::SegmentKey;
use serde_json::{Value, json};

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
