//! Capture and encode, once for everybody.
//!
//! One GStreamer pipeline takes pictures from the chosen [`Source`], encodes them twice —
//! main (1280×720, ~2 Mbit/s) and sub (640×360, ~500 kbit/s) H.264, constrained baseline
//! so browsers decode it — and the sound once as Opus, and pushes every encoded frame
//! into its [`RingBuffer`]. Live sessions and the recorder only ever read the rings, so
//! five viewers cost no more encoding than one.
//!
//! ```text
//!  videotestsrc is-live ─┐     (or appsrc "device-feed" ◄─ v4l2src / pipewiresrc, restarted: feed.rs)
//!                        ▼
//!  capsfilter I420 1280x720@30 ─► [privacy: blank + notice] ─► clockoverlay ─► timeoverlay ─► [probe: pixel clock] ─► tee
//!     tee ─► queue ─► x264enc 2000k ─► h264parse ─► caps(constrained-baseline, au) ─► appsink "main" ─► RingBuffer main
//!     tee ─► queue ─► videoscale ─► caps 640x360 ─► x264enc 500k ─► h264parse ─► caps ─► appsink "sub" ─► RingBuffer sub
//!  audiotestsrc is-live (440 Hz) ─► volume (privacy mute) ─► audioconvert ─► audioresample ─► opusenc ─► appsink "audio" ─► RingBuffer audio
//! ```
//!
//! Both encoders: `tune=zerolatency speed-preset=ultrafast`, `key-int-max` = keyframe
//! interval × fps, SPS/PPS repeated on every keyframe (`h264parse config-interval=-1`), so
//! any reader can start at any keyframe. The pipeline runs on a realtime (wall) clock:
//! `base_time + PTS` of a buffer is its capture time in Unix nanoseconds; that is the
//! time the test pattern burns in (readable clock and [`eyrie_rtc::pixel_clock`]) and
//! the `capture_unix_ms` of every ring [`Frame`].

mod feed;
mod keyframes;
pub mod pipewire;
mod privacy;
mod source;

pub use feed::{DeviceFeed, MAX_BACKOFF, STALL};
pub use keyframes::KeyframeRequests;
pub use privacy::{CARD_LUMA, PRIVACY_NOTICE, PrivacySwitch};
pub use source::{SOURCE_SYNTAX, Source, list_sources};

use std::time::Duration;

use bytes::Bytes;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use eyrie_protocol::signalling::Stream;

use crate::ring::{Frame, RingBuffer, RingConfig};

/// Encoder and ring settings.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub source: Source,
    pub fps: u32,
    pub keyframe_interval: Duration,
    pub main_kbps: u32,
    pub sub_kbps: u32,
    /// Ring duration (default 10 s).
    pub ring_duration: Duration,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            source: Source::Test,
            fps: 30,
            keyframe_interval: Duration::from_secs(2),
            main_kbps: 2000,
            sub_kbps: 500,
            ring_duration: Duration::from_secs(10),
        }
    }
}

/// Main stream size.
pub const MAIN_SIZE: (u32, u32) = (1280, 720);
/// Sub stream size.
pub const SUB_SIZE: (u32, u32) = (640, 360);

/// The encoded streams, one ring each.
#[derive(Debug, Clone)]
pub struct Rings {
    pub main: RingBuffer,
    pub sub: RingBuffer,
    pub audio: RingBuffer,
    /// Forces a keyframe on the main or sub encoder (a viewer's PLI, a stream switch).
    pub keyframes: KeyframeRequests,
}

/// Why capture could not start.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("GStreamer element {0} is missing (install the GStreamer plugins)")]
    MissingElement(String),
    #[error("capture pipeline: {0}")]
    Pipeline(String),
}

impl From<glib::BoolError> for CaptureError {
    fn from(e: glib::BoolError) -> Self {
        CaptureError::Pipeline(e.to_string())
    }
}

/// A running capture pipeline. Dropping it stops capture and closes the rings.
pub struct Capture {
    pipeline: gst::Pipeline,
    rings: Rings,
    source: Source,
    privacy: PrivacySwitch,
    /// The device's own pipeline and its feeder (`None` for the test pattern).
    feed: Option<DeviceFeed>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("source", &self.source)
            .finish()
    }
}

fn make(factory: &str) -> Result<gst::Element, CaptureError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| CaptureError::MissingElement(factory.to_string()))
}

