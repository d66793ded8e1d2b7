//! The ring buffer: the camera's short memory of encoded media.
//!
//! The encoders run once and push every encoded frame into one [`RingBuffer`] per
//! elementary stream: main video (HD), sub video (SD) and audio (Opus). Everything that
//! wants media — each live session, the cloud-storage segment recorder — takes its own
//! [`RingReader`] and reads at its own pace. The writer never waits for a reader: a reader
//! that falls so far behind that its next frame has been overwritten jumps to the newest
//! keyframe and counts the frames it skipped (seed 000: "if the upload time exceeds the
//! ring duration, data loss might occur" — here it is counted, never silent).
//!
//! Design choices:
//!
//! - **By reference.** A [`Frame`] holds its payload as [`bytes::Bytes`]: a refcounted
//!   view. The capture code wraps the encoder's `gst::Buffer` without copying
//!   (`Bytes::from_owner(buffer.into_mapped_buffer_readable())`) and a live session wraps
//!   it back for its `appsrc` (`gst::Buffer::from_slice(bytes)`), so a frame read by five
//!   viewers and the recorder exists once in memory. The ring itself knows nothing of
//!   GStreamer.
//! - **Fixed memory.** The slot array is allocated once at start from the configured
//!   duration × frame rate (plus a margin); frames beyond it overwrite the oldest. A byte
//!   cap bounds the payload memory the slots keep alive.
//! - **Capacity by duration, at least one GOP.** Frames older than `duration` behind the
//!   newest are dropped, or the oldest while the byte cap is exceeded — but never the
//!   newest keyframe or anything after it (only a full slot array may do that), so a new
//!   reader can always start on a keyframe.
//! - **Sequence numbers.** Every frame gets the next `u64` sequence number; the slot is
//!   `seq % slots`. A reader is just "the next sequence number I want", so any number of
//!   readers cost nothing to the writer.
//! - **Where a reader starts** ([`StartAt`]): at the newest keyframe (live view: the first
//!   frame decodes at once), `SecondsBack(s)` (pre-record: go back `s × fps` frames from
//!   the newest, then on back to the keyframe before that — seed 000), at a PTS (to line
//!   the audio ring up with where a video reader started), or at the newest frame.
//! - **Audio is its own ring.** Audio frames are pushed with `keyframe = true` (every Opus
//!   packet decodes on its own). A consumer that wants both opens the video reader first
//!   and then the audio reader with `StartAt::Pts(first_video_frame.pts_us)`; frames of
//!   both carry PTS on one clock (microseconds, the capture pipeline's running time), so
//!   they interleave by PTS.
//! - **Waiting.** [`RingReader::next_blocking`] waits on a condition variable (recorder
//!   threads), [`RingReader::next`] on a `tokio::sync::Notify` (async tasks). Closing the
//!   ring ends both with `None`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// One encoded frame (an H.264 access unit or an Opus packet).
#[derive(Debug, Clone)]
pub struct Frame {
    /// Presentation time in microseconds, on the capture clock.
    pub pts_us: u64,
    /// Duration in microseconds, 0 if unknown.
    pub duration_us: u64,
    /// True for a frame a decoder can start at (H.264 IDR with SPS/PPS; every audio packet).
    pub keyframe: bool,
    /// The encoded payload, shared, never copied.
    pub data: Bytes,
    /// Wall-clock capture time in milliseconds since the Unix epoch (what the test pattern
    /// burns into the picture), 0 if unknown. Recorders use it to name segments.
    pub capture_unix_ms: u64,
}

/// Sizing of a [`RingBuffer`].
#[derive(Debug, Clone, Copy)]
pub struct RingConfig {
    /// How much media to keep behind the newest frame (default 10 s).
    pub duration: Duration,
    /// Nominal frames per second: sizes the slot array and turns seconds into frame
    /// counts for [`StartAt::SecondsBack`].
    pub fps: u32,
    /// Upper bound on the payload bytes kept alive by the ring.
    pub max_bytes: usize,
    /// The longest expected keyframe interval; the duration is raised to at least this
    /// plus one second so the ring always holds a whole GOP.
    pub keyframe_interval: Duration,
}

impl Default for RingConfig {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(10),
            fps: 30,
            max_bytes: 16 * 1024 * 1024,
            keyframe_interval: Duration::from_secs(2),
        }
    }
}

impl RingConfig {
    /// Duration actually kept: at least one GOP plus a second.
    pub fn effective_duration(&self) -> Duration {
        self.duration
            .max(self.keyframe_interval + Duration::from_secs(1))
    }

    /// Number of preallocated slots: the duration at the nominal rate, with 50 % margin
    /// for rate jitter, at least 16.
    pub fn slots(&self) -> usize {
        let secs = self.effective_duration().as_secs_f64();
        ((secs * f64::from(self.fps.max(1)) * 1.5).ceil() as usize).max(16)
    }
}

