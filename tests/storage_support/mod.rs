//! Harness for the cloud-storage end-to-end tests: the real cloud (embedded store, SQLite)
//! on random loopback ports, a device activated on it, the test-pattern capture, and
//! helpers to list, download, decrypt and ffprobe what arrived.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use eyrie_camera::capture::{Capture, CaptureConfig, Source};
use eyrie_camera::storage::link::{DeviceClient, TlsOptions, http_client};
use eyrie_camera::storage::{CloudStorage, StorageConfig};
use eyrie_cloud::{Application, Config};
use eyrie_protocol::api::{DeviceCredentials, RecordingPolicy};
use eyrie_protocol::segment::{SegmentKey, decrypt_to_vec};
use serde_json::{Value, json};

/// Tests that run a capture pipeline hold this so they run one at a time.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn heavy() -> tokio::sync::MutexGuard<'static, ()> {
    HEAVY.lock().await
}

/// The object store as cameras and the cloud see it: a TCP relay in front of the embedded
/// store, so the test can take the store away (every connection cut, nothing listening)
/// and bring it back on the same address — unlike stopping the store itself, which would
/// leave keep-alive connections served.
pub struct StoreGate {
    pub listen: std::net::SocketAddr,
    target: std::net::SocketAddr,
    relay: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl StoreGate {
    pub async fn new(target: std::net::SocketAddr) -> StoreGate {
        let listen = free_port();
        let gate = StoreGate {
            listen,
            target,
            relay: std::sync::Mutex::new(None),
        };
        gate.up().await;
        gate
    }

    /// Serve again (on the same address).
    pub async fn up(&self) {
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(self.listen).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot re-bind the store address: {e}"),
            }
        };
        let target = self.target;
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                conns.spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                while conns.try_join_next().is_some() {}
            }
        });
        *self.relay.lock().unwrap() = Some(task);
    }

    /// Take the store away: stop listening and cut every open connection.
    pub async fn down(&self) {
        let task = self.relay.lock().unwrap().take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
    }
}

