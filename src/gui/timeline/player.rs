//! The timeline window's side of the [`Player`]: the `gtk4paintablesink` it plays into,
//! its notices turned into toasts, and — for the black-box tests — the rendered frames
//! read back and their pixel clock reported (so a test sees the time a person would see).
//!
//! ```text
//!  Player (tokio + GStreamer) ─► … ! videoconvert ! gtk4paintablesink ─paintable─► GtkPicture
//!        └─ Notice ─► tokio mpsc ─► glib future (main loop) ─► toast / spinner / report
//! ```

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_client::playback::{KeyRing, Notice, Player, SkipReason};
use gtk::{gdk, glib, graphene};

use super::EyrieTimelineWindow;
use super::ruler::format_time;
use crate::gui::test_hooks;
use crate::i18n::{gettext, gettext_f};
use crate::runtime::RUNTIME;
use crate::spawn_tokio;

impl EyrieTimelineWindow {
    /// Play a finished clip from its own object (it plays even after its recordings
    /// expired), from its start; a click on the ruler outside it returns to the recordings.
    pub(super) fn play_clip(&self, clip: eyrie_protocol::api::Clip) {
        let start = clip.start_ms;
        self.start_player_then(Some(clip), Some(start));
    }

    /// (Re)open the player on the recordings or on `clip`, then seek to `seek_to`.
    pub(super) fn start_player_then(
        &self,
        clip: Option<eyrie_protocol::api::Clip>,
        seek_to: Option<i64>,
    ) {
        let imp = self.imp();
        let (Some(api), Some(device)) = (self.api(), imp.device.borrow().clone()) else {
            return;
        };
        let Some(channel) = self.channel() else {
            self.toast(&gettext("This camera has no recording channel"));
            return;
        };
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let api2 = api.clone();
                let keys = spawn_tokio!(async move { api2.recording_keys(device.id).await }).await;
                let keys = match keys {
                    Ok(Ok(list)) => {
                        window.imp().locked_keys.replace(locked_keys(&list));
                        KeyRing::from_list(&list)
                    }
                    Ok(Err(e)) => {
                        window.toast(&gettext_f(
                            "Cannot get the recording keys: {error}",
                            &[("error", &e.to_string())],
                        ));
                        return;
                    }
                    Err(e) => {
                        tracing::error!("keys task: {e}");
                        return;
                    }
                };
                let sink = match window.make_sink() {
                    Ok(s) => s,
                    Err(e) => {
                        window.toast(&gettext_f(
                            "Cannot show video: {error}",
                            &[("error", &e.to_string())],
                        ));
                        return;
                    }
                };
                let opened = {
                    let _guard = RUNTIME.enter();
                    match clip.clone() {
                        Some(c) => Player::open_clip(api, keys, c, &sink),
                        None => Player::open(api, keys, channel, &sink),
                    }
                };
                match opened {
                    Ok((player, mut notices)) => {
                        // The previous player (and its sink) goes with the replacement.
                        window.imp().player.replace(Some(Arc::new(player)));
                        test_hooks::report(
                            "timeline-player",
                            &serde_json::json!({ "clip": clip.as_ref().map(|c| c.id) }),
                        );
                        window.imp().playing_clip.replace(clip);
                        // A click made while it opened is newer than where it was opened.
                        if let Some(t) = window.imp().pending_seek.take().or(seek_to) {
                            window.seek(t);
                        }
                        glib::spawn_future_local(glib::clone!(
                            #[weak]
                            window,
                            async move {
                                while let Some(n) = notices.recv().await {
                                    window.on_notice(n);
                                }
                            }
                        ));
                    }
                    Err(e) => {
                        window.imp().pending_seek.take();
                        window.hide_loading();
                        window.toast(&e.to_string());
                    }
                }
            }
        ));
    }

    fn make_sink(&self) -> anyhow::Result<gstreamer::Element> {
        let sink = gstreamer::ElementFactory::make("gtk4paintablesink").build()?;
        let paintable = sink.property::<gdk::Paintable>("paintable");
        if let Some(p) = self.imp().picture.get() {
            p.set_paintable(Some(&paintable));
        }
        let frames = Rc::new(Cell::new(0u64));
        paintable.connect_invalidate_contents(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |paintable| {
                if paintable.intrinsic_width() <= 0 {
                    return;
                }
                let n = frames.get() + 1;
                frames.set(n);
                if n == 1 {
                    window.hide_loading();
                }
                // A picture plays: no word over it (e.g. why an earlier one did not).
                if let Some(hint) = window.imp().hint.get()
                    && hint.is_visible()
                {
                    hint.set_visible(false);
                }
                if test_hooks::enabled() && (n <= 5 || n.is_multiple_of(15)) {
                    window.report_frame(paintable, n);
                }
            }
        ));
        Ok(sink)
    }

    fn on_notice(&self, notice: Notice) {
        test_hooks::report(
            "timeline-notice",
            &serde_json::json!({ "notice": format!("{notice:?}") }),
        );
        match notice {
            Notice::SeekDone { .. } => self.hide_loading(),
            Notice::GapSkipped { from_ms, to_ms } => {
                let secs = (to_ms - from_ms) > 0 && (to_ms - from_ms) < 3_600_000;
                self.toast(&gettext_f(
                    "No recording from {from} to {to}: skipped",
                    &[
                        ("from", &format_time(from_ms, secs, false)),
                        ("to", &format_time(to_ms, secs, false)),
                    ],
                ));
            }
            Notice::SegmentSkipped {
                recording_id,
                start_ms,
                reason: SkipReason::Tampered,
            } if !self.imp().locked_keys.borrow().is_empty() => {
                self.explain_skip(recording_id, start_ms);
            }
            Notice::SegmentSkipped {
                start_ms, reason, ..
            } => {
                let why = match reason {
                    SkipReason::Tampered => gettext("it failed its integrity check"),
                    SkipReason::Missing => gettext("it is no longer stored"),
                    SkipReason::Expired => gettext("its download link was refused"),
                    SkipReason::Unreachable => gettext("the storage could not be reached"),
                };
                self.toast(&gettext_f(
                    "The recording at {time} was skipped: {reason}",
                    &[
                        ("time", &format_time(start_ms, true, false)),
                        ("reason", &why),
                    ],
                ));
            }
            Notice::EndOfRecordings { .. } => {
                self.hide_loading();
                let toast = adw::Toast::new(&gettext("No more recordings"));
                toast.set_button_label(Some(&gettext("Back to Live")));
                toast.connect_button_clicked(glib::clone!(
                    #[weak(rename_to = window)]
                    self,
                    move |_| window.close()
                ));
                if let Some(t) = self.imp().toasts.get() {
                    t.add_toast(toast);
                }
            }
            Notice::Error(e) => {
                self.hide_loading();
                self.toast(&e);
            }
        }
    }

    /// A recording that did not open while some keys are locked to this installation:
    /// if it is under one of them, say so in plain words (once); else the usual toast.
    fn explain_skip(&self, recording_id: uuid::Uuid, start_ms: i64) {
        let (Some(api), Some(channel)) = (self.api(), self.channel()) else {
            return;
        };
        let handle = spawn_tokio!(async move {
            let list = api
                .recordings(channel, start_ms - 1, start_ms + 1)
                .await
                .ok()?;
            list.recordings
                .into_iter()
                .find(|r| r.id == recording_id)
                .and_then(|r| r.key_id)
        });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let key_id = handle.await.ok().flatten();
                let locked = key_id
                    .as_ref()
                    .is_some_and(|k| window.imp().locked_keys.borrow().contains(k));
                if !locked {
                    window.toast(&gettext_f(
                        "The recording at {time} was skipped: {reason}",
                        &[
                            ("time", &format_time(start_ms, true, false)),
                            ("reason", &gettext("it failed its integrity check")),
                        ],
                    ));
                    return;
                }
                test_hooks::report(
                    "timeline-locked",
                    &serde_json::json!({ "recording": recording_id, "key_id": key_id }),
                );
                if window.imp().told_locked.replace(true) {
                    return;
                }
                // The whole sentence over the picture; a toast would cut it short.
                window.hide_loading();
                if let Some(hint) = window.imp().hint.get() {
                    // Full white over the black picture (the hint is dimmed otherwise).
                    hint.remove_css_class("dim-label");
                    hint.set_markup(&format!(
                        "<span foreground=\"#ffffff\">{}</span>",
                        glib::markup_escape_text(&locked_message())
                    ));
                    hint.set_max_width_chars(50);
                    hint.set_justify(gtk::Justification::Center);
                    hint.set_visible(true);
                }
                window.toast(&gettext(
                    "This recording cannot be played on this computer yet",
                ));
            }
        ));
    }

    /// Render the current frame back, read its pixel clock and report it (tests only).
    fn report_frame(&self, paintable: &gdk::Paintable, n: u64) {
        let (w, h) = (paintable.intrinsic_width(), paintable.intrinsic_height());
        let Some(renderer) = self.native().and_then(|n| n.renderer()) else {
            return;
        };
        let snapshot = gtk::Snapshot::new();
        paintable.snapshot(&snapshot, f64::from(w), f64::from(h));
        let Some(node) = snapshot.to_node() else {
            return;
        };
        let texture = renderer.render_texture(
            &node,
            Some(&graphene::Rect::new(0.0, 0.0, w as f32, h as f32)),
        );
        let (tw, th) = (texture.width() as usize, texture.height() as usize);
        let stride = tw * 4;
        let mut data = vec![0u8; stride * th];
        texture.download(&mut data, stride);
        // GDK_MEMORY_DEFAULT is premultiplied B8G8R8A8 on little-endian.
        let luma: Vec<u8> = data
            .chunks_exact(4)
            .map(|p| {
                ((u32::from(p[2]) * 77 + u32::from(p[1]) * 150 + u32::from(p[0]) * 29) >> 8) as u8
            })
            .collect();
        let clock = eyrie_client::pixel_clock::decode_luma(&luma, tw, tw, th);
        let mean = luma.iter().map(|&v| u64::from(v)).sum::<u64>() / luma.len().max(1) as u64;
        let position = self
            .imp()
            .player
            .borrow()
            .as_ref()
            .and_then(|p| p.state().position_ms);
        test_hooks::report(
            "timeline-frame",
            &serde_json::json!({
                "n": n,
                "width": tw,
                "height": th,
                "clock_ms": clock,
                "position_ms": position,
                "mean": mean,
            }),
        );
    }
}

/// The key ids of `list` this installation cannot open: content keys made before it was
/// allowed to read recordings (the cloud serves them without a wrap for it).
pub(super) fn locked_keys(
    list: &eyrie_protocol::api::RecordingKeyList,
) -> std::collections::HashSet<String> {
    list.keys
        .iter()
        .filter(|k| k.key.is_none())
        .map(|k| k.key_id.clone())
        .collect()
}

/// What to say about a recording under such a key.
pub(super) fn locked_message() -> String {
    gettext(
        "This recording was made before this computer was allowed to read recordings. Allow it from another computer where you use Eyrie, or enter your recovery key.",
    )
}
