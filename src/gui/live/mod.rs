//! `EyrieLiveView`: one camera, live.
//!
//! The view renders an [`EyrieLiveStream`] and nothing else decides what it shows: the
//! stream owns the viewer engine ([`engine`]), the video sink, the retries and the state;
//! the view binds its widgets to the stream's properties — the connection stage under a
//! spinner while connecting, the picture when frames flow, a status page that explains a
//! failure in plain words with a retry — and keeps the controls (SD/HD, sound, talk,
//! snapshots, fullscreen) that a person uses on a playing stream.
//!
//! ```text
//!  EyrieLiveStream ── spinning, stage-text ──► stage_box (spinner + label)
//!        │         ── subtitle ──────────────► AdwWindowTitle
//!        │         ── error-* , state ───────► error_page (AdwStatusPage, "Try Again")
//!        │         ── state ─────────────────► controls
//!        └──────── ── paintable ─────────────► GtkPicture
//! ```

mod actions;
mod audio;
pub mod engine;
pub(crate) mod frames;
pub mod stream;
pub mod tickets;

use std::cell::{Cell, OnceCell, RefCell};

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_protocol::api::Device;
use gtk::glib;

use super::session::Session;
use super::test_hooks;
use crate::i18n::gettext_f;
use engine::{Quality, Stage};
use stream::{EyrieLiveStream, Policy, StreamState};

mod imp {
    use super::*;

    #[derive(Default, gtk::CompositeTemplate)]
    #[template(resource = "/io/github/eyrie/Eyrie/live/live_view.ui")]
    pub struct EyrieLiveView {
        #[template_child]
        pub header_revealer: TemplateChild<gtk::Revealer>,
        #[template_child]
        pub title: TemplateChild<adw::WindowTitle>,
        #[template_child]
        pub picture: TemplateChild<gtk::Picture>,
        #[template_child]
        pub stage_box: TemplateChild<gtk::Box>,
        #[template_child]
        pub stage_spinner: TemplateChild<gtk::Spinner>,
        #[template_child]
        pub stage_label: TemplateChild<gtk::Label>,
        #[template_child]
        pub error_page: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub retry_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub controls: TemplateChild<gtk::Box>,
        #[template_child]
        pub hd_button: TemplateChild<gtk::ToggleButton>,
        #[template_child]
        pub mute_button: TemplateChild<gtk::ToggleButton>,
        #[template_child]
        pub hold_talk_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub talk_button: TemplateChild<gtk::ToggleButton>,
        #[template_child]
        pub mic_level: TemplateChild<gtk::LevelBar>,
        pub stream: OnceCell<EyrieLiveStream>,
        pub actions: RefCell<Option<gtk::gio::SimpleActionGroup>>,
        /// Hides the controls after a few seconds without pointer movement.
        pub hide_source: RefCell<Option<glib::SourceId>>,
        pub pointer_on_controls: Cell<bool>,
        /// Last pointer position seen, to tell real movement from synthetic motion.
        pub pointer_at: Cell<(f64, f64)>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for EyrieLiveView {
        const NAME: &'static str = "EyrieLiveView";
        type Type = super::EyrieLiveView;
        type ParentType = gtk::Widget;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
            klass.set_css_name("eyrie-live-view");
            klass.set_accessible_role(gtk::AccessibleRole::Group);
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for EyrieLiveView {
        fn constructed(&self) {
            self.parent_constructed();
            let obj = self.obj();
            obj.setup_actions();
            obj.setup_hold_to_talk();
            obj.setup_autohide();
            crate::gui::a11y::fix_tree(obj.upcast_ref());
        }

        fn dispose(&self) {
            self.obj().stop();
            self.dispose_template();
        }
    }

    impl WidgetImpl for EyrieLiveView {
        fn root(&self) {
            self.parent_root();
            let obj = self.obj();
            if let (Some(window), Some(group)) = (
                obj.root().and_downcast::<gtk::Window>(),
                self.actions.borrow().as_ref(),
            ) {
                window.insert_action_group("live", Some(group));
            }
        }

        fn unroot(&self) {
            if let Some(window) = self.obj().root().and_downcast::<gtk::Window>() {
                window.insert_action_group("live", None::<&gtk::gio::ActionGroup>);
            }
            self.parent_unroot();
        }
    }
}

glib::wrapper! {
    pub struct EyrieLiveView(ObjectSubclass<imp::EyrieLiveView>)
        @extends gtk::Widget,
        @implements gtk::Accessible, gtk::Buildable, gtk::ConstraintTarget;
}

impl EyrieLiveView {
    pub fn new(session: Session, device: Device) -> Self {
        let view: Self = glib::Object::new();
        let imp = view.imp();
        imp.title.set_title(&device.name);
        let label = gettext_f("Live video of {name}", &[("name", &device.name)]);
        imp.picture.set_alternative_text(Some(&label));
        // Its name; the description says the stream's state (`announce`).
        imp.picture
            .update_property(&[gtk::accessible::Property::Label(&label)]);
        let stream = EyrieLiveStream::new(session, device, Quality::Sd, Policy::live_view());
        view.show_stream(&stream);
        let _ = imp.stream.set(stream);
        // This computer's defaults (Preferences → Live View), read as each view starts.
        crate::gui::preferences::apply_live_defaults(&view);
        view
    }

