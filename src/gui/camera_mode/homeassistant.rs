//! The camera-mode window's Home Assistant group: the broker, its password, a switch, and
//! the bridge's state (`docs/home-assistant.md`).
//!
//! The URL and the switches live in GSettings (`camera-mode-homeassistant*`); the password
//! does not: it is written to the camera's state directory as `homeassistant-password`
//! (0600), the file `eyrie camera` reads by default, so the window and the command line
//! share one place for it. Turning the switch on checks everything first (URL, password,
//! plain MQTT off this machine) and says what is wrong instead of starting half
//! configured; the engine then runs the node's bridge and reports its state here.

use std::path::Path;

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_camera::homeassistant::broker::default_password_file;
use eyrie_camera::homeassistant::{BridgeState, Broker, HomeAssistantSettings};
use gtk::glib;

use super::EyrieCameraModeWindow;
use crate::i18n::{gettext, gettext_f};

/// The group's widgets.
#[derive(Default)]
pub struct HomeAssistantRows {
    pub url: std::cell::OnceCell<adw::EntryRow>,
    pub password: std::cell::OnceCell<adw::PasswordEntryRow>,
    pub allow_plain: std::cell::OnceCell<gtk::Switch>,
    pub enabled: std::cell::OnceCell<gtk::Switch>,
    pub state: std::cell::OnceCell<adw::ActionRow>,
}

/// Write the password where `eyrie camera` looks for it, readable by this user only.
fn keep_password(state_dir: &Path, password: &str) -> std::io::Result<()> {
    crate::gui::session::write_private(
        &default_password_file(state_dir),
        format!("{password}\n").as_bytes(),
    )
}

/// The settings the rows describe, or why they cannot be used.
pub fn settings(
    url: &str,
    password: &str,
    allow_plain: bool,
    state_dir: &Path,
) -> Result<HomeAssistantSettings, String> {
    let mut broker = Broker::parse(url).map_err(|e| e.to_string())?;
    if !password.is_empty() {
        keep_password(state_dir, password).map_err(|e| {
            gettext_f(
                "Cannot keep the password: {reason}",
                &[("reason", &e.to_string())],
            )
        })?;
    }
    let file = default_password_file(state_dir);
    if broker.password.is_none() && file.exists() {
        broker = broker
            .with_password_file(&file)
            .map_err(|e| e.to_string())?;
    }
    broker.check_plain(allow_plain).map_err(|e| e.to_string())?;
    let mut s = HomeAssistantSettings::new(broker);
    s.allow_plain = allow_plain;
    Ok(s)
}

/// Words for the bridge's state.
fn describe(state: Option<&BridgeState>) -> String {
    match state {
        None | Some(BridgeState::Stopped) => gettext("Off"),
        Some(BridgeState::Connecting) => gettext("Connecting to the broker…"),
        Some(BridgeState::Connected) => gettext("Connected"),
        Some(BridgeState::Refused(why)) => {
            gettext_f("The broker refused the login: {reason}", &[("reason", why)])
        }
        Some(BridgeState::Down(why)) => gettext_f(
            "Cannot reach the broker, retrying: {reason}",
            &[("reason", why)],
        ),
    }
}

impl EyrieCameraModeWindow {
    /// The Home Assistant group, under the recording switches.
    pub(super) fn build_homeassistant(&self, column: &gtk::Box) {
        let rows = &self.ui().homeassistant;
        let settings = self.app_settings();
        let group = adw::PreferencesGroup::builder()
            .title(gettext("Home Assistant"))
            .description(gettext(
                "Publish this camera to Home Assistant through its MQTT broker. Snapshots go to that broker unencrypted.",
            ))
            .build();
        let url = adw::EntryRow::builder()
            .title(gettext("Broker (mqtts://user@host:port)"))
            .build();
        let password = adw::PasswordEntryRow::builder()
            .title(gettext("Broker Password"))
            .build();
        let (plain_row, allow_plain) = super::ui::switch_row(
            &gettext("Allow Unencrypted Connection"),
            &gettext("Plain mqtt:// to another machine sends the password and pictures in clear"),
            false,
        );
        let (enabled_row, enabled) = super::ui::switch_row(
            &gettext("Publish to Home Assistant"),
            &gettext("Off"),
            false,
        );
        if let Some(s) = &settings {
            url.set_text(&s.string("camera-mode-homeassistant-url"));
            allow_plain.set_active(s.boolean("camera-mode-homeassistant-allow-plain"));
            enabled.set_active(s.boolean("camera-mode-homeassistant"));
        }
        group.add(&url);
        group.add(&password);
        group.add(&plain_row);
        group.add(&enabled_row);
        enabled.connect_active_notify(glib::clone!(
            #[weak(rename_to = window)]
            self,
            move |sw| {
                if !window.imp().updating.get() {
                    window.homeassistant_switched(sw.is_active());
                }
            }
        ));
        column.append(&group);
        let _ = rows.url.set(url);
        let _ = rows.password.set(password);
        let _ = rows.allow_plain.set(allow_plain);
        let _ = rows.enabled.set(enabled);
        let _ = rows.state.set(enabled_row);
    }

