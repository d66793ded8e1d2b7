//! The viewer's receive/talk pipeline, and its peer connection, which can be replaced.
//!
//! ```text
//!                    ┌─► (video pad) rtph264depay ─► h264parse ─► avdec_h264 ─► videoconvert ─► [probe: frames] ─► caller's video sink
//!  webrtcbin-<gen> ──┤
//!  (latency)         └─► (audio pad) rtpopusdepay ─► opusdec ─► audioconvert ─► audioresample ─► caller's audio sink | fakesink
//!  caller's talk source ─► audioconvert ─► audioresample ─► opusenc ─► rtpopuspay pt=97 ─► valve (closed until talk) ─► webrtcbin-<gen>
//! ```
//!
//! Video is a `recvonly` transceiver; audio is `sendrecv` when the caller gives a talk
//! source (the valve keeps the track silent until talk starts) and `recvonly` otherwise.
//!
//! Loss: the depayloader asks for a keyframe (a PLI or FIR) when a packet is lost, so a
//! damaged picture is repaired at once rather than at the next scheduled keyframe. (NACK
//! and RTX are not on: with them, two-way talk stopped reaching the camera on GStreamer
//! 1.22 — see docs/signalling.md §6.3.)
//!
//! The decode chains and the talk chain belong to the pipeline; the `webrtcbin` between
//! them belongs to one negotiation. `webrtcbin` (GStreamer 1.22) cannot restart ICE — it
//! ignores `create-offer`'s options and reuses its ICE credentials — so a restart
//! ([`super::session`]) takes the peer out ([`Built::remove_peer`]) and puts a fresh one
//! in ([`Built::add_peer`]) whose pads are linked to the chains that are already there:
//! the caller's sinks, and the picture on screen, stay.
//!
//! [`FrameWatch`] stamps every decoded frame (for the stall check) and tells the session
//! of the first one after it was armed (the first frame, or the first after a restart).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_webrtc as gst_webrtc;

use super::ViewerError;

fn make(factory: &str) -> Result<gst::Element, ViewerError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| ViewerError::Media(format!("GStreamer element {factory} is missing")))
}

fn perr(e: impl std::fmt::Display) -> ViewerError {
    ViewerError::Media(e.to_string())
}

/// The decoded frames: when the last one came, and a one-shot call for the next one.
pub(super) struct FrameWatch {
    /// Unix ms of the last decoded frame (0: none yet).
    last_ms: AtomicI64,
    armed: AtomicBool,
    on_frame: Box<dyn Fn() + Send + Sync>,
}

impl FrameWatch {
    fn new(on_frame: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            last_ms: AtomicI64::new(0),
            armed: AtomicBool::new(true),
            on_frame: Box::new(on_frame),
        }
    }

    /// Call back on the next decoded frame.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Unix ms of the last decoded frame, if any came.
    pub fn last_ms(&self) -> Option<i64> {
        Some(self.last_ms.load(Ordering::Relaxed)).filter(|ms| *ms > 0)
    }

    fn frame(&self) {
        self.last_ms
            .store(eyrie_protocol::clock::unix_ms(), Ordering::Relaxed);
        if self.armed.swap(false, Ordering::SeqCst) {
            (self.on_frame)();
        }
    }
}

/// The caller's sinks until their chain is built, then the chain's first element.
#[derive(Default)]
struct Chains {
    video_sink: Option<gst::Element>,
    audio_sink: Option<Option<gst::Element>>,
    video_head: Option<gst::Element>,
    audio_head: Option<gst::Element>,
}

pub(super) struct Built {
    pub pipeline: gst::Pipeline,
    pub talk_valve: Option<gst::Element>,
    pub frames: Arc<FrameWatch>,
    chains: Arc<Mutex<Chains>>,
    latency_ms: u32,
}

pub(super) fn build(
    latency_ms: u32,
    video_sink: gst::Element,
    audio_sink: Option<gst::Element>,
    talk_source: Option<gst::Element>,
    on_frame: impl Fn() + Send + Sync + 'static,
) -> Result<Built, ViewerError> {
    gst::init().map_err(perr)?;
    crate::rtc::prewarm_dtls();
    let pipeline = gst::Pipeline::with_name("eyrie-viewer");
    let talk_valve = match talk_source {
        Some(src) => {
            let conv = make("audioconvert")?;
            let res = make("audioresample")?;
            let enc = make("opusenc")?;
            enc.set_property_from_str("frame-size", "20");
            let pay = make("rtpopuspay")?;
            pay.set_property("pt", 97u32);
            let valve = make("valve")?;
            valve.set_property("drop", true);
            let caps = make("capsfilter")?;
            caps.set_property("caps", audio_caps());
            let chain = [&src, &conv, &res, &enc, &pay, &caps, &valve];
            pipeline.add_many(chain).map_err(perr)?;
            gst::Element::link_many(chain).map_err(perr)?;
            Some(valve)
        }
        None => None,
    };
    Ok(Built {
        pipeline,
        talk_valve,
        frames: Arc::new(FrameWatch::new(on_frame)),
        chains: Arc::new(Mutex::new(Chains {
            video_sink: Some(video_sink),
            audio_sink: Some(audio_sink),
            ..Default::default()
        })),
        latency_ms,
    })
}

fn video_caps() -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field("media", "video")
        .field("encoding-name", "H264")
        .field("payload", 96i32)
        .field("clock-rate", 90_000i32)
        .field("packetization-mode", "1")
        .field("profile-level-id", "42e01f")
        .build()
}

