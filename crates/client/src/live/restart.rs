//! Keeping a session across a change of network: an ICE restart, done the way GStreamer
//! 1.22 allows.
//!
//! A viewer on a laptop or a phone changes networks under a running session: Wi-Fi to
//! another access point, Wi-Fi to a carrier, a new DHCP lease. Its address changes, so
//! the ICE pair, the TURN allocation and the TCP connection to the broker all lead
//! nowhere. A browser would call `restartIce()`: new ICE credentials, new candidates, the
//! same DTLS. `webrtcbin` cannot — it ignores `create-offer`'s options and reuses its
//! credentials — so the equivalent is a fresh peer connection inside the same signalling
//! session (`docs/signalling.md` §5.1):
//!
//! ```text
//!  tick (250 ms): an address ICE gathered on is gone │ no frame for 3 s │ ICE failed after working
//!     └─► Reconnecting ─► new broker connection (same login, same session keys and seq)
//!                      ─► ICE servers: the ticket's, or fresh ones from the cloud (fetched at 80 % of their life)
//!                      ─► webrtcbin-<n> replaces webrtcbin-<n-1> in the pipeline (chains and sinks stay)
//!                      ─► offer ─► `restart` {generation n, proof} ─► the camera's `answer` (checked) ─► ICE, DTLS
//!     first decoded frame of the new connection ─► Stage(Playing)
//! ```
//!
//! No new ticket and no new session: the camera keeps the session's slot, key, stream,
//! sound and talk and swaps its own peer connection. Until the restart's `restart` leaves,
//! local candidates are held back (they must follow it); until its answer arrives, the
//! camera's candidates are dropped (they belong to its old connection, and the camera
//! sends a connection's answer before its candidates). A restart that brings no frame
//! within [`RESTART_TIMEOUT`] fails the session (`Timeout`), and the caller starts anew.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gstreamer::prelude::*;
use tokio::sync::mpsc;

use eyrie_protocol::api::{IceServer, IceServersResponse, MqttConnection};
use eyrie_protocol::signalling::{self, Restart, ToCamera};

use super::session::{Flow, Internal, SessionTask};
use super::{ViewerError, ViewerEvent};
use crate::mqtt_link::{self, LinkEvent, LinkOptions};

/// Media stopped this long while playing: restart.
pub const STALL: Duration = Duration::from_secs(3);
/// A restart that brings no frame in this time ends the session.
pub const RESTART_TIMEOUT: Duration = Duration::from_secs(8);
/// TURN credentials that expire within this are fetched anew for a restart (coturn
/// checks them when the new connection allocates, a fraction of a second later).
const ICE_MARGIN_SECS: i64 = 2;
/// How long one fetch of fresh ICE servers may take. A restart tries twice: a pooled
/// HTTPS connection left from the old address hangs, and the second try opens a new one.
const ICE_FETCH_TIMEOUT: Duration = Duration::from_millis(1500);
/// After a failed refresh, the next try waits this long.
const ICE_RETRY: Duration = Duration::from_secs(10);

/// The STUN/TURN servers a peer connection gathers with.
#[derive(Debug, Clone, Default)]
pub(super) struct IceSet {
    pub stun: Option<String>,
    pub turn: Vec<String>,
    /// When the TURN credentials expire (unix s), if there are any.
    pub expires_at: Option<i64>,
}

impl IceSet {
    pub fn new(servers: &[IceServer]) -> Self {
        let (stun, turn) = crate::rtc::ice_urls(servers);
        Self {
            stun,
            turn,
            expires_at: turn_expiry(servers),
        }
    }

    fn expiring(&self) -> bool {
        self.expires_at
            .is_some_and(|exp| exp <= eyrie_protocol::clock::unix_secs() + ICE_MARGIN_SECS)
    }
}

/// The earliest expiry of the TURN credentials in `servers`: their user names are
/// `<expiry unix seconds>:<who>` (coturn's REST form, `docs/signalling.md` §6.1).
pub(super) fn turn_expiry(servers: &[IceServer]) -> Option<i64> {
    servers
        .iter()
        .filter(|s| s.urls.iter().any(|u| u.starts_with("turn")))
        .filter_map(|s| s.username.as_deref()?.split(':').next()?.parse().ok())
        .min()
}

/// A restart under way.
struct Restarting {
    since: Instant,
    /// The new broker connection is up (the `restart` may leave).
    link_up: bool,
    /// The new peer's offer, until the `restart` carrying it leaves.
    offer: Option<String>,
    /// The `restart` left.
    sent: bool,
    /// Local candidates made before the `restart` left.
    held: Vec<(u32, String)>,
}

