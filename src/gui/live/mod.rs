//! `EyrieLiveView`: one camera, live.
//!
//! The widget owns a `gtk4paintablesink` whose paintable sits in a `GtkPicture`; the sink is
//! handed to the viewer engine ([`engine`]), which runs signalling on the tokio runtime and
//! media in GStreamer's threads and reports [`engine::LiveEvent`]s through an async channel.
//! The widget only shows what it hears: the connection stage while connecting, the picture
//! when frames flow, and a status page that explains a failure in plain words with a retry.
//! Failures a retry can cure (offline, network, busy) are retried by themselves with a
//! growing back-off (1 s → 30 s); a refused ticket is not.
//!
//! ```text
//!  engine (tokio + GStreamer) ──LiveEvent──► async-channel ──► EyrieLiveView (main loop)
//!        └── … ! videoconvert ! gtk4paintablesink ──paintable──► GtkPicture
//! ```

mod actions;
mod audio;
pub mod engine;
pub(crate) mod frames;
pub mod tickets;

use std::cell::{Cell, RefCell};
use std::time::Duration;

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_protocol::api::Device;
use gtk::glib;

use super::session::Session;
use crate::i18n::{gettext, gettext_f};
use engine::{Failure, LiveEvent, Stage};

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
        pub session: RefCell<Option<Session>>,
        pub device: RefCell<Option<Device>>,
        pub engine: RefCell<Option<engine::LiveHandle>>,
        pub sink: RefCell<Option<gstreamer::Element>>,
        /// Bumped on every (re)start so that events of an old attempt are ignored.
        pub generation: Cell<u64>,
        pub attempt: Cell<u32>,
        pub retry_source: RefCell<Option<glib::SourceId>>,
        pub playing: Cell<bool>,
        pub hd: Cell<bool>,
        pub actions: RefCell<Option<gtk::gio::SimpleActionGroup>>,
        pub started_at: Cell<Option<std::time::Instant>>,
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
        imp.picture.set_alternative_text(Some(&gettext_f(
            "Live video of {name}",
            &[("name", &device.name)],
        )));
        imp.session.replace(Some(session));
        imp.device.replace(Some(device));
        view
    }

    pub fn device(&self) -> Option<Device> {
        self.imp().device.borrow().clone()
    }

    pub(super) fn session(&self) -> Option<Session> {
        self.imp().session.borrow().clone()
    }

    /// Connect (again). Safe to call at any time; a running attempt is stopped first.
    pub fn start(&self) {
        let imp = self.imp();
        self.stop_engine();
        if let Some(id) = imp.retry_source.take() {
            id.remove();
        }
        let (Some(session), Some(device)) = (self.session(), self.device()) else {
            return;
        };
        let generation = imp.generation.get() + 1;
        imp.generation.set(generation);
        imp.playing.set(false);
        imp.started_at.set(Some(std::time::Instant::now()));
        self.show_stage(Stage::Ticket);

        let sink = match frames::make_sink(self) {
            Ok(sink) => sink,
            Err(e) => {
                tracing::error!("no video sink: {e:#}");
                self.show_failure(&Failure::Setup(e.to_string()));
                return;
            }
        };
        imp.sink.replace(Some(sink.clone()));
        let (tx, rx) = async_channel::unbounded();
        let quality = if imp.hd.get() {
            engine::Quality::Hd
        } else {
            engine::Quality::Sd
        };
        let handle = engine::start(&session, &device, quality, sink, tx);
        if imp.mute_button.is_active() {
            handle.set_muted(true);
        }
        imp.engine.replace(Some(handle));
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = view)]
            self,
            async move {
                while let Ok(event) = rx.recv().await {
                    if view.imp().generation.get() != generation {
                        break;
                    }
                    view.on_event(event);
                }
            }
        ));
    }

    /// Stop everything: the session, any pending retry, talk.
    pub fn stop(&self) {
        let imp = self.imp();
        imp.generation.set(imp.generation.get() + 1);
        if let Some(id) = imp.retry_source.take() {
            id.remove();
        }
        self.stop_engine();
    }

    fn stop_engine(&self) {
        let imp = self.imp();
        if let Some(engine) = imp.engine.take() {
            engine.stop();
        }
        imp.sink.take();
        imp.talk_button.set_active(false);
        imp.mic_level.set_visible(false);
    }

    fn on_event(&self, event: LiveEvent) {
        let imp = self.imp();
        match event {
            LiveEvent::Stage(stage) => self.show_stage(stage),
            LiveEvent::Playing => {
                if !imp.playing.replace(true) {
                    imp.attempt.set(0);
                    imp.stage_box.set_visible(false);
                    imp.error_page.set_visible(false);
                    imp.controls.set_visible(true);
                    self.reveal_controls();
                    imp.title.set_subtitle(&gettext("Live"));
                    let ms = imp
                        .started_at
                        .get()
                        .map(|t| t.elapsed().as_secs_f64() * 1000.0);
                    super::test_hooks::report(
                        "playing",
                        &serde_json::json!({ "since_start_ms": ms }),
                    );
                }
            }
            LiveEvent::Signalling(up) => {
                if imp.playing.get() {
                    imp.title.set_subtitle(&if up {
                        gettext("Live")
                    } else {
                        gettext("Live, reconnecting to the cloud…")
                    });
                }
            }
            LiveEvent::MicLevel(level) => {
                imp.mic_level.set_value(level.clamp(0.0, 1.0));
                super::test_hooks::report("mic-level", &serde_json::json!({ "level": level }));
            }
            LiveEvent::Failed(failure) => {
                imp.playing.set(false);
                self.stop_engine();
                self.show_failure(&failure);
                if failure.retries_by_itself() {
                    self.schedule_retry();
                }
            }
        }
    }

    /// The first frame reached the screen.
    fn frames_started(&self) {
        self.on_event(LiveEvent::Playing);
    }

    fn show_stage(&self, stage: Stage) {
        let imp = self.imp();
        let text = match stage {
            Stage::Ticket => gettext("Asking the cloud for permission"),
            Stage::EncryptedChannel => gettext("Establishing an encrypted channel"),
            Stage::VideoStream => gettext("Retrieving video stream"),
        };
        imp.error_page.set_visible(false);
        imp.controls.set_visible(false);
        imp.stage_box.set_visible(true);
        imp.stage_spinner.set_spinning(true);
        imp.stage_label.set_label(&text);
        imp.title.set_subtitle(&text);
        super::test_hooks::report(
            "stage",
            &serde_json::json!({ "stage": format!("{stage:?}"), "text": text }),
        );
    }

    fn show_failure(&self, failure: &Failure) {
        let imp = self.imp();
        let (title, description, icon) = failure.explain();
        imp.stage_box.set_visible(false);
        imp.stage_spinner.set_spinning(false);
        imp.controls.set_visible(false);
        imp.error_page.set_title(&title);
        imp.error_page.set_description(Some(&description));
        imp.error_page.set_icon_name(Some(icon));
        imp.error_page.set_visible(true);
        imp.title.set_subtitle(&title);
        super::test_hooks::report(
            "failed",
            &serde_json::json!({ "failure": format!("{failure:?}"), "title": title, "description": description }),
        );
    }

    /// Try again after 1, 2, 4 … 30 seconds.
    fn schedule_retry(&self) {
        let imp = self.imp();
        let attempt = imp.attempt.get();
        imp.attempt.set(attempt.saturating_add(1));
        let delay = Duration::from_secs((1u64 << attempt.min(5)).min(30));
        let source = glib::timeout_add_local_once(
            delay,
            glib::clone!(
                #[weak(rename_to = view)]
                self,
                move || {
                    view.imp().retry_source.take();
                    view.start();
                }
            ),
        );
        if let Some(old) = imp.retry_source.replace(Some(source)) {
            old.remove();
        }
        let secs = delay.as_secs().to_string();
        let text = gettext_f("Trying again in {seconds} s", &[("seconds", &secs)]);
        let description = imp
            .error_page
            .description()
            .map(|d| format!("{d}\n{text}"))
            .unwrap_or(text);
        imp.error_page.set_description(Some(&description));
    }
}
