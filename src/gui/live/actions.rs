//! The live view's actions (`live.*`): SD/HD, mute, talk, snapshot, fullscreen, retry.
//!
//! They live in an action group that the view inserts into its window while it is shown,
//! so the application's keyboard shortcuts reach them wherever the focus is. The window
//! exports the ones a desktop may want on D-Bus (`win.talk`, `win.snapshot`, …, see
//! `window/live.rs`) through [`EyrieLiveView::activate_live_action`].

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{gio, glib};

use super::{EyrieLiveView, frames};
use crate::gui::cloud::{self, Cloud};
use crate::gui::test_hooks;
use crate::i18n::gettext;
use crate::spawn_tokio;

/// How long the live controls stay after the pointer stops moving.
const CONTROLS_IDLE: std::time::Duration = std::time::Duration::from_secs(3);

impl EyrieLiveView {
    pub(super) fn setup_actions(&self) {
        let group = gio::SimpleActionGroup::new();
        let weak = self.downgrade();
        #[allow(clippy::type_complexity)]
        let add = |name: &str,
                   state: Option<bool>,
                   f: Box<dyn Fn(&EyrieLiveView, &gio::SimpleAction)>| {
            let action = match state {
                Some(s) => gio::SimpleAction::new_stateful(name, None, &s.to_variant()),
                None => gio::SimpleAction::new(name, None),
            };
            let weak = weak.clone();
            action.connect_activate(move |action, _| {
                if let Some(view) = weak.upgrade() {
                    if let Some(s) = action.state().and_then(|s| s.get::<bool>()) {
                        action.set_state(&(!s).to_variant());
                    }
                    f(&view, action);
                }
            });
            group.add_action(&action);
        };
        add(
            "hd",
            Some(false),
            Box::new(|view, a| view.set_hd(state_of(a))),
        );
        add(
            "mute",
            Some(false),
            Box::new(|view, a| view.set_muted(state_of(a))),
        );
        add(
            "talk",
            Some(false),
            Box::new(|view, a| view.set_talking(state_of(a))),
        );
        add(
            "snapshot",
            None,
            Box::new(|view, _| view.take_snapshot(false)),
        );
        add(
            "snapshot-to-file",
            None,
            Box::new(|view, _| view.take_snapshot(true)),
        );
        add(
            "fullscreen",
            None,
            Box::new(|view, _| view.toggle_fullscreen()),
        );
        add("retry", None, Box::new(|view, _| view.start()));
        add(
            "gallery",
            None,
            Box::new(|view, _| {
                if let Some(device) = view.device() {
                    let _ = view
                        .activate_action("win.gallery", Some(&device.id.to_string().to_variant()));
                }
            }),
        );
        add(
            "timeline",
            None,
            Box::new(|view, _| {
                if let (Some(session), Some(device)) = (view.session(), view.device()) {
                    crate::gui::timeline::open(view, &session, &device);
                }
            }),
        );
        self.imp().actions.replace(Some(group));
    }

    /// Activate `live.<name>`; for an on/off action with `want`, only when its state is
    /// not `want` already. `false` when the view has no such action.
    pub fn activate_live_action(&self, name: &str, want: Option<bool>) -> bool {
        let Some(action) = self
            .imp()
            .actions
            .borrow()
            .as_ref()
            .and_then(|g| g.lookup_action(name))
        else {
            return false;
        };
        let current = action.state().and_then(|s| s.get::<bool>());
        if want.is_none() || current != want {
            action.activate(None);
        }
        true
    }