impl Capture {
    /// Build and start the pipeline. A webcam source that does not exist falls back to
    /// the test pattern with a warning.
    pub fn start(config: &CaptureConfig) -> Result<Self, CaptureError> {
        gst::init().map_err(|e| CaptureError::Pipeline(e.to_string()))?;
        let source = config.source.clone().resolve();
        let fps = config.fps.max(1);
        let gop = (config.keyframe_interval.as_secs_f64() * f64::from(fps))
            .round()
            .max(1.0) as u32;
        let video_ring = |name: &str, max_bytes: usize| {
            RingBuffer::new(
                name,
                RingConfig {
                    duration: config.ring_duration,
                    fps,
                    max_bytes,
                    keyframe_interval: config.keyframe_interval,
                },
            )
        };
        let rings = Rings {
            main: video_ring("main", 32 * 1024 * 1024),
            sub: video_ring("sub", 8 * 1024 * 1024),
            audio: RingBuffer::new(
                "audio",
                RingConfig {
                    duration: config.ring_duration,
                    fps: 50,
                    max_bytes: 2 * 1024 * 1024,
                    keyframe_interval: Duration::ZERO,
                },
            ),
            keyframes: KeyframeRequests::default(),
        };

        let pipeline = gst::Pipeline::with_name("eyrie-capture");
        // Wall clock, so that base_time + PTS is the capture time in Unix ns.
        let clock = glib::Object::builder::<gst::SystemClock>()
            .property("clock-type", gst::ClockType::Realtime)
            .build();
        pipeline.use_clock(Some(&clock));

        let (w, h) = MAIN_SIZE;
        let raw_caps = gst_video::VideoCapsBuilder::new()
            .format(gst_video::VideoFormat::I420)
            .width(w as i32)
            .height(h as i32)
            .framerate(gst::Fraction::new(fps as i32, 1))
            .build();
        let device_src = source.is_device().then(|| DeviceFeed::appsrc(&raw_caps));
        let head = match &device_src {
            Some(appsrc) => appsrc.clone().upcast(),
            None => Source::test_pattern()?,
        };
        let capsf = make("capsfilter")?;
        capsf.set_property("caps", &raw_caps);
        let clockov = make("clockoverlay")?;
        clockov.set_property_from_str("valignment", "bottom");
        clockov.set_property_from_str("halignment", "left");
        clockov.set_property("time-format", "%Y-%m-%d %H:%M:%S");
        clockov.set_property("font-desc", "Sans 24");
        let timeov = make("timeoverlay")?;
        timeov.set_property_from_str("valignment", "bottom");
        timeov.set_property_from_str("halignment", "right");
        timeov.set_property_from_str("time-mode", "running-time");
        timeov.set_property("font-desc", "Sans 20");
        let tee = make("tee")?;
        let (notice, mute, privacy) = privacy::elements(w, h)?;
        pipeline.add_many([&head, &capsf, &notice, &clockov, &timeov, &tee])?;
        gst::Element::link_many([&head, &capsf, &notice, &clockov, &timeov, &tee])?;
        if source.draws_clock() {
            add_pixel_clock_probe(&timeov, w as usize, h as usize);
        }

        for (name, stream, kbps, size, ring) in [
            ("main", Stream::Hd, config.main_kbps, MAIN_SIZE, &rings.main),
            ("sub", Stream::Sd, config.sub_kbps, SUB_SIZE, &rings.sub),
        ] {
            let queue = make("queue")?;
            queue.set_property("max-size-buffers", 2u32);
            queue.set_property_from_str("leaky", "downstream");
            let mut chain = vec![queue];
            if size != MAIN_SIZE {
                let scale = make("videoscale")?;
                let caps = make("capsfilter")?;
                caps.set_property(
                    "caps",
                    gst_video::VideoCapsBuilder::new()
                        .width(size.0 as i32)
                        .height(size.1 as i32)
                        .build(),
                );
                chain.push(scale);
                chain.push(caps);
            }
            let enc = make("x264enc")?;
            enc.set_property_from_str("tune", "zerolatency");
            enc.set_property_from_str("speed-preset", "ultrafast");
            enc.set_property("bitrate", kbps);
            enc.set_property("key-int-max", gop);
            enc.set_property("threads", 1u32);
            rings.keyframes.register(stream, &enc);
            let parse = make("h264parse")?;
            parse.set_property("config-interval", -1i32);
            let caps = make("capsfilter")?;
            caps.set_property(
                "caps",
                gst::Caps::builder("video/x-h264")
                    .field("profile", "constrained-baseline")
                    .field("stream-format", "byte-stream")
                    .field("alignment", "au")
                    .build(),
            );
            let sink = appsink_into(name, ring.clone());
            chain.extend([enc, parse, caps, sink.upcast()]);
            pipeline.add_many(chain.iter())?;
            gst::Element::link_many(chain.iter())?;
            tee.link(&chain[0])?;
        }

        let audio_chain = source.audio_elements()?;
        let aconv = make("audioconvert")?;
        let ares = make("audioresample")?;
        let opus = make("opusenc")?;
        opus.set_property("bitrate", 32_000i32);
        opus.set_property_from_str("frame-size", "20");
        let asink = appsink_into("audio", rings.audio.clone());
        pipeline.add_many(audio_chain.iter())?;
        pipeline.add_many([&mute, &aconv, &ares, &opus, asink.upcast_ref()])?;
        gst::Element::link_many(audio_chain.iter())?;
        let alast = audio_chain
            .last()
            .ok_or_else(|| CaptureError::Pipeline("empty audio source".into()))?;
        gst::Element::link_many([alast, &mute, &aconv, &ares, &opus, asink.upcast_ref()])?;

        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| CaptureError::Pipeline(format!("cannot start: {e}")))?;
        spawn_bus_logger(&pipeline);
        let feed = device_src.map(|appsrc| {
            DeviceFeed::start(
                source.clone(),
                raw_caps.clone(),
                appsrc,
                rings.keyframes.clone(),
            )
        });
        tracing::info!(source = %source, fps, gop, "capture started");
        Ok(Self {
            pipeline,
            rings,
            source,
            privacy,
            feed,
        })
    }

    /// The rings the encoders fill.
    pub fn rings(&self) -> &Rings {
        &self.rings
    }

    /// Privacy mode for everything that reads the rings (live view shows a notice).
    pub fn privacy(&self) -> PrivacySwitch {
        self.privacy.clone()
    }

    /// The source actually in use (after any fallback).
    pub fn source(&self) -> &Source {
        &self.source
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // The feeder first: it pushes into the pipeline that is stopped next.
        drop(self.feed.take());
        let _ = self.pipeline.set_state(gst::State::Null);
        self.rings.main.close();
        self.rings.sub.close();
        self.rings.audio.close();
    }
}

