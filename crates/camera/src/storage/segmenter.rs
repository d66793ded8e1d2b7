//! One recording segment: encoded frames in, encrypted MPEG-TS in the spool out.
//!
//! The recorder hands every frame of a segment to a [`SegmentMux`]; each segment gets its
//! own small muxing pipeline so every file starts with its own PAT/PMT and a keyframe and
//! plays on its own. Frames keep the capture timeline (microseconds since the recorder's
//! first frame), so consecutive segments continue each other's timestamps and a player
//! can stitch them without a gap or an overlap.
//!
//! ```text
//!  appsrc "video" (H.264 byte-stream, AU) ─► h264parse ─┐
//!                                                       ├─► mpegtsmux ─► appsink ─► SpoolWriter
//!  appsrc "audio" (Opus, when audio is on) ─► opusparse ┘          (AES-256-GCM, 64 KiB chunks, to disk)
//! ```
//!
//! Memory: the muxer runs faster than real time, so the appsrc queues stay near empty
//! (a muxer error is noticed on the next push, never waited on); the appsink hands each
//! muxed buffer to the encryptor at once, and the encryptor holds one chunk — so a segment in progress costs
//! well under a second of bitrate, whatever its length.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::StorageError;
use super::spool::{SegmentInfo, SpoolEntry, SpoolWriter};
use crate::ring::Frame;

type Shared = Arc<Mutex<(Option<SpoolWriter>, Option<String>)>>;

fn make(factory: &str) -> Result<gst::Element, StorageError> {
    gst::ElementFactory::make(factory)
        .build()
        .map_err(|_| StorageError::MissingElement(factory.to_string()))
}

fn appsrc(name: &str, caps: gst::Caps) -> gst_app::AppSrc {
    gst_app::AppSrc::builder()
        .name(name)
        .is_live(false)
        .format(gst::Format::Time)
        .do_timestamp(false)
        .block(false)
        .max_bytes(4 * 1024 * 1024)
        .caps(&caps)
        .build()
}

/// One segment being muxed and encrypted.
pub struct SegmentMux {
    pipeline: gst::Pipeline,
    video: gst_app::AppSrc,
    audio: Option<gst_app::AppSrc>,
    shared: Shared,
    base_us: u64,
    /// PTS (capture clock, µs) of the first video frame.
    pub first_pts_us: u64,
    /// PTS just past the last video frame.
    pub end_pts_us: u64,
    pub start_unix_ms: i64,
    pub end_unix_ms: i64,
    pub frames: u64,
    pub has_audio: bool,
    pub event: bool,
    nominal_frame_us: u64,
}

impl SegmentMux {
    /// Start a segment whose first video frame is `first` (a keyframe). `base_us` is the
    /// capture PTS that maps to timestamp zero in the files.
    pub fn new(
        writer: SpoolWriter,
        first: &Frame,
        base_us: u64,
        audio_channels: Option<i32>,
        nominal_frame_us: u64,
    ) -> Result<Self, StorageError> {
        let with_audio = audio_channels.is_some();
        let pipeline = gst::Pipeline::new();
        let video = appsrc(
            "video",
            gst::Caps::builder("video/x-h264")
                .field("stream-format", "byte-stream")
                .field("alignment", "au")
                .build(),
        );
        let vparse = make("h264parse")?;
        let mux = make("mpegtsmux")?;
        let sink = gst_app::AppSink::builder().name("ts").sync(false).build();
        pipeline
            .add_many([video.upcast_ref(), &vparse, &mux, sink.upcast_ref()])
            .map_err(|e| StorageError::Pipeline(e.to_string()))?;
        gst::Element::link_many([video.upcast_ref(), &vparse, &mux, sink.upcast_ref()])
            .map_err(|e| StorageError::Pipeline(e.to_string()))?;
        let audio = if let Some(channels) = audio_channels {
            let a = appsrc(
                "audio",
                gst::Caps::builder("audio/x-opus")
                    .field("rate", 48_000i32)
                    .field("channels", channels)
                    .field("channel-mapping-family", 0i32)
                    .field("stream-count", 1i32)
                    .field("coupled-count", i32::from(channels == 2))
                    .build(),
            );
            let aparse = make("opusparse")?;
            pipeline
                .add_many([a.upcast_ref(), &aparse])
                .map_err(|e| StorageError::Pipeline(e.to_string()))?;
            gst::Element::link_many([a.upcast_ref(), &aparse, &mux])
                .map_err(|e| StorageError::Pipeline(e.to_string()))?;
            Some(a)
        } else {
            None
        };

        let shared: Shared = Arc::new(Mutex::new((Some(writer), None)));
        let out = shared.clone();
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let Some(buffer) = sample.buffer() else {
                        return Ok(gst::FlowSuccess::Ok);
                    };
                    let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
                    let mut guard = out.lock().map_err(|_| gst::FlowError::Error)?;
                    let (writer, err) = &mut *guard;
                    if let Some(w) = writer.as_mut()
                        && let Err(e) = w.write(map.as_slice())
                    {
                        *err = Some(e.to_string());
                        return Err(gst::FlowError::Error);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| StorageError::Pipeline(format!("cannot start the muxer: {e}")))?;
        let mut seg = Self {
            pipeline,
            video,
            audio,
            shared,
            base_us,
            first_pts_us: first.pts_us,
            end_pts_us: first.pts_us,
            start_unix_ms: first.capture_unix_ms as i64,
            end_unix_ms: first.capture_unix_ms as i64,
            frames: 0,
            has_audio: with_audio,
            event: false,
            nominal_frame_us,
        };
        seg.push_video(first)?;
        Ok(seg)
    }

