//! `EyrieCameraModeWindow`: "Use this computer as a camera".
//!
//! Pick the webcam and microphone (found with a `gst::DeviceMonitor`), see the local
//! preview, and run the camera engine of `eyrie_camera` in this process.
//!
//! ```text
//!  v4l2src / pipewiresrc / videotestsrc ! videoconvert ! gtk4paintablesink ──► GtkPicture
//! ```

use adw::prelude::*;
use adw::subclass::prelude::*;
use gstreamer as gst;
use gstreamer::prelude::{DeviceExt, DeviceMonitorExtManual, GstBinExtManual};
use gtk::{gdk, glib};

use super::application::EyrieApplication;
use crate::i18n::gettext;

mod imp {
    use std::cell::{OnceCell, RefCell};

    use super::*;

    #[derive(Default)]
    pub struct EyrieCameraModeWindow {
        pub picture: OnceCell<gtk::Picture>,
        pub video_row: OnceCell<adw::ComboRow>,
        pub audio_row: OnceCell<adw::ComboRow>,
        pub video_devices: RefCell<Vec<gst::Device>>,
        pub audio_devices: RefCell<Vec<gst::Device>>,
        pub preview: RefCell<Option<gst::Pipeline>>,
        pub status: OnceCell<adw::ActionRow>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieCameraModeWindow {
        const NAME: &'static str = "EyrieCameraModeWindow";
        type Type = super::EyrieCameraModeWindow;
        type ParentType = adw::ApplicationWindow;
    }

    impl ObjectImpl for EyrieCameraModeWindow {
        fn dispose(&self) {
            self.obj().stop_preview();
        }
    }
    impl WidgetImpl for EyrieCameraModeWindow {}
    impl WindowImpl for EyrieCameraModeWindow {
        fn close_request(&self) -> glib::Propagation {
            self.obj().stop_preview();
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
            .property("default-height", 640)
            .property("width-request", 360)
            .property("height-request", 400)
            .build();
        window.build_ui();
        window.find_devices();
        window.restart_preview();
        window
    }

    fn build_ui(&self) {
        let imp = self.imp();
        let header = adw::HeaderBar::new();
        header.set_title_widget(Some(&adw::WindowTitle::new(
            &gettext("Camera Mode"),
            &gettext("This computer is a camera"),
        )));

        let picture = gtk::Picture::builder()
            .content_fit(gtk::ContentFit::Contain)
            .height_request(240)
            .hexpand(true)
            .build();
        picture.add_css_class("live-picture");
        picture.set_alternative_text(Some(&gettext("Preview of this computer’s camera")));
        let frame = gtk::Frame::builder().child(&picture).build();
        frame.add_css_class("view");

        let devices = adw::PreferencesGroup::builder()
            .title(gettext("Devices"))
            .build();
        let video_row = adw::ComboRow::builder().title(gettext("Webcam")).build();
        let audio_row = adw::ComboRow::builder()
            .title(gettext("Microphone"))
            .build();
        devices.add(&video_row);
        devices.add(&audio_row);
        video_row.connect_selected_notify(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |_| window.restart_preview()
        ));

        let status_group = adw::PreferencesGroup::builder()
            .title(gettext("Status"))
            .build();
        let status = adw::ActionRow::builder()
            .title(gettext("Camera"))
            .subtitle(gettext("Preview only"))
            .build();
        status_group.add(&status);

        let column = gtk::Box::new(gtk::Orientation::Vertical, 18);
        column.set_margin_top(18);
        column.set_margin_bottom(18);
        column.set_margin_start(12);
        column.set_margin_end(12);
        column.append(&frame);
        column.append(&devices);
        column.append(&status_group);
        let clamp = adw::Clamp::builder()
            .maximum_size(720)
            .child(&column)
            .build();
        let scrolled = gtk::ScrolledWindow::builder()
            .hscrollbar_policy(gtk::PolicyType::Never)
            .vexpand(true)
            .child(&clamp)
            .build();
        let content = gtk::Box::new(gtk::Orientation::Vertical, 0);
        content.append(&header);
        content.append(&scrolled);
        self.set_content(Some(&content));
        let _ = imp.picture.set(picture);
        let _ = imp.video_row.set(video_row);
        let _ = imp.audio_row.set(audio_row);
        let _ = imp.status.set(status);
    }

