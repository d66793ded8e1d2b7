//! The live half of a camera: capture + rings + live sessions + signalling link, started
//! with one call. [`crate::node::CameraNode`] adds cloud storage and the owner's commands
//! on top; the live tests and the live bench run this half alone.
//!
//! ```text
//!  Capture ──► Rings ──► LiveManager ──(answers, candidates)──► out channel ─┐
//!                            ▲                                             ▼
//!  MQTT link ── <prefix>/in/+ ── decode (size, version, fields) ──┘   <prefix>/out/<viewer>
//!            ── <prefix>/status: "online" (retained), last will "offline"
//! ```

use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use eyrie_protocol::api::MqttConnection;
use eyrie_protocol::signalling::topics;
use eyrie_rtc::mqtt_link::{self, LinkEvent, LinkOptions};

use crate::capture::{Capture, CaptureConfig, CaptureError, Rings};
use crate::live::{LiveConfig, LiveEvent, LiveManager};

/// Everything a camera needs to run.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    pub capture: CaptureConfig,
    pub live: LiveConfig,
    pub mqtt: MqttConnection,
}

/// Status of the camera for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum CameraEvent {
    /// The signalling link is up (true) or retrying (false).
    Signalling(bool),
    Live(LiveEvent),
}

/// Why the camera could not start.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Link(#[from] mqtt_link::LinkError),
}

/// A running camera. Dropping it (or [`CameraHandle::stop`]) ends every session, says
/// `offline` and stops capture.
pub struct CameraHandle {
    capture: Capture,
    live: LiveManager,
    link_task: tokio::task::JoinHandle<()>,
    events: broadcast::Sender<CameraEvent>,
    link: std::sync::Arc<mqtt_link::Link>,
    status_topic: String,
}

/// Entry point.
pub struct Camera;

impl Camera {
    /// Start capture, the live side and the signalling link. Needs a tokio runtime.
    pub fn start(config: CameraConfig) -> Result<CameraHandle, CameraError> {
        let capture = Capture::start(&config.capture)?;
        let (events, _) = broadcast::channel(256);
        let (live_events, _) = broadcast::channel(256);
        let (out_tx, mut out_rx) = mpsc::unbounded_channel();
        let live = LiveManager::new(
            config.live.clone(),
            capture.rings().clone(),
            live_events.clone(),
            out_tx,
        );
        // The live side follows the capture's privacy switch whoever flips it (the
        // control socket, camera mode's switch, the demo), so a privacy-on camera
        // never keeps or accepts a live session.
        let switch = capture.privacy();
        live.follow_privacy(move || switch.is_on());

        let prefix = config.mqtt.topic_prefix.clone();
        let status_topic = topics::status(&prefix);
        let (link, mut link_rx) = mqtt_link::start(
            &config.mqtt,
            LinkOptions {
                subscriptions: vec![topics::device_inbox_filter(&prefix)],
                will: Some((status_topic.clone(), "offline".into())),
                on_connect: vec![(status_topic.clone(), "online".into())],
                keep_alive: Some(Duration::from_secs(10)),
                tls_ca: config.live.mqtt_ca.clone(),
                clear_retained: Some(format!("{prefix}/in/")),
            },
        )?;
        let link = std::sync::Arc::new(link);

        // Forward live events.
        let ev = events.clone();
        let mut live_rx = live_events.subscribe();
        tokio::spawn(async move {
            loop {
                match live_rx.recv().await {
                    Ok(e) => {
                        let _ = ev.send(CameraEvent::Live(e));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });

        let ev = events.clone();
        let mgr = live.clone();
        let link2 = link.clone();
        let link_task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    e = link_rx.recv() => match e {
                        None => break,
                        Some(LinkEvent::Connected) => {
                            tracing::info!("signalling connected");
                            let _ = ev.send(CameraEvent::Signalling(true));
                        }
                        Some(LinkEvent::Disconnected(why)) => {
                            tracing::warn!("signalling disconnected: {why}");
                            let _ = ev.send(CameraEvent::Signalling(false));
                        }
                        Some(LinkEvent::Message { topic, payload }) => {
                            let Some(viewer) = topics::sender(&prefix, &topic) else {
                                tracing::debug!(%topic, "message on an unexpected topic dropped");
                                continue;
                            };
                            mgr.receive(viewer, &payload);
                        }
                    },
                    o = out_rx.recv() => {
                        let Some(o) = o else { break };
                        let topic = topics::to_viewer(&prefix, &o.viewer);
                        let (kind, session) = (o.msg.kind(), o.msg.session_id());
                        tracing::debug!(%topic, kind, session, "signalling out");
                        let payload = match o.payload() {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::warn!(kind, session, "cannot seal: {e}");
                                continue;
                            }
                        };
                        if let Err(e) = link2.publish(&topic, payload).await {
                            tracing::warn!("cannot publish {kind}: {e}");
                        }
                    }
                }
            }
        });
        Ok(CameraHandle {
            capture,
            live,
            link_task,
            events,
            link,
            status_topic,
        })
    }
}

impl CameraHandle {
    /// Status events (signalling up/down, live events).
    pub fn events(&self) -> broadcast::Receiver<CameraEvent> {
        self.events.subscribe()
    }

    /// The encoded-stream rings (the recorder reads them).
    pub fn rings(&self) -> &Rings {
        self.capture.rings()
    }

    /// Privacy mode at the source: live viewers see a notice instead of the picture.
    pub fn privacy(&self) -> crate::capture::PrivacySwitch {
        self.capture.privacy()
    }

    /// The live session table.
    pub fn live(&self) -> &LiveManager {
        &self.live
    }

    /// End every live session and publish `offline`; capture keeps running (the
    /// recorder may still be finishing a segment from the rings) until the handle is
    /// dropped.
    pub async fn end_live(&self) {
        self.live.close_all("camera stopping");
        // Give the byes a moment to leave.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = self
            .link
            .client
            .publish(
                self.status_topic.clone(),
                rumqttc::QoS::AtLeastOnce,
                true,
                "offline",
            )
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    /// End sessions, publish `offline`, stop capture.
    pub async fn stop(self) {
        self.end_live().await;
    }
}

impl Drop for CameraHandle {
    fn drop(&mut self) {
        self.live.close_all("camera stopping");
        self.link_task.abort();
    }
}
