//! The clip list of the timeline window: the camera's clips, newest first, polled every
//! two seconds while one is still `in_progress` (the cloud finishes a clip whose range
//! reaches into the present once the camera has uploaded the rest). A finished clip can
//! be played (from its own object, see `Player::open_clip`), exported to MP4 — decrypted and remuxed on
//! the tokio runtime, never re-encoded, with a progress bar and a cancel button — or
//! deleted. The row's buttons activate the window's `win.play-clip`, `win.export-clip`,
//! `win.cancel-export` and `win.delete-clip` with the clip's id (actions.rs), which is
//! also how D-Bus reaches them; `win.export-clip-to` exports without the file dialog.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use adw::prelude::*;
use eyrie_client::playback::{ExportProgress, KeyRing, export_clip};
use eyrie_protocol::api::{Clip, ClipStatus};
use gtk::glib;
use uuid::Uuid;

use super::EyrieTimelineWindow;
use super::ruler::format_time;
use crate::gui::test_hooks;
use crate::i18n::{gettext, gettext_f};
use crate::spawn_tokio;

struct Inner {
    root: gtk::Box,
    list: gtk::ListBox,
    window: glib::WeakRef<EyrieTimelineWindow>,
    poll: RefCell<Option<glib::SourceId>>,
    /// Running exports by clip, with their cancel flags and progress bars.
    exports: RefCell<HashMap<Uuid, (Arc<AtomicBool>, gtk::ProgressBar)>>,
    /// Each listed clip with its row's export progress widgets.
    rows: RefCell<HashMap<Uuid, Row>>,
}

#[derive(Clone)]
struct Row {
    clip: Clip,
    export_box: gtk::Box,
    progress: gtk::ProgressBar,
}

#[derive(Clone)]
pub struct ClipList(Rc<Inner>);

impl ClipList {
    pub fn new(window: &EyrieTimelineWindow) -> Self {
        let (root, _, list) = super::ui::side_list(
            &gettext("Clips"),
            &gettext(
                "No clips yet. Shift-drag on the timeline to select a range, then press Create Clip.",
            ),
        );
        Self(Rc::new(Inner {
            root,
            list,
            window: window.downgrade(),
            poll: RefCell::new(None),
            exports: RefCell::new(HashMap::new()),
            rows: RefCell::new(HashMap::new()),
        }))
    }

    pub fn widget(&self) -> &gtk::Box {
        &self.0.root
    }

    /// List the clips again (and keep polling while one is in progress).
    pub fn reload(&self) {
        let Some(window) = self.0.window.upgrade() else {
            return;
        };
        let (Some(api), Some(channel)) = (window.api(), window.channel()) else {
            return;
        };
        let device = window.imp_device_id();
        let this = self.clone();
        glib::spawn_future_local(async move {
            let res = spawn_tokio!(async move { api.clips(device).await }).await;
            let clips: Vec<Clip> = match res {
                Ok(Ok(list)) => list
                    .clips
                    .into_iter()
                    .filter(|c| c.channel_id == channel)
                    .collect(),
                Ok(Err(e)) => {
                    if let Some(w) = this.0.window.upgrade() {
                        w.toast(&e.to_string());
                    }
                    return;
                }
                Err(_) => return,
            };
            this.show(&clips);
        });
    }

    fn show(&self, clips: &[Clip]) {
        let inner = &self.0;
        // Rows only: the list's first child may be its placeholder ("No clips yet"),
        // which must stay for when the list is empty.
        while let Some(row) = inner.list.row_at_index(0) {
            inner.list.remove(&row);
        }
        inner.rows.borrow_mut().clear();
        for clip in clips {
            inner.list.append(&self.row(clip));
        }
        test_hooks::report(
            "timeline-clips",
            &serde_json::json!({
                "statuses": clips.iter().map(|c| format!("{:?}", c.status)).collect::<Vec<_>>(),
                "ids": clips.iter().map(|c| c.id).collect::<Vec<_>>(),
            }),
        );
        let pending = clips.iter().any(|c| c.status == ClipStatus::InProgress);
        if pending && inner.poll.borrow().is_none() {
            let this = self.clone();
            let id = glib::timeout_add_local_once(std::time::Duration::from_secs(2), move || {
                this.0.poll.take();
                this.reload();
            });
            inner.poll.replace(Some(id));
        }
    }