    /// List webcams and microphones; the first video entry is the test pattern.
    fn find_devices(&self) {
        let imp = self.imp();
        let monitor = gst::DeviceMonitor::new();
        monitor.add_filter(Some("Video/Source"), None);
        monitor.add_filter(Some("Audio/Source"), None);
        let found = monitor.devices();
        let (video, audio): (Vec<_>, Vec<_>) = found
            .into_iter()
            .partition(|d| d.device_class().contains("Video"));
        let mut video_names = vec![gettext("Test Pattern")];
        video_names.extend(video.iter().map(|d| d.display_name().to_string()));
        let mut audio_names = vec![gettext("Default Microphone")];
        audio_names.extend(audio.iter().map(|d| d.display_name().to_string()));
        let vrefs: Vec<&str> = video_names.iter().map(String::as_str).collect();
        let arefs: Vec<&str> = audio_names.iter().map(String::as_str).collect();
        imp.video_devices.replace(video);
        imp.audio_devices.replace(audio);
        if let Some(row) = imp.video_row.get() {
            row.set_model(Some(&gtk::StringList::new(&vrefs)));
            // Prefer a real webcam when there is one.
            row.set_selected(if vrefs.len() > 1 { 1 } else { 0 });
        }
        if let Some(row) = imp.audio_row.get() {
            row.set_model(Some(&gtk::StringList::new(&arefs)));
        }
    }

    /// The selected webcam, or `None` for the test pattern.
    pub fn selected_video_device(&self) -> Option<gst::Device> {
        let imp = self.imp();
        let selected = imp.video_row.get()?.selected() as usize;
        selected
            .checked_sub(1)
            .and_then(|i| imp.video_devices.borrow().get(i).cloned())
    }

    fn restart_preview(&self) {
        self.stop_preview();
        let imp = self.imp();
        let Some(picture) = imp.picture.get() else {
            return;
        };
        match self.build_preview() {
            Ok((pipeline, paintable)) => {
                picture.set_paintable(Some(&paintable));
                if let Err(e) = gst::prelude::ElementExt::set_state(&pipeline, gst::State::Playing)
                {
                    tracing::warn!("camera preview does not start: {e}");
                }
                imp.preview.replace(Some(pipeline));
            }
            Err(e) => {
                tracing::warn!("no camera preview: {e:#}");
                if let Some(status) = imp.status.get() {
                    status.set_subtitle(&gettext("The preview cannot start on this computer"));
                }
            }
        }
    }

    fn build_preview(&self) -> anyhow::Result<(gst::Pipeline, gdk::Paintable)> {
        let pipeline = gst::Pipeline::with_name("eyrie-camera-preview");
        let src = match self.selected_video_device() {
            Some(device) => device.create_element(None)?,
            None => gst::ElementFactory::make("videotestsrc")
                .property("is-live", true)
                .build()?,
        };
        let convert = gst::ElementFactory::make("videoconvert").build()?;
        let sink = gst::ElementFactory::make("gtk4paintablesink").build()?;
        let paintable = sink.property::<gdk::Paintable>("paintable");
        pipeline.add_many([&src, &convert, &sink])?;
        gst::Element::link_many([&src, &convert, &sink])?;
        Ok((pipeline, paintable))
    }

    fn stop_preview(&self) {
        if let Some(pipeline) = self.imp().preview.take() {
            let _ = gst::prelude::ElementExt::set_state(&pipeline, gst::State::Null);
        }
    }
}
