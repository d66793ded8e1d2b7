//! `KioskTile`: one camera on the wall, which keeps itself alive.
//!
//! A tile renders an [`EyrieLiveStream`] with the kiosk's [`policy`]: no sound, quick
//! retries for ever, and a watchdog that trusts nothing but frames. A tile without a new
//! frame for [`STALE_AFTER`] is *stale*: its picture is dimmed and a badge says since when
//! nothing came, so a frozen picture never passes for live; after
//! [`RECONNECT_STALE_AFTER`] the stream starts a new session by itself, whatever the
//! engine believes. A failure is shown in words on the tile (the same words as the live
//! view, [`Failure::explain`](crate::gui::live::engine::Failure::explain)) and retried
//! after a short delay ([`retry_delay`]), for ever: a camera, broker or cloud restart, a
//! network drop or a resume from sleep all end in a failure or a stale picture, and both
//! end in a new attempt. The tile itself only lays out the stream's properties.
//!
//! ```text
//!  EyrieLiveStream ── paintable ──────────────────► GtkPicture (dimmed while stale)
//!        │         ── spinning, stage-text, error-* ► status (spinner, title, detail)
//!        │         ── stale-text ─────────────────► badge
//!        │         ── state ──► talk button, `kiosk-tile` report
//!        └── sink-created ──► [test probe: pixel clock of the frames reaching the sink]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use adw::prelude::*;
use eyrie_protocol::api::Device;
use gstreamer::prelude::*;
use gtk::glib;

use super::layout::{
    ANSWER_TIMEOUT, CONNECT_TIMEOUT, RECONNECT_STALE_AFTER, STALE_AFTER, retry_delay,
};
use crate::gui::live::engine::{Media, Quality};
use crate::gui::live::stream::{EyrieLiveStream, Policy, StreamState, Watchdog};
use crate::gui::session::Session;
use crate::gui::test_hooks;
use crate::i18n::{gettext, gettext_f};

/// How a tile's stream connects and reconnects.
fn policy(talk_allowed: bool) -> Policy {
    Policy {
        media: Media {
            audio: false,
            talk: talk_allowed,
            answer_timeout: Some(ANSWER_TIMEOUT),
        },
        // Jittered, so that the tiles of one camera do not all knock at the same moment.
        retry: |attempt, failure| {
            Some(
                retry_delay(attempt, failure.retries_by_itself())
                    .mul_f64(glib::random_double_range(0.85, 1.15)),
            )
        },
        watchdog: Some(Watchdog {
            stale_after: STALE_AFTER,
            reconnect_after: RECONNECT_STALE_AFTER,
            connect_timeout: CONNECT_TIMEOUT,
        }),
    }
}

/// The kiosk's name for a state (its reports and logs).
fn state_name(state: StreamState) -> &'static str {
    match state {
        StreamState::Idle => "stopped",
        StreamState::AskingPermission
        | StreamState::EncryptedChannel
        | StreamState::RetrievingVideo => "connecting",
        StreamState::Playing => "live",
        StreamState::Stale => "stale",
        StreamState::Retrying | StreamState::Failed => "failed",
    }
}

