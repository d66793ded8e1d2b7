//! `offer_sdp`: the SDP of an offer as the camera handles it (`crates/camera/src/live/
//! offer.rs`, `LiveManager::accept`), in the same order: the DTLS fingerprint
//! ([`sdp_fingerprint`]) the offer proof binds, GStreamer's parse into the description
//! `webrtcbin` is given ([`eyrie_rtc::rtc::description`]), then the payload numbers the
//! answer and the session's payloaders use ([`eyrie_rtc::rtc::offered_payloads`]). The
//! SDP reaches the camera from whoever holds a ticket (the signalling checks have only
//! bounded its size), so any UTF-8 of up to 48 KiB is fair.
//!
//! Trickled candidates are not parsed by the camera: they go to `webrtcbin` as they
//! came (after the signalling checks of [`crate::signalling`]).
//!
//! Oracles:
//! - no panic, in Rust or in GStreamer's parser;
//! - the fingerprint is a trimmed piece of the SDP, and an offer proof made over it
//!   verifies, and fails over any other fingerprint;
//! - a description is only made of an SDP with media;
//! - a payload number chosen is a valid RTP payload type (0–127: the payloaders'
//!   `pt` property refuses anything above, and setting it would panic the camera), and
//!   names an `rtpmap` of that media kind with that codec.
//!
//! (GStreamer's own text of a malformed SDP does not always parse back to the same
//! text — an `m=` line without a kind becomes `m=0`, then `m=` — so round trips through
//! its text are no oracle: the camera hands `webrtcbin` the parsed message, never text.)

use eyrie_protocol::signalling::{MAX_SDP_BYTES, offer_proof, sdp_fingerprint, verify_offer_proof};
use gstreamer_webrtc as gst_webrtc;

use crate::signalling::{K, SID};

/// One fuzz input; panics on a finding.
pub fn check(data: &[u8]) {
    let sdp = String::from_utf8_lossy(data);
    if sdp.is_empty() || sdp.len() > MAX_SDP_BYTES {
        // The signalling layer refuses these before the camera looks.
        return;
    }
    gstreamer::init().expect("GStreamer initialises");
    if let Some(fp) = sdp_fingerprint(&sdp) {
        assert_eq!(fp, fp.trim(), "fingerprint not trimmed");
        assert!(sdp.contains(fp), "fingerprint not from the SDP");
        let proof = offer_proof(&K, SID, fp);
        assert!(verify_offer_proof(&K, SID, fp, &proof));
        let other = format!("{fp}0");
        assert!(
            !verify_offer_proof(&K, SID, &other, &proof),
            "proof binds no fingerprint"
        );
    }
    let Ok(desc) = eyrie_rtc::rtc::description(gst_webrtc::WebRTCSDPType::Offer, &sdp) else {
        return;
    };
    let msg = desc.sdp();
    assert!(msg.medias_len() > 0, "a description without media");
    let (video, audio) = eyrie_rtc::rtc::offered_payloads(msg);
    for (pt, kind, codec) in [(video, "video", "h264/"), (audio, "audio", "opus/48000")] {
        let Some(pt) = pt else { continue };
        assert!(
            pt <= 127,
            "{kind} payload number {pt} is not an RTP payload type"
        );
        let named = msg.medias().any(|m| {
            m.media() == Some(kind)
                && m.attributes().any(|a| {
                    a.key() == "rtpmap"
                        && a.value().is_some_and(|v| {
                            let mut p = v.split_whitespace();
                            p.next().and_then(|n| n.parse::<u32>().ok()) == Some(pt)
                                && p.next()
                                    .is_some_and(|c| c.to_ascii_lowercase().starts_with(codec))
                        })
                })
        });
        assert!(named, "{kind} payload number {pt} names no {codec} rtpmap");
    }
    // What webrtcbin writes back of it (answers, logs) must not fail on it either.
    let _ = msg.as_text();
}

/// Seeds: the Chromium-shaped offer of the camera's interop test, the viewer's own
/// offer shape, and a few near misses.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let chromium = include_str!("../../crates/camera/tests/it/chromium-offer.sdp");
    let ours = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE video0 audio1\r\n\
m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=setup:actpass\r\na=ice-ufrag:abcd\r\n\
a=ice-pwd:0123456789abcdef01234567\r\na=mid:video0\r\na=rtcp-mux\r\na=recvonly\r\n\
a=fingerprint:sha-256 0B:30:55:7A:9F:C4:E9:0E:33:58:7D:A2:C7:EC:11:36:5B:80:A5:CA:EF:14:39:5E:83:A8:CD:F2:17:3C:61:86\r\n\
a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;profile-level-id=42e01f\r\n\
m=audio 9 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 0.0.0.0\r\na=mid:audio1\r\na=sendrecv\r\n\
a=rtpmap:97 OPUS/48000/2\r\n";
    vec![
        (
            "chromium-offer".into(),
            chromium.replace('\n', "\r\n").into_bytes(),
        ),
        ("chromium-offer-lf".into(), chromium.as_bytes().to_vec()),
        ("eyrie-viewer-offer".into(), ours.as_bytes().to_vec()),
        (
            "no-media".into(),
            b"v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AB\r\n"
                .to_vec(),
        ),
        (
            "mode0-high".into(),
            b"v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 RTP/AVP 100 101\r\n\
a=rtpmap:100 H264/90000\r\na=fmtp:100 profile-level-id=640c1f\r\na=rtpmap:101 h264/90000\r\n\
a=fmtp:101 packetization-mode=1;profile-level-id=4d801f\r\nm=audio 9 RTP/AVP 111\r\n\
a=rtpmap:111 opus/48000/2\r\n"
                .to_vec(),
        ),
    ]
}