    fn row(&self, clip: &Clip) -> gtk::Widget {
        let name = clip.name.clone().unwrap_or_else(|| gettext("Clip"));
        let secs = (clip.end_ms - clip.start_ms) / 1000;
        let subtitle = format!(
            "{} {} – {} ({}:{:02})",
            format_time(clip.start_ms, false, true),
            format_time(clip.start_ms, true, false),
            format_time(clip.end_ms, true, false),
            secs / 60,
            secs % 60
        );
        let row = adw::ActionRow::builder()
            .title(name)
            .subtitle(subtitle)
            .build();
        let status = match clip.status {
            ClipStatus::InProgress => gettext("Assembling…"),
            ClipStatus::Finished => gettext("Ready"),
            ClipStatus::Failed => clip.reason.clone().unwrap_or_else(|| gettext("Failed")),
            ClipStatus::Unknown => String::new(),
        };
        let box_ = gtk::Box::new(gtk::Orientation::Vertical, 4);
        box_.set_valign(gtk::Align::Center);
        let buttons = gtk::Box::new(gtk::Orientation::Horizontal, 4);
        let label = gtk::Label::new(Some(&status));
        label.add_css_class("caption");
        label.add_css_class("dim-label");
        if clip.status == ClipStatus::InProgress {
            let spinner = gtk::Spinner::new();
            spinner.set_spinning(true);
            buttons.append(&spinner);
        }
        buttons.append(&label);
        let play = gtk::Button::from_icon_name("media-playback-start-symbolic");
        play.set_tooltip_text(Some(&gettext("Play")));
        let export = gtk::Button::from_icon_name("document-save-symbolic");
        export.set_tooltip_text(Some(&gettext("Export to MP4")));
        let delete = gtk::Button::from_icon_name("user-trash-symbolic");
        delete.set_tooltip_text(Some(&gettext("Delete")));
        for b in [&play, &export, &delete] {
            b.add_css_class("flat");
            // Icon-only: screen readers read the tooltip's words as its name.
            if let Some(tip) = b.tooltip_text() {
                b.update_property(&[gtk::accessible::Property::Label(&tip)]);
            }
            buttons.append(b);
        }
        let finished = clip.status == ClipStatus::Finished;
        play.set_sensitive(finished);
        export.set_sensitive(finished);
        box_.append(&buttons);
        let progress = gtk::ProgressBar::new();
        let cancel = gtk::Button::with_label(&gettext("Cancel"));
        cancel.add_css_class("flat");
        let export_box = gtk::Box::new(gtk::Orientation::Horizontal, 4);
        progress.set_valign(gtk::Align::Center);
        progress.set_hexpand(true);
        export_box.append(&progress);
        export_box.append(&cancel);
        export_box.set_visible(false);
        box_.append(&export_box);
        row.add_suffix(&box_);

        let target = clip.id.to_string().to_variant();
        for (button, action) in [
            (&play, "win.play-clip"),
            (&export, "win.export-clip"),
            (&cancel, "win.cancel-export"),
            (&delete, "win.delete-clip"),
        ] {
            button.set_action_name(Some(action));
            button.set_action_target_value(Some(&target));
        }
        self.0.rows.borrow_mut().insert(
            clip.id,
            Row {
                clip: clip.clone(),
                export_box,
                progress,
            },
        );
        row.upcast()
    }

    /// A listed clip.
    pub(super) fn clip(&self, id: Uuid) -> Option<Clip> {
        self.0.rows.borrow().get(&id).map(|r| r.clip.clone())
    }

    /// Ask where to export clip `id` (a file dialog), then export it there.
    pub(super) fn ask_export(&self, id: Uuid) {
        let Some(window) = self.0.window.upgrade() else {
            return;
        };
        let Some(clip) = self.finished(id) else {
            return;
        };
        let chooser = gtk::FileChooserNative::new(
            Some(&gettext("Export Clip")),
            Some(&window),
            gtk::FileChooserAction::Save,
            Some(&gettext("_Export")),
            Some(&gettext("_Cancel")),
        );
        let stamp = glib::DateTime::from_unix_local(clip.start_ms / 1000)
            .ok()
            .and_then(|t| t.format("%Y-%m-%d %H.%M.%S").ok())
            .map(|s| s.to_string())
            .unwrap_or_else(|| "clip".into());
        chooser.set_current_name(&format!("{stamp}.mp4"));
        let this = self.clone();
        chooser.connect_response(move |chooser, response| {
            if response == gtk::ResponseType::Accept
                && let Some(path) = chooser.file().and_then(|f| f.path())
            {
                this.export_to(id, path);
            }
        });
        chooser.show();
    }

    /// A finished clip of the list, or a toast saying why not.
    fn finished(&self, id: Uuid) -> Option<Clip> {
        let clip = self.clip(id)?;
        if clip.status == ClipStatus::Finished {
            return Some(clip);
        }
        if let Some(w) = self.0.window.upgrade() {
            w.toast(&gettext("This clip is not ready yet"));
        }
        None
    }

    /// Stop the running export of clip `id` (its partial file is removed).
    pub(super) fn cancel_export(&self, id: Uuid) {
        match self.0.exports.borrow().get(&id) {
            Some((flag, _)) => flag.store(true, Ordering::SeqCst),
            None => {
                if let Some(w) = self.0.window.upgrade() {
                    w.toast(&gettext("This clip is not being exported"));
                }
            }
        }
    }

    /// Export clip `id` to `path` (checked by the caller).
    pub(super) fn export_to(&self, id: Uuid, path: std::path::PathBuf) {
        let Some(clip) = self.finished(id) else {
            return;
        };
        if self.0.exports.borrow().contains_key(&id) {
            if let Some(w) = self.0.window.upgrade() {
                w.toast(&gettext("This clip is already being exported"));
            }
            return;
        }
        let Some(row) = self.0.rows.borrow().get(&id).cloned() else {
            return;
        };
        self.export(&clip, path, &row.export_box, &row.progress);
    }

