//! Keyframes on request: a live session whose viewer lost part of a picture (its
//! `webrtcbin` sent a PLI) or that switches to the other stream asks for the next frame of
//! that stream to be a keyframe, instead of waiting out the keyframe interval.
//!
//! The encoders are shared — every viewer and the recorder read the same rings — so a
//! request forces a keyframe for all of them. That costs bits on every reader, so each
//! encoder honours at most one request per [`MIN_INTERVAL`]: five viewers on a lossy
//! network cannot turn the stream into keyframes only. The recorder does not mind extra
//! keyframes (it cuts at the first one past the segment length).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_video as gst_video;

use eyrie_protocol::signalling::Stream;

/// Requests closer together than this are merged into the one before.
pub const MIN_INTERVAL: Duration = Duration::from_millis(500);

struct Encoder {
    stream: Stream,
    element: gst::glib::WeakRef<gst::Element>,
    last: Option<Instant>,
    /// A request came too soon after the last keyframe and waits for its turn.
    deferred: bool,
}

/// Asks the main or sub encoder for a keyframe. Cheap to clone; empty (requests do
/// nothing) until the capture pipeline registers its encoders.
#[derive(Clone, Default)]
pub struct KeyframeRequests {
    encoders: Arc<Mutex<Vec<Encoder>>>,
}

impl std::fmt::Debug for KeyframeRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyframeRequests").finish_non_exhaustive()
    }
}

impl KeyframeRequests {
    pub(super) fn register(&self, stream: Stream, encoder: &gst::Element) {
        self.lock().push(Encoder {
            stream,
            element: encoder.downgrade(),
            last: None,
            deferred: false,
        });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Encoder>> {
        self.encoders
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next frame of `stream` is to be a keyframe (with SPS/PPS). A request less
    /// than [`MIN_INTERVAL`] after the last one is not dropped — the picture it repairs
    /// stays frozen until a keyframe comes — but deferred to the end of the interval;
    /// more requests meanwhile join it. Returns whether the encoder was asked now.
    pub fn request(&self, stream: Stream) -> bool {
        let now = Instant::now();
        let element = {
            let mut encoders = self.lock();
            let Some(e) = encoders.iter_mut().find(|e| e.stream == stream) else {
                return false;
            };
            if let Some(last) = e.last
                && now.duration_since(last) < MIN_INTERVAL
            {
                if !e.deferred {
                    e.deferred = true;
                    let wait = MIN_INTERVAL - now.duration_since(last);
                    let this = self.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(wait);
                        if let Some(e) = this.lock().iter_mut().find(|e| e.stream == stream) {
                            e.deferred = false;
                            e.last = None;
                        }
                        this.request(stream);
                    });
                }
                return false;
            }
            e.last = Some(now);
            e.element.upgrade()
        };
        let Some(element) = element else {
            return false;
        };
        // An upstream event sent to the element arrives on its source pad, as one from
        // downstream would; the video encoder base class turns it into a forced IDR.
        let event = gst_video::UpstreamForceKeyUnitEvent::builder()
            .all_headers(true)
            .build();
        let sent = element.send_event(event);
        tracing::debug!(?stream, sent, "keyframe requested");
        sent
    }
}
