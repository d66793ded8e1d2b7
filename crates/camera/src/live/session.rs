//! One live session: a `webrtcbin` fed from the rings, and the talk-back branch.
//!
//! ```text
//!  RingReader(main|sub) ─► feeder task ─► appsrc "video" (H.264 AU, do-timestamp)
//!       ─► rtph264pay config-interval=-1 aggregate-mode=zero-latency ─► caps(the offer's H.264 pt) ─► webrtcbin
//!  RingReader(audio)    ─► feeder task ─► appsrc "audio" (Opus) ─► rtpopuspay ─► caps(the offer's Opus pt) ─► webrtcbin
//!  webrtcbin src (viewer's audio) ─► queue leaky ─► rtpopusdepay ─► opusdec ─► audioconvert
//!       ─► audioresample ─► valve (open only while talking) ─► level ─► speaker sink
//! ```
//!
//! The appsrcs are linked before the viewer's offer is applied, so `webrtcbin` pairs
//! their transceivers with the offer's video and audio m-lines by kind. The feeder task
//! starts its video reader at the newest keyframe so the viewer's first frame decodes at
//! once; it timestamps on push (`do-timestamp`), so the backlog since that keyframe goes
//! out as one short burst and live frames follow. Switching SD/HD swaps the reader for
//! one on the other ring and waits for that ring's next keyframe: SPS/PPS travel in band
//! (`config-interval=-1`), so the viewer's decoder follows without renegotiation.
//!
//! Nothing here ever blocks a streaming thread: the feeder is an async task, the appsrc
//! queues are bounded and leaky, and talk audio crosses a leaky queue before the sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_webrtc as gst_webrtc;

use eyrie_protocol::signalling::Stream;

use super::{LiveError, LiveEvent};
use crate::capture::Rings;
use crate::ring::{RingReader, StartAt};

/// What a feeder task is told.
#[derive(Debug)]
pub(super) enum FeedCmd {
    SetStream(Stream),
    Audio(bool),
    /// The viewer lost part of a picture (a PLI): a keyframe of the current stream.
    Keyframe,
}

pub(super) fn make(factory: &str) -> Result<gst::Element, LiveError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| LiveError::MissingElement(factory.into()))
}

/// A capsfilter that fixes the RTP caps a payloader sends: `media`, `encoding`, payload
/// type `pt` (the one the offer chose) and clock rate.
fn rtp_capsfilter(
    media: &str,
    encoding: &str,
    pt: u32,
    clock_rate: i32,
) -> Result<gst::Element, LiveError> {
    let mut caps = gst::Caps::builder("application/x-rtp")
        .field("media", media)
        .field("encoding-name", encoding)
        .field("payload", pt as i32)
        .field("clock-rate", clock_rate);
    if encoding == "OPUS" {
        // RFC 7587: Opus is always `opus/48000/2` in the SDP, whatever is sent. Without
        // it here, an answer made before the payloader's own caps reached webrtcbin said
        // `OPUS/48000` — which strict peers refuse.
        caps = caps.field("encoding-params", "2");
    }
    let caps = caps.build();
    let filter = make("capsfilter")?;
    filter.set_property("caps", caps);
    Ok(filter)
}

/// The media side of a session.
pub(super) struct Media {
    pub pipeline: gst::Pipeline,
    pub webrtc: gst::Element,
    pub talk_valve: gst::Element,
    pub feed: tokio::sync::mpsc::UnboundedSender<FeedCmd>,
    pub feeder: tokio::task::JoinHandle<()>,
    /// Unix ms of the last frame pushed to the viewer.
    pub last_data_ms: Arc<AtomicI64>,
}

impl Drop for Media {
    fn drop(&mut self) {
        self.feeder.abort();
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// How talk audio leaves the camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Speaker {
    /// `autoaudiosink` (the default sound card).
    Auto,
    /// Decode and measure, play nowhere (headless machines, tests).
    None,
}

/// Payload numbers used when the offer does not name H.264 or Opus.
pub(super) const VIDEO_PT: u32 = 96;
pub(super) const AUDIO_PT: u32 = 97;

pub(super) struct MediaParams<'a> {
    pub session_id: &'a str,
    /// The offer's payload number for H.264 (the answer must use it).
    pub video_pt: u32,
    /// The offer's payload number for Opus.
    pub audio_pt: u32,
    pub rings: &'a Rings,
    pub stream: Stream,
    pub audio: bool,
    pub ice: super::IceUrls,
    pub speaker: &'a Speaker,
    pub events: tokio::sync::broadcast::Sender<LiveEvent>,
}