pub fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub struct Cloud {
    pub store: StoreGate,
    /// How to reach the store directly with S3 (through the gate), e.g. for rclone.
    pub s3: eyrie_cloud::S3Settings,
    pub base: String,
    pub http: reqwest::Client,
    pub user_token: String,
    pub creds: DeviceCredentials,
    pub stop: eyrie_cloud::startup::StopHandle,
    pub config: Config,
    pub dir: tempfile::TempDir,
    /// The camera's keys: the pairing check passed against [`Cloud::viewer`].
    pub keys: eyrie_camera::keys::CameraKeys,
    /// The account's first viewer installation (None: the device has a legacy key).
    pub viewer: Option<eyrie_testkit::e2e::TestViewer>,
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
    pub async fn start(mode: RecordingPolicy) -> Cloud {
        let dir = tempfile::tempdir().unwrap();
        let mut config = cloud_config(dir.path());
        config.listen = free_port();
        // The embedded store runs for the whole test; everybody reaches it through the gate.
        let (_never, never_rx) = tokio::sync::watch::channel(false);
        std::mem::forget(_never);
        let (store_addr, mut settings) =
            eyrie_cloud::store::embedded::start(dir.path(), free_port(), None, never_rx)
                .await
                .expect("object store");
        let store = StoreGate::new(store_addr).await;
        settings.endpoint = format!("http://{}", store.listen).parse().unwrap();
        config.store = eyrie_cloud::StoreConfig::External(settings.clone());
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
        let (keys, viewer) = pair_camera(&base, &user_token, &creds, &code, dir.path()).await;
        let cloud = Cloud {
            store,
            s3: settings,
            base,
            http,
            user_token,
            creds,
            stop,
            config,
            dir,
            keys,
            viewer,
        };
        cloud.set_mode(mode).await;
        cloud
    }

    pub async fn set_mode(&self, mode: RecordingPolicy) {
        self.set_mode_of(self.creds.device_id, mode).await;
    }

    /// Another device of the same user, not yet activated: (device id, activation code).
    pub async fn new_device(&self, name: &str) -> (uuid::Uuid, String) {
        let (s, v) = call(
            &self.http,
            reqwest::Method::POST,
            format!("{}/api/v1/devices", self.base),
            Some(&self.user_token),
            Some(json!({ "name": name })),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let id = v["device"]["id"].as_str().unwrap().parse().unwrap();
        let code = v["activation_code"].as_str().unwrap().to_owned();
        // The camera is given the 12-character code; this account's installation answers
        // its pairing check.
        let code = match &self.viewer {
            Some(viewer) => viewer.pairing_code_for(id, &code),
            None => code,
        };
        (id, code)
    }

    /// Open a sealed segment or snapshot of `device` as the owner's viewer installation
    /// does: the key its header names, unwrapped with the installation's key.
    pub async fn decrypt_as_viewer(
        &self,
        device: uuid::Uuid,
        sealed: &[u8],
    ) -> Result<Vec<u8>, String> {
        let header =
            eyrie_protocol::segment::SegmentHeader::parse(sealed).map_err(|e| e.to_string())?;
        let id = header.key_id.to_hex();
        let key = match &self.viewer {
            Some(v) => {
                let list = v
                    .api
                    .recording_keys(device)
                    .await
                    .map_err(|e| e.to_string())?;
                let k = list
                    .keys
                    .into_iter()
                    .find(|k| k.key_id == id)
                    .and_then(|k| k.key);
                SegmentKey::from_base64url(
                    &k.ok_or(format!("no key {id} this installation can open"))?,
                )
                .map_err(|e| e.to_string())?
            }
            None => self.key(),
        };
        decrypt_to_vec(sealed, &key, Some(header.key_id)).map_err(|e| e.to_string())
    }

    pub async fn set_mode_of(&self, device: uuid::Uuid, mode: RecordingPolicy) {
        let url = format!("{}/api/v1/devices/{}/store-mode", self.base, device);
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

    pub fn client(&self) -> DeviceClient {
        let http = http_client(&TlsOptions::default()).unwrap();
        DeviceClient::new(
            http,
            &self.base,
            &self.creds.device_token,
            self.creds.device_id,
        )
        .unwrap()
    }

    /// The camera's current key id.
    pub fn key_id(&self) -> eyrie_protocol::segment::KeyId {
        self.keys.cell().current().key_id
    }

    /// The camera's current key (content key, or legacy key).
    pub fn key(&self) -> SegmentKey {
        self.keys.cell().current().key
    }

    /// Complete recordings of the main channel in the last hour, sorted by start.
    pub async fn recordings(&self) -> Vec<Value> {
        self.recordings_of(self.creds.channels.main).await
    }

    /// Complete recordings of `channel` in the last hour, sorted by start.
    pub async fn recordings_of(&self, channel: uuid::Uuid) -> Vec<Value> {
        self.listing_of(channel, "recordings").await
    }

    /// The channel listing `what` (`recordings`, `snapshots`) of `channel` for the last
    /// hour, as the API returns it under the key of the same name.
    pub async fn listing_of(&self, channel: uuid::Uuid, what: &str) -> Vec<Value> {
        let now = now_ms();
        let url = format!(
            "{}/api/v1/channels/{}/{what}?start_ms={}&end_ms={}",
            self.base,
            channel,
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
        v[what].as_array().cloned().unwrap_or_default()
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
    capture_at(keyframe_secs, 30)
}

/// The test pattern at `fps` (a lower rate leaves CPU to the rest of the test).
pub fn capture_at(keyframe_secs: f64, fps: u32) -> Capture {
    Capture::start(&CaptureConfig {
        source: Source::Test,
        fps,
        keyframe_interval: Duration::from_secs_f64(keyframe_secs),
        ..CaptureConfig::default()
    })
    .expect("capture")
}

/// The camera's keys for `creds`: its legacy key, or the pairing check run here with the
/// account's first viewer installation answering (the camera's state goes under `dir`).
pub async fn pair_camera(
    base: &str,
    user_token: &str,
    creds: &DeviceCredentials,
    claim: &str,
    dir: &Path,
) -> (
    eyrie_camera::keys::CameraKeys,
    Option<eyrie_testkit::e2e::TestViewer>,
) {
    use eyrie_testkit::e2e::TestViewer;
    let state = dir.join("camera-keys");
    let device_api = eyrie_client::api::ApiClient::new(base).with_token(&creds.device_token);
    if creds.recording_key.is_some() {
        let keys = eyrie_camera::keys::CameraKeys::establish(creds, &device_api, &state, |_| {})
            .await
            .expect("legacy key");
        return (keys, None);
    }
    let user_api = eyrie_client::api::ApiClient::new(base).with_token(user_token);
    let viewer = TestViewer::new(&user_api)
        .await
        .expect("viewer installation");
    let code = TestViewer::code(claim);
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join(eyrie_camera::setup::PAIRING_CODE_FILE), &code).unwrap();
    let answer = viewer.pair_in_background(creds.device_id, &code);
    let keys = eyrie_camera::keys::CameraKeys::establish(creds, &device_api, &state, |_| {})
        .await
        .expect("pairing check");
    answer
        .await
        .unwrap()
        .expect("the viewer's side of the check");
    (keys, Some(viewer))
}

pub fn storage_config(
    cloud: &Cloud,
    spool: &Path,
    mode: RecordingPolicy,
    segment: Duration,
) -> StorageConfig {
    let mut c = StorageConfig::from_credentials(
        &cloud.creds,
        spool.to_path_buf(),
        cloud.keys.cell().clone(),
    )
    .unwrap();
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
    /// Mean frame duration.
    pub frame: f64,
    /// Longest keyframe interval seen (seconds).
    pub max_gop: f64,
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
    // Longest time from one keyframe to the next (or to the end of the segment).
    let mut max_gop: f64 = 0.0;
    let mut last_key = start;
    for fr in frames.iter().skip(1) {
        if fr["key_frame"] == 1 {
            max_gop = max_gop.max(pts(fr) - last_key);
            last_key = pts(fr);
        }
    }
    let frame = if frames.len() > 1 {
        (last - start) / (frames.len() - 1) as f64
    } else {
        1.0 / 30.0
    };
    Probe {
        video: kind("video"),
        audio: kind("audio"),
        start,
        // Video duration: last frame start + one frame.
        duration: last - start + frame,
        frame,
        max_gop: max_gop.max(last - last_key + frame),
        first_key: frames.first().is_some_and(|fr| fr["key_frame"] == 1),
        frames: frames.len(),
    }
}

pub fn decrypt(cloud: &Cloud, data: &[u8]) -> Vec<u8> {
    decrypt_to_vec(data, &cloud.key(), None).expect("segment decrypts")
}

/// Decode the newest keyframe of the main ring and return the share of pixels
/// whose luma lies in `lo..=hi`.
pub fn newest_picture_luma_share(cap: &Capture, lo: u8, hi: u8) -> f64 {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    let mut reader = cap
        .rings()
        .main
        .reader(eyrie_camera::ring::StartAt::NewestKeyframe);
    let frame = reader
        .next_blocking(Duration::from_secs(5))
        .expect("a keyframe in the ring");
    let pipeline = gst::parse::launch(
        "appsrc name=src caps=video/x-h264,stream-format=byte-stream,alignment=au ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 ! appsink name=sink sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let src = pipeline
        .by_name("src")
        .unwrap()
        .downcast::<gstreamer_app::AppSrc>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gstreamer_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    src.push_buffer(gst::Buffer::from_slice(frame.data.clone()))
        .unwrap();
    let _ = src.end_of_stream();
    let sample = sink
        .try_pull_sample(gst::ClockTime::from_seconds(10))
        .expect("decoded picture");
    let map = sample.buffer().unwrap().map_readable().unwrap();
    // The Y plane of 1280×720 I420 (stride = width) is the first 1280 × 720 bytes.
    let luma = &map[..(1280 * 720).min(map.len())];
    let inside = luma.iter().filter(|&&y| (lo..=hi).contains(&y)).count();
    let share = inside as f64 / luma.len().max(1) as f64;
    drop(map);
    pipeline.set_state(gst::State::Null).unwrap();
    share
}
