//! `EyrieTimelineWindow`: one camera's cloud recordings — a ruler to find a moment,
//! stitched playback from any instant, and clips.
//!
//! ```text
//!  EyrieTimelineWindow (adw::ApplicationWindow, from the live view's "Timeline" button
//!   │                   or `app.open-timeline`; its `win.*` actions: actions.rs)
//!   ├─ GtkPicture ◄─paintable─ gtk4paintablesink ◄─ eyrie_client::playback::Player
//!   ├─ controls: previous/next event, step, play/pause, 1×/2×/4×/8×, time, back to live
//!   ├─ EyrieRuler (ruler/): recordings, gaps, activity track, snapshots, playhead
//!   ├─ today's events (events.rs): kind, time, play from there
//!   └─ clip list (clips.rs): in progress / finished (polled), play, export, delete
//! ```
//!
//! The widgets only show state. The player runs its downloads on the shared tokio runtime
//! and its pipelines in GStreamer threads; its typed notices come back to the main loop
//! through its channel and become toasts ([`player`]). The ruler's data ([`data`]) is
//! loaded for the visible range plus a margin on either side, and again when the view
//! leaves it.

mod actions;
mod clips;
mod data;
mod events;
mod player;
mod ruler;
mod ui;

use std::cell::{Cell, OnceCell, RefCell};
use std::sync::Arc;

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_client::api::ApiClient;
use eyrie_client::playback::Player;
use eyrie_protocol::api::Device;
use gtk::glib;
use uuid::Uuid;

use super::session::Session;
use super::test_hooks;
use crate::i18n::{gettext, gettext_f};
use crate::spawn_tokio;
use eyrie_protocol::clock::unix_ms;
pub use ruler::{EyrieRuler, format_time};

/// The rates offered (the player accepts any).
const RATES: [f64; 4] = [1.0, 2.0, 4.0, 8.0];

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct EyrieTimelineWindow {
        pub api: OnceCell<ApiClient>,
        pub channel: Cell<Option<Uuid>>,
        pub device: RefCell<Option<Device>>,
        pub player: RefCell<Option<Arc<Player>>>,
        /// Where a seek asked for before the player was open goes once it is.
        pub pending_seek: Cell<Option<i64>>,
        /// The clip the player is playing (its object), or `None` for the recordings.
        pub playing_clip: RefCell<Option<eyrie_protocol::api::Clip>>,
        pub picture: OnceCell<gtk::Picture>,
        pub hint: OnceCell<gtk::Label>,
        pub spinner: OnceCell<gtk::Spinner>,
        pub ruler: OnceCell<EyrieRuler>,
        pub time_label: OnceCell<gtk::Label>,
        pub play_button: OnceCell<gtk::Button>,
        pub clip_button: OnceCell<gtk::Button>,
        pub toasts: OnceCell<adw::ToastOverlay>,
        pub clips: OnceCell<clips::ClipList>,
        pub events: OnceCell<events::EventList>,
        pub loaded: Cell<(i64, i64)>,
        /// When the ruler's data was last loaded (the present keeps growing).
        pub loaded_at: Cell<i64>,
        pub loading: Cell<bool>,
        /// The view was fitted to the recordings once (on the first load).
        pub fitted: Cell<bool>,
        pub paused: Cell<bool>,
        pub tick: RefCell<Option<glib::SourceId>>,
        pub hover_loading: Cell<Option<Uuid>>,
        /// Recording key ids this installation cannot open (made before it was allowed
        /// to read recordings, `docs/keys.md` §5).
        pub locked_keys: RefCell<std::collections::HashSet<String>>,
        /// The person was told about a recording under such a key (once per window).
        pub told_locked: Cell<bool>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieTimelineWindow {
        const NAME: &'static str = "EyrieTimelineWindow";
        type Type = super::EyrieTimelineWindow;
        type ParentType = adw::ApplicationWindow;
    }

    impl ObjectImpl for EyrieTimelineWindow {
        fn dispose(&self) {
            if let Some(id) = self.tick.take() {
                id.remove();
            }
            self.player.take();
        }
    }
    impl WidgetImpl for EyrieTimelineWindow {}
    impl WindowImpl for EyrieTimelineWindow {
        fn close_request(&self) -> glib::Propagation {
            // Stop downloads and pipelines now rather than when the window is finalised.
            self.player.take();
            if let Some(id) = self.tick.take() {
                id.remove();
            }
            self.parent_close_request()
        }
    }
    impl ApplicationWindowImpl for EyrieTimelineWindow {}
    impl AdwApplicationWindowImpl for EyrieTimelineWindow {}
}

