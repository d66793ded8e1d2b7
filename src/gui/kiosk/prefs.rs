//! The kiosk's preferences window, and its lock.
//!
//! Everything here is a GSettings key of the app's schema (`kiosk-*`), written as soon as
//! a control changes; the kiosk window listens to the keys and rebuilds itself, so the
//! same keys set with `gsettings` or a dconf profile have the same effect.
//!
//! The lock: with `kiosk-locked` on, opening the preferences asks for the PIN whose
//! SHA-256 is kept in `kiosk-pin-sha256`; without a PIN the preferences stay closed (an
//! administrator unlocks with `gsettings set … kiosk-locked false`, or locks the keys for
//! good with a dconf lock, see docs/kiosk.md). Three wrong PINs close the door for a
//! minute.

use std::cell::Cell;
use std::time::{Duration, Instant};

use adw::prelude::*;
use gtk::{gio, glib};

use super::EyrieKioskWindow;
use super::layout::Layout;
use crate::gui::settings_rows::{hide_decoration, seconds_row, switch_row};
use crate::gui::test_hooks;
use crate::i18n::gettext;

thread_local! {
    static WRONG: Cell<(u32, Option<Instant>)> = const { Cell::new((0, None)) };
}

/// Hash a PIN the way `kiosk-pin-sha256` keeps it.
pub fn pin_hash(pin: &str) -> String {
    glib::compute_checksum_for_string(glib::ChecksumType::Sha256, pin)
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// Open the preferences, through the PIN when the kiosk is locked.
pub fn open(window: &EyrieKioskWindow) {
    let Some(settings) = window.settings() else {
        tracing::warn!("kiosk: no settings schema; preferences cannot be kept");
        return;
    };
    if settings.boolean("kiosk-locked") {
        ask_pin(window, &settings);
    } else {
        build(window, &settings);
    }
}

fn ask_pin(window: &EyrieKioskWindow, settings: &gio::Settings) {
    let hash = settings.string("kiosk-pin-sha256").to_string();
    let dialog = adw::MessageDialog::new(Some(window), Some(&gettext("Preferences Locked")), None);
    let blocked = WRONG.with(|w| {
        w.get()
            .1
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
    });
    test_hooks::report(
        "kiosk-locked",
        &serde_json::json!({ "pin": !hash.is_empty() }),
    );
    if hash.is_empty() || blocked {
        dialog.set_body(&if blocked {
            gettext("Too many wrong PINs. Try again in a minute.")
        } else {
            gettext("An administrator locked this kiosk’s preferences.")
        });
        dialog.add_response("close", &gettext("_Close"));
        dialog.present();
        return;
    }
    dialog.set_body(&gettext(
        "Enter the PIN to change this kiosk’s preferences.",
    ));
    let entry = gtk::PasswordEntry::builder()
        .activates_default(true)
        .build();
    dialog.set_extra_child(Some(&entry));
    dialog.add_responses(&[
        ("cancel", &gettext("_Cancel")),
        ("unlock", &gettext("_Unlock")),
    ]);
    dialog.set_response_appearance("unlock", adw::ResponseAppearance::Suggested);
    dialog.set_default_response(Some("unlock"));
    let settings = settings.clone();
    dialog.connect_response(
        None,
        glib::clone!(
            #[weak]
            window,
            #[weak]
            entry,
            move |_, response| {
                if response != "unlock" {
                    return;
                }
                if pin_hash(&entry.text()) == hash {
                    WRONG.with(|w| w.set((0, None)));
                    build(&window, &settings);
                } else {
                    WRONG.with(|w| {
                        let (n, _) = w.get();
                        w.set(if n + 1 >= 3 {
                            (0, Some(Instant::now()))
                        } else {
                            (n + 1, None)
                        });
                    });
                    test_hooks::report("kiosk-pin", &serde_json::json!({ "ok": false }));
                }
            }
        ),
    );
    dialog.present();
}

fn build(window: &EyrieKioskWindow, settings: &gio::Settings) {
    let prefs = adw::PreferencesWindow::builder()
        .transient_for(window)
        .modal(true)
        .title(gettext("Kiosk Preferences"))
        .build();
    let page = adw::PreferencesPage::new();
    let (layout, layout_row) = layout_group(settings);
    page.add(&layout);
    page.add(&cameras_group(window, settings));
    page.add(&behaviour_group(settings));
    page.add(&lock_group(settings));
    prefs.add(&page);
    prefs.present();
    // The keyboard starts on the first setting, the layout (Enter opens its list).
    layout_row.grab_focus();
    test_hooks::report("kiosk-preferences", &serde_json::json!({}));
}

pub(crate) fn layout_group(settings: &gio::Settings) -> (adw::PreferencesGroup, adw::ComboRow) {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Layout"))
        .build();
    let combo = layout_row(settings);
    group.add(&combo);
    group.add(&seconds_row(
        settings,
        "kiosk-cycle-seconds",
        &gettext("Seconds per camera when cycling"),
    ));
    group.add(&start_row(settings));
    (group, combo)
}

fn start_row(settings: &gio::Settings) -> adw::ActionRow {
    switch_row(
        settings,
        "kiosk",
        &gettext("Start as a kiosk"),
        &gettext("Open this screen even when Eyrie starts without --kiosk"),
    )
}

fn cameras_group(window: &EyrieKioskWindow, settings: &gio::Settings) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Cameras"))
        .description(gettext(
            "The cameras shown, in this order. None ticked shows them all.",
        ))
        .build();
    let devices = window.all_devices();
    let chosen: Vec<String> = settings
        .strv("kiosk-cameras")
        .iter()
        .map(|s| s.to_string())
        .collect();
    let checks: std::rc::Rc<Vec<(String, gtk::CheckButton)>> = std::rc::Rc::new(
        devices
            .iter()
            .map(|d| {
                let id = d.id.to_string();
                let check = gtk::CheckButton::builder()
                    .active(chosen.contains(&id))
                    .valign(gtk::Align::Center)
                    .build();
                let row = adw::ActionRow::builder()
                    .title(&d.name)
                    .activatable_widget(&check)
                    .build();
                row.add_prefix(&check);
                group.add(&row);
                (id, check)
            })
            .collect(),
    );
    for (_, check) in checks.iter() {
        let checks = checks.clone();
        let settings = settings.clone();
        check.connect_toggled(move |_| {
            let ids: Vec<&str> = checks
                .iter()
                .filter(|(_, c)| c.is_active())
                .map(|(id, _)| id.as_str())
                .collect();
            let _ = settings.set_strv("kiosk-cameras", ids);
        });
    }
    group
}