    fn export(
        &self,
        clip: &Clip,
        path: std::path::PathBuf,
        export_box: &gtk::Box,
        progress: &gtk::ProgressBar,
    ) {
        let Some(api) = self.0.window.upgrade().and_then(|w| w.api()) else {
            return;
        };
        let cancel = Arc::new(AtomicBool::new(false));
        self.0
            .exports
            .borrow_mut()
            .insert(clip.id, (cancel.clone(), progress.clone()));
        export_box.set_visible(true);
        progress.set_fraction(0.0);
        progress.set_text(Some(&gettext("Downloading…")));
        progress.set_show_text(true);
        let (tx, rx) = async_channel::unbounded::<ExportProgress>();
        let clip2 = clip.clone();
        let task = spawn_tokio!(async move {
            let list = api
                .recording_keys(clip2.device_id)
                .await
                .map_err(|e| ExportFail::Playback(e.into()))?;
            // Parts under a key this installation cannot open: say why, not "failed".
            let locked = super::player::locked_keys(&list);
            if clip2
                .parts
                .iter()
                .any(|p| p.key_id.as_ref().is_some_and(|k| locked.contains(k)))
            {
                return Err(ExportFail::Locked);
            }
            let keys = KeyRing::from_list(&list);
            export_clip(
                &api,
                &keys,
                &clip2,
                &path,
                move |p| {
                    let _ = tx.try_send(p);
                },
                cancel,
            )
            .await
            .map_err(ExportFail::Playback)
        });
        let progress2 = progress.clone();
        glib::spawn_future_local(async move {
            while let Ok(p) = rx.recv().await {
                match p {
                    ExportProgress::Downloading => progress2.pulse(),
                    ExportProgress::Writing(f) => {
                        progress2.set_fraction(f);
                        progress2.set_text(Some(&format!("{:.0} %", f * 100.0)));
                    }
                    ExportProgress::Done => progress2.set_fraction(1.0),
                }
            }
        });
        let this = self.clone();
        let (id, export_box) = (clip.id, export_box.clone());
        let progress_last = progress.clone();
        glib::spawn_future_local(async move {
            let res = task.await;
            this.0.exports.borrow_mut().remove(&id);
            export_box.set_visible(false);
            let Some(window) = this.0.window.upgrade() else {
                return;
            };
            test_hooks::report(
                "timeline-export-progress",
                &serde_json::json!({ "fraction": progress_last.fraction() }),
            );
            match res {
                Ok(Ok(report)) => {
                    test_hooks::report(
                        "timeline-export",
                        &serde_json::json!({
                            "bytes": report.bytes, "frames": report.frames, "path": report.path,
                            "first_ms": report.first_ms, "last_ms": report.last_ms,
                        }),
                    );
                    window.toast(&gettext_f(
                        "Clip exported to {file}",
                        &[("file", &report.path.display().to_string())],
                    ));
                }
                Ok(Err(ExportFail::Locked)) => {
                    test_hooks::report("timeline-export-locked", &serde_json::json!({}));
                    window.toast(&gettext(
                        "This clip was recorded before this computer was allowed to read recordings",
                    ));
                }
                Ok(Err(ExportFail::Playback(eyrie_client::playback::PlaybackError::Cancelled))) => {
                    test_hooks::report("timeline-export-cancelled", &serde_json::json!({}));
                    window.toast(&gettext("Export cancelled"));
                }
                Ok(Err(ExportFail::Playback(e))) => {
                    test_hooks::report(
                        "timeline-export-failed",
                        &serde_json::json!({ "error": e.to_string() }),
                    );
                    window.toast(&gettext_f(
                        "The export failed: {error}",
                        &[("error", &e.to_string())],
                    ));
                }
                Err(e) => tracing::error!("export task: {e}"),
            }
        });
    }

    pub(super) fn delete(&self, id: Uuid) {
        let Some(api) = self.0.window.upgrade().and_then(|w| w.api()) else {
            return;
        };
        let this = self.clone();
        glib::spawn_future_local(async move {
            let res = spawn_tokio!(async move { api.delete_clip(id).await }).await;
            if let Some(w) = this.0.window.upgrade() {
                match res {
                    Ok(Ok(())) => w.toast(&gettext("Clip deleted")),
                    Ok(Err(e)) => w.toast(&e.to_string()),
                    Err(_) => {}
                }
            }
            this.reload();
        });
    }
}

impl EyrieTimelineWindow {
    pub(super) fn imp_device_id(&self) -> Option<Uuid> {
        use adw::subclass::prelude::ObjectSubclassIsExt;
        self.imp().device.borrow().as_ref().map(|d| d.id)
    }
}

/// Why an export stopped.
enum ExportFail {
    /// A part is under a key this installation cannot open.
    Locked,
    Playback(eyrie_client::playback::PlaybackError),
}
