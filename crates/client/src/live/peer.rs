//! One peer connection's part of the session: its `webrtcbin`'s candidates, connection
//! state and offer, handed to the session task tagged with the peer's generation (0 for
//! the session's first, then one more for each restart), so that whatever a replaced
//! peer still says on its way out is told apart and dropped.
//!
//! ```text
//!   webrtcbin-<generation> ── on-ice-candidate ──────► Internal::LocalCandidate(generation, …)
//!                   ── connection-state ──────► Internal::Connected(generation) / Failed(generation, …)
//!                   ── create-offer ─ set-local-description ─► Internal::Offer(generation, sdp)
//! ```

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;
use tokio::sync::mpsc;

use super::session::Internal;

/// Follow `webrtc` (generation `generation`) and make its offer.
pub(super) fn start(webrtc: &gst::Element, generation: u32, itx: &mpsc::UnboundedSender<Internal>) {
    let tx = itx.clone();
    eyrie_rtc::rtc::on_ice_candidate(webrtc, move |mline, cand| {
        let _ = tx.send(Internal::LocalCandidate(generation, mline, cand));
    });
    let tx = itx.clone();
    webrtc.connect_notify(Some("connection-state"), move |w, _| {
        let state = w.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
        match state {
            gst_webrtc::WebRTCPeerConnectionState::Connected => {
                let _ = tx.send(Internal::Connected(generation));
            }
            gst_webrtc::WebRTCPeerConnectionState::Failed => {
                let _ = tx.send(Internal::Failed(
                    generation,
                    "ICE/DTLS connection failed".into(),
                ));
            }
            _ => {}
        }
    });
    let tx = itx.clone();
    let w = webrtc.downgrade();
    let on_offer = gst::Promise::with_change_func(move |reply| {
        let Some(webrtc) = w.upgrade() else { return };
        let offer = match reply {
            Ok(Some(r)) => r.get::<gst_webrtc::WebRTCSessionDescription>("offer").ok(),
            _ => None,
        };
        match offer {
            Some(offer) => {
                webrtc
                    .emit_by_name::<()>("set-local-description", &[&offer, &None::<gst::Promise>]);
                let sdp = offer
                    .sdp()
                    .as_text()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                let _ = tx.send(Internal::Offer(generation, sdp));
            }
            None => {
                let _ = tx.send(Internal::Failed(generation, format!("no offer: {reply:?}")));
            }
        }
    });
    webrtc.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &on_offer]);
}