/// What a session needs to restart, and the restart under way.
pub(super) struct Recovery {
    /// The current peer's generation: 0, then one more per restart.
    pub generation: u32,
    /// ICE/DTLS connected at least once in this session.
    pub connected_once: bool,
    /// A new broker connection's events, for the task's loop to take.
    pub new_link: Option<mpsc::UnboundedReceiver<LinkEvent>>,
    /// The ticket's broker login and the link's options, to connect again.
    pub mqtt: (MqttConnection, LinkOptions),
    pub ice: IceSet,
    /// Where fresh ICE servers come from (the owner's API client and the device).
    pub ice_source: Option<(crate::api::ApiClient, uuid::Uuid)>,
    /// When `ice` was obtained (unix s): it is refreshed once 80 % of its life passed,
    /// while the network is still there, so that a restart rarely has to wait for it.
    ice_since: i64,
    /// A refresh is under way, or none is tried before this.
    ice_refreshing: bool,
    ice_next_try: Option<Instant>,
    /// The addresses the current peer gathered on.
    pub watched: BTreeSet<IpAddr>,
    /// Whether the person is talking (the valve reopens after the swap).
    pub talking: Arc<AtomicBool>,
    state: Option<Restarting>,
}

impl Recovery {
    pub fn new(
        mqtt: (MqttConnection, LinkOptions),
        ice: IceSet,
        ice_source: Option<(crate::api::ApiClient, uuid::Uuid)>,
        talking: Arc<AtomicBool>,
    ) -> Self {
        Self {
            generation: 0,
            connected_once: false,
            new_link: None,
            mqtt,
            ice,
            ice_source,
            ice_since: eyrie_protocol::clock::unix_secs(),
            ice_refreshing: false,
            ice_next_try: None,
            watched: local_addresses().unwrap_or_default(),
            talking,
            state: None,
        }
    }

    /// A restart is under way.
    pub fn restarting(&self) -> bool {
        self.state.is_some()
    }

    /// Local candidates wait: the `restart` they follow has not left yet.
    pub fn holds_candidates(&self) -> bool {
        self.state.as_ref().is_some_and(|r| !r.sent)
    }

    pub fn hold(&mut self, mline: u32, candidate: String) {
        if let Some(r) = &mut self.state
            && r.held.len() < 64
        {
            r.held.push((mline, candidate));
        }
    }
}

/// Fetch fresh ICE servers with `api` for `device`: `tries` attempts of
/// [`ICE_FETCH_TIMEOUT`] each.
async fn fetch_ice(
    api: crate::api::ApiClient,
    device: uuid::Uuid,
    tries: u32,
) -> Option<IceServersResponse> {
    for _ in 0..tries {
        match tokio::time::timeout(ICE_FETCH_TIMEOUT, api.ice_servers(device)).await {
            Ok(Ok(fresh)) => return Some(fresh),
            Ok(Err(e)) => tracing::warn!("fresh ICE servers: {e}"),
            Err(_) => tracing::info!("fresh ICE servers: no answer in {ICE_FETCH_TIMEOUT:?}"),
        }
    }
    None
}

/// The addresses ICE gathers on now (those of `EYRIE_ICE_ADDRESSES` when it restricts
/// gathering), without loopback and IPv6 link-local ones; `None` when they cannot be read.
pub(super) fn local_addresses() -> Option<BTreeSet<IpAddr>> {
    let only: Vec<IpAddr> = crate::rtc::ice_addresses()
        .iter()
        .filter_map(|a| a.parse().ok())
        .collect();
    let all = if_addrs::get_if_addrs().ok()?;
    Some(
        all.iter()
            .map(|i| i.ip())
            .filter(|ip| {
                if !only.is_empty() {
                    return only.contains(ip);
                }
                !ip.is_loopback()
                    && match ip {
                        IpAddr::V4(_) => true,
                        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
                    }
            })
            .collect(),
    )
}

