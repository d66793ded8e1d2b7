//! The running bridge: one task polls the MQTT connection and reconnects
//! ([`super::connection`]); one task — the controller — owns everything the camera says
//! and does on it.
//!
//! ```text
//!  rumqttc EventLoop ─poll task─► Link::{Up, Down, Refused, Message} ─┐
//!  NodeHandle::status (1 s) ──────────────────────────────────────────┤
//!  storage notices (motion) ──────────────────────────────────────────┼─► controller ─► AsyncClient
//!  snapshot timer ─► spawn_blocking(encode_jpeg) ─► Job::Snapshot ───┤      (publish / subscribe)
//!  <prefix>/status online ─► random delay ─► Job::Republish ──────────┘
//! ```
//!
//! Publishing never waits for the broker: `try_publish` queues into rumqttc's request
//! channel, and whatever a dropped connection loses is published again on the next
//! connect (discovery, availability, state and a fresh snapshot all are).

use std::time::Duration;

use rumqttc::{AsyncClient, QoS};
use tokio::sync::{broadcast, mpsc, watch};

use super::connection::{self, Link};
use super::discovery::{self, Identity, State, Topics};
use super::{BridgeState, HomeAssistantError, HomeAssistantSettings};
use crate::capture::Rings;
use crate::node::{Command, NodeHandle};
use crate::ring::StartAt;
use crate::storage::recorder::{EventSource, Notice};

/// How long `stop` waits for `offline` and the disconnect to leave.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// Work finished elsewhere that the controller publishes.
enum Job {
    Republish,
    /// A snapshot was taken (`None`: it failed or privacy was on).
    Snapshot(Option<Vec<u8>>),
}

pub(super) struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// Ends with whether it asked the broker to disconnect.
    controller: tokio::task::JoinHandle<bool>,
    poller: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(super) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let controller = &mut self.controller;
        let disconnecting = match tokio::time::timeout(STOP_WAIT, controller).await {
            Ok(Ok(d)) => d,
            _ => {
                tracing::warn!("Home Assistant: could not say offline in time");
                false
            }
        };
        if disconnecting {
            // `offline` and the disconnect are queued: the poll task sends them and ends.
            let poller = &mut self.poller;
            let _ = tokio::time::timeout(STOP_WAIT, poller).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.controller.abort();
        self.poller.abort();
    }
}

pub(super) fn start(
    settings: &HomeAssistantSettings,
    identity: &Identity,
    handle: NodeHandle,
    rings: Rings,
    state: watch::Sender<BridgeState>,
) -> Result<Running, HomeAssistantError> {
    let topics = identity.topics();
    let mo = connection::options(settings, &topics, &identity.node_id())?;
    let (client, eventloop) = AsyncClient::new(mo, 64);
    let (poller, link_rx) = connection::poll(eventloop);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let controller = Controller {
        client,
        topics,
        documents: discovery::documents(identity),
        handle,
        rings,
        settings: settings.clone(),
        state,
        connected: false,
        published: None,
        motion: false,
        snapshot_running: false,
        jobs: mpsc::unbounded_channel(),
    };
    let controller = tokio::spawn(controller.run(link_rx, stop_rx));
    Ok(Running {
        stop: Some(stop_tx),
        controller,
        poller,
    })
}

struct Controller {
    client: AsyncClient,
    topics: Topics,
    documents: Vec<(String, serde_json::Value)>,
    handle: NodeHandle,
    rings: Rings,
    settings: HomeAssistantSettings,
    state: watch::Sender<BridgeState>,
    connected: bool,
    /// The state last published (None: publish on the next tick).
    published: Option<State>,
    motion: bool,
    snapshot_running: bool,
    jobs: (mpsc::UnboundedSender<Job>, mpsc::UnboundedReceiver<Job>),
}

