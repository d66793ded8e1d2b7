//! `EyrieLiveStream`: one camera's live stream, as an object the views watch.
//!
//! The live view and the kiosk's tiles show the same thing — a connection that goes
//! through its stages, plays, freezes, fails and comes back — so the connection lives
//! here, once, and the widgets only render it. The design follows Snapshot's viewfinder
//! and Amberol's state object: the stream owns the viewer engine ([`engine`]), its video
//! sink, the frame stamps, the retries and the watchdog, and publishes what a person
//! should see as GObject properties — `state` (a [`StreamState`], an enum registered as a
//! GType), `spinning`, `stage-text`, `subtitle`, the failure's `error-title`,
//! `error-description` and `error-icon-name`, `stale-text`, `mic-level` and the
//! `paintable` to show. Widgets bind those properties or listen to `notify`; they call
//! [`EyrieLiveStream::start`], [`EyrieLiveStream::stop`] and the media switches, nothing
//! more. Every property changes together (notifications are frozen while a transition
//! publishes), so a widget never sees the spinner of one state with the text of another.
//!
//! The state moves by one rule ([`state::next`]): the connecting stages only go
//! forward and nothing but a new attempt leaves `Playing` for a stage. The engine's stage
//! reports and the frames travel by different roads (the tokio runtime and a channel, the
//! sink's paintable on the main loop), so a frame often arrives before the report that
//! the stream is being retrieved; that late report must not put the spinner back over
//! the picture.
//!
//! How a stream retries is its [`Policy`]: the live view retries what waiting can cure,
//! from 1 s to 30 s; a kiosk tile retries everything for ever, quickly, and also watches
//! the frames (a picture without a new frame for a while is *stale*, and then restarted).
//!
//! ```text
//!  engine (tokio + GStreamer) ──LiveEvent──► async-channel ──┐
//!    └── … ! videoconvert ! gtk4paintablesink                 ▼
//!                              └─ paintable ── invalidate ──► EyrieLiveStream ──notify──► views
//!                                    └──────────── `paintable` property ────────────────► GtkPicture
//!                                      retry timer, watchdog (500 ms) ──┘
//! ```

mod connection;
pub mod state;
#[cfg(test)]
mod tests;

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use eyrie_protocol::api::Device;
use gtk::glib::subclass::Signal;
use gtk::prelude::*;
use gtk::subclass::prelude::*;
use gtk::{gdk, glib};

use super::engine::{Failure, LiveEvent, Media, Quality, Stage};
use crate::gui::session::Session;
use crate::i18n::{gettext, gettext_f};
pub use state::StreamState;
use state::{Input, next};

/// How a stream reconnects.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// What the attempts carry besides video.
    pub media: Media,
    /// The delay before the `attempt`-th (0-based) automatic retry after `failure`;
    /// `None`: wait for the person.
    pub retry: fn(attempt: u32, failure: &Failure) -> Option<Duration>,
    /// Watch the frames, when set.
    pub watchdog: Option<Watchdog>,
}

/// A watchdog's limits.
#[derive(Debug, Clone, Copy)]
pub struct Watchdog {
    /// A picture without a new frame for this long is stale.
    pub stale_after: Duration,
    /// … and restarted after this long.
    pub reconnect_after: Duration,
    /// An attempt without a first frame in this time is started again.
    pub connect_timeout: Duration,
}

impl Policy {
    /// A person watching one camera: sound and talk; what waiting can cure is retried
    /// after 1, 2, 4 … 30 s, the rest waits for the person's "Try Again".
    pub fn live_view() -> Self {
        Self {
            media: Media {
                audio: true,
                talk: true,
                answer_timeout: None,
            },
            retry: |attempt, failure| {
                failure
                    .retries_by_itself()
                    .then(|| Duration::from_secs((1u64 << attempt.min(5)).min(30)))
            },
            watchdog: None,
        }
    }
}

mod imp {
    use super::*;

    #[derive(Default, glib::Properties)]
    #[properties(wrapper_type = super::EyrieLiveStream)]
    pub struct EyrieLiveStream {
        /// Where the stream is.
        #[property(get, builder(StreamState::Idle))]
        pub state: Cell<StreamState>,
        /// A connection attempt is under way (show a spinner).
        #[property(get)]
        pub spinning: Cell<bool>,
        /// The connecting stage in words, while connecting; empty otherwise.
        #[property(get)]
        pub stage_text: RefCell<String>,
        /// One line for a header: the stage, "Live", or what failed.
        #[property(get)]
        pub subtitle: RefCell<String>,
        #[property(get)]
        pub error_title: RefCell<String>,
        /// What failed in plain words, and when the next attempt comes.
        #[property(get)]
        pub error_description: RefCell<String>,
        #[property(get)]
        pub error_icon_name: RefCell<String>,
        /// Since when a stale picture has not changed, in words; empty when not stale.
        #[property(get)]
        pub stale_text: RefCell<String>,
        /// The microphone's level while talking, 0.0–1.0.
        #[property(get, minimum = 0.0, maximum = 1.0)]
        pub mic_level: Cell<f64>,
        /// What to show: the sink's paintable of the current attempt.
        #[property(get)]
        pub paintable: RefCell<Option<gdk::Paintable>>,