/// Write the capture time into the top strip of every raw frame, just before the tee.
fn add_pixel_clock_probe(element: &gst::Element, width: usize, height: usize) {
    let Some(pad) = element.static_pad("src") else {
        return;
    };
    let info = match gst_video::VideoInfo::builder(
        gst_video::VideoFormat::I420,
        width as u32,
        height as u32,
    )
    .build()
    {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!("no pixel clock: {e}");
            return;
        }
    };
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, probe| {
        let base = pad
            .parent_element()
            .and_then(|e| e.base_time())
            .map(gst::ClockTime::nseconds)
            .unwrap_or(0);
        if let Some(gst::PadProbeData::Buffer(buffer)) = probe.data.as_mut() {
            let pts = buffer.pts().map(gst::ClockTime::nseconds).unwrap_or(0);
            let unix_ms = (base + pts) / 1_000_000;
            let buf = buffer.make_mut();
            if let Ok(mut frame) = gst_video::VideoFrameRef::from_buffer_ref_writable(buf, &info) {
                let stride = frame.plane_stride()[0] as usize;
                if let Ok(plane) = frame.plane_data_mut(0) {
                    eyrie_rtc::pixel_clock::encode_luma(plane, stride, width, height, unix_ms);
                }
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// An appsink whose samples go into `ring`, wrapped without copying.
fn appsink_into(name: &str, ring: RingBuffer) -> gst_app::AppSink {
    let sink = gst_app::AppSink::builder()
        .name(name)
        .sync(false)
        .max_buffers(8)
        .drop(true)
        .build();
    let mut warned = false;
    sink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |sink| {
                let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let Some(buffer) = sample.buffer_owned() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                let base = sink.base_time().map(gst::ClockTime::nseconds).unwrap_or(0);
                let Some(pts) = buffer.pts() else {
                    if !warned {
                        tracing::warn!(ring = ring.name(), "encoded buffer without PTS dropped");
                        warned = true;
                    }
                    return Ok(gst::FlowSuccess::Ok);
                };
                let running = sample
                    .segment()
                    .and_then(|seg| seg.downcast_ref::<gst::ClockTime>())
                    .and_then(|seg| seg.to_running_time(pts))
                    .unwrap_or(pts);
                let keyframe = !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT);
                let duration_us = buffer.duration().map(|d| d.useconds()).unwrap_or(0);
                let Ok(mapped) = buffer.into_mapped_buffer_readable() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                ring.push(Frame {
                    // Running time, not PTS: video encoders shift PTS by 1000 h while the
                    // Opus encoder does not, and every ring must share one clock so that
                    // audio lines up with video (ring docs, `StartAt::Pts`).
                    pts_us: running.useconds(),
                    duration_us,
                    keyframe,
                    data: Bytes::from_owner(mapped),
                    // Encoders shift PTS by 1000 h (room for DTS < PTS): the capture
                    // time is base_time + running time, not base_time + PTS.
                    capture_unix_ms: (base + running.nseconds()) / 1_000_000,
                });
                Ok(gst::FlowSuccess::Ok)
            })
            .build(),
    );
    sink
}

fn spawn_bus_logger(pipeline: &gst::Pipeline) {
    let Some(bus) = pipeline.bus() else { return };
    let weak = pipeline.downgrade();
    let name = pipeline.name();
    std::thread::Builder::new()
        .name("capture-bus".into())
        .spawn(move || {
            loop {
                let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(500)) else {
                    // Stop once the pipeline is gone or stopped.
                    match weak.upgrade() {
                        Some(p) if p.current_state() != gst::State::Null => continue,
                        _ => break,
                    }
                };
                match msg.view() {
                    gst::MessageView::Error(e) => {
                        tracing::error!(pipeline = %name, "capture error: {} ({:?})", e.error(), e.debug());
                    }
                    gst::MessageView::Warning(w) => {
                        tracing::warn!(pipeline = %name, "capture warning: {}", w.error());
                    }
                    gst::MessageView::Eos(_) => break,
                    _ => {}
                }
            }
        })
        .ok();
}
