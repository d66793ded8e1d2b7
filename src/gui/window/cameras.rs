//! The cameras page: a grid of cards (thumbnail, name, online state) and the add, rename
//! and remove dialogs.

use adw::prelude::*;
use adw::subclass::prelude::*;
use eyrie_protocol::api::Device;
use gtk::{gio, glib};

use super::EyrieWindow;
use super::form::form_dialog;
use crate::gui::cloud::{Cloud, CloudError};
use crate::i18n::{gettext, gettext_f, ngettext_f};
use crate::spawn_tokio;

impl EyrieWindow {
    pub(super) fn cloud(&self) -> Option<Cloud> {
        let session = self.app()?.session()?;
        Some(Cloud::new(&session.server, Some(&session.token)))
    }

    /// Switch to the camera grid and load it.
    pub(super) fn show_cameras(&self) {
        let imp = self.imp();
        if let Some(session) = self.app().and_then(|a| a.session()) {
            imp.cameras_title.set_subtitle(&session.email);
        }
        imp.stack.set_visible_child_name("cameras");
        crate::gui::test_hooks::report("camera-list-shown", &serde_json::json!({}));
        self.refresh_cameras();
        self.settle_installation();
    }

    pub(super) fn refresh_cameras(&self) {
        let Some(cloud) = self.cloud() else { return };
        let imp = self.imp();
        if imp.devices.borrow().is_empty() {
            imp.cameras_stack.set_visible_child_name("loading");
            imp.cameras_spinner.set_spinning(true);
        }
        let handle = spawn_tokio!(async move { cloud.devices().await });
        glib::spawn_future_local(glib::clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                let result = handle.await;
                window.imp().cameras_spinner.set_spinning(false);
                match result {
                    Ok(Ok(devices)) => {
                        window.show_devices(&devices);
                        // Other installations asking to read recordings.
                        window.check_installations();
                    }
                    Ok(Err(e)) if e.is_unauthorized() => {
                        window.toast(&gettext("Your session has ended; please sign in again"));
                        window.sign_out();
                        window.show_connect();
                    }
                    Ok(Err(e)) => window.show_cameras_error(&e.user_message()),
                    Err(e) => window.show_cameras_error(&e.to_string()),
                }
            }
        ));
    }

    fn show_cameras_error(&self, message: &str) {
        let imp = self.imp();
        if imp.devices.borrow().is_empty() {
            imp.cameras_error.set_description(Some(message));
            imp.cameras_stack.set_visible_child_name("error");
        } else {
            self.toast(message);
        }
    }

    fn show_devices(&self, devices: &[Device]) {
        let imp = self.imp();
        let flowbox = &imp.cameras_flowbox;
        while let Some(child) = flowbox.first_child() {
            flowbox.remove(&child);
        }
        {
            let mut map = imp.devices.borrow_mut();
            map.clear();
            for d in devices {
                map.insert(d.id.to_string(), d.clone());
            }
        }
        crate::gui::test_hooks::report(
            "cameras",
            &serde_json::json!(
                devices
                    .iter()
                    .map(|d| serde_json::json!({"id": d.id, "name": d.name, "online": d.online}))
                    .collect::<Vec<_>>()
            ),
        );
        if devices.is_empty() {
            imp.cameras_stack.set_visible_child_name("empty");
            return;
        }
        if let (Some(cloud), Some(session)) = (self.cloud(), self.app().and_then(|a| a.session())) {
            for device in devices.iter().filter(|d| d.online) {
                crate::gui::live::tickets::prefetch(&cloud, &session.server, device.id);
            }
        }
        for device in devices {
            flowbox.append(&self.camera_card(device));
        }
        imp.cameras_stack.set_visible_child_name("list");
        self.open_pending();
        if let Some(app) = self.app() {
            crate::gui::notifications::watch(&app, devices);
        }
    }

    /// One card: thumbnail, name, online state and a menu.
    fn camera_card(&self, device: &Device) -> gtk::Widget {
        let id = device.id.to_string();
        let picture = gtk::Picture::builder()
            .content_fit(gtk::ContentFit::Cover)
            .height_request(180)
            .hexpand(true)
            .build();
        picture.add_css_class("card-thumbnail");
        picture.set_alternative_text(Some(&gettext_f(
            "Latest snapshot of {name}",
            &[("name", &device.name)],
        )));
        let placeholder = gtk::Image::from_icon_name("camera-web-symbolic");
        placeholder.set_pixel_size(48);
        placeholder.add_css_class("dim-label");
        let thumb = gtk::Overlay::builder().child(&placeholder).build();
        thumb.add_overlay(&picture);
        thumb.set_size_request(-1, 180);

        let name = gtk::Label::builder()
            .label(&device.name)
            .xalign(0.0)
            .ellipsize(gtk::pango::EllipsizeMode::End)
            .hexpand(true)
            .build();
        name.add_css_class("heading");
        let state_text = if device.online {
            gettext("Online")
        } else {
            gettext("Offline")
        };
        let state = gtk::Label::builder().label(&state_text).xalign(0.0).build();
        state.add_css_class("caption");
        state.add_css_class(if device.online {
            "success"
        } else {
            "dim-label"
        });
        let labels = gtk::Box::new(gtk::Orientation::Vertical, 2);
        labels.append(&name);
        labels.append(&state);

        let menu = gio::Menu::new();
        let target = glib::Variant::from(&id);
        let item = gio::MenuItem::new(Some(&gettext("_Snapshots")), None);
        item.set_action_and_target_value(Some("win.gallery"), Some(&target));
        menu.append_item(&item);
        let item = gio::MenuItem::new(Some(&gettext("_Rename…")), None);
        item.set_action_and_target_value(Some("win.rename-camera"), Some(&target));
        menu.append_item(&item);
        let item = gio::MenuItem::new(Some(&gettext("_Remove…")), None);
        item.set_action_and_target_value(Some("win.remove-camera"), Some(&target));
        menu.append_item(&item);
        let menu_button = gtk::MenuButton::builder()
            .icon_name("view-more-symbolic")
            .menu_model(&menu)
            .halign(gtk::Align::End)
            .valign(gtk::Align::Start)
            .margin_top(6)
            .margin_end(6)
            .tooltip_text(gettext_f("More for {name}", &[("name", &device.name)]))
            .build();
        menu_button.update_property(&[gtk::accessible::Property::Label(&gettext_f(
            "More for {name}",
            &[("name", &device.name)],
        ))]);
        menu_button.add_css_class("osd");
        menu_button.add_css_class("circular");

        labels.set_margin_start(12);
        labels.set_margin_end(12);
        labels.set_margin_top(8);
        labels.set_margin_bottom(10);
        let content = gtk::Box::new(gtk::Orientation::Vertical, 0);
        content.append(&thumb);
        content.append(&labels);

        let button = gtk::Button::builder().child(&content).build();
        button.add_css_class("card");
        button.add_css_class("camera-card");
        button.set_overflow(gtk::Overflow::Hidden);
        button.set_action_name(Some("win.open-camera"));
        button.set_action_target_value(Some(&target));
        button.update_property(&[gtk::accessible::Property::Label(&gettext_f(
            "{name}, {state}",
            &[("name", &device.name), ("state", &state_text)],
        ))]);
        // The menu button must not sit inside the card's button: overlay it.
        let card = gtk::Overlay::builder().child(&button).build();
        card.add_overlay(&menu_button);
        self.watch_thumbnail(device, &picture);
        card.upcast()
    }

    /// The shape every camera dialog shares: Cancel and one action; on the action, `call`
    /// makes the cloud request (or `None` to do nothing), which runs on the runtime, and
    /// its answer comes back to `done`, or as a toast when the cloud refused.
    fn cloud_dialog<T, Fut>(
        &self,
        dialog: &adw::MessageDialog,
        action: (&str, &str, adw::ResponseAppearance),
        call: impl Fn() -> Option<Fut> + 'static,
        done: impl Fn(&Self, T) + Clone + 'static,
    ) where
        T: Send + 'static,
        Fut: std::future::Future<Output = Result<T, CloudError>> + Send + 'static,
    {
        let (id, label, appearance) = action;
        dialog.add_responses(&[("cancel", &gettext("_Cancel")), (id, label)]);
        dialog.set_response_appearance(id, appearance);
        if appearance == adw::ResponseAppearance::Suggested {
            dialog.set_default_response(Some(id));
        }
        dialog.set_close_response("cancel");
        dialog.connect_response(
            Some(id),
            glib::clone!(
                #[weak(rename_to = window)]
                self,
                move |_, _| {
                    let Some(request) = call() else { return };
                    let handle = spawn_tokio!(request);
                    let done = done.clone();
                    glib::spawn_future_local(glib::clone!(
                        #[weak]
                        window,
                        async move {
                            match handle.await {
                                Ok(Ok(value)) => done(&window, value),
                                Ok(Err(e)) => window.toast(&e.user_message()),
                                Err(e) => window.toast(&e.to_string()),
                            }
                        }
                    ));
                }
            ),
        );
        dialog.present();
    }

    pub(super) fn add_camera_dialog(&self) {
        let Some(cloud) = self.cloud() else { return };
        // The camera trusts this cloud through the same link the app signed in with.
        let group = adw::PreferencesGroup::new();
        let code_row = adw::EntryRow::builder()
            .title(gettext("Code on the Camera"))
            .build();
        let name_row = adw::EntryRow::builder()
            .title(gettext("Name"))
            .text(gettext("Camera"))
            .build();
        group.add(&code_row);
        group.add(&name_row);
        let (dialog, error) = form_dialog(
            self,
            &gettext("Add a Camera"),
            &gettext_f(
                "On the camera, choose “Use This Computer as a Camera” or run\n\neyrie camera --cloud '{link}'\n\nand enter the 12-character code it shows, like ABCD-EFGH-JKMN.",
                &[("link", &cloud.api().link())],
            ),
            &group,
            ("add", &gettext("_Add")),
        );
        // Checked as it is typed: Add only for 12 valid characters, and a plain error as
        // soon as the code cannot be one.
        code_row.connect_changed(glib::clone!(
            #[weak]
            dialog,
            #[weak]
            error,
            move |row| {
                let code = check_code(&row.text());
                dialog.set_response_enabled("add", code == Code::Valid);
                let (message, wrong) = match &code {
                    Code::Valid | Code::Short(0) => (None, false),
                    Code::Short(n) => (
                        Some(ngettext_f(
                            "{count} of the 12 characters",
                            "{count} of the 12 characters",
                            u64::try_from(*n).unwrap_or(0),
                            &[("count", &n.to_string())],
                        )),
                        false,
                    ),
                    Code::Wrong(m) => (Some(m.clone()), true),
                };
                error.set_visible(message.is_some());
                error.set_label(message.as_deref().unwrap_or_default());
                if wrong {
                    error.add_css_class("error");
                    error.remove_css_class("dim-label");
                } else {
                    error.remove_css_class("error");
                    error.add_css_class("dim-label");
                }
                crate::gui::test_hooks::report(
                    "add-camera-code",
                    &serde_json::json!({ "valid": code == Code::Valid, "error": wrong.then_some(message) }),
                );
            }
        ));
        dialog.connect_response(
            Some("add"),
            glib::clone!(
                #[weak(rename_to = window)]
                self,
                #[weak]
                code_row,
                #[weak]
                name_row,
                move |_, _| {
                    let code = code_row.text().to_string();
                    if eyrie_protocol::e2e::pairing::split(&code).is_none() {
                        return;
                    }
                    let name = name_row.text().trim().to_owned();
                    window.pair_camera(cloud.clone(), code, name);
                }
            ),
        );
        dialog.present();
        code_row.grab_focus();
    }

    pub(super) fn rename_camera_dialog(&self, id: &str) {
        let Some(cloud) = self.cloud() else { return };
        let Some(device) = self.imp().devices.borrow().get(id).cloned() else {
            return;
        };
        let dialog = adw::MessageDialog::new(Some(self), Some(&gettext("Rename Camera")), None);
        let entry = gtk::Entry::builder()
            .text(&device.name)
            .activates_default(true)
            .build();
        entry.update_property(&[gtk::accessible::Property::Label(&gettext("Name"))]);
        dialog.set_extra_child(Some(&entry));
        self.cloud_dialog(
            &dialog,
            (
                "rename",
                &gettext("_Rename"),
                adw::ResponseAppearance::Suggested,
            ),
            move || {
                let name = entry.text().trim().to_owned();
                let (cloud, id) = (cloud.clone(), device.id);
                (!name.is_empty()).then_some(async move { cloud.rename(id, &name).await })
            },
            |window, ()| window.refresh_cameras(),
        );
    }

    pub(super) fn remove_camera_dialog(&self, id: &str) {
        let Some(cloud) = self.cloud() else { return };
        let Some(device) = self.imp().devices.borrow().get(id).cloned() else {
            return;
        };
        let dialog = adw::MessageDialog::new(
            Some(self),
            Some(&gettext_f("Remove {name}?", &[("name", &device.name)])),
            Some(&gettext(
                "Its recordings and snapshots are deleted too. The camera has to be paired again to come back.",
            )),
        );
        self.cloud_dialog(
            &dialog,
            (
                "remove",
                &gettext("_Remove"),
                adw::ResponseAppearance::Destructive,
            ),
            move || {
                let (cloud, id) = (cloud.clone(), device.id);
                Some(async move { cloud.remove(id).await })
            },
            |window, ()| window.refresh_cameras(),
        );
    }

    pub(super) fn show_gallery(&self, id: &str) {
        let Some(cloud) = self.cloud() else { return };
        let Some(device) = self.imp().devices.borrow().get(id).cloned() else {
            return;
        };
        let gallery = crate::gui::gallery::EyrieGallery::new(self, cloud, &device);
        gallery.present();
    }
}

/// A typed camera code, checked.
#[derive(Debug, PartialEq, Eq)]
enum Code {
    /// Twelve valid characters.
    Valid,
    /// Valid so far, too short: how many of the 12 are typed.
    Short(usize),
    /// It cannot be a code: what to say.
    Wrong(String),
}

fn check_code(text: &str) -> Code {
    use eyrie_protocol::e2e::pairing::{CODE_ALPHABET, normalize, split};
    if split(text).is_some() {
        return Code::Valid;
    }
    let typed: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let n = normalize(&typed);
    if n.len() != typed.len() || !n.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
        return Code::Wrong(gettext(
            "The code has only letters and digits, without I, L, O, 0 or 1. Check what the camera shows.",
        ));
    }
    if n.len() > 12 {
        return Code::Wrong(gettext(
            "The code has 12 characters, like ABCD-EFGH-JKMN; this one is longer.",
        ));
    }
    Code::Short(n.len())
}
