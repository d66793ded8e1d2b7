//! The stream's connection: attempts, the video sink, retries and the frame watchdog.
//!
//! Each attempt gets a new generation number, a new `gtk4paintablesink` (so an old
//! session's last picture is never shown as the new one's) and a new engine session; the
//! events and frames of an older generation are dropped where they arrive. A failure
//! stops the engine and asks the [`Policy`](super::Policy) whether and when to try again.
//! With a watchdog, a tick every 500 ms compares the last frame's stamp with the clock.
//!
//! ```text
//!  connect() ─► gtk4paintablesink ──paintable──► `paintable` property ──► GtkPicture
//!      │              └─ invalidate-contents (generation n) ──► frame_arrived()
//!      └─► engine::start_with(…, sink, tx) ──LiveEvent (generation n)──► handle_event()
//!  fail() ─► Policy::retry(attempt, failure) ─► timeout ─► connect()
//!  watchdog (500 ms) ─► stale / reconnect_now()
//! ```

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gdk, glib};

use super::super::engine::{self, Failure, Stage};
use super::{EyrieLiveStream, Input};

/// The bookkeeping of the current attempt.
#[derive(Default)]
pub struct Connection {
    /// Started and not stopped: failures are retried, the watchdog runs.
    pub running: Cell<bool>,
    pub engine: RefCell<Option<engine::LiveHandle>>,
    /// Bumped on every (re)start so that events and frames of an old attempt are ignored.
    pub generation: Cell<u64>,
    /// Automatic retries since the last picture.
    pub attempt: Cell<u32>,
    pub retry: RefCell<Option<glib::SourceId>>,
    /// The delay of the scheduled retry, while one is.
    pub retry_in: Cell<Option<Duration>>,
    pub watchdog: RefCell<Option<glib::SourceId>>,
    pub started: Cell<Option<Instant>>,
    pub last_frame: Cell<Option<Instant>>,
    /// Whole seconds a stale picture has not changed.
    pub stale_secs: Cell<Option<u64>>,
}

impl EyrieLiveStream {
    /// Start showing the camera, and keep it shown until [`EyrieLiveStream::stop`]. Also
    /// the person's "Try Again": the back-off starts over.
    pub fn start(&self) {
        let conn = &self.imp().conn;
        conn.running.set(true);
        conn.attempt.set(0);
        self.connect();
        self.start_watchdog();
    }

    /// Stop the session, the retries and the watchdog.
    pub fn stop(&self) {
        let imp = self.imp();
        let conn = &imp.conn;
        conn.running.set(false);
        conn.generation.set(conn.generation.get() + 1);
        if let Some(id) = conn.retry.take() {
            id.remove();
        }
        if let Some(id) = conn.watchdog.take() {
            id.remove();
        }
        self.stop_engine();
        imp.failure.take();
        self.set_paintable(None);
        self.apply(Input::Stopped);
    }

    /// Start a new session now (after a resume from sleep, when the network is back, or
    /// when the watchdog gives up on the current one).
    pub fn reconnect_now(&self, why: &str) {
        if !self.imp().conn.running.get() {
            return;
        }
        tracing::info!(
            "live stream of {}: reconnecting ({why})",
            self.device().map(|d| d.name).unwrap_or_default()
        );
        self.imp().conn.attempt.set(0);
        self.connect();
    }

    /// A failed stream retries now instead of waiting out its delay.
    pub fn retry_now_if_failed(&self) {
        if self.state().is_failed() {
            self.reconnect_now("network back");
        }
    }

    pub(super) fn with_engine(&self, f: impl FnOnce(&engine::LiveHandle)) {
        if let Some(engine) = self.imp().conn.engine.borrow().as_ref() {
            f(engine);
        }
    }

    fn stop_engine(&self) {
        if let Some(engine) = self.imp().conn.engine.take() {
            engine.stop();
        }
    }

