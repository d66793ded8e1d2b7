//! `EyrieWindow`: the main window — first-run page, connect page, camera grid and the
//! live view — with the window actions that move between them.
//!
//! Navigation is a `GtkStack` of pages (libadwaita 1.2 has no navigation view). The window
//! never talks to the network itself: the pages' code hands requests to the shared tokio
//! runtime with `spawn_tokio!` and awaits the join handle from a glib future holding only
//! a weak reference to the window, so a closed window simply drops the answer.

mod cameras;
mod connect;
mod form;
mod keys;
mod live;
mod thumbnails;

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{gio, glib};

use super::application::EyrieApplication;
use super::live::EyrieLiveView;
use super::session::Session;
use crate::i18n::gettext;
use crate::spawn_tokio;

mod imp {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;

    #[derive(Default, gtk::CompositeTemplate)]
    #[template(resource = "/io/github/eyrie/Eyrie/window/window.ui")]
    pub struct EyrieWindow {
        #[template_child]
        pub toast_overlay: TemplateChild<adw::ToastOverlay>,
        #[template_child]
        pub stack: TemplateChild<gtk::Stack>,
        #[template_child]
        pub welcome_demo_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub server_row: TemplateChild<adw::EntryRow>,
        #[template_child]
        pub email_row: TemplateChild<adw::EntryRow>,
        #[template_child]
        pub password_row: TemplateChild<adw::PasswordEntryRow>,
        #[template_child]
        pub connect_spinner: TemplateChild<gtk::Spinner>,
        #[template_child]
        pub connect_error: TemplateChild<gtk::Label>,
        #[template_child]
        pub cameras_title: TemplateChild<adw::WindowTitle>,
        #[template_child]
        pub cameras_stack: TemplateChild<gtk::Stack>,
        #[template_child]
        pub cameras_spinner: TemplateChild<gtk::Spinner>,
        #[template_child]
        pub cameras_error: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub cameras_flowbox: TemplateChild<gtk::FlowBox>,
        #[template_child]
        pub keys_banner: TemplateChild<gtk::Revealer>,
        #[template_child]
        pub keys_banner_label: TemplateChild<gtk::Label>,
        /// Installation requests already put to the person this session (by id).
        pub asked_installations: RefCell<std::collections::HashSet<String>>,
        /// The session whose installation key is being settled or was settled.
        pub settled_for: RefCell<Option<(String, String)>>,
        /// The cameras of the last listing, by id.
        pub devices: RefCell<HashMap<String, eyrie_protocol::api::Device>>,
        /// The open live view, if any.
        pub live: RefCell<Option<EyrieLiveView>>,
        /// A camera to open as soon as the list arrives (notification, `--camera`).
        pub pending_open: RefCell<Option<String>>,
        /// A camera whose timeline to open as soon as the list arrives, and from when.
        pub pending_timeline: RefCell<Option<(String, Option<i64>)>>,
        /// The cards' pictures, by camera (`thumbnails.rs`).
        pub thumbnails: RefCell<HashMap<uuid::Uuid, super::thumbnails::Thumbnail>>,
        /// Each camera's snapshot keys, kept for the cards' next pictures.
        pub snapshot_openers: super::thumbnails::Openers,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieWindow {
        const NAME: &'static str = "EyrieWindow";
        type Type = super::EyrieWindow;
        type ParentType = adw::ApplicationWindow;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for EyrieWindow {
        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            obj.setup_actions();
            obj.keep_thumbnails_fresh();
            // Enter in the password field signs in, as the "Sign In" button does.
            let window = obj.downgrade();
            self.password_row.connect_entry_activated(move |_| {
                if let Some(w) = window.upgrade() {
                    w.sign_in(false);
                }
            });
            if crate::config::PROFILE == "development" {
                obj.add_css_class("devel");
            }
        }
    }

