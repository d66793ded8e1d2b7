//! The timeline window's actions (`win.*`), which its buttons use and which GTK exports
//! on D-Bus at the window's object path, so that a desktop, a remote or a test can drive
//! the window as a person does (`docs/desktop-actions.md`):
//!
//! ```text
//!  button / keyboard ─┐
//!  D-Bus Activate ────┴─► win.seek(x) ─► EyrieTimelineWindow::seek ─► Player
//!                         win.select((xx)) ─► EyrieRuler selection ─► win.create-clip
//!                         win.export-clip-to((ss)) ─► ClipList::export ─► MP4 file
//! ```
//!
//! A bad argument (a range the wrong way round, an unknown clip, a relative path or a
//! folder that does not exist) is refused with a toast and changes nothing.

use adw::prelude::*;
use gtk::{gio, glib};
use uuid::Uuid;

use super::EyrieTimelineWindow;
use crate::gui::test_hooks;
use crate::i18n::{gettext, gettext_f};

impl EyrieTimelineWindow {
    pub(super) fn setup_actions(&self) {
        let simple = |name: &str, f: fn(&Self)| {
            gio::ActionEntry::builder(name)
                .activate(move |w: &Self, _, _| f(w))
                .build()
        };
        let with_clip = |name: &str, f: fn(&Self, Uuid)| {
            gio::ActionEntry::builder(name)
                .parameter_type(Some(glib::VariantTy::STRING))
                .activate(move |w: &Self, _, p| {
                    if let Some(id) = w.clip_id_arg(p) {
                        f(w, id);
                    }
                })
                .build()
        };
        let seek = gio::ActionEntry::builder("seek")
            .parameter_type(Some(glib::VariantTy::INT64))
            .activate(|w: &Self, _, p| {
                if let Some(t) = p.and_then(|p| p.get::<i64>()) {
                    w.seek(t);
                }
            })
            .build();
        let select = gio::ActionEntry::builder("select")
            .parameter_type(Some(
                &glib::VariantType::new("(xx)").expect("GVariant type"),
            ))
            .activate(|w: &Self, _, p| {
                if let Some((from, to)) = p.and_then(|p| p.get::<(i64, i64)>()) {
                    w.select(from, to);
                }
            })
            .build();
        let export_to = gio::ActionEntry::builder("export-clip-to")
            .parameter_type(Some(
                &glib::VariantType::new("(ss)").expect("GVariant type"),
            ))
            .activate(|w: &Self, _, p| {
                let Some((id, path)) = p.and_then(|p| p.get::<(String, String)>()) else {
                    return;
                };
                let Some(id) = w.clip_id(&id) else { return };
                let path = std::path::PathBuf::from(path);
                if let Err(why) = export_target_ok(&path) {
                    w.toast(&why);
                    return;
                }
                if let Some(c) = w.imp_clips() {
                    c.export_to(id, path);
                }
            })
            .build();
        self.add_action_entries([
            seek,
            select,
            export_to,
            simple("zoom-in", |w| w.zoom(0.5)),
            simple("zoom-out", |w| w.zoom(2.0)),
            simple("earlier", |w| w.pan(-0.5)),
            simple("later", |w| w.pan(0.5)),
            simple("play-pause", Self::toggle_pause),
            simple("step", Self::step),
            simple("previous-event", |w| w.jump_event(false)),
            simple("next-event", |w| w.jump_event(true)),
            simple("create-clip", Self::create_clip),
            with_clip("play-clip", |w, id| {
                if let Some(clip) = w.imp_clips().and_then(|c| c.clip(id)) {
                    w.play_clip(clip);
                }
            }),
            with_clip("export-clip", |w, id| {
                if let Some(c) = w.imp_clips() {
                    c.ask_export(id);
                }
            }),
            with_clip("cancel-export", |w, id| {
                if let Some(c) = w.imp_clips() {
                    c.cancel_export(id);
                }
            }),
            with_clip("delete-clip", |w, id| {
                if let Some(c) = w.imp_clips() {
                    c.delete(id);
                }
            }),
        ]);
        self.set_clip_enabled(false);
    }

    /// "Create Clip" only with a range selected.
    pub(super) fn set_clip_enabled(&self, enabled: bool) {
        if let Some(a) = self
            .lookup_action("create-clip")
            .and_downcast::<gio::SimpleAction>()
        {
            a.set_enabled(enabled);
        }
    }

    fn zoom(&self, factor: f64) {
        let Some(ruler) = self.ruler() else { return };
        let before = ruler.view();
        ruler.zoom(factor, None);
        let after = ruler.view();
        test_hooks::report(
            "timeline-zoom",
            &serde_json::json!({ "from_ms": before.1 - before.0, "to_ms": after.1 - after.0 }),
        );
    }

    fn pan(&self, fraction: f64) {
        if let Some(ruler) = self.ruler() {
            ruler.pan(fraction);
        }
    }

    /// Select `[from, to]` (Unix ms) as a Shift-drag does; `(0, 0)` clears the selection.
    fn select(&self, from: i64, to: i64) {
        let Some(ruler) = self.ruler() else { return };
        if (from, to) == (0, 0) {
            ruler.set_selection(None);
            return;
        }
        if from <= 0 || to <= from {
            self.toast(&gettext("A range ends after it starts"));
            return;
        }
        ruler.set_selection(Some((from, to)));
        test_hooks::report(
            "timeline-selection",
            &serde_json::json!({ "start_ms": from, "end_ms": to }),
        );
    }

    fn clip_id_arg(&self, p: Option<&glib::Variant>) -> Option<Uuid> {
        self.clip_id(&p?.get::<String>()?)
    }

    /// A listed clip's id, or a toast saying there is no such clip.
    fn clip_id(&self, s: &str) -> Option<Uuid> {
        let id = Uuid::parse_str(s)
            .ok()
            .filter(|id| self.imp_clips().is_some_and(|c| c.clip(*id).is_some()));
        if id.is_none() {
            self.toast(&gettext_f("No clip {id} in the list", &[("id", s)]));
        }
        id
    }
}

/// An export goes to an absolute path in a folder that exists, never over a folder.
fn export_target_ok(path: &std::path::Path) -> Result<(), String> {
    if !path.is_absolute() {
        return Err(gettext("Export to a full path (one starting with /)"));
    }
    if path.is_dir() {
        return Err(gettext("Export to a file, not a folder"));
    }
    match path.parent() {
        Some(dir) if dir.is_dir() => Ok(()),
        _ => Err(gettext_f(
            "The folder of {file} does not exist",
            &[("file", &path.display().to_string())],
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::export_target_ok;

    #[test]
    fn exports_only_to_a_file_in_an_existing_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(export_target_ok(&dir.path().join("a.mp4")).is_ok());
        assert!(export_target_ok(std::path::Path::new("a.mp4")).is_err());
        assert!(export_target_ok(dir.path()).is_err());
        assert!(export_target_ok(&dir.path().join("missing/a.mp4")).is_err());
    }
}
