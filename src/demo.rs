//! `eyrie demo`: cloud, camera and viewer in one process.
//!
//! Starts the embedded cloud (SQLite, in-process S3 store, embedded MQTT broker, all on
//! random loopback ports) and a camera (webcam, or a test pattern without one) on the
//! shared runtime, in a temporary data directory; creates a demo account, pairs the camera
//! to it the way a person would (the camera asks for a pairing code, the account claims
//! it), and opens the viewer signed in on that camera. The session is kept in memory only,
//! so a real saved session is never touched. Everything stops, and the directory is
//! deleted, when the app shuts down.
//!
//! ```text
//!  eyrie_cloud::Application ◄─REST── demo account (register, login, claim)
//!        ▲  MQTT                         │
//!        └── eyrie_camera::CameraNode ◄──┘ pairing code → credentials
//!                  ▲ WebRTC
//!                  └──────── viewer window (EyrieLiveView)
//! ```

use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;

use eyrie_camera::node::{Enrolled, Enrolment};
use eyrie_camera::{CameraNode, NodeConfig};
use eyrie_protocol::api::RecordingPolicy;

use crate::gui::cloud::Cloud;
use crate::gui::session::Session;
use crate::runtime::RUNTIME;

/// What the demo started, kept until shutdown.
struct Running {
    camera: Option<eyrie_camera::CameraNode>,
    cloud_stop: eyrie_cloud::startup::StopHandle,
    camera_id: String,
    /// How to start the camera again (tests of offline/recovery).
    camera_config: NodeConfig,
    enrolled: Enrolled,
    _dir: tempfile::TempDir,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// Start the demo services (on the shared runtime) and return a signed-in session.
pub async fn start() -> anyhow::Result<Session> {
    RUNTIME
        .spawn(start_inner())
        .await
        .context("the demo task failed")?
}

async fn start_inner() -> anyhow::Result<Session> {
    if let Some(r) = RUNNING
        .lock()
        .ok()
        .and_then(|g| g.as_ref().map(|r| r.camera_id.clone()))
    {
        anyhow::bail!("the demo is already running (camera {r})");
    }
    let dir = tempfile::Builder::new().prefix("eyrie-demo-").tempdir()?;
    let config = eyrie_cloud::Config::embedded(dir.path().join("cloud"));
    let app = eyrie_cloud::Application::build(config).await?;
    let api = app.api_url();
    let cloud_stop = app.stop_handle();
    tokio::spawn(async move {
        if let Err(e) = app.run_until_stopped().await {
            tracing::error!("demo cloud stopped: {e:#}");
        }
    });
    tracing::info!("demo cloud at {api}");

    // The account, created like the connect page does.
    let user = "demo";
    let password = format!("demo-{}", uuid::Uuid::new_v4());
    let cloud = Cloud::new(&api, None);
    cloud.register(user, &password).await?;
    let login = cloud.login(user, &password).await?;
    let account = Cloud::new(&api, Some(&login.token));

    // The camera pairs: it shows a code, the account claims it.
    let (code_tx, code_rx) = async_channel::bounded::<String>(1);
    let state_dir = dir.path().join("camera");
    let enrolment = Enrolment {
        cloud: api.clone(),
        state_dir: state_dir.clone(),
        activation_code: None,
        ca_file: None,
    };
    let enrolling = tokio::spawn(async move {
        enrolment
            .enrol(|code| {
                let _ = code_tx.try_send(code.to_owned());
            })
            .await
    });
    let code = tokio::time::timeout(Duration::from_secs(15), code_rx.recv())
        .await
        .context("the camera showed no pairing code")??;
    // The demo account's installation: its key set (the recovery key is not needed: the
    // demo's cloud goes with the app), and the answer to the camera's pairing check
    // (docs/keys.md §4) with the camera's 12 characters; the cloud sees the first eight.
    let keys = std::sync::Arc::new(eyrie_protocol::e2e::viewer::ViewerKeys::generate());
    let user_id = account.api().me().await?.id.to_string();
    let (set, _) =
        eyrie_client::api::keys::viewer_keyset(account.api(), &user_id, &keys, "Demo").await?;
    let (claim, _) = eyrie_protocol::e2e::pairing::split(&code)
        .context("the camera showed no 12-character code")?;
    let device = account.claim(&claim, "Demo Camera").await?;
    eyrie_client::api::keys::answer_pairing(
        account.api(),
        device.id,
        &code,
        &set,
        Duration::from_secs(30),
    )
    .await?;
    let enrolled = tokio::time::timeout(Duration::from_secs(30), enrolling)
        .await
        .context("the camera did not activate")???;
    // Every client of the demo's cloud opens its recordings with this installation's key.
    crate::gui::keys::set_current(&api, keys);
    crate::gui::keys::set_keyset(Some(set));
    let camera_id = enrolled.credentials.device_id.to_string();

    // Record continuously (what the timeline plays): a failure only costs the timeline.
    let owner = eyrie_client::api::ApiClient::new(&api).with_token(&login.token);
    if let Err(e) = owner
        .set_store_mode(enrolled.credentials.device_id, RecordingPolicy::Continuous)
        .await
    {
        tracing::warn!("demo: cannot turn recording on: {e}");
    }
    let source = std::env::var("EYRIE_DEMO_SOURCE").unwrap_or_else(|_| "auto".into());
    let mut camera_config = NodeConfig::new(state_dir);
    camera_config.capture.source = source.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    // Segments of `EYRIE_DEMO_SEGMENT_SECS` (default 30) seconds.
    camera_config.storage.segment_secs = std::env::var("EYRIE_DEMO_SEGMENT_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(30)
        .clamp(2, 600) as f64;
    camera_config.store_mode = Some(RecordingPolicy::Continuous);
    let camera = CameraNode::start(camera_config.clone(), enrolled.clone())?;
    watch_camera(&camera);
    if let Ok(mut g) = RUNNING.lock() {
        *g = Some(Running {
            camera: Some(camera),
            cloud_stop,
            camera_id: camera_id.clone(),
            camera_config,
            enrolled,
            _dir: dir,
        });
    }
    // Let the camera's first heartbeat mark it online before the viewer lists it.
    wait_online(&account, &camera_id).await;
    Ok(Session {
        server: api,
        email: user.to_owned(),
        token: login.token,
    })
}

async fn wait_online(account: &Cloud, id: &str) {
    for _ in 0..50 {
        if let Ok(devices) = account.devices().await
            && devices.iter().any(|d| d.id.to_string() == id && d.online)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Report what the camera hears and does (tests watch talk reaching the camera).
fn watch_camera(camera: &CameraNode) {
    let mut events = camera.events();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if crate::gui::test_hooks::enabled() {
                crate::gui::test_hooks::report(
                    "camera",
                    &serde_json::json!({ "event": format!("{event:?}") }),
                );
            }
        }
    });
}

/// Stop the demo camera (`run == false`) or start it again (tests of offline/recovery).
#[cfg_attr(not(feature = "test-hooks"), allow(dead_code))] // only `app.test-demo-camera`
pub async fn set_camera_running(run: bool) -> anyhow::Result<()> {
    let taken = RUNNING.lock().ok().and_then(|mut g| {
        g.as_mut()
            .map(|r| (r.camera.take(), r.camera_config.clone(), r.enrolled.clone()))
    });
    let Some((camera, config, enrolled)) = taken else {
        anyhow::bail!("the demo is not running")
    };
    if let Some(camera) = camera {
        camera.stop().await;
    }
    if run {
        let camera = CameraNode::start(config, enrolled)?;
        watch_camera(&camera);
        if let Ok(mut g) = RUNNING.lock()
            && let Some(r) = g.as_mut()
        {
            r.camera = Some(camera);
        }
    }
    Ok(())
}

/// The demo camera's id, once the demo runs.
pub fn camera_id() -> Option<String> {
    RUNNING
        .lock()
        .ok()
        .and_then(|g| g.as_ref().map(|r| r.camera_id.clone()))
}

/// Stop everything the demo started and delete its directory.
pub fn stop() {
    let Some(running) = RUNNING.lock().ok().and_then(|mut g| g.take()) else {
        return;
    };
    RUNTIME.block_on(async move {
        if let Some(camera) = running.camera {
            let _ = tokio::time::timeout(Duration::from_secs(6), camera.stop()).await;
        }
        running.cloud_stop.stop();
        tokio::time::sleep(Duration::from_millis(100)).await;
    });
    tracing::info!("demo stopped");
}

/// `eyrie demo`: start everything, then the viewer signed in on the demo camera.
pub fn run() -> anyhow::Result<()> {
    crate::gui::init()?;
    let started = std::time::Instant::now();
    let session = RUNTIME.block_on(start_inner())?;
    tracing::info!("demo ready in {:?}", started.elapsed());
    let result = crate::gui::run_with_session(session, camera_id());
    stop();
    result
}