pub(super) fn build(p: MediaParams<'_>) -> Result<Media, LiveError> {
    let pipeline = gst::Pipeline::with_name(&format!("live-{}", p.session_id));
    let webrtc = eyrie_rtc::rtc::make_webrtcbin("webrtc", p.ice.stun.as_deref(), &p.ice.turn, 50)
        .map_err(|e| LiveError::MissingElement(e.to_string()))?;

    let vsrc = gst_app::AppSrc::builder()
        .name("video")
        .is_live(true)
        .format(gst::Format::Time)
        .do_timestamp(true)
        .max_bytes(4 * 1024 * 1024)
        .leaky_type(gst_app::AppLeakyType::Downstream)
        .caps(
            &gst::Caps::builder("video/x-h264")
                .field("stream-format", "byte-stream")
                .field("alignment", "au")
                .build(),
        )
        .build();
    let vpay = make("rtph264pay")?;
    vpay.set_property("config-interval", -1i32);
    vpay.set_property_from_str("aggregate-mode", "zero-latency");
    vpay.set_property("pt", p.video_pt);
    let vcaps = rtp_capsfilter("video", "H264", p.video_pt, 90_000)?;
    let asrc = gst_app::AppSrc::builder()
        .name("audio")
        .is_live(true)
        .format(gst::Format::Time)
        .do_timestamp(true)
        .max_bytes(256 * 1024)
        .leaky_type(gst_app::AppLeakyType::Downstream)
        .caps(
            &gst::Caps::builder("audio/x-opus")
                .field("channel-mapping-family", 0i32)
                .field("rate", 48_000i32)
                .field("channels", 1i32)
                .build(),
        )
        .build();
    let apay = make("rtpopuspay")?;
    apay.set_property("pt", p.audio_pt);
    let acaps = rtp_capsfilter("audio", "OPUS", p.audio_pt, 48_000)?;
    pipeline
        .add_many([
            vsrc.upcast_ref(),
            &vpay,
            &vcaps,
            asrc.upcast_ref(),
            &apay,
            &acaps,
            &webrtc,
        ])
        .map_err(|e| LiveError::Pipeline(e.to_string()))?;
    gst::Element::link_many([vsrc.upcast_ref(), &vpay, &vcaps])
        .and_then(|()| gst::Element::link_many([asrc.upcast_ref(), &apay, &acaps]))
        .map_err(|e| LiveError::Pipeline(e.to_string()))?;
    vcaps
        .link_pads(None, &webrtc, Some("sink_0"))
        .and_then(|()| acaps.link_pads(None, &webrtc, Some("sink_1")))
        .map_err(|e| LiveError::Pipeline(e.to_string()))?;
    // The camera sends video only; it sends and receives audio (talk).
    if let Some(t) =
        webrtc.emit_by_name::<Option<gst_webrtc::WebRTCRTPTransceiver>>("get-transceiver", &[&0i32])
    {
        t.set_direction(gst_webrtc::WebRTCRTPTransceiverDirection::Sendonly);
    }

    let talk_valve = build_talk_branch(&pipeline, &webrtc, p.speaker, p.session_id, p.events)?;

    let (feed, rx) = tokio::sync::mpsc::unbounded_channel();
    super::repair::forward_keyframe_requests(&vsrc, feed.clone());
    let last_data_ms = Arc::new(AtomicI64::new(eyrie_protocol::clock::unix_ms()));
    let feeder = tokio::spawn(feed_task(
        p.rings.clone(),
        vsrc,
        asrc,
        p.stream,
        p.audio,
        rx,
        last_data_ms.clone(),
    ));
    Ok(Media {
        pipeline,
        webrtc,
        talk_valve,
        feed,
        feeder,
        last_data_ms,
    })
}

