//! `EyrieCameraModeWindow`: "Use this computer as a camera".
//!
//! Pick the webcam (found with a `gst::DeviceMonitor`; the test pattern when there is
//! none) and see the local preview; the window then runs the camera of `eyrie_camera` in
//! this process ([`engine`]): it shows the pairing code until somebody adds the camera in
//! the app, and from then on the owner's switches (privacy, audio recording, record an
//! event now), Home Assistant discovery ([`homeassistant`]) and what the camera is doing — the store mode the cloud set, how many
//! people are watching, and the upload state (uploading, queued, spool use, dropped).
//!
//! ```text
//!  DeviceMonitor (started; device-added/removed on its bus) ─► webcam / microphone rows
//!  preview (device, then the camera's sub ring) ─► gtk4paintablesink ─► GtkPicture
//!  engine (tokio) ──ModeEvent──► async-channel ──► this window (main loop)
//! ```

mod devices;
mod engine;
mod homeassistant;
mod preview;
mod status;
mod ui;

use std::cell::{Cell, OnceCell, RefCell};

use adw::prelude::*;
use adw::subclass::prelude::*;
use gstreamer as gst;
use gtk::{gdk, glib};

use super::application::EyrieApplication;
use super::test_hooks;
use crate::i18n::gettext;
use engine::{Command, ModeEvent};

/// The widgets the window updates.
#[derive(Default)]
pub struct Widgets {
    pub picture: OnceCell<gtk::Picture>,
    pub video_row: OnceCell<adw::ComboRow>,
    pub audio_row: OnceCell<adw::ComboRow>,
    pub pairing_group: OnceCell<adw::PreferencesGroup>,
    pub code_label: OnceCell<gtk::Label>,
    pub state_row: OnceCell<adw::ActionRow>,
    pub privacy: OnceCell<gtk::Switch>,
    pub record_audio: OnceCell<gtk::Switch>,
    pub record_now: OnceCell<gtk::Button>,
    pub status: status::StatusRows,
    pub homeassistant: homeassistant::HomeAssistantRows,
}

mod imp {
    use super::*;

    #[derive(Default)]
    pub struct EyrieCameraModeWindow {
        pub ui: Widgets,
        pub video_devices: RefCell<Vec<gst::Device>>,
        pub audio_devices: RefCell<Vec<gst::Device>>,
        /// The running device monitor (hot-plug) and its bus watch.
        pub monitor: RefCell<Option<devices::DeviceWatch>>,
        /// The camera the person chose, as a `--source` value: selected again when it
        /// comes back after vanishing.
        pub chosen: RefCell<Option<String>>,
        pub preview: RefCell<Option<preview::Preview>>,
        pub engine: RefCell<Option<engine::ModeHandle>>,
        /// Bumped on every engine (re)start so that events of an old one are ignored.
        pub generation: Cell<u64>,
        /// Switch changes made by the window itself (from a status), not by the person.
        pub updating: Cell<bool>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieCameraModeWindow {
        const NAME: &'static str = "EyrieCameraModeWindow";
        type Type = super::EyrieCameraModeWindow;
        type ParentType = adw::ApplicationWindow;
    }

    impl ObjectImpl for EyrieCameraModeWindow {
        fn dispose(&self) {
            self.obj().stop_all();
        }
    }
    impl WidgetImpl for EyrieCameraModeWindow {}
    impl WindowImpl for EyrieCameraModeWindow {
        fn close_request(&self) -> glib::Propagation {
            self.obj().stop_all();
            self.parent_close_request()
        }
    }
    impl ApplicationWindowImpl for EyrieCameraModeWindow {}
    impl AdwApplicationWindowImpl for EyrieCameraModeWindow {}
}

glib::wrapper! {
    pub struct EyrieCameraModeWindow(ObjectSubclass<imp::EyrieCameraModeWindow>)
        @extends adw::ApplicationWindow, gtk::ApplicationWindow, gtk::Window, gtk::Widget,
        @implements gtk::gio::ActionGroup, gtk::gio::ActionMap, gtk::Accessible, gtk::Buildable,
            gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

impl EyrieCameraModeWindow {
    pub fn new(app: &EyrieApplication) -> Self {
        let window: Self = glib::Object::builder()
            .property("application", app)
            .property("title", gettext("Camera Mode"))
            .property("default-width", 900)
            .property("default-height", 720)
            .property("width-request", 360)
            .property("height-request", 400)
            .build();
        let column = window.build_ui();
        window.build_controls(&column);
        window.build_homeassistant(&column);
        window.watch_devices();
        window.start_engine();
        window
    }

    fn ui(&self) -> &Widgets {
        &self.imp().ui
    }

    /// The application's settings (none when the schema is not installed).
    fn app_settings(&self) -> Option<gtk::gio::Settings> {
        self.application()
            .and_downcast::<EyrieApplication>()
            .as_ref()
            .and_then(EyrieApplication::settings)
    }

    /// The cloud this camera joins: the signed-in one, else the last one used.
    fn cloud(&self) -> String {
        let app = self.application().and_downcast::<EyrieApplication>();
        app.as_ref()
            .and_then(EyrieApplication::session)
            .map(|s| s.server)
            .or_else(|| {
                app.as_ref()
                    .and_then(EyrieApplication::settings)
                    .map(|s| s.string("cloud-url").to_string())
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "http://127.0.0.1:8470".into())
    }

    /// (Re)start the camera with the selected webcam: pairing first if it never paired.
    fn start_engine(&self) {
        let imp = self.imp();
        if let Some(old) = imp.engine.take() {
            old.stop();
        }
        self.remember_choice();
        self.show_device_preview();
        let generation = imp.generation.get() + 1;
        imp.generation.set(generation);
        let config = engine::ModeConfig {
            cloud: self.cloud(),
            state_dir: eyrie_camera::setup::default_state_dir(),
            source: self.selected_source(),
            homeassistant: self.homeassistant_at_start(),
        };
        self.set_state(&gettext("Connecting to the cloud…"));
        let (tx, rx) = async_channel::unbounded();
        imp.engine.replace(Some(engine::start(config, tx)));
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                while let Ok(event) = rx.recv().await {
                    if window.imp().generation.get() != generation {
                        break;
                    }
                    window.on_event(event);
                }
            }
        ));
    }