        pub session: OnceCell<Session>,
        pub device: RefCell<Option<Device>>,
        pub policy: OnceCell<Policy>,
        pub quality: Cell<Option<Quality>>,
        pub muted: Cell<bool>,
        /// The signalling link to the broker is up (media flows without it).
        pub signalling_down: Cell<bool>,
        /// The engine renegotiates after a change of network; until its next frame.
        pub reconnecting: Cell<bool>,
        /// The media's path once the engine said: `Some(true)` relayed, `Some(false)`
        /// direct; reset by each attempt.
        pub relayed: Cell<Option<bool>>,
        pub failure: RefCell<Option<Failure>>,
        pub conn: connection::Connection,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieLiveStream {
        const NAME: &'static str = "EyrieLiveStream";
        type Type = super::EyrieLiveStream;
    }

    #[glib::derived_properties]
    impl ObjectImpl for EyrieLiveStream {
        fn signals() -> &'static [Signal] {
            static SIGNALS: OnceLock<Vec<Signal>> = OnceLock::new();
            SIGNALS.get_or_init(|| {
                vec![
                    // The engine reported a stage, shown or not (a late one is not).
                    Signal::builder("stage-reached")
                        .param_types([Stage::static_type(), bool::static_type()])
                        .build(),
                    // A new video sink, before the attempt starts with it.
                    Signal::builder("sink-created")
                        .param_types([gstreamer::Element::static_type()])
                        .build(),
                ]
            })
        }

        fn dispose(&self) {
            self.obj().stop();
        }
    }
}

glib::wrapper! {
    pub struct EyrieLiveStream(ObjectSubclass<imp::EyrieLiveStream>);
}

impl EyrieLiveStream {
    pub fn new(session: Session, device: Device, quality: Quality, policy: Policy) -> Self {
        let stream: Self = glib::Object::new();
        let imp = stream.imp();
        let _ = imp.session.set(session);
        let _ = imp.policy.set(policy);
        imp.device.replace(Some(device));
        imp.quality.set(Some(quality));
        imp.muted.set(!policy.media.audio);
        stream
    }

    pub fn device(&self) -> Option<Device> {
        self.imp().device.borrow().clone()
    }

    pub fn session(&self) -> Option<Session> {
        self.imp().session.get().cloned()
    }

    pub fn quality(&self) -> Quality {
        self.imp().quality.get().unwrap_or(Quality::Sd)
    }

    /// Why the last attempt failed, while the failure is shown.
    pub fn failure(&self) -> Option<Failure> {
        self.imp().failure.borrow().clone()
    }

    /// When the current attempt started.
    pub fn started_at(&self) -> Option<Instant> {
        self.imp().conn.started.get()
    }

    /// Show another camera (the kiosk's cycling layout); a running stream reconnects.
    pub fn set_device(&self, device: Device) {
        self.imp().device.replace(Some(device));
        if self.imp().conn.running.get() {
            self.imp().conn.attempt.set(0);
            self.connect();
        }
    }

    /// Switch SD/HD at the camera's next keyframe, without renegotiation.
    pub fn set_quality(&self, quality: Quality) {
        if self.imp().quality.replace(Some(quality)) != Some(quality) {
            self.with_engine(|e| e.set_quality(quality));
        }
    }

    pub fn set_muted(&self, muted: bool) {
        self.imp().muted.set(muted);
        self.with_engine(|e| e.set_muted(muted));
    }

    pub fn set_talking(&self, talking: bool) {
        self.with_engine(|e| e.set_talking(talking));
        if !talking {
            self.set_mic_level(0.0);
        }
    }

