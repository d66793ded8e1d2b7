//! The recorder: decides, frame by frame, what of the main stream becomes a segment.
//!
//! One thread reads the main-stream [`RingReader`] (and the audio ring's reader when audio
//! is on) and feeds [`SegmentMux`]es. Everything that changes its behaviour — store mode,
//! events, pause, audio, pre-record — arrives as a [`Command`] and is applied between two
//! frames, so there is no locking on the frame path and no race between a cut and a
//! command.
//!
//! Rules:
//!
//! - **Continuous**: a segment starts on a keyframe and is cut at the first keyframe at
//!   least `segment_length` after its start; the cut keyframe opens the next segment, so
//!   consecutive segments share no frame and miss none.
//! - **Event**: nothing is recorded until an event starts. Then the reader is moved back by
//!   the pre-record time to the keyframe at or before that point ([`StartAt::SecondsBack`],
//!   seed 000) and records until every event source has stopped (events from several
//!   sources merge) or the maximum event length is reached. Long events are still cut
//!   into segments like continuous recording.
//! - **Privacy pause**: the segment in progress ends at once and nothing is recorded until
//!   resume. Frames older than the resume are never recorded — not even as pre-record — so
//!   recording resumes on the first keyframe captured after it.
//! - **Audio** on/off takes effect at the next segment (a segment has a fixed set of tracks).

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::sealing::KeyCell;
use eyrie_protocol::api::RecordingPolicy;
use eyrie_protocol::clock::unix_ms;

use super::StorageError;
use super::segmenter::SegmentMux;
use super::spool::Spool;
use crate::ring::{Frame, ReadError, RingBuffer, RingReader, StartAt};

/// Who started an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventSource {
    Manual,
    Motion,
}

/// What the recorder is told.
pub enum Command {
    Mode(RecordingPolicy),
    EventStart(EventSource),
    /// Stop an event; the sender (if any) hears once the event's last segment is spooled.
    EventStop(EventSource, Option<Sender<()>>),
    Pause,
    Resume,
    Audio(bool),
    PreRecord(Duration),
    Shutdown,
}

/// What the recorder reports (for the cloud's event timeline and snapshots).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    EventStarted { source: EventSource, unix_ms: i64 },
    EventEnded { source: EventSource, unix_ms: i64 },
}

/// Recorder settings.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    pub channel_id: uuid::Uuid,
    /// The key each new segment is sealed under (it may rotate between segments).
    pub key: KeyCell,
    pub segment_length: Duration,
    pub pre_record: Duration,
    pub max_event: Duration,
    pub audio: bool,
    pub mode: RecordingPolicy,
    pub fps: u32,
}

/// What the status shows of the recorder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecorderState {
    pub recording: bool,
    pub paused: bool,
    pub event_active: bool,
    pub segments: u64,
    pub frames_skipped: u64,
    pub last_error: Option<String>,
}

pub(crate) struct Recorder {
    cfg: RecorderConfig,
    spool: Spool,
    main: RingBuffer,
    audio_ring: RingBuffer,
    video: RingReader,
    audio: Option<RingReader>,
    audio_peek: Option<Frame>,
    current: Option<SegmentMux>,
    base_us: Option<u64>,
    paused: bool,
    /// Frames with a smaller PTS are private (before a resume): never recorded.
    private_floor_us: u64,
    /// The wall-clock time of the last resume: a frame captured before it is private even
    /// when the encoder hands it over after the resume (its queue holds a few frames).
    private_floor_unix_ms: u64,
    sources: Vec<EventSource>,
    event_first_us: Option<u64>,
    /// Record up to this PTS, then stop (event mode, all sources stopped).
    stop_at_us: Option<u64>,
    waiters: Vec<Sender<()>>,
    notices: tokio::sync::mpsc::UnboundedSender<Notice>,
    state: Arc<Mutex<RecorderState>>,
}

impl Recorder {
    pub(crate) fn new(
        cfg: RecorderConfig,
        spool: Spool,
        main: RingBuffer,
        audio_ring: RingBuffer,
        notices: tokio::sync::mpsc::UnboundedSender<Notice>,
        state: Arc<Mutex<RecorderState>>,
    ) -> Self {
        let video = main.reader(StartAt::NewestKeyframe);
        Self {
            cfg,
            spool,
            main,
            audio_ring,
            video,
            audio: None,
            audio_peek: None,
            current: None,
            base_us: None,
            paused: false,
            private_floor_us: 0,
            private_floor_unix_ms: 0,
            sources: Vec::new(),
            event_first_us: None,
            stop_at_us: None,
            waiters: Vec::new(),
            notices,
            state,
        }
    }

    fn frame_us(&self) -> u64 {
        1_000_000 / u64::from(self.cfg.fps.max(1))
    }

    fn update_state(&self, f: impl FnOnce(&mut RecorderState)) {
        if let Ok(mut st) = self.state.lock() {
            f(&mut st);
        }
    }

