//! `KioskTile`: one camera on the wall, which keeps itself alive.
//!
//! A tile is the live view's engine ([`engine::start_with`]) feeding a
//! `gtk4paintablesink` whose paintable sits in a `GtkPicture`, plus the bookkeeping a
//! screen nobody touches needs. It trusts nothing but frames: every new frame the sink
//! hands to GTK stamps `last_frame`, and a half-second watchdog compares that stamp with
//! the clock. A tile without a new frame for [`STALE_AFTER`] is *stale*: its picture is
//! dimmed and a badge says since when nothing came, so a frozen picture never passes for
//! live; after [`RECONNECT_STALE_AFTER`] the tile starts a new session by itself, whatever
//! the engine believes. A failure the engine reports is shown in words on the tile (the
//! same words as the live view, [`Failure::explain`]) and retried after a short delay
//! ([`retry_delay`]), for ever: a camera, broker or cloud restart, a network drop or a
//! resume from sleep all end in a failure or a stale tile, and both end in a new attempt.
//!
//! ```text
//!  engine (tokio + GStreamer) ──LiveEvent──► async-channel ──► KioskTile (main loop)
//!     └── … ! videoconvert ! gtk4paintablesink ──paintable──► GtkPicture
//!                                 │ invalidate-contents ──► last_frame ◄── watchdog (500 ms)
//!                                 └ [test probe: pixel clock of the frames reaching the sink]
//! ```

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use adw::prelude::*;
use eyrie_protocol::api::Device;
use gstreamer::prelude::*;
use gtk::{gdk, glib};

use super::layout::{
    ANSWER_TIMEOUT, CONNECT_TIMEOUT, RECONNECT_STALE_AFTER, STALE_AFTER, retry_delay,
};
use crate::gui::live::engine::{self, Failure, LiveEvent, Media, Quality, Stage};
use crate::gui::session::Session;
use crate::gui::test_hooks;
use crate::i18n::{gettext, gettext_f};

/// What a tile shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileState {
    Stopped,
    Connecting,
    Live,
    Stale,
    Failed,
}

impl TileState {
    fn name(self) -> &'static str {
        match self {
            Self::Stopped => "stopped",
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Stale => "stale",
            Self::Failed => "failed",
        }
    }
}

struct Inner {
    root: gtk::Overlay,
    picture: gtk::Picture,
    status: gtk::Box,
    spinner: gtk::Spinner,
    status_title: gtk::Label,
    status_detail: gtk::Label,
    badge: gtk::Label,
    name: gtk::Label,
    talk: gtk::Button,
    session: Session,
    device: RefCell<Device>,
    quality: Quality,
    talk_allowed: bool,
    engine: RefCell<Option<engine::LiveHandle>>,
    /// Bumped on every (re)start so that events and frames of an old attempt are ignored.
    generation: Cell<u64>,
    attempt: Cell<u32>,
    retry: RefCell<Option<glib::SourceId>>,
    watchdog: RefCell<Option<glib::SourceId>>,
    state: Cell<TileState>,
    started: Cell<Instant>,
    last_frame: Cell<Option<Instant>>,
    failure: RefCell<Option<Failure>>,
    running: Cell<bool>,
}

/// One camera tile; cheap to clone (shared state).
#[derive(Clone)]
pub struct KioskTile(Rc<Inner>);

