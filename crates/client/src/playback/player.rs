//! The [`Player`]: one channel's recordings played from any instant, stitched across
//! segment boundaries, with pause, rate, single steps, event jumps and gap skipping.
//!
//! The player keeps one display pipeline for its life and replaces the [run](super::run)
//! behind it on every seek; a controller task listens for runs that end and resumes
//! after a gap (with [`Notice::GapSkipped`]) or announces the end of the recordings.
//!
//! ```text
//!  appsrc (live, do-timestamp; frames pushed by the presenter) ─► videoconvert ─► sink (caller's; sync=false)
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::fetch::KeyRing;
use super::run::{self, Control, Run, RunCtx, RunEnd};
use super::timeline::Timeline;
use super::{Notice, PlaybackError, make};
use crate::api::ApiClient;

/// What the player is doing, for a UI to show.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerState {
    pub paused: bool,
    pub rate: f64,
    /// Wall-clock time (unix ms) of the frame on screen.
    pub position_ms: Option<i64>,
}

struct Inner {
    api: ApiClient,
    keys: KeyRing,
    channel: Uuid,
    /// Playing a finished clip's object instead of the channel's recordings.
    clip: Option<eyrie_protocol::api::Clip>,
    rt: tokio::runtime::Handle,
    control: Arc<Control>,
    display: gst::Pipeline,
    display_src: gst_app::AppSrc,
    run: Mutex<Option<Run>>,
    generation: AtomicU64,
    notices: mpsc::UnboundedSender<Notice>,
    ended: mpsc::UnboundedSender<RunEnd>,
}

/// Plays one channel's cloud recordings into a sink.
pub struct Player {
    inner: Arc<Inner>,
    controller: tokio::task::JoinHandle<()>,
}

impl Player {
    /// A player for `channel` showing video in `sink` (an appsink in tests,
    /// gtk4paintablesink in the app). The sink's `sync` is turned off: the player paces
    /// frames itself. Must be called inside a tokio runtime; typed notices arrive on the
    /// returned receiver.
    pub fn open(
        api: ApiClient,
        keys: KeyRing,
        channel: Uuid,
        sink: &gst::Element,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Notice>), PlaybackError> {
        Self::open_source(api, keys, channel, None, sink)
    }

    /// A player for a finished clip: it plays the clip object (its segments are byte
    /// ranges of it, fetched with range GETs and decrypted one by one), from the clip's
    /// start to its end, so the clip plays even after its recordings expired. Seek with
    /// [`Self::seek`] (e.g. to `clip.start_ms`).
    pub fn open_clip(
        api: ApiClient,
        keys: KeyRing,
        clip: eyrie_protocol::api::Clip,
        sink: &gst::Element,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Notice>), PlaybackError> {
        if Timeline::for_clip(&clip).is_none() {
            return Err(PlaybackError::NothingToPlay);
        }
        Self::open_source(api, keys, clip.channel_id, Some(clip), sink)
    }

    fn open_source(
        api: ApiClient,
        keys: KeyRing,
        channel: Uuid,
        clip: Option<eyrie_protocol::api::Clip>,
        sink: &gst::Element,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Notice>), PlaybackError> {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| PlaybackError::Gst("Player::open needs a tokio runtime".into()))?;
        let display = gst::Pipeline::new();
        let display_src = gst_app::AppSrc::builder()
            .is_live(true)
            .do_timestamp(true)
            .format(gst::Format::Time)
            .block(true)
            .max_buffers(2)
            .build();
        let convert = make("videoconvert")?;
        if sink.has_property("sync") {
            sink.set_property("sync", false);
        }
        display.add_many([display_src.upcast_ref(), &convert, sink])?;
        gst::Element::link_many([display_src.upcast_ref(), &convert, sink])?;
        display.set_state(gst::State::Playing)?;

