//! A device source that may vanish: a webcam unplugged, a PipeWire node whose program
//! quit. The device runs in a pipeline of its own, and a feeder thread hands its frames to
//! an `appsrc` at the head of the capture pipeline; when the device errors, ends, or sends
//! nothing for [`STALL`], the feeder tears its pipeline down and builds a new one after a
//! back-off (1 s doubling to [`MAX_BACKOFF`]), so the encoders, the rings, live sessions
//! and the recorder never stop: while the device is away no frame comes (a recording shows
//! a gap), and the first frame after it is back is a keyframe.
//!
//! ```text
//!  device pipeline (rebuilt on failure):
//!    pipewiresrc target-object=… / v4l2src ─► videoconvert ─► videoscale ─► videorate
//!       ─► caps I420 W×H@fps ─► appsink ──[feeder thread: PTS = capture running time]──┐
//!  capture pipeline:                                                                   ▼
//!    appsrc "device-feed" (live, TIME) ─► capsfilter ─► … (capture/mod.rs)
//! ```
//!
//! `pipewiresrc` neither errors nor ends when its node goes away: it waits, silent, and
//! never links again. Hence the stall timer; and before each attempt the node must be
//! listed (a stream started for a missing node blocks in its state change).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use eyrie_protocol::signalling::Stream;

use super::{CaptureError, KeyframeRequests, Source, make, pipewire};

/// No frame for this long: the device is gone.
pub const STALL: Duration = Duration::from_secs(3);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long the first frame of a new attempt may take.
const FIRST_FRAME: Duration = Duration::from_secs(6);

/// The feeder: stops (and ends the device pipeline) when dropped.
pub struct DeviceFeed {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// How many times the device pipeline was (re)started.
    attempts: Arc<AtomicU64>,
}

impl std::fmt::Debug for DeviceFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceFeed")
            .field("attempts", &self.attempts.load(Ordering::Relaxed))
            .finish()
    }
}

impl DeviceFeed {
    /// The `appsrc` to put at the head of the capture pipeline for `caps` (raw video).
    pub fn appsrc(caps: &gst::Caps) -> gst_app::AppSrc {
        gst_app::AppSrc::builder()
            .name("device-feed")
            .caps(caps)
            .is_live(true)
            .format(gst::Format::Time)
            .max_buffers(2)
            .leaky_type(gst_app::AppLeakyType::Downstream)
            .build()
    }

    /// Start feeding `appsrc` from `source` (a V4L2 or PipeWire source).
    pub fn start(
        source: Source,
        caps: gst::Caps,
        appsrc: gst_app::AppSrc,
        keyframes: KeyframeRequests,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, attempts) = (stop.clone(), attempts.clone());
            std::thread::Builder::new()
                .name("capture-feed".into())
                .spawn(move || {
                    feed_loop(&source, &caps, &appsrc, &keyframes, &stop, &attempts);
                })
                .ok()
        };
        Self {
            stop,
            thread,
            attempts,
        }
    }
}

impl Drop for DeviceFeed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Why one run of the device pipeline ended.
#[derive(Debug)]
enum Ended {
    Stopped,
    Absent,
    Failed(String),
    Stalled,
}