/// Where a new reader starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StartAt {
    /// The newest keyframe in the ring (or the next one to arrive if there is none yet).
    NewestKeyframe,
    /// Go back `secs × fps` frames from the newest, then further back to the keyframe at
    /// or before that frame (or the oldest keyframe in the ring if there is none before).
    SecondsBack(f64),
    /// The first frame whose PTS is at or after this one (the oldest if all are later).
    Pts(u64),
    /// The next frame pushed after the reader is made.
    Next,
}

/// Counters, for logs and the status page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Frames pushed since start.
    pub pushed: u64,
    /// Frames currently held.
    pub held: usize,
    /// Payload bytes currently held.
    pub bytes: usize,
    /// PTS span held, microseconds.
    pub span_us: u64,
    /// Frames that readers lost by falling behind, summed over all readers.
    pub reader_skips: u64,
}

struct State {
    slots: Vec<Option<Frame>>,
    /// Sequence number of the oldest frame held.
    tail: u64,
    /// Sequence number the next push gets.
    head: u64,
    bytes: usize,
    newest_keyframe: Option<u64>,
    closed: bool,
}

struct Shared {
    name: String,
    config: RingConfig,
    state: Mutex<State>,
    cond: Condvar,
    notify: tokio::sync::Notify,
    reader_skips: AtomicU64,
}

/// A bounded, fixed-memory buffer of encoded frames with any number of readers.
/// Cheap to clone (all clones are the same ring).
#[derive(Clone)]
pub struct RingBuffer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RingBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBuffer")
            .field("name", &self.shared.name)
            .field("stats", &self.stats())
            .finish()
    }
}

impl RingBuffer {
    /// A new, empty ring; its slot array is allocated here, once.
    pub fn new(name: impl Into<String>, config: RingConfig) -> Self {
        let slots = config.slots();
        let state = State {
            slots: (0..slots).map(|_| None).collect(),
            tail: 0,
            head: 0,
            bytes: 0,
            newest_keyframe: None,
            closed: false,
        };
        Self {
            shared: Arc::new(Shared {
                name: name.into(),
                config,
                state: Mutex::new(state),
                cond: Condvar::new(),
                notify: tokio::sync::Notify::new(),
                reader_skips: AtomicU64::new(0),
            }),
        }
    }

    /// The ring's name ("main", "sub", "audio").
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The ring's sizing.
    pub fn config(&self) -> RingConfig {
        self.shared.config
    }

    /// Number of preallocated slots.
    pub fn capacity(&self) -> usize {
        self.lock().slots.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves the state consistent (every update is a
        // few assignments), so a poisoned lock is still usable.
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Append a frame, dropping old frames as the duration, byte cap and slots require.
    /// Never blocks on readers. Frames pushed after [`close`](Self::close) are ignored.
    pub fn push(&self, frame: Frame) {
        {
            let mut st = self.lock();
            if st.closed {
                return;
            }
            let n = st.slots.len() as u64;
            if st.head - st.tail == n {
                // Slot array full: the oldest goes whatever it is.
                st.evict_oldest();
            }
            let seq = st.head;
            let keyframe = frame.keyframe;
            let pts = frame.pts_us;
            st.bytes += frame.data.len();
            st.slots[(seq % n) as usize] = Some(frame);
            st.head += 1;
            if keyframe {
                st.newest_keyframe = Some(seq);
            }
            let keep_from = st.newest_keyframe.unwrap_or(seq);
            let max_span = self.shared.config.effective_duration().as_micros() as u64;
            while st.tail < keep_from {
                let Some(oldest) = st.slot(st.tail) else {
                    break;
                };
                let too_old = pts.saturating_sub(oldest.pts_us) > max_span;
                let too_big = st.bytes > self.shared.config.max_bytes;
                if !(too_old || too_big) {
                    break;
                }
                st.evict_oldest();
            }
        }
        self.shared.cond.notify_all();
        self.shared.notify.notify_waiters();
    }

    /// End the ring: readers drain nothing more and their waits return `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.shared.cond.notify_all();
        self.shared.notify.notify_waiters();
    }

    /// A new reader positioned by `start`.
    pub fn reader(&self, start: StartAt) -> RingReader {
        let next = {
            let st = self.lock();
            st.start_seq(start, self.shared.config.fps)
        };
        RingReader {
            shared: self.shared.clone(),
            next,
            skipped: 0,
            delivered: 0,
        }
    }

    /// The newest frame's PTS, if any.
    pub fn newest_pts(&self) -> Option<u64> {
        let st = self.lock();
        st.head
            .checked_sub(1)
            .and_then(|s| st.slot(s))
            .map(|f| f.pts_us)
    }

    /// Counters.
    pub fn stats(&self) -> RingStats {
        let st = self.lock();
        let span_us = match (
            st.slot(st.tail),
            st.head.checked_sub(1).and_then(|s| st.slot(s)),
        ) {
            (Some(a), Some(b)) => b.pts_us.saturating_sub(a.pts_us),
            _ => 0,
        };
        RingStats {
            pushed: st.head,
            held: (st.head - st.tail) as usize,
            bytes: st.bytes,
            span_us,
            reader_skips: self.shared.reader_skips.load(Ordering::Relaxed),
        }
    }
}

impl State {
    fn slot(&self, seq: u64) -> Option<&Frame> {
        if seq < self.tail || seq >= self.head {
            return None;
        }
        let n = self.slots.len() as u64;
        self.slots[(seq % n) as usize].as_ref()
    }

