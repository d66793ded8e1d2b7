//! One run of playback: from a seek (or a resume after a gap) to the end of a chain of
//! contiguous segments. A run owns a fetch task, a feeder thread, a decode pipeline and a
//! presenter thread; dropping it cancels all of them (in-flight downloads are aborted).
//!
//! ```text
//!  fetch task (tokio)            feeder thread         decode pipeline
//!  presigned GET ─► decrypt ─► mpsc(PREFETCH) ─► appsrc (video/mpegts, ≤ 2 MiB queued)
//!   (whole segment authenticated                      │
//!    before it is sent)                               ▼
//!                                                 decodebin ─► videoconvert ─► I420 ─► appsink (3 frames)
//!                                                     └─(audio)─► fakesink            │
//!                                                                                     ▼
//!  display pipeline (owned by the Player)       presenter thread: PTS → unix ms, drop < target,
//!  appsrc (live, do-timestamp) ─► videoconvert ─► caller's sink ◄── pace at rate, pause, step
//! ```
//!
//! The segments of one chain continue each other's timestamps (the recorder keeps its
//! capture timeline), so the concatenated TS decodes as one stream: no gap, no jump at a
//! boundary. The presenter maps a frame to wall time as `first segment start + (PTS −
//! first PTS)`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tokio::sync::mpsc;

use super::fetch::{self, KeyRing};
use super::timeline::Timeline;
use super::{Notice, PlaybackError, make};
use crate::api::ApiClient;

/// Pause, rate and single steps, shared by the player and the presenter.
#[derive(Debug)]
pub(crate) struct Ctl {
    pub paused: bool,
    pub rate: f64,
    pub steps: u32,
    /// Bumped on every change of pace: the presenter re-anchors its clock.
    pub epoch: u64,
    pub position_ms: Option<i64>,
}

#[derive(Debug)]
pub(crate) struct Control {
    pub ctl: Mutex<Ctl>,
    pub cv: Condvar,
}

impl Control {
    pub fn new() -> Self {
        Self {
            ctl: Mutex::new(Ctl {
                paused: false,
                rate: 1.0,
                steps: 0,
                epoch: 0,
                position_ms: None,
            }),
            cv: Condvar::new(),
        }
    }

    pub fn update(&self, f: impl FnOnce(&mut Ctl)) {
        if let Ok(mut c) = self.ctl.lock() {
            f(&mut c);
            c.epoch += 1;
        }
        self.cv.notify_all();
    }
}

/// A run finished (chain ended, gap, skipped segment or decode error).
#[derive(Debug)]
pub(crate) struct RunEnd {
    pub generation: u64,
    pub last_ms: i64,
    pub resume_at: Option<i64>,
}

pub(crate) struct RunCtx {
    pub api: ApiClient,
    pub keys: KeyRing,
    pub channel: uuid::Uuid,
    pub timeline: Timeline,
    pub first: usize,
    pub target_ms: i64,
    pub generation: u64,
    pub control: Arc<Control>,
    pub display: gst_app::AppSrc,
    pub notices: mpsc::UnboundedSender<Notice>,
    pub ended: mpsc::UnboundedSender<RunEnd>,
    pub rt: tokio::runtime::Handle,
}

#[derive(Default)]
struct Shared {
    first_unix: Option<i64>,
    resume_at: Option<i64>,
}

pub(crate) struct Run {
    cancel: Arc<AtomicBool>,
    pipeline: gst::Pipeline,
    fetch: tokio::task::JoinHandle<()>,
}

impl Drop for Run {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
        self.fetch.abort();
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn decode_pipeline() -> Result<(gst::Pipeline, gst_app::AppSrc, gst_app::AppSink), PlaybackError> {
    let pipeline = gst::Pipeline::new();
    let src = gst_app::AppSrc::builder()
        .caps(
            &gst::Caps::builder("video/mpegts")
                .field("systemstream", true)
                .field("packetsize", 188i32)
                .build(),
        )
        .format(gst::Format::Bytes)
        .is_live(false)
        .block(true)
        .max_bytes(2 * 1024 * 1024)
        .build();
    let decode = make("decodebin")?;
    let convert = make("videoconvert")?;
    let filter = gst::ElementFactory::make("capsfilter")
        .property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build(),
        )
        .build()
        .map_err(|_| PlaybackError::MissingElement("capsfilter".into()))?;
    let sink = gst_app::AppSink::builder()
        .sync(false)
        .max_buffers(3)
        .drop(false)
        .enable_last_sample(false)
        .build();
    pipeline.add_many([
        src.upcast_ref(),
        &decode,
        &convert,
        &filter,
        sink.upcast_ref(),
    ])?;
    src.link(&decode)?;
    gst::Element::link_many([&convert, &filter, sink.upcast_ref()])?;
    let pipe_weak = pipeline.downgrade();
    decode.connect_pad_added(move |_, pad| {
        let is_video = pad
            .current_caps()
            .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
            .unwrap_or(false);
        if is_video {
            if let Some(sinkpad) = convert.static_pad("sink")
                && let Err(e) = pad.link(&sinkpad)
            {
                tracing::warn!("cannot link decoded video: {e:?}");
            }
        } else if let Some(pipe) = pipe_weak.upgrade() {
            super::discard_pad(&pipe, pad);
        }
    });
    Ok((pipeline, src, sink))
}

