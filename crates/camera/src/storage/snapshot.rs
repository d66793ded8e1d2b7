//! Snapshots: one JPEG of the main stream, encrypted into the spool like a segment.
//!
//! The newest keyframe in the main ring is decoded on its own (it carries SPS/PPS) and
//! encoded as JPEG; nothing is decoded continuously for this. The JPEG is sealed with the
//! device's recording key in the segment format (`docs/segment-format.md`), so a camera
//! snapshot is the "sealed" one of the two snapshot formats that
//! `eyrie_api::open_snapshot` tells apart by their first bytes (the app keeps its own
//! snapshots plain); the test below holds the two ends together.
//!
//! ```text
//!  RingBuffer main (newest keyframe) ─► appsrc ─► h264parse ─► avdec_h264 ─► videoconvert ─► jpegenc ─► appsink
//! ```

use std::time::Duration;

use super::sealing::KeyCell;
use gstreamer as gst;
use gstreamer::prelude::*;

use super::StorageError;
use super::spool::{EntryKind, SegmentInfo, Spool, SpoolEntry};
use crate::ring::{RingBuffer, StartAt};

/// How long an asked snapshot waits for a keyframe captured after the ask.
const ASKED_WAIT: Duration = Duration::from_secs(10);

/// Takes snapshots; cheap to clone.
#[derive(Clone)]
pub struct Snapshotter {
    main: RingBuffer,
    spool: Spool,
    key: KeyCell,
    channel_id: uuid::Uuid,
}

impl Snapshotter {
    pub fn new(main: RingBuffer, spool: Spool, key: KeyCell, channel_id: uuid::Uuid) -> Self {
        Self {
            main,
            spool,
            key,
            channel_id,
        }
    }

    /// Encode the newest keyframe as JPEG and queue it (encrypted) for upload.
    pub fn take(&self) -> Result<SpoolEntry, StorageError> {
        let mut reader = self.main.reader(StartAt::NewestKeyframe);
        let frame = reader
            .next_blocking(Duration::from_secs(5))
            .map_err(|e| StorageError::Snapshot(format!("no keyframe: {e}")))?;
        self.keep_frame(&frame)
    }

    /// A snapshot the owner asked for at `asked_ms` (the cloud's clock): the first keyframe
    /// captured at or after the ask, so that the picture is newer than the question
    /// (`docs/api.md`, snapshot requests). The newest keyframe in the ring is usually
    /// older — up to a GOP — so this waits for the next one. A camera whose clock runs
    /// behind the cloud's would wait for ever; after [`ASKED_WAIT`] it takes the newest
    /// keyframe it saw and says so.
    pub fn take_asked(&self, asked_ms: i64) -> Result<SpoolEntry, StorageError> {
        let deadline = std::time::Instant::now() + ASKED_WAIT;
        let mut reader = self.main.reader(StartAt::NewestKeyframe);
        let mut newest = None;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match reader.next_blocking(left) {
                Ok(f) if f.keyframe => {
                    if f.capture_unix_ms == 0 || taken_ms(&f) >= asked_ms {
                        return self.keep_frame(&f);
                    }
                    newest = Some(f);
                }
                Ok(_) => {}
                Err(e) => {
                    let Some(f) = newest else {
                        return Err(StorageError::Snapshot(format!("no keyframe: {e}")));
                    };
                    tracing::warn!(
                        asked_ms,
                        captured_ms = f.capture_unix_ms,
                        "no keyframe captured after the ask; is this camera's clock behind the cloud's?"
                    );
                    return self.keep_frame(&f);
                }
            }
        }
    }

    /// Encode keyframe `frame` as JPEG and seal it into the spool, taken at its capture time.
    fn keep_frame(&self, frame: &crate::ring::Frame) -> Result<SpoolEntry, StorageError> {
        self.keep(&encode_jpeg(&frame.data)?, taken_ms(frame))
    }

    /// Seal `jpeg`, taken at `taken_ms`, into the spool as a snapshot.
    fn keep(&self, jpeg: &[u8], ms: i64) -> Result<SpoolEntry, StorageError> {
        let mut w = self.spool.begin_sealed(&self.key.current())?;
        w.write(jpeg)?;
        let entry = w.commit(SegmentInfo {
            kind: EntryKind::Snapshot,
            channel_id: self.channel_id,
            start_ms: ms,
            end_ms: ms + 1,
            event: false,
            duration_us: 0,
        })?;
        tracing::info!(snapshot = %entry.name, bytes = jpeg.len(), "snapshot spooled");
        Ok(entry)
    }
}