    fn evict_oldest(&mut self) {
        let n = self.slots.len() as u64;
        if let Some(f) = self.slots[(self.tail % n) as usize].take() {
            self.bytes -= f.data.len();
        }
        if self.newest_keyframe == Some(self.tail) {
            self.newest_keyframe = None;
        }
        self.tail += 1;
    }

    fn start_seq(&self, start: StartAt, fps: u32) -> u64 {
        if self.head == self.tail {
            return self.head;
        }
        match start {
            StartAt::Next => self.head,
            StartAt::NewestKeyframe => self.newest_keyframe.unwrap_or(self.head),
            StartAt::Pts(pts) => (self.tail..self.head)
                .find(|&s| self.slot(s).is_some_and(|f| f.pts_us >= pts))
                .unwrap_or(self.head),
            StartAt::SecondsBack(secs) => {
                let back = (secs.max(0.0) * f64::from(fps)).round() as u64;
                let newest = self.head - 1;
                let from = newest.saturating_sub(back).max(self.tail);
                // On back to the keyframe at or before `from`, else forward to the first
                // keyframe after it.
                (self.tail..=from)
                    .rev()
                    .find(|&s| self.slot(s).is_some_and(|f| f.keyframe))
                    .or_else(|| {
                        (from..self.head).find(|&s| self.slot(s).is_some_and(|f| f.keyframe))
                    })
                    .unwrap_or(self.head)
            }
        }
    }
}

/// Why a wait for the next frame ended without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The ring was closed.
    #[error("ring buffer closed")]
    Closed,
    /// No frame came within the timeout.
    #[error("no frame within the timeout")]
    Timeout,
}

/// One consumer's cursor into a [`RingBuffer`].
pub struct RingReader {
    shared: Arc<Shared>,
    next: u64,
    skipped: u64,
    delivered: u64,
}

impl std::fmt::Debug for RingReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingReader")
            .field("ring", &self.shared.name)
            .field("next", &self.next)
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl RingReader {
    /// Frames this reader lost by falling behind the writer.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Frames handed out so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Frames waiting for this reader (0 if it is caught up).
    pub fn lag(&self) -> u64 {
        let st = self.lock();
        st.head.saturating_sub(self.next.max(st.tail))
    }

    /// Move forward to the newest keyframe (to drop a backlog on purpose); frames passed
    /// over are not counted as skipped.
    pub fn seek_newest_keyframe(&mut self) {
        let newest = self.lock().newest_keyframe;
        if let Some(k) = newest
            && k > self.next
        {
            self.next = k;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&mut self, st: &State) -> Result<Option<Frame>, ReadError> {
        if self.next < st.tail {
            // Fell behind: the frames we wanted are gone. Jump to the newest keyframe so
            // the decoder downstream restarts cleanly.
            let to = st.newest_keyframe.unwrap_or(st.head);
            let lost = to - self.next;
            self.skipped += lost;
            self.shared.reader_skips.fetch_add(lost, Ordering::Relaxed);
            tracing::debug!(ring = %self.shared.name, lost, "reader fell behind, jumped to newest keyframe");
            self.next = to;
        }
        if let Some(f) = st.slot(self.next) {
            self.next += 1;
            self.delivered += 1;
            return Ok(Some(f.clone()));
        }
        if st.closed {
            return Err(ReadError::Closed);
        }
        Ok(None)
    }

    /// The next frame if one is ready, without waiting.
    pub fn try_next(&mut self) -> Result<Option<Frame>, ReadError> {
        let shared = self.shared.clone();
        let st = shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.take(&st)
    }

    /// Wait (blocking the thread) for the next frame, at most `timeout`.
    pub fn next_blocking(&mut self, timeout: Duration) -> Result<Frame, ReadError> {
        let deadline = Instant::now() + timeout;
        let shared = self.shared.clone();
        let mut st = shared
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        loop {
            if let Some(f) = self.take(&st)? {
                return Ok(f);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ReadError::Timeout);
            }
            st = shared
                .cond
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Wait (asynchronously) for the next frame; `None` once the ring is closed.
    pub async fn next(&mut self) -> Option<Frame> {
        let shared = self.shared.clone();
        loop {
            let notified = shared.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_next() {
                Ok(Some(f)) => return Some(f),
                Ok(None) => {}
                Err(_) => return None,
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests;