fn build_talk_branch(
    pipeline: &gst::Pipeline,
    webrtc: &gst::Element,
    speaker: &Speaker,
    session_id: &str,
    events: tokio::sync::broadcast::Sender<LiveEvent>,
) -> Result<gst::Element, LiveError> {
    let queue = make("queue")?;
    queue.set_property_from_str("leaky", "downstream");
    queue.set_property("max-size-time", 200_000_000u64);
    queue.set_property("max-size-buffers", 0u32);
    queue.set_property("max-size-bytes", 0u32);
    let depay = make("rtpopusdepay")?;
    let dec = make("opusdec")?;
    let conv = make("audioconvert")?;
    let res = make("audioresample")?;
    let valve = make("valve")?;
    valve.set_property("drop", true);
    let level = make("level")?;
    level.set_property("interval", 100_000_000u64);
    level.set_property("post-messages", true);
    let sink = match speaker {
        Speaker::Auto => make("autoaudiosink")?,
        Speaker::None => make("fakesink")?,
    };
    sink.set_property("sync", false);
    sink.set_property("async", false);
    let chain = [&queue, &depay, &dec, &conv, &res, &valve, &level, &sink];
    pipeline
        .add_many(chain)
        .map_err(|e| LiveError::Pipeline(e.to_string()))?;
    gst::Element::link_many(chain).map_err(|e| LiveError::Pipeline(e.to_string()))?;
    for e in chain {
        e.set_locked_state(false);
    }
    // The viewer's audio track appears as a src pad once media flows.
    let qsink = queue.static_pad("sink").expect("queue has a sink pad");
    let sid = session_id.to_owned();
    webrtc.connect_pad_added(move |_, pad| {
        if pad.direction() != gst::PadDirection::Src || qsink.is_linked() {
            return;
        }
        let is_audio = pad
            .current_caps()
            .and_then(|c| c.structure(0).and_then(|s| s.get::<String>("media").ok()))
            .is_some_and(|m| m == "audio");
        if is_audio {
            if let Err(e) = pad.link(&qsink) {
                tracing::warn!(session = %sid, "talk audio not linked: {e:?}");
            } else {
                tracing::debug!(session = %sid, "talk back-channel linked");
            }
        }
    });
    // Level messages while talking → events (a test hook and a UI meter).
    if let Some(bus) = pipeline.bus() {
        let sid = session_id.to_owned();
        let level_name = level.name();
        bus.set_sync_handler(move |_, msg| {
            match msg.view() {
                gst::MessageView::Element(el)
                    if msg.src().is_some_and(|s| s.name() == level_name) =>
                {
                    if let Some(s) = el.structure()
                        && let Ok(rms) = s.get::<glib::ValueArray>("rms")
                        && let Some(db) = rms.iter().filter_map(|v| v.get::<f64>().ok()).reduce(f64::max)
                    {
                        let _ = events.send(LiveEvent::TalkLevel {
                            session_id: sid.clone(),
                            rms_db: db,
                        });
                    }
                }
                gst::MessageView::Error(e) => {
                    tracing::warn!(session = %sid, "live pipeline error: {} ({:?})", e.error(), e.debug());
                }
                _ => {}
            }
            gst::BusSyncReply::Drop
        });
    }
    Ok(valve)
}

async fn feed_task(
    rings: Rings,
    vsrc: gst_app::AppSrc,
    asrc: gst_app::AppSrc,
    mut stream: Stream,
    mut audio_on: bool,
    mut cmds: tokio::sync::mpsc::UnboundedReceiver<FeedCmd>,
    last_data_ms: Arc<AtomicI64>,
) {
    let ring_for = |s: Stream| match s {
        Stream::Hd => rings.main.clone(),
        Stream::Sd => rings.sub.clone(),
    };
    let mut video: RingReader = ring_for(stream).reader(StartAt::NewestKeyframe);
    // Video is timestamped on push, so the keyframe backlog goes out as one burst and is
    // on time from then on; audio starts with the next packet to stay in step with it.
    let mut audio: RingReader = rings.audio.reader(StartAt::Next);
    let mut wait_keyframe = false;
    loop {
        tokio::select! {
            biased;
            cmd = cmds.recv() => match cmd {
                None => break,
                Some(FeedCmd::SetStream(s)) if s != stream => {
                    stream = s;
                    video = ring_for(s).reader(StartAt::Next);
                    wait_keyframe = true;
                    rings.keyframes.request(s);
                }
                Some(FeedCmd::SetStream(_)) => {}
                Some(FeedCmd::Audio(on)) => audio_on = on,
                Some(FeedCmd::Keyframe) => { rings.keyframes.request(stream); }
            },
            f = video.next() => {
                let Some(f) = f else { break };
                if wait_keyframe {
                    if !f.keyframe { continue; }
                    wait_keyframe = false;
                }
                if vsrc.push_buffer(gst::Buffer::from_slice(f.data)).is_err() {
                    break;
                }
                last_data_ms.store(eyrie_protocol::clock::unix_ms(), Ordering::Relaxed);
            }
            f = audio.next() => {
                let Some(f) = f else { break };
                if audio_on && asrc.push_buffer(gst::Buffer::from_slice(f.data)).is_err() {
                    break;
                }
            }
        }
    }
    let _ = vsrc.end_of_stream();
    let _ = asrc.end_of_stream();
}
