//! `EyrieApplication`: the one `adw::Application` of the viewer.
//!
//! It owns what lives as long as the process: the `gio::Settings`, the signed-in
//! [`Session`](super::session::Session) and the application-wide actions with their
//! keyboard shortcuts. Windows ask it for those; they never open settings or read the
//! session file themselves.

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{gio, glib};

use super::window::EyrieWindow;
use crate::config;
use crate::i18n::gettext;

mod imp {
    use std::cell::{Cell, OnceCell, RefCell};

    use super::*;
    use crate::gui::session::Session;

    #[derive(Default)]
    pub struct EyrieApplication {
        pub settings: OnceCell<Option<gio::Settings>>,
        pub session: RefCell<Option<Session>>,
        pub kiosk: Cell<bool>,
        /// The session is the demo's (its own throw-away cloud): no installation key.
        pub demo: Cell<bool>,
        pub open_camera: RefCell<Option<String>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieApplication {
        const NAME: &'static str = "EyrieApplication";
        type Type = super::EyrieApplication;
        type ParentType = adw::Application;
    }

    impl ObjectImpl for EyrieApplication {}

    impl ApplicationImpl for EyrieApplication {
        fn startup(&self) {
            self.parent_startup();
            let obj = self.obj();
            obj.setup_actions();
            obj.setup_accels();
            crate::gui::a11y::watch_toplevels();
            crate::gui::test_hooks::install(&obj);
        }

        fn activate(&self) {
            self.parent_activate();
            let obj = self.obj();
            if let Some(window) = obj.active_window() {
                window.present();
                return;
            }
            if obj.is_kiosk() || obj.settings().is_some_and(|s| s.boolean("kiosk")) {
                crate::gui::kiosk::EyrieKioskWindow::new(&obj).present();
                return;
            }
            let window = EyrieWindow::new(&obj);
            window.present();
        }
    }

    impl GtkApplicationImpl for EyrieApplication {}
    impl AdwApplicationImpl for EyrieApplication {}
}

glib::wrapper! {
    pub struct EyrieApplication(ObjectSubclass<imp::EyrieApplication>)
        @extends adw::Application, gtk::Application, gio::Application,
        @implements gio::ActionGroup, gio::ActionMap;
}

impl EyrieApplication {
    pub fn new(kiosk: bool) -> Self {
        let app: Self = glib::Object::builder()
            .property("application-id", config::APP_ID)
            .property("flags", gio::ApplicationFlags::NON_UNIQUE)
            .property("resource-base-path", config::RESOURCES_PATH)
            .build();
        app.imp().kiosk.set(kiosk);
        app
    }

    /// The application's settings, or `None` when the schema is neither installed nor
    /// compiled next to the build; callers then use the schema defaults.
    pub fn settings(&self) -> Option<gio::Settings> {
        self.imp().settings.get_or_init(open_settings).clone()
    }

    /// A camera the first window opens as soon as the list arrives.
    pub fn set_open_camera(&self, id: String) {
        self.imp().open_camera.replace(Some(id));
    }

    pub fn take_open_camera(&self) -> Option<String> {
        self.imp().open_camera.take()
    }

    pub fn is_kiosk(&self) -> bool {
        self.imp().kiosk.get()
    }

    /// Whether the session is the demo's.
    pub fn is_demo(&self) -> bool {
        self.imp().demo.get()
    }

    pub fn set_demo(&self, demo: bool) {
        self.imp().demo.set(demo);
    }

    pub fn session(&self) -> Option<super::session::Session> {
        self.imp().session.borrow().clone()
    }

    pub fn set_session(&self, session: Option<super::session::Session>) {
        self.imp().session.replace(session);
    }

    pub fn main_window(&self) -> Option<EyrieWindow> {
        self.windows()
            .into_iter()
            .find_map(|w| w.downcast::<EyrieWindow>().ok())
    }