impl SessionTask {
    /// Every [`super::session::TICK`]: a restart that takes too long fails; otherwise a
    /// vanished address or a stalled picture starts one.
    pub(super) fn tick(&mut self) -> Flow {
        if let Some(r) = &self.recovery.state {
            if r.since.elapsed() >= RESTART_TIMEOUT {
                tracing::info!(session = %self.sid, "live session did not recover in {RESTART_TIMEOUT:?}");
                return self.fail(ViewerError::Timeout);
            }
            return Flow::Continue;
        }
        if !self.answered {
            return Flow::Continue;
        }
        self.refresh_ice_if_due();
        if let Some(now) = local_addresses()
            && let Some(gone) = self.recovery.watched.difference(&now).next()
        {
            let why = format!("the network changed ({gone} went away)");
            return self.start_restart(&why);
        }
        let stalled = self.playing
            && self.built.frames.last_ms().is_some_and(|last| {
                eyrie_protocol::clock::unix_ms() - last >= STALL.as_millis() as i64
            });
        if stalled {
            return self.start_restart("no picture for 3 s");
        }
        Flow::Continue
    }

    /// Start a restart (nothing if one is under way).
    pub(super) fn start_restart(&mut self, why: &str) -> Flow {
        if self.recovery.state.is_some() {
            return Flow::Continue;
        }
        self.recovery.generation += 1;
        let generation = self.recovery.generation;
        tracing::info!(session = %self.sid, generation, "live session: {why}; restarting ICE with a new peer connection");
        let _ = self.events.send(ViewerEvent::Reconnecting {
            reason: why.to_owned(),
        });
        self.recovery.state = Some(Restarting {
            since: Instant::now(),
            link_up: false,
            offer: None,
            sent: false,
            held: Vec::new(),
        });
        self.answered = false;
        self.connected = false;
        self.path = None;
        self.offer_fp = None;
        self.pending.clear();
        if let Some(now) = local_addresses() {
            self.recovery.watched = now;
        }
        // The broker connection may be dead too (its TCP left from the old address, and
        // nothing says so before its keep-alive runs out): a new one, same login. The
        // outbox's sealer, and so the sequence numbers, go on.
        let (conn, options) = &self.recovery.mqtt;
        match mqtt_link::start(conn, options.clone()) {
            Ok((link, rx)) => {
                self.outbox.set_link(Arc::new(link));
                self.recovery.new_link = Some(rx);
            }
            Err(e) => {
                tracing::warn!(session = %self.sid, "no new broker connection ({e}); keeping the old one");
                self.link_up();
            }
        }
        match self.recovery.ice_source.clone() {
            Some((api, device)) if self.recovery.ice.expiring() => {
                let tx = self.internal.clone();
                tokio::spawn(async move {
                    let fresh = fetch_ice(api, device, 2).await;
                    let _ = tx.send(Internal::IceServers(generation, fresh));
                });
                Flow::Continue
            }
            _ => self.new_peer(),
        }
    }

    /// Fresh ICE servers came (or not): build the new peer with what there is.
    pub(super) fn ice_servers_fetched(&mut self, fresh: Option<IceServersResponse>) -> Flow {
        if let Some(fresh) = fresh {
            tracing::info!(session = %self.sid, "fresh ICE servers for the restart");
            self.take_ice(&fresh);
        }
        self.new_peer()
    }

    fn take_ice(&mut self, fresh: &IceServersResponse) {
        let mut ice = IceSet::new(&fresh.ice_servers);
        ice.expires_at = ice.expires_at.or(Some(fresh.expires_at));
        self.recovery.ice = ice;
        self.recovery.ice_since = eyrie_protocol::clock::unix_secs();
    }

    /// Once 80 % of the ICE servers' life has passed, fetch new ones in the background
    /// (for the next restart; the running connection keeps its allocation).
    fn refresh_ice_if_due(&mut self) {
        let r = &mut self.recovery;
        let Some(exp) = r.ice.expires_at else { return };
        let due = r.ice_since + (exp - r.ice_since) * 4 / 5;
        let waiting = r.ice_next_try.is_some_and(|t| Instant::now() < t);
        if r.ice_refreshing || waiting || eyrie_protocol::clock::unix_secs() < due {
            return;
        }
        let Some((api, device)) = r.ice_source.clone() else {
            return;
        };
        r.ice_refreshing = true;
        let tx = self.internal.clone();
        tokio::spawn(async move {
            let fresh = fetch_ice(api, device, 1).await;
            let _ = tx.send(Internal::IceRefreshed(fresh));
        });
    }

    /// A background refresh came back.
    pub(super) fn ice_refreshed(&mut self, fresh: Option<IceServersResponse>) {
        self.recovery.ice_refreshing = false;
        match fresh {
            Some(fresh) => {
                tracing::info!(session = %self.sid, "ICE servers refreshed");
                self.recovery.ice_next_try = None;
                self.take_ice(&fresh);
            }
            None => self.recovery.ice_next_try = Some(Instant::now() + ICE_RETRY),
        }
    }

