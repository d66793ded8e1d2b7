//! The viewer's receive/talk pipeline.
//!
//! ```text
//!                     ┌─► (video pad) rtph264depay ─► h264parse ─► avdec_h264 ─► videoconvert ─► [probe: first frame] ─► caller's video sink
//!  webrtcbin(latency) ┤
//!                     └─► (audio pad) rtpopusdepay ─► opusdec ─► audioconvert ─► audioresample ─► caller's audio sink | fakesink
//!  caller's talk source ─► audioconvert ─► audioresample ─► opusenc ─► rtpopuspay pt=97 ─► valve (closed until talk) ─► webrtcbin
//! ```
//!
//! Video is a `recvonly` transceiver; audio is `sendrecv` when the caller gives a talk
//! source (the valve keeps the track silent until talk starts) and `recvonly` otherwise.
//!
//! Loss: the depayloader asks for a keyframe (a PLI or FIR) when a packet is lost, so a
//! damaged picture is repaired at once rather than at the next scheduled keyframe. (NACK
//! and RTX are not on: with them, two-way talk stopped reaching the camera on GStreamer
//! 1.22 — see docs/signalling.md §6.3.)

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

pub(super) struct Built {
    pub pipeline: gst::Pipeline,
    pub webrtc: gst::Element,
    pub talk_valve: Option<gst::Element>,
}

pub(super) fn build(
    stun: Option<&str>,
    turn: &[String],
    latency_ms: u32,
    video_sink: gst::Element,
    audio_sink: Option<gst::Element>,
    talk_source: Option<gst::Element>,
    on_first_frame: impl Fn() + Send + Sync + 'static,
) -> Result<Built, ViewerError> {
    gst::init().map_err(perr)?;
    crate::rtc::prewarm_dtls();
    let pipeline = gst::Pipeline::with_name("eyrie-viewer");
    let webrtc = crate::rtc::make_webrtcbin("webrtc", stun, turn, latency_ms).map_err(perr)?;
    pipeline.add(&webrtc).map_err(perr)?;

    let video_caps = gst::Caps::builder("application/x-rtp")
        .field("media", "video")
        .field("encoding-name", "H264")
        .field("payload", 96i32)
        .field("clock-rate", 90_000i32)
        .field("packetization-mode", "1")
        .field("profile-level-id", "42e01f")
        .build();
    let audio_caps = gst::Caps::builder("application/x-rtp")
        .field("media", "audio")
        .field("encoding-name", "OPUS")
        .field("payload", 97i32)
        .field("clock-rate", 48_000i32)
        .build();
    webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
        "add-transceiver",
        &[
            &gst_webrtc::WebRTCRTPTransceiverDirection::Recvonly,
            &video_caps,
        ],
    );
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
            caps.set_property("caps", &audio_caps);
            let chain = [&src, &conv, &res, &enc, &pay, &caps, &valve];
            pipeline.add_many(chain).map_err(perr)?;
            gst::Element::link_many(chain).map_err(perr)?;
            valve
                .link_pads(None, &webrtc, Some("sink_1"))
                .map_err(perr)?;
            Some(valve)
        }
        None => {
            webrtc.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
                "add-transceiver",
                &[
                    &gst_webrtc::WebRTCRTPTransceiverDirection::Recvonly,
                    &audio_caps,
                ],
            );
            None
        }
    };

    let pl = pipeline.downgrade();
    let video_sink = std::sync::Mutex::new(Some(video_sink));
    let audio_sink = std::sync::Mutex::new(Some(audio_sink));
    let on_first_frame = std::sync::Arc::new(on_first_frame);
    webrtc.connect_pad_added(move |_, pad| {
        let Some(pipeline) = pl.upgrade() else { return };
        if pad.direction() != gst::PadDirection::Src {
            return;
        }
        let media = pad
            .current_caps()
            .and_then(|c| c.structure(0).and_then(|s| s.get::<String>("media").ok()))
            .unwrap_or_default();
        let result = match media.as_str() {
            "video" => video_sink
                .lock()
                .ok()
                .and_then(|mut s| s.take())
                .map(|sink| link_video(&pipeline, pad, &sink, on_first_frame.clone())),
            "audio" => audio_sink
                .lock()
                .ok()
                .and_then(|mut s| s.take())
                .map(|sink| link_audio(&pipeline, pad, sink)),
            _ => None,
        };
        if let Some(Err(e)) = result {
            tracing::warn!("viewer: cannot link {media}: {e}");
        }
    });
    Ok(Built {
        pipeline,
        webrtc,
        talk_valve,
    })
}

fn link_video(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    sink: &gst::Element,
    on_first_frame: std::sync::Arc<dyn Fn() + Send + Sync>,
) -> Result<(), ViewerError> {
    let depay = make("rtph264depay")?;
    // What NACK could not repair in time: ask the camera for a keyframe (PLI) at once.
    depay.set_property("request-keyframe", true);
    let parse = make("h264parse")?;
    let dec = make("avdec_h264")?;
    let conv = make("videoconvert")?;
    if let Some(src) = conv.static_pad("src") {
        let fired = std::sync::atomic::AtomicBool::new(false);
        src.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            if !fired.swap(true, std::sync::atomic::Ordering::Relaxed) {
                on_first_frame();
            }
            gst::PadProbeReturn::Remove
        });
    }
    attach_chain(pipeline, pad, &[&depay, &parse, &dec, &conv, sink])
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

fn link_audio(
    pipeline: &gst::Pipeline,
    pad: &gst::Pad,
    sink: Option<gst::Element>,
) -> Result<(), ViewerError> {
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
    attach_chain(pipeline, pad, &[&depay, &dec, &conv, &res, &sink])
}
