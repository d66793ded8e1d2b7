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

/// Call `f(sdp_mline_index, candidate)` for every local ICE candidate `webrtc` gathers,
/// and `f(0, "")` once gathering is complete: end of candidates (`docs/signalling.md`),
/// so a peer that waits for all of them — the cloud's WHEP relay, which puts them into
/// one answer — need not wait out its deadline.
pub fn on_ice_candidate(webrtc: &gst::Element, f: impl Fn(u32, String) + Send + Sync + 'static) {
    let f = std::sync::Arc::new(f);
    let on_candidate = f.clone();
    webrtc.connect("on-ice-candidate", false, move |args| {
        let mline = args.get(1).and_then(|a| a.get::<u32>().ok()).unwrap_or(0);
        let candidate = args
            .get(2)
            .and_then(|a| a.get::<String>().ok())
            .unwrap_or_default();
        if !candidate.is_empty() {
            on_candidate(mline, candidate);
        }
        None
    });
    let said = std::sync::atomic::AtomicBool::new(false);
    webrtc.connect_notify(Some("ice-gathering-state"), move |webrtc, _| {
        let state = webrtc.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state");
        if state == gst_webrtc::WebRTCICEGatheringState::Complete
            && !said.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            f(0, String::new());
        }
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

/// The highest RTP payload type (the field has 7 bits).
pub const MAX_PAYLOAD_TYPE: u32 = 127;

/// RTP payload numbers the answer must use: the offer's (RFC 3264 lets the offerer choose
/// them, and browsers do), for H.264 video and Opus audio. Among several H.264 formats the
/// one the camera's stream is (constrained baseline, `packetization-mode=1`) is preferred:
/// `packetization-mode=1` with a constrained-baseline `profile-level-id` (`42e01f`, or any
/// with constraint_set1), then plain baseline (`42001f`), then any `packetization-mode=1`,
/// then any H.264. Constrained baseline comes first because the answer names no
/// `profile-level-id`, which a browser reads as constrained baseline 3.1 (RFC 6184's
/// default is only a floor): answering its `42001f` number would pair the stream with a
/// format the browser thinks is another profile. None when the offer has no such codec.
pub fn offered_payloads(sdp: &gst_sdp::SDPMessageRef) -> (Option<u32>, Option<u32>) {
    let mut video: Option<(u8, u32)> = None;
    let mut audio = None;
    for media in sdp.medias() {
        let kind = media.media().unwrap_or_default();
        let attrs: Vec<(&str, &str)> = media
            .attributes()
            .filter_map(|a| Some((a.key(), a.value()?)))
            .collect();
        let fmtp = |pt: &str| {
            attrs
                .iter()
                .find(|(k, v)| *k == "fmtp" && v.split_whitespace().next() == Some(pt))
                .map(|(_, v)| v.to_ascii_lowercase())
                .unwrap_or_default()
        };
        for (key, value) in &attrs {
            if *key != "rtpmap" {
                continue;
            }
            let mut parts = value.split_whitespace();
            let (Some(pt), Some(codec)) = (parts.next(), parts.next()) else {
                continue;
            };
            // An RTP payload type is 7 bits: a larger number is no format to answer
            // with, and the payloaders' `pt` property refuses it (setting it panics).
            let Ok(number) = pt.parse::<u32>() else {
                continue;
            };
            if number > MAX_PAYLOAD_TYPE {
                continue;
            }
            let codec = codec.to_ascii_lowercase();
            if kind == "video" && codec.starts_with("h264/") {
                let params = fmtp(pt);
                let mode1 = params.contains("packetization-mode=1");
                let rank = if mode1 {
                    1 + h264_profile_rank(&params)
                } else {
                    0
                };
                if video.is_none_or(|(best, _)| rank > best) {
                    video = Some((rank, number));
                }
            } else if kind == "audio" && codec.starts_with("opus/48000") && audio.is_none() {
                audio = Some(number);
            }
        }
    }
    (video.map(|(_, pt)| pt), audio)
}

/// 2: constrained baseline, 1: baseline, 0: another or no `profile-level-id` (from its
/// profile_idc and constraint flags, RFC 6184 §8.1).
fn h264_profile_rank(fmtp: &str) -> u8 {
    let Some(id) = fmtp
        .split(';')
        .find_map(|p| p.trim().strip_prefix("profile-level-id="))
        .filter(|id| id.len() == 6 && id.is_ascii())
    else {
        return 0;
    };
    let byte = |i: usize| u8::from_str_radix(&id[i..i + 2], 16).unwrap_or(0);
    match (byte(0), byte(2)) {
        (0x42, iop) if iop & 0x40 != 0 => 2,
        (0x4d, iop) if iop & 0x80 != 0 => 2,
        (0x42, _) => 1,
        _ => 0,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The codec part of an offer in the shape Chromium makes (audio first, Opus as 111,
    /// VP8 as 96, H.264 in several profiles and packetization modes).
    const BROWSER_OFFER: &str = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
a=group:BUNDLE 0 1\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\n\
a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:63 red/48000/2\r\n\
a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 112 113\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n\
a=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n\
a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n\
a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n\
a=rtpmap:104 H264/90000\r\na=fmtp:104 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f\r\n\
a=rtpmap:105 rtx/90000\r\na=fmtp:105 apt=104\r\n\
a=rtpmap:106 H264/90000\r\na=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
a=rtpmap:107 rtx/90000\r\na=fmtp:107 apt=106\r\n\
a=rtpmap:108 H264/90000\r\na=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
a=rtpmap:109 rtx/90000\r\na=fmtp:109 apt=108\r\n\
a=rtpmap:112 AV1/90000\r\na=rtpmap:113 rtx/90000\r\na=fmtp:113 apt=112\r\n";

    fn parse(sdp: &str) -> gst_sdp::SDPMessage {
        gst::init().unwrap();
        gst_sdp::SDPMessage::parse_buffer(sdp.as_bytes()).unwrap()
    }

    #[test]
    fn the_offers_numbers_are_used() {
        // Baseline with packetization-mode=1 wins over mode 0 and over High profile; Opus
        // is 111 although 97 is the offer's VP8 retransmission format.
        assert_eq!(
            offered_payloads(&parse(BROWSER_OFFER)),
            (Some(106), Some(111))
        );
        // Constrained baseline wins over plain baseline whichever comes first (Chromium
        // lists 42001f before 42e01f).
        let baseline_first = BROWSER_OFFER
            .replace("42001f", "TMP")
            .replace("42e01f", "42001f")
            .replace("TMP", "42e01f");
        assert_eq!(
            offered_payloads(&parse(&baseline_first)),
            (Some(108), Some(111))
        );
        // Our own viewer's numbers.
        let ours = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 97\r\na=rtpmap:97 OPUS/48000/2\r\n";
        assert_eq!(offered_payloads(&parse(ours)), (Some(96), Some(97)));
        // No H.264 or Opus offered: nothing to follow.
        let vp8 = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        assert_eq!(offered_payloads(&parse(vp8)), (None, None));
    }

    /// Found by the `offer_sdp` fuzz target (fuzz/corpus/offer_sdp/crash-payload-217): an
    /// offer's `a=rtpmap:217 h264/90000` was chosen as the video payload number, and the
    /// camera's `rtph264pay` (`pt`: 0–127) panicked when the session set it.
    #[test]
    fn numbers_above_127_are_no_payload_types() {
        let sdp = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
m=video 9 RTP/AVP 100 217\r\na=rtpmap:217 h264/90000\r\n\
a=fmtp:217 packetization-mode=1;profile-level-id=42e01f\r\na=rtpmap:100 H264/90000\r\n\
m=audio 9 RTP/AVP 300 111\r\na=rtpmap:300 opus/48000/2\r\na=rtpmap:4294967295 opus/48000/2\r\n";
        assert_eq!(offered_payloads(&parse(sdp)), (Some(100), None));
        let only_large = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
m=video 9 RTP/AVP 128\r\na=rtpmap:128 H264/90000\r\n";
        assert_eq!(offered_payloads(&parse(only_large)), (None, None));
    }
}
