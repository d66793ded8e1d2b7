//! "Today" in the timeline window: the camera's events since local midnight, newest
//! first, each with its kind, its local time (and end, once it ended) and a play button.
//! Activating a row or pressing its button activates the window's `win.seek` with the
//! event's start — what a click on the ruler at that instant does, and what D-Bus reaches
//! too. The list is loaded when the window opens and again whenever the window refreshes
//! the present (every ten seconds while the ruler shows it).
//!
//! ```text
//!  data::today ─► EventList::show ─► ListBox rows ─► win.seek(start) ─► Player
//! ```

use std::rc::Rc;

use adw::prelude::*;
use eyrie_protocol::api::Event;
use gtk::glib;

use super::EyrieTimelineWindow;
use super::data::{self, kind_label};
use super::ruler::format_time;
use crate::gui::test_hooks;
use crate::i18n::{gettext, gettext_f, ngettext_f};
use crate::spawn_tokio;

struct Inner {
    root: gtk::Box,
    title: gtk::Label,
    list: gtk::ListBox,
    window: glib::WeakRef<EyrieTimelineWindow>,
}

#[derive(Clone)]
pub struct EventList(Rc<Inner>);

/// Local midnight of today, in Unix ms.
fn midnight_ms() -> i64 {
    glib::DateTime::now_local()
        .ok()
        .and_then(|now| {
            glib::DateTime::from_local(now.year(), now.month(), now.day_of_month(), 0, 0, 0.0).ok()
        })
        .map_or(0, |d| d.to_unix() * 1000)
}

impl EventList {
    pub fn new(window: &EyrieTimelineWindow) -> Self {
        let (root, title, list) =
            super::ui::side_list(&gettext("Today"), &gettext("No events today"));
        list.update_property(&[gtk::accessible::Property::Label(&gettext("Today’s Events"))]);
        Self(Rc::new(Inner {
            root,
            title,
            list,
            window: window.downgrade(),
        }))
    }

    pub fn widget(&self) -> &gtk::Box {
        &self.0.root
    }

    /// Load today's events again.
    pub fn reload(&self) {
        let Some(window) = self.0.window.upgrade() else {
            return;
        };
        let (Some(api), Some(channel)) = (window.api(), window.channel()) else {
            return;
        };
        let this = self.clone();
        let midnight = midnight_ms();
        glib::spawn_future_local(async move {
            match spawn_tokio!(async move { data::today(&api, channel, midnight).await }).await {
                Ok(Ok(events)) => this.show(&events),
                Ok(Err(e)) => tracing::warn!("today's events: {e}"),
                Err(e) => tracing::error!("today's events task: {e}"),
            }
        });
    }

    fn show(&self, events: &[Event]) {
        let inner = &self.0;
        // Rows only: the first child may be the placeholder ("No events today").
        while let Some(row) = inner.list.row_at_index(0) {
            inner.list.remove(&row);
        }
        let n = events.len() as u64;
        inner.title.set_label(&if n == 0 {
            gettext("Today")
        } else {
            ngettext_f(
                "Today: {n} event",
                "Today: {n} events",
                n,
                &[("n", &n.to_string())],
            )
        });
        let mut reported = Vec::new();
        for event in events.iter().rev() {
            let (row, play) = row(event);
            inner.list.append(&row);
            if test_hooks::enabled() {
                reported.push(serde_json::json!({
                    "id": event.id, "start_ms": event.start_ms,
                    "title": row.title().as_str(),
                    "subtitle": row.subtitle().as_deref().unwrap_or(""), "button": play,
                }));
            }
        }
        test_hooks::report("timeline-today", &serde_json::json!({ "events": reported }));
    }
}

/// One event's row, and its play button's accessible name.
fn row(event: &Event) -> (adw::ActionRow, String) {
    let kind = kind_label(event.kind);
    let start = format_time(event.start_ms, true, false);
    let when = match event.end_ms {
        Some(end) if end > event.start_ms => gettext_f(
            "{start} to {end}",
            &[("start", &start), ("end", &format_time(end, true, false))],
        ),
        _ => start.clone(),
    };
    let row = adw::ActionRow::builder()
        .title(&kind)
        .subtitle(&when)
        .activatable(true)
        .build();
    let label = gettext_f(
        "Play {event} at {time}",
        &[("event", &kind), ("time", &start)],
    );
    let play = gtk::Button::from_icon_name("media-playback-start-symbolic");
    play.set_valign(gtk::Align::Center);
    play.add_css_class("flat");
    play.set_tooltip_text(Some(&label));
    play.update_property(&[gtk::accessible::Property::Label(&label)]);
    for actionable in [
        play.upcast_ref::<gtk::Actionable>(),
        row.upcast_ref::<gtk::Actionable>(),
    ] {
        actionable.set_action_name(Some("win.seek"));
        actionable.set_action_target_value(Some(&event.start_ms.to_variant()));
    }
    row.add_suffix(&play);
    (row, label)
}
