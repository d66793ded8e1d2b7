//! The main window's D-Bus face of the live view and the timeline.
//!
//! The live view's own actions (`live.*`) live in a group on the view, which GTK does not
//! export; the window exports the ones a desktop, a remote or a test wants — talk, take a
//! snapshot, HD, mute, open the timeline — as `win.*` and hands them to the open view. With
//! no camera open they say so in a toast and change nothing (see `docs/desktop-actions.md`).

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::{gio, glib};

use super::EyrieWindow;
use crate::i18n::gettext;

impl EyrieWindow {
    pub(super) fn setup_live_actions(&self) {
        let on_off = |name: &'static str| {
            gio::ActionEntry::builder(name)
                .parameter_type(Some(glib::VariantTy::BOOLEAN))
                .activate(move |w: &Self, _, p| {
                    if let Some(on) = p.and_then(|p| p.get::<bool>()) {
                        w.forward_to_live(name, Some(on));
                    }
                })
                .build()
        };
        let once = |name: &'static str| {
            gio::ActionEntry::builder(name)
                .activate(move |w: &Self, _, _| w.forward_to_live(name, None))
                .build()
        };
        self.add_action_entries([
            on_off("talk"),
            on_off("hd"),
            on_off("mute"),
            once("snapshot"),
            once("timeline"),
        ]);
    }

    fn forward_to_live(&self, name: &str, want: Option<bool>) {
        let live = self.imp().live.borrow().clone();
        if !live.is_some_and(|l| l.activate_live_action(name, want)) {
            self.toast(&gettext("Open a camera first"));
        }
    }

    /// Open the timeline of camera `id`, playing from `at` (Unix ms) when given; once the
    /// camera list has it if it has not arrived yet.
    pub fn open_timeline_by_id(&self, id: &str, at: Option<i64>) {
        let device = self.imp().devices.borrow().get(id).cloned();
        let session = self.app().and_then(|a| a.session());
        match (device, session) {
            (Some(device), Some(session)) => {
                crate::gui::timeline::open_at(self, &session, &device, at);
            }
            (None, Some(_)) => {
                self.imp()
                    .pending_timeline
                    .replace(Some((id.to_owned(), at)));
                self.refresh_cameras();
            }
            (_, None) => self.toast(&gettext("Sign in first")),
        }
    }

    /// What the camera list asked to open before it arrived.
    pub(super) fn open_pending(&self) {
        let imp = self.imp();
        if let Some(id) = imp.pending_open.take() {
            if imp.devices.borrow().contains_key(&id) {
                self.open_camera_by_id(&id);
            } else {
                self.toast(&gettext("No such camera"));
            }
        }
        if let Some((id, at)) = imp.pending_timeline.take() {
            if imp.devices.borrow().contains_key(&id) {
                self.open_timeline_by_id(&id, at);
            } else {
                self.toast(&gettext("No such camera"));
            }
        }
    }
}
