//! Eyrie camera mode: capture, encode once, keep the last seconds in [`ring::RingBuffer`]s,
//! serve live sessions over WebRTC ([`live`]) negotiated over MQTT, and (the storage
//! module) record to the cloud.
//!
//! [`Camera::start`] runs it all as a library (the app's camera mode, `eyrie demo`, the
//! tests); [`run`] is `eyrie camera`: it adds set-up with the cloud ([`setup`]), cloud
//! storage ([`storage::CloudStorage`]) and the local control socket
//! ([`storage::control`]), and runs until Ctrl-C or SIGTERM. `eyrie camera <command>`
//! sends one command to the camera already running with that state dir.

pub mod camera;
pub mod capture;
pub mod live;
pub mod ring;
pub mod setup;
pub mod storage;

pub use camera::{Camera, CameraConfig, CameraEvent, CameraHandle};

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

/// `eyrie camera` options.
#[derive(Debug, Args)]
pub struct CameraArgs {
    /// The cloud: its link as `eyrie cloud` prints it and the app shows it
    /// (`https://host:8470#ca=sha256:…`, the pin makes the camera trust the cloud's own CA),
    /// or a plain `http://` URL on loopback.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    pub cloud: String,
    /// Where the device credentials are kept (default: $XDG_CONFIG_HOME/eyrie/camera).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Activation code from the app (user-first set-up); without it the camera pairs.
    #[arg(long)]
    pub activation_code: Option<String>,
    /// Picture source: test, v4l2, v4l2:/dev/videoN or pipewire (no webcam → test pattern).
    #[arg(long, default_value = "v4l2")]
    pub source: capture::Source,
    /// Most viewers at once; more get "busy".
    #[arg(long, default_value_t = 5)]
    pub max_sessions: usize,
    /// Seconds between keyframes.
    #[arg(long, default_value_t = 2.0)]
    pub keyframe_interval: f64,
    /// Frames per second.
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// Where talk audio plays: auto (default sound card) or none.
    #[arg(long, default_value = "auto")]
    pub speaker: String,
    /// Seconds without a viewer heartbeat before a session is closed.
    #[arg(long, default_value_t = eyrie_protocol::signalling::HEARTBEAT_TIMEOUT_SECS)]
    pub heartbeat_timeout: u64,
    /// Seconds of media the ring buffer keeps (the longest possible pre-record).
    #[arg(long, default_value_t = 10.0)]
    pub ring_secs: f64,
    #[command(flatten)]
    pub storage: storage::cli::StorageArgs,
    /// A command to the camera already running with this state dir (instead of running one).
    #[command(subcommand)]
    pub command: Option<storage::control::ControlCommand>,
}

/// Run camera mode until it is stopped.
pub async fn run(args: CameraArgs) -> anyhow::Result<()> {
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(setup::default_state_dir);
    if let Some(cmd) = &args.command {
        let answer = storage::control::send(&state_dir, cmd).await?;
        if !answer.is_empty() {
            println!("{answer}");
        }
        return Ok(());
    }
    // Trust before anything is sent: the plain rule, then the CA the link pins.
    let link: eyrie_protocol::trust::CloudLink = args.cloud.parse()?;
    link.check()?;
    let mut tls = args.storage.tls();
    tls.ca_pem = setup::cloud_ca(&link, &state_dir).await?;
    let http = storage::cloud::http_client(&tls)?;
    let creds = setup::credentials_with(
        &http,
        &link,
        &state_dir,
        args.activation_code.as_deref(),
        |code| {
            println!("Pairing code: {code} — enter it in the Eyrie app (Add a camera).");
        },
    )
    .await?;
    eyrie_protocol::trust::check_mqtt(&creds.mqtt.host, creds.mqtt.tls)?;
    let speaker = match args.speaker.as_str() {
        "none" => live::Speaker::None,
        _ if !std::path::Path::new("/dev/snd").exists() => {
            tracing::warn!("no sound card: talk audio is decoded but not played");
            live::Speaker::None
        }
        _ => live::Speaker::Auto,
    };
    let mut live =
        live::LiveConfig::new(creds.device_id.to_string(), creds.secret_bytes().to_vec());
    live.max_sessions = args.max_sessions;
    live.speaker = speaker;
    live.heartbeat_timeout = Duration::from_secs(args.heartbeat_timeout);
    // The CA the cloud and the store are checked with also checks an `mqtts` broker (a
    // self-hosted cloud has one CA for all three).
    live.mqtt_ca = tls.ca_pem_or_file()?;
    let config = CameraConfig {
        capture: capture::CaptureConfig {
            source: args.source,
            fps: args.fps,
            keyframe_interval: Duration::from_secs_f64(args.keyframe_interval.clamp(0.5, 10.0)),
            ring_duration: Duration::from_secs_f64(args.ring_secs.clamp(1.0, 120.0)),
            ..Default::default()
        },
        live,
        mqtt: creds.mqtt.clone(),
    };
    let camera = Camera::start(config)?;
    let mut events = camera.events();

    // Cloud storage and the control socket.
    // Privacy mode: the capture shows the notice card, live sessions end with
    // `error privacy` and new offers are refused while it is on, recording pauses.
    let privacy = camera.privacy();
    privacy.set(args.storage.privacy);
    let live = camera.live().clone();
    let client =
        storage::cloud::CloudClient::new(http, link.base(), &creds.device_token, creds.device_id)?;
    let mut scfg = args.storage.apply(
        storage::StorageConfig::from_credentials(&creds, state_dir.join("spool"))?,
        &state_dir,
    )?;
    scfg.fps = args.fps.max(1);
    let cloud_storage = Arc::new(storage::CloudStorage::init(scfg, camera.rings(), client)?);
    let socket = storage::control::socket_path(&state_dir);
    let control = storage::control::serve(
        &socket,
        Arc::new(storage::control::ControlTarget {
            storage: cloud_storage.clone(),
            privacy: Box::new(move |on| {
                privacy.set(on);
                live.set_privacy(on);
            }),
        }),
    )?;

    println!("camera {} running", creds.device_id);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            e = events.recv() => match e {
                Ok(CameraEvent::Live(live::LiveEvent::TalkLevel { .. })) => {}
                Ok(e) => tracing::info!(event = ?e, "camera"),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    }
    control.abort();
    let _ = std::fs::remove_file(&socket);
    // The control task held the other reference; it is gone once aborted.
    let _ = control.await;
    match Arc::try_unwrap(cloud_storage) {
        Ok(s) => s.uninit().await,
        Err(_) => {
            tracing::warn!("cloud storage still in use at exit; its segment in progress is lost");
        }
    }
    camera.stop().await;
    Ok(())
}
