//! Privacy mode at the source: while it is on, the picture is replaced by a dark card
//! that says so, and the microphone is muted, before anything is encoded.
//!
//! Doing it here rather than in every consumer means nothing private can leak by a path
//! somebody forgot: live sessions, snapshots and the recorder all read the same rings, and
//! the rings only ever hold the card. Live viewers therefore see the privacy notice
//! instead of the picture with no change to the live side; the recorder additionally
//! pauses (cloud storage), so the card is not recorded either.
//!
//! ```text
//!  capsfilter I420 ─► [probe: blank the frame while private] ─► textoverlay "Privacy mode" (silent unless private) ─► …
//!  audio source ─► volume (mute while private) ─► …
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;

use super::{CaptureError, make};

/// The text live viewers see while privacy mode is on.
pub const PRIVACY_NOTICE: &str = "Privacy mode — this camera is paused";

/// Luma (Y, 0–255) of the card that replaces the picture: a dark grey, unlike any black.
pub const CARD_LUMA: u8 = 48;

/// Switches privacy mode of a running capture. Cheap to clone.
#[derive(Clone)]
pub struct PrivacySwitch {
    on: Arc<AtomicBool>,
    notice: gst::Element,
    mute: gst::Element,
}

impl std::fmt::Debug for PrivacySwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivacySwitch")
            .field("on", &self.is_on())
            .finish()
    }
}

impl PrivacySwitch {
    /// Turn privacy mode on (card + mute) or off (picture and sound again).
    pub fn set(&self, on: bool) {
        if self.on.swap(on, Ordering::SeqCst) != on {
            tracing::info!(on, "privacy mode");
        }
        self.notice.set_property("silent", !on);
        self.mute.set_property("mute", on);
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }
}

/// The elements privacy mode needs: (video element to link after the raw caps, audio
/// element to link after the audio source, the switch).
pub(super) fn elements(
    width: u32,
    height: u32,
) -> Result<(gst::Element, gst::Element, PrivacySwitch), CaptureError> {
    let notice = make("textoverlay")?;
    notice.set_property("text", PRIVACY_NOTICE);
    notice.set_property_from_str("valignment", "center");
    notice.set_property_from_str("halignment", "center");
    notice.set_property("font-desc", "Sans 36");
    notice.set_property("silent", true);
    let mute = make("volume")?;
    let on = Arc::new(AtomicBool::new(false));
    add_blanking_probe(&notice, width, height, on.clone());
    Ok((
        notice.clone(),
        mute.clone(),
        PrivacySwitch { on, notice, mute },
    ))
}

/// Blank every raw frame entering `element` while `on` is set.
fn add_blanking_probe(element: &gst::Element, width: u32, height: u32, on: Arc<AtomicBool>) {
    let Some(pad) = element.static_pad("video_sink") else {
        tracing::warn!("textoverlay has no video_sink pad: privacy blanking unavailable");
        return;
    };
    let info =
        match gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height).build() {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!("privacy blanking unavailable: {e}");
                return;
            }
        };
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, probe| {
        if !on.load(Ordering::Relaxed) {
            return gst::PadProbeReturn::Ok;
        }
        if let Some(gst::PadProbeData::Buffer(buffer)) = probe.data.as_mut() {
            let buf = buffer.make_mut();
            if let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info) {
                for (plane, value) in [(0u32, CARD_LUMA), (1, 128), (2, 128)] {
                    if let Ok(data) = frame.plane_data_mut(plane) {
                        data.fill(value);
                    }
                }
            }
        }
        gst::PadProbeReturn::Ok
    });
}