pub(crate) fn start(ctx: RunCtx) -> Result<Run, PlaybackError> {
    // A clip stops at its end, though its last segment may run on.
    let end_ms = ctx.timeline.clip.as_ref().map(|_| ctx.timeline.end_ms);
    let (pipeline, src, sink) = decode_pipeline()?;
    let cancel = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Shared::default()));
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(super::PREFETCH.saturating_sub(1).max(1));

    let fetch = ctx.rt.spawn(fetch_chain(
        ctx.api.clone(),
        ctx.keys.clone(),
        ctx.channel,
        ctx.timeline,
        ctx.first,
        tx,
        shared.clone(),
        ctx.notices.clone(),
    ));

    {
        let cancel = cancel.clone();
        let src = src.clone();
        std::thread::Builder::new()
            .name("eyrie-playback-feed".into())
            .spawn(move || {
                while let Some(ts) = rx.blocking_recv() {
                    for piece in ts.chunks(188 * 348) {
                        if cancel.load(Ordering::SeqCst) {
                            return;
                        }
                        if src
                            .push_buffer(gst::Buffer::from_slice(piece.to_vec()))
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                let _ = src.end_of_stream();
            })?;
    }

    pipeline.set_state(gst::State::Playing)?;

    let presenter = Presenter {
        sink,
        bus: pipeline
            .bus()
            .ok_or_else(|| PlaybackError::Gst("no bus".into()))?,
        cancel: cancel.clone(),
        shared,
        control: ctx.control,
        display: ctx.display,
        notices: ctx.notices,
        ended: ctx.ended,
        generation: ctx.generation,
        target_ms: ctx.target_ms,
        end_ms,
    };
    std::thread::Builder::new()
        .name("eyrie-playback-present".into())
        .spawn(move || presenter.run())?;

    Ok(Run {
        cancel,
        pipeline,
        fetch,
    })
}

/// How long past its due time the next segment at the present is waited for.
const LIVE_EDGE_SLACK_MS: i64 = 10_000;

#[allow(clippy::too_many_arguments)]
async fn fetch_chain(
    api: ApiClient,
    keys: KeyRing,
    channel: uuid::Uuid,
    mut tl: Timeline,
    mut i: usize,
    tx: mpsc::Sender<Vec<u8>>,
    shared: Arc<Mutex<Shared>>,
    notices: mpsc::UnboundedSender<Notice>,
) {
    let mut resume_at = None;
    let mut fed_any = false;
    while let Some(rec) = tl.recordings.get(i).cloned() {
        let fetched = match &tl.clip {
            Some(clip) => fetch::clip_part(&api, &keys, clip, &rec).await,
            None => fetch::segment(&api, &keys, &rec).await,
        };
        match fetched {
            Ok(ts) => {
                if !fed_any {
                    if let Ok(mut s) = shared.lock() {
                        s.first_unix = Some(rec.start_ms);
                    }
                    fed_any = true;
                }
                if tx.send(ts).await.is_err() {
                    return;
                }
            }
            Err(reason) => {
                let _ = notices.send(Notice::SegmentSkipped {
                    recording_id: rec.id,
                    start_ms: rec.start_ms,
                    reason,
                });
                // Timestamps jump over the missing segment: resume with a new run.
                resume_at = tl.recordings.get(i + 1).map(|r| r.start_ms);
                break;
            }
        }
        if tl.continues(i) {
            i += 1;
            continue;
        }
        if let Some(next) = tl.recordings.get(i + 1) {
            resume_at = Some(next.start_ms);
            break;
        }
        if tl.clip.is_some() {
            break; // a clip ends where it ends
        }
        // End of the listing: the camera may have uploaded more since. Near the present
        // the next segment is still being recorded: wait for it (the picture holds on the
        // last frame) rather than end, as long as it is due.
        let due_by = rec.end_ms + (rec.end_ms - rec.start_ms).max(1_000) * 2 + LIVE_EDGE_SLACK_MS;
        let next = loop {
            let Ok(more) = Timeline::fetch(&api, channel, rec.end_ms).await else {
                break None;
            };
            match more.recordings.iter().position(|r| r.id == rec.id) {
                Some(k) if more.continues(k) => break Some((more, k + 1)),
                _ => {}
            }
            let later = more
                .recordings
                .iter()
                .find(|r| r.start_ms >= rec.end_ms)
                .map(|r| r.start_ms);
            if later.is_some() || eyrie_protocol::clock::unix_ms() > due_by {
                resume_at = later;
                break None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        };
        match next {
            Some((more, k)) => {
                tl = more;
                i = k;
            }
            None => break,
        }
    }
    if let Ok(mut s) = shared.lock() {
        s.resume_at = resume_at;
    }
    // Dropping `tx` ends the stream once the feeder has pushed what it has.
}

mod presenter;

use presenter::Presenter;
