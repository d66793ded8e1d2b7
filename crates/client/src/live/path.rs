//! Which way the media goes: the ICE candidate pair `webrtcbin` selected, read from its
//! statistics, as the app's "Direct" / "Relayed".
//!
//! `webrtcbin`'s `get-stats` answers with one structure per statistic; for the transport
//! carrying the bundle it has a `candidate-pair` (the selected pair: libnice's) naming a
//! `local-candidate` and a `remote-candidate` structure, each with a `candidate-type`
//! (`host`, `srflx`, `prflx`, `relay`) and a `protocol`. A pair is relayed when either
//! end is a relay candidate; anything else reaches the peer directly (through NATs,
//! perhaps, but through no server). The engine asks once ICE connects and again every
//! [`PATH_POLL`], and reports a [`IcePath`] whenever it differs from the last.

use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;

/// How often the path is read again while connected (the pair can change: ICE keeps
/// checking, and a restart picks a new one).
pub const PATH_POLL: Duration = Duration::from_secs(2);

/// One end of the selected pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandidateType {
    /// An address of the machine itself.
    Host,
    /// The public address a NAT gave it, learnt from STUN.
    ServerReflexive,
    /// An address learnt from the peer's checks.
    PeerReflexive,
    /// An address on a TURN server.
    Relay,
}

impl CandidateType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "host" => Self::Host,
            "srflx" | "server-reflexive" => Self::ServerReflexive,
            "prflx" | "peer-reflexive" => Self::PeerReflexive,
            "relay" | "relayed" => Self::Relay,
            _ => return None,
        })
    }

    /// ICE's short name (`host`, `srflx`, `prflx`, `relay`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::ServerReflexive => "srflx",
            Self::PeerReflexive => "prflx",
            Self::Relay => "relay",
        }
    }
}

/// The selected candidate pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcePath {
    pub local: CandidateType,
    pub remote: CandidateType,
    /// The local candidate's transport to the peer or the TURN server: `udp` or `tcp`.
    pub local_protocol: String,
    /// For a local relay candidate, how the viewer reaches the TURN server (`udp`, `tcp`,
    /// `tls`), when webrtcbin says.
    pub relay_protocol: Option<String>,
    /// The candidates' addresses (`ip:port`), for logs and tests.
    pub local_address: String,
    pub remote_address: String,
}

impl IcePath {
    /// Media goes through a TURN server (either end is a relay candidate).
    pub fn relayed(&self) -> bool {
        self.local == CandidateType::Relay || self.remote == CandidateType::Relay
    }

    /// What the app shows: "Direct" or "Relayed".
    pub fn label(&self) -> &'static str {
        if self.relayed() { "Relayed" } else { "Direct" }
    }

    /// Finds the selected pair in a `get-stats` reply.
    pub fn from_stats(stats: &gst::StructureRef) -> Option<IcePath> {
        let entries: Vec<(String, gst::Structure)> = stats
            .iter()
            .filter_map(|(name, value)| {
                Some((name.to_string(), value.get::<gst::Structure>().ok()?))
            })
            .collect();
        let kind = |s: &gst::Structure| {
            s.get::<gst_webrtc::WebRTCStatsType>("type")
                .ok()
                .map(|t| format!("{t:?}"))
                .unwrap_or_default()
        };
        let by_id = |id: &str| {
            entries
                .iter()
                .find(|(name, s)| name == id || s.get::<String>("id").ok().as_deref() == Some(id))
                .map(|(_, s)| s)
        };
        let pair = entries
            .iter()
            .map(|(_, s)| s)
            .find(|s| kind(s) == "CandidatePair" && s.has_field("local-candidate-id"))?;
        let local = by_id(&pair.get::<String>("local-candidate-id").ok()?)?;
        let remote = by_id(&pair.get::<String>("remote-candidate-id").ok()?)?;
        let ctype = |s: &gst::Structure| {
            s.get::<String>("candidate-type")
                .ok()
                .and_then(|t| CandidateType::parse(&t))
        };
        Some(IcePath {
            local: ctype(local)?,
            remote: ctype(remote)?,
            local_protocol: local.get::<String>("protocol").unwrap_or_default(),
            // GStreamer 1.22 says "none" when it does not know.
            relay_protocol: local
                .get::<String>("relay-protocol")
                .ok()
                .filter(|p| !p.is_empty() && p != "none"),
            local_address: address(local),
            remote_address: address(remote),
        })
    }
}

/// `address:port` of a candidate statistic.
fn address(s: &gst::Structure) -> String {
    let ip = s.get::<String>("address").unwrap_or_default();
    let port = s.get::<u32>("port").unwrap_or_default();
    format!("{ip}:{port}")
}

impl std::fmt::Display for IcePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} {}/{} ↔ {} {})",
            self.label(),
            self.local.as_str(),
            self.local_address,
            self.relay_protocol
                .as_deref()
                .unwrap_or(&self.local_protocol),
            self.remote.as_str(),
            self.remote_address
        )
    }
}

/// Asks `webrtc` for its statistics; `done` gets the selected pair (None while there is
/// none) on a GStreamer thread.
pub fn query(webrtc: &gst::Element, done: impl FnOnce(Option<IcePath>) + Send + 'static) {
    let promise = gst::Promise::with_change_func(move |reply| {
        let path = match reply {
            Ok(Some(stats)) => IcePath::from_stats(stats),
            _ => None,
        };
        done(path);
    });
    webrtc.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
}
