//! The "Cameras" page: per camera, what the cloud's REST API lets its owner change — the
//! name (`PATCH /devices/{id}`) and the store mode (`PUT /devices/{id}/store-mode`) — and
//! this computer's notification switch for it (`notify-disabled-cameras`); above them,
//! this computer's notification settings for all cameras (on/off, do not disturb, the
//! per-camera cool-down).
//!
//! A cloud change is checked here first (a name of 1–64 printable characters, as
//! `docs/api.md` says), then sent; the row keeps the value the cloud confirmed, and a
//! refusal or a network error becomes a toast with the row put back — nothing half done.
//! Pre-record and audio recording are the camera's own settings (its control socket or
//! camera mode's switches), not the API's, so this page leaves them out and says so.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use adw::prelude::*;
use eyrie_protocol::api::{Device, RecordingPolicy};
use gtk::{gio, glib};

use super::{EyrieApplication, toast};
use crate::gui::cloud::{Cloud, CloudError};
use crate::gui::test_hooks;
use crate::i18n::{gettext, gettext_f};
use crate::spawn_tokio;

/// The store modes in the order the combo row lists them.
const POLICIES: [RecordingPolicy; 3] = [
    RecordingPolicy::Continuous,
    RecordingPolicy::Event,
    RecordingPolicy::None,
];

pub(super) fn page(
    app: &EyrieApplication,
    window: &adw::PreferencesWindow,
    settings: Option<&gio::Settings>,
) -> adw::PreferencesPage {
    let page = adw::PreferencesPage::builder()
        .title(gettext("Cameras"))
        .icon_name("camera-web-symbolic")
        .build();
    let intro = adw::PreferencesGroup::new();
    page.add(&intro);
    let Some(session) = app.session() else {
        intro.set_description(Some(&gettext("Sign in to change your cameras.")));
        return page;
    };
    intro.set_description(Some(&gettext(
        "A camera’s name and what the cloud records are kept in the cloud. Pre-record and audio recording are set on the camera itself.",
    )));
    if let Some(settings) = settings {
        intro.add(&crate::gui::settings_rows::switch_row(
            settings,
            "notifications-enabled",
            &gettext("Event Notifications"),
            &gettext("A desktop notification when a camera sees motion"),
        ));
        intro.add(&crate::gui::settings_rows::switch_row(
            settings,
            "do-not-disturb",
            &gettext("Do Not Disturb"),
            &gettext("No notifications at all until this is off again"),
        ));
        intro.add(&crate::gui::settings_rows::seconds_row(
            settings,
            "notify-cooldown-seconds",
            &gettext("Seconds Between Notifications"),
        ));
    }
    let loading = adw::PreferencesGroup::builder()
        .description(gettext("Loading the cameras…"))
        .build();
    page.add(&loading);
    let cloud = Cloud::new(&session.server, Some(&session.token));
    let settings = settings.cloned();
    glib::spawn_future_local(glib::clone!(
        #[weak]
        page,
        #[weak]
        window,
        #[weak]
        app,
        async move {
            let fetch = cloud.clone();
            let answer = spawn_tokio!(async move { fetch.devices().await }).await;
            let devices = match answer {
                Ok(Ok(devices)) => devices,
                Ok(Err(e)) => {
                    loading.set_description(Some(&e.user_message()));
                    return;
                }
                Err(e) => {
                    tracing::error!("preferences: camera list task: {e}");
                    loading.set_description(Some(&gettext(
                        "The cloud had a problem; try again later",
                    )));
                    return;
                }
            };
            page.remove(&loading);
            if devices.is_empty() {
                let none = adw::PreferencesGroup::builder()
                    .description(gettext("No cameras yet."))
                    .build();
                page.add(&none);
            }
            for device in &devices {
                let camera = Camera {
                    app: app.downgrade(),
                    window: window.downgrade(),
                    cloud: cloud.clone(),
                    id: device.id,
                    name: Rc::new(RefCell::new(device.name.clone())),
                    renaming: Rc::default(),
                };
                page.add(&camera.group(device, settings.as_ref()));
            }
            crate::gui::a11y::fix_tree(page.upcast_ref());
            super::name_icon_buttons(page.upcast_ref());
            test_hooks::report(
                "preferences-cameras",
                &serde_json::json!({ "count": devices.len() }),
            );
        }
    ));
    page
}