    /// Hold-to-talk: talk while the button is pressed.
    /// Controls float over the picture like a video player's: shown on pointer movement,
    /// a tap or click, and faded out after [`CONTROLS_IDLE`] unless the pointer rests on
    /// them or the microphone is open.
    pub(super) fn setup_autohide(&self) {
        let motion = gtk::EventControllerMotion::new();
        motion.connect_motion(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |_, x, y| {
                let imp = view.imp();
                let (px, py) = imp.pointer_at.replace((x, y));
                if (px - x).abs() + (py - y).abs() >= 2.0 {
                    view.reveal_controls();
                }
            }
        ));
        self.add_controller(motion);
        let tap = gtk::GestureClick::new();
        tap.set_propagation_phase(gtk::PropagationPhase::Capture);
        tap.connect_pressed(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |_, _, _, _| view.reveal_controls()
        ));
        self.add_controller(tap);
        let keys = gtk::EventControllerKey::new();
        keys.set_propagation_phase(gtk::PropagationPhase::Capture);
        keys.connect_key_pressed(glib::clone!(
            #[weak(rename_to = view)]
            self,
            #[upgrade_or]
            glib::Propagation::Proceed,
            move |_, _, _, _| {
                view.reveal_controls();
                glib::Propagation::Proceed
            }
        ));
        self.add_controller(keys);
        let over = gtk::EventControllerMotion::new();
        over.connect_enter(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |_, _, _| view.imp().pointer_on_controls.set(true)
        ));
        over.connect_leave(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |_| {
                view.imp().pointer_on_controls.set(false);
                view.reveal_controls();
            }
        ));
        self.imp().controls.add_controller(over);
    }

    /// Show the controls and restart the idle timer.
    pub(super) fn reveal_controls(&self) {
        let imp = self.imp();
        imp.controls.remove_css_class("idle-hidden");
        imp.controls.set_can_target(true);
        if let Some(id) = imp.hide_source.take() {
            id.remove();
        }
        let id = glib::timeout_add_local_once(
            CONTROLS_IDLE,
            glib::clone!(
                #[weak(rename_to = view)]
                self,
                move || {
                    let imp = view.imp();
                    imp.hide_source.take();
                    let talking = imp.talk_button.is_active();
                    if view.is_playing() && !imp.pointer_on_controls.get() && !talking {
                        imp.controls.add_css_class("idle-hidden");
                        imp.controls.set_can_target(false);
                    } else {
                        view.reveal_controls();
                    }
                }
            ),
        );
        imp.hide_source.replace(Some(id));
    }

    pub(super) fn setup_hold_to_talk(&self) {
        let gesture = gtk::GestureClick::new();
        gesture.connect_pressed(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |_, _, _, _| view.set_talking(true)
        ));
        gesture.connect_released(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |_, _, _, _| view.set_talking(view.imp().talk_button.is_active())
        ));
        gesture.connect_cancel(glib::clone!(
            #[weak(rename_to = view)]
            self,
            move |_, _| view.set_talking(view.imp().talk_button.is_active())
        ));
        self.imp().hold_talk_button.add_controller(gesture);
    }

    fn set_hd(&self, hd: bool) {
        let quality = if hd {
            super::engine::Quality::Hd
        } else {
            super::engine::Quality::Sd
        };
        if self.stream().quality() != quality {
            // Switches at the camera's next keyframe, without renegotiation.
            self.stream().set_quality(quality);
            test_hooks::report("quality", &serde_json::json!({ "hd": hd }));
        }
    }

    fn set_muted(&self, muted: bool) {
        let imp = self.imp();
        imp.mute_button.set_icon_name(if muted {
            "audio-volume-muted-symbolic"
        } else {
            "audio-volume-high-symbolic"
        });
        imp.mute_button.set_tooltip_text(Some(&if muted {
            gettext("Unmute")
        } else {
            gettext("Mute")
        }));
        self.stream().set_muted(muted);
    }

    pub(super) fn set_talking(&self, talking: bool) {
        let imp = self.imp();
        imp.mic_level.set_visible(talking);
        if !talking {
            imp.mic_level.set_value(0.0);
        }
        self.stream().set_talking(talking);
        test_hooks::report("talk", &serde_json::json!({ "talking": talking }));
    }

    fn toggle_fullscreen(&self) {
        let Some(window) = self.root().and_downcast::<gtk::Window>() else {
            return;
        };
        let full = !window.is_fullscreen();
        window.set_fullscreened(full);
        self.imp().header_revealer.set_reveal_child(!full);
    }

    /// Grab the frame on screen; keep it in the cloud, and in a file if asked.
    pub(super) fn take_snapshot(&self, to_file: bool) {
        let Some(texture) = frames::current_frame(self) else {
            self.toast(&gettext("No picture to take yet"));
            return;
        };
        let png = texture.save_to_png_bytes().to_vec();
        if to_file {
            self.save_png_to_file(png.clone());
        }
        let (Some(session), Some(device)) = (self.session(), self.device()) else {
            return;
        };
        let Some(channel) = cloud::main_channel(&device) else {
            return;
        };
        let cloud = Cloud::new(&session.server, Some(&session.token));
        let handle = spawn_tokio!(async move { cloud.upload_snapshot(channel, png).await });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = view)]
            self,
            async move {
                match handle.await {
                    Ok(Ok(snapshot)) => {
                        view.toast(&gettext("Snapshot saved"));
                        test_hooks::report("snapshot", &serde_json::json!({ "id": snapshot.id }));
                    }
                    Ok(Err(e)) => view.toast(&e.user_message()),
                    Err(e) => view.toast(&e.to_string()),
                }
            }
        ));
    }

    fn save_png_to_file(&self, png: Vec<u8>) {
        let window = self.root().and_downcast::<gtk::Window>();
        let name = format!(
            "{}-{}.png",
            self.device().map(|d| d.name).unwrap_or_default(),
            glib::DateTime::now_local()
                .and_then(|d| d.format("%Y%m%d-%H%M%S"))
                .map(|s| s.to_string())
                .unwrap_or_default()
        );
        crate::gui::gallery::save_png_with_chooser(
            window.as_ref(),
            &name,
            png,
            glib::clone!(
                #[weak(rename_to = view)]
                self,
                move |message| view.toast(&message)
            ),
        );
    }

    pub(super) fn toast(&self, message: &str) {
        if let Some(window) = self
            .root()
            .and_downcast::<crate::gui::window::EyrieWindow>()
        {
            window.toast(message);
        }
    }
}

fn state_of(action: &gio::SimpleAction) -> bool {
    action
        .state()
        .and_then(|s| s.get::<bool>())
        .unwrap_or(false)
}