        let (notices, notice_rx) = mpsc::unbounded_channel();
        let (ended, mut ended_rx) = mpsc::unbounded_channel::<RunEnd>();
        let inner = Arc::new(Inner {
            api,
            keys,
            channel,
            clip,
            rt: rt.clone(),
            control: Arc::new(Control::new()),
            display,
            display_src,
            run: Mutex::new(None),
            generation: AtomicU64::new(0),
            notices,
            ended,
        });
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        let controller = rt.spawn(async move {
            while let Some(end) = ended_rx.recv().await {
                let Some(inner) = weak.upgrade() else { return };
                if end.generation != inner.generation.load(Ordering::SeqCst) {
                    continue;
                }
                match end.resume_at {
                    Some(t) => {
                        let _ = inner.notices.send(Notice::GapSkipped {
                            from_ms: end.last_ms,
                            to_ms: t,
                        });
                        if let Err(e) = seek(&inner, t, false).await {
                            let _ = inner.notices.send(Notice::Error(e.to_string()));
                        }
                    }
                    None => {
                        let _ = inner
                            .notices
                            .send(Notice::EndOfRecordings { at_ms: end.last_ms });
                    }
                }
            }
        });
        Ok((Self { inner, controller }, notice_rx))
    }

    /// Play from `unix_ms`: the first frame shown is the one at that instant (decoded from
    /// the keyframe before it). A seek into a gap starts at the next recording.
    pub async fn seek(&self, unix_ms: i64) -> Result<(), PlaybackError> {
        seek(&self.inner, unix_ms, true).await
    }

    pub fn pause(&self) {
        self.inner.control.update(|c| c.paused = true);
    }

    pub fn play(&self) {
        self.inner.control.update(|c| {
            c.paused = false;
            c.steps = 0;
        });
    }

    /// 1, 2, 4 or 8 (any positive rate works; frames are paced, not skipped).
    pub fn set_rate(&self, rate: f64) {
        let rate = rate.clamp(0.1, 16.0);
        self.inner.control.update(|c| c.rate = rate);
    }

    /// Show the next frame (pauses first).
    pub fn step(&self) {
        self.inner.control.update(|c| {
            c.paused = true;
            c.steps += 1;
        });
    }

    pub fn state(&self) -> PlayerState {
        match self.inner.control.ctl.lock() {
            Ok(c) => PlayerState {
                paused: c.paused,
                rate: c.rate,
                position_ms: c.position_ms,
            },
            Err(_) => PlayerState {
                paused: true,
                rate: 1.0,
                position_ms: None,
            },
        }
    }

    /// The playhead (now, when nothing plays) and the start times of the events from
    /// `from` to `to` milliseconds around it.
    async fn event_starts_around(
        &self,
        from: i64,
        to: i64,
    ) -> Result<(i64, Vec<i64>), PlaybackError> {
        let pos = self
            .state()
            .position_ms
            .unwrap_or_else(eyrie_protocol::clock::unix_ms);
        let list = self
            .inner
            .api
            .events(self.inner.channel, pos + from, pos + to)
            .await?;
        Ok((pos, list.events.iter().map(|e| e.start_ms).collect()))
    }

    /// Jump to the start of the next event after the playhead; `None` if there is none
    /// within a day.
    pub async fn next_event(&self) -> Result<Option<i64>, PlaybackError> {
        let (pos, starts) = self.event_starts_around(0, 86_400_000).await?;
        let t = starts.into_iter().filter(|&s| s > pos + 500).min();
        if let Some(t) = t {
            self.seek(t).await?;
        }
        Ok(t)
    }

    /// Jump to the start of the event before the playhead (2 s of slack so that pressing
    /// it twice walks back).
    pub async fn previous_event(&self) -> Result<Option<i64>, PlaybackError> {
        let (pos, starts) = self.event_starts_around(-86_400_000, 0).await?;
        let t = starts.into_iter().filter(|&s| s < pos - 2_000).max();
        if let Some(t) = t {
            self.seek(t).await?;
        }
        Ok(t)
    }

    /// Stop playing (downloads are cancelled); a later seek starts again.
    pub fn stop(&self) {
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut r) = self.inner.run.lock() {
            r.take();
        }
    }
}

impl Drop for Player {
    fn drop(&mut self) {
        self.stop();
        self.controller.abort();
        let _ = self.inner.display.set_state(gst::State::Null);
    }
}

async fn seek(inner: &Arc<Inner>, unix_ms: i64, announce_gap: bool) -> Result<(), PlaybackError> {
    let generation = inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
    // Cancel what is in flight before listing again.
    if let Ok(mut r) = inner.run.lock() {
        r.take();
    }
    let timeline = match &inner.clip {
        Some(clip) => Timeline::for_clip(clip).ok_or(PlaybackError::NothingToPlay)?,
        None => Timeline::fetch(&inner.api, inner.channel, unix_ms).await?,
    };
    if inner.generation.load(Ordering::SeqCst) != generation {
        return Ok(()); // a newer seek won
    }
    let Some(first) = timeline.at_or_after(unix_ms) else {
        let _ = inner
            .notices
            .send(Notice::EndOfRecordings { at_ms: unix_ms });
        return Err(PlaybackError::NothingToPlay);
    };
    let start = timeline.recordings[first].start_ms;
    let target_ms = if start > unix_ms {
        if announce_gap {
            let _ = inner.notices.send(Notice::GapSkipped {
                from_ms: unix_ms,
                to_ms: start,
            });
        }
        start
    } else {
        unix_ms
    };
    let run = run::start(RunCtx {
        api: inner.api.clone(),
        keys: inner.keys.clone(),
        channel: inner.channel,
        timeline,
        first,
        target_ms,
        generation,
        control: inner.control.clone(),
        display: inner.display_src.clone(),
        notices: inner.notices.clone(),
        ended: inner.ended.clone(),
        rt: inner.rt.clone(),
    })?;
    if let Ok(mut r) = inner.run.lock()
        && inner.generation.load(Ordering::SeqCst) == generation
    {
        *r = Some(run);
    }
    Ok(())
}