    impl WidgetImpl for EyrieWindow {}
    impl WindowImpl for EyrieWindow {
        fn close_request(&self) -> glib::Propagation {
            if let Some(live) = self.live.take() {
                live.stop();
            }
            if let Some(settings) = self.obj().app().and_then(|a| a.settings()) {
                let (w, h) = self.obj().default_size();
                let _ = settings.set_int("window-width", w);
                let _ = settings.set_int("window-height", h);
            }
            self.parent_close_request()
        }
    }
    impl ApplicationWindowImpl for EyrieWindow {}
    impl AdwApplicationWindowImpl for EyrieWindow {}
}

glib::wrapper! {
    pub struct EyrieWindow(ObjectSubclass<imp::EyrieWindow>)
        @extends adw::ApplicationWindow, gtk::ApplicationWindow, gtk::Window, gtk::Widget,
        @implements gio::ActionGroup, gio::ActionMap, gtk::Accessible, gtk::Buildable,
            gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

impl EyrieWindow {
    pub fn new(app: &EyrieApplication) -> Self {
        let window: Self = glib::Object::builder().property("application", app).build();
        if let Some(settings) = app.settings() {
            let (w, h) = (settings.int("window-width"), settings.int("window-height"));
            if w > 0 && h > 0 {
                window.set_default_size(w, h);
            }
        }
        if app.is_kiosk() {
            window.fullscreen();
        }
        if let Some(id) = app.take_open_camera() {
            window.imp().pending_open.replace(Some(id));
        }
        window.connect_map(|_| super::test_hooks::report("window-shown", &serde_json::json!({})));
        window.restore_session();
        window
    }

    pub fn app(&self) -> Option<EyrieApplication> {
        self.application().and_downcast::<EyrieApplication>()
    }

    /// Show a short-lived message at the bottom of the window.
    pub fn toast(&self, message: &str) {
        let toast = adw::Toast::new(message);
        toast.set_timeout(4);
        self.imp().toast_overlay.add_toast(toast);
    }

    fn setup_actions(&self) {
        let simple = |name: &str, f: fn(&Self)| {
            gio::ActionEntry::builder(name)
                .activate(move |w: &Self, _, _| f(w))
                .build()
        };
        // `win.<name>("<id>")`: a camera's or an installation's id.
        let with_id = |name: &str, f: fn(&Self, &str)| {
            gio::ActionEntry::builder(name)
                .parameter_type(Some(glib::VariantTy::STRING))
                .activate(move |w: &Self, _, p| {
                    if let Some(id) = p.and_then(|p| p.get::<String>()) {
                        f(w, &id);
                    }
                })
                .build()
        };
        let entries = [
            simple("show-connect", Self::show_connect),
            simple("start-demo", Self::start_demo),
            simple("back", Self::go_back),
            simple("sign-in", |w| w.sign_in(false)),
            simple("register", |w| w.sign_in(true)),
            simple("sign-out", Self::sign_out),
            simple("refresh", Self::refresh_cameras),
            simple("add-camera", Self::add_camera_dialog),
            with_id("open-camera", Self::open_camera_by_id),
            with_id("rename-camera", Self::rename_camera_dialog),
            with_id("remove-camera", Self::remove_camera_dialog),
            simple("recover", Self::recover_dialog),
            simple("installations", Self::installations_dialog),
            simple("check-installations", Self::check_installations),
            with_id("remove-installation", Self::remove_installation_dialog),
            with_id("gallery", Self::show_gallery),
        ];
        self.add_action_entries(entries);
        self.setup_live_actions();
    }

    /// Which page to start on: the saved session's camera list, or the first-run page.
    fn restore_session(&self) {
        let Some(app) = self.app() else { return };
        if let Some(session) = app.session() {
            self.show_cameras_of(&app, session);
            return;
        }
        // The keyring is asked on the runtime, never on the main loop.
        let handle = spawn_tokio!(super::session::load());
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            #[weak]
            app,
            async move {
                match handle.await.ok().flatten() {
                    Some(session) => window.show_cameras_of(&app, session),
                    // Unless the person already went on to the connect page meanwhile
                    // (the keyring may take seconds to answer).
                    None if window.imp().stack.visible_child_name().as_deref()
                        != Some("connect") =>
                    {
                        window.imp().stack.set_visible_child_name("welcome");
                    }
                    None => {}
                }
            }
        ));
    }