impl KioskTile {
    pub fn new(session: Session, device: Device, quality: Quality, talk_allowed: bool) -> Self {
        let picture = gtk::Picture::builder()
            .can_shrink(true)
            .content_fit(gtk::ContentFit::Contain)
            .hexpand(true)
            .vexpand(true)
            .build();
        picture.set_alternative_text(Some(&gettext_f(
            "Live video of {name}",
            &[("name", &device.name)],
        )));
        let root = gtk::Overlay::builder().child(&picture).build();
        root.add_css_class("eyrie-kiosk-tile");
        root.set_overflow(gtk::Overflow::Hidden);

        let spinner = gtk::Spinner::new();
        let status_title = gtk::Label::builder()
            .wrap(true)
            .justify(gtk::Justification::Center)
            .build();
        status_title.add_css_class("title-3");
        let status_detail = gtk::Label::builder()
            .wrap(true)
            .justify(gtk::Justification::Center)
            .max_width_chars(48)
            .build();
        let status = gtk::Box::builder()
            .orientation(gtk::Orientation::Vertical)
            .spacing(8)
            .halign(gtk::Align::Center)
            .valign(gtk::Align::Center)
            .margin_start(12)
            .margin_end(12)
            .build();
        status.append(&spinner);
        status.append(&status_title);
        status.append(&status_detail);
        status.add_css_class("eyrie-kiosk-status");
        root.add_overlay(&status);

        let badge = gtk::Label::builder()
            .halign(gtk::Align::End)
            .valign(gtk::Align::Start)
            .margin_top(8)
            .margin_end(8)
            .visible(false)
            .build();
        badge.add_css_class("eyrie-kiosk-stale");
        root.add_overlay(&badge);

        let name = gtk::Label::builder()
            .label(&device.name)
            .halign(gtk::Align::Start)
            .valign(gtk::Align::End)
            .margin_start(8)
            .margin_bottom(8)
            .build();
        name.add_css_class("eyrie-kiosk-name");
        root.add_overlay(&name);

        let talk = gtk::Button::builder()
            .icon_name("audio-input-microphone-symbolic")
            .tooltip_text(gettext("Hold to Talk"))
            .halign(gtk::Align::End)
            .valign(gtk::Align::End)
            .margin_end(16)
            .margin_bottom(16)
            .visible(false)
            .build();
        talk.add_css_class("circular");
        talk.add_css_class("osd");
        root.add_overlay(&talk);

        let tile = Self(Rc::new(Inner {
            root,
            picture,
            status,
            spinner,
            status_title,
            status_detail,
            badge,
            name,
            talk,
            session,
            device: RefCell::new(device),
            quality,
            talk_allowed,
            engine: RefCell::default(),
            generation: Cell::new(0),
            attempt: Cell::new(0),
            retry: RefCell::default(),
            watchdog: RefCell::default(),
            state: Cell::new(TileState::Stopped),
            started: Cell::new(Instant::now()),
            last_frame: Cell::new(None),
            failure: RefCell::default(),
            running: Cell::new(false),
        }));
        tile.setup_talk();
        tile
    }

    pub fn widget(&self) -> &gtk::Overlay {
        &self.0.root
    }

    pub fn device(&self) -> Device {
        self.0.device.borrow().clone()
    }

    pub fn state(&self) -> TileState {
        self.0.state.get()
    }

    fn weak(&self) -> Weak<Inner> {
        Rc::downgrade(&self.0)
    }

    fn from_weak(weak: &Weak<Inner>) -> Option<Self> {
        weak.upgrade().map(Self)
    }

    /// Show another camera in this tile (the cycling layout).
    pub fn set_device(&self, device: Device) {
        self.0.name.set_label(&device.name);
        self.0.device.replace(device);
        if self.0.running.get() {
            self.0.attempt.set(0);
            self.connect();
        }
    }

    /// Start showing the camera, and keep it shown until [`KioskTile::stop`].
    pub fn start(&self) {
        self.0.running.set(true);
        self.0.attempt.set(0);
        self.connect();
        if self.0.watchdog.borrow().is_none() {
            let weak = self.weak();
            let id =
                glib::timeout_add_local(Duration::from_millis(500), move || match Self::from_weak(
                    &weak,
                ) {
                    Some(tile) => {
                        tile.check();
                        glib::ControlFlow::Continue
                    }
                    None => glib::ControlFlow::Break,
                });
            self.0.watchdog.replace(Some(id));
        }
    }

    /// Stop the session, the retries and the watchdog.
    pub fn stop(&self) {
        let inner = &self.0;
        inner.running.set(false);
        inner.generation.set(inner.generation.get() + 1);
        if let Some(id) = inner.retry.take() {
            id.remove();
        }
        if let Some(id) = inner.watchdog.take() {
            id.remove();
        }
        self.stop_engine();
        inner.picture.set_paintable(None::<&gdk::Paintable>);
        self.set_state(TileState::Stopped, "");
    }

    /// Start a new session now (after a resume from sleep, or when the network is back).
    pub fn reconnect_now(&self, why: &str) {
        if !self.0.running.get() {
            return;
        }
        tracing::info!(
            "kiosk tile {}: reconnecting ({why})",
            self.0.device.borrow().name
        );
        self.0.attempt.set(0);
        self.connect();
    }

    /// A failed tile retries now instead of waiting out its delay.
    pub fn retry_now_if_failed(&self) {
        if self.0.state.get() == TileState::Failed {
            self.reconnect_now("network back");
        }
    }

    fn stop_engine(&self) {
        if let Some(engine) = self.0.engine.take() {
            engine.stop();
        }
    }