    /// The old `webrtcbin` out, a new one in, its offer on the way.
    fn new_peer(&mut self) -> Flow {
        let generation = self.recovery.generation;
        // Nothing flows into an unlinked pad while the peers are swapped.
        if let Some(valve) = &self.built.talk_valve {
            valve.set_property("drop", true);
        }
        self.built.remove_peer(&self.webrtc);
        let ice = &self.recovery.ice;
        match self.built.add_peer(
            &format!("webrtc{generation}"),
            ice.stun.as_deref(),
            &ice.turn,
        ) {
            Ok(webrtc) => self.webrtc = webrtc,
            Err(e) => return self.fail(e),
        }
        if let Some(valve) = &self.built.talk_valve {
            valve.set_property("drop", !self.recovery.talking.load(Ordering::SeqCst));
        }
        super::peer::start(&self.webrtc, generation, &self.internal);
        Flow::Continue
    }

    /// The new peer's offer.
    pub(super) async fn restart_offer(&mut self, sdp: String) -> Flow {
        let Some(fp) = signalling::sdp_fingerprint(&sdp).map(str::to_owned) else {
            return self.fail(ViewerError::Media("offer without fingerprint".into()));
        };
        self.offer_fp = Some(fp);
        self.offer_sent = Some(Instant::now());
        if let Some(r) = &mut self.recovery.state {
            r.offer = Some(sdp);
        }
        self.send_restart();
        Flow::Continue
    }

    /// The broker connection is up (again).
    pub(super) fn link_up(&mut self) {
        if let Some(r) = &mut self.recovery.state {
            r.link_up = true;
        }
        self.send_restart();
    }

    /// Sends the `restart` once its offer is made and the new link is up, then the local
    /// candidates held back for it.
    fn send_restart(&mut self) {
        let generation = self.recovery.generation;
        let Some(r) = &mut self.recovery.state else {
            return;
        };
        if r.sent || !r.link_up {
            return;
        }
        let Some(sdp) = r.offer.take() else {
            return;
        };
        r.sent = true;
        let held = std::mem::take(&mut r.held);
        let fp = self.offer_fp.clone().unwrap_or_default();
        let proof = signalling::restart_proof(&self.key, &self.sid, generation, &fp);
        let mut out = vec![ToCamera::Restart(Restart {
            session_id: self.sid.clone(),
            generation,
            proof,
            sdp,
        })];
        out.extend(
            held.into_iter()
                .map(|(sdp_mline_index, candidate)| ToCamera::Candidate {
                    session_id: self.sid.clone(),
                    sdp_mline_index,
                    candidate,
                }),
        );
        for msg in out {
            if let Err(e) = self.outbox.send(&msg) {
                tracing::warn!(session = %self.sid, "restart not sent: {e}");
            }
        }
    }

    /// The new connection's first frame: live again.
    pub(super) fn recovered(&mut self) {
        if let Some(r) = self.recovery.state.take() {
            tracing::info!(session = %self.sid, generation = self.recovery.generation, "live session recovered in {:?}", r.since.elapsed());
        }
        self.playing = true;
        let _ = self.events.send(ViewerEvent::Stage(super::Stage::Playing));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_turn_expiry_is_read_from_the_rest_user_name() {
        let servers = vec![
            IceServer {
                urls: vec!["stun:203.0.113.1:3478".into()],
                username: None,
                credential: None,
            },
            IceServer {
                urls: vec!["turn:203.0.113.1:3478?transport=udp".into()],
                username: Some("1700000100:user".into()),
                credential: Some("c".into()),
            },
            IceServer {
                urls: vec!["turns:203.0.113.1:443".into()],
                username: Some("1700000050:user".into()),
                credential: Some("c".into()),
            },
        ];
        assert_eq!(turn_expiry(&servers), Some(1_700_000_050));
        assert_eq!(turn_expiry(&servers[..1]), None);
        let odd = IceServer {
            urls: vec!["turn:h:1".into()],
            username: Some("static-user".into()),
            credential: Some("c".into()),
        };
        assert_eq!(
            turn_expiry(&[odd]),
            None,
            "a static user name has no expiry"
        );
        assert!(IceSet::new(&servers).expiring(), "long past");
    }

    #[test]
    fn the_watched_addresses_leave_loopback_out() {
        let now = local_addresses().expect("this host's addresses");
        if crate::rtc::ice_addresses().is_empty() {
            assert!(now.iter().all(|ip| !ip.is_loopback()), "{now:?}");
        }
    }
}
