//! One recording segment: encoded frames in, encrypted MPEG-TS in the spool out.
//!
//! The recorder hands every frame of a segment to a [`SegmentMux`], which packs it into
//! transport-stream packets ([`super::ts`]) and pushes them through the segment
//! encryptor into the spool file — all on the recorder's thread, with no pipeline, no
//! queue and no copy of the media beyond the packet being built. Every file starts with its
//! own PAT/PMT and a keyframe and plays on its own. Frames keep the capture timeline
//! (microseconds since the recorder's first frame), so consecutive segments continue
//! each other's timestamps and a player can stitch them without a gap or an overlap.
//!
//! ```text
//!  video Frame (H.264 AU) ─┐
//!                          ├─► TsWriter ─► 188-byte packets ─► SpoolWriter
//!  audio Frame (Opus) ─────┘                                        (AES-256-GCM, 64 KiB chunks, to disk)
//! ```
//!
//! Memory: one packet on the stack and the encryptor's chunk, whatever the segment's
//! length.

use std::time::Duration;

use super::StorageError;
use super::spool::{SegmentInfo, SpoolEntry, SpoolWriter};
use super::ts::{PacketSink, TsWriter, ticks};
use crate::ring::Frame;

/// One segment being muxed and encrypted.
pub struct SegmentMux {
    writer: SpoolWriter,
    ts: TsWriter,
    base_us: u64,
    /// PTS (capture clock, µs) of the first video frame.
    pub first_pts_us: u64,
    /// PTS just past the last video frame.
    pub end_pts_us: u64,
    pub start_unix_ms: i64,
    pub end_unix_ms: i64,
    pub frames: u64,
    pub event: bool,
    nominal_frame_us: u64,
}

impl SegmentMux {
    /// Start a segment whose first video frame is `first` (a keyframe). `base_us` is the
    /// capture PTS that maps to timestamp zero in the files; `audio_channels` adds an
    /// Opus track of that many channels.
    pub fn new(
        writer: SpoolWriter,
        first: &Frame,
        base_us: u64,
        audio_channels: Option<u8>,
        nominal_frame_us: u64,
    ) -> Result<Self, StorageError> {
        let mut seg = Self {
            writer,
            ts: TsWriter::new(audio_channels),
            base_us,
            first_pts_us: first.pts_us,
            end_pts_us: first.pts_us,
            start_unix_ms: first.capture_unix_ms as i64,
            end_unix_ms: first.capture_unix_ms as i64,
            frames: 0,
            event: false,
            nominal_frame_us,
        };
        seg.push_video(first)?;
        Ok(seg)
    }

    /// Append a video frame (in capture order).
    pub fn push_video(&mut self, f: &Frame) -> Result<(), StorageError> {
        let pts = ticks(f.pts_us.saturating_sub(self.base_us));
        let mut sink = ToSpool::new(&mut self.writer);
        self.ts.video(pts, f.keyframe, &f.data, &mut sink);
        sink.result()?;
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
        if !self.ts.has_audio() || f.pts_us < self.base_us {
            return Ok(());
        }
        let pts = ticks(f.pts_us - self.base_us);
        let mut sink = ToSpool::new(&mut self.writer);
        self.ts.audio(pts, &f.data, &mut sink);
        sink.result()
    }

    /// Media duration so far.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.end_pts_us.saturating_sub(self.first_pts_us))
    }

    /// End the segment: seal the file and queue it for upload.
    pub fn finish(self, channel_id: uuid::Uuid) -> Result<SpoolEntry, StorageError> {
        let info = SegmentInfo {
            kind: super::spool::EntryKind::Segment,
            channel_id,
            start_ms: self.start_unix_ms,
            end_ms: self.end_unix_ms.max(self.start_unix_ms + 1),
            event: self.event,
            duration_us: self.end_pts_us.saturating_sub(self.first_pts_us),
        };
        Ok(self.writer.commit(info)?)
    }
}

/// Packets straight into the segment's encryptor; the first write error is kept and
/// the packets after it are dropped (the segment is abandoned on that error).
struct ToSpool<'a> {
    writer: &'a mut SpoolWriter,
    error: Option<super::spool::SpoolError>,
}

impl<'a> ToSpool<'a> {
    fn new(writer: &'a mut SpoolWriter) -> Self {
        Self {
            writer,
            error: None,
        }
    }

    fn result(self) -> Result<(), StorageError> {
        match self.error {
            None => Ok(()),
            Some(e) => Err(StorageError::Pipeline(format!("writing the segment: {e}"))),
        }
    }
}

impl PacketSink for ToSpool<'_> {
    fn packet(&mut self, packet: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.writer.write(packet)
        {
            self.error = Some(e);
        }
    }
}
