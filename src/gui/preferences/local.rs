//! The pages of this computer's settings: live view defaults, the kiosk, camera mode. Each
//! row is bound to its GSettings key, so what reads the key sees the change at once.

use adw::prelude::*;
use gtk::{gio, glib};

use super::toast;
use crate::gui::kiosk::prefs as kiosk_prefs;
use crate::gui::settings_rows::switch_row;
use crate::i18n::gettext;

pub(super) fn live_page(settings: &gio::Settings) -> adw::PreferencesPage {
    let page = adw::PreferencesPage::builder()
        .title(gettext("Live View"))
        .icon_name("video-display-symbolic")
        .build();
    let group = adw::PreferencesGroup::builder()
        .title(gettext("When a Camera Opens"))
        .description(gettext(
            "Each live view starts this way; its own buttons still switch it.",
        ))
        .build();
    group.add(&switch_row(
        settings,
        "prefer-hd",
        &gettext("Start in HD"),
        &gettext("The camera’s main stream instead of its smaller one; needs a faster network"),
    ));
    group.add(&switch_row(
        settings,
        "live-start-muted",
        &gettext("Start Muted"),
        &gettext("No sound until you unmute"),
    ));
    page.add(&group);
    page
}

pub(super) fn kiosk_page(settings: &gio::Settings) -> adw::PreferencesPage {
    let page = adw::PreferencesPage::builder()
        .title(gettext("Kiosk"))
        .icon_name("view-grid-symbolic")
        .build();
    // The kiosk's own preferences' groups (which cameras it shows is chosen on the kiosk).
    let (layout, _) = kiosk_prefs::layout_group(settings);
    layout.set_description(Some(&gettext(
        "What a wall screen started with “eyrie --kiosk” shows. A running kiosk follows at once.",
    )));
    page.add(&layout);
    page.add(&kiosk_prefs::behaviour_group(settings));
    page.add(&kiosk_prefs::lock_group(settings));
    page
}

/// Camera mode's Home Assistant settings, as its window reads them when it opens (the
/// broker's password stays in that window: it is a file in the camera's state directory,
/// never a setting).
pub(super) fn camera_mode_page(
    settings: &gio::Settings,
    window: &adw::PreferencesWindow,
) -> adw::PreferencesPage {
    let page = adw::PreferencesPage::builder()
        .title(gettext("Camera Mode"))
        .icon_name("camera-video-symbolic")
        .build();
    let group = adw::PreferencesGroup::builder()
        .title(gettext("Home Assistant"))
        .description(gettext(
            "Used the next time “Use This Computer as a Camera” opens. The broker’s password is entered there.",
        ))
        .build();
    let url = adw::EntryRow::builder()
        .title(gettext("Broker (mqtts://user@host:port)"))
        .text(settings.string("camera-mode-homeassistant-url").as_str())
        .show_apply_button(true)
        .build();
    let plain = switch_row(
        settings,
        "camera-mode-homeassistant-allow-plain",
        &gettext("Allow Unencrypted Connection"),
        &gettext("Plain mqtt:// to another machine sends the password and pictures in clear"),
    );
    let publish = gtk::Switch::builder()
        .valign(gtk::Align::Center)
        .active(settings.boolean("camera-mode-homeassistant"))
        .build();
    let publish_row = adw::ActionRow::builder()
        .title(gettext("Publish to Home Assistant"))
        .activatable_widget(&publish)
        .build();
    publish_row.add_suffix(&publish);
    group.add(&url);
    group.add(&plain);
    group.add(&publish_row);
    page.add(&group);

    // The URL: kept only when it is a broker address camera mode can use.
    url.connect_apply(glib::clone!(
        #[strong]
        settings,
        #[weak]
        window,
        move |row| {
            let text = row.text().trim().to_owned();
            let allow_plain = settings.boolean("camera-mode-homeassistant-allow-plain");
            match check_broker(&text, allow_plain) {
                Ok(()) => {
                    let _ = settings.set_string("camera-mode-homeassistant-url", &text);
                    row.set_text(&text);
                }
                Err(why) => {
                    toast(&window, &why);
                    row.set_text(&settings.string("camera-mode-homeassistant-url"));
                }
            }
        }
    ));
    // Publishing: switched on only with a usable broker; follows the key otherwise.
    publish.connect_active_notify(glib::clone!(
        #[strong]
        settings,
        #[weak]
        window,
        move |sw| {
            let on = sw.is_active();
            if on == settings.boolean("camera-mode-homeassistant") {
                return;
            }
            if on {
                let url = settings.string("camera-mode-homeassistant-url");
                let plain = settings.boolean("camera-mode-homeassistant-allow-plain");
                if let Err(why) = check_broker(&url, plain) {
                    toast(&window, &why);
                    sw.set_active(false);
                    return;
                }
            }
            let _ = settings.set_boolean("camera-mode-homeassistant", on);
        }
    ));
    let follow = settings.connect_changed(
        Some("camera-mode-homeassistant"),
        glib::clone!(
            #[weak]
            publish,
            move |s, key| publish.set_active(s.boolean(key))
        ),
    );
    // The app's settings outlive this window: let go of them when it goes.
    let follow = std::cell::Cell::new(Some(follow));
    window.connect_destroy(glib::clone!(
        #[strong]
        settings,
        move |_| {
            if let Some(id) = follow.take() {
                settings.disconnect(id);
            }
        }
    ));
    page
}

/// Why camera mode could not use `url` as its Home Assistant broker, in words.
fn check_broker(url: &str, allow_plain: bool) -> Result<(), String> {
    use eyrie_camera::homeassistant::Broker;
    if url.trim().is_empty() {
        return Err(gettext(
            "Enter the broker’s address first, like mqtts://user@host:8883.",
        ));
    }
    let broker = Broker::parse(url).map_err(|e| e.to_string())?;
    broker.check_plain(allow_plain).map_err(|e| e.to_string())
}