    fn connect(&self) {
        let inner = &self.0;
        self.stop_engine();
        if let Some(id) = inner.retry.take() {
            id.remove();
        }
        let generation = inner.generation.get() + 1;
        inner.generation.set(generation);
        inner.started.set(Instant::now());
        inner.last_frame.set(None);
        // A new, empty paintable: never the last picture of the old session.
        let sink = match self.make_sink(generation) {
            Ok(sink) => sink,
            Err(e) => {
                self.on_event(generation, LiveEvent::Failed(Failure::Setup(e.to_string())));
                return;
            }
        };
        self.show_stage(Stage::Ticket);
        let (tx, rx) = async_channel::unbounded();
        let media = Media {
            audio: false,
            talk: inner.talk_allowed,
            answer_timeout: Some(ANSWER_TIMEOUT),
        };
        let device = inner.device.borrow().clone();
        let handle = engine::start_with(&inner.session, &device, inner.quality, media, sink, tx);
        handle.set_muted(true);
        inner.engine.replace(Some(handle));
        let weak = self.weak();
        glib::spawn_future_local(async move {
            while let Ok(event) = rx.recv().await {
                let Some(tile) = Self::from_weak(&weak) else {
                    break;
                };
                if tile.0.generation.get() != generation {
                    break;
                }
                tile.on_event(generation, event);
            }
        });
    }

    fn make_sink(&self, generation: u64) -> anyhow::Result<gstreamer::Element> {
        let sink = gstreamer::ElementFactory::make("gtk4paintablesink").build()?;
        let paintable = sink.property::<gdk::Paintable>("paintable");
        self.0.picture.set_paintable(Some(&paintable));
        let weak = self.weak();
        paintable.connect_invalidate_contents(move |paintable| {
            let Some(tile) = Self::from_weak(&weak) else {
                return;
            };
            if tile.0.generation.get() == generation && paintable.intrinsic_width() > 0 {
                tile.on_frame();
            }
        });
        if test_hooks::enabled() {
            let device = self.0.device.borrow();
            probe_pixel_clock(
                &sink,
                device.id.to_string(),
                device.name.clone(),
                self.0.quality,
            );
        }
        Ok(sink)
    }

    fn on_frame(&self) {
        let inner = &self.0;
        inner.last_frame.set(Some(Instant::now()));
        if matches!(inner.state.get(), TileState::Connecting | TileState::Stale) {
            inner.attempt.set(0);
            inner.failure.take();
            self.set_state(TileState::Live, "");
        }
    }

    fn on_event(&self, generation: u64, event: LiveEvent) {
        let inner = &self.0;
        if inner.generation.get() != generation {
            return;
        }
        match event {
            LiveEvent::Stage(stage) => {
                if inner.state.get() != TileState::Live {
                    self.show_stage(stage);
                }
            }
            // Only frames make a tile live (see on_frame).
            LiveEvent::Playing | LiveEvent::MicLevel(_) => {}
            LiveEvent::Signalling(up) => {
                tracing::debug!("kiosk tile signalling {}", if up { "back" } else { "lost" });
            }
            LiveEvent::Failed(failure) => {
                self.stop_engine();
                inner.picture.set_paintable(None::<&gdk::Paintable>);
                self.show_failure(&failure);
                let curable = failure.retries_by_itself() || matches!(failure, Failure::Ended);
                inner.failure.replace(Some(failure));
                self.schedule_retry(curable);
            }
        }
    }

    /// The watchdog: mark stale tiles, restart stuck ones.
    fn check(&self) {
        let inner = &self.0;
        if !inner.running.get() {
            return;
        }
        let now = Instant::now();
        match inner.state.get() {
            TileState::Live | TileState::Stale => {
                let since = inner
                    .last_frame
                    .get()
                    .map_or(Duration::MAX, |t| now.duration_since(t));
                if since >= RECONNECT_STALE_AFTER {
                    self.reconnect_now("no frame");
                } else if since >= STALE_AFTER {
                    let secs = since.as_secs().to_string();
                    inner.badge.set_label(&gettext_f(
                        "Not live: no new picture for {seconds} s",
                        &[("seconds", &secs)],
                    ));
                    if inner.state.get() == TileState::Live {
                        inner.picture.add_css_class("eyrie-kiosk-frozen");
                        self.set_state(TileState::Stale, "no new frame");
                    }
                }
            }
            TileState::Connecting => {
                if now.duration_since(inner.started.get()) >= CONNECT_TIMEOUT {
                    self.reconnect_now("no first frame");
                }
            }
            TileState::Failed | TileState::Stopped => {}
        }
    }

    fn schedule_retry(&self, curable: bool) {
        let inner = &self.0;
        if !inner.running.get() {
            return;
        }
        let attempt = inner.attempt.get();
        inner.attempt.set(attempt.saturating_add(1));
        let delay = retry_delay(attempt, curable).mul_f64(glib::random_double_range(0.85, 1.15));
        let weak = self.weak();
        let id = glib::timeout_add_local_once(delay, move || {
            if let Some(tile) = Self::from_weak(&weak) {
                tile.0.retry.take();
                tile.connect();
            }
        });
        if let Some(old) = inner.retry.replace(Some(id)) {
            old.remove();
        }
        let secs = format!("{:.0}", delay.as_secs_f64().ceil());
        let text = gettext_f("Trying again in {seconds} s", &[("seconds", &secs)]);
        let detail = inner.status_detail.label();
        inner.status_detail.set_label(&format!("{detail}\n{text}"));
    }