/// A frame's capture time as the snapshot's `taken_at_ms`.
fn taken_ms(frame: &crate::ring::Frame) -> i64 {
    i64::try_from(frame.capture_unix_ms).unwrap_or(i64::MAX)
}

/// Decode one H.264 keyframe (byte-stream, with SPS/PPS) into a JPEG.
pub fn encode_jpeg(keyframe: &[u8]) -> Result<Vec<u8>, StorageError> {
    let err = |e: &dyn std::fmt::Display| StorageError::Snapshot(e.to_string());
    let (pipeline, src, sink) = super::app_pipeline(
        "appsrc name=src format=time caps=video/x-h264,stream-format=byte-stream,alignment=au \
         ! h264parse ! avdec_h264 ! videoconvert ! jpegenc quality=85 ! appsink name=sink sync=false",
    )
    .map_err(|e| err(&e))?;
    let mut buf = gst::Buffer::from_slice(keyframe.to_vec());
    if let Some(b) = buf.get_mut() {
        b.set_pts(gst::ClockTime::ZERO);
    }
    let res = src
        .push_buffer(buf)
        .map_err(|e| err(&format!("{e:?}")))
        .and_then(|_| src.end_of_stream().map_err(|e| err(&format!("{e:?}"))))
        .and_then(|_| {
            sink.try_pull_sample(gst::ClockTime::from_seconds(5))
                .ok_or_else(|| err(&"the decoder gave no picture"))
        })
        .and_then(|sample| {
            let b = sample.buffer().ok_or_else(|| err(&"empty sample"))?;
            let map = b.map_readable().map_err(|e| err(&e))?;
            Ok(map.as_slice().to_vec())
        });
    let _ = pipeline.set_state(gst::State::Null);
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::RingConfig;
    use crate::storage::sealing::SealingKey;
    use eyrie_protocol::api::{RecordingKey, RecordingKeyList};
    use eyrie_protocol::segment::{KeyId, SegmentKey};

    #[test]
    fn a_camera_snapshot_opens_with_the_devices_key_and_no_other() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let key = SegmentKey::generate();
        let key_id = KeyId([3; 8]);
        let ring = RingBuffer::new("main", RingConfig::default());
        let snap = Snapshotter::new(
            ring,
            spool,
            KeyCell::new(SealingKey::content(key.clone(), key_id)),
            uuid::Uuid::new_v4(),
        );
        let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0][..], &[42; 3000]].concat();
        let entry = snap.keep(&jpeg, 1_700_000_000_000).unwrap();
        assert_eq!(entry.manifest.kind, EntryKind::Snapshot);
        let sealed = std::fs::read(&entry.path).unwrap();
        assert!(!sealed.windows(64).any(|w| w == &jpeg[100..164]), "sealed");

        let keys = |k: &SegmentKey| RecordingKeyList {
            keys: vec![RecordingKey::clear(key_id.to_hex(), k, 0)],
        };
        let opened = eyrie_api::open_snapshot(sealed.clone(), &keys(&key)).unwrap();
        assert_eq!(opened, jpeg);
        assert!(eyrie_api::open_snapshot(sealed, &keys(&SegmentKey::generate())).is_err());
    }
}