    fn error(&self, e: &StorageError) {
        tracing::error!(%e, "recorder");
        let msg = e.to_string();
        self.update_state(|s| s.last_error = Some(msg));
    }

    /// The thread body: runs until [`Command::Shutdown`] or the ring closes.
    pub(crate) fn run(mut self, commands: &Receiver<Command>) {
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Shutdown) => return self.close(),
                    Ok(c) => self.command(c),
                    Err(std::sync::mpsc::TryRecvError::Empty) => break,
                    Err(std::sync::mpsc::TryRecvError::Disconnected) => return self.close(),
                }
            }
            match self.video.next_blocking(Duration::from_millis(100)) {
                Ok(f) => self.frame(&f),
                Err(ReadError::Timeout) => {}
                Err(ReadError::Closed) => return self.close(),
            }
            let skipped = self.video.skipped();
            self.update_state(|s| s.frames_skipped = skipped);
        }
    }

    fn close(&mut self) {
        self.finish_current();
        for w in self.waiters.drain(..) {
            let _ = w.send(());
        }
    }

    fn event_active(&self) -> bool {
        !self.sources.is_empty() || self.stop_at_us.is_some()
    }

    fn wants_recording(&self) -> bool {
        !self.paused
            && match self.cfg.mode {
                RecordingPolicy::Continuous => true,
                RecordingPolicy::Event => self.event_active(),
                RecordingPolicy::None => false,
            }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Mode(m) => {
                if m != self.cfg.mode {
                    tracing::info!(
                        from = self.cfg.mode.as_str(),
                        to = m.as_str(),
                        "store mode changed"
                    );
                    self.cfg.mode = m;
                    if !self.wants_recording() {
                        self.finish_current();
                    }
                }
            }
            Command::EventStart(src) => self.event_start(src),
            Command::EventStop(src, ack) => {
                if let Some(a) = ack {
                    self.waiters.push(a);
                }
                self.event_stop(src);
            }
            Command::Pause => {
                if !self.paused {
                    tracing::info!("cloud storage paused (privacy)");
                    self.paused = true;
                    self.finish_current();
                    self.update_state(|s| s.paused = true);
                }
            }
            Command::Resume => {
                if self.paused {
                    tracing::info!("cloud storage resumed");
                    self.paused = false;
                    // Nothing captured before now may be recorded.
                    self.private_floor_us = self.main.newest_pts().map_or(0, |p| p + 1);
                    self.private_floor_unix_ms = unix_ms().max(0) as u64;
                    self.video = self.main.reader(StartAt::Next);
                    self.audio = None;
                    self.audio_peek = None;
                    self.update_state(|s| s.paused = false);
                }
            }
            Command::Audio(on) => self.cfg.audio = on,
            Command::PreRecord(d) => self.cfg.pre_record = d,
            Command::Shutdown => {}
        }
    }

    fn event_start(&mut self, src: EventSource) {
        if self.sources.contains(&src) {
            return;
        }
        self.sources.push(src);
        let _ = self.notices.send(Notice::EventStarted {
            source: src,
            unix_ms: unix_ms(),
        });
        self.stop_at_us = None;
        if self.event_first_us.is_none() {
            self.event_first_us = self.main.newest_pts();
        }
        self.update_state(|s| s.event_active = true);
        if let Some(cur) = self.current.as_mut() {
            cur.event = true;
            return;
        }
        if self.cfg.mode == RecordingPolicy::Event && !self.paused {
            // Go back by the pre-record time, to the keyframe at or before it.
            self.video = self
                .main
                .reader(StartAt::SecondsBack(self.cfg.pre_record.as_secs_f64()));
            self.audio = None;
            self.audio_peek = None;
        }
    }

    fn event_stop(&mut self, src: EventSource) {
        let before = self.sources.len();
        self.sources.retain(|s| *s != src);
        if self.sources.len() != before {
            let _ = self.notices.send(Notice::EventEnded {
                source: src,
                unix_ms: unix_ms(),
            });
        }
        if self.sources.is_empty() && self.event_first_us.is_some() {
            self.event_first_us = None;
            if self.cfg.mode == RecordingPolicy::Event && self.current.is_some() {
                self.stop_at_us = Some(self.main.newest_pts().unwrap_or(0));
            } else {
                self.stop_at_us = None;
            }
            self.update_state(|s| s.event_active = false);
        }
        if !self.event_active() || self.current.is_none() {
            self.flush_waiters_if_idle();
        }
    }

    fn flush_waiters_if_idle(&mut self) {
        if self.stop_at_us.is_none() {
            for w in self.waiters.drain(..) {
                let _ = w.send(());
            }
        }
    }

    fn frame(&mut self, f: &Frame) {
        // Maximum event length: stop every source.
        if let Some(first) = self.event_first_us
            && f.pts_us.saturating_sub(first) >= self.cfg.max_event.as_micros() as u64
        {
            tracing::info!("event reached its maximum length");
            for src in self.sources.clone() {
                self.event_stop(src);
            }
        }
        if let Some(stop) = self.stop_at_us
            && f.pts_us > stop
        {
            self.stop_at_us = None;
            self.finish_current();
            self.flush_waiters_if_idle();
        }
        let private = f.pts_us < self.private_floor_us
            || (f.capture_unix_ms != 0 && f.capture_unix_ms < self.private_floor_unix_ms);
        if private || !self.wants_recording() {
            if self.current.is_some() {
                self.finish_current();
            }
            return;
        }
        let cut = match &self.current {
            None => f.keyframe,
            Some(cur) => {
                f.keyframe
                    && f.pts_us.saturating_sub(cur.first_pts_us)
                        >= self.cfg.segment_length.as_micros() as u64
            }
        };
        if cut {
            self.push_audio_until(f.pts_us);
            self.finish_current();
            if let Err(e) = self.start_segment(f) {
                self.error(&e);
            }
        } else if let Some(cur) = self.current.as_mut() {
            if let Err(e) = cur.push_video(f) {
                self.error(&e);
                self.current = None;
                return;
            }
            self.push_audio_until(f.pts_us);
        }
    }

    fn start_segment(&mut self, f: &Frame) -> Result<(), StorageError> {
        let base = *self.base_us.get_or_insert(f.pts_us);
        let with_audio = self.cfg.audio;
        if with_audio && self.audio.is_none() {
            self.audio = Some(self.audio_ring.reader(StartAt::Pts(f.pts_us)));
            self.audio_peek = None;
        } else if !with_audio {
            self.audio = None;
            self.audio_peek = None;
        }
        // The Opus TOC byte says mono or stereo (RFC 6716 §3.1).
        let mut channels = None;
        if let Some(reader) = self.audio.as_mut() {
            if self.audio_peek.is_none() {
                self.audio_peek = reader.next_blocking(Duration::from_millis(200)).ok();
            }
            // The first packet tells the channel count; an audio track with no packet in
            // it would only confuse players: add audio when a packet near this frame's
            // time is there.
            channels = match self.audio_peek.as_ref() {
                Some(a) if a.pts_us.abs_diff(f.pts_us) < 2_000_000 => {
                    Some(if a.data.first().is_some_and(|toc| toc & 0x04 != 0) {
                        2
                    } else {
                        1
                    })
                }
                other => {
                    tracing::warn!(
                        audio_pts = other.map(|a| a.pts_us),
                        video_pts = f.pts_us,
                        "no audio near the segment start: this segment has no audio"
                    );
                    None
                }
            };
        }
        let writer = self.spool.begin_sealed(&self.cfg.key.current())?;
        let mut mux = SegmentMux::new(writer, f, base, channels, self.frame_us())?;
        mux.event = self.event_active();
        self.current = Some(mux);
        self.update_state(|s| s.recording = true);
        self.push_audio_until(f.pts_us);
        Ok(())
    }

    /// The next audio packet with PTS before `until_us`: the one peeked at, else the
    /// ring's next. A later packet is kept back (peeked) for the next segment.
    fn next_audio_before(&mut self, until_us: u64) -> Option<Frame> {
        let reader = self.audio.as_mut()?;
        let a = match self.audio_peek.take() {
            Some(a) => a,
            None => reader.try_next().ok().flatten()?,
        };
        if a.pts_us >= until_us {
            self.audio_peek = Some(a);
            return None;
        }
        Some(a)
    }

    /// Move audio packets with PTS before `until_us` into the current segment.
    fn push_audio_until(&mut self, until_us: u64) {
        while let Some(a) = self.next_audio_before(until_us) {
            if let Some(cur) = self.current.as_mut()
                && a.pts_us >= cur.first_pts_us
                && let Err(e) = cur.push_audio(&a)
            {
                tracing::warn!(%e, "audio packet not recorded");
            }
        }
    }

    fn finish_current(&mut self) {
        let Some(cur) = self.current.take() else {
            return;
        };
        let end = cur.end_pts_us;
        self.push_audio_until_into(cur, end);
    }

    fn push_audio_until_into(&mut self, mut cur: SegmentMux, end: u64) {
        while let Some(a) = self.next_audio_before(end) {
            if a.pts_us >= cur.first_pts_us {
                let _ = cur.push_audio(&a);
            }
        }
        let frames = cur.frames;
        let dur = cur.duration();
        match cur.finish(self.cfg.channel_id) {
            Ok(entry) => {
                tracing::info!(
                    segment = %entry.name,
                    frames,
                    duration_ms = dur.as_millis() as u64,
                    size = entry.manifest.size,
                    event = entry.manifest.event,
                    "segment spooled"
                );
                self.update_state(|s| {
                    s.segments += 1;
                    s.recording = false;
                });
            }
            Err(e) => self.error(&e),
        }
        if !self.event_active() {
            self.flush_waiters_if_idle();
        }
    }
}