    /// A new attempt: a new sink, the engine started with it, its events followed.
    pub(super) fn connect(&self) {
        let imp = self.imp();
        let conn = &imp.conn;
        self.stop_engine();
        if let Some(id) = conn.retry.take() {
            id.remove();
        }
        let generation = conn.generation.get() + 1;
        conn.generation.set(generation);
        conn.started.set(Some(Instant::now()));
        conn.last_frame.set(None);
        conn.retry_in.set(None);
        conn.stale_secs.set(None);
        imp.failure.take();
        imp.relayed.set(None);
        imp.reconnecting.set(false);
        self.apply(Input::Attempt);
        self.emit_by_name::<()>("stage-reached", &[&Stage::Ticket, &true]);
        let sink = match self.make_sink(generation) {
            Ok(sink) => sink,
            Err(e) => {
                tracing::error!("no video sink: {e:#}");
                self.fail(Failure::Setup(e.to_string()));
                return;
            }
        };
        let (Some(session), Some(device), Some(policy)) =
            (self.session(), self.device(), imp.policy.get())
        else {
            return;
        };
        let (tx, rx) = async_channel::unbounded();
        let handle = engine::start_with(&session, &device, self.quality(), policy.media, sink, tx);
        if imp.muted.get() {
            handle.set_muted(true);
        }
        conn.engine.replace(Some(handle));
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = stream)]
            self,
            async move {
                while let Ok(event) = rx.recv().await {
                    if stream.imp().conn.generation.get() != generation {
                        break;
                    }
                    stream.handle_event(event);
                }
            }
        ));
    }

    /// A new `gtk4paintablesink`, its paintable published and its frames stamped.
    fn make_sink(&self, generation: u64) -> anyhow::Result<gstreamer::Element> {
        let sink = gstreamer::ElementFactory::make("gtk4paintablesink").build()?;
        let paintable = sink.property::<gdk::Paintable>("paintable");
        paintable.connect_invalidate_contents(glib::clone!(
            #[weak(rename_to = stream)]
            self,
            move |paintable| {
                if stream.imp().conn.generation.get() == generation
                    && paintable.intrinsic_width() > 0
                {
                    stream.frame_arrived();
                }
            }
        ));
        self.set_paintable(Some(paintable));
        self.emit_by_name::<()>("sink-created", &[&sink]);
        Ok(sink)
    }

    /// The attempt failed: stop it, show why, and try again when the policy says so.
    pub(super) fn fail(&self, failure: Failure) {
        let imp = self.imp();
        let conn = &imp.conn;
        self.stop_engine();
        self.set_paintable(None);
        let delay = match imp.policy.get() {
            Some(policy) if conn.running.get() => (policy.retry)(conn.attempt.get(), &failure),
            _ => None,
        };
        imp.failure.replace(Some(failure));
        if let Some(delay) = delay {
            conn.attempt.set(conn.attempt.get().saturating_add(1));
            let id = glib::timeout_add_local_once(
                delay,
                glib::clone!(
                    #[weak(rename_to = stream)]
                    self,
                    move || {
                        stream.imp().conn.retry.take();
                        stream.connect();
                    }
                ),
            );
            if let Some(old) = conn.retry.replace(Some(id)) {
                old.remove();
            }
        }
        conn.retry_in.set(delay);
        self.apply(Input::Failed {
            retrying: delay.is_some(),
        });
    }

    fn start_watchdog(&self) {
        let conn = &self.imp().conn;
        if self.imp().policy.get().and_then(|p| p.watchdog).is_none()
            || conn.watchdog.borrow().is_some()
        {
            return;
        }
        let weak = self.downgrade();
        let id =
            glib::timeout_add_local(Duration::from_millis(500), move || match weak.upgrade() {
                Some(stream) => {
                    stream.check();
                    glib::ControlFlow::Continue
                }
                None => glib::ControlFlow::Break,
            });
        conn.watchdog.replace(Some(id));
    }

    /// The watchdog: mark stale pictures, restart stuck attempts.
    fn check(&self) {
        let imp = self.imp();
        let conn = &imp.conn;
        let Some(limits) = imp.policy.get().and_then(|p| p.watchdog) else {
            return;
        };
        if !conn.running.get() {
            return;
        }
        let now = Instant::now();
        let state = self.state();
        if state.has_picture() {
            let since = conn
                .last_frame
                .get()
                .map_or(Duration::MAX, |t| now.duration_since(t));
            if since >= limits.reconnect_after {
                self.reconnect_now("no frame");
            } else if since >= limits.stale_after {
                conn.stale_secs.set(Some(since.as_secs()));
                if !self.apply(Input::NoFrame) {
                    self.publish();
                }
            }
        } else if state.is_connecting()
            && conn
                .started
                .get()
                .is_some_and(|t| now.duration_since(t) >= limits.connect_timeout)
        {
            self.reconnect_now("no first frame");
        }
    }
}