/// Whether `name` (trimmed) is a name the cloud takes: 1–64 printable characters.
fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=64).contains(&n) && !name.chars().any(char::is_control)
}

/// One camera's rows and what they change.
#[derive(Clone)]
struct Camera {
    app: glib::WeakRef<EyrieApplication>,
    window: glib::WeakRef<adw::PreferencesWindow>,
    cloud: Cloud,
    id: uuid::Uuid,
    /// The name the cloud last confirmed.
    name: Rc<RefCell<String>>,
    /// A rename is on its way to the cloud.
    renaming: Rc<Cell<bool>>,
}

impl Camera {
    fn group(&self, device: &Device, settings: Option<&gio::Settings>) -> adw::PreferencesGroup {
        let group = adw::PreferencesGroup::builder()
            .title(glib::markup_escape_text(&device.name))
            .build();
        group.add(&self.name_row(&group));
        group.add(&self.store_mode_row(device.store_mode));
        if let Some(settings) = settings {
            group.add(&self.notify_row(settings));
        }
        group
    }

    fn toast(&self, message: &str) {
        if let Some(window) = self.window.upgrade() {
            toast(&window, message);
        }
    }

    /// The name, sent when the person presses Enter or the apply button.
    fn name_row(&self, group: &adw::PreferencesGroup) -> adw::EntryRow {
        let row = adw::EntryRow::builder()
            .title(gettext("Name"))
            .text(self.name.borrow().as_str())
            .show_apply_button(true)
            .build();
        let camera = self.clone();
        row.connect_apply(glib::clone!(
            #[weak]
            group,
            move |row| camera.rename(row, &group)
        ));
        row
    }

    fn rename(&self, row: &adw::EntryRow, group: &adw::PreferencesGroup) {
        let wanted = row.text().trim().to_owned();
        let current = self.name.borrow().clone();
        if !valid_name(&wanted) {
            self.toast(&gettext(
                "A name has 1 to 64 characters; nothing was changed.",
            ));
            row.set_text(&current);
            return;
        }
        if wanted == current {
            if row.text() != current {
                row.set_text(&current);
            }
            return;
        }
        // One rename at a time; the row keeps the keyboard focus meanwhile.
        if self.renaming.replace(true) {
            return;
        }
        let camera = self.clone();
        let (cloud, id, name) = (self.cloud.clone(), self.id, wanted.clone());
        glib::spawn_future_local(glib::clone!(
            #[weak]
            row,
            #[weak]
            group,
            async move {
                let answer = spawn_tokio!(async move { cloud.rename(id, &name).await }).await;
                camera.renaming.set(false);
                match flatten(answer) {
                    Ok(()) => {
                        camera.name.replace(wanted.clone());
                        // Only when it differs (trimmed): setting the text while the row is
                        // being edited brings its apply button back.
                        if row.text() != wanted {
                            row.set_text(&wanted);
                        }
                        group.set_title(&glib::markup_escape_text(&wanted));
                        test_hooks::report(
                            "preferences-renamed",
                            &serde_json::json!({ "device": id.to_string(), "name": wanted }),
                        );
                        camera.refresh_main_window();
                    }
                    Err(e) => {
                        row.set_text(&camera.name.borrow());
                        camera.toast(&gettext_f(
                            "The name was not changed: {reason}",
                            &[("reason", &e.user_message())],
                        ));
                    }
                }
            }
        ));
    }

