//! Home Assistant: MQTT discovery for the camera on a broker the user names.
//!
//! Home Assistant finds MQTT devices by their *discovery documents*: retained JSON on
//! `homeassistant/<component>/<node id>/<object id>/config` ([`discovery`]). The camera
//! publishes six of them, grouped under one device whose configuration URL is its WHEP
//! URL (`docs/home-assistant.md` says how go2rtc or the WebRTC card play it): a camera fed
//! with JPEG snapshots, a motion binary sensor, an online (connectivity) sensor, a privacy
//! switch, a "record now" button and a live-viewer count. The bridge is one more front end
//! of the [`CameraNode`](crate::CameraNode): a privacy command from Home Assistant is the
//! node's [`Command::Privacy`](crate::node::Command), the very one `eyrie camera privacy
//! on` sends, and the button is its `RecordNow`; what it publishes it reads from the node
//! (its status, cloud storage's motion events, the main ring's newest keyframe).
//!
//! ```text
//!  user's broker ◄══ rumqttc (own connection; will: availability = offline) ══╗
//!    <prefix>/+/<node>/+/config  ◄── discovery::documents (on every connect and
//!                                    whenever <prefix>/status says online)
//!    <base>/state  ◄── NodeStatus (privacy, viewers; polled every second)
//!                  ◄── storage notices (motion started / ended)
//!    <base>/snapshot ◄── main ring newest keyframe ─► storage::snapshot::encode_jpeg
//!                        (every snapshot interval and at motion; never while private)
//!    <base>/privacy/set ──► NodeHandle::set_privacy ─► state republished
//!    <base>/record/set  ──► NodeHandle::execute(RecordNow)
//! ```
//!
//! The picture goes to the user's broker as it is: recordings stay end-to-end encrypted,
//! but these snapshots are for Home Assistant to show, so anybody who can read the
//! snapshot topic on that broker sees them. That is why this is off until the user names
//! a broker, and why nothing is published while privacy mode is on (the retained
//! picture is cleared when it turns on).
//!
//! The connection keeps itself up like the signalling link: a dropped one is retried
//! (200 ms doubling to 5 s), a refused login (CONNACK code 4 or 5) is reported as such
//! ([`BridgeState::Refused`]) and retried slowly (5 s doubling to a minute), and the
//! camera itself runs on regardless. Stopping publishes `offline` and disconnects;
//! dropping the bridge (or a crash) leaves the broker to publish the last will.

mod bridge;
pub mod broker;
pub mod cli;
mod connection;
pub mod discovery;

pub use broker::Broker;
pub use discovery::Identity;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use crate::capture::Rings;
use crate::node::NodeHandle;

/// What the user chose; the node adds who the camera is ([`Identity`]).
#[derive(Debug, Clone)]
pub struct HomeAssistantSettings {
    pub broker: Broker,
    /// CA certificates (PEM) an `mqtts` broker is checked with; `None`: the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// Plain MQTT to a host other than loopback was allowed (checked at start).
    pub allow_plain: bool,
    /// Home Assistant's discovery prefix.
    pub discovery_prefix: String,
    /// The device's name in Home Assistant.
    pub name: String,
    /// Time between two snapshots.
    pub snapshot_interval: Duration,
    /// Length of the event the "record now" button starts.
    pub record_now: Duration,
}

impl HomeAssistantSettings {
    /// Defaults for `broker`: discovery on `homeassistant`, a snapshot every 10 s, events
    /// of 30 s.
    pub fn new(broker: Broker) -> Self {
        Self {
            broker,
            ca_pem: None,
            allow_plain: false,
            discovery_prefix: "homeassistant".into(),
            name: "Eyrie camera".into(),
            snapshot_interval: Duration::from_secs(10),
            record_now: Duration::from_secs(30),
        }
    }
}

/// Why the bridge did not start. A broker that cannot be reached or refuses the login is
/// not an error here: the bridge keeps trying and says so in [`BridgeState`].
#[derive(Debug, thiserror::Error)]
pub enum HomeAssistantError {
    #[error("Home Assistant broker URL {0}")]
    BrokerUrl(String),
    #[error(
        "plain MQTT to {0} would send the broker password and the pictures in clear: use mqtts://, or allow it with --homeassistant-allow-plain"
    )]
    Plain(String),
    #[error("Home Assistant broker password file {}: {}", .0.display(), .1)]
    PasswordFile(PathBuf, String),
    #[error("Home Assistant broker CA file {}: {}", .0.display(), .1)]
    CaFile(PathBuf, String),
    #[error("no CA certificates to check the Home Assistant broker with: {0}")]
    NoTrustRoots(String),
    #[error("invalid Home Assistant setting: {0}")]
    Invalid(String),
}

/// How the bridge's connection is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeState {
    Connecting,
    /// Connected; discovery and state are published.
    Connected,
    /// The broker refused the login (CONNACK): the reason; retried slowly.
    Refused(String),
    /// The connection dropped or could not be made; retrying.
    Down(String),
    /// Stopped.
    Stopped,
}

/// A running bridge. [`HomeAssistant::stop`] publishes `offline` and disconnects;
/// dropping it cuts the connection, and the broker publishes the last will.
pub struct HomeAssistant {
    bridge: bridge::Running,
    state: watch::Receiver<BridgeState>,
    identity: Identity,
}

impl HomeAssistant {
    /// Start publishing for the node behind `handle`. Needs a tokio runtime.
    pub fn start(
        settings: HomeAssistantSettings,
        identity: Identity,
        handle: NodeHandle,
        rings: Rings,
    ) -> Result<Self, HomeAssistantError> {
        settings.broker.check_plain(settings.allow_plain)?;
        if identity.discovery_prefix.is_empty()
            || identity.discovery_prefix.contains(['+', '#', '\0'])
        {
            return Err(HomeAssistantError::Invalid(format!(
                "discovery prefix {:?}",
                identity.discovery_prefix
            )));
        }
        let (tx, state) = watch::channel(BridgeState::Connecting);
        let bridge = bridge::start(&settings, &identity, handle, rings, tx)?;
        tracing::info!(
            broker = %settings.broker.host,
            port = settings.broker.port,
            node = %identity.node_id(),
            "Home Assistant discovery on"
        );
        Ok(Self {
            bridge,
            state,
            identity,
        })
    }

    /// The connection's state, as it changes.
    pub fn state(&self) -> watch::Receiver<BridgeState> {
        self.state.clone()
    }

    /// Who the camera is in Home Assistant (topics, node id).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Publish `offline`, disconnect, stop.
    pub async fn stop(self) {
        self.bridge.stop().await;
    }
}