fn audio_caps() -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field("media", "audio")
        .field("encoding-name", "OPUS")
        .field("payload", 97i32)
        .field("clock-rate", 48_000i32)
        .build()
}

impl Built {
    /// A new `webrtcbin` named `name` with these ICE servers, in the pipeline, its
    /// transceivers made, the talk chain feeding it and its pads feeding the decode
    /// chains. The previous peer must be removed first ([`Built::remove_peer`]). In sync
    /// with the pipeline's state when it returns.
    pub fn add_peer(
        &self,
        name: &str,
        stun: Option<&str>,
        turn: &[String],
    ) -> Result<gst::Element, ViewerError> {
        let webrtc = crate::rtc::make_webrtcbin(name, stun, turn, self.latency_ms).map_err(perr)?;
        self.pipeline.add(&webrtc).map_err(perr)?;
        webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
            "add-transceiver",
            &[
                &gst_webrtc::WebRTCRTPTransceiverDirection::Recvonly,
                &video_caps(),
            ],
        );
        match &self.talk_valve {
            Some(valve) => valve
                .link_pads(None, &webrtc, Some("sink_1"))
                .map_err(perr)?,
            None => {
                webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
                    "add-transceiver",
                    &[
                        &gst_webrtc::WebRTCRTPTransceiverDirection::Recvonly,
                        &audio_caps(),
                    ],
                );
            }
        }
        let pl = self.pipeline.downgrade();
        let chains = self.chains.clone();
        let frames = self.frames.clone();
        webrtc.connect_pad_added(move |_, pad| {
            let Some(pipeline) = pl.upgrade() else { return };
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            let media = pad
                .current_caps()
                .and_then(|c| c.structure(0).and_then(|s| s.get::<String>("media").ok()))
                .unwrap_or_default();
            let mut guard = chains.lock().unwrap_or_else(|e| e.into_inner());
            let c = &mut *guard;
            let result = match media.as_str() {
                "video" => {
                    if let Some(head) = c.video_head.clone() {
                        relink(pad, &head)
                    } else if let Some(sink) = c.video_sink.take() {
                        link_video(&pipeline, pad, &sink, frames.clone())
                            .map(|head| c.video_head = Some(head))
                    } else {
                        Ok(())
                    }
                }
                "audio" => {
                    if let Some(head) = c.audio_head.clone() {
                        relink(pad, &head)
                    } else if let Some(sink) = c.audio_sink.take() {
                        link_audio(&pipeline, pad, sink).map(|head| c.audio_head = Some(head))
                    } else {
                        Ok(())
                    }
                }
                _ => Ok(()),
            };
            if let Err(e) = result {
                tracing::warn!("viewer: cannot link {media}: {e}");
            }
        });
        webrtc.sync_state_with_parent().map_err(perr)?;
        Ok(webrtc)
    }

    /// Take `webrtc` out of the pipeline: stopped, its pads unlinked from the chains
    /// (which wait, linked to nothing, for the next peer's pads).
    pub fn remove_peer(&self, webrtc: &gst::Element) {
        let _ = webrtc.set_state(gst::State::Null);
        let _ = self.pipeline.remove(webrtc);
    }
}

/// A new peer's pad into a chain that is already built.
fn relink(pad: &gst::Pad, head: &gst::Element) -> Result<(), ViewerError> {
    let sinkpad = head
        .static_pad("sink")
        .ok_or_else(|| perr("depayloader has no sink"))?;
    if let Some(peer) = sinkpad.peer() {
        let _ = peer.unlink(&sinkpad);
    }
    pad.link(&sinkpad).map_err(perr)?;
    Ok(())
}

/// The video chain from `pad` to `sink`; returns its first element.
fn link_video(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    sink: &gst::Element,
    frames: Arc<FrameWatch>,
) -> Result<gst::Element, ViewerError> {
    let depay = make("rtph264depay")?;
    // A lost packet damages the picture until the next keyframe: ask for one (PLI) at once.
    depay.set_property("request-keyframe", true);
    let parse = make("h264parse")?;
    let dec = make("avdec_h264")?;
    let conv = make("videoconvert")?;
    if let Some(src) = conv.static_pad("src") {
        src.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            frames.frame();
            gst::PadProbeReturn::Ok
        });
    }
    attach_chain(pipeline, pad, &[&depay, &parse, &dec, &conv, sink])?;
    Ok(depay)
}

/// Add `chain` (a depayloader first) to the running `pipeline`, link it, start it sink
/// first, and feed it from `pad`.
fn attach_chain(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    chain: &[&gst::Element],
) -> Result<(), ViewerError> {
    pipeline.add_many(chain).map_err(perr)?;
    gst::Element::link_many(chain).map_err(perr)?;
    for e in chain.iter().rev() {
        e.sync_state_with_parent().map_err(perr)?;
    }
    let sinkpad = chain[0]
        .static_pad("sink")
        .ok_or_else(|| perr("depayloader has no sink"))?;
    pad.link(&sinkpad).map_err(perr)?;
    Ok(())
}

/// The audio chain from `pad` to `sink` (a fakesink without one); its first element.
fn link_audio(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    sink: Option<gst::Element>,
) -> Result<gst::Element, ViewerError> {
    let depay = make("rtpopusdepay")?;
    let dec = make("opusdec")?;
    let conv = make("audioconvert")?;
    let res = make("audioresample")?;
    let sink = match sink {
        Some(s) => s,
        None => {
            let s = make("fakesink")?;
            s.set_property("sync", false);
            s
        }
    };
    attach_chain(pipeline, pad, &[&depay, &dec, &conv, &res, &sink])?;
    Ok(depay)
}
