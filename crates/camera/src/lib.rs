//! Eyrie camera mode: capture, encode once, keep the last seconds in [`ring::RingBuffer`]s,
//! serve live sessions over WebRTC ([`live`]) negotiated over MQTT, and (the storage
//! module) record to the cloud.
//!
//! [`node::CameraNode`] is a whole camera — capture, live sessions, storage, the owner's
//! commands, one ordered stop — and every front end runs that: [`run`] (`eyrie camera`,
//! which adds the control socket, [`control`], and runs until Ctrl-C or SIGTERM), the
//! app's camera mode and `eyrie demo`. `eyrie camera <command>` sends one command to the
//! camera already running with that state dir. [`Camera::start`] is the live half alone
//! (the live tests and bench).

pub mod camera;
pub mod capture;
pub mod control;
pub mod homeassistant;
pub mod keys;
pub mod live;
pub mod node;
pub mod ring;
pub mod setup;
pub mod storage;

pub use camera::{Camera, CameraConfig, CameraEvent, CameraHandle};
pub use node::{CameraNode, NodeConfig};

use std::path::PathBuf;
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
    /// The 12-character code from the app (user-first set-up): the cloud's 8-character
    /// activation code and the 4-character check; without it the camera pairs.
    #[arg(long)]
    pub activation_code: Option<String>,
    /// Picture source: auto (a PipeWire camera, else the V4L2 webcam, else the test
    /// pattern), test, v4l2, v4l2:/dev/videoN, pipewire (the default PipeWire camera) or
    /// pipewire:<node name or serial> (`eyrie camera --list-sources` shows them). A camera
    /// that goes away is waited for; capture resumes when it is back.
    #[arg(long, default_value = "auto")]
    pub source: capture::Source,
    /// Print the picture sources there are now, one `--source` value a line, and exit.
    #[arg(long)]
    pub list_sources: bool,
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
    /// Start in privacy mode (privacy card, live view refused, nothing recorded until
    /// `privacy off`).
    #[arg(long)]
    pub privacy: bool,
    #[command(flatten)]
    pub storage: storage::cli::StorageArgs,
    #[command(flatten)]
    pub homeassistant: homeassistant::cli::HomeAssistantArgs,
    /// A command to the camera already running with this state dir (instead of running one).
    #[command(subcommand)]
    pub command: Option<control::ControlCommand>,
}

impl CameraArgs {
    /// The node these options describe.
    fn node_config(&self, state_dir: PathBuf) -> NodeConfig {
        let mut config = NodeConfig::new(state_dir);
        config.capture = capture::CaptureConfig {
            source: self.source.clone(),
            fps: self.fps,
            keyframe_interval: Duration::from_secs_f64(self.keyframe_interval.clamp(0.5, 10.0)),
            ring_duration: Duration::from_secs_f64(self.ring_secs.clamp(1.0, 120.0)),
            ..Default::default()
        };
        config.max_sessions = self.max_sessions;
        config.heartbeat_timeout = Duration::from_secs(self.heartbeat_timeout);
        config.speaker = match self.speaker.as_str() {
            "none" => live::Speaker::None,
            _ => live::Speaker::Auto,
        };
        config.storage = self.storage.clone();
        config.storage_required = true;
        config.privacy = self.privacy;
        config.control_socket = true;
        config
    }
}

/// Run camera mode until it is stopped.
pub async fn run(args: CameraArgs) -> anyhow::Result<()> {
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(setup::default_state_dir);
    if let Some(cmd) = args.command.clone() {
        let answer = control::send(&state_dir, &node::Command::try_from(cmd)?).await?;
        if !answer.is_empty() {
            println!("{answer}");
        }
        return Ok(());
    }
    if args.list_sources {
        gstreamer::init()?;
        for line in capture::list_sources() {
            println!("{line}");
        }
        return Ok(());
    }
    // Checked before enrolment: a bad Home Assistant option stops nothing half started.
    let homeassistant = args.homeassistant.settings(&state_dir)?;
    let enrolled = node::Enrolment {
        cloud: args.cloud.clone(),
        state_dir: state_dir.clone(),
        activation_code: args.activation_code.clone(),
        ca_file: args.storage.ca_file.clone(),
    }
    .enrol(|code| {
        println!("Pairing code: {code} — enter it in the Eyrie app (Add a camera).");
    })
    .await?;
    let mut config = args.node_config(state_dir);
    config.homeassistant = homeassistant;
    let camera = CameraNode::start(config, enrolled)?;
    let mut events = camera.events();

    println!("camera {} running", camera.device_id());
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
    camera.stop().await;
    Ok(())
}