fn feed_loop(
    source: &Source,
    caps: &gst::Caps,
    appsrc: &gst_app::AppSrc,
    keyframes: &KeyframeRequests,
    stop: &AtomicBool,
    attempts: &AtomicU64,
) {
    let mut backoff = Duration::from_secs(1);
    let mut absent_logged = false;
    while !stop.load(Ordering::SeqCst) {
        let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
        let mut frames = 0u64;
        let ended = run_once(source, caps, appsrc, keyframes, stop, &mut frames);
        match &ended {
            Ended::Stopped => break,
            Ended::Absent if absent_logged => {}
            Ended::Absent => {
                tracing::warn!(source = %source, "camera not there; waiting for it to appear");
                absent_logged = true;
            }
            Ended::Failed(why) => {
                tracing::warn!(source = %source, attempt = n, frames, "camera failed: {why}; restarting capture");
                absent_logged = false;
            }
            Ended::Stalled => {
                tracing::warn!(source = %source, attempt = n, frames, "no frame from the camera for {STALL:?}; restarting capture");
                absent_logged = false;
            }
        }
        if frames > 0 {
            backoff = Duration::from_secs(1);
        }
        sleep_unless_stopped(backoff, stop);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The device pipeline for `source` ending in an appsink of `caps`.
fn device_pipeline(
    source: &Source,
    caps: &gst::Caps,
) -> Result<(gst::Pipeline, gst_app::AppSink), CaptureError> {
    let src = match source {
        Source::PipeWire(selector) => pipewire::element(selector.as_deref())
            .map_err(|_| CaptureError::MissingElement("pipewiresrc".into()))?,
        Source::V4l2(dev) => {
            let src = make("v4l2src")?;
            if let Some(dev) = dev {
                src.set_property("device", dev.to_string_lossy().as_ref());
            }
            src
        }
        other => {
            return Err(CaptureError::Pipeline(format!(
                "{other:?} is not a device source"
            )));
        }
    };
    let pipeline = gst::Pipeline::with_name("eyrie-capture-device");
    let chain = [
        src,
        make("videoconvert")?,
        make("videoscale")?,
        make("videorate")?,
    ];
    let sink = gst_app::AppSink::builder()
        .caps(caps)
        .sync(false)
        .max_buffers(2)
        .drop(true)
        .build();
    pipeline.add_many(chain.iter())?;
    pipeline.add(&sink)?;
    gst::Element::link_many(chain.iter())?;
    chain[3].link(&sink)?;
    Ok((pipeline, sink))
}

fn run_once(
    source: &Source,
    caps: &gst::Caps,
    appsrc: &gst_app::AppSrc,
    keyframes: &KeyframeRequests,
    stop: &AtomicBool,
    frames: &mut u64,
) -> Ended {
    if let Source::PipeWire(selector) = source
        && !pipewire::present(selector.as_deref())
    {
        return Ended::Absent;
    }
    let (pipeline, sink) = match device_pipeline(source, caps) {
        Ok(p) => p,
        Err(e) => return Ended::Failed(e.to_string()),
    };
    // A stream whose node vanished between the listing and here would block this state
    // change: do it on a thread of its own, which the stall timer below outlives.
    let starting = pipeline.clone();
    std::thread::spawn(move || {
        if let Err(e) = starting.set_state(gst::State::Playing) {
            tracing::debug!("device pipeline did not start: {e}");
        }
    });
    let bus = pipeline.bus();
    let started = Instant::now();
    let mut last = Instant::now();
    let ended = loop {
        if stop.load(Ordering::SeqCst) {
            break Ended::Stopped;
        }
        if let Some(bus) = &bus {
            while let Some(msg) = bus.pop() {
                match msg.view() {
                    gst::MessageView::Error(e) => {
                        return finish(pipeline, Ended::Failed(e.error().to_string()));
                    }
                    gst::MessageView::Eos(_) => {
                        return finish(pipeline, Ended::Failed("end of stream".into()));
                    }
                    _ => {}
                }
            }
        }
        let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(200)) else {
            let limit = if *frames == 0 { FIRST_FRAME } else { STALL };
            if last.elapsed() >= limit || (*frames == 0 && started.elapsed() >= limit) {
                break Ended::Stalled;
            }
            continue;
        };
        last = Instant::now();
        let Some(buffer) = sample.buffer_owned() else {
            continue;
        };
        // Before the capture pipeline runs there is no running time to stamp a frame with.
        let Some(pts) = appsrc.current_running_time() else {
            continue;
        };
        if *frames == 0 {
            tracing::info!(source = %source, "camera delivers frames");
            // The encoders' references are from before the gap: start afresh.
            keyframes.request(Stream::Hd);
            keyframes.request(Stream::Sd);
        }
        *frames += 1;
        let mut buffer = buffer;
        {
            let b = buffer.make_mut();
            // Timestamped on arrival with the capture pipeline's running time, so capture
            // time stays base_time + PTS however often the device pipeline restarts.
            b.set_pts(pts);
            b.set_dts(gst::ClockTime::NONE);
            b.set_duration(gst::ClockTime::NONE);
        }
        if appsrc.push_buffer(buffer).is_err() {
            break Ended::Stopped;
        }
    };
    finish(pipeline, ended)
}

/// End the device pipeline off this thread when its state change might hang (a stalled
/// PipeWire stream), then report `ended`.
fn finish(pipeline: gst::Pipeline, ended: Ended) -> Ended {
    std::thread::spawn(move || {
        let _ = pipeline.set_state(gst::State::Null);
    });
    ended
}
