//! [`CloudStorage`]: the seed's cloud-storage calls over the recorder, spool and uploader.
//!
//! `init` takes everything it will ever need up front (the seed allocates its buffers at
//! init): the recorder thread, the motion thread, the upload workers, and two small tokio
//! tasks — one reports events to the cloud's timeline (and takes the event snapshot),
//! one polls the heartbeat for the store mode so a change in the app applies without a
//! restart. All calls after `init` are cheap messages to those threads.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::sealing::KeyCell;
use eyrie_protocol::api::{DeviceCredentials, EventKind, RecordingPolicy};
use eyrie_protocol::clock::unix_ms;
use uuid::Uuid;

use super::StorageError;
use super::link::DeviceClient;
use super::motion::{Motion, MotionConfig};
use super::recorder::{Command, EventSource, Notice, Recorder, RecorderConfig, RecorderState};
use super::spool::Spool;
use super::upload::{UploadConfig, Uploader};
use crate::capture::Rings;

/// Everything cloud storage is configured with.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub spool_dir: PathBuf,
    /// Bound of the on-disk queue; the oldest segments go beyond it.
    pub spool_max_bytes: u64,
    pub segment_length: Duration,
    pub pre_record: Duration,
    pub max_event: Duration,
    pub audio: bool,
    pub upload: UploadConfig,
    /// How often the store mode is fetched (heartbeat).
    pub mode_poll: Duration,
    /// Channel the segments belong to (the device's main channel).
    pub channel_id: Uuid,
    /// The key segments and snapshots are sealed under (rotated by the camera's keys).
    pub key: KeyCell,
    /// Motion detection on the sub stream (None: off).
    pub motion: Option<MotionConfig>,
    /// Store mode until the cloud says otherwise.
    pub initial_mode: RecordingPolicy,
    pub fps: u32,
    /// Take a snapshot when an event starts.
    pub snapshot_on_event: bool,
    /// Start in privacy mode.
    pub start_paused: bool,
}

impl StorageConfig {
    /// Defaults for a device, sealing under `key`.
    pub fn from_credentials(
        creds: &DeviceCredentials,
        spool_dir: PathBuf,
        key: KeyCell,
    ) -> Result<Self, StorageError> {
        Ok(Self {
            spool_dir,
            spool_max_bytes: 1024 * 1024 * 1024,
            segment_length: Duration::from_secs(30),
            pre_record: Duration::from_secs(2),
            max_event: Duration::from_secs(300),
            audio: true,
            upload: UploadConfig::default(),
            mode_poll: Duration::from_secs(10),
            channel_id: creds.channels.main,
            key,
            motion: Some(MotionConfig::default()),
            initial_mode: creds.store_mode,
            fps: 30,
            snapshot_on_event: true,
            start_paused: false,
        })
    }
}

/// What `status()` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageStatus {
    pub store_mode: RecordingPolicy,
    pub recording: bool,
    pub paused: bool,
    pub event_active: bool,
    /// An upload is in progress (the seed's `get_status`).
    pub uploading: bool,
    pub queued: usize,
    /// Encrypted bytes waiting in the spool.
    pub bytes_behind: u64,
    /// Age of the oldest waiting segment.
    pub oldest_pending_age: Option<Duration>,
    /// Segments deleted unsent (spool full, or refused by the cloud), and their bytes.
    pub dropped: u64,
    pub dropped_bytes: u64,
    pub uploaded: u64,
    pub segments_recorded: u64,
    /// Frames the recorder lost by falling behind the ring.
    pub frames_skipped: u64,
    pub last_error: Option<String>,
}

/// The running cloud-storage service.
pub struct CloudStorage {
    commands: Sender<Command>,
    thread: Option<std::thread::JoinHandle<()>>,
    spool: Spool,
    uploader: Option<Uploader>,
    rec_state: Arc<Mutex<RecorderState>>,
    /// Privacy mode as asked, set before the recorder thread hears of it, so nothing
    /// asked after `pause()` returns (a snapshot) can slip through.
    private: Arc<std::sync::atomic::AtomicBool>,
    mode: Arc<Mutex<RecordingPolicy>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    ring_duration: Duration,
    motion: Option<Motion>,
    snap: super::snapshot::Snapshotter,
    /// Every event start and end, for whoever listens (Home Assistant's motion sensor).
    notices: tokio::sync::broadcast::Sender<Notice>,
}