    fn show_cameras_of(&self, app: &EyrieApplication, session: Session) {
        app.set_session(Some(session));
        self.show_cameras();
    }

    fn show_connect(&self) {
        let imp = self.imp();
        if imp.server_row.text().is_empty() {
            let saved = self
                .app()
                .and_then(|a| a.settings())
                .map(|s| s.string("cloud-url").to_string())
                .filter(|s| !s.is_empty());
            imp.server_row
                .set_text(saved.as_deref().unwrap_or("http://127.0.0.1:8470"));
        }
        imp.connect_error.set_visible(false);
        imp.stack.set_visible_child_name("connect");
        imp.email_row.grab_focus();
    }

    /// Start the embedded demo (cloud + camera in this process) and sign in to it.
    fn start_demo(&self) {
        let button = self.imp().welcome_demo_button.clone();
        button.set_sensitive(false);
        button.set_label(&gettext("Starting the Demo…"));
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let result = crate::demo::start().await;
                button.set_sensitive(true);
                button.set_label(&gettext("_Try the Demo"));
                match result {
                    Ok(session) => {
                        if let Some(app) = window.app() {
                            app.set_demo(true);
                            app.set_session(Some(session.clone()));
                        }
                        window.imp().pending_open.replace(crate::demo::camera_id());
                        window.show_cameras();
                    }
                    Err(e) => {
                        tracing::warn!("demo failed to start: {e:#}");
                        window.toast(&gettext("The demo could not start"));
                    }
                }
            }
        ));
    }

    fn go_back(&self) {
        let imp = self.imp();
        match imp.stack.visible_child_name().as_deref() {
            Some("connect") => imp.stack.set_visible_child_name("welcome"),
            Some("live") => self.close_live(),
            _ => {}
        }
    }

    fn sign_out(&self) {
        self.close_live();
        let _forget = spawn_tokio!(super::session::clear());
        // The installation's key stays stored for the next sign-in; this session's is gone.
        super::keys::clear_current();
        self.imp().settled_for.replace(None);
        self.imp().asked_installations.borrow_mut().clear();
        self.imp().keys_banner.set_reveal_child(false);
        super::live::tickets::clear();
        if let Some(app) = self.app() {
            app.set_session(None);
        }
        self.imp().devices.borrow_mut().clear();
        self.forget_thumbnails();
        self.imp().stack.set_visible_child_name("welcome");
    }

    /// Open a camera's live view, from a card, a notification or the command line.
    pub fn open_camera_by_id(&self, id: &str) {
        let device = self.imp().devices.borrow().get(id).cloned();
        match device {
            Some(device) => self.open_live(&device),
            None => {
                self.imp().pending_open.replace(Some(id.to_owned()));
                self.refresh_cameras();
            }
        }
    }

    fn open_live(&self, device: &eyrie_protocol::api::Device) {
        let Some(session) = self.app().and_then(|a| a.session()) else {
            return;
        };
        self.close_live();
        let live = EyrieLiveView::new(session, device.clone());
        let imp = self.imp();
        imp.stack.add_named(&live, Some("live"));
        imp.stack.set_visible_child(&live);
        imp.live.replace(Some(live.clone()));
        if let Some(settings) = self.app().and_then(|a| a.settings()) {
            let _ = settings.set_string("last-camera", &device.id.to_string());
        }
        live.start();
    }

    fn close_live(&self) {
        let imp = self.imp();
        if let Some(live) = imp.live.take() {
            live.stop();
            if self.is_fullscreen() && !self.app().is_some_and(|a| a.is_kiosk()) {
                self.unfullscreen();
            }
            imp.stack.set_visible_child_name("cameras");
            imp.stack.remove(&live);
            // A snapshot kept in the live view is the card's picture now.
            self.refresh_thumbnails();
        }
    }
}
