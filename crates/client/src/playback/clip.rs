//! Clips: ask the cloud for a range, poll it until it is finished, and export it to an
//! MP4 file on disk — decrypted part by part and remuxed, never re-encoded.
//!
//! Export cuts at the keyframe at or before the asked start (a remux cannot start
//! between keyframes) and stops at the first frame at or after the asked end, so the file
//! lasts the asked duration plus at most one GOP at the head.
//!
//! ```text
//!  clip object ─► per part: decrypt (whole part authenticated) ─► feeder thread
//!                                                                    │
//!  demux half:  appsrc (video/mpegts) ─► tsdemux ─► h264parse ─► appsink
//!                                          └─(other)─► fakesink      │  Rust: PTS → unix ms, keep the GOP
//!                                                                    ▼  before the start, stop at the end
//!  mux half:    appsrc (H.264, timestamps from 0) ─► h264parse ─► mp4mux ─► filesink
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eyrie_protocol::api::{Clip, ClipStatus, CreateClipRequest};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use uuid::Uuid;

use super::fetch::{self, KeyRing};
use super::{PlaybackError, make};
use crate::api::ApiClient;

/// Where an export is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExportProgress {
    /// Fetching the clip object.
    Downloading,
    /// Fraction (0..=1) of the clip's bytes remuxed.
    Writing(f64),
    Done,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportReport {
    pub path: PathBuf,
    pub bytes: u64,
    pub frames: u64,
    /// Unix ms of the first and last frame written.
    pub first_ms: i64,
    pub last_ms: i64,
    /// Ciphertext bytes read from the store.
    pub input_bytes: u64,
}

/// Ask for a clip of `[start_ms, end_ms)` (the range may reach into the present).
pub async fn create_clip(
    api: &ApiClient,
    channel: Uuid,
    start_ms: i64,
    end_ms: i64,
    name: Option<String>,
) -> Result<Clip, PlaybackError> {
    Ok(api
        .create_clip(
            channel,
            &CreateClipRequest {
                start_ms,
                end_ms,
                name,
            },
        )
        .await?)
}

/// Poll a clip every `every` until it is finished or failed (or `timeout` passes; the
/// clip is then returned still `in_progress`).
pub async fn poll_clip(
    api: &ApiClient,
    id: Uuid,
    every: Duration,
    timeout: Duration,
) -> Result<Clip, PlaybackError> {
    let t0 = std::time::Instant::now();
    loop {
        let clip = api.clip(id).await?;
        if clip.status != ClipStatus::InProgress || t0.elapsed() >= timeout {
            return Ok(clip);
        }
        tokio::time::sleep(every).await;
    }
}

/// Download a finished clip, decrypt it and write it to `out` as MP4 (H.264 as recorded).
/// `cancel` stops the export (the partial file is removed).
pub async fn export_clip(
    api: &ApiClient,
    keys: &KeyRing,
    clip: &Clip,
    out: &Path,
    progress: impl Fn(ExportProgress) + Send + Sync + 'static,
    cancel: Arc<AtomicBool>,
) -> Result<ExportReport, PlaybackError> {
    if clip.status != ClipStatus::Finished {
        return Err(PlaybackError::ClipNotFinished(clip.status));
    }
    let url = match &clip.download {
        Some(u) => u.clone(),
        None => api
            .clip(clip.id)
            .await?
            .download
            .ok_or(PlaybackError::ClipNotFinished(clip.status))?,
    };
    progress(ExportProgress::Downloading);
    let object = api.get_presigned(&url).await?;
    if cancel.load(Ordering::SeqCst) {
        return Err(PlaybackError::Cancelled);
    }
    let input_bytes = object.len() as u64;
    let mut parts = Vec::with_capacity(clip.parts.len());
    for p in &clip.parts {
        let start = usize::try_from(p.offset).unwrap_or(usize::MAX);
        let end = start.saturating_add(usize::try_from(p.size).unwrap_or(usize::MAX));
        let enc = object.get(start..end).ok_or(PlaybackError::Segment(
            eyrie_protocol::segment::SegmentError::Truncated,
        ))?;
        let ts = fetch::decrypt(keys, p.key_id.as_deref(), enc).map_err(|_| {
            PlaybackError::Segment(eyrie_protocol::segment::SegmentError::Authentication(0))
        })?;
        parts.push(ts);
    }
    drop(object);
    let first_unix = clip
        .parts
        .first()
        .map(|p| p.start_ms)
        .unwrap_or(clip.start_ms);
    let (start_ms, end_ms) = (clip.start_ms, clip.end_ms);
    let out = out.to_path_buf();
    let progress: Arc<dyn Fn(ExportProgress) + Send + Sync> = Arc::new(progress);
    let cancel2 = cancel.clone();
    let out2 = out.clone();
    let res = tokio::task::spawn_blocking(move || {
        remux(
            parts, first_unix, start_ms, end_ms, &out2, &progress, &cancel2,
        )
    })
    .await
    .map_err(|e| PlaybackError::Gst(format!("export task: {e}")))?;
    match res {
        Ok(mut r) => {
            r.input_bytes = input_bytes;
            Ok(r)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&out);
            Err(e)
        }
    }
}