    fn show_stage(&self, stage: Stage) {
        let inner = &self.0;
        let text = match stage {
            Stage::Ticket => gettext("Asking the cloud for permission"),
            Stage::EncryptedChannel => gettext("Establishing an encrypted channel"),
            Stage::VideoStream => gettext("Retrieving video stream"),
        };
        inner.spinner.set_spinning(true);
        inner.spinner.set_visible(true);
        inner.status_title.set_label(&text);
        inner.status_detail.set_label("");
        if inner.state.get() != TileState::Connecting {
            self.set_state(TileState::Connecting, &format!("{stage:?}"));
        }
    }

    fn show_failure(&self, failure: &Failure) {
        let inner = &self.0;
        let (title, description, _icon) = failure.explain();
        inner.spinner.set_spinning(false);
        inner.spinner.set_visible(false);
        inner.status_title.set_label(&title);
        inner.status_detail.set_label(&description);
        self.set_state(TileState::Failed, &title);
    }

    fn set_state(&self, state: TileState, detail: &str) {
        let inner = &self.0;
        inner.state.set(state);
        let live = state == TileState::Live;
        inner
            .status
            .set_visible(matches!(state, TileState::Connecting | TileState::Failed));
        inner.badge.set_visible(state == TileState::Stale);
        if state != TileState::Stale {
            inner.picture.remove_css_class("eyrie-kiosk-frozen");
        }
        inner
            .talk
            .set_visible(live && inner.talk_allowed && inner.quality == Quality::Hd);
        let device = inner.device.borrow();
        tracing::debug!("kiosk tile {}: {} {detail}", device.name, state.name());
        test_hooks::report(
            "kiosk-tile",
            &serde_json::json!({
                "camera": device.id.to_string(),
                "name": device.name,
                "state": state.name(),
                "detail": detail,
                "hd": inner.quality == Quality::Hd,
                "talk": inner.talk.is_visible(),
            }),
        );
    }

    /// Hold-to-talk on the enlarged tile, when the settings allow it.
    fn setup_talk(&self) {
        let gesture = gtk::GestureClick::new();
        let weak = self.weak();
        gesture.connect_pressed(move |_, _, _, _| {
            if let Some(tile) = Self::from_weak(&weak)
                && let Some(engine) = tile.0.engine.borrow().as_ref()
            {
                engine.set_talking(true);
            }
        });
        let weak = self.weak();
        gesture.connect_released(move |_, _, _, _| {
            if let Some(tile) = Self::from_weak(&weak)
                && let Some(engine) = tile.0.engine.borrow().as_ref()
            {
                engine.set_talking(false);
            }
        });
        self.0.talk.add_controller(gesture);
    }
}

/// Tests and the benchmark: about once a second, the capture time drawn into the frame
/// that reached the sink (the pixel clock), so they can tell a live tile from a frozen one.
fn probe_pixel_clock(sink: &gstreamer::Element, camera: String, name: String, quality: Quality) {
    let Some(pad) = sink.static_pad("sink") else {
        return;
    };
    let last = Arc::new(AtomicU64::new(0));
    let frames = Arc::new(AtomicU64::new(0));
    pad.add_probe(gstreamer::PadProbeType::BUFFER, move |pad, info| {
        let n = frames.fetch_add(1, Ordering::Relaxed) + 1;
        let now = eyrie_client::pixel_clock::now_unix_ms();
        if now.saturating_sub(last.load(Ordering::Relaxed)) < 1000 {
            return gstreamer::PadProbeReturn::Ok;
        }
        last.store(now, Ordering::Relaxed);
        let (Some(buffer), Some(caps)) = (info.buffer(), pad.current_caps()) else {
            return gstreamer::PadProbeReturn::Ok;
        };
        let Ok(video) = gstreamer_video::VideoInfo::from_caps(&caps) else {
            return gstreamer::PadProbeReturn::Ok;
        };
        let clock = gstreamer_video::VideoFrameRef::from_buffer_ref_readable(buffer, &video)
            .ok()
            .and_then(|f| eyrie_client::pixel_clock::decode_pixel_clock(&f));
        test_hooks::report(
            "kiosk-frame",
            &serde_json::json!({
                "camera": camera,
                "name": name,
                "n": n,
                "size": [video.width(), video.height()],
                "hd": quality == Quality::Hd,
                "clock_ms": clock,
                "age_ms": clock.map(|c| now as i64 - c as i64),
            }),
        );
        gstreamer::PadProbeReturn::Ok
    });
}
