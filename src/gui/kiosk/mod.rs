//! The kiosk: cameras on a wall screen, all day, with nobody touching them.
//!
//! `eyrie --kiosk` (or the `kiosk` setting) opens [`EyrieKioskWindow`] instead of the
//! normal window: fullscreen, undecorated, black, the pointer hidden when idle and the
//! screen saver inhibited ([`guard`]). It shows the signed-in account's cameras (the ids in
//! `kiosk-cameras`, or all) in the `kiosk-layout`: one camera, a 2×2, 3×3 or 4×4 grid, or
//! one camera at a time cycling every `kiosk-cycle-seconds` ([`layout`]). Grid tiles take
//! the SD sub stream, a camera alone on the screen the HD main stream.
//!
//! Clicking a grid tile enlarges its camera (a separate HD tile on the *focus* page) until
//! `kiosk-enlarge-seconds` pass or the tile is clicked again; an event on a camera
//! ([`events`], the cloud's event list) brings it to the front the same way for
//! `kiosk-event-focus-seconds`. While a camera is in front the grid tiles are stopped, so
//! the screen never decodes more than it shows.
//!
//! Every tile heals itself ([`tile`]): failures retry within seconds, a tile without new
//! frames is marked stale and then reconnected, and the window restarts all tiles after a
//! resume from sleep and retries failed ones when the network comes back. The device list
//! itself is fetched until the cloud answers and refreshed every minute ([`devices`]).
//!
//! Preferences (layout, cameras, times, talk) open with Ctrl+, or a three-second press on
//! the screen; with `kiosk-locked` they ask for the PIN first ([`prefs`]), and quitting
//! from the keyboard is disabled.
//!
//! ```text
//!  EyrieKioskWindow ── GtkStack: message (AdwStatusPage) │ grid (GtkGrid of KioskTile, SD)
//!        │                                               │ focus (one KioskTile, HD)
//!        ├─ guard: pointer, inhibit, resume, network     └─ events: poll → focus(camera)
//!        └─ settings "changed" → rebuild
//! ```

mod devices;
mod events;
mod focus;
mod guard;
mod layout;
pub(crate) mod prefs;
mod tile;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_protocol::api::Device;
use gtk::{gio, glib};

use super::application::EyrieApplication;
use super::live::engine::Quality;
use super::session::Session;
use super::test_hooks;
use crate::i18n::gettext;
use layout::Layout;
use tile::KioskTile;

/// How long a press anywhere must last to open the preferences.
const PREFERENCES_PRESS: Duration = Duration::from_secs(3);