pub(crate) fn behaviour_group(settings: &gio::Settings) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Behaviour"))
        .build();
    group.add(&seconds_row(
        settings,
        "kiosk-enlarge-seconds",
        &gettext("Seconds a clicked camera stays enlarged"),
    ));
    group.add(&switch_row(
        settings,
        "kiosk-event-focus",
        &gettext("Bring cameras with events to the front"),
        &gettext("Motion or a pressed event button enlarges that camera"),
    ));
    group.add(&seconds_row(
        settings,
        "kiosk-event-focus-seconds",
        &gettext("Seconds a camera with an event stays in front"),
    ));
    group.add(&seconds_row(
        settings,
        "kiosk-hide-pointer-seconds",
        &gettext("Hide the pointer after (seconds)"),
    ));
    group.add(&switch_row(
        settings,
        "kiosk-talk-allowed",
        &gettext("Allow talking"),
        &gettext("Show a hold-to-talk button on an enlarged camera"),
    ));
    group
}

pub(crate) fn lock_group(settings: &gio::Settings) -> adw::PreferencesGroup {
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Lock"))
        .description(gettext("A locked kiosk asks for the PIN before showing these preferences and cannot be closed from its keyboard."))
        .build();
    let pin = adw::PasswordEntryRow::builder()
        .title(gettext("PIN"))
        .show_apply_button(true)
        .build();
    pin.connect_apply(glib::clone!(
        #[strong]
        settings,
        move |row| {
            let text = row.text();
            let hash = if text.is_empty() {
                String::new()
            } else {
                pin_hash(&text)
            };
            let _ = settings.set_string("kiosk-pin-sha256", &hash);
            row.set_text("");
        }
    ));
    group.add(&pin);
    group.add(&switch_row(
        settings,
        "kiosk-locked",
        &gettext("Lock preferences"),
        "",
    ));
    group
}

/// The kiosk's layout, bound to the enum key `kiosk-layout` by its nick.
pub(crate) fn layout_row(settings: &gio::Settings) -> adw::ComboRow {
    let names = [
        gettext("One camera"),
        gettext("2 × 2 grid"),
        gettext("3 × 3 grid"),
        gettext("4 × 4 grid"),
        gettext("One camera at a time, cycling"),
    ];
    let list = gtk::StringList::new(&names.iter().map(String::as_str).collect::<Vec<_>>());
    let row = adw::ComboRow::builder()
        .title(gettext("Show"))
        .model(&list)
        .build();
    settings
        .bind("kiosk-layout", &row, "selected")
        .mapping(|v, _| {
            let nick = v.str()?;
            Layout::ALL
                .iter()
                .position(|l| l.nick() == nick)
                .map(|i| (i as u32).to_value())
        })
        .set_mapping(|v, _| {
            let i = v.get::<u32>().ok()?;
            Layout::ALL.get(i as usize).map(|l| l.nick().to_variant())
        })
        .build();
    hide_decoration(row.upcast_ref());
    row
}