    /// Feed one engine event (after the attempt's own check that it is current).
    pub(crate) fn handle_event(&self, event: LiveEvent) {
        let imp = self.imp();
        match event {
            LiveEvent::Stage(stage) => {
                let shown = self.apply(Input::Stage(stage));
                self.emit_by_name::<()>("stage-reached", &[&stage, &shown]);
            }
            LiveEvent::Playing => {
                if imp.reconnecting.replace(false) {
                    self.publish();
                    crate::gui::test_hooks::report(
                        "live-reconnected",
                        &serde_json::json!({ "subtitle": self.subtitle() }),
                    );
                }
                self.frame_arrived();
            }
            LiveEvent::Reconnecting => {
                imp.reconnecting.set(true);
                self.publish();
                crate::gui::test_hooks::report(
                    "live-reconnecting",
                    &serde_json::json!({ "subtitle": self.subtitle() }),
                );
            }
            LiveEvent::MicLevel(level) => self.set_mic_level(level),
            LiveEvent::Signalling(up) => {
                tracing::debug!("signalling {}", if up { "back" } else { "lost" });
                imp.signalling_down.set(!up);
                self.publish();
            }
            LiveEvent::Path { relayed } => {
                imp.relayed.set(Some(relayed));
                self.publish();
                crate::gui::test_hooks::report(
                    "live-path",
                    &serde_json::json!({ "relayed": relayed, "subtitle": self.subtitle() }),
                );
            }
            LiveEvent::Failed(failure) => self.fail(failure),
        }
    }

    /// A frame reached the screen.
    pub(crate) fn frame_arrived(&self) {
        let imp = self.imp();
        imp.conn.last_frame.set(Some(Instant::now()));
        if next(imp.state.get(), Input::Frame).is_some() {
            imp.conn.attempt.set(0);
            imp.conn.stale_secs.set(None);
            self.apply(Input::Frame);
        }
    }

    fn set_mic_level(&self, level: f64) {
        self.imp().mic_level.set(level.clamp(0.0, 1.0));
        self.notify_mic_level();
    }

    /// Move by `input`; publish and return whether the state changed.
    fn apply(&self, input: Input) -> bool {
        let imp = self.imp();
        let Some(to) = next(imp.state.get(), input) else {
            return false;
        };
        if imp.state.replace(to) != to {
            self.publish();
            self.notify_state();
        }
        true
    }

    /// Recompute every shown property from the state and notify those that changed, all
    /// at once (a `notify::state` handler, which runs after this, reads them all new).
    fn publish(&self) {
        let imp = self.imp();
        let _frozen = self.freeze_notify();
        let state = imp.state.get();
        let stale_text = match (state, imp.conn.stale_secs.get()) {
            (StreamState::Stale, Some(secs)) => gettext_f(
                "Not live: no new picture for {seconds} s",
                &[("seconds", &secs.to_string())],
            ),
            _ => String::new(),
        };
        let stage_text = state.stage().map(Stage::text).unwrap_or_default();
        let (title, description, icon) = match (state.is_failed(), &*imp.failure.borrow()) {
            (true, Some(failure)) => {
                let (t, d, i) = failure.explain();
                (t, d, i.to_owned())
            }
            _ => Default::default(),
        };
        let description = match (state, imp.conn.retry_in.get()) {
            (StreamState::Retrying, Some(delay)) => {
                let secs = format!("{:.0}", delay.as_secs_f64().ceil());
                let again = gettext_f("Trying again in {seconds} s", &[("seconds", &secs)]);
                format!("{description}\n{again}")
            }
            _ => description,
        };
        let subtitle = match state {
            StreamState::Idle => String::new(),
            // The picture on screen is the last one before the network changed.
            StreamState::Playing | StreamState::Stale if imp.reconnecting.get() => {
                gettext("Reconnecting…")
            }
            StreamState::Playing if imp.signalling_down.get() => {
                gettext("Live, reconnecting to the cloud…")
            }
            StreamState::Playing => match imp.relayed.get() {
                // How the picture comes: straight from the camera, or through the
                // cloud's relay (a NAT or firewall let nothing direct through).
                Some(false) => gettext("Live · Direct"),
                Some(true) => gettext("Live · Relayed"),
                None => gettext("Live"),
            },
            StreamState::Stale => stale_text.clone(),
            StreamState::Retrying | StreamState::Failed => title.clone(),
            _ => stage_text.clone(),
        };
        if imp.spinning.replace(state.is_connecting()) != state.is_connecting() {
            self.notify_spinning();
        }
        let texts = [
            (&imp.stage_text, stage_text, "stage-text"),
            (&imp.subtitle, subtitle, "subtitle"),
            (&imp.error_title, title, "error-title"),
            (&imp.error_description, description, "error-description"),
            (&imp.error_icon_name, icon, "error-icon-name"),
            (&imp.stale_text, stale_text, "stale-text"),
        ];
        for (cell, value, name) in texts {
            if *cell.borrow() != value {
                cell.replace(value);
                self.notify(name);
            }
        }
    }

    fn set_paintable(&self, paintable: Option<gdk::Paintable>) {
        self.imp().paintable.replace(paintable);
        self.notify_paintable();
    }
}