    /// What the cloud keeps of this camera's recordings.
    fn store_mode_row(&self, policy: RecordingPolicy) -> adw::ComboRow {
        let names = [
            gettext("Everything"),
            gettext("Events only"),
            gettext("Nothing (live view only)"),
        ];
        let list = gtk::StringList::new(&names.iter().map(String::as_str).collect::<Vec<_>>());
        let row = adw::ComboRow::builder()
            .title(gettext("Cloud Recording"))
            .model(&list)
            .build();
        let index = |p: RecordingPolicy| POLICIES.iter().position(|q| *q == p).unwrap_or(1) as u32;
        let confirmed = Rc::new(Cell::new(index(policy)));
        let putting_back = Rc::new(Cell::new(false));
        row.set_selected(confirmed.get());
        crate::gui::settings_rows::hide_decoration(row.upcast_ref());
        let camera = self.clone();
        row.connect_selected_notify(move |row| {
            let selected = row.selected();
            if putting_back.get() || selected == confirmed.get() {
                return;
            }
            let Some(&policy) = POLICIES.get(selected as usize) else {
                return;
            };
            let (api, id) = (camera.cloud.clone(), camera.id);
            let (confirmed, putting_back, camera) =
                (confirmed.clone(), putting_back.clone(), camera.clone());
            row.set_sensitive(false);
            glib::spawn_future_local(glib::clone!(
                #[weak]
                row,
                async move {
                    let answer = spawn_tokio!(async move {
                        api.api()
                            .set_store_mode(id, policy)
                            .await
                            .map_err(CloudError::from)
                    })
                    .await;
                    row.set_sensitive(true);
                    match flatten(answer) {
                        Ok(now) => {
                            confirmed.set(index(now));
                            test_hooks::report(
                                "preferences-store-mode",
                                &serde_json::json!({ "device": id.to_string(), "mode": now.as_str() }),
                            );
                        }
                        Err(e) => camera.toast(&gettext_f(
                            "Cloud recording was not changed: {reason}",
                            &[("reason", &e.user_message())],
                        )),
                    }
                    if row.selected() != confirmed.get() {
                        putting_back.set(true);
                        row.set_selected(confirmed.get());
                        putting_back.set(false);
                    }
                }
            ));
        });
        row
    }

    /// This computer's notifications for this camera: off while its id is in
    /// `notify-disabled-cameras`.
    fn notify_row(&self, settings: &gio::Settings) -> adw::ActionRow {
        let title = gettext("Notifications");
        // Named by the row's title (its activatable widget); the group says which camera.
        let switch = gtk::Switch::builder().valign(gtk::Align::Center).build();
        let id = self.id.to_string();
        let (get_id, set_id, current) = (id.clone(), id, settings.clone());
        settings
            .bind("notify-disabled-cameras", &switch, "active")
            .mapping(move |v, _| {
                let off: Vec<String> = v.get()?;
                Some((!off.contains(&get_id)).to_value())
            })
            .set_mapping(move |v, _| {
                let on = v.get::<bool>().ok()?;
                let mut off: Vec<String> = current
                    .strv("notify-disabled-cameras")
                    .iter()
                    .map(|s| s.to_string())
                    .filter(|s| *s != set_id)
                    .collect();
                if !on {
                    off.push(set_id.clone());
                }
                Some(off.to_variant())
            })
            .build();
        let row = adw::ActionRow::builder()
            .title(title)
            .activatable_widget(&switch)
            .build();
        row.add_suffix(&switch);
        row
    }

    fn refresh_main_window(&self) {
        if let Some(main) = self.app.upgrade().and_then(|a| a.main_window()) {
            let _ = WidgetExt::activate_action(&main, "win.refresh", None);
        }
    }
}

/// A task's answer, its panic or cancellation counted as a cloud problem.
fn flatten<T>(
    answer: Result<Result<T, CloudError>, tokio::task::JoinError>,
) -> Result<T, CloudError> {
    answer.unwrap_or_else(|e| Err(CloudError::Decode(e.to_string())))
}
