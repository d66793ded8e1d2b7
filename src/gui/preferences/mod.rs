//! Preferences: one `AdwPreferencesWindow` opened by `app.preferences` (the main menu,
//! Ctrl+comma, or D-Bus, see `docs/desktop-actions.md`).
//!
//! Two kinds of setting live here, and they never mix on one row:
//!
//! - **The cloud's** (page "Cameras"): what the REST API lets an owner change on a camera —
//!   its name and its store mode. A change is sent at once; the row shows the new value only
//!   when the cloud took it, and an error comes back as a toast with the row put back.
//!   Pre-record and audio recording are not in the API (the camera keeps them itself:
//!   `eyrie camera pre-record`/`audio`, camera mode's switches), so they are not here.
//! - **This computer's** (the other pages): keys of the app's GSettings schema, bound to
//!   their widgets with `Settings::bind`, so a change is written at once and whatever reads
//!   the key follows (the live view reads `prefer-hd` and `live-start-muted` each time one
//!   starts, [`apply_live_defaults`]; the kiosk watches its `kiosk-*` keys; camera mode
//!   reads `camera-mode-homeassistant*` when its window opens).
//!
//! ```text
//!  app.preferences ─► EyriePreferences (AdwPreferencesWindow)
//!     Account ──── session (read-only) ─── Sign Out ─► win.sign-out
//!     Cameras ──── spawn_tokio! ─► eyrie_api (rename, store mode) ─► toast on error
//!     Live View, Kiosk, Camera Mode ── Settings::bind ─► gio::Settings ─► readers
//! ```

mod account;
mod cameras;
mod local;

use adw::prelude::*;
use gtk::gio;

use super::application::EyrieApplication;
use super::test_hooks;
use crate::i18n::gettext;

/// The widget name that tells this window from the kiosk's preferences.
const WINDOW_NAME: &str = "eyrie-preferences";

/// Open the preferences over the active window. A kiosk keeps its own (PIN-locked) ones.
pub fn open(app: &EyrieApplication) {
    let parent = app.active_window();
    if let Some(kiosk) = parent
        .as_ref()
        .and_then(|w| w.downcast_ref::<super::kiosk::EyrieKioskWindow>())
    {
        let _ = WidgetExt::activate_action(kiosk, "win.preferences", None);
        return;
    }
    if let Some(open) = app
        .windows()
        .into_iter()
        .find(|w| w.widget_name() == WINDOW_NAME)
    {
        open.present();
        return;
    }
    let window = adw::PreferencesWindow::builder()
        .name(WINDOW_NAME)
        .title(gettext("Preferences"))
        .default_width(860)
        .default_height(680)
        // Search would add an unnamed icon button (GTK 4.8) for a handful of rows.
        .search_enabled(false)
        .build();
    window.set_application(Some(app));
    if let Some(parent) = &parent {
        window.set_transient_for(Some(parent));
    }
    let settings = app.settings();
    window.add(&account::page(app, &window));
    window.add(&cameras::page(app, &window, settings.as_ref()));
    if let Some(settings) = &settings {
        window.add(&local::live_page(settings));
        window.add(&local::kiosk_page(settings));
        window.add(&local::camera_mode_page(settings, &window));
    }
    window.present();
    name_icon_buttons(window.upcast_ref());
    test_hooks::report(
        "preferences",
        &serde_json::json!({ "settings": settings.is_some() }),
    );
}

/// The live-view defaults of this computer, applied to a live view as it starts: the HD
/// stream (`prefer-hd`) and no sound (`live-start-muted`), through the view's own actions
/// so its buttons show the same.
pub fn apply_live_defaults(view: &super::live::EyrieLiveView) {
    let Some(settings) = gio::Application::default()
        .and_downcast::<EyrieApplication>()
        .and_then(|a| a.settings())
    else {
        return;
    };
    if settings.boolean("prefer-hd") {
        view.activate_live_action("hd", Some(true));
    }
    if settings.boolean("live-start-muted") {
        view.activate_live_action("mute", Some(true));
    }
}

/// A toast on the preferences window.
fn toast(window: &adw::PreferencesWindow, message: &str) {
    let toast = adw::Toast::new(message);
    toast.set_timeout(5);
    window.add_toast(toast);
    test_hooks::report("preferences-toast", &serde_json::json!({ "text": message }));
}

/// What a screen reader would meet unnamed in libadwaita 1.2's widgets under GTK 4.8: an
/// icon-only button (an entry row's apply button) gets its tooltip as its name (GTK 4.8
/// takes a tooltip for a description only); the icons of the view switcher's page tabs,
/// which only decorate the tab's title, and the search entry of a window whose search is
/// off are hidden.
fn name_icon_buttons(root: &gtk::Widget) {
    let mut stack = vec![root.clone()];
    while let Some(widget) = stack.pop() {
        let in_switcher = || {
            std::iter::successors(widget.parent(), |w| w.parent())
                .any(|w| w.type_().name() == "AdwViewSwitcher")
        };
        if widget.is::<gtk::SearchEntry>() || (widget.is::<gtk::Image>() && in_switcher()) {
            widget.update_state(&[gtk::accessible::State::Hidden(true)]);
        } else if let Some(button) = widget.downcast_ref::<gtk::Button>()
            && button.label().is_none()
            && let Some(tooltip) = widget.tooltip_text()
        {
            button.update_property(&[gtk::accessible::Property::Label(&tooltip)]);
        }
        let mut child = widget.first_child();
        while let Some(c) = child {
            child = c.next_sibling();
            stack.push(c);
        }
    }
}