    /// The settings to start the engine with: the saved ones, when the switch was on.
    pub(super) fn homeassistant_at_start(&self) -> Option<HomeAssistantSettings> {
        let s = self.app_settings()?;
        if !s.boolean("camera-mode-homeassistant") {
            return None;
        }
        let url = s.string("camera-mode-homeassistant-url");
        let plain = s.boolean("camera-mode-homeassistant-allow-plain");
        match settings(&url, "", plain, &eyrie_camera::setup::default_state_dir()) {
            Ok(settings) => Some(settings),
            Err(e) => {
                self.show_homeassistant_error(&e);
                None
            }
        }
    }

    fn homeassistant_switched(&self, on: bool) {
        let rows = &self.ui().homeassistant;
        let (Some(url), Some(password), Some(plain)) =
            (rows.url.get(), rows.password.get(), rows.allow_plain.get())
        else {
            return;
        };
        let app_settings = self.app_settings();
        if !on {
            if let Some(s) = &app_settings {
                let _ = s.set_boolean("camera-mode-homeassistant", false);
            }
            self.set_homeassistant(None);
            return;
        }
        let state_dir = eyrie_camera::setup::default_state_dir();
        match settings(&url.text(), &password.text(), plain.is_active(), &state_dir) {
            Ok(s) => {
                password.set_text("");
                if let Some(a) = &app_settings {
                    let _ = a.set_string("camera-mode-homeassistant-url", url.text().trim());
                    let _ =
                        a.set_boolean("camera-mode-homeassistant-allow-plain", plain.is_active());
                    let _ = a.set_boolean("camera-mode-homeassistant", true);
                }
                self.set_homeassistant(Some(s));
            }
            Err(e) => self.show_homeassistant_error(&e),
        }
    }

    fn show_homeassistant_error(&self, message: &str) {
        self.imp().updating.set(true);
        if let Some(sw) = self.ui().homeassistant.enabled.get() {
            sw.set_active(false);
        }
        self.imp().updating.set(false);
        self.toast(message);
    }

    /// Show the bridge's state (from the engine).
    pub(super) fn show_homeassistant(&self, state: Option<&BridgeState>) {
        let rows = &self.ui().homeassistant;
        if let Some(row) = rows.state.get() {
            row.set_subtitle(&describe(state));
        }
        crate::gui::test_hooks::report(
            "camera-mode-homeassistant",
            &serde_json::json!({ "state": format!("{state:?}") }),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_typed_password_is_kept_where_the_camera_reads_it_for_the_user_only() {
        let url = "mqtt://ha@127.0.0.1:1883";
        let dir = tempfile::tempdir().unwrap();
        // The camera's state dir need not exist yet.
        let state = dir.path().join("camera");
        let s = settings(url, "s3cret", false, &state).unwrap();
        let file = default_password_file(&state);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "s3cret\n");
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(s.broker.password.as_deref(), Some("s3cret"));
        let left: Vec<_> = std::fs::read_dir(&state).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file left: {left:?}");
        // An empty password field keeps the kept one.
        let s = settings(url, "", false, &state).unwrap();
        assert_eq!(s.broker.password.as_deref(), Some("s3cret"));
    }
}
