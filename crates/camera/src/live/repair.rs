//! Repairing a viewer's picture after loss, the camera's half.
//!
//! ```text
//!  viewer: jitterbuffer gap ─► NACK ─────────────► camera: rtprtxsend resends the packet (RTX)
//!          unrepaired gap ─► rtph264depay request-keyframe ─► PLI
//!                                                  camera: rtpsession ─► upstream GstForceKeyUnit
//!      ─► webrtcbin sink ─► capsfilter ─► rtph264pay ─► appsrc "video" src pad: [probe] ─► FeedCmd::Keyframe
//!      ─► feeder ─► KeyframeRequests::request(current stream) ─► x264enc: next frame IDR
//! ```
//!
//! Retransmission is `webrtcbin`'s own once the video transceiver has `do-nack` (set in
//! `session::build`; the viewer offers `rtx` and the answer keeps it). A keyframe request,
//! though, ends at the session's `appsrc`, which has no encoder behind it: the frames come
//! from the shared ring. The probe here catches it there and hands it to the feeder,
//! which knows which stream the session is on and asks that encoder
//! ([`crate::capture::KeyframeRequests`], at most one keyframe per encoder per 500 ms).

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::session::FeedCmd;

/// Turns every force-key-unit event arriving from downstream at `video`'s source pad into
/// a [`FeedCmd::Keyframe`] for the session's feeder; the event itself stops there.
pub(super) fn forward_keyframe_requests(
    video: &gst_app::AppSrc,
    feed: tokio::sync::mpsc::UnboundedSender<FeedCmd>,
) {
    let Some(pad) = video.static_pad("src") else {
        return;
    };
    pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        let Some(gst::PadProbeData::Event(event)) = &info.data else {
            return gst::PadProbeReturn::Ok;
        };
        if !gst_video::ForceKeyUnitEvent::is(event) {
            return gst::PadProbeReturn::Ok;
        }
        tracing::debug!("the viewer asked for a keyframe");
        let _ = feed.send(FeedCmd::Keyframe);
        gst::PadProbeReturn::Drop
    });
}