    fn setup_actions(&self) {
        let quit = gio::ActionEntry::builder("quit")
            .activate(|app: &Self, _, _| {
                for w in app.windows() {
                    w.close();
                }
                app.quit();
            })
            .build();
        let about = gio::ActionEntry::builder("about")
            .activate(|app: &Self, _, _| app.show_about())
            .build();
        let preferences = gio::ActionEntry::builder("preferences")
            .activate(|app: &Self, _, _| super::preferences::open(app))
            .build();
        let camera_mode = gio::ActionEntry::builder("camera-mode")
            .activate(|app: &Self, _, _| {
                let window = super::camera_mode::EyrieCameraModeWindow::new(app);
                window.present();
            })
            .build();
        // Opened from a notification or the desktop: `app.open-camera("<device id>")`.
        let open_camera = gio::ActionEntry::builder("open-camera")
            .parameter_type(Some(glib::VariantTy::STRING))
            .activate(|app: &Self, _, param| {
                let Some(id) = param.and_then(|p| p.get::<String>()) else {
                    return;
                };
                app.activate();
                if let Some(window) = app.main_window() {
                    window.open_camera_by_id(&id);
                }
            })
            .build();
        // A camera's recordings from an instant (Unix ms; 0 for the last hour), e.g. from a
        // home-automation event: `app.open-timeline(("<device id>", <ms>))`.
        let open_timeline = gio::ActionEntry::builder("open-timeline")
            .parameter_type(Some(
                &glib::VariantType::new("(sx)").expect("GVariant type"),
            ))
            .activate(|app: &Self, _, param| {
                let Some((id, at)) = param.and_then(|p| p.get::<(String, i64)>()) else {
                    return;
                };
                app.activate();
                if let Some(window) = app.main_window() {
                    window.open_timeline_by_id(&id, (at > 0).then_some(at));
                }
            })
            .build();
        self.add_action_entries([
            quit,
            about,
            preferences,
            camera_mode,
            open_camera,
            open_timeline,
        ]);
        // `app.do-not-disturb`: the key itself as a stateful action (state `b`; activating
        // toggles it), so the desktop or a remote can silence notifications.
        if let Some(settings) = self.settings() {
            self.add_action(&settings.create_action("do-not-disturb"));
        }
    }

    fn setup_accels(&self) {
        self.set_accels_for_action("app.quit", &["<Control>q"]);
        self.set_accels_for_action("app.preferences", &["<Control>comma"]);
        self.set_accels_for_action("app.camera-mode", &["<Control><Shift>m"]);
        self.set_accels_for_action("window.close", &["<Control>w"]);
        self.set_accels_for_action("win.refresh", &["<Control>r", "F5"]);
        self.set_accels_for_action("win.add-camera", &["<Control>n"]);
        self.set_accels_for_action("win.back", &["<Alt>Left", "Escape"]);
        self.set_accels_for_action("win.sign-out", &[]);
        self.set_accels_for_action("live.fullscreen", &["F11"]);
        self.set_accels_for_action("live.mute", &["<Control>m"]);
        self.set_accels_for_action("live.talk", &["<Control>t"]);
        self.set_accels_for_action("live.snapshot", &["<Control>s"]);
        self.set_accels_for_action("live.toggle-quality", &["<Control>h"]);
        self.set_accels_for_action("live.gallery", &["<Control>g"]);
    }

    fn show_about(&self) {
        let about = adw::AboutWindow::builder()
            .application_name("Eyrie")
            .application_icon(config::APP_ID)
            .developer_name(gettext("The Eyrie developers"))
            .version(config::VERSION)
            .website("https://github.com/eyrie-nvr/eyrie")
            .issue_url("https://github.com/eyrie-nvr/eyrie/issues")
            .license_type(gtk::License::Gpl30)
            .comments(gettext(
                "Watch your cameras live, talk through them and keep what they see",
            ))
            // Translators: put your names here, one per line.
            .translator_credits(gettext("translator-credits"))
            .modal(true)
            .build();
        if let Some(w) = self.active_window() {
            about.set_transient_for(Some(&w));
        }
        about.present();
    }
}

/// Open the settings, from the installed schema or the one `build.rs` compiled.
fn open_settings() -> Option<gio::Settings> {
    let default = gio::SettingsSchemaSource::default();
    let schema = default
        .as_ref()
        .and_then(|s| s.lookup(config::APP_ID, true))
        .or_else(|| {
            let dir = option_env!("EYRIE_BUILD_SCHEMA_DIR")?;
            gio::SettingsSchemaSource::from_directory(dir, default.as_ref(), false)
                .ok()?
                .lookup(config::APP_ID, false)
        });
    match schema {
        Some(schema) => Some(gio::Settings::new_full(
            &schema,
            None::<&gio::SettingsBackend>,
            None,
        )),
        None => {
            tracing::warn!(
                "settings schema {} not found; settings will not be kept",
                config::APP_ID
            );
            None
        }
    }
}