    fn on_event(&self, event: ModeEvent) {
        let ui = self.ui();
        match event {
            ModeEvent::Pairing(code) => {
                if let Some(label) = ui.code_label.get() {
                    label.set_label(&code);
                }
                if let Some(group) = ui.pairing_group.get() {
                    group.set_visible(true);
                }
                self.set_state(&gettext("Waiting to be added in the Eyrie app"));
                test_hooks::report("camera-mode", &serde_json::json!({ "pairing_code": code }));
            }
            ModeEvent::Paired { device_id } => {
                if let Some(group) = ui.pairing_group.get() {
                    group.set_visible(false);
                }
                self.set_state(&gettext("Starting the camera…"));
                test_hooks::report("camera-mode", &serde_json::json!({ "paired": device_id }));
            }
            ModeEvent::Running(rings) => {
                self.set_state(&gettext("Running"));
                self.show_ring_preview(&rings);
                if let Some(b) = ui.record_now.get() {
                    b.set_sensitive(true);
                }
                test_hooks::report("camera-mode", &serde_json::json!({ "running": true }));
            }
            ModeEvent::Status(status) => self.show_status(&status),
            ModeEvent::HomeAssistant(state) => self.show_homeassistant(state.as_ref()),
            ModeEvent::Refused(message) => self.toast(&message),
            ModeEvent::Failed(message) => {
                self.set_state(&gettext("Stopped"));
                self.toast(&crate::i18n::gettext_f(
                    "The camera stopped: {reason}",
                    &[("reason", &message)],
                ));
                test_hooks::report("camera-mode", &serde_json::json!({ "failed": message }));
            }
        }
    }

    fn show_status(&self, s: &eyrie_camera::node::NodeStatus) {
        let imp = self.imp();
        imp.updating.set(true);
        if let Some(sw) = self.ui().privacy.get() {
            sw.set_active(s.privacy);
        }
        if let Some(sw) = self.ui().record_audio.get() {
            sw.set_sensitive(s.storage.is_some());
        }
        imp.updating.set(false);
        self.ui().status.show(s);
        if test_hooks::enabled() {
            test_hooks::report("camera-mode-status", &status::json(s));
        }
    }

    fn set_state(&self, text: &str) {
        if let Some(row) = self.ui().state_row.get() {
            row.set_subtitle(text);
        }
    }

    fn toast(&self, message: &str) {
        tracing::info!("camera mode: {message}");
        if let Some(overlay) = self.content().and_downcast::<adw::ToastOverlay>() {
            overlay.add_toast(adw::Toast::new(message));
        }
    }

    fn send(&self, command: Command) {
        if let Some(engine) = self.imp().engine.borrow().as_ref() {
            engine.send(command);
        }
    }

    fn set_homeassistant(
        &self,
        settings: Option<eyrie_camera::homeassistant::HomeAssistantSettings>,
    ) {
        if let Some(engine) = self.imp().engine.borrow().as_ref() {
            engine.set_homeassistant(settings);
        }
    }

    fn show_device_preview(&self) {
        let device = self.selected_video_device();
        self.set_preview(preview::from_device(device.as_ref()));
    }

    fn show_ring_preview(&self, rings: &eyrie_camera::capture::Rings) {
        self.set_preview(preview::from_rings(rings));
    }

    fn set_preview(&self, made: anyhow::Result<(preview::Preview, gdk::Paintable)>) {
        let imp = self.imp();
        if let Some(old) = imp.preview.take() {
            old.stop();
        }
        let Some(picture) = self.ui().picture.get() else {
            return;
        };
        match made {
            Ok((preview, paintable)) => {
                self.watch_frames(&paintable);
                picture.set_paintable(Some(&paintable));
                imp.preview.replace(Some(preview));
            }
            Err(e) => {
                tracing::warn!("no camera preview: {e:#}");
                picture.set_paintable(None::<&gdk::Paintable>);
            }
        }
    }

    /// For tests: sample the preview's pixels on its first frames and now and then.
    fn watch_frames(&self, paintable: &gdk::Paintable) {
        if !test_hooks::enabled() {
            return;
        }
        let n = std::rc::Rc::new(Cell::new(0u64));
        paintable.connect_invalidate_contents(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |paintable| {
                n.set(n.get() + 1);
                let count = n.get();
                if (count <= 3 || count.is_multiple_of(30))
                    && let Some(texture) =
                        super::live::frames::render(window.upcast_ref(), paintable)
                {
                    let mut data = super::live::frames::pixel_stats(&texture);
                    data["n"] = count.into();
                    test_hooks::report("camera-mode-frame", &data);
                }
            }
        ));
    }

    fn stop_all(&self) {
        let imp = self.imp();
        imp.generation.set(imp.generation.get() + 1);
        if let Some(preview) = imp.preview.take() {
            preview.stop();
        }
        if let Some(engine) = imp.engine.take() {
            engine.stop();
        }
        imp.monitor.take();
    }
}