glib::wrapper! {
    pub struct EyrieTimelineWindow(ObjectSubclass<imp::EyrieTimelineWindow>)
        @extends adw::ApplicationWindow, gtk::ApplicationWindow, gtk::Window, gtk::Widget,
        @implements gtk::gio::ActionGroup, gtk::gio::ActionMap, gtk::Accessible, gtk::Buildable,
            gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

/// Open the timeline of `device` over `parent` (the entry point from the live view).
pub fn open(parent: &impl IsA<gtk::Widget>, session: &Session, device: &Device) {
    open_at(parent, session, device, None);
}

/// Open the timeline of `device` over `parent`, playing from `at` (Unix ms) when given.
pub fn open_at(
    parent: &impl IsA<gtk::Widget>,
    session: &Session,
    device: &Device,
    at: Option<i64>,
) {
    let parent = parent.root().and_downcast::<gtk::Window>();
    let window = EyrieTimelineWindow::new(parent.as_ref(), session, device, at);
    window.present();
}

impl EyrieTimelineWindow {
    pub fn new(
        parent: Option<&gtk::Window>,
        session: &Session,
        device: &Device,
        at: Option<i64>,
    ) -> Self {
        let window: Self = glib::Object::builder()
            .property("default-width", 1000)
            .property("default-height", 700)
            .property(
                "title",
                gettext_f("Timeline of {name}", &[("name", &device.name)]),
            )
            .build();
        if let Some(p) = parent {
            window.set_transient_for(Some(p));
            // One of the application's windows: its actions are on D-Bus.
            window.set_application(p.application().as_ref());
        }
        let imp = window.imp();
        // Through `Cloud`: the client carries this installation's key.
        let _ = imp.api.set(
            crate::gui::cloud::Cloud::new(&session.server, Some(&session.token))
                .api()
                .clone(),
        );
        imp.channel.set(crate::gui::cloud::main_channel(device));
        imp.device.replace(Some(device.clone()));
        window.setup_actions();
        window.build_ui(device);
        window.start_player_then(None, at);
        window.reload_ruler(true);
        window.imp().clips.get().map(clips::ClipList::reload);
        window.imp().events.get().map(events::EventList::reload);
        let tick = glib::timeout_add_local(
            std::time::Duration::from_millis(100),
            glib::clone!(
                #[weak]
                window,
                #[upgrade_or]
                glib::ControlFlow::Break,
                move || {
                    window.on_tick();
                    glib::ControlFlow::Continue
                }
            ),
        );
        imp.tick.replace(Some(tick));
        test_hooks::report(
            "timeline-window",
            &serde_json::json!({ "device": device.id, "window_id": window.id() }),
        );
        window
    }

    fn imp_clips(&self) -> Option<clips::ClipList> {
        self.imp().clips.get().cloned()
    }

    pub(crate) fn api(&self) -> Option<ApiClient> {
        self.imp().api.get().cloned()
    }

    pub(crate) fn channel(&self) -> Option<Uuid> {
        self.imp().channel.get()
    }

    pub(crate) fn toast(&self, text: &str) {
        if let Some(t) = self.imp().toasts.get() {
            t.add_toast(adw::Toast::new(text));
        }
    }

    fn ruler(&self) -> Option<EyrieRuler> {
        self.imp().ruler.get().cloned()
    }

    /// Load what the ruler shows when the view left the loaded range (or `force`).
    fn reload_ruler(&self, force: bool) {
        let imp = self.imp();
        let (Some(ruler), Some(api), Some(channel)) = (self.ruler(), self.api(), self.channel())
        else {
            return;
        };
        let (vs, ve) = ruler.view();
        let (ls, le) = imp.loaded.get();
        if imp.loading.get() || (!force && vs >= ls && ve <= le) {
            return;
        }
        let span = ve - vs;
        let now = unix_ms();
        let (from, to) = (vs - span, (ve + span).min(now + 60_000));
        imp.loading.set(true);
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let res =
                    spawn_tokio!(async move { data::load(&api, channel, from, to).await }).await;
                let imp = window.imp();
                imp.loading.set(false);
                match res {
                    Ok(Ok(loaded)) => {
                        // Up to now is all there is; the tick refreshes the present.
                        let end = if loaded.to_ms >= now {
                            i64::MAX
                        } else {
                            loaded.to_ms
                        };
                        imp.loaded.set((loaded.from_ms, end));
                        imp.loaded_at.set(unix_ms());
                        test_hooks::report(
                            "timeline-loaded",
                            &serde_json::json!({ "runs": loaded.runs, "markers": loaded.markers.len() }),
                        );
                        // Open on the last hour, or on the recordings when they span
                        // less (a new camera's few minutes would be a sliver of an hour).
                        if !imp.fitted.replace(true)
                            && let Some(first) = loaded.runs.iter().map(|r| r.0).min()
                            && now - first < 3_600_000
                        {
                            let span = ((now - first) as f64 * 1.25).max(ruler::MIN_SPAN_MS);
                            ruler.set_view(now as f64 - span * 0.9, span);
                        }
                        ruler.set_runs(loaded.runs);
                        ruler.set_markers(loaded.markers);
                        // The view may have moved on while loading.
                        window.reload_ruler(false);
                    }
                    Ok(Err(e)) => window.toast(&gettext_f(
                        "Cannot load the recordings: {error}",
                        &[("error", &e.to_string())],
                    )),
                    Err(e) => tracing::error!("timeline load task: {e}"),
                }
            }
        ));
    }

    /// Refresh the playhead, the time label and the play button from the player.
    fn on_tick(&self) {
        let imp = self.imp();
        let state = imp.player.borrow().as_ref().map(|p| p.state());
        // New recordings arrive every segment: refresh a view that shows the present.
        let now = unix_ms();
        if let Some(ruler) = self.ruler()
            && ruler.view().1 >= now - 60_000
            && now - imp.loaded_at.get() > 10_000
        {
            imp.loaded_at.set(now);
            self.reload_ruler(true);
            imp.events.get().map(events::EventList::reload);
        }
        let Some(state) = state else { return };
        if let Some(ruler) = self.ruler() {
            ruler.set_playhead(state.position_ms);
            if let Some(p) = state.position_ms
                && !state.paused
            {
                ruler.follow(p);
            }
        }
        if let (Some(label), Some(p)) = (imp.time_label.get(), state.position_ms) {
            let day = ruler::format_time(p, false, true);
            label.set_label(&format!("{day} {}", ruler::format_time(p, true, false)));
        }
        if imp.paused.replace(state.paused) != state.paused
            && let Some(b) = imp.play_button.get()
        {
            let (icon, tip) = if state.paused {
                ("media-playback-start-symbolic", gettext("Play"))
            } else {
                ("media-playback-pause-symbolic", gettext("Pause"))
            };
            b.set_icon_name(icon);
            b.set_tooltip_text(Some(&tip));
            b.update_property(&[gtk::accessible::Property::Label(&tip)]);
        }
    }

    fn toggle_pause(&self) {
        if let Some(p) = self.imp().player.borrow().as_ref() {
            if p.state().paused {
                p.play();
            } else {
                p.pause();
            }
        }
    }

    fn step(&self) {
        if let Some(p) = self.imp().player.borrow().as_ref() {
            p.step();
        }
    }

    fn jump_event(&self, forward: bool) {
        let Some(player) = self.imp().player.borrow().clone() else {
            return;
        };
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let res = spawn_tokio!(async move {
                    if forward {
                        player.next_event().await
                    } else {
                        player.previous_event().await
                    }
                })
                .await;
                match res {
                    Ok(Ok(Some(_))) => window.show_loading(),
                    Ok(Ok(None)) => window.toast(&if forward {
                        gettext("No later event")
                    } else {
                        gettext("No earlier event")
                    }),
                    Ok(Err(e)) => window.toast(&e.to_string()),
                    Err(e) => tracing::error!("event jump task: {e}"),
                }
            }
        ));
    }

    /// Play from `t`.
    pub(crate) fn seek(&self, t: i64) {
        // A click outside the clip being played goes back to the recordings.
        let outside_clip = self
            .imp()
            .playing_clip
            .borrow()
            .as_ref()
            .is_some_and(|c| t < c.start_ms || t > c.end_ms);
        if outside_clip {
            self.start_player_then(None, Some(t));
            return;
        }
        let Some(player) = self.imp().player.borrow().clone() else {
            // The player is still opening (right after the window opened): the click
            // is kept and played once it is, not dropped.
            self.imp().pending_seek.set(Some(t));
            self.show_loading();
            return;
        };
        self.show_loading();
        test_hooks::report("timeline-seek", &serde_json::json!({ "target_ms": t }));
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                match spawn_tokio!(async move { player.seek(t).await }).await {
                    Ok(Ok(())) => {}
                    Ok(Err(eyrie_client::playback::PlaybackError::NothingToPlay)) => {
                        window.hide_loading();
                    }
                    Ok(Err(e)) => {
                        window.hide_loading();
                        window.toast(&e.to_string());
                    }
                    Err(e) => tracing::error!("seek task: {e}"),
                }
            }
        ));
    }

    fn show_loading(&self) {
        let imp = self.imp();
        if let Some(s) = imp.spinner.get() {
            s.set_visible(true);
            s.set_spinning(true);
        }
        if let Some(h) = imp.hint.get() {
            h.set_visible(false);
        }
    }

    fn hide_loading(&self) {
        if let Some(s) = self.imp().spinner.get() {
            s.set_visible(false);
            s.set_spinning(false);
        }
    }

    fn create_clip(&self) {
        let (Some(ruler), Some(api), Some(channel)) = (self.ruler(), self.api(), self.channel())
        else {
            return;
        };
        let Some((a, b)) = ruler.selection() else {
            return;
        };
        let b = b.min(a + 3_600_000);
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let res = spawn_tokio!(async move {
                    eyrie_client::playback::create_clip(&api, channel, a, b, None).await
                })
                .await;
                match res {
                    Ok(Ok(_)) => {
                        window.toast(&gettext("Clip requested; it is listed on the right"));
                        ruler.set_selection(None);
                        if let Some(c) = window.imp().clips.get() {
                            c.reload();
                        }
                    }
                    Ok(Err(e)) => window.toast(&e.to_string()),
                    Err(e) => tracing::error!("clip task: {e}"),
                }
            }
        ));
    }

    /// Fetch the snapshot nearest to an event for the ruler's tooltip (once per event).
    fn load_hover_snapshot(&self, marker: &ruler::Marker) {
        let imp = self.imp();
        if imp.hover_loading.get() == Some(marker.id) {
            return;
        }
        imp.hover_loading.set(Some(marker.id));
        let (Some(api), Some(channel), Some(device)) = (
            self.api(),
            self.channel(),
            imp.device.borrow().as_ref().map(|d| d.id),
        ) else {
            return;
        };
        let (id, at) = (marker.id, marker.start_ms);
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let bytes =
                    spawn_tokio!(
                        async move { data::snapshot_near(&api, device, channel, at).await }
                    )
                    .await
                    .ok()
                    .flatten();
                let texture = bytes
                    .and_then(|b| gtk::gdk::Texture::from_bytes(&glib::Bytes::from_owned(b)).ok());
                if let (Some(t), Some(r)) = (texture, window.ruler()) {
                    r.set_hover_image(id, t);
                }
            }
        ));
    }
}
