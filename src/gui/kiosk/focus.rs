//! Which camera is in front: the cycling layout's timer, a click on a grid tile, and
//! camera events. A camera in front is a separate HD tile on the stack's *focus* page; the
//! grid tiles stop meanwhile and start again when it goes (after its time, or a click).
//! A camera somebody clicked stays until its time is up; an event takes over from another
//! event, never from a click.

use std::time::Duration;

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::glib;
use uuid::Uuid;

use super::layout::Layout;
use super::tile::KioskTile;
use super::{EyrieKioskWindow, Focus};
use crate::gui::live::engine::Quality;
use crate::gui::test_hooks;

impl EyrieKioskWindow {
    pub(super) fn start_cycle(&self) {
        let secs = self.setting_u32("kiosk-cycle-seconds", 10).max(3);
        let id = glib::timeout_add_local(
            Duration::from_secs(secs.into()),
            glib::clone!(
                #[weak(rename_to = w)]
                self,
                #[upgrade_or]
                glib::ControlFlow::Break,
                move || {
                    let imp = w.imp();
                    let shown = imp.shown.borrow().clone();
                    if shown.is_empty() || imp.focus_tile.borrow().is_some() {
                        return glib::ControlFlow::Continue;
                    }
                    let next = (imp.cycle_index.get() + 1) % shown.len();
                    imp.cycle_index.set(next);
                    if let Some(tile) = imp.tiles.borrow().first() {
                        tile.set_device(shown[next].clone());
                    }
                    test_hooks::report(
                        "kiosk-cycle",
                        &serde_json::json!({
                            "camera": shown[next].id.to_string(),
                            "index": next,
                        }),
                    );
                    glib::ControlFlow::Continue
                }
            ),
        );
        self.imp().cycle_timer.replace(Some(id));
    }

    pub(super) fn on_tile_click(&self, tile: &KioskTile) {
        let click = gtk::GestureClick::new();
        let id = tile.device().id;
        click.connect_released(glib::clone!(
            #[weak(rename_to = w)]
            self,
            move |_, n, _, _| {
                if n == 1 && w.layout().side() > 1 {
                    let secs = w.setting_u32("kiosk-enlarge-seconds", 30);
                    w.focus(id, secs, Focus::Click);
                }
            }
        ));
        tile.widget().add_controller(click);
    }

    pub(super) fn on_camera_event(&self, id: Uuid) {
        let imp = self.imp();
        // A camera somebody chose to look at stays; another event takes over an event.
        if let Some((tile, why)) = imp.focus_tile.borrow().as_ref()
            && (*why == Focus::Click || tile.device().id == id)
        {
            return;
        }
        let layout = self.layout();
        if layout == Layout::Single
            && imp
                .tiles
                .borrow()
                .first()
                .is_some_and(|t| t.device().id == id)
        {
            return;
        }
        let secs = self.setting_u32("kiosk-event-focus-seconds", 20);
        self.focus(id, secs, Focus::Event);
    }

    /// Show one camera in HD in front of the grid for `secs`.
    fn focus(&self, id: Uuid, secs: u32, why: Focus) {
        let imp = self.imp();
        let Some(device) = imp.shown.borrow().iter().find(|d| d.id == id).cloned() else {
            return;
        };
        let Some(session) = imp.session.borrow().clone() else {
            return;
        };
        self.unfocus_tile();
        for t in imp.tiles.borrow().iter() {
            t.stop();
        }
        let talk = self.setting_bool("kiosk-talk-allowed", false);
        let tile = KioskTile::new(session, device, Quality::Hd, talk);
        let click = gtk::GestureClick::new();
        click.connect_released(glib::clone!(
            #[weak(rename_to = w)]
            self,
            move |_, n, _, _| {
                if n == 1 {
                    w.unfocus();
                }
            }
        ));
        tile.widget().add_controller(click);
        imp.focus_box.append(tile.widget());
        tile.start();
        imp.focus_tile.replace(Some((tile, why)));
        imp.stack.set_visible_child_name("focus");
        let timer = glib::timeout_add_local_once(
            Duration::from_secs(secs.into()),
            glib::clone!(
                #[weak(rename_to = w)]
                self,
                move || {
                    w.imp().focus_timer.take();
                    w.unfocus();
                }
            ),
        );
        if let Some(old) = imp.focus_timer.replace(Some(timer)) {
            old.remove();
        }
        test_hooks::report(
            "kiosk-focus",
            &serde_json::json!({ "camera": id.to_string(), "why": format!("{why:?}"), "seconds": secs }),
        );
    }

    fn unfocus_tile(&self) -> bool {
        let imp = self.imp();
        if let Some(id) = imp.focus_timer.take() {
            id.remove();
        }
        let Some((tile, _)) = imp.focus_tile.take() else {
            return false;
        };
        tile.stop();
        imp.focus_box.remove(tile.widget());
        true
    }

    /// Back to the grid.
    pub(super) fn unfocus(&self) {
        if !self.unfocus_tile() {
            return;
        }
        let imp = self.imp();
        for t in imp.tiles.borrow().iter() {
            t.start();
        }
        imp.stack.set_visible_child_name("grid");
        test_hooks::report("kiosk-focus", &serde_json::json!({ "camera": null }));
    }
}