const CSS: &str = "
window.eyrie-kiosk { border: none; box-shadow: none; outline: none; border-radius: 0; }
window.eyrie-kiosk, .eyrie-kiosk-tile { background-color: black; }
.eyrie-kiosk-name { color: white; background-color: alpha(black, 0.55); border-radius: 6px; padding: 2px 8px; }
.eyrie-kiosk-stale { color: white; background-color: #c01c28; border-radius: 6px; padding: 4px 10px; font-weight: bold; }
.eyrie-kiosk-frozen { opacity: 0.35; filter: grayscale(1); }
.eyrie-kiosk-status { color: white; }
";

/// Why a camera is in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Click,
    Event,
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct EyrieKioskWindow {
        pub stack: gtk::Stack,
        pub message: adw::StatusPage,
        pub grid: gtk::Grid,
        pub focus_box: gtk::Box,
        pub settings: RefCell<Option<gio::Settings>>,
        pub session: RefCell<Option<Session>>,
        pub devices: RefCell<Vec<Device>>,
        pub shown: RefCell<Vec<Device>>,
        pub tiles: RefCell<Vec<KioskTile>>,
        pub focus_tile: RefCell<Option<(KioskTile, Focus)>>,
        pub focus_timer: RefCell<Option<glib::SourceId>>,
        pub cycle_timer: RefCell<Option<glib::SourceId>>,
        pub cycle_index: Cell<usize>,
        pub rebuild_timer: RefCell<Option<glib::SourceId>>,
        pub events: RefCell<Option<glib::JoinHandle<()>>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieKioskWindow {
        const NAME: &'static str = "EyrieKioskWindow";
        type Type = super::EyrieKioskWindow;
        type ParentType = adw::ApplicationWindow;
    }

    impl ObjectImpl for EyrieKioskWindow {
        fn dispose(&self) {
            self.obj().stop_all();
        }
    }
    impl WidgetImpl for EyrieKioskWindow {}
    impl WindowImpl for EyrieKioskWindow {
        fn close_request(&self) -> glib::Propagation {
            if self.obj().locked() {
                return glib::Propagation::Stop;
            }
            self.obj().stop_all();
            self.parent_close_request()
        }
    }
    impl ApplicationWindowImpl for EyrieKioskWindow {}
    impl AdwApplicationWindowImpl for EyrieKioskWindow {}
}

glib::wrapper! {
    pub struct EyrieKioskWindow(ObjectSubclass<imp::EyrieKioskWindow>)
        @extends adw::ApplicationWindow, gtk::ApplicationWindow, gtk::Window, gtk::Widget,
        @implements gio::ActionGroup, gio::ActionMap, gtk::Accessible, gtk::Buildable,
            gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

impl EyrieKioskWindow {
    pub fn new(app: &EyrieApplication) -> Self {
        let window: Self = glib::Object::builder()
            .property("application", app)
            .property("title", "Eyrie")
            .property("decorated", false)
            .build();
        window.imp().settings.replace(app.settings());
        window.build_widgets();
        window.setup_actions(app);
        window.fill_monitor();
        window.fullscreen();
        let hide_after = window.setting_u32("kiosk-hide-pointer-seconds", 3);
        guard::hide_idle_pointer(window.upcast_ref(), Duration::from_secs(hide_after.into()));
        window.connect_map(|w| {
            if let Some(app) = w.application() {
                guard::inhibit_idle(&app, w.upcast_ref(), &gettext("Showing cameras"));
            }
            test_hooks::report(
                "kiosk-shown",
                &serde_json::json!({ "pid": std::process::id() }),
            );
        });
        let weak = window.downgrade();
        guard::watch_resume(&window, move |why| {
            if let Some(w) = weak.upgrade() {
                w.on_resume(why);
            }
        });
        // Tests cannot suspend the machine (test-hooks builds only: SIGUSR1).
        let weak = window.downgrade();
        test_hooks::on_fake_resume(&window, move || {
            if let Some(w) = weak.upgrade() {
                w.on_resume("test signal");
            }
        });
        let weak = window.downgrade();
        guard::watch_network(&window, move || {
            if let Some(w) = weak.upgrade() {
                w.for_each_tile(|t| t.retry_now_if_failed());
            }
        });
        window.watch_settings();
        window.load_session(app);
        window
    }

    fn build_widgets(&self) {
        let imp = self.imp();
        self.add_css_class("eyrie-kiosk");
        let provider = gtk::CssProvider::new();
        provider.load_from_data(CSS);
        gtk::style_context_add_provider_for_display(
            &gtk::prelude::WidgetExt::display(self),
            &provider,
            gtk::STYLE_PROVIDER_PRIORITY_APPLICATION,
        );
        imp.grid.set_row_homogeneous(true);
        imp.grid.set_column_homogeneous(true);
        imp.grid.set_row_spacing(2);
        imp.grid.set_column_spacing(2);
        imp.focus_box.set_homogeneous(true);
        imp.message.set_icon_name(Some("camera-web-symbolic"));
        imp.message.set_title(&gettext("Connecting to the Cloud"));
        imp.stack.add_named(&imp.message, Some("message"));
        imp.stack.add_named(&imp.grid, Some("grid"));
        imp.stack.add_named(&imp.focus_box, Some("focus"));
        imp.stack
            .set_transition_type(gtk::StackTransitionType::Crossfade);
        self.set_content(Some(&imp.stack));

        // A three-second press anywhere opens the preferences (touch screens have no
        // keyboard). Timed here: GtkGestureLongPress caps its delay factor at 2 (about a
        // second), short enough to open them by a person leaning on the screen.
        let press = gtk::GestureClick::new();
        let pending: Rc<RefCell<Option<glib::SourceId>>> = Rc::default();
        press.connect_pressed(glib::clone!(
            #[weak(rename_to = w)]
            self,
            #[strong]
            pending,
            move |_, _, _, _| {
                let id = glib::timeout_add_local_once(
                    PREFERENCES_PRESS,
                    glib::clone!(
                        #[weak]
                        w,
                        #[strong]
                        pending,
                        move || {
                            pending.take();
                            w.show_preferences();
                        }
                    ),
                );
                if let Some(old) = pending.replace(Some(id)) {
                    old.remove();
                }
            }
        ));
        let cancel = move || {
            if let Some(id) = pending.take() {
                id.remove();
            }
        };
        let cancel = Rc::new(cancel);
        press.connect_released({
            let cancel = cancel.clone();
            move |_, _, _, _| cancel()
        });
        // The press taken by another gesture. (Not `stopped`: a click gesture emits it
        // when its double-click time runs out, long before three seconds.)
        press.connect_cancel(move |_, _| cancel());
        self.add_controller(press);
    }

    /// Without a window manager (a bare X server, some kiosk set-ups) `fullscreen()` does
    /// nothing; start at the size of the first monitor so the screen is covered anyway.
    fn fill_monitor(&self) {
        let display = gtk::prelude::WidgetExt::display(self);
        let monitor = display
            .monitors()
            .item(0)
            .and_downcast::<gtk::gdk::Monitor>();
        if let Some(monitor) = monitor {
            let geometry = monitor.geometry();
            self.set_default_size(geometry.width(), geometry.height());
        }
    }

    fn setup_actions(&self, app: &EyrieApplication) {
        let prefs = gio::ActionEntry::builder("preferences")
            .activate(|w: &Self, _, _| w.show_preferences())
            .build();
        let back = gio::ActionEntry::builder("back")
            .activate(|w: &Self, _, _| w.unfocus())
            .build();
        // `win.back` already has Escape (application.rs).
        self.add_action_entries([prefs, back]);
        app.set_accels_for_action("win.preferences", &["<Control>comma"]);
        self.apply_lock();
    }

    /// A locked kiosk cannot be quit from its keyboard.
    fn apply_lock(&self) {
        if let Some(app) = self.application() {
            let quit: &[&str] = if self.locked() { &[] } else { &["<Control>q"] };
            app.set_accels_for_action("app.quit", quit);
        }
    }

    pub fn settings(&self) -> Option<gio::Settings> {
        self.imp().settings.borrow().clone()
    }

    fn locked(&self) -> bool {
        self.settings().is_some_and(|s| s.boolean("kiosk-locked"))
    }

    fn setting_u32(&self, key: &str, default: u32) -> u32 {
        self.settings().map_or(default, |s| s.uint(key))
    }

    fn setting_bool(&self, key: &str, default: bool) -> bool {
        self.settings().map_or(default, |s| s.boolean(key))
    }

    fn layout(&self) -> Layout {
        self.settings().map_or(Layout::Grid(2), |s| {
            Layout::from_nick(&s.string("kiosk-layout"))
        })
    }

    fn watch_settings(&self) {
        let Some(settings) = self.settings() else {
            return;
        };
        settings.connect_changed(
            None,
            glib::clone!(
                #[weak(rename_to = w)]
                self,
                move |_, key| match key {
                    "kiosk-locked" => w.apply_lock(),
                    "kiosk-layout"
                    | "kiosk-cameras"
                    | "kiosk-cycle-seconds"
                    | "kiosk-talk-allowed"
                    | "kiosk-event-focus" => w.rebuild_soon(),
                    _ => {}
                }
            ),
        );
    }

    fn show_message(&self, title: &str, description: &str, icon: &str) {
        let imp = self.imp();
        imp.message.set_title(title);
        imp.message.set_description(Some(description));
        imp.message.set_icon_name(Some(icon));
        imp.stack.set_visible_child_name("message");
        test_hooks::report(
            "kiosk-message",
            &serde_json::json!({ "title": title, "description": description }),
        );
    }

    fn rebuild_soon(&self) {
        let id = glib::timeout_add_local_once(
            Duration::from_millis(300),
            glib::clone!(
                #[weak(rename_to = w)]
                self,
                move || {
                    w.imp().rebuild_timer.take();
                    w.rebuild();
                }
            ),
        );
        if let Some(old) = self.imp().rebuild_timer.replace(Some(id)) {
            old.remove();
        }
    }

    fn stop_all(&self) {
        let imp = self.imp();
        for t in imp.tiles.take() {
            t.stop();
        }
        if let Some((t, _)) = imp.focus_tile.take() {
            t.stop();
        }
        for timer in [&imp.focus_timer, &imp.cycle_timer, &imp.rebuild_timer] {
            if let Some(id) = timer.take() {
                id.remove();
            }
        }
        if let Some(h) = imp.events.take() {
            h.abort();
        }
    }

    /// Build the tiles of the layout from scratch.
    fn rebuild(&self) {
        let imp = self.imp();
        self.stop_all();
        while let Some(child) = imp.grid.first_child() {
            imp.grid.remove(&child);
        }
        let Some(session) = imp.session.borrow().clone() else {
            return;
        };
        let chosen: Vec<String> = self
            .settings()
            .map(|s| {
                s.strv("kiosk-cameras")
                    .iter()
                    .map(|g| g.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let shown = layout::choose(&imp.devices.borrow(), &chosen);
        if shown.is_empty() {
            self.show_message(
                &gettext("No Cameras"),
                &gettext("Add a camera in the Eyrie viewer; it appears here by itself."),
                "camera-disabled-symbolic",
            );
            return;
        }
        let layout = self.layout();
        let quality = if layout.hd() {
            Quality::Hd
        } else {
            Quality::Sd
        };
        let talk = layout.hd() && self.setting_bool("kiosk-talk-allowed", false);
        let count = layout.slots().min(shown.len());
        for (i, device) in shown.iter().take(count).enumerate() {
            let tile = KioskTile::new(session.clone(), device.clone(), quality, talk);
            self.on_tile_click(&tile);
            let (col, row) = layout.cell(i);
            imp.grid.attach(tile.widget(), col, row, 1, 1);
            tile.start();
            imp.tiles.borrow_mut().push(tile);
        }
        // Keep the grid square when there are fewer cameras than cells.
        for i in count..layout.slots() {
            let (col, row) = layout.cell(i);
            let filler = gtk::Box::new(gtk::Orientation::Vertical, 0);
            filler.add_css_class("eyrie-kiosk-tile");
            imp.grid.attach(&filler, col, row, 1, 1);
        }
        imp.stack.set_visible_child_name("grid");
        imp.cycle_index.set(0);
        if layout == Layout::Cycle && shown.len() > 1 {
            self.start_cycle();
        }
        if self.setting_bool("kiosk-event-focus", true) {
            let weak = self.downgrade();
            let handle = events::watch(session, shown.clone(), move |id| {
                if let Some(w) = weak.upgrade() {
                    w.on_camera_event(id);
                }
            });
            imp.events.replace(Some(handle));
        }
        test_hooks::report(
            "kiosk-layout",
            &serde_json::json!({
                "layout": layout.nick(),
                "cameras": shown.iter().take(count).map(|d| d.id.to_string()).collect::<Vec<_>>(),
                "hd": layout.hd(),
            }),
        );
        imp.shown.replace(shown);
    }

    fn for_each_tile(&self, f: impl Fn(&KioskTile)) {
        let imp = self.imp();
        if let Some((t, _)) = imp.focus_tile.borrow().as_ref() {
            f(t);
            return;
        }
        for t in imp.tiles.borrow().iter() {
            f(t);
        }
    }

    fn on_resume(&self, why: &str) {
        test_hooks::report("kiosk-resume", &serde_json::json!({ "why": why }));
        self.for_each_tile(|t| t.reconnect_now(why));
    }

    fn show_preferences(&self) {
        prefs::open(self);
    }

    pub(super) fn all_devices(&self) -> Vec<Device> {
        self.imp().devices.borrow().clone()
    }
}