impl Controller {
    async fn run(
        mut self,
        mut link: mpsc::UnboundedReceiver<Link>,
        mut stop: tokio::sync::oneshot::Receiver<()>,
    ) -> bool {
        let mut notices = self.handle.storage_notices().await;
        if notices.is_none() {
            tracing::info!("Home Assistant: cloud storage is off, so no motion is reported");
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut snapshots = tokio::time::interval(self.settings.snapshot_interval);
        snapshots.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                l = link.recv() => match l {
                    Some(l) => self.on_link(l).await,
                    None => break,
                },
                Some(job) = self.jobs.1.recv() => self.on_job(job).await,
                n = recv_notice(&mut notices) => self.on_notice(n).await,
                _ = tick.tick() => self.publish_state().await,
                _ = snapshots.tick() => self.take_snapshot(),
            }
        }
        self.goodbye()
    }

    fn set_state(&self, s: BridgeState) {
        self.state.send_if_modified(|cur| {
            let changed = *cur != s;
            *cur = s;
            changed
        });
    }

    fn publish(&self, topic: &str, retain: bool, payload: impl Into<Vec<u8>>) {
        if let Err(e) = self
            .client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload.into())
        {
            tracing::debug!(%topic, "Home Assistant: not published ({e}); sent again on reconnect");
        }
    }

    async fn on_link(&mut self, l: Link) {
        match l {
            Link::Up => {
                tracing::info!("Home Assistant: connected to the broker");
                self.connected = true;
                for t in [
                    self.topics.privacy_set(),
                    self.topics.record_set(),
                    self.topics.ha_status(),
                ] {
                    let _ = self.client.try_subscribe(t, QoS::AtLeastOnce);
                }
                self.republish().await;
                self.set_state(BridgeState::Connected);
            }
            Link::Down(why) => {
                if self.connected || *self.state.borrow() == BridgeState::Connecting {
                    tracing::warn!("Home Assistant: broker connection down: {why}; retrying");
                }
                self.connected = false;
                self.set_state(BridgeState::Down(why));
            }
            Link::Refused(why) => {
                if *self.state.borrow() != BridgeState::Refused(why.clone()) {
                    tracing::error!(
                        "Home Assistant: the broker refused the login: {why}; the camera runs on, trying again slowly"
                    );
                }
                self.connected = false;
                self.set_state(BridgeState::Refused(why));
            }
            Link::Message {
                topic,
                payload,
                retain,
            } => self.on_message(&topic, &payload, retain).await,
        }
    }

    async fn on_message(&mut self, topic: &str, payload: &[u8], retain: bool) {
        let text = std::str::from_utf8(payload).unwrap_or("").trim();
        if topic == self.topics.ha_status() {
            if text == "online" {
                // Home Assistant (re)started: discovery again, after a short random
                // delay as its documentation asks, so many devices do not answer at once.
                let jobs = self.jobs.0.clone();
                let delay = Duration::from_millis(rand::random_range(0..500));
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = jobs.send(Job::Republish);
                });
            }
            return;
        }
        if retain {
            // A command kept by the broker would be carried out again on every
            // reconnect, long after somebody meant it.
            tracing::warn!(%topic, "Home Assistant: retained command ignored");
            return;
        }
        if topic == self.topics.privacy_set() {
            let on = match text {
                discovery::ON => true,
                discovery::OFF => false,
                _ => {
                    tracing::warn!(%topic, bytes = payload.len(), "Home Assistant: privacy command is neither ON nor OFF; ignored");
                    return;
                }
            };
            match self.handle.set_privacy(on).await {
                Ok(()) => {
                    tracing::info!(on, "Home Assistant: privacy mode");
                    if on {
                        // The last picture from before must not stay on the broker.
                        self.publish(&self.topics.snapshot(), true, Vec::new());
                    }
                }
                Err(e) => tracing::warn!("Home Assistant: privacy command refused: {e}"),
            }
            self.publish_state().await;
        } else if topic == self.topics.record_set() {
            if text != discovery::PRESS {
                tracing::warn!(%topic, bytes = payload.len(), "Home Assistant: button payload is not PRESS; ignored");
                return;
            }
            match self
                .handle
                .execute(Command::RecordNow(self.settings.record_now))
                .await
            {
                Ok(_) => tracing::info!("Home Assistant: recording an event now"),
                Err(e) => tracing::warn!("Home Assistant: record now refused: {e}"),
            }
        }
    }

    async fn on_job(&mut self, job: Job) {
        match job {
            Job::Republish => {
                if self.connected {
                    tracing::info!("Home Assistant restarted: discovery published again");
                    self.republish().await;
                }
            }
            Job::Snapshot(jpeg) => {
                self.snapshot_running = false;
                // Privacy may have come on while the picture was being encoded.
                if let Some(jpeg) = jpeg
                    && self.connected
                    && !self.handle.status().await.privacy
                {
                    self.publish(&self.topics.snapshot(), true, jpeg);
                }
            }
        }
    }

    async fn on_notice(&mut self, n: Option<Notice>) {
        let motion = match n {
            Some(Notice::EventStarted {
                source: EventSource::Motion,
                ..
            }) => true,
            Some(Notice::EventEnded {
                source: EventSource::Motion,
                ..
            }) => false,
            _ => return,
        };
        if motion != self.motion {
            self.motion = motion;
            self.publish_state().await;
            if motion {
                self.take_snapshot();
            }
        }
    }

    /// Discovery, availability, state and a fresh snapshot: everything a new connection
    /// (or a restarted Home Assistant) needs.
    async fn republish(&mut self) {
        for (topic, doc) in &self.documents {
            self.publish(topic, true, doc.to_string());
        }
        self.publish(&self.topics.availability(), true, discovery::ONLINE);
        self.published = None;
        self.publish_state().await;
        self.take_snapshot();
    }

    async fn publish_state(&mut self) {
        let status = self.handle.status().await;
        let now = State {
            motion: self.motion && !status.privacy,
            privacy: status.privacy,
            viewers: status.viewers,
        };
        if self.connected && self.published != Some(now) {
            self.publish(&self.topics.state(), true, now.to_json());
            self.published = Some(now);
        }
    }

    /// Encode the main ring's newest keyframe as JPEG off the runtime; published when done.
    fn take_snapshot(&mut self) {
        if !self.connected || self.snapshot_running {
            return;
        }
        self.snapshot_running = true;
        let main = self.rings.main.clone();
        let jobs = self.jobs.0.clone();
        let private = self.handle.clone();
        tokio::spawn(async move {
            if private.status().await.privacy {
                let _ = jobs.send(Job::Snapshot(None));
                return;
            }
            let made = tokio::task::spawn_blocking(move || {
                let frame = main
                    .reader(StartAt::NewestKeyframe)
                    .next_blocking(Duration::from_secs(5))
                    .map_err(|e| format!("no keyframe: {e}"))?;
                crate::storage::snapshot::encode_jpeg(&frame.data).map_err(|e| e.to_string())
            })
            .await;
            match made {
                Ok(Ok(jpeg)) => {
                    let _ = jobs.send(Job::Snapshot(Some(jpeg)));
                }
                Ok(Err(e)) => {
                    tracing::warn!("Home Assistant: no snapshot: {e}");
                    let _ = jobs.send(Job::Snapshot(None));
                }
                Err(e) => {
                    tracing::warn!("Home Assistant: snapshot task: {e}");
                    let _ = jobs.send(Job::Snapshot(None));
                }
            }
        });
    }

    /// Say `offline` (retained) and disconnect; whether there was a connection to end.
    fn goodbye(&mut self) -> bool {
        let connected = self.connected;
        if connected {
            self.publish(&self.topics.availability(), true, discovery::OFFLINE);
            let _ = self.client.try_disconnect();
        }
        self.set_state(BridgeState::Stopped);
        tracing::info!("Home Assistant: stopped");
        connected
    }
}

/// The next storage notice; pending forever without storage.
async fn recv_notice(rx: &mut Option<broadcast::Receiver<Notice>>) -> Option<Notice> {
    let Some(r) = rx else {
        return std::future::pending().await;
    };
    loop {
        match r.recv().await {
            Ok(n) => return Some(n),
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => {
                *rx = None;
                return std::future::pending().await;
            }
        }
    }
}