fn remux(
    parts: Vec<Vec<u8>>,
    first_unix: i64,
    start_ms: i64,
    end_ms: i64,
    out: &Path,
    progress: &Arc<dyn Fn(ExportProgress) + Send + Sync>,
    cancel: &Arc<AtomicBool>,
) -> Result<ExportReport, PlaybackError> {
    // Demux half.
    let demux_pipe = gst::Pipeline::new();
    let src = gst_app::AppSrc::builder()
        .caps(
            &gst::Caps::builder("video/mpegts")
                .field("systemstream", true)
                .build(),
        )
        .format(gst::Format::Bytes)
        .block(true)
        .max_bytes(2 * 1024 * 1024)
        .build();
    let demux = make("tsdemux")?;
    let parse = make("h264parse")?;
    let au_sink = gst_app::AppSink::builder()
        .sync(false)
        .max_buffers(64)
        .enable_last_sample(false)
        .build();
    demux_pipe.add_many([src.upcast_ref(), &demux, &parse, au_sink.upcast_ref()])?;
    src.link(&demux)?;
    parse.link(&au_sink)?;
    let weak = demux_pipe.downgrade();
    demux.connect_pad_added(move |_, pad| {
        let video = pad.name().starts_with("video");
        if video {
            if let Some(s) = parse.static_pad("sink") {
                let _ = pad.link(&s);
            }
        } else if let Some(pipe) = weak.upgrade() {
            super::discard_pad(&pipe, pad);
        }
    });

    // Mux half.
    let mux_pipe = gst::Pipeline::new();
    let mux_src = gst_app::AppSrc::builder()
        .format(gst::Format::Time)
        .block(true)
        .max_buffers(64)
        .build();
    let parse2 = make("h264parse")?;
    let mux = make("mp4mux")?;
    let file = gst::ElementFactory::make("filesink")
        .property("location", out.to_string_lossy().to_string())
        .build()
        .map_err(|_| PlaybackError::MissingElement("filesink".into()))?;
    mux_pipe.add_many([mux_src.upcast_ref(), &parse2, &mux, &file])?;
    gst::Element::link_many([mux_src.upcast_ref(), &parse2, &mux, &file])?;

    let total: usize = parts.iter().map(Vec::len).sum::<usize>().max(1);
    let feeder = {
        let src = src.clone();
        let cancel = cancel.clone();
        let progress = progress.clone();
        std::thread::spawn(move || {
            let mut done = 0usize;
            for part in parts {
                for piece in part.chunks(188 * 1024) {
                    if cancel.load(Ordering::SeqCst)
                        || src
                            .push_buffer(gst::Buffer::from_slice(piece.to_vec()))
                            .is_err()
                    {
                        return;
                    }
                    done += piece.len();
                    progress(ExportProgress::Writing(done as f64 / total as f64));
                }
            }
            let _ = src.end_of_stream();
        })
    };
    let result = (|| {
        demux_pipe.set_state(gst::State::Playing)?;
        mux_pipe.set_state(gst::State::Playing)?;
        let mut held: Vec<gst::Buffer> = Vec::new();
        let mut started = false;
        let mut p0: Option<i64> = None;
        let mut base: Option<gst::ClockTime> = None;
        let (mut frames, mut first_ms, mut last_ms) = (0u64, 0i64, 0i64);
        let mut caps_set = false;
        let demux_bus = demux_pipe
            .bus()
            .ok_or_else(|| PlaybackError::Gst("no bus".into()))?;
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(PlaybackError::Cancelled);
            }
            if let Some(m) = demux_bus.pop_filtered(&[gst::MessageType::Error])
                && let gst::MessageView::Error(e) = m.view()
            {
                return Err(PlaybackError::Gst(e.error().to_string()));
            }
            let Some(sample) = au_sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) else {
                if au_sink.is_eos() {
                    break;
                }
                continue;
            };
            if !caps_set && let Some(c) = sample.caps_owned() {
                mux_src.set_caps(Some(&c));
                caps_set = true;
            }
            let Some(buf) = sample.buffer_owned() else {
                continue;
            };
            let Some(pts) = buf.pts() else { continue };
            let pts_ns = pts.nseconds() as i64;
            let unix = first_unix + (pts_ns - *p0.get_or_insert(pts_ns)) / 1_000_000;
            if unix >= end_ms && started {
                break;
            }
            let key = !buf.flags().contains(gst::BufferFlags::DELTA_UNIT);
            let mut ready: Vec<(gst::Buffer, i64)> = Vec::new();
            if started {
                ready.push((buf, unix));
            } else {
                if key {
                    held.clear();
                }
                if !held.is_empty() || key {
                    held.push(buf);
                }
                if unix >= start_ms - 20 && !held.is_empty() {
                    started = true;
                    let n = held.len() as i64;
                    // Held frames are consecutive; their unix times are recomputed below.
                    for (k, b) in held.drain(..).enumerate() {
                        let t = b
                            .pts()
                            .map(|p| {
                                first_unix + (p.nseconds() as i64 - p0.unwrap_or(0)) / 1_000_000
                            })
                            .unwrap_or(unix - n + k as i64);
                        ready.push((b, t));
                    }
                }
            }
            for (b, t) in ready {
                let base_t = *base.get_or_insert_with(|| {
                    b.dts()
                        .map_or(b.pts().unwrap_or(gst::ClockTime::ZERO), |d| {
                            d.min(b.pts().unwrap_or(d))
                        })
                });
                let mut b = b;
                {
                    let bm = b.make_mut();
                    bm.set_pts(bm.pts().map(|p| p.saturating_sub(base_t)));
                    bm.set_dts(bm.dts().map(|p| p.saturating_sub(base_t)));
                }
                if frames == 0 {
                    first_ms = t;
                }
                last_ms = t;
                frames += 1;
                mux_src
                    .push_buffer(b)
                    .map_err(|e| PlaybackError::Gst(format!("mux: {e:?}")))?;
            }
        }
        mux_src
            .end_of_stream()
            .map_err(|e| PlaybackError::Gst(format!("mux eos: {e:?}")))?;
        let bus = mux_pipe
            .bus()
            .ok_or_else(|| PlaybackError::Gst("no bus".into()))?;
        match bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) {
            Some(m) => {
                if let gst::MessageView::Error(e) = m.view() {
                    return Err(PlaybackError::Gst(e.error().to_string()));
                }
            }
            None => return Err(PlaybackError::Gst("mp4mux did not finish".into())),
        }
        Ok((frames, first_ms, last_ms))
    })();
    cancel_and_join(&src, &demux_pipe, &mux_pipe, feeder);
    let (frames, first_ms, last_ms) = result?;
    let bytes = std::fs::metadata(out)?.len();
    progress(ExportProgress::Done);
    Ok(ExportReport {
        path: out.to_path_buf(),
        bytes,
        frames,
        first_ms,
        last_ms,
        input_bytes: 0,
    })
}

fn cancel_and_join(
    _src: &gst_app::AppSrc,
    demux: &gst::Pipeline,
    mux: &gst::Pipeline,
    feeder: std::thread::JoinHandle<()>,
) {
    // Null unblocks a feeder waiting in push_buffer.
    let _ = demux.set_state(gst::State::Null);
    let _ = mux.set_state(gst::State::Null);
    let _ = feeder.join();
}
