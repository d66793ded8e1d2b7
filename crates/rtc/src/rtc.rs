//! Small WebRTC helpers shared by the viewer engine and the camera's live sessions.
//!
//! - [`prewarm_dtls`]: make the process's DTLS certificate at start-up. `webrtcbin` makes
//!   it on first use and that costs 60–350 ms on this class of machine, right on the path
//!   of the first frame; one throw-away `dtlsdec` makes it once for the whole process.
//! - [`make_webrtcbin`]: a `webrtcbin` with max-bundle, the given ICE servers, and
//!   libnice's UPnP port mapping turned off. The agent gathers on every address of the
//!   host; only on a host with nothing but loopback is `127.0.0.1` added (libnice skips
//!   `lo` by itself, and adding any address *restricts* gathering to the addresses added,
//!   which is what once hid every real address of a camera).
//! - [`on_ice_candidate`]: hand each local ICE candidate (m-line index, candidate line) to
//!   a callback.
//! - [`description`]: parse an SDP string into a session description.

use std::sync::OnceLock;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_sdp as gst_sdp;
use gstreamer_webrtc as gst_webrtc;
use gstreamer_webrtc::prelude::*;

/// Make the DTLS certificate now (idempotent, cheap after the first call).
pub fn prewarm_dtls() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let t = std::time::Instant::now();
        if gst::init().is_ok() {
            match gst::ElementFactory::make("dtlsdec").build() {
                Ok(e) => {
                    // Reading the property forces the certificate into existence.
                    let _pem: Option<String> = e.property("pem");
                }
                Err(_) => tracing::warn!("dtlsdec missing: install gst-plugins-bad"),
            }
        }
        tracing::debug!(
            ms = t.elapsed().as_millis() as u64,
            "DTLS certificate ready"
        );
    });
}

/// Error building a WebRTC pipeline.
#[derive(Debug, thiserror::Error)]
pub enum RtcError {
    #[error("GStreamer element {0} is missing")]
    MissingElement(String),
    #[error("bad SDP: {0}")]
    BadSdp(String),
}

/// A configured `webrtcbin`. `ice_servers` are `stun:`/`turn:` URLs with credentials
/// already in them (`turn://user:pass@host:port`).
pub fn make_webrtcbin(
    name: &str,
    stun: Option<&str>,
    turn: &[String],
    latency_ms: u32,
) -> Result<gst::Element, RtcError> {
    let webrtc = gst::ElementFactory::make("webrtcbin")
        .name(name)
        .property_from_str("bundle-policy", "max-bundle")
        .property("latency", latency_ms)
        .build()
        .map_err(|_| RtcError::MissingElement("webrtcbin".into()))?;
    if let Some(stun) = stun {
        webrtc.set_property("stun-server", stun);
    }
    for t in turn {
        let _: bool = webrtc.emit_by_name("add-turn-server", &[t]);
    }
    if let Some(ice) = webrtc.property::<Option<gst_webrtc::WebRTCICE>>("ice-agent") {
        for address in ice_addresses() {
            ice.emit_add_local_ip_address(&address);
        }
    }
    disable_upnp(&webrtc);
    Ok(webrtc)
}

/// The addresses to restrict ICE gathering to: those in `$EYRIE_ICE_ADDRESSES`
/// (comma-separated, e.g. to keep a camera off a VPN or container bridge), else none —
/// every address of the host — or, on a host with nothing but loopback, `127.0.0.1`.
pub fn ice_addresses() -> Vec<String> {
    let configured: Vec<String> = std::env::var(ICE_ADDRESSES_ENV)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|a| a.parse::<std::net::IpAddr>().is_ok())
        .map(String::from)
        .collect();
    if !configured.is_empty() {
        return configured;
    }
    if has_routable_address() {
        Vec::new()
    } else {
        vec!["127.0.0.1".into()]
    }
}

/// The variable [`ice_addresses`] reads.
pub const ICE_ADDRESSES_ENV: &str = "EYRIE_ICE_ADDRESSES";

/// Whether this host has an address besides loopback (and IPv6 link-local) for libnice
/// to gather on.
pub fn has_routable_address() -> bool {
    if_addrs::get_if_addrs().is_ok_and(|ifs| {
        ifs.iter().any(|i| {
            let ip = i.ip();
            !ip.is_loopback()
                && match ip {
                    std::net::IpAddr::V4(_) => true,
                    std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
                }
        })
    })
}

/// Turn off libnice's UPnP on the agent `webrtcbin` made. libnice enables it by default:
/// every agent then starts a GUPnP context manager and an IGD thread to ask the home
/// router to open ports — not something a camera should do behind its owner's back, and
/// per session it costs threads, sockets and a wait for the router's reply. The agent is
/// reachable only through the `nicesrc`/`nicesink` `webrtcbin` adds for its transport,
/// before candidate gathering starts (at set-local-description).
fn disable_upnp(webrtc: &gst::Element) {
    let Some(bin) = webrtc.downcast_ref::<gst::Bin>() else {
        return;
    };
    bin.connect_deep_element_added(|_, _, element| {
        let is_nice = element
            .factory()
            .is_some_and(|f| f.name() == "nicesrc" || f.name() == "nicesink");
        if !is_nice {
            return;
        }
        if let Some(agent) = element.property::<Option<gst::glib::Object>>("agent")
            && agent.find_property("upnp").is_some()
        {
            agent.set_property("upnp", false);
            tracing::trace!(element = %element.name(), "libnice UPnP off");
        }
    });
}

/// Call `f(sdp_mline_index, candidate)` for every local ICE candidate `webrtc` gathers.
pub fn on_ice_candidate(webrtc: &gst::Element, f: impl Fn(u32, String) + Send + Sync + 'static) {
    webrtc.connect("on-ice-candidate", false, move |args| {
        let mline = args.get(1).and_then(|a| a.get::<u32>().ok()).unwrap_or(0);
        let candidate = args
            .get(2)
            .and_then(|a| a.get::<String>().ok())
            .unwrap_or_default();
        f(mline, candidate);
        None
    });
}

/// Parse an SDP text as an offer or answer.
pub fn description(
    kind: gst_webrtc::WebRTCSDPType,
    sdp: &str,
) -> Result<gst_webrtc::WebRTCSessionDescription, RtcError> {
    let msg = gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes())
        .map_err(|e| RtcError::BadSdp(e.to_string()))?;
    if msg.medias_len() == 0 {
        return Err(RtcError::BadSdp("no media".into()));
    }
    Ok(gst_webrtc::WebRTCSessionDescription::new(kind, msg))
}

/// Convert the cloud's ICE servers into a STUN URL and TURN URLs for `webrtcbin`.
pub fn ice_urls(servers: &[eyrie_protocol::api::IceServer]) -> (Option<String>, Vec<String>) {
    let mut stun = None;
    let mut turn = Vec::new();
    for s in servers {
        for u in &s.urls {
            if let Some(rest) = u.strip_prefix("stun:") {
                stun.get_or_insert_with(|| format!("stun://{rest}"));
            } else if let Some((scheme, rest)) = u.split_once(':')
                && (scheme == "turn" || scheme == "turns")
                && let (Some(user), Some(pass)) = (&s.username, &s.credential)
            {
                let enc = |v: &str| {
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                };
                turn.push(format!("{scheme}://{}:{}@{rest}", enc(user), enc(pass)));
            }
        }
    }
    (stun, turn)
}