    fn buffer(&self, f: &Frame) -> gst::Buffer {
        let mut buf = gst::Buffer::from_slice(f.data.clone());
        if let Some(b) = buf.get_mut() {
            let pts = gst::ClockTime::from_useconds(f.pts_us.saturating_sub(self.base_us));
            b.set_pts(pts);
            b.set_dts(pts);
            if f.duration_us > 0 {
                b.set_duration(gst::ClockTime::from_useconds(f.duration_us));
            }
            if !f.keyframe {
                b.set_flags(gst::BufferFlags::DELTA_UNIT);
            }
        }
        buf
    }

    fn check(&self) -> Result<(), StorageError> {
        // A failed muxer stops consuming: notice it here rather than queueing forever.
        if let Some(bus) = self.pipeline.bus()
            && let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error])
            && let gst::MessageView::Error(e) = msg.view()
        {
            return Err(StorageError::Pipeline(format!("muxer: {}", e.error())));
        }
        let guard = self
            .shared
            .lock()
            .map_err(|_| StorageError::Pipeline("poisoned".into()))?;
        match &guard.1 {
            Some(e) => Err(StorageError::Pipeline(format!("writing the segment: {e}"))),
            None => Ok(()),
        }
    }

    /// Append a video frame (in capture order).
    pub fn push_video(&mut self, f: &Frame) -> Result<(), StorageError> {
        self.check()?;
        self.video
            .push_buffer(self.buffer(f))
            .map_err(|e| StorageError::Pipeline(format!("muxer refused video: {e:?}")))?;
        self.frames += 1;
        let d = if f.duration_us > 0 {
            f.duration_us
        } else {
            self.nominal_frame_us
        };
        self.end_pts_us = f.pts_us + d;
        self.end_unix_ms = f.capture_unix_ms as i64 + (d / 1000) as i64;
        Ok(())
    }

    /// Append an audio packet (ignored when the segment has no audio track).
    pub fn push_audio(&mut self, f: &Frame) -> Result<(), StorageError> {
        self.check()?;
        let Some(a) = &self.audio else { return Ok(()) };
        if f.pts_us < self.base_us {
            return Ok(());
        }
        a.push_buffer(self.buffer(f))
            .map_err(|e| StorageError::Pipeline(format!("muxer refused audio: {e:?}")))?;
        Ok(())
    }

    /// Media duration so far.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.end_pts_us.saturating_sub(self.first_pts_us))
    }

    /// End the segment: drain the muxer, seal the file and queue it for upload.
    pub fn finish(self, channel_id: uuid::Uuid) -> Result<SpoolEntry, StorageError> {
        let _ = self.video.end_of_stream();
        if let Some(a) = &self.audio {
            let _ = a.end_of_stream();
        }
        let bus = self
            .pipeline
            .bus()
            .ok_or_else(|| StorageError::Pipeline("no bus".into()))?;
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        let _ = self.pipeline.set_state(gst::State::Null);
        match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => {}
            Some(gst::MessageView::Error(e)) => {
                return Err(StorageError::Pipeline(format!("muxer: {}", e.error())));
            }
            _ => {
                return Err(StorageError::Pipeline(
                    "muxer did not drain within 10 s".into(),
                ));
            }
        }
        self.check()?;
        let writer = self
            .shared
            .lock()
            .map_err(|_| StorageError::Pipeline("poisoned".into()))?
            .0
            .take()
            .ok_or_else(|| StorageError::Pipeline("segment writer gone".into()))?;
        let info = SegmentInfo {
            kind: super::spool::EntryKind::Segment,
            channel_id,
            start_ms: self.start_unix_ms,
            end_ms: self.end_unix_ms.max(self.start_unix_ms + 1),
            event: self.event,
            duration_us: self.end_pts_us.saturating_sub(self.first_pts_us),
        };
        Ok(writer.commit(info)?)
    }
}

impl Drop for SegmentMux {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