impl CloudStorage {
    /// Start cloud storage on `rings`. Must be called inside a tokio runtime.
    pub fn init(
        config: StorageConfig,
        rings: &Rings,
        cloud: DeviceClient,
    ) -> Result<Self, StorageError> {
        gstreamer::init().map_err(|e| StorageError::Pipeline(e.to_string()))?;
        let ring_duration = rings.main.config().effective_duration();
        check_pre_record(config.pre_record, ring_duration)?;
        let spool = Spool::open(&config.spool_dir, config.spool_max_bytes)?;
        let uploader = Uploader::start(spool.clone(), cloud.clone(), config.upload.clone());
        let rec_state = Arc::new(Mutex::new(RecorderState::default()));
        let mode = Arc::new(Mutex::new(config.initial_mode));
        let (notice_tx, mut notice_rx) = tokio::sync::mpsc::unbounded_channel();
        let recorder = Recorder::new(
            RecorderConfig {
                channel_id: config.channel_id,
                key: config.key.clone(),
                segment_length: config.segment_length,
                pre_record: config.pre_record,
                max_event: config.max_event,
                audio: config.audio,
                mode: config.initial_mode,
                fps: config.fps,
            },
            spool.clone(),
            rings.main.clone(),
            rings.audio.clone(),
            notice_tx,
            rec_state.clone(),
        );
        let (commands, rx) = std::sync::mpsc::channel();
        if config.start_paused {
            let _ = commands.send(Command::Pause);
        }
        let thread = std::thread::Builder::new()
            .name("eyrie-recorder".into())
            .spawn(move || recorder.run(&rx))
            .map_err(|e| {
                StorageError::Pipeline(format!("cannot start the recorder thread: {e}"))
            })?;
        let snap = super::snapshot::Snapshotter::new(
            rings.main.clone(),
            spool.clone(),
            config.key.clone(),
            config.channel_id,
        );
        let motion = match &config.motion {
            Some(m) => Some(Motion::start(
                m.clone(),
                rings.sub.clone(),
                commands.clone(),
            )?),
            None => None,
        };

        let mut tasks = Vec::new();
        let (notices, _) = tokio::sync::broadcast::channel(16);
        // Events to the cloud's timeline (+ the event snapshot).
        let (cl, channel, snap2, on_event, notices2) = (
            cloud.clone(),
            config.channel_id,
            snap.clone(),
            config.snapshot_on_event,
            notices.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut open: Vec<(EventSource, Uuid)> = Vec::new();
            while let Some(n) = notice_rx.recv().await {
                let _ = notices2.send(n.clone());
                match n {
                    Notice::EventStarted { source, unix_ms } => {
                        if on_event {
                            let s = snap2.clone();
                            tokio::task::spawn_blocking(move || {
                                if let Err(e) = s.take() {
                                    tracing::warn!(%e, "event snapshot failed");
                                }
                            });
                        }
                        let kind = match source {
                            EventSource::Manual => EventKind::Manual,
                            EventSource::Motion => EventKind::Motion,
                        };
                        match cl.event_start(channel, kind, unix_ms).await {
                            Ok(ev) => open.push((source, ev.id)),
                            Err(e) => tracing::warn!(%e, "could not report the event start"),
                        }
                    }
                    Notice::EventEnded { source, unix_ms } => {
                        if let Some(i) = open.iter().position(|(s, _)| *s == source) {
                            let (_, id) = open.remove(i);
                            if let Err(e) = cl.event_end(id, unix_ms).await {
                                tracing::warn!(%e, "could not report the event end");
                            }
                        }
                    }
                }
            }
        }));
        // Store mode follower (heartbeat also reports the spool, and brings the owner's
        // snapshot requests).
        let private = Arc::new(std::sync::atomic::AtomicBool::new(config.start_paused));
        let (cl, cmd, m, sp, every, snap3, private3) = (
            cloud,
            commands.clone(),
            mode.clone(),
            spool.clone(),
            config.mode_poll,
            snap.clone(),
            private.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let st = sp.stats();
                match cl.heartbeat(st.queued as u64, st.dropped).await {
                    Ok(hb) => {
                        let changed = m.lock().map(|mut cur| {
                            std::mem::replace(&mut *cur, hb.store_mode) != hb.store_mode
                        });
                        if changed.unwrap_or(false) {
                            let _ = cmd.send(Command::Mode(hb.store_mode));
                        }
                        if let Some(asked) = hb.snapshot_requested_ms {
                            if private3.load(Ordering::SeqCst) {
                                tracing::info!(
                                    asked,
                                    "snapshot requested; refused, privacy mode is on"
                                );
                            } else {
                                let s = snap3.clone();
                                tokio::task::spawn_blocking(move || match s.take_asked(asked) {
                                    Ok(_) => tracing::info!(
                                        asked,
                                        "snapshot requested by the cloud taken"
                                    ),
                                    Err(e) => tracing::warn!(%e, "requested snapshot failed"),
                                });
                            }
                        }
                    }
                    Err(e) => tracing::debug!(%e, "heartbeat failed; keeping the store mode"),
                }
                tokio::time::sleep(every).await;
            }
        }));

        tracing::info!(
            spool = %config.spool_dir.display(),
            mode = config.initial_mode.as_str(),
            segment_s = config.segment_length.as_secs_f64(),
            "cloud storage started"
        );
        Ok(Self {
            commands,
            thread: Some(thread),
            spool,
            uploader: Some(uploader),
            rec_state,
            private,
            mode,
            tasks,
            ring_duration,
            motion,
            snap,
            notices,
        })
    }

    /// Stop recording (the segment in progress is finished and stays spooled), stop the
    /// uploads and free everything. Spooled segments upload after the next `init`.
    pub async fn uninit(mut self) {
        self.shutdown();
        let thread = self.thread.take();
        let _ =
            tokio::task::spawn_blocking(move || thread.map(std::thread::JoinHandle::join)).await;
        if let Some(u) = self.uploader.take() {
            u.stop().await;
        }
    }

    fn shutdown(&mut self) {
        if let Some(m) = self.motion.take() {
            m.stop();
        }
        let _ = self.commands.send(Command::Shutdown);
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }

    fn send(&self, c: Command) -> Result<(), StorageError> {
        self.commands.send(c).map_err(|_| StorageError::NotRunning)
    }

    /// The store mode the cloud last said (continuous / event / none).
    pub fn store_mode(&self) -> RecordingPolicy {
        self.mode.lock().map_or(RecordingPolicy::None, |m| *m)
    }

    /// Apply a store mode now (e.g. pushed over MQTT) without waiting for the next poll.
    pub fn set_store_mode(&self, mode: RecordingPolicy) -> Result<(), StorageError> {
        if let Ok(mut m) = self.mode.lock() {
            *m = mode;
        }
        self.send(Command::Mode(mode))
    }

    /// Start a manual event (merges with any event going on).
    pub fn event_start(&self) -> Result<(), StorageError> {
        self.send(Command::EventStart(EventSource::Manual))
    }

    /// Stop the manual event and wait (at most 30 s) until its last segment is spooled.
    /// Blocks the calling thread: call it from a blocking context.
    pub fn event_stop(&self) -> Result<(), StorageError> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(Command::EventStop(EventSource::Manual, Some(tx)))?;
        let limit = Duration::from_secs(30);
        rx.recv_timeout(limit)
            .map_err(|_| StorageError::StopTimeout(limit))
    }

    /// Stop the manual event without waiting.
    pub fn event_stop_async(&self) -> Result<(), StorageError> {
        self.send(Command::EventStop(EventSource::Manual, None))
    }

    /// Record audio (true) or video only (false), from the next segment on.
    pub fn set_audio(&self, on: bool) -> Result<(), StorageError> {
        self.send(Command::Audio(on))
    }

    /// Pre-record time for events; refused above the ring buffer's length.
    pub fn set_pre_record(&self, d: Duration) -> Result<(), StorageError> {
        check_pre_record(d, self.ring_duration)?;
        self.send(Command::PreRecord(d))
    }

    /// Privacy mode: record nothing until [`CloudStorage::resume`].
    pub fn pause(&self) -> Result<(), StorageError> {
        self.private.store(true, Ordering::SeqCst);
        self.send(Command::Pause)
    }

    /// Leave privacy mode: recording starts from now, never from the private past.
    pub fn resume(&self) -> Result<(), StorageError> {
        self.private.store(false, Ordering::SeqCst);
        self.send(Command::Resume)
    }

    /// Take a JPEG of the main stream now and queue it for upload (blocking, ~100 ms).
    /// Take a snapshot and spool it for upload; returns its spool entry's name.
    pub fn snapshot(&self) -> Result<String, StorageError> {
        if self.private.load(Ordering::SeqCst)
            || self.rec_state.lock().map(|s| s.paused).unwrap_or(false)
        {
            return Err(StorageError::Snapshot("privacy mode is on".into()));
        }
        self.snap.take().map(|e| e.name)
    }

    /// Upload ends (uploaded or dropped) from now on; None without an uploader.
    pub fn upload_outcomes(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<(String, Result<(), String>)>> {
        self.uploader
            .as_ref()
            .map(|u| u.counters().outcomes.subscribe())
    }

    /// Event starts and ends (manual and motion) from now on.
    pub fn notices(&self) -> tokio::sync::broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    pub fn status(&self) -> StorageStatus {
        let rec = self.rec_state.lock().map(|s| s.clone()).unwrap_or_default();
        let sp = self.spool.stats();
        let (uploading, uploaded, up_err) = match &self.uploader {
            Some(u) => {
                let c = u.counters();
                (
                    c.active.load(Ordering::Relaxed) > 0,
                    c.uploaded.load(Ordering::Relaxed),
                    c.last_error.lock().ok().and_then(|e| e.clone()),
                )
            }
            None => (false, 0, None),
        };
        StorageStatus {
            store_mode: self.store_mode(),
            recording: rec.recording,
            paused: rec.paused,
            event_active: rec.event_active,
            uploading,
            queued: sp.queued,
            bytes_behind: sp.queued_bytes,
            oldest_pending_age: sp
                .oldest_start_ms
                .map(|s| Duration::from_millis(unix_ms().saturating_sub(s).max(0) as u64)),
            dropped: sp.dropped,
            dropped_bytes: sp.dropped_bytes,
            uploaded,
            segments_recorded: rec.segments,
            frames_skipped: rec.frames_skipped,
            last_error: rec.last_error.or(up_err),
        }
    }
}

impl Drop for CloudStorage {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn check_pre_record(asked: Duration, ring: Duration) -> Result<(), StorageError> {
    if asked > ring {
        Err(StorageError::PreRecordTooLong { asked, ring })
    } else {
        Ok(())
    }
}
