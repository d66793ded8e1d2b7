//! Eyrie camera mode: capture, encode once, keep the last seconds in [`ring::RingBuffer`]s,
//! serve live sessions over WebRTC ([`live`]) negotiated over MQTT, and (the storage
//! module) record to the cloud.
//!
//! [`Camera::start`] runs it all as a library (the app's camera mode, `eyrie demo`, the
//! tests); [`run`] is `eyrie camera`: it adds set-up with the cloud ([`setup`]) and
//! runs until Ctrl-C.

pub mod camera;
pub mod capture;
pub mod live;
pub mod ring;
pub mod setup;
pub mod storage;

pub use camera::{Camera, CameraConfig, CameraEvent, CameraHandle};

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// `eyrie camera` options.
#[derive(Debug, Args)]
pub struct CameraArgs {
    /// Cloud service to register with.
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
}

/// Run camera mode until it is stopped.
pub async fn run(args: CameraArgs) -> anyhow::Result<()> {
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(setup::default_state_dir);
    let creds = setup::credentials(
        &args.cloud,
        &state_dir,
        args.activation_code.as_deref(),
        |code| {
            println!("Pairing code: {code} — enter it in the Eyrie app (Add a camera).");
        },
    )
    .await?;
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
    let config = CameraConfig {
        capture: capture::CaptureConfig {
            source: args.source,
            fps: args.fps,
            keyframe_interval: Duration::from_secs_f64(args.keyframe_interval.clamp(0.5, 10.0)),
            ..Default::default()
        },
        live,
        mqtt: creds.mqtt.clone(),
    };
    let camera = Camera::start(config)?;
    let mut events = camera.events();
    println!("camera {} running", creds.device_id);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            e = events.recv() => match e {
                Ok(CameraEvent::Live(live::LiveEvent::TalkLevel { .. })) => {}
                Ok(e) => tracing::info!(event = ?e, "camera"),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    }
    camera.stop().await;
    Ok(())
}