    /// The stream this view shows.
    pub fn stream(&self) -> &EyrieLiveStream {
        self.imp()
            .stream
            .get()
            .expect("a live view is made with its stream")
    }

    pub fn device(&self) -> Option<Device> {
        self.stream().device()
    }

    pub(super) fn session(&self) -> Option<Session> {
        self.stream().session()
    }

    /// A picture is on screen.
    pub(super) fn is_playing(&self) -> bool {
        self.stream().state().has_picture()
    }

    /// Connect (again). Safe to call at any time; a running attempt is stopped first.
    pub fn start(&self) {
        self.stream().start();
    }

    /// Stop everything: the session, any pending retry, talk.
    pub fn stop(&self) {
        if let Some(stream) = self.imp().stream.get() {
            stream.stop();
        }
    }

    /// Bind the widgets to `stream`'s properties.
    fn show_stream(&self, stream: &EyrieLiveStream) {
        let imp = self.imp();
        // Properties the widgets show as they are.
        let page: &glib::Object = imp.error_page.upcast_ref();
        let copies: [(&str, &glib::Object, &str); 8] = [
            ("spinning", imp.stage_box.upcast_ref(), "visible"),
            ("spinning", imp.stage_spinner.upcast_ref(), "spinning"),
            ("stage-text", imp.stage_label.upcast_ref(), "label"),
            ("subtitle", imp.title.upcast_ref(), "subtitle"),
            ("error-title", page, "title"),
            ("error-description", page, "description"),
            ("error-icon-name", page, "icon-name"),
            ("paintable", imp.picture.upcast_ref(), "paintable"),
        ];
        for (source, target, property) in copies {
            stream
                .bind_property(source, target, property)
                .sync_create()
                .build();
        }
        // Screen readers hear each state change ("Live", "Camera Offline", …).
        self.announce(&stream.subtitle());
        stream.connect_subtitle_notify(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |stream| view.announce(&stream.subtitle())
        ));
        stream
            .bind_property("state", &*imp.error_page, "visible")
            .transform_to(|_, state: StreamState| Some(state.is_failed()))
            .sync_create()
            .build();
        stream
            .bind_property("state", &*imp.controls, "visible")
            .transform_to(|_, state: StreamState| Some(state.has_picture()))
            .sync_create()
            .build();
        stream.connect_paintable_notify(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |stream| {
                if let Some(paintable) = stream.paintable() {
                    frames::report_frames(&view, &paintable);
                }
            }
        ));
        stream.connect_mic_level_notify(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |stream| {
                let level = stream.mic_level();
                view.imp().mic_level.set_value(level);
                test_hooks::report("mic-level", &serde_json::json!({ "level": level }));
            }
        ));
        stream.connect_state_notify(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |stream| view.on_state(stream)
        ));
        stream.connect_closure(
            "stage-reached",
            false,
            glib::closure_local!(move |_: EyrieLiveStream, stage: Stage, shown: bool| {
                test_hooks::report(
                    "stage",
                    &serde_json::json!({
                        "stage": format!("{stage:?}"),
                        "text": stage.text(),
                        "shown": shown,
                    }),
                );
            }),
        );
    }

    /// Put the stream's state where assistive technologies present it: GTK 4.8 has no
    /// `announce()`, so it is the accessible description of the live picture and of the
    /// view, whose change AT-SPI signals (`accessible-description`) and Orca reads out.
    fn announce(&self, state: &str) {
        use gtk::accessible::Property;
        self.imp()
            .picture
            .update_property(&[Property::Description(state)]);
        self.update_property(&[Property::Description(state)]);
    }

    /// What a state change means beyond the bound properties: the controls, talk, and
    /// the reports.
    fn on_state(&self, stream: &EyrieLiveStream) {
        let imp = self.imp();
        let state = stream.state();
        if !state.has_picture() {
            imp.talk_button.set_active(false);
            imp.mic_level.set_visible(false);
        }
        match state {
            StreamState::Playing => {
                self.reveal_controls();
                let ms = stream
                    .started_at()
                    .map(|t| t.elapsed().as_secs_f64() * 1000.0);
                test_hooks::report("playing", &serde_json::json!({ "since_start_ms": ms }));
            }
            StreamState::Retrying | StreamState::Failed => {
                if let Some(failure) = stream.failure() {
                    let (title, description, _) = failure.explain();
                    test_hooks::report(
                        "failed",
                        &serde_json::json!({
                            "failure": format!("{failure:?}"),
                            "title": title,
                            "description": description,
                        }),
                    );
                }
            }
            _ => {}
        }
    }
}