/// One camera tile; cheap to clone (a widget tree and the stream it shows).
#[derive(Clone)]
pub struct KioskTile {
    root: gtk::Overlay,
    name: gtk::Label,
    stream: EyrieLiveStream,
}

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
            .visible(false)
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

        let stream = EyrieLiveStream::new(session, device, quality, policy(talk_allowed));
        stream
            .bind_property("paintable", &picture, "paintable")
            .sync_create()
            .build();
        stream
            .bind_property("spinning", &spinner, "spinning")
            .sync_create()
            .build();
        stream
            .bind_property("spinning", &spinner, "visible")
            .sync_create()
            .build();
        stream
            .bind_property("stale-text", &badge, "label")
            .sync_create()
            .build();
        // Connecting: the stage; failed: what failed, and when the next attempt comes.
        let status_texts = move |stream: &EyrieLiveStream| {
            let state = stream.state();
            status.set_visible(state.is_connecting() || state.is_failed());
            if state.is_failed() {
                status_title.set_label(&stream.error_title());
                status_detail.set_label(&stream.error_description());
            } else {
                status_title.set_label(&stream.stage_text());
                status_detail.set_label("");
            }
        };
        stream.connect_stage_text_notify(status_texts.clone());
        stream.connect_error_description_notify(status_texts.clone());
        let show_talk = talk_allowed && quality == Quality::Hd;
        let talk_button = talk.clone();
        stream.connect_state_notify(move |stream| {
            let state = stream.state();
            status_texts(stream);
            badge.set_visible(state == StreamState::Stale);
            if state == StreamState::Stale {
                picture.add_css_class("eyrie-kiosk-frozen");
            } else {
                picture.remove_css_class("eyrie-kiosk-frozen");
            }
            talk_button.set_visible(show_talk && state == StreamState::Playing);
            report(stream, talk_button.is_visible());
        });
        if test_hooks::enabled() {
            stream.connect_closure(
                "sink-created",
                false,
                glib::closure_local!(move |stream: EyrieLiveStream, sink: gstreamer::Element| {
                    if let Some(device) = stream.device() {
                        probe_pixel_clock(
                            &sink,
                            device.id.to_string(),
                            device.name,
                            stream.quality(),
                        );
                    }
                }),
            );
        }
        let tile = Self { root, name, stream };
        tile.setup_talk(&talk);
        tile
    }

    pub fn widget(&self) -> &gtk::Overlay {
        &self.root
    }

    pub fn device(&self) -> Device {
        self.stream
            .device()
            .expect("a tile's stream has its camera")
    }

    /// Show another camera in this tile (the cycling layout).
    pub fn set_device(&self, device: Device) {
        self.name.set_label(&device.name);
        self.stream.set_device(device);
    }

    /// Start showing the camera, and keep it shown until [`KioskTile::stop`].
    pub fn start(&self) {
        self.stream.start();
    }

    /// Stop the session, the retries and the watchdog.
    pub fn stop(&self) {
        self.stream.stop();
    }

    /// Start a new session now (after a resume from sleep, or when the network is back).
    pub fn reconnect_now(&self, why: &str) {
        self.stream.reconnect_now(why);
    }

    /// A failed tile retries now instead of waiting out its delay.
    pub fn retry_now_if_failed(&self) {
        self.stream.retry_now_if_failed();
    }

    /// Hold-to-talk on the enlarged tile, when the settings allow it.
    fn setup_talk(&self, talk: &gtk::Button) {
        let gesture = gtk::GestureClick::new();
        let stream = self.stream.downgrade();
        gesture.connect_pressed(move |_, _, _, _| {
            if let Some(stream) = stream.upgrade() {
                stream.set_talking(true);
            }
        });
        let stream = self.stream.downgrade();
        gesture.connect_released(move |_, _, _, _| {
            if let Some(stream) = stream.upgrade() {
                stream.set_talking(false);
            }
        });
        talk.add_controller(gesture);
    }
}

/// The `kiosk-tile` report of a state change, and its log line.
fn report(stream: &EyrieLiveStream, talk: bool) {
    let state = stream.state();
    let detail = match state {
        StreamState::Stale => "no new frame".to_owned(),
        StreamState::Retrying | StreamState::Failed => stream.error_title(),
        s => s.stage().map(|s| format!("{s:?}")).unwrap_or_default(),
    };
    let device = stream.device();
    let (id, name) = device
        .map(|d| (d.id.to_string(), d.name))
        .unwrap_or_default();
    tracing::debug!("kiosk tile {name}: {} {detail}", state_name(state));
    test_hooks::report(
        "kiosk-tile",
        &serde_json::json!({
            "camera": id,
            "name": name,
            "state": state_name(state),
            "detail": detail,
            "hd": stream.quality() == Quality::Hd,
            "talk": talk,
        }),
    );
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
